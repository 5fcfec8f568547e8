"""`cx sla`: check an SLA policy file and show its limits."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from pipeline.config import Settings

app = typer.Typer(help="SLA policy: check a policy file and show its limits.", no_args_is_help=True)
console = Console(highlight=False, soft_wrap=True)
errors = Console(stderr=True, highlight=False, soft_wrap=True)


@app.command()
def check(
    file: Annotated[Path | None, typer.Argument(help="Policy file (default: CX_SLA_POLICY, else the packaged default)")] = None,
) -> None:
    """Validate a policy and print its limits as a table; a mistake is one line naming the field (exit 2)."""
    from pipeline.sla import PolicyError, load_policy
    from pipeline.sla.policy import Limit, human

    path = file or Settings.from_env().sla_policy
    try:
        policy = load_policy(path)
    except PolicyError as exc:
        errors.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(2) from None

    def words(limit: Limit) -> tuple[str, str, str]:
        by = ", ".join(f"{p.value} {human(v)}" for p, v in limit.by_priority.items())
        return human(limit.within), limit.clock, by

    table = Table("rule", "for", "within", "clock", "by priority", title=f"{path or 'packaged default policy'}")
    for rule, limits in (("first_response", policy.first_response), ("next_reply", policy.next_reply)):
        for channel, limit in limits.items():
            table.add_row(rule, channel.value, *words(limit))
    for priority, limit in policy.resolution.items():
        table.add_row("resolution", f"{priority.value} priority", *words(limit))
    table.add_row("follow_up", "after resolution", *words(policy.follow_up))
    table.add_row("handoffs", "per case", f"more than {policy.handoffs.max_transfers} transfers", "", "")
    table.add_row("promise", "promised_by", f"+ {human(policy.promise.grace)} grace", "", "")
    console.print(table)
    hours = policy.business_hours
    console.print(
        f"business hours {hours.open}-{hours.close} {hours.timezone}, {len(hours.weekdays)} days a week; "
        f"lateness {human(policy.lateness)} (deadlines are judged this long after they pass)"
    )
