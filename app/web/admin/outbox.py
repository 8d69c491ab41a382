"""/admin/outbox: every mail Baton queued, with its status; where mail lands when no SMTP_URL is
set (status `held`), so an administrator can still read it. Admins only."""

from __future__ import annotations

from litestar import Router, get
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Template
from psycopg_pool import AsyncConnectionPool

from app.core.mail import get_mail, list_outbox
from app.web.auth import requires_admin


@get("/")
async def outbox_page(
    pool: NamedDependency[AsyncConnectionPool], before: FromQuery[int | None] = None
) -> Template:
    async with pool.connection() as conn:
        mails, more = await list_outbox(conn, before)
    return Template("pages/admin/outbox.html", context={"mails": mails, "more": more})


@get("/{mail_id:int}")
async def mail_page(pool: NamedDependency[AsyncConnectionPool], mail_id: FromPath[int]) -> Template:
    async with pool.connection() as conn:
        mail = await get_mail(conn, mail_id)
    if mail is None:
        raise NotFoundException()
    return Template(
        "pages/admin/mail.html", context={"mail": mail}, headers={"Cache-Control": "no-store"}
    )


outbox_router = Router(
    path="/admin/outbox", guards=[requires_admin], route_handlers=[outbox_page, mail_page]
)
