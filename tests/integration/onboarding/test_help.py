"""/help over HTTP: the user guide from docs/user, its search, and the slash commands and workflow
catalog read from the code."""

from __future__ import annotations

import html

from app.engine.registry import catalog
from app.web.chat.workflows import COMMANDS
from app.web.help.pages import pages
from tests.support.web import log_in, make_user, new_email, sign_up


async def test_help_lists_the_guide_every_workflow_and_every_slash_command(app_client):
    page = await app_client.get("/help")
    assert page.status_code == 200
    text = html.unescape(page.text)
    for p in pages("user"):
        assert f'href="/help/{p.slug}"' in text and p.title in text
    shown = [wf for wf in catalog() if f'id="wf-{wf.name}"' in text and wf.description in text]
    assert shown == catalog() and len(shown) >= 5
    assert not [
        wf for wf in catalog(include_hidden=True) if wf.hidden and f'id="wf-{wf.name}"' in text
    ]
    for command, (_, field) in COMMANDS.items():
        assert f"{command} <{field}>" in text
    assert "<code>/help</code>" in text


async def test_search_finds_the_sections_that_mention_a_word(app_client):
    page = await app_client.get("/help", params={"q": "approve"})
    assert page.status_code == 200
    assert 'href="/help/workflows-and-approvals"' in page.text.split('id="commands"')[0]
    assert "Reviews: approve, revise, reject" in html.unescape(page.text)

    nothing = await app_client.get("/help", params={"q": "xylophone"})
    assert nothing.status_code == 200 and "Nothing in the help mentions" in html.unescape(
        nothing.text
    )


async def test_a_guide_page_renders_its_markdown_with_links_between_pages(app_client):
    page = await app_client.get("/help/getting-started")
    assert page.status_code == 200
    assert "<h1>Getting started</h1>" in page.text
    assert 'href="/help/chat"' in page.text  # docs/user/chat.md, as the app serves it
    assert (await app_client.get("/help/no-such-page")).status_code == 404


async def test_the_header_links_to_help_signed_in_or_not(app_client):
    assert 'href="/help"' in (await app_client.get("/login")).text
    await sign_up(app_client)
    chat = await app_client.get("/chat/")
    assert chat.status_code == 200 and 'href="/help"' in chat.text


async def test_the_admin_guide_is_for_admins(app_client, pool):
    await sign_up(app_client)
    assert (await app_client.get("/help/admin/setup")).status_code in (403, 404)
    assert "Admin guide" not in (await app_client.get("/help")).text
    admin = await make_user(pool, new_email("admin"), is_admin=True, tier="enterprise")
    await log_in(app_client, admin.email)
    page = await app_client.get("/help/admin/setup")
    assert page.status_code == 200 and "<h1>Setup</h1>" in page.text
    # A link to the operations guide, which the app does not serve, is shown as its path.
    assert "docs/operations.md" in page.text
    assert "Admin guide" in (await app_client.get("/help")).text
