"""A realistic, deterministic workload of touchpoints and reviews."""

from pipeline.generate.workload import Workload, generate

__all__ = ["Workload", "generate"]
