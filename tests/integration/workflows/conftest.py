"""Fixtures for the workflow tests: the worker's runtime pointed at the scripted model server, an
agent-aware model script, waiting for a run's hooks, and a real SMTP server (`smtp`) the worker sends to."""

from __future__ import annotations

import asyncio
import dataclasses
import email
import time
from email.policy import default as default_policy

import pytest
from aiosmtpd.controller import Controller

from app.core import runtime
from tests.support.fixtures import make_test_llm, model_runtime
from tests.support.live_server import free_port
from tests.support.model_server import Reply

# Which agent a request is for, from the system prompt of app/workflows/*.py.
AGENTS = {
    "professional writer": "writer",
    "professional editor revising": "reviser",
    "research agent": "researcher",
    "writer of a writing team": "team-writer",
    "editor of a writing team": "team-editor",
    "fact-checker of a writing team": "fact-checker",
}


def agent_of(request) -> str:
    system = (request.body or {}).get("messages", [{}])[0].get("content", "")
    return next((agent for key, agent in AGENTS.items() if key in system), "chat")


def scripted_agents(request):
    """Deterministic answers per agent, quoting what they were given, so tests can follow the
    data through the workflow (feedback into the revision, edited sources into the writer)."""
    prompt = request.last_user_message
    agent = agent_of(request)
    if agent == "writer":
        return Reply("## Draft\n\nThe first draft of the document.", tokens_in=40)
    if agent == "reviser":
        feedback = prompt.split("The reviewer's feedback:\n<<<\n", 1)[-1].split("\n>>>", 1)[0]
        return Reply(f"## Revised\n\nThe revised document, applying: {feedback}", tokens_in=60)
    if agent == "researcher":
        return Reply(
            "Notes on the topic.\n\nSources:\n- https://example.org/one\n- https://example.org/two\n",
            tokens_in=30,
        )
    if agent == "team-writer":
        sources = prompt.split("Validated sources:\n", 1)[-1].split("\n\n", 1)[0].replace("\n", " ")
        feedback = (
            prompt.split("The reviewer's feedback to apply:\n<<<\n", 1)[-1].split("\n>>>", 1)[0]
            if "feedback to apply" in prompt
            else ""
        )
        return Reply(f"Article citing {sources}.{' Applied: ' + feedback if feedback else ''}")
    if agent == "team-editor":
        return Reply("Edited: " + prompt.split("Article:\n", 1)[-1])
    if agent == "fact-checker":
        return Reply("Checked: " + prompt.split("Article:\n", 1)[-1])
    return Reply(f"Echo: {prompt}")


@pytest.fixture
def agents(model):
    model.handler = scripted_agents
    return model


@pytest.fixture(autouse=True)
async def worker_runtime(model_settings):
    """Workers in this process call the scripted model server and keep mail in the outbox."""
    async with model_runtime(model_settings) as installed:
        yield installed


async def waiting_hook(pool, run_id, name: str | None = None, timeout: float = 10.0) -> dict:
    """The run's waiting hook (with that name), once the run waits on it."""
    deadline = time.monotonic() + timeout
    while True:
        async with pool.connection() as conn:
            row = await (
                await conn.execute(
                    "SELECT h.*, r.status AS run_status, r.error AS run_error FROM hooks h JOIN runs r ON r.id = h.run_id "
                    "WHERE h.run_id = %s AND h.status = 'waiting' ORDER BY h.seq DESC LIMIT 1",
                    (run_id,),
                )
            ).fetchone()
            if row is None:
                run = await (
                    await conn.execute("SELECT status, error FROM runs WHERE id = %s", (run_id,))
                ).fetchone()
        if row and row["run_status"] == "waiting" and (name is None or row["name"] == name):
            return row
        if time.monotonic() > deadline:
            state = (row["run_status"], row["name"]) if row else (run["status"], run["error"])
            raise AssertionError(f"run {run_id} has no waiting hook {name!r}: {state}")
        await asyncio.sleep(0.02)


# -- a real SMTP server (aiosmtpd) that the worker sends to ------------------------------------------


class Inbox:
    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=default_policy))
        return "250 OK"

    async def wait_for(self, subject_start: str, count: int = 1, timeout: float = 10.0) -> list:
        deadline = time.monotonic() + timeout
        while True:
            found = [m for m in self.messages if m["Subject"].strip().startswith(subject_start)]
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"no mail {subject_start!r}; got {[m['Subject'] for m in self.messages]}"
                )
            await asyncio.sleep(0.05)


@pytest.fixture
async def smtp(model_settings):
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings = dataclasses.replace(
        model_settings,
        smtp_url=f"smtp://127.0.0.1:{controller.port}",
        base_url="http://baton.test",
        mail_from="baton@baton.test",
    )
    llm = make_test_llm(settings)
    previous = runtime.install(runtime.Runtime(settings, llm))
    yield inbox
    runtime.install(previous)
    await llm.close()
    controller.stop()
