"""Chaos soak: workflows keep their results while workers, the web process and Postgres are killed.

    uv run python bench/chaos.py                      # the long run: 15 min, a kill every 3-8 s, a Postgres restart every ~3 min
    uv run python bench/chaos.py --duration 120 ...   # see --help

It owns everything it runs: a throwaway Postgres cluster (tests/support/pg_cluster.py: initdb +
pg_ctl on a free port, never the machine's shared server), `baton worker` processes, a
`baton serve --no-worker` web process and a local publishing receiver, all on 127.0.0.1. For a set
time it starts a mix of runs:

- `selftest` with steps, a retried step, a durable sleep and a fan-out;
- `selftest` with an approval, decided by a simulated person through the real HTTP routes (log in,
  open the inbox, open the review page, POST the decision with its CSRF token);
- `chaos-fan-out`: a fan-out under a rate limit shared by every run (bench/chaos_workflows.py);
- `chaos-publish`: posts published through a webhook connector with the step's idempotency key to
  a receiver that honours it (tests/integration/publishing/receiver.py);

while a chaos loop SIGKILLs a random worker every few seconds (restarting it after a random delay,
sometimes never, always keeping one alive), SIGKILLs and restarts the web process, and restarts
Postgres (`pg_ctl restart -m fast`, or a stop, a pause and a start). Then it lets the runs finish
and checks, from the database and the receiver: every run completed with the expected output; no
duplicate journal row or fan-out child; every hook decided once, by the person; every post
published once; no job left `doing`; no worker exited by itself. It prints the figures, including
the time from each worker kill to the next progress of each run that worker held, and exits 1 if
an invariant fails. tests/integration/test_chaos_short.py runs a short configuration.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
from psycopg.rows import dict_row

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import app.workflows.catalog  # noqa: E402,F401  (the workflows start_run looks up)
import bench.chaos_workflows  # noqa: E402,F401
from app.core.migrations import apply_migrations  # noqa: E402
from bench.support import BATON, pct  # noqa: E402
from tests.integration.publishing.receiver import Receiver  # noqa: E402
from tests.support.pg_cluster import PgCluster, pg_cluster  # noqa: E402

SECRET_KEY = "chaos-soak-secret-key-0123456789"
RECEIVER_SECRET = "chaos-receiver-secret"
EMAIL, PASSWORD = "person@chaos.test", "correct horse battery staple"
HEARTBEAT_S = (
    5.0  # worker/runner.py: a live worker's heartbeat is never older than this (plus a query)
)
RECOVERY_TARGET_S = (
    45.0  # issue 21 A: stalled-worker timeout (20 s) + one sweep interval (10 s), with margin
)
CSRF = re.compile(r'name="_csrf_token" value="([0-9a-f]+)"')
INBOX_LINK = re.compile(r'href="/approvals/(\d+)"')


@dataclass
class ChaosConfig:
    duration_s: float = 900.0  # chaos and new runs for this long, then the drain
    workers: int = 3
    concurrency: int = 4
    start_every_s: float = 1.0  # one new run this often
    kill_every_s: tuple[float, float] = (3.0, 8.0)
    restart_after_s: tuple[float, float] = (0.5, 8.0)
    never_restart: float = 0.1  # chance that a killed worker stays dead (two stay in rotation)
    web_kill_every_s: float = 60.0
    pg_restart_every_s: float = 180.0
    pg_pause_s: tuple[float, float] = (
        0.0,
        8.0,
    )  # 0: pg_ctl restart; else stop, wait this long, start
    drain_s: float = 240.0  # after the chaos, how long the runs get to finish
    seed: int = 0


# -- the runs: what each kind starts and what it must end with -------------------------------------


def mix(connector_id: int) -> dict[str, tuple[str, dict, dict]]:
    """kind -> (workflow, input, expected output; None where the receiver decides)."""
    return {
        "steps": (
            "selftest",
            {"steps": 8, "step_ms": 150, "fail_attempts": 2, "sleep_s": 2, "fan_out": 5},
            {"steps": 8, "flaky_attempts": 3, "fan_out_sum": sum(i * i for i in range(5))},
        ),
        "hook": (
            "selftest",
            {"steps": 3, "step_ms": 20, "approval": True},
            {"steps": 3, "approved": True},
        ),
        "fan-out": (
            "chaos-fan-out",
            {"items": 8, "hold_ms": 300},
            {"cubes": [i**3 for i in range(8)]},
        ),
        "publish": ("chaos-publish", {"connector_id": connector_id, "posts": 2}, None),
    }


# -- processes ---------------------------------------------------------------------------------------


class Proc:
    """One `baton` process in its own process group (so a SIGKILL takes all of it), logging to a file."""

    def __init__(self, name: str, args: list[str], env: dict, logdir: Path):
        self.name, self.args, self.env, self.log = name, args, env, logdir / f"{name}.log"
        self.proc: subprocess.Popen | None = None
        self.starts = 0
        self.log_from = 0
        self._registered = False

    def start(self) -> None:
        self.log_from = self.log.stat().st_size if self.log.exists() else 0
        with open(self.log, "a") as err:
            err.write(f"--- start {self.starts + 1} at {time.strftime('%H:%M:%S')}\n")
            err.flush()
            self.proc = subprocess.Popen(
                [BATON, *self.args],
                env=self.env,
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=err,
                start_new_session=True,
            )
        self.starts += 1
        self._registered = False

    @property
    def registered(self) -> bool:
        """Alive, and its worker has registered since this start (it logged `worker.running`)."""
        if not self.alive:
            return False
        if not self._registered:
            with open(self.log, "rb") as log:
                log.seek(self.log_from)
                self._registered = b"worker.running" in log.read()
        return self._registered

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def exited_by_itself(self) -> int | None:
        """The exit code of a process that ended without being killed here, else None."""
        return (
            self.proc.returncode if self.proc is not None and self.proc.poll() is not None else None
        )

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None

    def stop(self) -> None:
        """SIGTERM, then SIGKILL of the group after a while."""
        if self.proc is not None and self.proc.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
        self.proc = None

    def tail(self, n: int = 15) -> str:
        return (
            "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
            if self.log.exists()
            else ""
        )


# -- the soak ----------------------------------------------------------------------------------------


@dataclass
class Recovery:
    """One chaos event and how long each run it interrupted took to make progress again."""

    kind: str  # worker | postgres
    at: float  # epoch seconds: the kill, or Postgres accepting connections again
    waits: dict[str, float | None] = field(
        default_factory=dict
    )  # run id -> seconds to next progress


@dataclass
class Report:
    runs: dict[str, str] = field(default_factory=dict)  # run id -> kind
    kills: Counter = field(default_factory=Counter)
    recoveries: list[Recovery] = field(default_factory=list)
    unexpected_exits: list[str] = field(default_factory=list)
    decisions: Counter = field(default_factory=Counter)  # HTTP outcome -> count
    decided_ok: Counter = field(default_factory=Counter)  # hook id -> 303s the person got
    person_errors: int = 0
    unmeasured: Counter = field(
        default_factory=Counter
    )  # worker kills whose runs could not be told apart: why
    start_errors: int = 0
    deliveries: int = 0
    problems: list[str] = field(default_factory=list)
    figures: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0


class Soak:
    def __init__(
        self, config: ChaosConfig, cluster: PgCluster, url: str, rx: Receiver, workdir: Path
    ):
        self.cfg, self.cluster, self.url, self.rx, self.dir = config, cluster, url, rx, workdir
        self.rng = random.Random(config.seed)
        self.report = Report()
        self.chaos_over = asyncio.Event()
        self.all_over = asyncio.Event()
        self.trackers: list[asyncio.Task] = []
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
                "BATON_WORKFLOW_MODULES": "bench.chaos_workflows",
                "PYTHONPATH": str(ROOT),
                "BATON_LOG_FORMAT": "text",
                # The receiver is on loopback; an admin allowlist lets connectors reach it.
                "BATON_CONNECTOR_ALLOW": "127.0.0.1/32",
            }
        )
        self.workers = [
            Proc(
                f"worker-{i + 1}",
                ["worker", "--concurrency", str(config.concurrency)],
                env,
                workdir,
            )
            for i in range(config.workers)
        ]
        self.web_port = _free_port()
        self.web = Proc("web", ["serve", "--no-worker", "--port", str(self.web_port)], env, workdir)
        self.web_url = f"http://127.0.0.1:{self.web_port}"
        self.down: set[str] = set()  # workers killed here and not restarted yet
        self.retired: set[str] = set()  # workers killed here for good
        self.known_dead: set[int] = set()  # worker ids whose process a kill ended
        self.attributing = asyncio.Lock()
        self.pg_outages: list[
            tuple[float, float]
        ] = []  # epoch seconds: stop begun, accepting again

    # -- database helpers: a fresh connection each time, retried through Postgres restarts ---------
    async def q(
        self, sql: str, params: dict | tuple = (), *, patience_s: float = 120.0
    ) -> list[dict]:
        deadline = time.monotonic() + patience_s
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self.url, row_factory=dict_row, autocommit=True, connect_timeout=3
                ) as conn:
                    cur = await conn.execute(sql, params)
                    return await cur.fetchall() if cur.description else []
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)

    # -- setup ------------------------------------------------------------------------------------
    async def setup(self) -> tuple[int, int]:
        from app.core.secrets_box import SecretBox
        from app.steps.publishers.connectors import ConnectorForm, create_connector
        from app.web.auth.accounts import create_account
        from app.web.auth.passwords import hash_password

        async with await psycopg.AsyncConnection.connect(
            self.url, row_factory=dict_row, autocommit=True
        ) as conn:
            user = await create_account(
                conn,
                EMAIL,
                await hash_password(PASSWORD),
                tier="enterprise",
                is_admin=True,
                explicit_tier=True,
            )
            connector, _ = await create_connector(
                conn,
                SecretBox(SECRET_KEY),
                user.id,
                ConnectorForm(
                    kind="webhook", name="receiver", url=self.rx.url, secret=RECEIVER_SECRET
                ),
            )
        return user.id, connector["id"]

    async def start_processes(self) -> None:
        for proc in [*self.workers, self.web]:
            proc.start()
        await self.wait_web()
        deadline = time.monotonic() + 90  # imports and registration, on a busy machine
        while len(await self.q("SELECT id FROM procrastinate_workers")) < len(self.workers):
            for proc in self.workers:
                if not proc.alive:
                    raise RuntimeError(f"{proc.name} exited at start:\n{proc.tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError("the workers did not register within 90 s")
            await asyncio.sleep(0.2)

    async def wait_web(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=2) as client:
            while time.monotonic() < deadline:
                if not self.web.alive:
                    raise RuntimeError(f"the web process exited:\n{self.web.tail()}")
                with suppress(httpx.TransportError):
                    if (await client.get(f"{self.web_url}/healthz")).status_code == 200:
                        return
                await asyncio.sleep(0.2)
        raise RuntimeError(f"the web process did not answer within {timeout} s:\n{self.web.tail()}")

    # -- load: new runs, and a person deciding hooks ------------------------------------------------
    async def starter(self, user: int, connector_id: int) -> None:
        from app.engine.commands import start_run

        kinds = mix(connector_id)
        names = list(kinds)
        end = time.monotonic() + self.cfg.duration_s
        n = 0
        while time.monotonic() < end:
            kind = names[n % len(names)]
            workflow, inp, _ = kinds[kind]
            try:
                async with (
                    await psycopg.AsyncConnection.connect(
                        self.url, row_factory=dict_row, autocommit=True, connect_timeout=3
                    ) as conn,
                    conn.transaction(),
                ):
                    run, _ = await start_run(conn, owner_id=user, workflow=workflow, input=inp)
                self.report.runs[str(run.id)] = kind
                n += 1
            except psycopg.OperationalError:
                self.report.start_errors += (
                    1  # Postgres is restarting: a client would try again, so do we
                )
            await asyncio.sleep(self.cfg.start_every_s)

    async def person(self) -> None:
        """Decides every waiting approval through the web process, as someone at a browser would: it
        does not know whether a POST cut off by a kill took effect, so it opens the page again and
        decides again if it still asks (the second POST then finds it decided and gets a 409)."""
        async with httpx.AsyncClient(base_url=self.web_url, timeout=10) as client:
            logged_in = False
            while not self.all_over.is_set():
                try:
                    if not logged_in:
                        client.cookies.clear()
                        page = await client.get("/login")
                        done = await client.post(
                            "/login",
                            data={
                                "email": EMAIL,
                                "password": PASSWORD,
                                "_csrf_token": _csrf(page.text),
                            },
                        )
                        if done.status_code != 303:
                            raise RuntimeError(f"log-in answered {done.status_code}")
                        logged_in = True
                    inbox = await client.get("/approvals")
                    if inbox.is_redirect:  # to /login: the session is gone
                        logged_in = False
                    if inbox.status_code != 200:
                        raise RuntimeError(f"the inbox answered {inbox.status_code}")
                    for hook_id in dict.fromkeys(INBOX_LINK.findall(inbox.text)):
                        review = await client.get(f"/approvals/{hook_id}")
                        if review.status_code != 200 or "_csrf_token" not in review.text:
                            continue
                        if 'action="/approvals/' not in review.text:
                            continue  # already decided: the page shows the decision, not the form
                        answer = await client.post(
                            f"/approvals/{hook_id}",
                            data={
                                "_csrf_token": _csrf(review.text),
                                "view": "page",
                                "action": "approve",
                            },
                        )
                        self.report.decisions[answer.status_code] += 1
                        if answer.status_code == 303:
                            self.report.decided_ok[hook_id] += 1
                except (httpx.TransportError, RuntimeError):
                    self.report.person_errors += (
                        1  # the web process (or Postgres) is down or restarting
                    )
                    await asyncio.sleep(0.5)
                await asyncio.sleep(0.3)

    # -- chaos ----------------------------------------------------------------------------------------
    async def chaos(self) -> None:
        cfg, rng = self.cfg, self.rng
        start = time.monotonic()
        end = start + cfg.duration_s
        next_kill = start + rng.uniform(*cfg.kill_every_s)
        next_web = start + cfg.web_kill_every_s * rng.uniform(0.5, 1.0)
        next_pg = start + cfg.pg_restart_every_s * rng.uniform(0.5, 1.0)
        restarts: dict[str, float] = {}  # worker name -> when to start it again
        while time.monotonic() < end:
            now = time.monotonic()
            for proc in self.workers:
                code = proc.exited_by_itself()
                if code is not None and proc.name not in self.down:
                    self.report.unexpected_exits.append(
                        f"{proc.name} exited with {code}:\n{proc.tail()}"
                    )
                    proc.start()
            for name, when in list(restarts.items()):
                if now >= when:
                    self._worker(name).start()
                    self.down.discard(name)
                    del restarts[name]
            if now >= next_kill and await self.kill_worker(restarts):
                next_kill = now + rng.uniform(*cfg.kill_every_s)
            if now >= next_web:
                await self.kill_web()
                next_web = time.monotonic() + cfg.web_kill_every_s * rng.uniform(0.7, 1.3)
            if now >= next_pg:
                await self.restart_postgres()
                next_pg = time.monotonic() + cfg.pg_restart_every_s * rng.uniform(0.7, 1.3)
            await asyncio.sleep(0.1)
        for name in list(restarts):  # a pending restart still happens; the retired stay dead
            self._worker(name).start()
            self.down.discard(name)
        self.chaos_over.set()

    def _worker(self, name: str) -> Proc:
        return next(p for p in self.workers if p.name == name)

    async def in_flight(self) -> list[dict]:
        """Runs with a job being executed now, the worker executing it, and the run's progress mark."""
        return await self.q(
            "SELECT j.args->>'run_id' AS run_id, j.worker_id, " + PROGRESS + " AS mark "
            "FROM procrastinate_jobs j JOIN runs r ON r.id::text = j.args->>'run_id' "
            "WHERE j.status = 'doing'",
            patience_s=30,
        )

    async def kill_worker(self, restarts: dict[str, float]) -> bool:
        """Kill a worker that runs (a crash), or one still starting (a crash at start-up), but
        never the last one running: the guarantee measured is that a live worker takes over."""
        alive = [p for p in self.workers if p.alive and p.name not in self.down]
        running = [p for p in alive if p.registered]
        candidates = running if len(running) >= 2 else [p for p in alive if not p.registered]
        if not candidates:
            return False  # the caller tries again at its next tick
        victim = self.rng.choice(candidates)
        at = time.time()
        victim.kill()
        self.down.add(victim.name)
        self.report.kills["worker"] += 1
        # Two workers always stay in rotation, so that one can be killed while the other runs.
        if len(self.retired) < len(self.workers) - 2 and self.rng.random() < self.cfg.never_restart:
            self.retired.add(victim.name)
            self.report.kills["worker (never restarted)"] += 1
        else:
            restarts[victim.name] = time.monotonic() + self.rng.uniform(*self.cfg.restart_after_s)
        # Read after the kill: the dead worker's jobs stay `doing` under its id and its runs are
        # frozen (its open transactions were rolled back), so their marks are those at the kill.
        try:
            held = await self.in_flight()
            beats = await self.heartbeats()
        except psycopg.OperationalError:
            self.report.unmeasured["Postgres down at the kill"] += 1
            return True
        self.trackers.append(asyncio.create_task(self.track_worker_kill(at, held, beats)))
        return True

    async def heartbeats(self) -> dict[int, float]:
        rows = await self.q(
            "SELECT id, extract(epoch FROM last_heartbeat)::float8 AS beat FROM procrastinate_workers",
            patience_s=10,
        )
        return {r["id"]: r["beat"] for r in rows}

    async def track_worker_kill(self, at: float, held: list[dict], beats: dict[int, float]) -> None:
        """Which worker id the killed process had: the one whose heartbeat stopped (a live worker's
        moves every 5 s) and that no earlier kill explains. Then how long each run it held took to
        progress again. Kills next to a Postgres restart (every incarnation re-registers) are not
        measured."""
        await asyncio.sleep(HEARTBEAT_S + 3)
        async with self.attributing:  # in the order of the kills
            later = await self.heartbeats()
            # Only ids that were beating up to the kill: older ones are incarnations a Postgres
            # restart or an earlier kill ended.
            stopped = {
                w
                for w, beat in beats.items()
                if later.get(w, 0) <= beat and beat >= at - HEARTBEAT_S - 2
            }
            new = stopped - self.known_dead
            self.known_dead |= stopped
        if any(
            start - 1 <= at + HEARTBEAT_S + 3 and end >= at - 1 for start, end in self.pg_outages
        ):
            self.report.unmeasured["next to a Postgres restart"] += 1
            return
        if (
            not new
        ):  # killed before it registered (a worker takes seconds to start here): it held nothing
            self.report.unmeasured["killed while starting"] += 1
            return
        if (
            len(new) > 1
        ):  # a live worker's heartbeat was late too: cannot tell which runs were the victim's
            self.report.unmeasured["two heartbeats stopped"] += 1
            return
        mine = [h for h in held if h["worker_id"] in new]
        rec = Recovery("worker", at)
        self.report.recoveries.append(rec)
        await self.wait_progress(rec, {h["run_id"]: h["mark"] for h in mine})

    async def wait_progress(self, rec: Recovery, marks: dict[str, float]) -> None:
        """Poll the runs' progress marks until each one moves past its mark and the event (or the
        soak is over)."""
        marks = {run_id: max(mark, rec.at) for run_id, mark in marks.items()}
        for run_id in marks:
            rec.waits[run_id] = None
        while marks and not self.all_over.is_set():
            rows = await self.q(
                "SELECT r.id::text AS run_id, " + PROGRESS + " AS mark, "
                "extract(epoch FROM r.completed_at)::float8 AS ended FROM runs r "
                "WHERE r.id::text = ANY(%(ids)s)",
                {"ids": list(marks)},
            )
            for row in rows:
                if (
                    row["ended"] is not None and row["ended"] <= rec.at
                ):  # finished before the restart
                    del rec.waits[row["run_id"]], marks[row["run_id"]]
                elif row["mark"] > marks[row["run_id"]]:
                    rec.waits[row["run_id"]] = max(0.0, row["mark"] - rec.at)
                    del marks[row["run_id"]]
            await asyncio.sleep(0.25)

    async def kill_web(self) -> None:
        self.web.kill()
        self.report.kills["web"] += 1
        await asyncio.sleep(self.rng.uniform(0.2, 3.0))
        self.web.start()
        with suppress(
            RuntimeError
        ):  # a slow start is retried by the person; a dead one is checked at the end
            await self.wait_web()

    async def restart_postgres(self) -> None:
        try:
            held = await self.in_flight()
        except psycopg.OperationalError:
            held = []
        pause = self.rng.uniform(*self.cfg.pg_pause_s)
        began = time.time()
        if pause < 1.0:
            await asyncio.to_thread(self.cluster.restart)
        else:
            await asyncio.to_thread(self.cluster.stop)
            await asyncio.sleep(pause)
            await asyncio.to_thread(self.cluster.start)
        self.report.kills["postgres"] += 1
        rec = Recovery("postgres", time.time())
        self.pg_outages.append((began, rec.at))
        self.report.recoveries.append(rec)
        if held:
            self.trackers.append(
                asyncio.create_task(self.wait_progress(rec, {h["run_id"]: h["mark"] for h in held}))
            )

    # -- the end: drain, then check -------------------------------------------------------------------
    async def drain(self) -> None:
        if not any(p.alive for p in self.workers):
            self.workers[0].start()
        deadline = time.monotonic() + self.cfg.drain_s
        ids = list(self.report.runs)
        while time.monotonic() < deadline:
            rows = await self.q(
                "SELECT count(*) AS n FROM runs WHERE id::text = ANY(%(ids)s) "
                "AND status NOT IN ('completed', 'failed', 'cancelled')",
                {"ids": ids},
            )
            if rows[0]["n"] == 0:
                break
            await asyncio.sleep(0.5)
        # Let the trackers read the last progress marks.
        await asyncio.sleep(1.0)

    async def check(self, expected: dict) -> None:
        rep, ids = self.report, list(self.report.runs)
        problem = rep.problems.append
        runs = await self.q(
            "SELECT id::text AS id, status, output, error, waiting_for FROM runs "
            "WHERE id::text = ANY(%(ids)s)",
            {"ids": ids},
        )
        by_status = Counter(r["status"] for r in runs)
        wrong = []
        for r in runs:
            kind = rep.runs[r["id"]]
            want = expected[kind]
            if r["status"] != "completed":
                wrong.append(
                    f"{kind} run {r['id']} is {r['status']} ({r['waiting_for'] or r['error']})"
                )
            elif want is not None and r["output"] != want:
                wrong.append(f"{kind} run {r['id']} output {r['output']} != {want}")
        if len(runs) != len(ids):
            problem(f"{len(ids) - len(runs)} started runs are missing from the database")
        for w in wrong[:10]:
            problem(w)
        if len(wrong) > 10:
            problem(f"... and {len(wrong) - 10} more runs not completed right")

        dup = await self.q(
            "SELECT count(*) AS n FROM (SELECT run_id, name FROM run_steps WHERE run_id::text = ANY(%(ids)s) "
            "GROUP BY run_id, name HAVING count(*) > 1) d",
            {"ids": ids},
        )
        gaps = await self.q(
            "SELECT count(*) AS n FROM (SELECT run_id FROM run_steps WHERE run_id::text = ANY(%(ids)s) "
            "GROUP BY run_id HAVING count(*) <> max(seq) + 1) g",
            {"ids": ids},
        )
        unfinished = await self.q(
            "SELECT count(*) AS n FROM run_steps WHERE run_id::text = ANY(%(ids)s) "
            "AND status <> 'completed'",
            {"ids": [r["id"] for r in runs if r["status"] == "completed"]},
        )
        children = await self.q(
            "SELECT count(*) FILTER (WHERE status <> 'completed') AS open, count(*) AS n "
            "FROM run_children WHERE run_id::text = ANY(%(ids)s)",
            {"ids": ids},
        )
        journal_rows = await self.q(
            "SELECT count(*) AS n FROM run_steps WHERE run_id::text = ANY(%(ids)s)", {"ids": ids}
        )
        if dup[0]["n"]:
            problem(f"{dup[0]['n']} runs have the same journal entry twice")
        if gaps[0]["n"]:
            problem(f"{gaps[0]['n']} runs have a gap or a repeat in their journal's positions")
        if unfinished[0]["n"]:
            problem(f"{unfinished[0]['n']} journal entries of completed runs are not completed")
        if children[0]["open"]:
            problem(f"{children[0]['open']} fan-out children are not completed")

        hook_runs = [i for i, k in rep.runs.items() if k == "hook"]
        hooks = await self.q(
            "SELECT h.id, h.run_id::text AS run_id, h.status, h.action, h.decided_by FROM hooks h "
            "WHERE h.run_id::text = ANY(%(ids)s)",
            {"ids": ids},
        )
        per_run = Counter(h["run_id"] for h in hooks)
        bad_hooks = [
            h
            for h in hooks
            if (h["status"], h["action"], h["decided_by"]) != ("resolved", "approve", EMAIL)
        ]
        if bad_hooks:
            problem(f"{len(bad_hooks)} hooks not decided by the person, e.g. {bad_hooks[0]}")
        if any(per_run[r] != 1 for r in hook_runs) or len(hooks) != len(hook_runs):
            problem(
                f"hooks per approval run are not exactly one: {len(hooks)} hooks for {len(hook_runs)} runs"
            )
        twice = [h for h, n in rep.decided_ok.items() if n > 1]
        if twice:
            problem(
                f"{len(twice)} hooks accepted a decision twice over HTTP (e.g. hook {twice[0]})"
            )

        publish_runs = [
            r for r in runs if rep.runs[r["id"]] == "publish" and r["status"] == "completed"
        ]
        journaled = [p for r in publish_runs for p in r["output"]["published"]]
        published = dict(self.rx.published)
        rep.deliveries = len(self.rx.deliveries)
        keys = Counter(p["key"] for p in journaled)
        if any(n > 1 for n in keys.values()):
            problem("two journaled publishes share an idempotency key")
        missing = [
            p
            for p in journaled
            if p["key"] not in published or published[p["key"]]["id"] != p["remote_id"]
        ]
        if missing:
            problem(
                f"{len(missing)} journaled publishes do not match what the receiver published, e.g. {missing[0]}"
            )
        extra = set(published) - set(keys)
        if extra:
            problem(f"the receiver published {len(extra)} posts no completed run journaled")
        if len(publish_runs) * 2 != len(journaled):
            problem(f"{len(journaled)} publishes journaled for {len(publish_runs)} runs of 2 posts")
        if self.rx.bad_signatures:
            problem(f"{self.rx.bad_signatures} publishes reached the receiver with a bad signature")

        doing = await self.q(
            "SELECT count(*) AS n FROM procrastinate_jobs WHERE status = 'doing' "
            "AND (args->>'run_id' = ANY(%(ids)s) OR worker_id IS NULL OR worker_id NOT IN "
            "(SELECT id FROM procrastinate_workers WHERE last_heartbeat > now() - interval '20 seconds'))",
            {"ids": ids},
        )
        if doing[0]["n"]:
            problem(f"{doing[0]['n']} jobs left `doing` (of a finished run, or of a dead worker)")
        for exit_ in rep.unexpected_exits:
            problem(f"a worker exited by itself: {exit_}")
        if not self.web.alive:
            problem(f"the web process is not running at the end:\n{self.web.tail()}")

        waits = [w for rec in rep.recoveries if rec.kind == "worker" for w in rec.waits.values()]
        stuck = sum(1 for w in waits if w is None)
        if stuck:
            problem(f"{stuck} runs held by a killed worker never progressed again")
        pg_waits = [
            w for rec in rep.recoveries if rec.kind == "postgres" for w in rec.waits.values()
        ]
        if any(w is None for w in pg_waits):
            problem(
                f"{sum(w is None for w in pg_waits)} runs in flight at a Postgres restart never progressed again"
            )

        out = rep.figures.append
        out(f"chaos: {rep.elapsed_s:.0f} s; kills: {dict(rep.kills)}")
        out(
            f"runs started: {len(ids)} ({dict(Counter(rep.runs.values()))}); "
            f"by status: {dict(by_status)}; wrong or unfinished: {len(wrong)}"
        )
        out(
            f"journal: {journal_rows[0]['n']} entries, {dup[0]['n']} duplicated, {gaps[0]['n']} runs with gaps; "
            f"fan-out children: {children[0]['n']}, {children[0]['open']} not completed"
        )
        out(
            f"hooks: {len(hooks)} for {len(hook_runs)} approval runs, {len(bad_hooks)} not decided once by the person; "
            f"decision POSTs by answer: {dict(rep.decisions)}; person's transport errors: {rep.person_errors}"
        )
        out(
            f"publishing: {len(journaled)} journaled, {len(published)} published at the receiver, "
            f"{rep.deliveries} calls received (repeats carry the same key)"
        )
        out(
            f"jobs left doing: {doing[0]['n']}; workers that exited by themselves: {len(rep.unexpected_exits)}; "
            f"run starts refused while Postgres was down: {rep.start_errors}"
        )
        done = [w for w in waits if w is not None]
        landed = [r for r in rep.recoveries if r.kind == "worker"]
        out(
            f"worker kills measured: {len(landed)} ({sum(1 for r in landed if r.waits)} held runs), "
            f"not measured: {dict(rep.unmeasured) or 0}"
        )
        if done:
            out(
                f"worker kill -> next progress of each run it held ({len(done)} runs): "
                f"p50 {pct(done, 50):.1f} s  p99 {pct(done, 99):.1f} s  max {max(done):.1f} s  "
                f"{'ok ' if max(done) <= RECOVERY_TARGET_S else 'MISS'} target <= {RECOVERY_TARGET_S:.0f} s"
            )
        else:
            out("worker kill -> next progress: no kill landed on a run in flight")
        pg_done = [w for w in pg_waits if w is not None]
        if pg_done:
            out(
                f"Postgres back -> next progress of each run in flight ({len(pg_done)} runs): "
                f"p50 {pct(pg_done, 50):.1f} s  p99 {pct(pg_done, 99):.1f} s  max {max(pg_done):.1f} s  "
                f"{'ok ' if max(pg_done) <= 30 else 'MISS'} target <= 30 s"
            )

    async def cleanup(self) -> None:
        self.all_over.set()
        for task in self.trackers:
            task.cancel()
        await asyncio.gather(*self.trackers, return_exceptions=True)
        for proc in [self.web, *self.workers]:
            proc.stop()


