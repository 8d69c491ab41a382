"""A page asked for while the database restarts answers 503 with Retry-After and a page that says
to try again — not a 500 "something went wrong" (the chaos soak saw one on a decision POST)."""

from __future__ import annotations

import dataclasses

from psycopg_pool import AsyncConnectionPool

from tests.support.web import sign_up


async def test_pages_while_the_database_is_unreachable_are_503_with_retry_after(app_client):
    await sign_up(app_client)
    services = app_client.app.state.services
    unreachable = AsyncConnectionPool(
        "postgresql://baton@127.0.0.1:9/nothing",
        open=False,
        timeout=1.0,
        min_size=1,
        max_size=1,
        reconnect_timeout=2.0,
    )
    await unreachable.open(wait=False)
    app_client.app.state.services = dataclasses.replace(services, pool=unreachable)
    try:
        for method, path in (("GET", "/chat"), ("GET", "/approvals"), ("POST", "/approvals/1")):
            response = await app_client.request(method, path)
            assert response.status_code == 503, (method, path, response.status_code)
            assert response.headers["retry-after"].isdigit()
            assert "Back in a moment" in response.text and "send it again" in response.text
    finally:
        app_client.app.state.services = services
        await unreachable.close()
