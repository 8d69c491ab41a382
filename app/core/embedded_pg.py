"""A private PostgreSQL server under the data dir, for `baton serve` without DATABASE_URL.

One Baton process owns a data dir at a time: an exclusive `flock` on `<data dir>/baton.lock` is held
for the server's whole life, so a second `baton serve` on the same dir fails at once and touches
nothing. The server listens on 127.0.0.1 only, on a free port picked at each start, with a
password kept in the data dir (mode 0600).
"""

from __future__ import annotations

import fcntl
import importlib.util
import logging
import os
import pwd
import secrets
import shutil
import socket
import subprocess
from pathlib import Path

log = logging.getLogger("baton.embedded_pg")

DB_NAME = "baton"
DB_USER = "baton"
# Postgres refuses to run as root; when Baton runs as root (containers, CI) the server runs as this.
SYSTEM_USER = "baton-pg"


class EmbeddedPostgresError(Exception):
    """The embedded server could not be started; the message says why."""


class DataDirInUse(EmbeddedPostgresError):
    """Another Baton process owns this data dir (and its server)."""


def find_bin_dir() -> Path:
    """pgserver's bundled binaries first (one known version), else a postgres on PATH."""
    # Located without importing pgserver: its import sets up logging and runtime dirs we don't use.
    spec = importlib.util.find_spec("pgserver")
    if spec and spec.submodule_search_locations:
        bundled = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
        if (bundled / "pg_ctl").exists():
            return bundled
    for candidate in [
        shutil.which("pg_ctl"),
        *sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl")),
    ]:
        if candidate:
            return Path(candidate).resolve().parent
    raise EmbeddedPostgresError(
        "no PostgreSQL binaries found: install the 'pgserver' package or PostgreSQL, or set DATABASE_URL"
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _system_user() -> str | None:
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


def _make_traversable(path: Path) -> None:
    """Let the server's system user reach its data dir (execute bit only, no listing)."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            os.chmod(parent, mode | 0o001)


class EmbeddedPostgres:
    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self.root = data_dir / "postgres"
        self.pgdata = self.root / "data"
        self.logfile = self.root / "server.log"
        self.bin = find_bin_dir()
        self.port = 0
        self._lock_fd: int | None = None
        self._user = None

    # -- ownership of the data dir ---------------------------------------------------------------
    def _acquire(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.data_dir / "baton.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise DataDirInUse(
                f"data dir {self.data_dir} is in use by another Baton process (pid {holder}); "
                "stop it first or set BATON_DATA_DIR to another directory"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._lock_fd = fd

    def _release(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    # -- server lifecycle ------------------------------------------------------------------------
    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        # The group too: keeping root's gid would make the group bits of a 0701 parent (pytest's
        # tmp dirs) deny the traversal that the "other" bit allows, and leave the server in group root.
        as_user = (
            {"user": self._user, "group": pwd.getpwnam(self._user).pw_gid, "extra_groups": []}
            if self._user
            else {}
        )
        return subprocess.run(
            [str(self.bin / args[0]), *args[1:]],
            **as_user,
            capture_output=True,
            text=True,
            check=check,
            cwd=self.root,
        )

    def _password(self) -> str:
        path = self.root / "password"
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(24))
        return path.read_text().strip()

    def _init(self, password: str) -> None:
        pwfile = self.root / ".pwfile"
        pwfile.write_text(password)
        if self._user:
            shutil.chown(pwfile, self._user)
        try:
            self._run(
                "initdb",
                "-D",
                str(self.pgdata),
                "-U",
                DB_USER,
                "--auth=scram-sha-256",
                f"--pwfile={pwfile}",
                "-E",
                "UTF8",
                "--locale=C",
            )
        except subprocess.CalledProcessError as exc:
            raise EmbeddedPostgresError(f"initdb failed: {exc.stderr.strip()[-500:]}") from None
        finally:
            pwfile.unlink(missing_ok=True)

    def start(self) -> str:
        """Start (initialising on first use) and return a connection URL."""
        self._acquire()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            self._user = _system_user()
            if self._user:
                _make_traversable(self.root)
                shutil.chown(self.root, self._user)
            password = self._password()
            if self._user:
                shutil.chown(self.root / "password", self._user)
            if not (self.pgdata / "PG_VERSION").exists():
                log.info("embedded_pg.init", extra={"pgdata": str(self.pgdata)})
                self._init(password)
            # We hold the lock, so a server still running here was orphaned by a killed Baton.
            if self._run("pg_ctl", "status", "-D", str(self.pgdata), check=False).returncode == 0:
                log.warning("embedded_pg.orphan_stopped")
                self._run("pg_ctl", "stop", "-D", str(self.pgdata), "-m", "fast", "-w", check=False)
            self.port = _free_port()
            options = f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''"
            result = self._run(
                "pg_ctl",
                "start",
                "-D",
                str(self.pgdata),
                "-l",
                str(self.logfile),
                "-o",
                options,
                "-w",
                "-t",
                "60",
                check=False,
            )
            if result.returncode != 0:
                tail = self.logfile.read_text()[-800:] if self.logfile.exists() else result.stderr
                raise EmbeddedPostgresError(f"embedded PostgreSQL did not start: {tail.strip()}")
            url = f"postgresql://{DB_USER}:{password}@127.0.0.1:{self.port}/postgres"
            self._ensure_database(url)
            log.info("embedded_pg.started", extra={"port": self.port})
            url = url.rsplit("/", 1)[0] + f"/{DB_NAME}"
            self._write_url(url)
            return url
        except BaseException:
            self.stop()
            raise

    def _ensure_database(self, admin_url: str) -> None:
        import psycopg

        with psycopg.connect(admin_url, autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (DB_NAME,)
            ).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{DB_NAME}"')

    def _write_url(self, url: str) -> None:
        # Lets CLI commands (`baton runs list`, `baton worker`) join the server while it runs.
        fd = os.open(self.root / "url", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(url)

    def running_url(self) -> str | None:
        """The URL of the server another process owns here, if it is running."""
        path = self.root / "url"
        return path.read_text().strip() if path.exists() else None

    def stop(self) -> None:
        if self._lock_fd is not None:
            (self.root / "url").unlink(missing_ok=True)
        if self.port and (self.pgdata / "postmaster.pid").exists():
            self._run("pg_ctl", "stop", "-D", str(self.pgdata), "-m", "fast", "-w", check=False)
            log.info("embedded_pg.stopped")
        self.port = 0
        self._release()
