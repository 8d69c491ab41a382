"""Property-based fuzzing of the API with schemathesis, from its own /api/openapi.json: whatever
the input (valid or not, per the schema), the API never answers with a 5xx, and every status it
answers is one the document lists for that operation.

The schema is built at import (schemathesis parametrizes tests at collection; its lazy
`from_fixture` loader does not work with pytest 9) from the app's route definitions, and a test
checks that the live server serves exactly this document at /api/openapi.json. Bounded for CI: a
live server in a thread, MAX_EXAMPLES per operation, no deadline per example.
"""

from __future__ import annotations

import tempfile

import httpx
import psycopg
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error, status_code_conformance

from app.core.config import load_settings
from app.web.auth.api_keys import generate_key
from tests.support.live_server import LiveServer

MAX_EXAMPLES = 30

# Two statements: the user's personal space (which the key belongs to) is made when the first ends.
CREATE_USER = """
INSERT INTO users (email, tier) VALUES ('fuzz-' || gen_random_uuid() || '@example.test', 'enterprise')
RETURNING id
"""
CREATE_KEY = "INSERT INTO api_keys (user_id, name, prefix, key_hash) VALUES (%s, 'fuzz', %s, %s)"


@pytest.fixture(scope="module")
def fuzz_server(settings, database_url):
    from app.web.app import create_app

    new = generate_key()
    with psycopg.connect(database_url, autocommit=True) as conn:
        user_id = conn.execute(CREATE_USER).fetchone()[0]
        conn.execute(CREATE_KEY, (user_id, new.prefix, new.key_hash))
    server = LiveServer(create_app(settings, database_url, run_worker=False)).start()
    server.key = new.key
    yield server
    server.stop()


def _openapi_document() -> dict:
    """What /api/openapi.json serves; it depends on the routes only (no database is touched)."""
    from app.web.app import create_app

    settings = load_settings(
        {
            "DATABASE_URL": "postgresql://unused/unused",
            "BATON_SECRET_KEY": "x" * 32,
            "BATON_DATA_DIR": tempfile.gettempdir(),
        }
    )
    return create_app(
        settings, "postgresql://unused/unused", run_worker=False
    ).openapi_schema.to_schema()


DOCUMENT = _openapi_document()
schema = schemathesis.openapi.from_dict(DOCUMENT)


def test_the_fuzzed_schema_is_the_one_served(fuzz_server):
    assert httpx.get(f"{fuzz_server.url}/api/openapi.json").json() == DOCUMENT


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.function_scoped_fixture,
    ],
)
def test_no_input_makes_the_api_fail(case, fuzz_server):
    case.call_and_validate(
        base_url=fuzz_server.url,
        headers={"Authorization": f"Bearer {fuzz_server.key}"},
        checks=[not_a_server_error, status_code_conformance],
        timeout=10,
    )
