"""The run page's cost: time and size of a 20-step run's page, of the body the live channel
re-reads on every event of the run, and of one step's values opened on demand, beside the
dashboard, in process (Litestar's test client, no network; issue 14).

    uv run python bench/run_page.py [--n 40]    # BENCH_DATABASE_URL / TEST_DATABASE_URL, else embedded

The run is written through the engine's SQL (`insert_run`, 20 x `write_step` with arguments and
outputs shaped like a model workflow's: Markdown answers, small records, a table), then the pages
are requested in turn, `--n` times each, and p50/p95 and bytes printed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from litestar.testing import AsyncTestClient  # noqa: E402

import bench.workflows  # noqa: E402,F401
from app.core.config import load_settings  # noqa: E402
from app.engine.commands import INSERT_RUN  # noqa: E402
from app.engine.journal import FINISH_RUN, WRITE_STEP  # noqa: E402
from app.web.app import create_app  # noqa: E402
from app.web.auth.accounts import create_account  # noqa: E402
from app.web.auth.passwords import hash_password  # noqa: E402
from bench.support import bench_database, pct  # noqa: E402

PASSWORD = "bench password 123"
ANSWER = (
    "## Findings\n\nThe draft covers the **three** points asked for. Two sentences in the second "
    "section repeat the first; the figures in the table are from last quarter.\n\n"
    "- tighten the introduction\n- replace the figures\n- keep the conclusion\n\n"
) * 2


def output_of(seq: int):
    """Outputs as a model workflow's steps return them: Markdown, a record, a small table."""
    if seq % 3 == 0:
        return ANSWER
    if seq % 3 == 1:
        return {"score": seq / 20, "verdict": "revise", "notes": "see the findings", "n": seq}
    return [{"section": f"part {i}", "words": 120 + i, "ok": i % 2 == 0} for i in range(6)]


async def seed(url: str) -> str:
    async with await psycopg.AsyncConnection.connect(
        url, row_factory=dict_row, autocommit=True
    ) as conn:
        user = await create_account(
            conn,
            "reader@bench.test",
            await hash_password(PASSWORD),
            tier="enterprise",
            explicit_tier=True,
        )
        async with conn.transaction():
            run = await (
                await conn.execute(
                    INSERT_RUN,
                    {
                        "owner_id": user.id,
                        "space_id": None,
                        "chat_id": None,
                        "workflow": "bench-load",
                        "version": 1,
                        "title": "A 20-step run",
                        "input": Jsonb({"steps": 20}),
                        "key": None,
                        "max_duration": "30 days",
                        "template_id": None,
                        "template_version": None,
                        "rerun_of": None,
                        "rerun_from": None,
                    },
                )
            ).fetchone()
            for seq in range(20):
                await conn.execute(
                    WRITE_STEP,
                    {
                        "run_id": run["id"],
                        "owner_id": user.id,
                        "seq": seq,
                        "name": f"step {seq}",
                        "kind": "step",
                        "status": "completed",
                        "attempts": 1,
                        "output": Jsonb(output_of(seq)),
                        "error": None,
                        "detail": Jsonb(
                            {"args": {"args": [f"the text of part {seq}", {"tone": "plain"}]}}
                        ),
                        "wake_at": None,
                        "started_at": None,
                        "completed_at": None,
                        "duration_ms": 120.0,
                        "model": None,
                        "tokens_in": None,
                        "tokens_out": None,
                        "cost_usd": None,
                        "done": 1,
                        "event": "step_completed",
                        "event_data": Jsonb({"seq": seq, "name": f"step {seq}"}),
                        "announce": False,
                    },
                )
            await conn.execute(
                FINISH_RUN,
                {
                    "run_id": run["id"],
                    "status": "completed",
                    "output": Jsonb({"approved": True}),
                    "error": None,
                },
            )
        return str(run["id"])


async def timed(client, path: str, n: int) -> tuple[list[float], int]:
    times, size = [], 0
    for _ in range(n):
        t0 = time.perf_counter()
        response = await client.get(path)
        times.append((time.perf_counter() - t0) * 1000)
        if response.status_code == 404:  # a version of Baton without this route
            return [], 0
        assert response.status_code == 200, (path, response.status_code)
        size = len(response.content)
    return times, size


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=40)
    args = parser.parse_args()
    with bench_database("baton_bench_run_page") as url:
        run_id = await seed(url)
        settings = load_settings(
            {
                "DATABASE_URL": url,
                "BATON_SECRET_KEY": "bench-secret-key-0000",
                "BATON_DATA_DIR": tempfile.mkdtemp(),
                "BATON_WORKFLOW_MODULES": "bench.workflows",
            }
        )
        async with AsyncTestClient(create_app(settings, url, run_worker=False)) as client:
            client.follow_redirects = False
            page = await client.get("/login")
            csrf = re.search(r'name="_csrf_token" value="([0-9a-f]+)"', page.text)[1]
            done = await client.post(
                "/login",
                data={"email": "reader@bench.test", "password": PASSWORD, "_csrf_token": csrf},
            )
            assert done.status_code == 303, done.text
            paths = {
                "dashboard /workflows": "/workflows",
                "run page": f"/workflows/{run_id}",
                "run body (live re-read)": f"/workflows/{run_id}?fragment=body",
                "run page, step 4 open": f"/workflows/{run_id}?open=3",
                "one step's values": f"/workflows/{run_id}/steps/3",
            }
            for path in paths.values():  # warm the templates
                await client.get(path)
            results = {}
            for _ in range(2):  # interleaved, so the machine's load falls on each alike
                for name, path in paths.items():
                    times, size = await timed(client, path, args.n // 2)
                    old = results.get(name, ([], 0))[0]
                    results[name] = (old + times, size)
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    for name, (times, size) in results.items():
        if not times:
            print(f"{name:<26} -")
            continue
        print(
            f"{name:<26} p50 {pct(times, 50):6.2f} ms  p95 {pct(times, 95):6.2f} ms  {size / 1024:6.1f} KB"
        )


if __name__ == "__main__":
    asyncio.run(main())
