"""SLA policy: how long a customer may wait, per channel and priority, in calendar or business time."""

from pipeline.sla.business_hours import BusinessHours
from pipeline.sla.policy import Limit, PolicyError, Rule, SlaPolicy, load_policy, parse_duration

__all__ = ["BusinessHours", "Limit", "PolicyError", "Rule", "SlaPolicy", "load_policy", "parse_duration"]
