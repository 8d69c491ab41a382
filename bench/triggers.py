"""Trigger deliveries: what `POST /hooks/t/<id>` costs over starting the same run through the API.

    uv run python bench/triggers.py [--n 300]   # BENCH_DATABASE_URL / TEST_DATABASE_URL, else embedded

In-process (Litestar's test client, no network), one fresh database, no worker (runs stay queued:
the start is what is measured). Interleaved, so both see the same machine load:
- baseline: `POST /api/v1/runs` (API key, rate limit, the one start path) of `content-generation`;
- a signed delivery (HMAC check, the trigger's rate limit, mapping, the same start path, marking
  the run and recording the delivery);
- the same delivery replayed with its Idempotency-Key (starts nothing);
- a delivery with a wrong signature (401, recorded).
Prints p50 / p95 / p99 in milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from litestar.testing import AsyncTestClient  # noqa: E402

import app.workflows.catalog  # noqa: E402,F401  (registers content-generation)
from app.core.config import load_settings  # noqa: E402
from app.core.db import open_pool  # noqa: E402
from app.core.secrets_box import SecretBox  # noqa: E402
from app.triggers import store  # noqa: E402
from app.web.app import create_app  # noqa: E402
from app.web.auth import api_keys  # noqa: E402
from app.web.signed_json import signature  # noqa: E402
from bench.support import bench_database, pct  # noqa: E402

WORKFLOW = "content-generation"


async def measure(url: str, n: int) -> dict[str, list[float]]:
    settings = load_settings(
        {
            "DATABASE_URL": url,
            "BATON_DATA_DIR": tempfile.mkdtemp(),
            "BATON_SECRET_KEY": "bench-secret-key-0123456789",
        }
    )
    pool = await open_pool(url, name="bench")
    async with pool.connection() as conn:
        user = (
            await (
                await conn.execute(
                    "INSERT INTO users (email, tier) VALUES ('bench@bench.test', 'enterprise') RETURNING id"
                )
            ).fetchone()
        )["id"]
        key, _ = await api_keys.create_key(conn, user, "bench")
        trigger, secret = await store.create_trigger(
            conn,
            user,
            SecretBox.from_settings(settings),
            name="bench",
            workflow=WORKFLOW,
            mapping={"prompt": "/post/text"},
            auth_mode="hmac",
            rate_per_minute=6000,
        )
    await pool.close()
    times: dict[str, list[float]] = {
        "api start (baseline)": [],
        "trigger delivery": [],
        "replayed delivery": [],
        "wrong signature (401)": [],
    }
    hook = f"/hooks/t/{trigger['id']}"
    async with AsyncTestClient(create_app(settings, url, run_worker=False)) as client:
        for i in range(n):
            body = json.dumps({"post": {"text": f"Benchmark post number {i}"}}).encode()
            signed = {
                "Content-Type": "application/json",
                "X-Baton-Signature": signature(secret, body),
                "Idempotency-Key": f"delivery-{i}",
            }
            cases = (
                (
                    "api start (baseline)",
                    "/api/v1/runs",
                    {
                        "headers": {"Authorization": f"Bearer {key}"},
                        "json": {"workflow": WORKFLOW, "input": {"prompt": f"Post {i}"}},
                    },
                    201,
                ),
                ("trigger delivery", hook, {"content": body, "headers": signed}, 202),
                ("replayed delivery", hook, {"content": body, "headers": signed}, 200),
                (
                    "wrong signature (401)",
                    hook,
                    {
                        "content": body,
                        "headers": signed | {"X-Baton-Signature": "sha256=" + "0" * 64},
                    },
                    401,
                ),
            )
            for name, path, request, status in cases:
                started = time.perf_counter()
                response = await client.post(path, **request)
                times[name].append((time.perf_counter() - started) * 1000)
                assert response.status_code == status, (name, response.status_code, response.text)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300, help="requests of each kind")
    args = parser.parse_args()
    with bench_database("baton_bench_triggers") as url:
        times = asyncio.run(measure(url, args.n))
    print(f"{'':24} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}   (n={args.n} each, interleaved)")
    for name, values in times.items():
        print(f"{name:24} {pct(values, 50):8.1f} {pct(values, 95):8.1f} {pct(values, 99):8.1f}")


if __name__ == "__main__":
    main()
