"""`baton schedules …`: create, list, pause, resume, trigger and delete schedules. The contract
(docs/schedules.md) is kept stable: `create` prints the new id, and an invalid spec, zone or input
exits 2 with the problem on stderr. `--team SLUG` (with --as) creates or lists a team's schedules
(a team's schedule fires its runs in the team); an unknown team, or one the user is not a member
of, exits 2."""

from __future__ import annotations

import argparse
import sys

from app.cli.common import CommandFailed, _json_arg, _print, _sync, _user_id
from app.cli.team_arg import NoSuchTeam, add_team_argument, no_team, space_for
from app.core.policy import Action, Forbidden, require
from app.schedules import store
from app.schedules.drafts import OVERLAPS, DraftInvalid, check_draft, find_template
from app.schedules.views import schedule_view


def register(sub: argparse._SubParsersAction) -> None:
    schedules = sub.add_parser(
        "schedules", help="workflows that start themselves on a schedule"
    ).add_subparsers(dest="schedules_command", required=True)
    p = schedules.add_parser("create", help="create a schedule; prints its id")
    p.add_argument("--as", dest="email", required=True, help="owner's email")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--workflow", help="a built-in workflow's name")
    target.add_argument(
        "--template", help="a template's slug (yours, shared with you, or the gallery's)"
    )
    spec = p.add_mutually_exclusive_group(required=True)
    spec.add_argument("--cron", help="5-field cron expression or @daily-style alias")
    spec.add_argument("--every", help="interval: 1s, 90s, 15m, 6h, 1d")
    p.add_argument("--tz", help="IANA time zone (default: the owner's)")
    p.add_argument("--input", default="{}", help="the run's input as a JSON object")
    p.add_argument("--overlap", choices=OVERLAPS, default="skip")
    p.add_argument("--name")
    add_team_argument(p)
    p.set_defaults(func=_sync(create))
    p = schedules.add_parser("list", help="schedules with their next fire and last result")
    p.add_argument("--as", dest="email", help="only this user's space's (personal, or --team)")
    p.add_argument("--json", action="store_true")
    add_team_argument(p)
    p.set_defaults(func=_sync(list_))
    p = schedules.add_parser("pause", help="pause a schedule")
    p.add_argument("id")
    p.add_argument("--note")
    p.set_defaults(func=_sync(pause))
    for name, fn, text in (
        ("resume", resume, "resume a paused schedule"),
        ("trigger", trigger, "run now; prints the run id"),
        ("delete", delete, "delete a schedule (its runs stay)"),
    ):
        p = schedules.add_parser(name, help=text)
        p.add_argument("id")
        p.set_defaults(func=_sync(fn))


def _invalid(message: str) -> int:
    print(f"baton: {message}", file=sys.stderr)
    return 2


async def create(args, pool) -> int:
    try:
        data = _json_arg(args.input, "--input")
    except CommandFailed as exc:
        return _invalid(str(exc))
    owner = await _user_id(pool, args.email, False)
    async with pool.connection() as conn:
        try:
            space = await space_for(conn, owner, args.team)
            require(space, Action.EDIT)
        except NoSuchTeam as exc:
            return no_team(exc)
        except Forbidden as exc:
            raise CommandFailed(str(exc)) from None
        template = (
            await find_template(conn, owner, args.template, space.id) if args.template else None
        )
        try:
            draft = check_draft(
                name=args.name or None,
                workflow=args.workflow,
                input=data,
                cron=args.cron,
                every=args.every,
                time_zone=args.tz,
                default_zone=await store.owner_zone(conn, owner),
                overlap=args.overlap,
                template=template,
                template_slug=args.template,
            )
        except DraftInvalid as exc:
            return _invalid(
                "; ".join(f"{field}: {message}" for field, message in exc.errors.items())
            )
        row = await store.create_schedule(conn, owner, draft, space_id=space.id)
    print(row["id"])
    return 0


async def list_(args, pool) -> int:
    owner = await _user_id(pool, args.email, False) if args.email else None
    async with pool.connection() as conn:
        try:
            if args.team and owner is None:
                raise NoSuchTeam("--team needs --as")
            space_id = (await space_for(conn, owner, args.team)).id if owner else None
        except NoSuchTeam as exc:
            return no_team(exc)
        rows = await store.list_schedules(conn, owner, space_id=space_id)
    views = [schedule_view(r) for r in rows]
    if args.json:
        _print(views)
        return 0
    for v in views:
        state = "paused" if v["paused"] else (v["next_fire_at"] or "no next fire")
        last = (
            f"last {v['last_fire_at']} {v['last_outcome']}"
            + (f" run {v['last_run_id']}" if v["last_run_id"] else "")
            if v["last_fire_at"]
            else "never fired"
        )
        target = v["workflow"] or f"template {v['template']}"
        print(f"{v['id']}  {v['name']}  [{target}]  {v['spec_words']}  next: {state}  {last}")
    return 0


async def pause(args, pool) -> int:
    async with pool.connection() as conn:
        row = await store.pause_schedule(conn, args.id, None, args.note)
    print(f"{row['id']} paused")
    return 0


async def resume(args, pool) -> int:
    async with pool.connection() as conn:
        row = await store.resume_schedule(conn, args.id, None)
    print(
        f"{row['id']} resumed, next fire {row['next_fire_at'].isoformat() if row['next_fire_at'] else 'none'}"
    )
    return 0


async def trigger(args, pool) -> int:
    async with pool.connection() as conn:
        fired = await store.trigger_schedule(conn, args.id, None)
    print(fired.run.id)
    return 0


async def delete(args, pool) -> int:
    async with pool.connection() as conn:
        await store.delete_schedule(conn, args.id, None)
    print(f"{args.id} deleted")
    return 0
