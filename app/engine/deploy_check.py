"""The deploy check: every run in flight, replayed against the workflow code of this process.

Read-only (one READ ONLY transaction; no step, hook or sleep runs: app/engine/replay_check.py), so
it is safe against production. Runs stream through a server-side cursor in batches, so memory
stays bounded by the batch, not by the number of runs in flight. `baton check-deploy` runs it and
so does every worker when it starts (worker/deploy_check.py), which records the result for /admin.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from app.core.sql_queries import load_queries
from app.engine.replay_check import Risk, replay_run

SQL = load_queries(__file__)
IN_FLIGHT_RUNS = SQL["in_flight_runs"]
RECORD_CHECK = SQL["record_check"]
LAST_CHECK = SQL["last_check"]

BATCH = 500
# /admin lists this many runs at risk; every affected workflow version is counted in full.
STORED_RUNS = 200
KEEP_CHECKS = 20


@dataclass
class DeployCheck:
    runs_checked: int = 0
    at_risk: list[Risk] = field(default_factory=list)

    def versions(self) -> list[dict]:
        """Each affected (workflow, version, problem), with how many runs it puts at risk."""
        counts = Counter((r.workflow, r.version, r.problem) for r in self.at_risk)
        return [
            {"workflow": w, "version": v, "problem": p, "runs": n}
            for (w, v, p), n in sorted(counts.items())
        ]

    def to_json(self) -> dict:
        return {
            "ok": not self.at_risk,
            "runs_checked": self.runs_checked,
            "runs_at_risk": len(self.at_risk),
            "versions": self.versions(),
            "runs": [r.to_json() for r in self.at_risk],
        }


async def check_in_flight(conn: AsyncConnection, *, batch: int = BATCH) -> DeployCheck:
    """Replay every unfinished run on `conn` (autocommit, as pool connections are)."""
    result = DeployCheck()
    async with conn.transaction():
        await conn.execute("SET TRANSACTION READ ONLY")
        async with conn.cursor("baton_deploy_check", row_factory=dict_row) as cur:
            await cur.execute(IN_FLIGHT_RUNS)
            while rows := await cur.fetchmany(batch):
                for row in rows:
                    result.runs_checked += 1
                    if (risk := await replay_run(row)) is not None:
                        result.at_risk.append(risk)
    return result


async def record_check(conn: AsyncConnection, check: DeployCheck, checked_by: str) -> None:
    await conn.execute(
        RECORD_CHECK,
        {
            "checked_by": checked_by,
            "runs_checked": check.runs_checked,
            "runs_at_risk": len(check.at_risk),
            "versions": Jsonb(check.versions()),
            "runs": Jsonb([r.to_json() for r in check.at_risk[:STORED_RUNS]]),
            "keep": KEEP_CHECKS,
        },
    )


async def last_check(conn: AsyncConnection) -> dict[str, Any] | None:
    return await (await conn.execute(LAST_CHECK)).fetchone()
