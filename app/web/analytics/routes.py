"""Admin overview (analytics over a period, cost projection), all runs, and model prices."""

from __future__ import annotations

from datetime import datetime

from litestar import Request, Response, Router, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from psycopg_pool import AsyncConnectionPool

from app.engine.registry import catalog
from app.templates.stats import template_stats
from app.web.analytics import store
from app.web.analytics.chart import bars
from app.web.analytics.forms import Price
from app.web.auth import requires_admin
from app.web.auth.forms import parse_form

PERIODS = (7, 30, 90, 365)
STATUSES = ("queued", "running", "sleeping", "waiting", "completed", "failed", "cancelled")
BODY_LIMIT = 16 * 1024


@get("/")
async def overview(
    pool: NamedDependency[AsyncConnectionPool], days: FromQuery[int] = 30
) -> Template:
    days = days if days in PERIODS else 30
    period = store.Period.last_days(days)
    async with pool.connection() as conn:
        stats = await store.analytics(conn, period)
        projection = await store.month_projection(conn)
        templates = await template_stats(conn, period.start, period.end)
    return Template(
        "pages/admin/overview.html",
        context={
            "days": days,
            "periods": PERIODS,
            "period": period,
            "stats": stats,
            "chart": bars(stats["per_day"]),
            "projection": projection,
            "templates": templates,
        },
    )


@get("/runs")
async def runs_page(
    pool: NamedDependency[AsyncConnectionPool],
    user: FromQuery[str] = "",
    status: FromQuery[str] = "",
    workflow: FromQuery[str] = "",
    before: FromQuery[str] = "",
) -> Template:
    email = user.strip().lower()[:254] or None
    status_filter = status if status in STATUSES else None
    try:
        before_ts = datetime.fromisoformat(before) if before else None
    except ValueError:
        before_ts = None
    async with pool.connection() as conn:
        runs, more = await store.all_runs(
            conn,
            email=email,
            status=status_filter,
            workflow=workflow.strip() or None,
            before=before_ts,
        )
    return Template(
        "pages/admin/runs.html",
        context={
            "runs": runs,
            "more": more.isoformat() if more else None,
            "user": email or "",
            "status": status_filter or "",
            "workflow": workflow.strip(),
            "statuses": STATUSES,
            "workflows": [w.name for w in catalog(include_hidden=True)],
        },
    )


async def _prices_page(pool, *, errors=None, values=None, status_code=200) -> Template:
    async with pool.connection() as conn:
        prices = await store.prices(conn)
    return Template(
        "pages/admin/prices.html",
        status_code=status_code,
        context={"prices": prices, "errors": errors or {}, "values": values or {}},
    )


@get("/prices")
async def prices_page(pool: NamedDependency[AsyncConnectionPool]) -> Template:
    return await _prices_page(pool)


@post("/prices", request_max_body_size=BODY_LIMIT)
async def save_price(request: Request, pool: NamedDependency[AsyncConnectionPool]) -> Response:
    form = await parse_form(request, Price)
    if form.data is None:
        return await _prices_page(pool, errors=form.errors, values=form.values, status_code=422)
    async with pool.connection() as conn:
        await store.save_price(
            conn, form.data.model, form.data.input_per_1k, form.data.output_per_1k
        )
    return Redirect("/admin/prices", status_code=303)


@post("/prices/{model:str}/delete")
async def delete_price(
    pool: NamedDependency[AsyncConnectionPool], model: FromPath[str]
) -> Response:
    async with pool.connection() as conn:
        await store.delete_price(conn, model)
    return Redirect("/admin/prices", status_code=303)


router = Router(
    path="/admin",
    guards=[requires_admin],
    route_handlers=[overview, runs_page, prices_page, save_price, delete_price],
)
