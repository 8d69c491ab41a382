"""The research-team workflow: researcher → validate (edited) sources → writer → editor →
fact-checker → final review; iterate sends feedback to the writer; approve publishes."""

from __future__ import annotations

from app.workflows.research import split_research
from tests.integration.workflows.conftest import agent_of, waiting_hook
from tests.integration.workflows.test_content_workflow import decide, rows
from tests.support.engine import make_user, start, wait_status


def test_sources_are_read_from_the_researchers_list():
    text = "Notes.\n\n**Sources:**\n1. Alpha report\n- https://b.example\n* C book\n\nAfterword."
    assert split_research(text) == {
        "notes": "Notes.",
        "sources": ["Alpha report", "https://b.example", "C book"],
    }
    assert split_research("Only notes") == {"notes": "Only notes", "sources": []}


async def test_edited_sources_reach_the_writer_and_iterate_feeds_back(pool, worker, agents):
    user = await make_user(pool, "premium")
    run = await start(pool, user, "multi-agent", topic="Urban beekeeping", audience="city councils")
    sources = await waiting_hook(pool, run.id, "validate sources")
    assert sources["show"]["edit"]["lines"] == [
        "https://example.org/one",
        "https://example.org/two",
    ]
    assert sources["actions"] == ["approve", "reject"]
    await decide(
        pool, sources, "approve", sources=["https://example.org/two", "Council report 2024"]
    )

    review = await waiting_hook(pool, run.id, "final review")
    article = review["show"]["content"]
    assert article.startswith(
        "Checked: Edited: Article citing - https://example.org/two - Council report 2024."
    )
    assert "example.org/one" not in article
    agents_called = [agent_of(r) for r in agents.requests]
    assert agents_called == ["researcher", "team-writer", "team-editor", "fact-checker"]
    await decide(pool, review, "iterate", feedback="Add a safety section")

    again = await waiting_hook(pool, run.id, "final review (2)")
    assert "Applied: Add a safety section" in again["show"]["content"]
    await decide(pool, again, "approve")
    done = await wait_status(pool, run.id, "completed")
    assert done["output"]["published"] is True and done["output"]["iterations"] == 1
    files = await rows(
        pool, "SELECT name, content_type FROM artifacts WHERE run_id = %s ORDER BY name", run.id
    )
    assert [f["name"] for f in files] == ["urban-beekeeping.md", "urban-beekeeping.pdf"]
    steps = [
        r["name"]
        for r in await rows(
            pool,
            "SELECT name FROM run_steps WHERE run_id = %s AND kind <> 'now' ORDER BY seq",
            run.id,
        )
    ]
    assert steps == [
        "research",
        "validate sources",
        "writer",
        "editor",
        "fact-checker",
        "final review",
        "writer (2)",
        "editor (2)",
        "fact-checker (2)",
        "final review (2)",
        "publish",
    ]


async def test_rejecting_the_sources_stops_the_team(pool, worker, agents):
    user = await make_user(pool, "premium")
    run = await start(pool, user, "multi-agent", topic="Nothing good")
    await decide(pool, await waiting_hook(pool, run.id, "validate sources"), "reject")
    done = await wait_status(pool, run.id, "completed")
    assert done["output"] == {
        "published": False,
        "stopped_at": "validate sources",
        "expired": False,
        "title": "Nothing good",
    }
