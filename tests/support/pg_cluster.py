"""A throwaway PostgreSQL cluster a test owns, so it may stop and restart it at will.

Never the machine's shared server: `initdb` in a temp dir, `pg_ctl` on a free port of 127.0.0.1,
trust auth, its Unix socket in its own dir. Used by the database-restart tests and the chaos soak
(bench/chaos.py):

    with pg_cluster() as cluster:     # initdb + start
        url = cluster.url             # postgresql://postgres@127.0.0.1:<port>/postgres
        cluster.restart()             # pg_ctl restart -m fast (every connection is dropped)
        cluster.stop(); cluster.start()   # a longer outage, same port and data
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from app.core.embedded_pg import SYSTEM_USER, find_bin_dir


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server_user() -> str | None:
    """Postgres refuses to run as root: as root, run it as the embedded server's system user."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                SYSTEM_USER,
            ],
            check=True,
            capture_output=True,
        )
    return SYSTEM_USER


class PgCluster:
    def __init__(self, root: Path):
        self.root = root
        self.pgdata = root / "data"
        self.logfile = root / "server.log"
        self.port = _free_port()
        self.bin = find_bin_dir()
        self._user = _server_user()

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url_for(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _pg(self, *args: str, timeout: float = 60) -> None:
        as_user = {}
        if self._user:
            entry = pwd.getpwnam(self._user)
            as_user = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
        done = subprocess.run(
            [str(self.bin / args[0]), *args[1:]],
            **as_user,
            capture_output=True,
            text=True,
            cwd=self.root,
            timeout=timeout,
        )
        if done.returncode != 0:
            log = self.logfile.read_text()[-2000:] if self.logfile.exists() else ""
            raise RuntimeError(f"{' '.join(args[:2])} failed: {done.stderr.strip()}\n{log}")

    def init(self) -> None:
        if self._user:
            # The server user must reach its files through the temp dir's parents (execute bit only).
            for parent in [self.root, *self.root.parents]:
                if not parent.stat().st_mode & 0o001:
                    os.chmod(parent, parent.stat().st_mode | 0o001)
            shutil.chown(self.root, self._user)
        self._pg(
            "initdb",
            "-D",
            str(self.pgdata),
            "-U",
            "postgres",
            "-A",
            "trust",
            "--no-sync",
            "-E",
            "UTF8",
        )

    def _options(self) -> str:
        return f"-p {self.port} -h 127.0.0.1 -k {self.root} -c fsync=off -c max_connections=200"

    def start(self) -> None:
        self._pg(
            "pg_ctl",
            "start",
            "-w",
            "-D",
            str(self.pgdata),
            "-l",
            str(self.logfile),
            "-o",
            self._options(),
        )

    def stop(self) -> None:
        """Fast shutdown: every session is terminated, as in a failover or a maintenance restart."""
        self._pg("pg_ctl", "stop", "-w", "-m", "fast", "-D", str(self.pgdata))

    def restart(self) -> None:
        self._pg(
            "pg_ctl",
            "restart",
            "-w",
            "-m",
            "fast",
            "-D",
            str(self.pgdata),
            "-l",
            str(self.logfile),
            "-o",
            self._options(),
        )

    def running(self) -> bool:
        return (self.pgdata / "postmaster.pid").exists()


@contextmanager
def pg_cluster(kind: type[PgCluster] = PgCluster) -> Iterator[PgCluster]:
    """A started cluster, stopped and deleted on the way out whatever happens.

    Its dir is outside pytest's tmp root: as root, the server user must traverse the parents, and
    each pytest session that starts resets /tmp/pytest-of-root to 0700."""
    root = Path(tempfile.mkdtemp(prefix="baton-pgcluster-"))
    cluster = kind(root)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        if cluster.running():
            with suppress(RuntimeError, subprocess.TimeoutExpired):
                cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
