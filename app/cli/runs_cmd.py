"""`baton runs …`, `baton hooks resolve`, `baton selftest`: the engine's commands for operators."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from app.core import policy
from app.core.config import load_settings, with_secret_key
from app.core.database import database_url
from app.core.db import open_pool
from app.core.logs import configure_logging
from app.core.migrations import apply_migrations
from app.core.policy import Action
from app.core.titles import RUN_TITLE_MAX
from app.engine import commands, replays
from app.engine.errors import EngineError, HookNotFound
from app.engine.hooks import hook_for_decider, refusal, resolve_hook
from app.spaces.store import member_space, team_by_slug
from app.templates.answers import checked_data
from app.web.api.schemas import run_view
from app.workflows.catalog import load_workflow_modules

FIND_USER = "SELECT id FROM users WHERE email = lower(%(email)s)"
CREATE_USER = "INSERT INTO users (email) VALUES (lower(%(email)s)) ON CONFLICT (email) DO NOTHING RETURNING id"
WORKER_SEEN = """
SELECT EXISTS (SELECT 1 FROM procrastinate_workers WHERE last_heartbeat > now() - interval '30 seconds') AS seen
"""
SELFTEST_USER = "selftest@baton.invalid"
# The operator's view of a team (`runs list/show --team SLUG` without `--as`): no membership needed.
TEAM_ID = "SELECT id FROM spaces WHERE kind = 'team' AND slug = %(slug)s"
PERSONAL_ID = "SELECT id FROM spaces WHERE personal_of = %(user_id)s"


def register(sub: argparse._SubParsersAction) -> None:
    runs = sub.add_parser(
        "runs", help="start, inspect, cancel and retry workflow runs"
    ).add_subparsers(dest="runs_command", required=True)
    p = runs.add_parser("start", help="start a run; prints its id")
    p.add_argument("workflow")
    p.add_argument("--as", dest="email", required=True, help="owner's email")
    p.add_argument("--input", default="{}", help="input as a JSON object")
    p.add_argument("--create-user", action="store_true", help="create the owner if missing")
    p.add_argument("--idempotency-key")
    p.add_argument("--title", help="the run's title (default: made from the input)")
    p.add_argument("--team", help="start it in this team's space (the --as user must be a member)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_sync(start))
    p = runs.add_parser("show", help="a run with its steps and hooks (and its space)")
    p.add_argument("run_id")
    p.add_argument(
        "--as", dest="email", help="only within this user's space (with --team: a team's)"
    )
    p.add_argument("--team", help="only a run of this team's space")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_sync(show))
    p = runs.add_parser("list", help="runs, newest first")
    p.add_argument("--status")
    p.add_argument("--workflow")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument(
        "--as", dest="email", help="only the runs of this user's space (with --team: a team's)"
    )
    p.add_argument("--team", help="only the runs of this team's space")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_sync(list_))
    for name, fn in (("cancel", cancel), ("retry", retry)):
        p = runs.add_parser(name, help=f"{name} a run")
        p.add_argument("run_id")
        p.add_argument("--json", action="store_true")
        p.set_defaults(func=_sync(fn))

    p = runs.add_parser(
        "rerun", help="start a new run reusing a run's results before a step; prints its id"
    )
    p.add_argument("run_id")
    p.add_argument("--from-step", help="the step to execute from (its name; default: the start)")
    p.add_argument("--input", help="the new run's input as a JSON object (default: the original's)")
    p.add_argument(
        "--step-output", help="take the --from-step step as done with this output (JSON)"
    )
    p.add_argument("--as", dest="email", help="only if the run is this user's")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_sync(rerun))
    p = runs.add_parser("replay", help="replay the runs a filter selects as new runs, paced")
    p.add_argument("--workflow", required=True)
    p.add_argument("--status", action="append", dest="statuses", help="repeatable; default: failed")
    p.add_argument("--since", help="runs created at or after (ISO 8601; UTC unless it says)")
    p.add_argument("--until", help="runs created before (ISO 8601)")
    p.add_argument(
        "--from-step",
        choices=replays.FROM_STEPS,
        default="failed",
        help="failed: from each run's failed step (else its start); start: from the start",
    )
    p.add_argument(
        "--as",
        dest="email",
        help="the runs of this user's space, any member's (default: every space's)",
    )
    p.add_argument("--team", help="the runs of this team (with --as: a team the user may operate)")
    p.add_argument(
        "--dry-run", action="store_true", help="print what would be replayed; change nothing"
    )
    p.add_argument(
        "--wait", action="store_true", help="wait until every run is started, print old → new ids"
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_sync(replay))

    hooks = sub.add_parser("hooks", help="answer a waiting hook").add_subparsers(
        dest="hooks_command", required=True
    )
    p = hooks.add_parser("resolve", help="decide a hook by its token")
    p.add_argument("token")
    p.add_argument(
        "--action", required=True, choices=["approve", "revise", "reject", "submit", "deliver"]
    )
    p.add_argument("--data", default="{}", help="response data as a JSON object")
    p.add_argument(
        "--as",
        dest="email",
        help="decide as this user, under the approvals page's rules (assignee, role, owner);"
        " without it the operator decides",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_sync(resolve))

    p = sub.add_parser("selftest", help="run one self-test workflow end to end and report timings")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--step-ms", type=float, default=0)
    p.add_argument("--sleep", type=float, default=0, help="durable sleep, seconds")
    p.add_argument(
        "--approval", action="store_true", help="wait for an approval (resolved by the command)"
    )
    p.add_argument("--fail-attempts", type=int, default=0)
    p.add_argument("--fan-out", type=int, default=0)
    p.add_argument("--timeout", type=float, default=120)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_sync(selftest))


class CommandFailed(Exception):
    pass


class UnknownTeam(CommandFailed):
    """`--team SLUG` names no team (of the `--as` user's): exit status 2, like a usage error."""


def _sync(
    fn: Callable[[argparse.Namespace, Any], Awaitable[int]],
) -> Callable[[argparse.Namespace], int]:
    """Run an async command with a pool on the configured database."""

    def run(args: argparse.Namespace) -> int:
        from app.cli import CommandError

        settings = with_secret_key(load_settings())
        configure_logging(settings.log_format)
        load_workflow_modules(settings.workflow_modules)

        async def main(url: str) -> int:
            pool = await open_pool(url, min_size=1, max_size=12)
            try:
                return await fn(args, pool)
            finally:
                await pool.close()

        with database_url(settings) as url:
            # As `baton user` and `baton teams` do: a first command on a new (embedded) database
            # finds its tables instead of a traceback.
            apply_migrations(url)
            try:
                return asyncio.run(main(url))
            except UnknownTeam as exc:
                print(f"baton: {exc}", file=sys.stderr)
                return 2
            except (EngineError, CommandFailed, policy.Forbidden) as exc:
                raise CommandError(str(exc)) from None

    return run


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (UUID, Decimal)):
        return str(value) if isinstance(value, UUID) else float(value)
    raise TypeError(type(value).__name__)


