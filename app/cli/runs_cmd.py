"""`baton runs start|show|list|cancel|retry`: a run's life for operators (reruns and replays are
replay_cmd.py, deciding a hook hooks_cmd.py, `baton selftest` selftest_cmd.py)."""

from __future__ import annotations

import argparse

from app.cli import replay_cmd
from app.cli.common import _json_arg, _print, _space_id, _sync, _user_id
from app.core.titles import RUN_TITLE_MAX
from app.engine import commands
from app.web.api.schemas import run_view


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
    replay_cmd.register(runs)


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
        full = await commands.get_run(conn, run.id, with_tokens=False)  # with its space
    _print(run_view(full.without_journal())) if args.json else print(full.id)
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
        print(f"{run.id}  {run.workflow} v{run.version}  {run.status}")
        if run.space_kind == "team":
            print(f"  in team {run.space_name} ({run.space_slug})")
        if run.rerun_of:
            start = (run.rerun_from or {}).get("step")
            print(
                f"  rerun of {run.rerun_of}, from {'step ' + repr(start) if start else 'the start'}"
            )
        for step in run.steps:
            print(f"  {step.seq:>4}  {step.kind:<11} {step.status:<9} {step.name}")
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
                f"{r.id}  {r.status:<9} {r.workflow:<20} {r.created_at:%Y-%m-%d %H:%M}  {r.title}"
            )
    return 0


async def cancel(args, pool) -> int:
    async with pool.connection() as conn:
        run = await commands.cancel_run(conn, args.run_id)
    _print(run_view(run)) if args.json else print(f"{run.id} {run.status}")
    return 0


async def retry(args, pool) -> int:
    async with pool.connection() as conn:
        run = await commands.retry_run(conn, args.run_id)
    _print(run_view(run)) if args.json else print(f"{run.id} {run.status}")
    return 0
