"""One advance of a run: load it with its journal (one query), replay the workflow function through
the journal, execute new steps inline, and end when the run completes, fails or suspends.

The `baton.advance_run` job carries the lock `run:<id>`, so two advances of one run never overlap.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from psycopg import AsyncConnection, OperationalError
from psycopg.rows import class_row
from psycopg_pool import AsyncConnectionPool
from pydantic import ValidationError

from app.core.logs import log_context
from app.core.sql_queries import load_queries
from app.engine import journal_cache, signals
from app.engine.errors import NonDeterminism, RunCancelled, StepFailed, Suspend, WorkflowNotFound
from app.engine.jobs import cancel_run_jobs
from app.engine.journal import FINISH_RUN, LOAD_RUN, jsonb, to_json
from app.engine.registry import get_workflow
from app.engine.rows import StartedRun
from app.engine.run import Run, error_json
from app.engine.stored_outputs import LAZY_OUTPUT_BYTES

log = logging.getLogger("baton.engine")

SQL = load_queries(__file__)
CANCEL_FLAG = SQL["cancel_flag"]
USER_CANCEL = "cancelled by the user"


def cancelled_error(reason: str | None) -> dict:
    return {"type": "Cancelled", "message": reason or USER_CANCEL}


CANCEL_OPEN_HOOKS = SQL["cancel_open_hooks"]
CANCEL_OPEN_CHILDREN = SQL["cancel_open_children"]


async def finish_run(
    conn: AsyncConnection,
    run_id: Any,
    status: str,
    *,
    output: Any = None,
    error: dict | None = None,
) -> StartedRun | None:
    """Move a run to a final state once (a finished run is never reopened by a late advance)."""
    async with conn.transaction():
        row = await (
            await conn.cursor(row_factory=class_row(StartedRun)).execute(
                FINISH_RUN,
                {
                    "run_id": run_id,
                    "status": status,
                    "output": jsonb(output),
                    "error": jsonb(error),
                },
            )
        ).fetchone()
        if row:
            if status == "cancelled":
                await conn.execute(CANCEL_OPEN_HOOKS, {"run_id": run_id})
                await conn.execute(CANCEL_OPEN_CHILDREN, {"run_id": run_id})
                await cancel_run_jobs(conn, run_id)
            await signals.emit(signals.run_finished, conn, row)
    if row:
        log.info(
            "run.finished",
            extra={"run_id": str(run_id), "workflow": row.workflow, "status": status},
        )
    return row


def load_params(run_id: Any, kept: journal_cache.Kept | None) -> dict:
    """LOAD_RUN's parameters: the whole journal, or the positions after those kept."""
    return {
        "run_id": run_id,
        "lazy_bytes": LAZY_OUTPUT_BYTES,
        "known": len(kept) if kept else 0,
        "known_version": kept.version if kept else -1,
    }


async def advance(pool: AsyncConnectionPool, run_id: str) -> None:
    with log_context(run_id=str(run_id)):
        await _advance(pool, run_id)


async def _advance(pool: AsyncConnectionPool, run_id: str) -> None:
    # What this worker kept of the journal when the run last suspended here: taken out, and put
    # back only if this advance suspends cleanly (app/engine/journal_cache.py).
    kept = journal_cache.cache.take(str(run_id))
    async with pool.connection() as conn:
        # Prepared on a connection's first resume, not its fifth (psycopg's default): planning
        # this query is 0.5-2 ms of every resume otherwise, and a worker has several connections.
        row = await (
            await conn.execute(LOAD_RUN, load_params(run_id, kept), prepare=True)
        ).fetchone()
        if row is None or row["status"] in ("completed", "failed", "cancelled"):
            return
        if row["cancel_requested"]:
            await finish_run(conn, run_id, "cancelled", error=cancelled_error(row["cancel_reason"]))
            return
        try:
            wf = get_workflow(row["workflow"], row["version"])
            workflow_input = wf.input_model.model_validate(row["input"])
        except (WorkflowNotFound, ValidationError) as exc:
            await finish_run(conn, run_id, "failed", error=error_json(exc))
            return
        run = Run(conn, row, workflow_input, kept)
        try:
            with log_context(workflow=wf.name):
                result = await wf.fn(run, workflow_input)
            await run._flush_values()
            output = to_json(
                result.model_dump(mode="json") if hasattr(result, "model_dump") else result
            )
        except Suspend:
            journal_cache.cache.keep(str(run_id), run.kept())
            return
        except RunCancelled:
            reason = (await (await conn.execute(CANCEL_FLAG, {"run_id": run_id})).fetchone())[
                "cancel_reason"
            ]
            await finish_run(conn, run_id, "cancelled", error=cancelled_error(reason))
            return
        except asyncio.CancelledError:
            # The job was aborted: by a cancel (finish the run) or by a shutdown (leave it for the
            # next worker). The connection may be mid-query, so ask on a fresh one.
            await asyncio.shield(_after_abort(pool, run_id))
            raise
        except NonDeterminism as exc:
            await finish_run(
                conn, run_id, "failed", error={"type": "NonDeterminism", "message": str(exc)}
            )
            return
        except StepFailed as exc:
            await finish_run(
                conn,
                run_id,
                "failed",
                error={"type": "StepFailed", "message": str(exc), "step": exc.step},
            )
            return
        except OperationalError:
            # The database went away under the run (restart, failover): that is no verdict on the
            # workflow. The job fails and the recovery sweep re-queues the run from its journal.
            raise
        except Exception as exc:
            log.warning(
                "run.workflow_error",
                exc_info=True,
                extra={"run_id": run_id, "workflow": row["workflow"]},
            )
            await finish_run(conn, run_id, "failed", error=error_json(exc))
            return
        await finish_run(conn, run_id, "completed", output=output)


async def _after_abort(pool: AsyncConnectionPool, run_id: str) -> None:
    async with pool.connection() as conn:
        row = await (await conn.execute(CANCEL_FLAG, {"run_id": run_id})).fetchone()
        if row and row["cancel_requested"]:
            await finish_run(conn, run_id, "cancelled", error=cancelled_error(row["cancel_reason"]))
