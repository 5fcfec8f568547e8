"""The root of the project's own errors. Every error we raise on purpose is a `CxError`, and its class
says what the caller should do:

- fix the input or configuration, then run again: `SettingsError`, `PolicyError`, `AlertsConfigError`,
  `UnknownFormat`, `ReviewFileError`, `EngineMismatch` (an installed Faust or aiokafka that no longer fits);
- retry later, nothing is wrong with the data: `StoreUnavailable`, `BrokerUnavailable`, `RetryLater`;
- give up on this item, retrying will not help: `RowRejected` (the row goes to the DLQ), `GiveUp`
  (the notice is recorded as failed);
- start the worker again once the cause in the log is dealt with: `WorkerCrashed`, `NotLanded`.

Each keeps its older Python base too (`ValueError`, `RuntimeError`), so existing handlers still catch it.
"""

from __future__ import annotations


class CxError(Exception):
    """An error the project raises on purpose; the message is meant for the user."""
