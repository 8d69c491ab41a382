"""`baton check-deploy`: would the code of this checkout break any run in flight?

Exit status (a stable contract for deploy scripts): 0 when no run would break, 1 when some would
(each listed), 2 on a usage, configuration or connection error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

import psycopg
from psycopg.rows import dict_row

from app.core.config import load_settings, with_secret_key
from app.core.database import database_url
from app.core.embedded_pg import EmbeddedPostgresError
from app.core.logs import configure_logging
from app.engine.deploy_check import DeployCheck, check_in_flight
from app.workflows.catalog import load_workflow_modules

CONNECT_TIMEOUT_S = 10


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "check-deploy",
        help="replay every run in flight against this code; exit 1 if any would break",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=check_deploy)


def check_deploy(args: argparse.Namespace) -> int:
    import worker.tasks  # noqa: F401  (every workflow a worker of this checkout runs, templates' included)

    settings = with_secret_key(load_settings())
    configure_logging(settings.log_format)
    load_workflow_modules(settings.workflow_modules)
    started = time.perf_counter()
    try:
        with database_url(settings) as url:
            check = asyncio.run(_check(url))
    except (psycopg.OperationalError, EmbeddedPostgresError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"baton: check-deploy: cannot reach the database ({first})", file=sys.stderr)
        return 2
    seconds = time.perf_counter() - started
    if args.json:
        print(json.dumps(check.to_json() | {"seconds": round(seconds, 3)}, indent=2))
    else:
        _print_text(check, seconds)
    return 1 if check.at_risk else 0


async def _check(url: str) -> DeployCheck:
    async with await psycopg.AsyncConnection.connect(
        url, autocommit=True, row_factory=dict_row, connect_timeout=CONNECT_TIMEOUT_S
    ) as conn:
        return await check_in_flight(conn)


def _print_text(check: DeployCheck, seconds: float) -> None:
    if not check.at_risk:
        print(f"checked {check.runs_checked} runs in flight in {seconds:.1f} s: none would break")
        return
    print(
        f"checked {check.runs_checked} runs in flight in {seconds:.1f} s: "
        f"{len(check.at_risk)} would break"
    )
    for r in check.at_risk:
        where = f" at position {r.position}" if r.position is not None else ""
        pinned = f" (template {r.template['id']} v{r.template['version']})" if r.template else ""
        print(f"{r.run_id}  {r.workflow} v{r.version}{pinned}  {r.status}  {r.problem}{where}")
        if r.problem == "diverged":
            code = (
                f"{r.code_step['kind']} {r.code_step['name']!r}"
                if r.code_step
                else "(the workflow ends)"
            )
            print(
                f"    journal: {r.journal_step['kind']} {r.journal_step['name']!r}    code now: {code}"
            )
        else:
            print(f"    {r.message}")
    print("by workflow version:")
    for v in check.versions():
        print(f"  {v['workflow']} v{v['version']}: {v['runs']} runs ({v['problem']})")
