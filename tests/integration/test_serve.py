"""`baton serve` as a user runs it: embedded PostgreSQL, web and worker in one process."""

from __future__ import annotations

import json
import re
import socket
import time

import httpx
import psycopg
import pytest

from app.core.config import base_url_warning, load_settings, with_served_base_url
from app.core.database import database_url
from tests.integration.baton_process import baton_serve, free_port, run_baton, scratch_dir


@pytest.fixture(scope="module")
def workdir():
    with scratch_dir() as path:
        yield path


@pytest.fixture(scope="module")
def server(workdir):
    data_dir = workdir / "data"
    with baton_serve(workdir, BATON_DATA_DIR=str(data_dir), BATON_LOG_FORMAT="json") as server:
        yield server


def healthz_when_worker_seen(url: str, timeout: float = 10) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        body = httpx.get(f"{url}/healthz", timeout=5).json()
        if body.get("worker") or time.monotonic() > deadline:
            return body
        time.sleep(0.1)


def test_serve_answers_the_home_page_and_healthz(server):
    home = httpx.get(server.url, timeout=5, follow_redirects=True)  # / sends visitors to /login
    assert home.status_code == 200
    assert "text/html" in home.headers["content-type"]
    assert "<title>" in home.text and "Baton" in home.text

    health = healthz_when_worker_seen(server.url)
    assert health == {"ok": True, "database": True, "migrations_current": True, "worker": True}


def test_an_unknown_path_gets_the_friendly_404_page(server):
    response = httpx.get(f"{server.url}/no/such/page", timeout=5)
    assert response.status_code == 404
    assert "text/html" in response.headers["content-type"]
    assert "Not found" in response.text
    assert 'href="/"' in response.text  # a way back, inside the normal layout
    assert "Traceback" not in response.text


def test_a_second_serve_on_the_same_data_dir_fails_and_the_first_keeps_serving(server, workdir):
    second = run_baton(
        "serve",
        "--port",
        str(free_port()),
        cwd=workdir,
        timeout=30,
        BATON_DATA_DIR=str(server.data_dir),
    )

    assert second.returncode != 0
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1, second.stderr
    assert "in use" in lines[0] and str(server.data_dir) in lines[0]
    assert server.proc.poll() is None
    assert httpx.get(f"{server.url}/healthz", timeout=5).json()["database"] is True
    assert httpx.get(server.url, timeout=5, follow_redirects=True).status_code == 200


def test_json_log_format_prints_one_object_per_line(server):
    lines = server.stderr().splitlines()
    events = [json.loads(line) for line in lines]  # raises on any line that is not JSON

    assert all(
        isinstance(e, dict) and {"ts", "level", "logger", "event"} <= e.keys() for e in events
    )
    names = {e["event"] for e in events}
    assert {"embedded_pg.init", "serve.listening", "worker.started"} <= names
    listening = next(e for e in events if e["event"] == "serve.listening")
    assert listening["url"] == server.url  # fields stay fields, not text in the message


def test_sigterm_stops_web_worker_and_postgres_within_5s_with_a_client_connected(workdir):
    # No SSE route exists yet; an idle keep-alive connection and a silent one stand in for it.
    data_dir = workdir / "sigterm-data"
    with baton_serve(workdir, BATON_DATA_DIR=str(data_dir)) as server:
        healthz_when_worker_seen(server.url)
        keep_alive = socket.create_connection(("127.0.0.1", server.port))
        silent = socket.create_connection(("127.0.0.1", server.port))
        try:
            keep_alive.sendall(
                b"GET /login HTTP/1.1\r\nHost: baton\r\nConnection: keep-alive\r\n\r\n"
            )
            assert keep_alive.recv(65536).startswith(b"HTTP/1.1 200")

            took = server.terminate()
        finally:
            keep_alive.close()
            silent.close()

        log = server.stderr()
        assert server.proc.returncode == 0, log
        assert took < 5, f"took {took:.1f}s to stop"
        assert "worker.stopped" in log and "embedded_pg.stopped" in log
        assert not (data_dir / "postgres" / "data" / "postmaster.pid").exists()
        assert "Traceback" not in log


def test_without_base_url_mail_links_point_at_the_port_served(server, workdir):
    """`baton serve --port N` with no BATON_BASE_URL: a review mail's link opens on port N."""
    made = run_baton(
        "user",
        "create",
        "links@example.com",
        "--password",
        "a-long-password-1",
        "--tier",
        "pro",
        cwd=workdir,
        timeout=60,
        BATON_DATA_DIR=str(server.data_dir),
    )
    assert made.returncode == 0, made.stderr
    start = run_baton(
        "runs",
        "start",
        "content-generation",
        "--as",
        "links@example.com",
        "--input",
        json.dumps({"prompt": "A short note on links"}),
        cwd=workdir,
        timeout=60,
        BATON_DATA_DIR=str(server.data_dir),
    )
    assert start.returncode == 0, start.stderr
    run_id = start.stdout.strip().splitlines()[-1]

    settings = load_settings({"BATON_DATA_DIR": str(server.data_dir)})
    deadline = time.monotonic() + 60
    with database_url(settings) as url, psycopg.connect(url) as conn:
        while (
            mail := conn.execute(
                "SELECT body_text FROM mail_outbox WHERE run_id = %s AND kind = 'hook_waiting'",
                (run_id,),
            ).fetchone()
        ) is None:
            assert time.monotonic() < deadline, "no review mail within 60 s"
            time.sleep(0.2)
    [link] = re.findall(r"http://\S+/review/\S+", mail[0])
    assert link.startswith(f"{server.url}/review/")
    assert httpx.get(link, timeout=5).status_code == 200  # the link opens: not a dead page on :8000


def test_a_wildcard_host_without_base_url_is_warned_about_and_links_use_loopback():
    settings = load_settings({"BATON_DATA_DIR": "/tmp/unused"})
    served = with_served_base_url(settings, "0.0.0.0", 8101)
    assert served.base_url == "http://127.0.0.1:8101"
    assert "BATON_BASE_URL" in base_url_warning(served, "0.0.0.0")
    assert base_url_warning(served, "127.0.0.1") is None
    configured = load_settings(
        {"BATON_DATA_DIR": "/tmp/unused", "BATON_BASE_URL": "https://baton.example.org"}
    )
    assert with_served_base_url(configured, "0.0.0.0", 8101).base_url == "https://baton.example.org"
    assert base_url_warning(configured, "0.0.0.0") is None
