"""Per-case response latency, SLA deadlines, breaches and recoveries. Pure logic, no broker.

The stream keeps one `CaseState` per case_id (JSON in a changelog table), calls `apply` for each
touchpoint and `advance` from a timer with the clock: the watermark when replaying, the wall clock
live. Both return a `Step`: the new state plus rows for `cx.responses`, `cx.alerts` and `cx.cases`.
"""

from pipeline.cases.apply import Step, advance, apply
from pipeline.cases.clock import DueIndex, Watermark, wall_clock
from pipeline.cases.rows import Alert, Response, alert_id, case_row
from pipeline.cases.state import CaseState

__all__ = [
    "Alert",
    "CaseState",
    "DueIndex",
    "Response",
    "Step",
    "Watermark",
    "advance",
    "alert_id",
    "apply",
    "case_row",
    "wall_clock",
]
