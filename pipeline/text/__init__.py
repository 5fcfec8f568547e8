"""Chinese text analytics: segmentation, sentiment, keywords and aspects.

Public surface used by the stream and the CLI: `analyze(text) -> TextResult`.
"""

from pipeline.text.analyze import AspectHit, TextResult, analyze, analyze_many, mask_pii

__all__ = ["AspectHit", "TextResult", "analyze", "analyze_many", "mask_pii"]
