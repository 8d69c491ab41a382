"""Load test: Baton under a month's mix, scaled to this machine (issue 14).

    uv run python bench/load.py --scale smoke      # seconds; the test suite runs it
    uv run python bench/load.py --scale moderate   # a few minutes
    uv run python bench/load.py --scale large      # ~15 minutes; 50,000 finished runs
    uv run python bench/load.py --scale month      # the mid-month state, then the pages (--pages)

It owns a throwaway PostgreSQL cluster (tests/support/pg_cluster.py, `fsync=off`, with
pg_stat_statements), seeds it through the engine's own SQL (finished runs: `insert_runs`, their
journals a batch at a time (bench/load.sql; `--seed step`: `write_step` x20), `finish_run`; waiting
and sleeping runs: started with `start_runs` and driven there by the
workers), starts real `baton serve --no-worker` and `baton worker` processes, then drives an
open-loop mix (Poisson arrivals at a stated rate, so latency under overload shows) in stages of
rising rate until the dashboard's or decision -> next step's p99 passes 1 s:

    dashboard (GET /), a run page, the inbox (GET /approvals), a run list page, starts through the
    API (POST /api/v1/runs) and through the chat's workflow form (GET the form, POST it with its
    CSRF token, as a browser does), decisions through the API (POST /api/v1/hooks/<token>), chat
    messages (the composer's form, then the reply's SSE stream from the scripted model server at
    TOKENS_PER_S until its `end`), with `live` open live pages (GET /live, SSE) on the web process
    whose first event after a decision is timed. Runs waiting with a short timeout expire during
    the stage (timeouts firing).

Figures: per request kind throughput, p50/p95/p99, errors; decision -> next step started (from
the journal); live event lateness (decision answered -> first event on each of the user's open
pages: an upper bound of commit -> receipt); steps/s; database bytes per finished run and per
step; WAL per step; CPU and RSS of each process; idle queries per second from pg_stat_statements
before and after seeding; the cost of a /metrics scrape. 2,000 live pages on one process:
bench/live_fanout.py; CPU per step and cost per 1,000 steps: bench/step_cost.py.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx
import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import bench.workflows  # noqa: E402,F401  (start_runs validates inputs against them)
from app.core.migrations import apply_migrations  # noqa: E402
from app.core.sql_queries import load_queries  # noqa: E402
from bench.chaos import Proc, _csrf, _free_port  # noqa: E402
from bench.support import pct  # noqa: E402
from tests.support.model_server import ModelServer, Reply  # noqa: E402
from tests.support.pg_cluster import PgCluster, pg_cluster  # noqa: E402

SQL = load_queries(__file__)

SECRET_KEY = "load-test-secret-key-0123456789abc"
PASSWORD = "correct horse battery staple"
RUN_LINK = re.compile(r'href="/workflows/([0-9a-f-]{36})"')

SCALES = {
    # users, finished runs (20 steps each), waiting, sleeping, live pages, seconds per stage, offered
    # rates (requests/s), seconds of idle-query sampling
    "smoke": dict(
        users=10, finished=100, waiting=40, sleeping=10, live=20, stage_s=6, rates=[10], idle_s=3
    ),
    "moderate": dict(
        users=200,
        finished=5000,
        waiting=2000,
        sleeping=300,
        live=200,
        stage_s=30,
        rates=[5, 10, 20, 40, 80],
        idle_s=20,
    ),
    # The largest run here (about 1/7 of the month's finished and 1/3 of its waiting runs): run once.
    "large": dict(
        users=300,
        finished=50000,
        waiting=10000,
        sleeping=2000,
        live=500,
        stage_s=30,
        rates=[20, 40, 80, 160],
        idle_s=20,
    ),
    # The middle of the brief's month (50,000 users x 15 runs of 20 steps, so 375,000 finished by
    # mid-month) with the users scaled to 10,000 across the paying tiers (TIER_MIX): seeded, then
    # the idle statements and the interactive pages at a low rate (`pages`), no traffic stages.
    "month": dict(
        users=10000,
        finished=375000,
        waiting=30000,
        sleeping=5000,
        live=0,
        stage_s=30,
        rates=[],
        idle_s=30,
        pages=True,
        tiers=True,
    ),
}
# The month's users by tier (of every 20: 10 pro, 7 premium, 3 enterprise) and the finished runs
# each holds by mid-month, under its tier's monthly limit (pro 10, premium 50; enterprise unlimited
# takes the rest); waiting and sleeping runs go to premium and enterprise users, who have room left.
TIER_MIX = ["pro"] * 10 + ["premium"] * 7 + ["enterprise"] * 3
TIER_RUNS = {"pro": 5, "premium": 30}
MIX = {
    "dashboard": 25,
    "run_page": 15,
    "inbox": 12,
    "run_list": 8,
    "api_start": 7,
    "ui_start": 6,
    "decision": 15,
    "chat": 12,
}
# What the chat request records besides its own time (the POST and the page): the streamed reply.
CHAT_FIGURES = ("chat first token", "chat reply done")
# The scripted model answers at about a hosted model's pace: 60 words at 40 words/s, after 0.3 s.
TOKENS_PER_S = 40
REPLY = " ".join(f"word{i}" for i in range(60))
STREAM_LINK = re.compile(r'sse-connect="(/chat/\d+/messages/\d+/stream)"')


@dataclass
class Stage:
    rate: float
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    lateness: list[float] = field(default_factory=list)
    # What each failed request answered ("429", "ReadTimeout", ...): printed under the stage.
    failures: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    started_at: float = 0
    ended_at: float = 0


class LoadCluster(PgCluster):
    """The throwaway cluster with pg_stat_statements loaded (idle-query figures), from the system's
    PostgreSQL when it has the extension (the bundled pgserver build does not)."""

    def __init__(self, root: Path):
        super().__init__(root)
        system = sorted(Path("/usr/lib/postgresql").glob("*/lib/pg_stat_statements.so"))
        self.statements = bool(system)
        if system:
            self.bin = system[-1].parents[1] / "bin"

    def _options(self) -> str:
        extra = " -c shared_preload_libraries=pg_stat_statements" if self.statements else ""
        return super()._options() + extra


def load_cluster():
    """pg_cluster with pg_stat_statements loaded."""
    return pg_cluster(LoadCluster)


# -- seeding through the engine's own SQL ------------------------------------------------------------


async def seed(url: str, cfg: dict) -> dict:
    from app.engine.commands import COUNT_RUNS, INSERT_RUNS, Start, start_runs
    from app.engine.journal import FINISH_RUN, WRITE_STEP
    from app.spaces.store import personal_space
    from app.web.auth.accounts import create_account
    from app.web.auth.api_keys import create_key
    from app.web.auth.passwords import hash_password

    hashed = await hash_password(PASSWORD)
    users = []
    t_users = time.perf_counter()
    async with await psycopg.AsyncConnection.connect(
        url, row_factory=dict_row, autocommit=True
    ) as conn:
        for i in range(cfg["users"]):
            # The first account is the admin (analytics pages), on enterprise.
            tier = TIER_MIX[i % len(TIER_MIX)] if cfg.get("tiers") and i else "enterprise"
            user = await create_account(
                conn, f"user{i}@load.test", hashed, tier=tier, explicit_tier=True
            )
            key, _ = await create_key(conn, user.id, "load")
            space = await personal_space(conn, user.id)
            users.append(
                {
                    "id": user.id,
                    "space": space.id,
                    "email": f"user{i}@load.test",
                    "key": key,
                    "tier": tier,
                }
            )
        print(f"  {len(users):,} users in {time.perf_counter() - t_users:.0f} s")
        finished_owners = owners_of_finished(users, cfg["finished"])
        suspended = [u for u in users if u["tier"] not in TIER_RUNS] or users
        t0 = time.perf_counter()
        batch_size = SEED_BATCH[cfg.get("seed", "set")]
        for first in range(0, cfg["finished"], batch_size):
            batch = range(first, min(first + batch_size, cfg["finished"]))
            owners = [finished_owners[n] for n in batch]
            async with conn.transaction():
                rows = finished_rows(batch, owners)
                runs = await (await conn.execute(INSERT_RUNS, rows)).fetchall()
                await conn.execute(COUNT_RUNS, rows)
                async with conn.cursor() as cur:
                    if cfg.get("seed", "set") == "set":
                        await cur.execute(
                            SQL["write_journals"],
                            {"run_ids": [r["id"] for r in runs], "steps": STEPS},
                        )
                    else:  # write_step per step, as a worker writes them
                        await cur.executemany(
                            WRITE_STEP,
                            [
                                step_params(r["id"], r["owner_id"], seq)
                                for r in runs
                                for seq in range(STEPS)
                            ],
                        )
                    await cur.executemany(
                        FINISH_RUN,
                        [
                            {
                                "run_id": r["id"],
                                "status": "completed",
                                "output": Jsonb({"approved": True}),
                                "error": None,
                            }
                            for r in runs
                        ],
                    )
            if first // batch_size % 20 == 19:
                done = batch.stop
                print(
                    f"  seeded {done:,} finished runs in {time.perf_counter() - t0:.0f} s "
                    f"(load average {os.getloadavg()[0]:.1f})"
                )
        finished_s = time.perf_counter() - t0
        # The engine's one start path, a batch at a time (start_run per run: ~18 ms each at load
        # 10, 35,000 of them ~10 min; the batch writes each table with one statement).
        starts = [
            # One in four expires after 2-60 s: timeouts fire during the stages.
            Start(
                owner_id=suspended[n % len(suspended)]["id"],
                workflow="bench-load",
                input={"steps": 3, "timeout_s": random.uniform(2, 60) if n % 4 == 0 else 86400},
            )
            for n in range(cfg["waiting"])
        ] + [
            Start(
                owner_id=suspended[-1 - n % len(suspended)]["id"],
                workflow="bench-load",
                input={"steps": 2, "sleep_s": 86400},
            )
            for n in range(cfg["sleeping"])
        ]
        t_start = time.perf_counter()
        waiting = []
        for first in range(0, len(starts), START_BATCH):
            for n, result in enumerate(
                await start_runs(conn, starts[first : first + START_BATCH]), first
            ):
                assert isinstance(result, tuple), f"seeded start refused: {result!r}"
                if n < cfg["waiting"]:
                    waiting.append(result[0].id)
        if starts:
            print(
                f"  {len(starts):,} waiting and sleeping runs started in "
                f"{time.perf_counter() - t_start:.0f} s"
            )
    return {"users": users, "waiting": waiting, "finished_s": finished_s}


# Runs per transaction: `set` writes a batch's journals in one statement (bench/load.sql), `step`
# with write_step per step (the engine's statement, 20 per run; 307 s for 50,000 runs one run per
# transaction, the large run below).
SEED_BATCH = {"set": 2000, "step": 500}
START_BATCH = 1000
STEPS = 20


def owners_of_finished(users: list[dict], n: int) -> list[dict]:
    """The owner of each finished run: TIER_RUNS each for pro and premium users, round robin over
    the others for the rest (every user alike without tiers)."""
    owners = [u for u in users for _ in range(TIER_RUNS.get(u["tier"], 0))][:n]
    rest = [u for u in users if u["tier"] not in TIER_RUNS]
    owners += [rest[i % len(rest)] for i in range(n - len(owners))]
    random.Random(14).shuffle(owners)
    return owners


def finished_rows(batch: range, owners: list[dict]) -> dict:
    """insert_runs' arrays for a batch of seeded runs (app/engine/commands.sql)."""
    n = len(batch)
    return {
        "ids": [uuid.uuid4() for _ in batch],
        "owner_ids": [o["id"] for o in owners],
        "space_ids": [o["space"] for o in owners],
        "chat_ids": [None] * n,
        "workflows": ["bench-load"] * n,
        "versions": [1] * n,
        "titles": [f"Seeded run {i}" for i in batch],
        "inputs": [Jsonb({"steps": 20})] * n,
        "keys": [None] * n,
        "max_durations": [timedelta(days=30)] * n,
        "template_ids": [None] * n,
        "template_versions": [None] * n,
        "rerun_ofs": [None] * n,
        "rerun_froms": [None] * n,
        "schedule_ids": [None] * n,
        "fire_ats": [None] * n,
        "counted": [True] * n,
    }


