"""Event contracts and their validation."""

from pipeline.events.models import Actor, Channel, Kind, Priority, Review, Touchpoint
from pipeline.events.validate import Rejected, parse_review, parse_touchpoint

__all__ = [
    "Actor",
    "Channel",
    "Kind",
    "Priority",
    "Rejected",
    "Review",
    "Touchpoint",
    "parse_review",
    "parse_touchpoint",
]
