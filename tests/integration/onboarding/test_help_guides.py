"""Every page of both guides opens in the app, in reading order, and an admin's search reaches the
admin guide's new pages (monitoring, configuration, troubleshooting)."""

from __future__ import annotations

import html

from app.web.help.pages import BOOKS, pages
from tests.support.web import log_in, make_user, new_email


async def test_an_admin_opens_every_page_of_both_guides_and_searches_the_admin_one(
    app_client, pool
):
    admin = await make_user(pool, new_email("admin"), is_admin=True, tier="enterprise")
    await log_in(app_client, admin.email)
    for book in BOOKS:
        named = BOOKS[book][1]
        assert [p.slug for p in pages(book)][: len(named)] == list(named), (
            f"{book}: a page named in BOOKS is missing"
        )
        for p in pages(book):
            page = await app_client.get(p.url)
            assert page.status_code == 200, p.url
            assert f"<h1>{html.escape(p.title, quote=False)}</h1>" in page.text, p.url

    found = html.unescape((await app_client.get("/help", params={"q": "queue lag"})).text)
    assert 'href="/help/admin/monitoring"' in found
    found = html.unescape((await app_client.get("/help", params={"q": "BATON_METRICS_TOKEN"})).text)
    assert 'href="/help/admin/configuration"' in found
