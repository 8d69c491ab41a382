"""`Run`: what workflow code sees. Every durable call takes the next position in the journal; on
replay a position already journaled returns its recorded result without running anything again.

Guarantees (proved by tests/integration/test_engine_crash.py):
- a step's result is journaled once (primary key (run_id, seq)); its body runs at least once, and
  again only if a process dies mid-step;
- `transaction` effects commit with their journal row, so they happen exactly once;
- the code must ask for the same (name, kind) at each position as the journal holds, or the run
  stops with NonDeterminism instead of mixing two histories.
"""

from __future__ import annotations

import asyncio
import inspect
import time
import uuid as uuidlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg import AsyncConnection
from psycopg.pq import TransactionStatus

from app.core.logs import log_context
from app.engine import journal as J
from app.engine import stored_outputs
from app.engine.errors import FatalError, RunCancelled, StepFailed, Suspend
from app.engine.hooks import check_assignment, create_hook, expire_hook
from app.engine.jobs import wake_run
from app.engine.journal_cache import Kept, as_loaded
from app.engine.loaded_journal import NOT_AT_HAND, LoadedJournal
from app.engine.mapping import collect_children, start_children
from app.engine.progress import overall_percent
from app.engine.values import DEFAULT_RETRY, HookResult, RateLimit, RetryPolicy, StepOutput

# A step still running after this long is announced as started; faster ones only as completed,
# which keeps the cost of a short step at one commit.
ANNOUNCE_AFTER_S = 0.05
# Completed steps of one run are announced (NOTIFY) at most this often: Postgres commits notifying
# transactions one at a time, so announcing every fast step would make all runs queue on each other.
# Watchers re-read the run, so they see every step either way; status changes always announce.
ANNOUNCE_EVERY_S = 0.1


def error_json(exc: BaseException) -> dict:
    return {"type": type(exc).__name__, "message": str(exc)[:2000]}


def utcnow() -> datetime:
    return datetime.now(UTC)


