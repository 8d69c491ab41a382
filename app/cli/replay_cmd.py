"""`baton runs rerun` and `baton runs replay`: new runs that reuse earlier runs' results."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import UTC, datetime
from typing import Any

from app.cli.common import CommandFailed, UnknownTeam, _json_arg, _print, _space_id, _sync, _user_id
from app.core import policy
from app.core.policy import Action
from app.engine import commands, replays
from app.spaces.store import member_space
from app.web.api.schemas import run_view


def register(runs: argparse._SubParsersAction) -> None:
    """`baton runs rerun` and `baton runs replay` (added to `baton runs` by runs_cmd)."""
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
            owner_id=source.owner_id,
            space_id=source.space_id,  # a rerun belongs to its source's space
            workflow=source.workflow,
            input=source.input,
            title=source.title,
            rerun=plan,
        )
    _print(run_view(run)) if args.json else print(run.id)
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
