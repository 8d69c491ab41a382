"""`baton serve`, `baton worker`, `baton migrate`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import time

import psycopg
from psycopg.rows import dict_row

from app.core.config import (
    ConfigError,
    base_url_warning,
    load_settings,
    with_secret_key,
    with_served_base_url,
)
from app.core.database import database_url
from app.core.logs import configure_logging
from app.core.migrations import MigrationError, apply_migrations

log = logging.getLogger("baton.cli")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the web app (and a worker, unless --no-worker)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--no-worker", action="store_true", help="serve the web only")
    p.set_defaults(func=serve)

    p = sub.add_parser("worker", help="run a worker process")
    p.add_argument("--concurrency", type=int, default=8)
    p.set_defaults(func=worker)

    p = sub.add_parser("migrate", help="apply pending SQL migrations")
    p.set_defaults(func=migrate)


def _settings():
    from app.workflows.catalog import load_workflow_modules

    settings = with_secret_key(load_settings())
    configure_logging(settings.log_format)
    load_workflow_modules(settings.workflow_modules)
    return settings


def _migrate(url: str) -> list[str]:
    try:
        return apply_migrations(url)
    except MigrationError as exc:
        # A broken or incompatible schema file is not a config problem: one line, exit 1.
        raise SystemExit(f"baton: {exc}") from None
    except psycopg.OperationalError as exc:
        raise ConfigError(
            f"DATABASE_URL: cannot connect ({str(exc).strip().splitlines()[0]})"
        ) from None


def _migrate_when_reachable(url: str, max_wait_s: float) -> list[str]:
    """A worker started during a database outage (a failover, a restart of the whole deployment)
    waits for it as a running worker would, up to BATON_DB_OUTAGE_MAX, instead of exiting at once
    and crash-looping under its supervisor."""
    deadline = time.monotonic() + max_wait_s
    pause = 1.0
    while True:
        try:
            return _migrate(url)
        except ConfigError:
            if time.monotonic() + pause > deadline:
                raise
            log.warning("worker.waiting_for_database", extra={"retry_in_s": pause})
            time.sleep(pause)
            pause = min(pause * 2, 5.0)


def migrate(args: argparse.Namespace) -> int:
    settings = _settings()
    with database_url(settings) as url:
        applied = _migrate(url)
        starters = asyncio.run(_load_starters(url, settings.data_dir / "starters"))
    print(
        f"starter templates: {len([s for s in starters.values() if s != 'invalid'])} loaded"
        + (
            f", invalid: {', '.join(k for k, v in starters.items() if v == 'invalid')}"
            if "invalid" in starters.values()
            else ""
        )
    )
    print(f"applied {len(applied)} migration(s)" + (": " + ", ".join(applied) if applied else ""))
    return 0


async def _load_starters(url: str, extra_dir) -> dict[str, str]:
    from app.templates.starters import load_starters

    async with await psycopg.AsyncConnection.connect(
        url, autocommit=True, row_factory=dict_row
    ) as conn:
        return await load_starters(conn, extra_dir)


def _exit_on_signal(signum, frame):
    raise SystemExit(0)


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from app.web.app import create_app

    settings = with_served_base_url(_settings(), args.host, args.port)
    if warning := base_url_warning(settings, args.host):
        log.warning(
            "serve.base_url_unset", extra={"advice": warning, "base_url": settings.base_url}
        )
    with database_url(settings, own=True) as url:
        _migrate(url)
        app = create_app(settings, url, run_worker=not args.no_worker)
        log.info("serve.listening", extra={"url": f"http://{args.host}:{args.port}"})
        # uvicorn re-raises the signal it caught once it has shut down; turning SIGTERM into
        # SystemExit lets the embedded PostgreSQL be stopped on the way out.
        signal.signal(signal.SIGTERM, _exit_on_signal)
        uvicorn.run(
            app,
            host=args.host,
            port=args.port,
            log_config=None,
            timeout_graceful_shutdown=2,
            lifespan="on",
            proxy_headers=True,
            forwarded_allow_ips=settings.trusted_proxies,
        )
    return 0


def worker(args: argparse.Namespace) -> int:
    from app.core.db import open_pool
    from worker.supervisor import WorkerGaveUp, WorkerSupervisor

    settings = _settings()
    if warning := base_url_warning(settings, host=""):
        log.warning(
            "worker.base_url_unset", extra={"advice": warning, "base_url": settings.base_url}
        )

    async def run(url: str) -> int:
        pool = await open_pool(url, max_size=args.concurrency + 4)
        # Restarted in-process through a database restart; after BATON_DB_OUTAGE_MAX without a
        # running worker, exit 1 so that systemd, Docker or Kubernetes restart the process.
        supervisor = WorkerSupervisor(
            pool, concurrency=args.concurrency, max_outage_s=settings.db_outage_max_s
        )
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, lambda: asyncio.ensure_future(supervisor.stop()))
        try:
            await supervisor.start()
        except asyncio.CancelledError:
            pass
        except WorkerGaveUp as exc:
            log.error("worker.gave_up", extra={"reason": str(exc)})
            print(f"baton: {exc}", file=sys.stderr)
            return 1
        finally:
            await pool.close(timeout=5)
        return 0

    with database_url(settings) as url:
        _migrate_when_reachable(url, settings.db_outage_max_s)
        return asyncio.run(run(url))
