"""Pytest fixtures for Baton's web and model tests (a plugin: see `pytest_plugins` in tests/conftest.py).

    model_server  the session's scripted OpenAI-compatible server (tests/support/model_server.py)
    model         the same server, reset for this test: script it, read its requests
    model_settings  the session settings pointing OPENAI_BASE_URL at the model server
    app_client    Litestar AsyncTestClient on a Baton using the model server (no worker)
Helpers for driving pages (sign up, CSRF, HTMX headers) are in tests/support/web.py.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import pytest
from litestar.testing import AsyncTestClient
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from app.core.config import Settings
from app.core.llm import LLM
from app.web.auth.passwords import use_hasher
from tests.support.model_server import ModelServer

# Short enough for the hang-until-timeout tests, long enough for a slow CI machine.
TEST_MODEL_TIMEOUT = 2.0


@pytest.fixture(scope="session", autouse=True)
def fast_password_hashing() -> None:
    """Still argon2, with parameters cheap enough for hundreds of sign-ups."""
    use_hasher(PasswordHash((Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1),)))


@pytest.fixture(scope="session")
def model_server() -> Iterator[ModelServer]:
    server = ModelServer().start()
    yield server
    server.stop()


@pytest.fixture
def model(model_server: ModelServer) -> Iterator[ModelServer]:
    model_server.reset()
    yield model_server
    model_server.reset()


@pytest.fixture(scope="session")
def model_settings(settings: Settings, model_server: ModelServer) -> Settings:
    return dataclasses.replace(
        settings,
        openai_base_url=model_server.url,
        openai_api_key="test-key",
        model="scripted-model",
    )


def make_test_llm(settings: Settings) -> LLM:
    return LLM.from_settings(settings, timeout=TEST_MODEL_TIMEOUT)


# Every test client shares one address ("testclient", or 127.0.0.1 for a live server), so the
# per-IP sign-up and login limits would otherwise carry over from test to test.
FORGET_IP_LIMITS = (
    "DELETE FROM rate_events WHERE bucket LIKE 'signup:ip:%' OR bucket LIKE 'login:ip:%'"
)


def forget_ip_limits(database_url: str) -> None:
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(FORGET_IP_LIMITS)


@pytest.fixture
async def app_client(
    model_settings: Settings, database_url: str, model: ModelServer
) -> AsyncIterator[AsyncTestClient]:
    from app.web.app import create_app

    forget_ip_limits(database_url)
    app = create_app(
        model_settings, database_url, run_worker=False, llm=make_test_llm(model_settings)
    )
    async with AsyncTestClient(app) as client:
        client.follow_redirects = False  # tests look at the redirects themselves
        yield client


@asynccontextmanager
async def model_runtime(settings: Settings) -> AsyncIterator[Settings]:
    """Workers of this test process use `settings` and a model client on the scripted server (the
    runtime a `baton worker` builds at start-up); the previous runtime is back afterwards."""
    from app.core import runtime

    llm = make_test_llm(settings)
    previous = runtime.install(runtime.Runtime(settings, llm))
    try:
        yield settings
    finally:
        runtime.install(previous)
        await llm.close()