class Run:
    def __init__(self, conn: AsyncConnection, row: dict, input: Any, kept: Kept | None = None):
        self._conn = conn
        self.id = row["id"]
        self.owner_id: int = row["owner_id"]
        self.workflow: str = row["workflow"]
        self.version: int = row["version"]
        self.chat_id = row["chat_id"]
        self.input = input
        self._key = str(self.id)
        self._journal = LoadedJournal(row, self._key, kept)
        self._journal_version: int = row["journal_version"]
        # Completed positions this advance wrote and committed: seq -> (name, kind, output as a
        # load would hold it, held as JSON text). Kept with the journal when the advance suspends.
        self._written: dict[int, tuple[str, str, Any, bool]] = {}
        self._in_transaction: dict[int, tuple[str, str, Any, bool]] = {}  # until it commits
        self._fetched: dict[int, Any] = {}  # large outputs fetched by this advance, until reached
        self._hooks: dict[int, dict] = {h["seq"]: h for h in row["waiting_hooks"]}
        self._seq = 0
        self._pending_values: list[dict] = []
        self._cancel_requested = bool(row["cancel_requested"])
        self._step_seq: int | None = None
        self._attempt = 0
        self._announced_at = time.monotonic()  # loading the run announced it as running

    # -- journal positions -----------------------------------------------------------------------
    def _next(self, name: str, kind: str) -> tuple[int, dict | None]:
        seq = self._seq
        self._seq += 1
        return seq, self._journal.entry(seq, name, kind)

    async def _output(self, entry: dict) -> Any:
        """A journaled output; one stored large was left in Postgres by the load: from this
        process's cache, else fetched with every other such output of the run (one query)."""
        version = entry["stored"]
        if version is None:
            return entry["output"]
        seq = entry["seq"]
        if seq in self._fetched:
            return self._fetched.pop(seq)
        found, value = stored_outputs.cache.get(stored_outputs.key(self._key, seq, version))
        if found:
            return value
        fetched = await stored_outputs.fetch(self._conn, self._key, self._stored_from(seq))
        value = fetched.pop(seq)
        # The cache now holds the others, unless it could not keep them (larger than it allows).
        self._fetched.update(
            (s, v)
            for s, v in fetched.items()
            if not stored_outputs.cache.has(
                stored_outputs.key(self._key, s, self._journal.stored[s])
            )
        )
        return value

    def _stored_from(self, seq: int) -> list[int]:
        """Positions from `seq` on whose outputs were left in Postgres and are not at hand."""
        return [
            s
            for s, version in self._journal.stored.items()
            if s >= seq
            and s not in self._fetched
            and not stored_outputs.cache.has(stored_outputs.key(self._key, s, version))
        ]

    def _check_cancelled(self) -> None:
        if self._cancel_requested:
            raise RunCancelled()

    async def _flush_values(self) -> None:
        """Write journaled values (now/uuid) before anything that might depend on them."""
        if self._pending_values:
            pending, self._pending_values = self._pending_values, []
            committed = self._committed_alone()
            async with self._conn.cursor() as cur:
                await cur.executemany(J.WRITE_VALUE, pending, returning=True)
                written = set()
                while True:
                    written.update(r["seq"] for r in await cur.fetchall())
                    if not cur.nextset():
                        break
            kept = self._written if committed else self._in_transaction
            for p in pending:
                if p["seq"] in written:
                    kept[p["seq"]] = (p["name"], p["kind"], p["output"].obj, False)

    def _committed_alone(self) -> bool:
        """Whether a statement run now commits by itself (no transaction open that might still
        roll back): only such writes are kept with the journal (app/engine/journal_cache.py)."""
        return self._conn.info.transaction_status == TransactionStatus.IDLE

    @asynccontextmanager
    async def _atomic(self) -> AsyncIterator[None]:
        """A transaction; the positions written in it are kept once it has committed."""
        outermost = self._committed_alone()
        if outermost:
            self._in_transaction.clear()
        try:
            async with self._conn.transaction():
                yield
            if outermost:
                self._written.update(self._in_transaction)
        finally:
            if outermost:
                self._in_transaction.clear()

    def kept(self) -> Kept | None:
        """What this worker keeps of the journal once this advance has suspended."""
        return self._journal.kept(self._journal_version, self._written)

    async def _write(self, *, new: bool = False, **fields: Any) -> None:
        await self._flush_values()
        now = time.monotonic()
        announce = now - self._announced_at >= ANNOUNCE_EVERY_S
        committed = self._committed_alone()
        row = await J.write_step(
            self._conn, new=new, run_id=self.id, owner_id=self.owner_id, announce=announce, **fields
        )
        if row["written"] and fields["status"] == "completed":
            keepable, output, as_json = as_loaded(fields.get("output"))
            if keepable:
                written = self._written if committed else self._in_transaction
                written[fields["seq"]] = (fields["name"], fields["kind"], output, as_json)
        if row["announced"]:
            self._announced_at = now
        self._cancel_requested = bool(row["cancel_requested"])

    async def _suspend(
        self, status: str, waiting_for: str, wake_at: datetime | None, *, announce: bool = True
    ) -> None:
        """Record the suspension (in the caller's transaction) and end this advance."""
        row = await (
            await self._conn.execute(
                J.SUSPEND_RUN,
                {
                    "run_id": self.id,
                    "status": status,
                    "waiting_for": waiting_for,
                    "wake_at": wake_at,
                    "announce": announce,
                },
            )
        ).fetchone()
        if row["cancel_requested"]:
            raise RunCancelled()
        if wake_at is not None:
            await wake_run(self._conn, self.id, wake_at)

    @property
    def attempt(self) -> int:
        """Inside a step: which attempt this is (1 for the first)."""
        return self._attempt

    @property
    def idempotency_key(self) -> str:
        """Stable across retries and replays of the current step: hand it to external calls."""
        if self._step_seq is None:
            raise RuntimeError("idempotency_key is only defined inside a step")
        return f"{self.id}:{self._step_seq}"

    # -- steps -----------------------------------------------------------------------------------
    async def step(
        self,
        name: str,
        fn: Callable[..., Any],
        *args: Any,
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> Any:
        # The common replay, a completed step with its output at hand: nothing built, no await
        # (a large output not in this process's cache goes the long way, and is fetched).
        output = self._journal.replayed(self._seq, name, "step")
        if output is not NOT_AT_HAND:
            self._seq += 1
            return output
        seq, entry = self._next(name, "step")
        attempts = 0
        if entry:
            if entry["status"] == "completed":
                return await self._output(entry)
            if entry["status"] == "failed":
                raise StepFailed(name, entry["error"])
            attempts = entry["attempts"]
            wake_at = J.parse_time(entry["wake_at"])
            if entry["status"] == "retrying" and wake_at and wake_at > utcnow():
                async with self._atomic():
                    await self._suspend("sleeping", f"retry of {name}", wake_at, announce=False)
                raise Suspend()
        self._check_cancelled()
        policy = retry or DEFAULT_RETRY
        detail = (
            J.step_args(args, kwargs) if not attempts else None
        )  # a retry keeps the first row's
        started = utcnow()
        t0 = time.perf_counter()
        self._step_seq = seq
        self._attempt = attempts + 1
        try:
            with log_context(step=name):
                result = await self._execute(seq, name, fn, args, kwargs, timeout)
            value, usage = (
                (result.value, result.usage) if isinstance(result, StepOutput) else (result, None)
            )
            try:
                value = J.to_json(value)
            except (TypeError, ValueError) as exc:
                raise FatalError(f"step {name!r} returned a value JSON cannot hold: {exc}") from exc
        except (asyncio.CancelledError, Suspend, RunCancelled):
            raise
        except Exception as exc:
            attempts += 1
            fatal = isinstance(exc, FatalError)
            error = error_json(exc) | {"attempt": attempts}
            duration = (time.perf_counter() - t0) * 1000
            if fatal or attempts >= policy.max_attempts:
                await self._write(
                    seq=seq,
                    name=name,
                    kind="step",
                    status="failed",
                    attempts=attempts,
                    error=error,
                    detail=detail,
                    started_at=started,
                    completed_at=utcnow(),
                    duration_ms=duration,
                    event="step_failed",
                    event_data={"seq": seq, "name": name, "error": error},
                )
                raise StepFailed(name, error) from exc
            wake_at = utcnow() + policy.delay(attempts)
            async with self._atomic():
                await self._write(
                    seq=seq,
                    name=name,
                    kind="step",
                    status="retrying",
                    attempts=attempts,
                    error=error,
                    detail=detail,
                    started_at=started,
                    wake_at=wake_at,
                    duration_ms=duration,
                    event="step_retrying",
                    event_data={
                        "seq": seq,
                        "name": name,
                        "error": error,
                        "retry_at": wake_at.isoformat(),
                    },
                )
                await self._suspend(
                    "sleeping",
                    f"retry of {name} (attempt {attempts + 1} of {policy.max_attempts})",
                    wake_at,
                )
            raise Suspend() from exc
        finally:
            self._step_seq = None
        duration = (time.perf_counter() - t0) * 1000
        await self._write(
            new=entry is None,
            seq=seq,
            name=name,
            kind="step",
            status="completed",
            attempts=attempts + 1,
            output=value,
            detail=detail,
            started_at=started,
            completed_at=utcnow(),
            duration_ms=duration,
            done=1,
            model=usage.model if usage else None,
            tokens_in=usage.tokens_in if usage else None,
            tokens_out=usage.tokens_out if usage else None,
            cost_usd=usage.cost_usd if usage else None,
            event="step_completed",
        )
        self._check_cancelled()
        return value

    async def _execute(self, seq, name, fn, args, kwargs, timeout) -> Any:
        call = (
            fn(*args, **kwargs)
            if inspect.iscoroutinefunction(fn)
            else asyncio.to_thread(fn, *args, **kwargs)
        )
        if timeout is not None:
            call = asyncio.wait_for(call, timeout)
        # The step body never uses this connection, so the announcement can run beside it.
        announcement: list[asyncio.Task] = []
        timer = asyncio.get_running_loop().call_later(
            ANNOUNCE_AFTER_S,
            lambda: announcement.append(asyncio.ensure_future(self._announce(seq, name))),
        )
        try:
            return await call
        finally:
            timer.cancel()
            if announcement:
                await asyncio.shield(announcement[0])

    async def _announce(self, seq: int, name: str) -> None:
        await self._flush_values()
        await self._conn.execute(
            J.INSERT_EVENT,
            {
                "run_id": self.id,
                "owner_id": self.owner_id,
                "kind": "step_started",
                "data": J.Jsonb({"seq": seq, "name": name}),
            },
        )

    async def transaction(self, name: str, fn: Callable[[AsyncConnection], Awaitable[Any]]) -> Any:
        """Run `fn(conn)` in the same transaction as its journal row: its effects happen once."""
        seq, entry = self._next(name, "transaction")
        if entry and entry["status"] == "completed":
            return await self._output(entry)
        self._check_cancelled()
        started = utcnow()
        async with self._atomic():
            value = J.to_json(await fn(self._conn))
            await self._write(
                seq=seq,
                name=name,
                kind="transaction",
                status="completed",
                attempts=1,
                output=value,
                started_at=started,
                completed_at=utcnow(),
                done=1,
                event="step_completed",
            )
        self._check_cancelled()
        return value

    # -- time ------------------------------------------------------------------------------------
    async def sleep(self, name: str, duration: timedelta | float) -> None:
        seconds = duration.total_seconds() if isinstance(duration, timedelta) else float(duration)
        seq, entry = self._next(name, "sleep")
        if entry is None:
            self._seq -= 1  # sleep_until takes this position
            return await self.sleep_until(name, utcnow() + timedelta(seconds=seconds))
        return await self._sleep_entry(seq, name, entry, None)

    async def sleep_until(self, name: str, when: datetime) -> None:
        if when.tzinfo is None:
            raise ValueError("sleep_until needs a timezone-aware datetime")
        seq, entry = self._next(name, "sleep")
        return await self._sleep_entry(seq, name, entry, when)

    async def _sleep_entry(
        self, seq: int, name: str, entry: dict | None, when: datetime | None
    ) -> None:
        if entry and entry["status"] == "completed":
            return
        wake_at = J.parse_time(entry["wake_at"]) if entry else when
        if wake_at <= utcnow():
            await self._write(
                seq=seq,
                name=name,
                kind="sleep",
                status="completed",
                attempts=1,
                wake_at=wake_at,
                completed_at=utcnow(),
                done=1,
                event="step_completed",
            )
            self._check_cancelled()
            return
        self._check_cancelled()
        async with self._atomic():
            if entry is None:
                await self._write(
                    seq=seq,
                    name=name,
                    kind="sleep",
                    status="sleeping",
                    wake_at=wake_at,
                    event="sleep_started",
                    event_data={"seq": seq, "name": name, "wake_at": wake_at.isoformat()},
                )
            await self._suspend("sleeping", name, wake_at, announce=entry is None)
        raise Suspend()

    def now(self) -> datetime:
        """The current time, journaled: a replay sees the same value."""
        seq, entry = self._next("now", "now")
        if entry:
            return datetime.fromisoformat(entry["output"])
        value = utcnow()
        self._remember(seq, "now", "now", value.isoformat())
        return value

    def uuid(self) -> uuidlib.UUID:
        """A random UUID, journaled: a replay sees the same value."""
        seq, entry = self._next("uuid", "uuid")
        if entry:
            return uuidlib.UUID(entry["output"])
        value = uuidlib.uuid4()
        self._remember(seq, "uuid", "uuid", str(value))
        return value

    def _remember(self, seq: int, name: str, kind: str, output: str) -> None:
        self._pending_values.append(
            {"run_id": self.id, "seq": seq, "name": name, "kind": kind, "output": J.Jsonb(output)}
        )

    async def progress(
        self, done: int, total: int, label: str = "", *, phase: tuple[float, float] | None = None
    ) -> None:
        """Show progress live: the current phase's own count (`done`/`total`, `label`) and, from it,
        the run's overall percent — `phase` is that phase's share of the run (`Phases.span`, see
        app/engine/progress.py); the overall percent never goes back. Not journaled (it is a view of
        the run, not part of its history)."""
        await self._flush_values()
        shown = {"done": done, "total": total, "label": label} | (
            {"span": list(phase)} if phase else {}
        )
        row = await (
            await self._conn.execute(
                J.UPDATE_PROGRESS,
                {
                    "run_id": self.id,
                    "progress": J.Jsonb(shown),
                    "percent": overall_percent(done, total, phase),
                },
            )
        ).fetchone()
        self._cancel_requested = bool(row["cancel_requested"])
        self._check_cancelled()

    # -- people and the outside world ------------------------------------------------------------
    async def hook(
        self,
        name: str,
        kind: str = "approval",
        *,
        show: dict | None = None,
        timeout: timedelta | float | None = None,
        remind_before: timedelta | float | None = None,
        assignee: str | None = None,
        actions: Sequence[str] | None = None,
        secret: str | None = None,
        wait_if: Callable[[AsyncConnection], Awaitable[bool]] | None = None,
        assign_role: str | None = None,
        required: int = 1,
    ) -> HookResult:
        """Wait for a person or an external system. Returns their answer, or a result with
        `timed_out=True` once `timeout` passes unanswered.

        `wait_if(conn)` is awaited in the transaction that would create the hook, before it does:
        if it returns False there is nothing to wait for, no hook is created and the call returns
        at once with `not_needed=True` (journaled like any answer). It closes the gap between
        reading some state and starting to wait on it: lock the row that the writer who resolves
        the hook also locks, and compare it with what the run read; a change committed before
        the check is seen by it, a change after it finds the hook.

        Who decides: `assignee` (an e-mail), or `assign_role` ("member", "admin" or "owner" of
        the run's team: that role or above; team runs only), else the run's owner. An approval
        with `required=N` (a role assignment) needs N different people to approve; one rejection
        rejects. A bad assignment raises ValueError before anything is written."""
        check_assignment(kind, assignee, assign_role, required)
        seq, entry = self._next(name, "hook")
        if entry and entry["status"] == "completed":
            return HookResult.from_json(await self._output(entry))
        if entry is not None:
            hook = self._hooks.get(seq)
            expires_at = J.parse_time(hook["expires_at"]) if hook else None
            if hook is None or (expires_at and expires_at <= utcnow()):
                result = await expire_hook(self._conn, self, seq, name, hook)
                self._check_cancelled()
                return result
            async with self._atomic():
                await self._suspend("waiting", name, expires_at, announce=False)
            raise Suspend()
        self._check_cancelled()
        await self._flush_values()
        started = utcnow()
        async with self._atomic():
            if wait_if is not None and not await wait_if(self._conn):
                result = HookResult(action=None, not_needed=True)
                await self._write(
                    seq=seq,
                    name=name,
                    kind="hook",
                    status="completed",
                    attempts=1,
                    output=result.to_json(),
                    started_at=started,
                    completed_at=utcnow(),
                    done=1,
                    event="step_completed",
                )
            else:
                hook = await create_hook(
                    self._conn,
                    self,
                    seq,
                    name,
                    kind,
                    show=show,
                    timeout=timeout,
                    remind_before=remind_before,
                    assignee=assignee,
                    actions=actions,
                    secret=secret,
                    assign_role=assign_role,
                    required=required,
                )
                await self._suspend("waiting", name, J.parse_time(hook.expires_at))
                result = None
        if result is None:
            raise Suspend()
        self._check_cancelled()
        return result

    async def map(
        self,
        name: str,
        fn: Callable[[Any], Any],
        items: Sequence[Any],
        *,
        concurrency: int = 4,
        limit: RateLimit | None = None,
        retry: RetryPolicy | None = None,
    ) -> list[Any]:
        """Run `fn(item)` for every item as separate jobs on any worker, at most `concurrency` at a
        time (and under `limit` across all workers). Results come back in the order of `items`."""
        seq, entry = self._next(name, "map")
        if entry and entry["status"] == "completed":
            return await self._output(entry)
        if entry and entry["status"] == "failed":
            raise StepFailed(name, entry["error"])
        if entry is None:
            self._check_cancelled()
            await self._flush_values()
            async with self._atomic():
                finished = await start_children(
                    self._conn,
                    self,
                    seq,
                    name,
                    fn,
                    items,
                    concurrency=concurrency,
                    limit=limit,
                    retry=retry or DEFAULT_RETRY,
                )
                if finished is None:
                    await self._suspend("running", f"{name} (0/{len(items)})", None)
            if finished is None:
                raise Suspend()
            return finished
        result = await collect_children(self._conn, self, seq, name)
        self._check_cancelled()
        return result