def _print(value: Any) -> None:
    print(json.dumps(value, default=_default, indent=2))


def _json_arg(text: str, name: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandFailed(f"{name}: not valid JSON ({exc.msg} at position {exc.pos})") from None
    if not isinstance(value, dict):
        raise CommandFailed(f"{name}: expected a JSON object")
    return value


async def _user_id(pool, email: str, create: bool) -> int:
    async with pool.connection() as conn:
        row = await (await conn.execute(FIND_USER, {"email": email})).fetchone()
        if row is None and create:
            row = (
                await (await conn.execute(CREATE_USER, {"email": email})).fetchone()
                or await (await conn.execute(FIND_USER, {"email": email})).fetchone()
            )
    if row is None:
        raise CommandFailed(f"no user {email} (use --create-user to create one)")
    return row["id"]


async def _space_id(
    conn, team: str | None, user_id: int | None, *, personal: bool = True
) -> int | None:
    """The space `--team`/`--as` name: a team of the user's (any team for the operator, without
    `--as`), else the user's personal space (`personal`), else None (every space)."""
    if team:
        if user_id is not None:
            space = await team_by_slug(conn, user_id, team)
            found = space.id if space else None
        else:
            row = await (await conn.execute(TEAM_ID, {"slug": team})).fetchone()
            found = row["id"] if row else None
        if found is None:
            who = " of this user's" if user_id is not None else ""
            raise UnknownTeam(f"no team{who} has the slug {team!r}")
        return found
    if user_id is not None and personal:
        return (await (await conn.execute(PERSONAL_ID, {"user_id": user_id})).fetchone())["id"]
    return None


async def start(args, pool) -> int:
    owner = await _user_id(pool, args.email, args.create_user)
    async with pool.connection() as conn:
        space_id = await _space_id(conn, args.team, owner, personal=False)
        run, _ = await commands.start_run(
            conn,
            owner_id=owner,
            space_id=space_id,
            workflow=args.workflow,
            input=_json_arg(args.input, "--input"),
            idempotency_key=args.idempotency_key,
            title=args.title and " ".join(args.title.split())[:RUN_TITLE_MAX] or None,
        )
        full = await commands.get_run(conn, run["id"], with_tokens=False)  # with its space
    run = {k: v for k, v in full.items() if k not in ("steps", "hooks")}
    _print(run_view(run)) if args.json else print(run["id"])
    return 0


async def _scope(pool, args) -> int | None:
    user = await _user_id(pool, args.email, False) if args.email else None
    async with pool.connection() as conn:
        return await _space_id(conn, args.team, user)


async def show(args, pool) -> int:
    space_id = await _scope(pool, args)
    async with pool.connection() as conn:
        run = await commands.get_run(conn, args.run_id, space_id=space_id)
    if args.json:
        _print(run_view(run))
    else:
        print(f"{run['id']}  {run['workflow']} v{run['version']}  {run['status']}")
        if run["space_kind"] == "team":
            print(f"  in team {run['space_name']} ({run['space_slug']})")
        if run.get("rerun_of"):
            start = (run.get("rerun_from") or {}).get("step")
            print(
                f"  rerun of {run['rerun_of']}, from {'step ' + repr(start) if start else 'the start'}"
            )
        for step in run["steps"]:
            print(f"  {step['seq']:>4}  {step['kind']:<11} {step['status']:<9} {step['name']}")
    return 0


async def list_(args, pool) -> int:
    space_id = await _scope(pool, args)
    async with pool.connection() as conn:
        rows, _ = await commands.list_runs(
            conn,
            owner_id=None,
            space_id=space_id,
            status=args.status,
            workflow=args.workflow,
            limit=args.limit,
        )
    if args.json:
        _print([run_view(r) for r in rows])
    else:
        for r in rows:
            print(
                f"{r['id']}  {r['status']:<9} {r['workflow']:<20} {r['created_at']:%Y-%m-%d %H:%M}  {r['title']}"
            )
    return 0


async def cancel(args, pool) -> int:
    async with pool.connection() as conn:
        run = await commands.cancel_run(conn, args.run_id)
    _print(run_view(run)) if args.json else print(f"{run['id']} {run['status']}")
    return 0


async def retry(args, pool) -> int:
    async with pool.connection() as conn:
        run = await commands.retry_run(conn, args.run_id)
    _print(run_view(run)) if args.json else print(f"{run['id']} {run['status']}")
    return 0


def _json_value(text: str, name: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandFailed(f"{name}: not valid JSON ({exc.msg} at position {exc.pos})") from None


def _iso(text: str | None, name: str) -> datetime | None:
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise CommandFailed(f"{name}: not an ISO 8601 time (e.g. 2026-12-01T08:00:00Z)") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


async def rerun(args, pool) -> int:
    owner = await _user_id(pool, args.email, False) if args.email else None
    step_output = (
        _json_value(args.step_output, "--step-output")
        if args.step_output is not None
        else commands.NOT_EDITED
    )
    new_input = _json_arg(args.input, "--input") if args.input is not None else None
    async with pool.connection() as conn:
        source, plan = await commands.plan_rerun(
            conn,
            args.run_id,
            owner_id=owner,
            from_step=args.from_step,
            input=new_input,
            step_output=step_output,
        )
        run, _ = await commands.start_run(
            conn,
            owner_id=source["owner_id"],
            space_id=source["space_id"],  # a rerun belongs to its source's space
            workflow=source["workflow"],
            input=source["input"],
            title=source["title"],
            rerun=plan,
        )
    _print(run_view(run)) if args.json else print(run["id"])
    return 0


async def replay(args, pool) -> int:
    owner = await _user_id(pool, args.email, False) if args.email else None
    statuses = args.statuses or ["failed"]
    since, until = _iso(args.since, "--since"), _iso(args.until, "--until")
    replays.check_filter(args.workflow, statuses, args.from_step, since, until)
    async with pool.connection() as conn:
        space_id = await _space_id(conn, args.team, owner)
        if owner is not None and space_id is not None:  # the user's role there may replay?
            space = await member_space(conn, owner, space_id)
            if space is None:
                raise UnknownTeam(f"no team of this user's has the slug {args.team!r}")
            policy.require(space, Action.OPERATE)
        selected = await replays.select_runs(
            conn,
            workflow=args.workflow,
            statuses=statuses,
            owner_id=None,
            space_id=space_id,
            since=since,
            until=until,
        )
        replay_row = None
        if selected and not args.dry_run:
            replay_row = await replays.create_replay(
                conn,
                requested_by=None,
                owner_id=owner,
                workflow=args.workflow,
                statuses=statuses,
                from_step=args.from_step,
                selected=selected,
                since=since,
                until=until,
            )
    started = await _wait_replay(pool, replay_row["id"]) if replay_row and args.wait else None
    if args.json:
        _print(
            {
                "replay_id": replay_row and replay_row["id"],
                "dry_run": args.dry_run,
                "selected": [
                    {
                        k: r[k]
                        for k in (
                            "id",
                            "owner_id",
                            "workflow",
                            "version",
                            "status",
                            "title",
                            "created_at",
                        )
                    }
                    for r in selected
                ],
                "started": started and replays.replay_view(started)["items"],
            }
        )
        return 0
    if started:
        for item in started["items"]:
            print(
                f"{item['source_id']}  {item['new_run_id'] or '-'}  {item['state']}{'  ' + item['message'] if item['message'] else ''}"
            )
    else:
        for r in selected:
            print(f"{r['id']}  {r['status']:<9} {r['created_at']:%Y-%m-%d %H:%M}  {r['title']}")
    verb = "would replay" if args.dry_run else "replaying" if replay_row else "nothing to replay:"
    print(
        f"{verb} {len(selected)} run{'s' if len(selected) != 1 else ''}"
        + (f" (replay {replay_row['id']})" if replay_row else ""),
        file=sys.stderr,
    )
    return 0


async def _wait_replay(pool, replay_id: int) -> dict:
    """Until every item is started or refused (the replayed runs themselves may still be going)."""
    async with pool.connection() as conn:
        while True:
            found = await replays.get_replay(conn, replay_id, user_id=None, items=replays.MAX_RUNS)
            if found["status"] != "running":
                return found
            await asyncio.sleep(0.2)


async def resolve(args, pool) -> int:
    """Decide a hook by its token. `--as EMAIL` applies the rules of the approvals page (the
    engine's `refusal`): not found unless a member of the run's space or its assignee, refused
    (policy.Forbidden) unless the one it waits for. Without `--as`, the operator decides."""
    data = _json_arg(args.data, "--data")
    user_id, decided_by = None, "cli"
    if args.email:
        user_id, decided_by = await _user_id(pool, args.email, create=False), args.email.lower()
    async with pool.connection() as conn:
        found = await hook_for_decider(conn, args.token, user_id)
        if user_id is not None:
            if found is None or (found["my_role"] is None and found["assignee"] != decided_by):
                raise HookNotFound("no such hook")
            refused = refusal(found, user_id, decided_by)
            if refused:
                raise policy.Forbidden(refused)
        if found is not None:  # an ask_person's fields, checked as every decision path checks them
            data = checked_data(found, args.action, data)
        hook = await resolve_hook(
            conn, args.token, args.action, data, decided_by=decided_by, user_id=user_id
        )
    view = {
        "hook_id": hook["id"],
        "run_id": hook["run_id"],
        "status": hook["status"],
        "action": hook["action"],
    }
    _print(view) if args.json else print(f"{hook['name']}: {hook['action']}")
    return 0


async def selftest(args, pool) -> int:
    """Start a selftest, answer its approval, wait for the end. Uses the deployment's workers when
    one is alive; otherwise runs a worker in this process for the duration."""
    from worker.runner import WorkerHandle

    owner = await _user_id(pool, SELFTEST_USER, create=True)
    async with pool.connection() as conn:
        seen = (await (await conn.execute(WORKER_SEEN)).fetchone())["seen"]
    local = None if seen else WorkerHandle(pool, concurrency=4, name="selftest")
    if local:
        local.start()
    try:
        started = time.perf_counter()
        async with pool.connection() as conn:
            run, _ = await commands.start_run(
                conn,
                owner_id=owner,
                workflow="selftest",
                input={
                    "steps": args.steps,
                    "step_ms": args.step_ms,
                    "sleep_s": args.sleep,
                    "approval": args.approval,
                    "fail_attempts": args.fail_attempts,
                    "fan_out": args.fan_out,
                },
            )
        run = await _follow(pool, run["id"], args.timeout)
        wall_ms = (time.perf_counter() - started) * 1000
    finally:
        if local:
            await local.stop()
    report = {
        "run_id": run["id"],
        "status": run["status"],
        "steps": args.steps,
        "wall_ms": round(wall_ms, 1),
        "per_step_ms": round(wall_ms / max(args.steps, 1), 3),
        "worker": "in-process" if local else "deployment",
        "output": run["output"],
        "error": run["error"],
    }
    _print(report) if args.json else print(
        f"selftest {run['status']}: {args.steps} steps in {wall_ms:.0f} ms ({report['per_step_ms']} ms/step)"
    )
    return 0 if run["status"] == "completed" else 1


async def _follow(pool, run_id, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    async with pool.connection() as conn:
        while True:
            run = await (
                await conn.execute("SELECT * FROM runs WHERE id = %s", (run_id,))
            ).fetchone()
            if run["status"] in ("completed", "failed", "cancelled"):
                return run
            if run["status"] == "waiting":
                hook = await (
                    await conn.execute(
                        "SELECT token FROM hooks WHERE run_id = %s AND status = 'waiting'",
                        (run_id,),
                    )
                ).fetchone()
                if hook:
                    await resolve_hook(conn, hook["token"], "approve", decided_by="selftest")
            if time.monotonic() > deadline:
                await commands.cancel_run(conn, run_id)
                raise CommandFailed(
                    f"selftest did not finish within {timeout:.0f} s (run {run_id} cancelled)"
                )
            await asyncio.sleep(0.01)
