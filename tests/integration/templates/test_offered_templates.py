"""The saved templates the chat offers the model with each reply: the ones the user may run, in
the template pages' order, and always as their current document — parsed once per content, so a
new version, or a version rewritten under the same number (another database, a restore of a
dump), is never offered with the input model of the document before it."""

from __future__ import annotations

import copy
import json

from psycopg.types.json import Jsonb

from app.core.llm import Completion, ToolCall
from app.templates import store
from app.web.chat import proposals
from app.web.chat.proposals import proposable_templates, proposal_from, proposal_tools
from tests.integration.templates.test_template_runs import REPORT


def _proposal(slug: str, **input) -> Completion:
    arguments = json.dumps({"workflow": f"template:{slug}", "input": input})
    return Completion(text="", tool_calls=(ToolCall("c1", "propose_workflow", arguments),))


def _offered(offers, slug: str) -> str:
    [line] = [
        part
        for part in proposal_tools(offers)[0]["function"]["description"].split("; ")
        if part.startswith(f"template:{slug} ")
    ]
    return line.removesuffix(".")


async def test_an_edited_template_is_offered_with_its_new_inputs(pool, user):
    async with pool.connection() as conn:
        tpl = await store.create_template(conn, owner_id=user, document=REPORT)
        offers = await proposable_templates(conn, user)
        listed = await store.list_templates(conn, user_id=user)
        # The pages' order, each slug once (the model names a template by its slug; the
        # gallery may hold one with the slug of the user's own).
        slugs = list(dict.fromkeys(t["slug"] for t in listed["mine"] + listed["gallery"]))
        assert [o.slug for o in offers] == slugs[: proposals.PROPOSED_TEMPLATES]
        assert offers[0].slug == tpl["slug"] and offers[0].choice.version == 1
        assert _offered(offers, tpl["slug"]).endswith("takes topic")

        v2 = copy.deepcopy(REPORT)
        v2["inputs"].append({"name": "audience", "label": "Audience", "kind": "short_text"})
        await store.save_version(conn, user_id=user, template_id=tpl["id"], document=v2)
        offers = await proposable_templates(conn, user)
        assert offers[0].choice.version == 2
        assert _offered(offers, tpl["slug"]).endswith("takes topic, audience")
        assert proposal_from(_proposal(tpl["slug"], topic="otters"), offers) is None
        proposed = proposal_from(_proposal(tpl["slug"], topic="otters", audience="kids"), offers)
        assert proposed["input"] == {"topic": "otters", "audience": "kids"}
        assert proposed["template_id"] == tpl["id"]

        # The same template id and version number with other content (what another database, or
        # a database restored from a dump, holds): offered as the content it has now.
        v3 = copy.deepcopy(REPORT)
        v3["title"] = "Rewritten report"
        v3["inputs"] = [{"name": "subject", "label": "Subject", "kind": "short_text"}]
        v3["blocks"][0]["prompt"] = "Write about {{ inputs.subject }}."
        v3["blocks"][3]["doc_title"] = "On {{ inputs.subject }}"
        await conn.execute(
            "UPDATE template_versions SET document = %s WHERE template_id = %s AND version = 2",
            (Jsonb(v3), tpl["id"]),
        )
        offers = await proposable_templates(conn, user)
        line = _offered(offers, tpl["slug"])
        assert "Rewritten report" in line and line.endswith("takes subject")
        proposed = proposal_from(_proposal(tpl["slug"], subject="otters"), offers)
        assert proposed["input"] == {"subject": "otters"}


async def test_the_parsed_documents_stay_bounded_and_still_offer_every_template(
    pool, user, monkeypatch
):
    monkeypatch.setattr(proposals, "PARSED_DOCUMENTS", 2)
    async with pool.connection() as conn:
        made = []
        for n in range(4):
            doc = copy.deepcopy(REPORT)
            doc["title"] = f"Bounded {n}"
            doc["inputs"][0]["name"] = f"topic_{n}"
            doc["blocks"][0]["prompt"] = f"Write about {{{{ inputs.topic_{n} }}}}."
            doc["blocks"][3]["doc_title"] = f"On {{{{ inputs.topic_{n} }}}}"
            made.append(await store.create_template(conn, owner_id=user, document=doc))
        for _ in range(2):  # parsed afresh, then partly from the cache: the same offers
            offers = await proposable_templates(conn, user)
            assert len(proposals._parsed) <= 2
            for n, tpl in enumerate(made):
                assert _offered(offers, tpl["slug"]).endswith(f"takes topic_{n}")
