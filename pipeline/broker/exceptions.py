"""What went wrong with the broker, said so the caller knows what to do."""

from __future__ import annotations

from pipeline.errors import CxError


class BrokerError(CxError, RuntimeError):
    """The local broker could not be started."""


class BrokerUnavailable(BrokerError):
    """No broker answered at the bootstrap address: nothing was sent. Check CX_KAFKA_BOOTSTRAP, or
    retry once the broker is up."""
