"""Fixtures for the document and data workflows: the worker's runtime on the scripted model server,
model answers per agent, and starting a run with uploaded files the way the start page does."""

from __future__ import annotations

import dataclasses
import re

import pytest

import app.workflows.data_analysis  # noqa: F401  (registers the workflows)
import app.workflows.documents  # noqa: F401
from app.engine.commands import start_run
from app.engine.rows import StartedRun
from app.steps.run_files import attach_uploads, store_uploads
from tests.support.fixtures import model_runtime
from tests.support.model_server import Reply

_DOC = re.compile(r"^Document: (.+?) \((\d+) pages\)", re.M)


def doc_agents(request):
    """Summaries cite page 2 of their document; the analysis cites every summary's citations."""
    system = (request.body or {}).get("messages", [{}])[0].get("content", "")
    prompt = request.last_user_message
    if "careful document analyst" in system:
        name = _DOC.search(prompt).group(1)
        return Reply(
            f"The document {name} discusses growth [{name} p.2].", tokens_in=50, tokens_out=12
        )
    if "research analyst comparing" in system:
        cites = " ".join(sorted(set(re.findall(r"\[[^\[\]]+ p\.\d+\]", prompt))))
        return Reply(
            f"## Comparison\n\nThe documents agree on growth {cites}. Also [ghost.pdf p.9].",
            tokens_in=80,
        )
    return Reply("Echo")


@pytest.fixture
def doc_model(model):
    model.handler = doc_agents
    return model


@pytest.fixture(autouse=True)
async def worker_runtime(model_settings):
    """Workers of this process call the scripted model server; a high summary rate so that tests
    sharing the database never wait for each other's window (the limit itself has its own test)."""
    settings = dataclasses.replace(model_settings, doc_summary_rate=(10_000, 60.0))
    async with model_runtime(settings) as installed:
        yield installed


async def start_with_files(
    pool, user: int, workflow: str, files: list[tuple[str, str, bytes]], **input
) -> StartedRun:
    """Store the files as uploads and start the run with their references, in one transaction."""
    async with pool.connection() as conn, conn.transaction():
        ids = await store_uploads(
            conn,
            user,
            [
                {"name": f"input/{i + 1:02d}-{name}", "content_type": ctype, "data": data}
                for i, (name, ctype, data) in enumerate(files)
            ],
        )
        refs = [
            {"artifact_id": i, "name": name, "size": len(data)}
            for i, (name, _, data) in zip(ids, files, strict=True)
        ]
        if workflow == "document-processing":
            input = {"documents": refs, **input}
        else:
            input = {"file": refs[0], **input}
        run, _ = await start_run(conn, owner_id=user, workflow=workflow, input=input)
        await attach_uploads(conn, ids, run.id)
    return run
