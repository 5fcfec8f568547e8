"""Errors of the alerting logic, named for what the caller should do."""

from pipeline.errors import CxError


class AlertsConfigError(CxError, ValueError):
    """The subscribers file is wrong: fix it (the message names the subscriber and field); do not retry."""
