"""Git URLs for code review go through the same guard as connectors: a real `git clone` over HTTP
from a static (dumb-protocol) server on loopback. Internal addresses are refused before git runs;
an allowed name is cloned from the address that was checked, even when a later lookup would say
otherwise; git follows no redirect."""

from __future__ import annotations

import dataclasses
import socket
import subprocess
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from app.core.outbound import Allowlist
from app.steps import git
from tests.integration.code_review.conftest import git as run_git
from tests.support.fixtures import model_runtime


class Served:
    """A directory over HTTP on `address`, recording each request's path and Host header; with
    `redirect_to`, every request is answered 302 to that base URL instead."""

    def __init__(
        self, root: Path, address: str = "127.0.0.1", port: int = 0, redirect_to: str | None = None
    ):
        self.requests: list[tuple[str, str]] = []
        served = self

        class Handler(SimpleHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                served.requests.append((self.path, self.headers.get("Host")))
                if redirect_to:
                    self.send_response(302)
                    self.send_header("Location", redirect_to + self.path)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                super().do_GET()

        self.server = ThreadingHTTPServer((address, port), partial(Handler, directory=str(root)))
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def www(calc_repo, tmp_path) -> Path:
    """calc_repo as a bare repository under www/calc.git, ready for git's dumb HTTP protocol."""
    root = tmp_path / "www"
    root.mkdir()
    subprocess.run(
        ["git", "clone", "-q", "--bare", str(calc_repo), str(root / "calc.git")], check=True
    )
    subprocess.run(["git", "update-server-info"], cwd=root / "calc.git", check=True)
    return root


@pytest.fixture
def allowing(model_settings):
    def runtime(value: str):
        return model_runtime(
            dataclasses.replace(model_settings, connector_allow=Allowlist.parse(value))
        )

    return runtime


async def test_internal_git_urls_are_refused_before_git_runs(www, allowing, tmp_path):
    server = Served(www)
    try:
        async with allowing(""):
            for url in (
                f"http://127.0.0.1:{server.port}/calc.git",
                f"http://localhost:{server.port}/calc.git",
                f"http://[::ffff:127.0.0.1]:{server.port}/calc.git",
                "http://169.254.169.254/calc.git",
                "http://[fd00:ec2::254]/calc.git",
                "https://100.100.100.200/calc.git",
                "http://[2002:a9fe:a9fe::1]/calc.git",
            ):
                with pytest.raises(git.SourceRefused, match="BATON_CONNECTOR_ALLOW"):
                    git.resolve(tmp_path / "data", "run-1", url, "main")
            for url in (
                "ssh://127.0.0.1/calc.git",
                "git://127.0.0.1/calc.git",
                "git@127.0.0.1:calc.git",
                f"file://{www}/calc.git",
            ):
                with pytest.raises(git.SourceRefused, match="https://"):
                    git.resolve(tmp_path / "data", "run-1", url, "main")
            # Names curl could spell differently from the check (and then resolve itself).
            for url in ("http://localhost.:80/calc.git", "http://bücher.example/calc.git"):
                with pytest.raises(git.SourceRefused, match="ASCII"):
                    git.resolve(tmp_path / "data", "run-1", url, "main")
    finally:
        server.close()
    assert server.requests == []


async def test_an_allowed_name_is_cloned_from_the_checked_address(
    www, calc_repo, allowing, tmp_path, monkeypatch
):
    """`repo.test` exists only for Baton's own lookup (first 127.0.0.1, then 127.0.0.2, where a
    second server waits). git cannot resolve it: the clone and the later fetch work only because
    git is pinned to the checked address, and the second server is never reached."""
    checked = Served(www)
    other = Served(www, "127.0.0.2", checked.port)
    lookups = []
    real = socket.getaddrinfo

    def rebinding(host, port, *args, **kwargs):
        if host != "repo.test":
            return real(host, port, *args, **kwargs)
        lookups.append(host)
        address = "127.0.0.1" if len(lookups) == 1 else "127.0.0.2"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    url = f"http://repo.test:{checked.port}/calc.git"
    try:
        async with allowing("127.0.0.1"):
            main = git.resolve(tmp_path / "data", "run-2", url, "main")
            assert main == run_git(calc_repo, "rev-parse", "main")
            # The next lookup answers 127.0.0.2, not allowed: a fetch is refused before git runs.
            with pytest.raises(git.SourceRefused, match=r"repo.test resolves to a loopback"):
                git.resolve(tmp_path / "data", "run-2", url, "feature", fetch=True)
        assert checked.requests and other.requests == []
        assert {host for _, host in checked.requests} == {f"repo.test:{checked.port}"}
        async with allowing(
            "127.0.0.0/8"
        ):  # 127.0.0.2 allowed now: the fetch goes where it was checked
            checked.requests.clear()
            git.resolve(tmp_path / "data", "run-2", url, "feature", fetch=True)
    finally:
        checked.close()
        other.close()
    assert len(lookups) == 3 and checked.requests == [] and other.requests
    assert {host for _, host in other.requests} == {f"repo.test:{checked.port}"}


async def test_git_follows_no_redirect(www, allowing, tmp_path):
    target = Served(www, "127.0.0.2")
    redirecting = Served(www, redirect_to=f"http://127.0.0.2:{target.port}")
    try:
        async with allowing("127.0.0.1"):
            with pytest.raises(git.SourceRefused, match="Could not read the repository"):
                git.resolve(
                    tmp_path / "data",
                    "run-3",
                    f"http://127.0.0.1:{redirecting.port}/calc.git",
                    "main",
                )
    finally:
        target.close()
        redirecting.close()
    assert redirecting.requests and target.requests == []


def test_what_a_git_server_says_stays_in_the_log():
    failure = git.GitFailed(
        "remote: INTERNAL-SECRET db_password=x\nfatal: unable to access 'http://h/r.git/': "
        "The requested URL returned error: 403\nremote: more"
    )
    words = git._own_words(failure)
    assert (
        words == "fatal: unable to access 'http://h/r.git/': The requested URL returned error: 403"
    )
