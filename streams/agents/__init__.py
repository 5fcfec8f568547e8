"""The agents: landing, cases and notices, each a class whose steps are methods."""

from __future__ import annotations

import asyncio


async def stop_loop(task: asyncio.Task | None) -> None:
    """Cancel an agent's take loop and wait until it has ended (the commits it queued go on)."""
    if task is not None and not task.done():
        task.cancel()
        await asyncio.wait([task])