def step_params(run_id, owner: int, seq: int) -> dict:
    return {
        "run_id": run_id,
        "owner_id": owner,
        "seq": seq,
        "name": f"s{seq}",
        "kind": "step",
        "status": "completed",
        "attempts": 1,
        "output": Jsonb({"n": seq, "text": "a short result of a seeded step"}),
        "error": None,
        "detail": None,
        "wake_at": None,
        "started_at": None,
        "completed_at": None,
        "duration_ms": 1.5,
        "model": None,
        "tokens_in": None,
        "tokens_out": None,
        "cost_usd": None,
        "done": 1,
        "event": "step_completed",
        "event_data": Jsonb({"seq": seq, "name": f"s{seq}"}),
        "announce": False,
    }


async def wait_for_suspended(url: str, timeout: float = 1800) -> None:
    """Until the workers have driven every seeded run to its hook or sleep (or, for a short timeout,
    past it): no run queued or running."""
    deadline = time.monotonic() + timeout
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        while True:
            [[busy]] = await (
                await conn.execute(
                    "SELECT count(*) FROM runs WHERE status IN ('queued', 'running')"
                )
            ).fetchall()
            if busy == 0:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{busy} seeded runs still queued or running after {timeout} s")
            await asyncio.sleep(0.5)


async def wait_jobs_done(url: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        [row] = await query(
            url,
            "SELECT count(*) AS n FROM procrastinate_jobs WHERE status = 'doing' "
            "OR (status = 'todo' AND (scheduled_at IS NULL OR scheduled_at <= now()))",
        )
        if row["n"] == 0:
            return
        await asyncio.sleep(1)


# -- the traffic ---------------------------------------------------------------------------------------


class Person:
    """A logged-in browser session of one seeded user."""

    def __init__(self, base: str, user: dict, n: int):
        self.user = user
        # Each person from an address of their own, through the local proxy Baton trusts by default
        # (BATON_TRUSTED_PROXIES): per-address limits such as log-ins see many people, as in production.
        here = {"X-Forwarded-For": f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256 + 1}"}
        self.client = httpx.AsyncClient(base_url=base, timeout=30, headers=here)
        self.api = httpx.AsyncClient(
            base_url=base, timeout=30, headers=here | {"Authorization": f"Bearer {user['key']}"}
        )
        self.runs: list[str] = []
        self.live: list[list[float]] = []  # per open page: receipt times of events

    async def log_in(self) -> None:
        page = await self.client.get("/login")
        done = await self.client.post(
            "/login",
            data={
                "email": self.user["email"],
                "password": PASSWORD,
                "_csrf_token": _csrf(page.text),
            },
        )
        assert done.status_code == 303, f"log-in answered {done.status_code}"

    async def open_live_page(self, stop: asyncio.Event) -> None:
        received: list[float] = []
        self.live.append(received)
        while not stop.is_set():
            try:
                async with self.client.stream(
                    "GET", "/live", params={"page": "/"}, timeout=None
                ) as response:
                    async for line in response.aiter_lines():
                        if line.startswith("event:"):
                            received.append(time.monotonic())
                        if stop.is_set():
                            return
            except httpx.HTTPError:
                await asyncio.sleep(0.5)

    async def close(self) -> None:
        await self.client.aclose()
        await self.api.aclose()


async def request(kind: str, person: Person, tokens: list[str], stage: Stage) -> None:
    t0 = time.monotonic()
    ok = True
    try:
        if kind == "dashboard":
            # What a browser loads: / answers a redirect to the chat page (before 21:30 on
            # 2026-12-04 only the 303 was timed).
            r = await person.client.get("/", follow_redirects=True)
        elif kind == "inbox":
            r = await person.client.get("/approvals")
        elif kind == "run_list":
            r = await person.client.get("/workflows")
            person.runs = RUN_LINK.findall(r.text)[:20] or person.runs
        elif kind == "run_page":
            if not person.runs:
                person.runs = RUN_LINK.findall((await person.client.get("/workflows")).text)[:20]
            if not person.runs:  # more people than seeded runs (--users): nothing to open
                return
            r = await person.client.get(f"/workflows/{random.choice(person.runs)}")
        elif kind == "ui_start":
            # As a browser does: open the workflow's form (its CSRF token), post it.
            form = await person.client.get("/chat/workflows/bench-load")
            r = await person.client.post(
                "/chat/workflows/bench-load",
                data={"steps": "5", "timeout_s": "86400", "_csrf_token": _csrf(form.text)},
            )
            r = r if r.status_code != 303 else await person.client.get(r.headers["location"])
        elif kind == "chat":
            r = await chat(person, stage)
        elif kind == "api_start":
            r = await person.api.post(
                "/api/v1/runs", json={"workflow": "bench-load", "input": {"steps": 5}}
            )
        else:  # decision
            if not tokens:
                return
            r = await person.api.post(f"/api/v1/hooks/{tokens.pop()}", json={"action": "approve"})
            answered = time.monotonic()
            asyncio.get_running_loop().call_later(2.0, record_lateness, person, answered, stage)
        ok = r is not None and (
            r.status_code < 400 or (kind == "decision" and r.status_code == 409)
        )
    except httpx.HTTPError as exc:
        ok, r = False, type(exc).__name__
    stage.latencies[kind].append((time.monotonic() - t0) * 1000)
    if not ok:
        stage.errors[kind] += 1
        stage.failures[kind].append(r if isinstance(r, str) else str(getattr(r, "status_code", r)))


async def chat(person: Person, stage: Stage) -> httpx.Response:
    """A message in a new chat, as a browser sends it: the composer's form with its CSRF token,
    the chat page it lands on, then the reply's stream until its `end` event (first token and
    whole reply timed from the POST)."""
    page = await person.client.get("/chat")
    t0 = time.monotonic()
    sent = await person.client.post(
        "/chat", data={"content": "How is the load test going?", "_csrf_token": _csrf(page.text)}
    )
    if sent.status_code != 303:
        return sent
    r = await person.client.get(sent.headers["location"])
    link = STREAM_LINK.search(r.text)
    if r.status_code >= 400 or not link:
        return r
    first, event = None, ""
    async with person.client.stream("GET", link[1], timeout=60) as stream:
        async for line in stream.aiter_lines():
            if line.startswith("event: "):
                event = line[7:]
            # The stream opens with the text so far (`text`, empty at first), then `token`s.
            elif first is None and event in ("text", "token") and line.strip() not in ("data:", ""):
                first = time.monotonic()
            if line.startswith("event: end"):
                done = time.monotonic()
                stage.latencies[CHAT_FIGURES[0]].append(((first or done) - t0) * 1000)
                stage.latencies[CHAT_FIGURES[1]].append((done - t0) * 1000)
                return r
    stage.errors[CHAT_FIGURES[1]] += 1
    return r


def record_lateness(person: Person, answered: float, stage: Stage) -> None:
    for received in person.live:
        after = [t for t in received if t >= answered]
        if after:
            stage.lateness.append((after[0] - answered) * 1000)


async def run_stage(
    stage: Stage, people: list[Person], tokens_of: dict[int, list[str]], duration: float
) -> None:
    kinds, weights = list(MIX), list(MIX.values())
    tasks: list[asyncio.Task] = []
    stage.started_at = time.monotonic()
    end = stage.started_at + duration
    arrival = stage.started_at
    while time.monotonic() < end:
        person = random.choice(people)
        # Every kind once first, so even a short stage (the smoke test) has each.
        kind = kinds[len(tasks)] if len(tasks) < len(kinds) else random.choices(kinds, weights)[0]
        tasks.append(
            asyncio.create_task(request(kind, person, tokens_of[person.user["id"]], stage))
        )
        # Arrivals on the clock, not after the previous one: a busy client loop sends a burst to
        # catch up instead of quietly lowering the offered rate.
        arrival += random.expovariate(stage.rate)
        await asyncio.sleep(max(0.0, min(arrival, end) - time.monotonic()))
    await asyncio.gather(*tasks)
    stage.ended_at = time.monotonic()


# -- measuring -------------------------------------------------------------------------------------------


def cpu_rss(pid: int) -> tuple[float, int]:
    """CPU seconds (user + system) and RSS bytes of a process and its children's threads."""
    user, system, rss = cpu_split(pid)
    return user + system, rss


def cpu_split(pid: int) -> tuple[float, float, int]:
    """User and system CPU seconds and RSS bytes of a process (all its threads)."""
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    rss = int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    return int(stat[11]) / ticks, int(stat[12]) / ticks, rss


async def query(url: str, sql: str, params=()) -> list[dict]:
    async with await psycopg.AsyncConnection.connect(
        url, row_factory=dict_row, autocommit=True
    ) as conn:
        cur = await conn.execute(sql, params)
        return await cur.fetchall() if cur.description else []


async def idle_queries(url: str, seconds: float) -> tuple[float, list[dict]]:
    """Statements per second while nobody uses Baton, and the busiest ones."""
    await query(url, "SELECT pg_stat_statements_reset()")
    await asyncio.sleep(seconds)
    rows = await query(
        url,
        "SELECT calls, total_exec_time, left(regexp_replace(query, '\\s+', ' ', 'g'), 90) AS q "
        "FROM pg_stat_statements WHERE query NOT LIKE '%%pg_stat_statements%%' ORDER BY calls DESC",
    )
    return sum(r["calls"] for r in rows) / seconds, rows[:5]


async def stage_statements(url: str, n: int = 6) -> tuple[float, list[dict]]:
    """What the database spent since the last reset: total execution ms of every statement, and
    the top `n` by total time (the stage's pg_stat_statements delta: reset before each stage)."""
    rows = await query(
        url,
        "SELECT calls, total_exec_time AS ms, rows, "
        "left(regexp_replace(query, '\\s+', ' ', 'g'), 110) AS q FROM pg_stat_statements "
        "WHERE query NOT LIKE '%%pg_stat_statements%%' ORDER BY total_exec_time DESC",
    )
    return sum(r["ms"] for r in rows), rows[:n]


def py_spy() -> list[str] | None:
    """The sampling profiler's command, if this machine has it (`--profile`)."""
    found = shutil.which("py-spy")
    if found:
        return [found]
    return ["uv", "tool", "run", "py-spy"] if shutil.which("uv") else None


def profile_summary(path: Path, expected: float, n: int = 16) -> list[str]:
    """The web process's samples of a stage (py-spy's collapsed stacks) folded into the share of
    samples under each of Baton's functions and templates (inclusive, each counted once per stack)
    and the leaf functions that used the most (self)."""
    if not path.exists():
        return ["(no profile written)"]
    inclusive: dict[str, int] = defaultdict(int)
    leaf: dict[str, int] = defaultdict(int)
    total = idle = 0
    for row in path.read_text().splitlines():
        stack, _, count = row.rpartition(" ")
        if not count.isdigit():
            continue
        frames = stack.split(";")
        total += int(count)
        if "select (selectors.py" in frames[-1] or "_run_once" in frames[-1]:
            idle += int(count)
            continue
        leaf[frames[-1]] += int(count)
        for frame in set(frames):
            # The middleware wraps every request: leave it out, so what remains is where time went.
            if ("(app/" in frame or ".html" in frame) and not any(
                skip in frame for skip in ("(app/cli/", "middleware.py")
            ):
                inclusive[frame] += int(count)
    # py-spy leaves out idle threads' samples: what it kept over what it took is the busy share.
    out = [
        f"{total} samples of {expected:.0f} ({total / max(1, expected):.0%} busy),"
        f" of which the event loop's own {idle / max(1, total):.0%}"
    ]
    top = sorted(inclusive.items(), key=lambda kv: -kv[1])[:n]
    out += [f"  {c / max(1, total):5.1%} in  {f[:120]}" for f, c in top]
    out += [
        f"  {c / max(1, total):5.1%} self {f[:120]}"
        for f, c in sorted(leaf.items(), key=lambda kv: -kv[1])[:n]
    ]
    return out


async def open_tokens(url: str) -> dict[int, list[str]]:
    rows = await query(
        url, "SELECT owner_id, token FROM hooks WHERE status = 'waiting' ORDER BY random()"
    )
    tokens: dict[int, list[str]] = defaultdict(list)
    for row in rows:
        tokens[row["owner_id"]].append(row["token"])
    return tokens


async def decision_to_next_step(url: str, since_s: float) -> list[float]:
    rows = await query(
        url,
        """
        SELECT extract(epoch FROM s.started_at - h.decided_at) * 1000 AS ms FROM hooks h
        JOIN run_steps s ON s.run_id = h.run_id AND s.name = 'after'
        WHERE h.decided_at > now() - make_interval(secs => %s) AND h.action = 'approve'""",
        (since_s,),
    )
    return [float(r["ms"]) for r in rows]


# What /metrics read on every scrape before sql/0087 (every run, every journal row, every hook).
METRICS_BEFORE = (
    "SELECT status, count(*) FROM runs GROUP BY status",
    "SELECT count(*) FILTER (WHERE duration_ms / 1000.0 <= 0.1), count(*), sum(duration_ms) "
    "FROM run_steps WHERE kind = 'step' AND status = 'completed' AND duration_ms IS NOT NULL",
    "SELECT count(*) FILTER (WHERE decided_at - created_at <= interval '1 hour'), count(*) "
    "FROM hooks WHERE status = 'resolved'",
)


async def metrics_cost(url: str, base: str) -> str:
    """Milliseconds of a /metrics scrape now (median of 5, after the first that folds) beside the
    full-table counts it used to run, on the same database."""
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        t0 = time.perf_counter()
        assert (await client.get("/metrics")).status_code == 200
        first = (time.perf_counter() - t0) * 1000
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            await client.get("/metrics")
            times.append((time.perf_counter() - t0) * 1000)
    before = []
    for _ in range(3):
        t0 = time.perf_counter()
        for sql in METRICS_BEFORE:
            await query(url, sql)
        before.append((time.perf_counter() - t0) * 1000)
    return (
        f"/metrics scrape {pct(times, 50):.1f} ms (first, folding every seeded run: {first:.0f} ms); "
        f"the pre-0087 full counts alone {pct(before, 50):.1f} ms"
    )


# The interactive pages timed at a low rate on the seeded database (`pages`): as the admin, an
# enterprise user with a share of the finished runs and of the waiting ones.
PAGES = {
    "landing (/ -> /chat)": "/",
    "workflows dashboard": "/workflows",
    "run page": None,  # one of the admin's finished runs, from the dashboard
    "inbox": "/approvals",
    "admin analytics 30 days": "/admin?days=30",
    "admin analytics 365 days": "/admin?days=365",
}


async def page_latencies(base: str, admin: dict, samples: int, gap_s: float = 0.5) -> None:
    """Each page `samples` times, one request at a time `gap_s` apart (about 2 requests/s), after
    one unmeasured request (templates and plans warm): p50/p95 with the load average."""
    person = Person(base, admin, 0)
    try:
        await person.log_in()
        runs = RUN_LINK.findall((await person.client.get("/workflows")).text)
        for name, path in PAGES.items():
            path = path or f"/workflows/{runs[0]}"
            answer = await person.client.get(path, follow_redirects=True)
            assert answer.status_code == 200, f"{path} answered {answer.status_code}"
            load = os.getloadavg()[0]
            times = []
            for _ in range(samples):
                t0 = time.monotonic()
                answer = await person.client.get(path, follow_redirects=True)
                times.append((time.monotonic() - t0) * 1000)
                assert answer.status_code == 200, f"{path} answered {answer.status_code}"
                await asyncio.sleep(gap_s)
            print(
                f"    {name:<26} {path:<50} p50 {pct(times, 50):7.1f}  p95 {pct(times, 95):7.1f} ms"
                f"  ({samples} at ~{1 / gap_s:g}/s; load average {load:.1f} -> {os.getloadavg()[0]:.1f})"
            )
    finally:
        await person.close()


def line(kind: str, values: list[float], errors: int, seconds: float) -> str:
    if not values:
        return f"    {kind:<22} -"
    return (
        f"    {kind:<22} {len(values) / seconds:6.1f}/s  p50 {pct(values, 50):7.1f}  p95 {pct(values, 95):7.1f}"
        f"  p99 {pct(values, 99):7.1f} ms  errors {errors}"
    )


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", choices=list(SCALES), default="smoke")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--web", type=int, default=1, help="baton serve processes")
    parser.add_argument("--rates", type=float, nargs="+", help="stages' offered req/s")
    # One thing at a time (the knee's cause): a scale's data with another number of people or
    # live pages, or of waiting runs.
    for name in ("users", "finished", "waiting", "sleeping", "live", "stage_s"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, help=f"override the {name}")
    parser.add_argument(
        "--pages",
        action="store_true",
        help="after seeding, time the interactive pages at a low rate instead of the stages",
    )
    parser.add_argument(
        "--hold", action="store_true", help="with --pages: keep everything up afterwards"
    )
    parser.add_argument(
        "--seed",
        choices=list(SEED_BATCH),
        default="set",
        help="finished runs' journals: one statement per batch, or write_step per step",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="sample the (first) web process with py-spy during each stage",
    )
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    cfg = SCALES[args.scale] | ({"rates": args.rates} if args.rates else {}) | {"seed": args.seed}
    if args.pages:
        cfg["pages"] = True
    for name in ("users", "finished", "waiting", "sleeping", "live", "stage_s"):
        if getattr(args, name) is not None:
            cfg[name] = getattr(args, name)
    print(
        f"load test, scale {args.scale}: {cfg}, {args.web} web and {args.workers} worker processes"
    )
    with load_cluster() as cluster:
        print(
            f"PostgreSQL: {cluster.bin}, pg_stat_statements {'on' if cluster.statements else 'unavailable'}"
        )
        return await drive(cluster, cfg, args)


