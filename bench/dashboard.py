"""Dashboard benchmark: seeds 100,000 runs with 1,000,000 journal rows across 1,000 users, then
measures the pages a user and an admin open, in-process (Litestar's test client, no network).

    uv run python bench/dashboard.py          # BENCH_DATABASE_URL / TEST_DATABASE_URL, else embedded

Targets (issue 6): p95 <= 50 ms for /workflows (first and a deep page) and run detail; p95 <= 300 ms
for the /admin analytics.
"""

from __future__ import annotations

import asyncio
import re
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg.rows import dict_row

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from litestar.testing import AsyncTestClient  # noqa: E402

from app.core.config import load_settings  # noqa: E402
from app.core.db import open_pool  # noqa: E402
from app.engine.analytics_fold import fold  # noqa: E402
from app.web.app import create_app  # noqa: E402
from app.web.auth.accounts import create_account  # noqa: E402
from app.web.auth.passwords import hash_password  # noqa: E402
from bench.support import bench_database, pct  # noqa: E402

USERS, RUNS, STEPS_PER_RUN = 1000, 100_000, 10
PASSWORD = "bench password 123"

SEED_USERS = """
INSERT INTO users (email, tier) SELECT 'user' || i || '@bench.test', 'enterprise' FROM generate_series(1, %(n)s) AS i
"""
# Runs spread over the last 60 days; each has 10 journal rows and 2 events.
SEED_RUNS = """
INSERT INTO runs (owner_id, workflow, version, title, status, input, output, created_at, started_at, completed_at,
                  updated_at, steps_done, tokens_in, tokens_out, cost_usd)
SELECT u.id, (ARRAY['content-generation', 'multi-agent', 'document-processing', 'data-analysis'])[1 + i %% 4], 1,
       'Report ' || i, (ARRAY['completed', 'completed', 'completed', 'failed', 'waiting', 'cancelled'])[1 + i %% 6],
       jsonb_build_object('prompt', 'topic ' || i), jsonb_build_object('ok', true),
       now() - (i %% 86400) * interval '1 minute', now() - (i %% 86400) * interval '1 minute',
       now() - (i %% 86400) * interval '1 minute' + interval '5 minutes', now(), 10, 1000, 500, 0.0015
FROM generate_series(1, %(n)s) AS i
JOIN users u ON u.email = 'user' || (1 + i %% %(users)s) || '@bench.test'
"""
SEED_STEPS = """
INSERT INTO run_steps (run_id, seq, name, kind, status, attempts, output, started_at, completed_at, duration_ms)
SELECT r.id, s, 'step ' || s, 'step', 'completed', 1, jsonb_build_object('text', repeat('x', 200)),
       r.created_at + s * interval '1 second', r.created_at + s * interval '1 second' + interval '200 ms', 200
FROM runs r CROSS JOIN generate_series(0, %(steps)s - 1) AS s
"""
SEED_EVENTS = """
INSERT INTO run_events (run_id, owner_id, kind, data, created_at)
SELECT r.id, r.owner_id, k, jsonb_build_object('status', r.status), r.created_at
FROM runs r CROSS JOIN (VALUES ('status'), ('step_completed')) AS e(k)
"""
SEED_HOOKS = """
INSERT INTO hooks (run_id, seq, owner_id, token, name, kind, status, actions, created_at, decided_at, action)
SELECT r.id, 10, r.owner_id, md5(r.id::text || random()::text), 'review', 'approval',
       CASE WHEN r.status = 'waiting' THEN 'waiting' ELSE 'resolved' END, ARRAY['approve', 'revise', 'reject'],
       r.created_at, CASE WHEN r.status = 'waiting' THEN NULL ELSE r.created_at + interval '3 hours' END,
       CASE WHEN r.status = 'waiting' THEN NULL ELSE 'approve' END
FROM runs r WHERE r.workflow = 'content-generation'
"""


