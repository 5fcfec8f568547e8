"""Errors of the alerting logic, named for what the caller should do."""


class AlertsConfigError(ValueError):
    """The subscribers file is wrong: fix it (the message names the subscriber and field); do not retry."""
