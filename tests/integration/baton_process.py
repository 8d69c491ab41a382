"""Run `baton` as a real subprocess, the way a user does, and always clean it up."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.conftest import baton_env

# The console script of this interpreter's environment, so tests never pick up another install.
BATON = str(Path(sys.executable).with_name("baton"))


@contextmanager
def scratch_dir() -> Iterator[Path]:
    """A temporary dir for an embedded server's data dir, outside pytest's tmp root.

    As root, the server runs as a system user that must traverse the parents, and every pytest
    session that starts resets `/tmp/pytest-of-root` to 0700: a concurrent session would lock
    a running server out of its own files."""
    path = Path(tempfile.mkdtemp(prefix="baton-test-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_baton(
    *args: str, cwd: Path, timeout: float = 60, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BATON, *args],
        cwd=cwd,
        env=baton_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@dataclass
class Server:
    proc: subprocess.Popen
    port: int
    log: Path
    data_dir: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stderr(self) -> str:
        return self.log.read_text()

    def terminate(self, timeout: float = 15) -> float:
        """SIGTERM, then wait; returns the seconds it took to exit."""
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout)
        return time.monotonic() - started


def wait_until_serving(server: Server, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise AssertionError(
                f"baton serve exited with {server.proc.returncode}:\n{server.stderr()}"
            )
        try:
            if httpx.get(f"{server.url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"baton serve did not answer within {timeout}s:\n{server.stderr()}")


@contextmanager
def baton_serve(cwd: Path, *args: str, **env: str) -> Iterator[Server]:
    """`baton serve --port <free port>`, ready to answer; killed on the way out whatever happens.

    `BATON_DATA_DIR` is required: a test never touches the repository's `./.baton`."""
    port = free_port()
    log = cwd / f"serve-{port}.log"
    with open(log, "w") as err:
        proc = subprocess.Popen(
            [BATON, "serve", "--port", str(port), *args],
            cwd=cwd,
            env=baton_env(**env),
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,
        )
    server = Server(proc, port, log, Path(env["BATON_DATA_DIR"]))
    try:
        wait_until_serving(server)
        yield server
    finally:
        stop(proc)
        stop_orphaned_postgres(server.data_dir)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def stop_orphaned_postgres(data_dir: Path) -> None:
    """A Baton killed mid-test leaves its embedded server running (pg_ctl detaches it): stop it."""
    pidfile = data_dir / "postgres" / "data" / "postmaster.pid"
    with contextlib.suppress(FileNotFoundError, ProcessLookupError, ValueError, IndexError):
        os.kill(int(pidfile.read_text().split()[0]), signal.SIGINT)  # fast shutdown
