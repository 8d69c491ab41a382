"""The deploy check at worker start-up: replay the runs in flight against this worker's code, in
the background (start-up never waits for it), log one warning per workflow version that would
break runs, and record the result for /admin ("runs at risk after the last deploy").

Recorded rather than computed per page view: replaying every journal costs seconds with thousands
of runs in flight, and the code that matters is the workers' code, which the web process may not
share (its BATON_WORKFLOW_MODULES, its version) — so the worker that will run them checks them.
"""

from __future__ import annotations

import asyncio
import logging
import time

from psycopg_pool import AsyncConnectionPool

from app.engine.deploy_check import check_in_flight, record_check

log = logging.getLogger("baton.worker.deploy_check")


async def check_deploy_in_background(pool: AsyncConnectionPool, checked_by: str) -> None:
    started = time.perf_counter()
    try:
        async with pool.connection() as conn:
            check = await check_in_flight(conn)
            await record_check(conn, check, checked_by)
    except asyncio.CancelledError:
        raise
    except Exception:
        # A failed check must not stop the worker; the next start checks again.
        log.warning("deploy_check.failed", exc_info=True)
        return
    affected: dict[tuple[str, int], dict[str, int]] = {}
    for v in check.versions():
        affected.setdefault((v["workflow"], v["version"]), {})[v["problem"]] = v["runs"]
    for (workflow, version), problems in affected.items():
        log.warning(
            "deploy_check.runs_at_risk",
            extra={
                "workflow": workflow,
                "version": version,
                "runs": sum(problems.values()),
                "problems": problems,
                "hint": "`baton check-deploy` lists the runs and where they diverge",
            },
        )
    log.info(
        "deploy_check.done",
        extra={
            "runs_checked": check.runs_checked,
            "runs_at_risk": len(check.at_risk),
            "seconds": round(time.perf_counter() - started, 2),
        },
    )
