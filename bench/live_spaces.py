"""What routing live events by space costs (issue 20): a run's events reach every member of its
space who follows it, not only its owner.

    uv run python bench/live_spaces.py        # BENCH_DATABASE_URL / TEST_DATABASE_URL, else embedded

(a) The hub's fan-out in-process: `LiveHub.dispatch` of 20,000 payloads among 2,000 subscriptions
    (1,000 users with two tabs; 50 teams of 20 members each following their team). Baseline: the
    same payloads without `space_id` (the owner-only routing before teams).
(b) The run_events trigger in a fresh database: 20,000 event inserts (one transaction per 100) with
    the announcing trigger as before (owner only) and as now (sql/0092, one primary-key read of the
    run for its space), alternated in the same run.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.web.live.hub import LiveHub  # noqa: E402
from bench.support import bench_database  # noqa: E402

USERS, TABS, TEAMS, TEAM_SIZE, EVENTS = 1000, 2, 50, 20, 20_000

OLD_TRIGGER = """
CREATE OR REPLACE FUNCTION baton_announce_run_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('baton_events', json_build_object(
        'kind', 'run.' || NEW.kind, 'event_id', NEW.id,
        'run_id', NEW.run_id, 'user_id', NEW.owner_id)::text);
    RETURN NEW;
END $$;
"""


def fan_out() -> tuple[float, float, int]:
    hub = LiveHub("postgresql://unused")
    subs = []
    for user in range(1, USERS + 1):
        team = (user - 1) // TEAM_SIZE + 1 if user <= TEAMS * TEAM_SIZE else None
        for _ in range(TABS):
            cm = hub.subscribe(user, space_id=team)
            subs.append((cm, cm.__aenter__()))

    async def run() -> tuple[float, float, int]:
        for i, (_, coro) in enumerate(subs):
            subs[i] = (subs[i][0], await coro)
        payloads = [
            json.dumps({"kind": "run.status", "run_id": "x", "user_id": 1 + i % USERS})
            for i in range(EVENTS)
        ]
        spaced = [
            json.dumps(
                {
                    "kind": "run.status",
                    "run_id": "x",
                    "user_id": 1 + i % USERS,
                    "space_id": 1 + i % TEAMS,
                }
            )
            for i in range(EVENTS)
        ]
        times = {"owner": [], "space": []}
        for _ in range(5):
            for name, batch in (("owner", payloads), ("space", spaced)):
                spent = 0.0
                for chunk in range(0, EVENTS, 100):  # readers keep up: no queue overflows
                    started = time.perf_counter()
                    for payload in batch[chunk : chunk + 100]:
                        hub.dispatch(payload)
                    spent += time.perf_counter() - started
                    for _, sub in subs:
                        while not sub._queue.empty():
                            sub._queue.get_nowait()
                times[name].append(spent / EVENTS * 1e6)
        delivered = TABS + TABS * (TEAM_SIZE - 1)  # a team event: the owner's tabs + colleagues'
        return statistics.median(times["owner"]), statistics.median(times["space"]), delivered

    return asyncio.run(run())


def trigger_cost(url: str) -> tuple[float, float]:
    new_trigger = Path(__file__).resolve().parents[1].joinpath("sql", "0092_space_run_events.sql")
    with psycopg.connect(url, autocommit=True) as conn:
        user = conn.execute(
            "INSERT INTO users (email, tier) VALUES ('b@bench.test', 'enterprise') RETURNING id"
        ).fetchone()[0]
        run = conn.execute(
            "INSERT INTO runs (owner_id, workflow, version, title, input) "
            "VALUES (%s, 'bench', 1, 'bench', '{}') RETURNING id",
            (user,),
        ).fetchone()[0]
        results = {"old": [], "new": []}
        for _ in range(3):
            for name, ddl in (("old", OLD_TRIGGER), ("new", new_trigger.read_text())):
                conn.execute(ddl)
                started = time.perf_counter()
                for _ in range(EVENTS // 100):
                    with conn.transaction(), conn.cursor() as cur:
                        cur.executemany(
                            "INSERT INTO run_events (run_id, owner_id, kind, data) "
                            "VALUES (%s, %s, 'progress', '{}')",
                            [(run, user)] * 100,
                        )
                results[name].append((time.perf_counter() - started) / EVENTS * 1e6)
    return statistics.median(results["old"]), statistics.median(results["new"])


def main() -> None:
    owner, space, delivered = fan_out()
    print(f"(a) dispatch per event, {USERS * TABS} subscriptions:")
    print(f"    owner only (baseline)      {owner:6.2f} µs")
    print(
        f"    with space_id (now)        {space:6.2f} µs  ({delivered} deliveries per team event)"
    )
    with bench_database("baton_bench_live") as url:
        old, new = trigger_cost(url)
    print(f"(b) run_events insert + announce, per event ({EVENTS} events, 100 per transaction):")
    print(f"    owner only (baseline)      {old:6.1f} µs")
    print(f"    with the run's space (now) {new:6.1f} µs")


if __name__ == "__main__":
    main()
