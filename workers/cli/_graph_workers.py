"""Run the insights or the lead worker until interrupted (`gdp worker insights|leads|all`)."""

from __future__ import annotations

import asyncio
import signal

from workers.settings import Settings


async def run_worker(
    kind: str, settings: Settings, once: bool, stop: asyncio.Event | None = None
) -> str:
    """Run one worker kind; returns its one-line summary. SIGINT/SIGTERM stop it cleanly."""
    if stop is None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
    if kind == "insights":
        from workers.insights.worker import InsightsWorker

        reports = await InsightsWorker(settings).run(stop, once=once)
        rows = sum(r.rows for r in reports)
        failed = sum(r.status != "succeeded" for r in reports)
        return f"insights: {len(reports)} pulls ({failed} failed), {rows} rows"
    from workers.leads.worker import LeadWorker

    worker = LeadWorker(settings)
    try:
        report = await worker.run(stop, once=once)
    finally:
        await worker.close()
    return (
        f"leads: {report.messages} messages, {report.synced} synced "
        f"({report.new_people} new people), {report.retrying} retrying, {report.failed} failed"
    )
