"""`baton` as an operator runs it: a database that refuses the connection is one clear line on
stderr and exit status 2 (as `baton serve` with an unreachable DATABASE_URL), never a traceback; a usage error lists
every command, even after only the chosen command's module was loaded."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

REFUSED = "postgresql://postgres@127.0.0.1:1/x"  # nothing listens on port 1


def baton(*argv: str, database_url: str = REFUSED) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "import sys; from app.cli import main; sys.exit(main())", *argv],
        env=os.environ | {"DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    "argv",
    [("teams", "list"), ("apikey", "list", "someone@example.com"), ("runs", "list")],
)
def test_a_refused_database_connection_is_one_line_and_exit_2(argv) -> None:
    done = baton(*argv)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == (
        "baton: cannot connect to the database at 127.0.0.1:1: connection refused"
    )
    assert "Traceback" not in done.stderr and done.stdout == ""


@pytest.mark.parametrize("argv", [("nosuchcommand",), (), ("teams", "list", "--nosuchoption")])
def test_usage_errors_list_every_command(argv) -> None:
    done = baton(*argv)
    assert done.returncode == 2
    usage = " ".join(done.stderr.split("error:")[0].split())
    assert (
        "{serve,worker,migrate,runs,hooks,selftest,templates,schedules,user,teams,apikey,check-deploy}"
        in usage
    )
