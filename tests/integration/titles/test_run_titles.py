"""Issue 13, item 6: a run is titled by what it is about (topic or prompt, file names, repository and
branch), however it was started: the JSON API, `baton runs start`, the chat."""

from __future__ import annotations

import json
import uuid

from tests.integration.api.conftest import new_account
from tests.integration.engine.test_cli_runs import baton


async def _started_title(api, account, workflow: str, input: dict, **extra) -> str:
    response = await api.post(
        "/api/v1/runs",
        headers=account.headers,
        json={"workflow": workflow, "input": input, **extra},
    )
    assert response.status_code == 201, response.text
    return response.json()["title"]


async def test_api_runs_are_titled_from_their_input(api, pool):
    account = await new_account(pool)
    assert (
        await _started_title(
            api,
            account,
            "content-generation",
            {"prompt": "A short guide to composting in small flats"},
        )
        == "A short guide to composting in small flats"
    )
    assert (
        await _started_title(
            api,
            account,
            "code-review",
            {
                "repository": "https://git.example.com/acme/shop.git",
                "base": "main",
                "head": "feature/cart",
            },
        )
        == "shop: feature/cart → main"
    )
    assert (
        await _started_title(
            api,
            account,
            "data-analysis",
            {
                "file": {"artifact_id": str(uuid.uuid4()), "name": "sales.csv", "size": 10},
                "question": "Which region grew?",
            },
        )
        == "sales.csv: Which region grew?"
    )
    documents = [
        {"artifact_id": str(uuid.uuid4()), "name": f"report-{i}.pdf", "size": 10} for i in range(5)
    ]
    assert (
        await _started_title(
            api,
            account,
            "document-processing",
            {"documents": documents, "question": "What changed?"},
        )
        == "report-0.pdf and 4 more: What changed?"
    )
    # A title given wins; a long prompt is cut near 80 characters at a word.
    assert (
        await _started_title(
            api,
            account,
            "content-generation",
            {"prompt": "Anything at all"},
            title="  Spring   newsletter ",
        )
        == "Spring newsletter"
    )
    long = await _started_title(api, account, "multi-agent", {"topic": "word " * 60})
    assert long.endswith("…") and len(long) <= 81


async def test_cli_runs_are_titled_from_their_input(database_url, tmp_path, pool):
    account = await new_account(pool)
    async with pool.connection() as conn:
        email = (
            await (
                await conn.execute("SELECT email FROM users WHERE id = %s", (account.user_id,))
            ).fetchone()
        )["email"]
    started = await baton(
        database_url,
        tmp_path,
        "runs",
        "start",
        "content-generation",
        "--as",
        email,
        "--input",
        json.dumps({"prompt": "Quarterly report for the board"}),
        "--json",
    )
    assert started.returncode == 0, started.stderr
    assert json.loads(started.stdout)["title"] == "Quarterly report for the board"
    named = await baton(
        database_url,
        tmp_path,
        "runs",
        "start",
        "multi-agent",
        "--as",
        email,
        "--input",
        json.dumps({"topic": "Heat pumps"}),
        "--title",
        "Heat pump study",
        "--json",
    )
    assert named.returncode == 0, named.stderr
    assert json.loads(named.stdout)["title"] == "Heat pump study"
