"""The Litestar application: routes from each area, templates, static files, and the lifespan that
owns the pool and (unless `--no-worker`) an in-process worker."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg
from litestar import Litestar, Request, Response
from litestar.di import Provide
from litestar.exceptions import HTTPException, NotFoundException
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from app.core import runtime
from app.core.config import Settings
from app.core.db import open_pool
from app.core.llm import LLM
from app.core.paths import STATIC_DIR, TEMPLATES_DIR
from app.engine.errors import HookNotFound, ReplayNotFound, RunNotFound, WorkflowNotFound
from app.templates.starters import load_starters
from app.web import (
    admin,
    analytics,
    api,
    approvals,
    audit,
    builder,
    chat,
    code_review,
    connectors,
    errors,
    help,
    live,
    notifications,
    onboarding,
    publishing,
    runs,
    schedules,
    teams,
    template_filters,
    triggers,
    uploads,
    webhooks,
)
from app.web.auth import mount as auth
from app.web.health.routes import healthz
from app.web.home.routes import home
from app.web.json_errors import UNAVAILABLE_RETRY_S
from app.web.metrics.routes import metrics
from app.web.runs import files as run_files
from app.web.runs.panels import register_panels
from app.web.security_headers import add_security_headers
from app.web.settings import display_router, theme_router
from app.web.settings import router as settings_router
from app.web.state import Services, provide_pool, provide_settings
from worker.supervisor import WorkerSupervisor

log = logging.getLogger("baton.web")
NOT_FOUND = (RunNotFound, HookNotFound, WorkflowNotFound, ReplayNotFound, errors.NotFound)


def _error_page(request: Request, exc: Exception) -> Response:
    if request.url.path.startswith(("/api/", "/hooks/")):
        return api.handle(request, exc)  # JSON errors, mapped in one place
    # A run, hook or conversation that is not the user's (or does not exist) is a 404 page wherever it was looked up.
    if isinstance(
        exc, psycopg.OperationalError
    ):  # the database restarts or fails over: retry, not a bug
        log.warning(
            "web.unavailable", extra={"path": request.url.path, "error": type(exc).__name__}
        )
        return Template(
            "pages/503.html", status_code=503, headers={"Retry-After": str(UNAVAILABLE_RETRY_S)}
        )
    status = (
        exc.status_code
        if isinstance(exc, HTTPException)
        else 404
        if isinstance(exc, NOT_FOUND)
        else 403
        if isinstance(exc, errors.FORBIDDEN)
        else 500
    )
    if status >= 500:
        log.error("web.unhandled", exc_info=exc, extra={"path": request.url.path})
    template = (
        "pages/404.html"
        if status == 404
        else "pages/500.html"
        if status >= 500
        else "pages/error.html"
    )
    detail = exc.detail if isinstance(exc, HTTPException) and status < 500 else ""
    if isinstance(exc, errors.FORBIDDEN):  # the role may not: say so (app/web/errors.py)
        detail = errors.forbidden_reason(exc)
    return Template(template, context={"status": status, "detail": detail}, status_code=status)


def create_app(
    settings: Settings, database_url: str, *, run_worker: bool = True, llm: LLM | None = None
) -> Litestar:
    """`llm` replaces the model client built from settings (tests pass one with short timeouts)."""
    # Each workflow's section of the run card, from the web module of that workflow.
    register_panels(uploads.PANELS, code_review.PANELS, publishing.PANELS)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        pool = await open_pool(database_url)
        app.state.services = Services(settings=settings, pool=pool)
        async with pool.connection() as conn:  # the gallery's starter templates (idempotent)
            await load_starters(conn, settings.data_dir / "starters")
        # Restarted with backoff whenever it stops (a database restart); /healthz reports it.
        worker = WorkerSupervisor(pool) if run_worker else None
        app.state.worker = worker
        # The worker's steps and mail use these settings and model client (app/core/runtime.py).
        restore_runtime = runtime.install_for_worker(settings, llm) if worker else None
        if worker:
            worker.start()
        try:
            yield
        finally:
            if worker:
                await worker.stop()
            if restore_runtime:
                await restore_runtime()
            await pool.close()

    return Litestar(
        route_handlers=[
            home,
            healthz,
            metrics,
            *auth.routes,
            chat.router,
            *chat.workflow_routers,
            runs.picker_router,
            runs.cards_router,
            *uploads.routers(settings),  # file workflows: start forms, reviews, reports
            approvals.router,
            approvals.review_router,
            notifications.router,
            notifications.unsubscribe_router,
            run_files.router,
            admin.outbox_router,
            admin.router,
            admin.setup_router,
            analytics.router,
            runs.router,
            builder.router,
            runs.rename_router,
            schedules.router,
            runs.rerun_router,
            runs.replay_router,
            api.router,
            webhooks.router,
            *triggers.routers,
            settings_router,
            display_router,
            theme_router,
            help.router,
            *teams.routers,
            audit.router,
            onboarding.router,
            connectors.router,
            publishing.router,
            code_review.router,
            code_review.hooks_router,
            create_static_files_router(
                path="/static", directories=[STATIC_DIR], include_in_schema=False
            ),
        ],
        dependencies={"pool": Provide(provide_pool), "settings": Provide(provide_settings)},
        middleware=auth.middleware,
        before_send=[add_security_headers],  # CSP, framing, Referer, nosniff: on every response
        # Entered in order, left in reverse: the chat needs the pool and the live hub.
        lifespan=[lifespan, live.lifespan(database_url), chat.lifespan(llm)],
        template_config=TemplateConfig(
            directory=TEMPLATES_DIR,
            engine=JinjaTemplateEngine,
            engine_callback=template_filters.register,
        ),
        exception_handlers={
            HTTPException: _error_page,
            NotFoundException: _error_page,
            Exception: _error_page,
            **auth.exception_handlers,
        },
        openapi_config=api.openapi_config(),
        include_in_schema=False,  # pages stay out of the OpenAPI schema; the API router opts in
        debug=False,
        logging_config=None,
    )