async def timed(client, path: str, n: int) -> list[float]:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        response = await client.get(path)
        times.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    return times


async def log_in(client, email: str) -> None:
    page = await client.get("/login")
    csrf = re.search(r'name="_csrf_token" value="([0-9a-f]+)"', page.text).group(1)
    response = await client.post(
        "/login", data={"email": email, "password": PASSWORD, "_csrf_token": csrf}
    )
    assert response.status_code == 303, response.text


async def main() -> None:
    with bench_database() as url:
        await run_all(url)


async def run_all(url: str) -> None:
    t0 = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(SEED_USERS, {"n": USERS})
        conn.execute(SEED_RUNS, {"n": RUNS, "users": USERS})
        conn.execute(SEED_STEPS, {"steps": STEPS_PER_RUN})
        conn.execute(SEED_EVENTS)
        conn.execute(SEED_HOOKS)
        conn.execute("ANALYZE")
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM runs), (SELECT count(*) FROM run_steps)"
        ).fetchone()
    # The workers' sweep folds finished runs into the analytics' rollup; here, once, all of them.
    async with await psycopg.AsyncConnection.connect(
        url, autocommit=True, row_factory=dict_row
    ) as aconn:
        await fold(aconn, fold_after="0 seconds", batches=1_000)
        await aconn.execute("ANALYZE")
    print(
        f"seeded {counts[0]:,} runs, {counts[1]:,} journal rows, {USERS:,} users in {time.perf_counter() - t0:.0f} s"
    )

    pool = await open_pool(url, min_size=1, max_size=2)
    async with pool.connection() as conn:
        user = await create_account(
            conn,
            "reader@bench.test",
            await hash_password(PASSWORD),
            tier="enterprise",
            is_admin=True,
            explicit_tier=True,
        )
        # The reader owns as many runs as a typical user (100): re-home one user's runs.
        await conn.execute(
            "UPDATE runs SET owner_id = %(id)s, space_id = (SELECT id FROM spaces WHERE personal_of = %(id)s) "
            "WHERE owner_id = (SELECT id FROM users WHERE email = 'user1@bench.test')",
            {"id": user.id},
        )
        run_id = (
            await (
                await conn.execute("SELECT id FROM runs WHERE owner_id = %s LIMIT 1", (user.id,))
            ).fetchone()
        )["id"]
    await pool.close()

    settings = load_settings(
        {
            "DATABASE_URL": url,
            "BATON_SECRET_KEY": "bench-secret-key-0000",
            "BATON_DATA_DIR": tempfile.mkdtemp(),
        }
    )
    async with AsyncTestClient(create_app(settings, url, run_worker=False)) as client:
        client.follow_redirects = False
        await log_in(client, "reader@bench.test")
        first = await client.get("/workflows")
        deep = first
        for _ in range(3):  # three pages in: a deep keyset page
            cursor = re.search(r'cursor=([^"&]+)"', deep.text).group(1)
            deep = await client.get(f"/workflows?cursor={cursor}")
        deep_path = f"/workflows?cursor={cursor}"
        results = {
            "/workflows (first page)": await timed(client, "/workflows", 50),
            "/workflows (4th page)": await timed(client, deep_path, 50),
            "/workflows?q=Report 1 (search)": await timed(client, "/workflows?q=Report%201", 50),
            "/workflows/<id> (run detail)": await timed(client, f"/workflows/{run_id}", 50),
            "/admin (30-day analytics)": await timed(client, "/admin?days=30", 20),
            "/admin (365-day analytics)": await timed(client, "/admin?days=365", 10),
        }
    for path, times in results.items():
        target = 300 if path.startswith("/admin") else 50
        mark = "ok " if pct(times, 95) <= target else "MISS"
        print(
            f"{path:<34} p50 {pct(times, 50):6.1f} ms  p95 {pct(times, 95):6.1f} ms  {mark} target p95 <= {target}"
        )


if __name__ == "__main__":
    asyncio.run(main())
