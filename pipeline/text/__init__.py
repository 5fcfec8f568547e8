"""Chinese text analytics: normalisation, PII masking, segmentation, sentiment, keywords and aspects.

Public surface used by the stream and the CLI: `analyze(text) -> TextResult`, `analyze_many`, `mask_pii`.
"""

from pipeline.text.analyze import AspectHit, TextResult, analyze, analyze_many
from pipeline.text.pii import mask_pii

__all__ = ["AspectHit", "TextResult", "analyze", "analyze_many", "mask_pii"]