# How far a run has got, in epoch seconds: any change of the run's row (a worker claiming it, a step
# finishing, a suspension) or of its fan-out children (one starting or finishing).
PROGRESS = (
    "extract(epoch FROM greatest(r.updated_at, (SELECT max(greatest(c.started_at, c.completed_at)) "
    "FROM run_children c WHERE c.run_id = r.id)))::float8"
)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _csrf(html: str) -> str:
    found = CSRF.search(html)
    if not found:
        raise RuntimeError("no CSRF token in the page")
    return found.group(1)


async def run_soak(config: ChaosConfig, *, keep_logs: Path | None = None) -> Report:
    """Run the soak end to end and return its report (`report.problems` empty when every invariant
    held). Everything it started is stopped, and the cluster deleted, whatever happens."""
    workdir = Path(tempfile.mkdtemp(prefix="baton-chaos-"))
    (workdir / "data").mkdir()
    try:
        with pg_cluster() as cluster, Receiver(secret=RECEIVER_SECRET) as rx:
            with psycopg.connect(cluster.url, autocommit=True) as conn:
                conn.execute("CREATE DATABASE chaos")
            url = cluster.url_for("chaos")
            apply_migrations(url)
            soak = Soak(config, cluster, url, rx, workdir)
            load: list[asyncio.Task] = []
            try:
                user, connector_id = await soak.setup()
                expected = {kind: want for kind, (_, _, want) in mix(connector_id).items()}
                await soak.start_processes()
                started = time.monotonic()
                load += [
                    asyncio.create_task(soak.starter(user, connector_id)),
                    asyncio.create_task(soak.person()),
                ]
                await soak.chaos()
                soak.report.elapsed_s = time.monotonic() - started
                await load[0]
                await soak.drain()
                await soak.check(expected)
            finally:
                await soak.cleanup()
                for task in load:
                    task.cancel()
                    with suppress(asyncio.CancelledError, Exception):
                        await task
            return soak.report
    finally:
        if keep_logs:
            shutil.copytree(
                workdir, keep_logs, ignore=shutil.ignore_patterns("data"), dirs_exist_ok=True
            )
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> int:
    default = ChaosConfig()
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--duration",
        type=float,
        default=default.duration_s,
        help="seconds of chaos (then the drain)",
    )
    p.add_argument("--workers", type=int, default=default.workers)
    p.add_argument(
        "--start-every", type=float, default=default.start_every_s, help="seconds between new runs"
    )
    p.add_argument(
        "--kill-every", type=float, nargs=2, default=default.kill_every_s, metavar=("MIN", "MAX")
    )
    p.add_argument("--web-kill-every", type=float, default=default.web_kill_every_s)
    p.add_argument("--pg-restart-every", type=float, default=default.pg_restart_every_s)
    p.add_argument("--drain", type=float, default=default.drain_s)
    p.add_argument("--seed", type=int, default=int(time.time()))
    p.add_argument("--keep-logs", type=Path, help="copy the processes' logs here")
    a = p.parse_args()
    config = ChaosConfig(
        duration_s=a.duration,
        workers=a.workers,
        start_every_s=a.start_every,
        kill_every_s=tuple(a.kill_every),
        web_kill_every_s=a.web_kill_every,
        pg_restart_every_s=a.pg_restart_every,
        drain_s=a.drain,
        seed=a.seed,
    )
    print(f"seed {config.seed}; {config}", flush=True)
    report = asyncio.run(run_soak(config, keep_logs=a.keep_logs))
    for line in report.figures:
        print(line)
    for line in report.problems:
        print(f"INVARIANT FAILED: {line}")
    print(
        "all invariants held"
        if not report.problems
        else f"{len(report.problems)} invariants failed"
    )
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