def baton_env(url: str, workdir: Path, **extra: str) -> dict:
    """The environment of the `baton` processes: this cluster, the bench workflows, nothing else."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("BATON_", "DATABASE_URL", "OPENAI_", "SMTP_"))
    }
    env.update(
        {
            "DATABASE_URL": url,
            "BATON_DATA_DIR": str(workdir / "data"),
            "BATON_SECRET_KEY": SECRET_KEY,
            "BATON_WORKFLOW_MODULES": "bench.workflows",
            "PYTHONPATH": str(ROOT),
            "BATON_LOG_FORMAT": "text",
        }
        | extra
    )
    return env


async def drive(cluster: LoadCluster, cfg: dict, args) -> int:
    with psycopg.connect(cluster.url, autocommit=True) as conn:
        conn.execute("CREATE DATABASE load")
    url = cluster.url_for("load")
    apply_migrations(url)
    await query(url, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    workdir = Path(tempfile.mkdtemp(prefix="baton-load-"))
    model = ModelServer().start()
    model.handler = lambda request: Reply(REPLY, delay=1 / TOKENS_PER_S, first_delay=0.3)
    env = baton_env(url, workdir, OPENAI_BASE_URL=model.url, OPENAI_API_KEY="load-test")
    ports = [_free_port() for _ in range(args.web)]
    webs = [
        Proc(
            "web" if args.web == 1 else f"web-{i + 1}",
            ["serve", "--no-worker", "--port", str(port)],
            env,
            workdir,
        )
        for i, port in enumerate(ports)
    ]
    workers = [
        Proc(f"worker-{i + 1}", ["worker", "--concurrency", "8"], env, workdir)
        for i in range(args.workers)
    ]
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    base = bases[0]
    stop_live = asyncio.Event()
    people: list[Person] = []
    live: list[asyncio.Task] = []
    try:
        for proc in [*webs, *workers]:
            proc.start()
        for web, address in zip(webs, bases, strict=True):
            await wait_up(address, url, web, len(workers))
        if cluster.statements:
            idle_before, _ = await idle_queries(url, cfg["idle_s"])
            print(f"idle statements/s, empty database: {idle_before:.1f}")

        t0 = time.perf_counter()
        seeded = await seed(url, cfg)
        await wait_for_suspended(url)
        print(
            f"seeded in {time.perf_counter() - t0:.0f} s ({cfg['finished']} finished runs x 20 steps in "
            f"{seeded['finished_s']:.0f} s; {cfg['waiting']} waiting, {cfg['sleeping']} sleeping)"
        )
        sizes = (
            await query(
                url,
                """
            SELECT (SELECT count(*) FROM runs WHERE status = 'completed') AS runs,
                   (SELECT count(*) FROM run_steps) AS steps,
                   pg_total_relation_size('runs') + pg_total_relation_size('run_steps')
                   + pg_total_relation_size('run_event_rows') + pg_total_relation_size('hooks') AS bytes""",
            )
        )[0]
        print(
            f"storage: {sizes['bytes'] / max(1, sizes['runs']):,.0f} B per finished run, "
            f"{sizes['bytes'] / max(1, sizes['steps']):,.0f} B per step (runs, journal, events, hooks, indexes)"
        )
        # Seeded runs finished seconds ago; /metrics folds runs finished over a minute ago.
        await query(
            url,
            "UPDATE runs SET completed_at = completed_at - interval '2 minutes' WHERE status = 'completed'",
        )
        await query(url, "VACUUM ANALYZE")
        print(await metrics_cost(url, base))
        await wait_jobs_done(
            url, cfg["idle_s"] * 6
        )  # the seeding's own aftermath (approval mails, wake-ups) is not idle
        if cluster.statements:
            idle_after, busiest = await idle_queries(url, cfg["idle_s"])
            print(
                f"idle statements/s, seeded: {idle_after:.1f}; busiest in {cfg['idle_s']} s: "
                + "; ".join(f"{r['calls']}x {r['q']}" for r in busiest[:4])
            )

        if cfg.get("pages"):
            await page_latencies(base, seeded["users"][0], cfg.get("page_samples", 30))
            if args.hold:
                # The seeded cluster and processes stay up (EXPLAIN ANALYZE, a migration, the pages
                # again) until this file is created.
                stop = workdir / "stop"
                print(f"holding: database {url}, web {base}; touch {stop} to end", flush=True)
                while not stop.exists():
                    await asyncio.sleep(1)
            return 0

        # Each person on one web process (as a sticky load balancer would: chat replies stream from
        # the process that started them).
        people = [Person(bases[n % len(bases)], user, n) for n, user in enumerate(seeded["users"])]
        # A few at a time: each log-in is an argon2 hash (~0.1-0.5 s of CPU); 200 at once took over
        # 30 s on the busy machine, and people do not all log in in the same second.
        gate = asyncio.Semaphore(4)

        async def log_in(person: Person) -> None:
            async with gate:
                await person.log_in()

        t0 = time.perf_counter()
        await asyncio.gather(*(log_in(p) for p in people))
        print(f"{len(people)} log-ins, 4 at a time: {time.perf_counter() - t0:.1f} s")
        watched = people[: max(1, min(len(people), cfg["live"] // 4 or 1))]
        live = [
            asyncio.create_task(watched[i % len(watched)].open_live_page(stop_live))
            for i in range(cfg["live"])
        ]
        tokens = await open_tokens(url)
        procs = {**{w.name: w for w in webs}, **{w.name: w for w in workers}}
        knee = None
        previous = None
        for rate in cfg["rates"]:
            stage = Stage(rate)
            before = {name: cpu_split(p.proc.pid) for name, p in procs.items()}
            client_before = cpu_rss(os.getpid())
            load_before = os.getloadavg()[0]
            if cluster.statements:
                await query(url, "SELECT pg_stat_statements_reset()")
            spy = None
            if args.profile and (command := py_spy()):
                profile = workdir / f"web-{rate:g}.txt"
                spy = await asyncio.create_subprocess_exec(
                    *command,
                    "record",
                    "--pid",
                    str(webs[0].proc.pid),
                    "--duration",
                    str(int(cfg["stage_s"])),
                    "--rate",
                    "50",
                    "--format",
                    "raw",
                    "--nonblocking",
                    "--output",
                    str(profile),
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            [lsn] = await query(
                url, "SELECT pg_current_wal_lsn() AS lsn, (SELECT count(*) FROM run_steps) AS steps"
            )
            await run_stage(stage, people, tokens, cfg["stage_s"])
            seconds = stage.ended_at - stage.started_at
            statements = await stage_statements(url) if cluster.statements else None
            await asyncio.sleep(2.5)  # decisions' next steps and the live pages' last events
            [wal] = await query(
                url,
                "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s::pg_lsn) AS bytes, "
                "(SELECT count(*) FROM run_steps) AS steps",
                (str(lsn["lsn"]),),
            )
            steps = wal["steps"] - lsn["steps"]
            resumed = await decision_to_next_step(url, seconds + 3)
            print(
                f"stage {rate:g} req/s offered for {seconds:.0f} s (open loop), {cfg['live']} live "
                f"pages, load average {load_before:.1f} -> {os.getloadavg()[0]:.1f}:"
            )
            for kind in [*MIX, *CHAT_FIGURES]:
                print(line(kind, stage.latencies[kind], stage.errors[kind], seconds))
            for kind, answers in stage.failures.items():
                print(f"    failed {kind}: {', '.join(answers[:10])}")
            print(line("decision -> next step", resumed, 0, seconds))
            print(line("live event lateness", stage.lateness, 0, seconds))
            print(
                f"    steps {steps / seconds:.1f}/s, WAL {float(wal['bytes']) / max(1, steps):,.0f} B per step "
                "(everything written: runs, events, sessions, jobs)"
            )
            for name, p in procs.items():
                user, system, rss = cpu_split(p.proc.pid)
                user, system = user - before[name][0], system - before[name][1]
                print(
                    f"    {name:<10} CPU {(user + system) / seconds:5.0%} (user {user / seconds:.0%}, "
                    f"system {system / seconds:.0%})  RSS {rss / 2**20:6.0f} MB"
                )
            client, client_rss = cpu_rss(os.getpid())
            print(
                f"    {'this client':<10} CPU {(client - client_before[0]) / seconds:5.0%}  RSS "
                f"{client_rss / 2**20:6.0f} MB (the load generator, one Python process)"
            )
            if statements:
                spent, top = statements
                print(
                    f"    database: {spent:,.0f} ms of statements in the stage "
                    f"({spent / seconds / 10:.0f} % of one core); top by total time:"
                )
                for r in top:
                    print(
                        f"      {r['ms']:8.0f} ms {r['calls']:6d}x {r['ms'] / max(1, r['calls']):6.2f} ms"
                        f"  {r['q']}"
                    )
            if spy:
                await asyncio.wait_for(spy.wait(), 30)
                print("    web process profile (py-spy):")
                for row in profile_summary(profile, 50 * int(cfg["stage_s"])):
                    print(f"      {row}")
            dash = stage.latencies["dashboard"]
            if (dash and pct(dash, 99) > 1000) or (resumed and pct(resumed, 99) > 1000):
                knee = rate
                break
            previous = rate
        errors = sum(sum(s.errors.values()) for s in [stage])
        print(
            f"knee: {'p99 passed 1 s at ' + format(knee, 'g') + ' req/s, the stage before: ' + format(previous or 0, 'g') + ' req/s' if knee else 'not reached'}"
            f" (rates tried: {cfg['rates']}); errors in the last stage: {errors}; load average {os.getloadavg()}"
        )
        return 1 if errors and not knee else 0
    finally:
        stop_live.set()
        for task in live:
            task.cancel()
        for p in people:
            await p.close()
        for proc in [*webs, *workers]:
            proc.stop()
        model.stop()


async def wait_up(base: str, url: str, web: Proc, n_workers: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=2) as client:
        while time.monotonic() < deadline:
            if not web.alive:
                raise RuntimeError(f"the web process exited:\n{web.tail()}")
            try:
                up = (await client.get(f"{base}/healthz")).status_code == 200
            except httpx.TransportError:
                up = False
            if up and len(await query(url, "SELECT id FROM procrastinate_workers")) >= n_workers:
                return
            await asyncio.sleep(0.3)
    raise RuntimeError("baton serve / baton worker did not come up")


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
