"""Versions, restore, sharing by link, the gallery, "Use", drafts and delete, as the store answers them."""

from __future__ import annotations

import copy

import pytest

from app.templates import store
from tests.integration.templates.test_template_runs import REPORT
from tests.support.engine import make_user

WITH_EMAIL = copy.deepcopy(REPORT)
WITH_EMAIL["blocks"][1]["assignee"] = "boss@example.com"


async def test_versions_and_restore_make_a_new_version(pool, user):
    async with pool.connection() as conn:
        tpl = await store.create_template(conn, owner_id=user, document=REPORT)
        v2 = copy.deepcopy(REPORT)
        v2["title"] = "Second"
        await store.save_version(conn, user_id=user, template_id=tpl["id"], document=v2)
        restored = await store.restore_version(conn, user_id=user, template_id=tpl["id"], version=1)
        assert restored["current_version"] == 3 and restored["title"] == "Reviewed report"
        history = await store.list_versions(conn, user_id=user, template_id=tpl["id"])
        assert [v["version"] for v in history] == [3, 2, 1]
        with pytest.raises(store.TemplateInvalid):
            await store.save_version(
                conn, user_id=user, template_id=tpl["id"], document={"title": "x", "blocks": []}
            )
        assert (await store.get_template(conn, user_id=user, template_id=tpl["id"]))[
            "current_version"
        ] == 3


async def test_share_link_shared_with_me_and_revoke(pool, user):
    other = await make_user(pool)
    async with pool.connection() as conn:
        tpl = await store.create_template(conn, owner_id=user, document=REPORT)
        shared = await store.set_visibility(
            conn, user_id=user, template_id=tpl["id"], visibility="link"
        )
        token = shared["share_token"]
        assert token
        with pytest.raises(store.TemplateNotFound):  # not before opening the link
            await store.get_template(conn, user_id=other, template_id=tpl["id"])
        await store.open_share_link(conn, user_id=other, token=token)
        assert [t["id"] for t in (await store.list_templates(conn, user_id=other))["shared"]] == [
            tpl["id"]
        ]
        assert (await store.get_template(conn, user_id=other, slug=tpl["slug"]))["id"] == tpl["id"]
        with pytest.raises(store.TemplateNotFound):  # read-only: only the owner saves
            await store.save_version(conn, user_id=other, template_id=tpl["id"], document=REPORT)
        await store.set_visibility(conn, user_id=user, template_id=tpl["id"], visibility="private")
        with pytest.raises(store.TemplateNotFound):
            await store.open_share_link(conn, user_id=other, token=token)
        with pytest.raises(store.TemplateNotFound):
            await store.get_template(conn, user_id=other, template_id=tpl["id"])
        assert (await store.list_templates(conn, user_id=other))["shared"] == []


async def test_use_copies_without_emails_and_later_edits_do_not_change_the_copy(pool, user):
    other = await make_user(pool)
    async with pool.connection() as conn:
        tpl = await store.create_template(conn, owner_id=user, document=WITH_EMAIL)
        with pytest.raises(store.TemplateNotFound):
            await store.use_template(conn, user_id=other, template_id=tpl["id"])
        await store.set_visibility(conn, user_id=user, template_id=tpl["id"], visibility="gallery")
        copy_row = await store.use_template(conn, user_id=other, template_id=tpl["id"])
        assert copy_row["owner_id"] == other and copy_row["copied_from"] == tpl["id"]
        edited = copy.deepcopy(WITH_EMAIL)
        edited["title"] = "Changed by the author"
        await store.save_version(conn, user_id=user, template_id=tpl["id"], document=edited)
        mine = await store.get_document(
            conn, await store.get_template(conn, user_id=other, template_id=copy_row["id"])
        )
        assert mine["title"] == "Reviewed report" and "assignee" not in mine["blocks"][1]
        await store.unpublish(conn, template_id=tpl["id"])
        with pytest.raises(store.TemplateNotFound):
            await store.get_template(conn, user_id=other, template_id=tpl["id"])


async def test_drafts_autosave_per_user_and_template(pool, user):
    other = await make_user(pool)
    async with pool.connection() as conn:
        tpl = await store.create_template(conn, owner_id=user, document=REPORT)
        await store.put_draft(
            conn, user_id=user, template_id=None, document={"title": "new, half done"}
        )
        await store.put_draft(
            conn, user_id=user, template_id=tpl["id"], document={"title": "editing"}
        )
        await store.put_draft(
            conn, user_id=user, template_id=tpl["id"], document={"title": "editing more"}
        )
        assert (await store.get_draft(conn, user_id=user, template_id=None))["document"][
            "title"
        ] == "new, half done"
        assert (await store.get_draft(conn, user_id=user, template_id=tpl["id"]))["document"][
            "title"
        ] == "editing more"
        with pytest.raises(store.TemplateNotFound):
            await store.put_draft(conn, user_id=other, template_id=tpl["id"], document={})
        await store.save_version(conn, user_id=user, template_id=tpl["id"], document=REPORT)
        assert await store.get_draft(conn, user_id=user, template_id=tpl["id"]) is None


async def test_delete_hides_the_template_and_frees_its_slug(pool, user):
    async with pool.connection() as conn:
        tpl = await store.create_template(conn, owner_id=user, document=REPORT, slug="gone")
        await store.delete_template(conn, user_id=user, template_id=tpl["id"])
        with pytest.raises(store.TemplateNotFound):
            await store.get_template(conn, user_id=user, slug="gone")
        again = await store.create_template(conn, owner_id=user, document=REPORT, slug="gone")
        assert again["id"] != tpl["id"]
        with pytest.raises(store.TemplateInvalid):
            await store.create_template(conn, owner_id=user, document=REPORT, slug="gone")
