"""Delivery errors, named for what the caller should do."""

from pipeline.errors import CxError


class DeliveryError(CxError, RuntimeError):
    """A delivery attempt failed."""


class RetryLater(DeliveryError):
    """Timeout, refused connection, 5xx or the vendor's rate limit: try again after a pause."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class GiveUp(DeliveryError):
    """Bad signature, unknown token, refused recipient, 4xx: retrying cannot help; record it."""
