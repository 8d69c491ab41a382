"""The sandbox for untrusted tests, for real (bubblewrap, prlimit, timeout): no network, nothing
writable outside the work dir, nothing of the host's private files, killed at its limits, and still
a place where a Python test suite and git work. Space limits: test_sandbox_space.py."""

from __future__ import annotations

import os
import socket
import tempfile
import threading
from pathlib import Path

import pytest

from app.steps import sandbox
from app.steps.sandbox import Limits, SandboxUnavailable, run_sandboxed
from app.steps.sandbox_fs import sandbox_user

QUICK = Limits(wall_s=20, cpu_s=10, memory_mb=256, output_bytes=4000)


@pytest.fixture
def workdir():
    with tempfile.TemporaryDirectory(prefix="baton-sbx-test-") as root:
        work = Path(root) / "workspace"
        work.mkdir()
        yield work


@pytest.fixture
def listener():
    """A server on the host's loopback that the sandboxed code must not reach."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    accepted = []
    thread = threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True)
    thread.start()
    yield server.getsockname()[1], accepted
    server.close()


async def test_the_code_cannot_open_a_network_socket(workdir, listener):
    port, accepted = listener
    script = (
        "import socket\n"
        f"for host in ('127.0.0.1', '1.1.1.1'):\n"
        f"    try:\n        socket.create_connection((host, {port}), timeout=2); print('CONNECTED', host)\n"
        "    except OSError as e:\n        print('refused', host, e.errno)\n"
    )
    (workdir / "net.py").write_text(script)
    result = await run_sandboxed(workdir, "python3 net.py", limits=QUICK)
    assert "CONNECTED" not in result.output
    assert result.output.count("refused") == 2
    assert accepted == []


async def test_the_code_cannot_write_outside_its_work_dir_nor_read_host_secrets(workdir, tmp_path):
    outside = Path(tempfile.gettempdir()) / f"baton-outside-{os.getpid()}"
    (workdir / "given.txt").write_text("from the checkout\n")
    command = (
        f"cat given.txt && echo inside > mine.txt && cat mine.txt && echo changed > given.txt && echo ok-inside; "
        f"echo x > /etc/baton-test 2>/dev/null || echo no-etc; "
        f"echo x > /usr/baton-test 2>/dev/null || echo no-usr; "
        f"echo x > /baton-test 2>/dev/null || echo no-root-dir; "
        f"echo x > /dev/baton-test 2>/dev/null || echo no-dev; "
        f"echo x > {outside} 2>/dev/null; ls {outside} 2>/dev/null || echo no-host-tmp; "
        f"ls /root 2>/dev/null || echo no-root; cat /etc/shadow 2>/dev/null || echo no-shadow; "
        f"ls {tmp_path} 2>/dev/null || echo no-data-dir"
    )
    result = await run_sandboxed(workdir, command, limits=QUICK)
    for word in (
        "from the checkout",
        "inside",
        "ok-inside",
        "no-etc",
        "no-usr",
        "no-root-dir",
        "no-dev",
        "no-root",
        "no-shadow",
        "no-data-dir",
    ):
        assert word in result.output, result.output
    assert not outside.exists() and not Path("/etc/baton-test").exists()  # noqa: ASYNC240
    # The run works on a copy of the checkout (on its size-limited /workspace): the host's stays as given.
    assert not (workdir / "mine.txt").exists()  # noqa: ASYNC240
    assert (workdir / "given.txt").read_text() == "from the checkout\n"  # noqa: ASYNC240


async def test_of_the_host_only_the_system_and_a_few_public_etc_files_are_visible(
    workdir, tmp_path
):
    host_users = [line.split(":")[0] for line in Path("/etc/passwd").read_text().splitlines()]  # noqa: ASYNC240
    probes = {
        path: f"test -e {path} && echo 'SEEN {path}' || echo 'hidden {path}'"
        for path in (
            "/etc/shadow",
            "/etc/gshadow",
            "/etc/machine-id",
            "/etc/ssh",
            "/etc/ssl/private",
            "/etc/gitconfig",
            "/etc/pip.conf",
            "/etc/npmrc",
            "/etc/environment",
            "/etc/resolv.conf",
            "/opt",
            "/root",
            "/home",
            "/srv",
            "/mnt",
            "/var",
            "/media",
            str(tmp_path),
        )
    }
    command = (
        "; ".join(probes.values()) + "; echo host=$(cat /etc/hostname) $(hostname); cat /etc/passwd"
    )
    result = await run_sandboxed(workdir, command, limits=QUICK)
    for path in probes:
        assert f"hidden {path}" in result.output, result.output
    assert "host=sandbox sandbox" in result.output
    seen_users = {line.split(":")[0] for line in result.output.splitlines() if line.count(":") >= 6}
    assert seen_users == {"root", sandbox_user()[2]}  # not the host's other accounts
    assert len(host_users) > len(seen_users)


PROJECT = {
    "calc.py": "def add(a, b):\n    return a + b\n",
    "test_calc.py": (
        "import os, tempfile, unittest, ssl, getpass\nimport calc\n\n"
        "class CalcTest(unittest.TestCase):\n"
        "    def test_add(self):\n        self.assertEqual(calc.add(2, 3), 5)\n\n"
        "    def test_scratch_files_and_the_user(self):\n"
        "        with tempfile.TemporaryDirectory() as scratch:\n"
        "            with open(os.path.join(scratch, 'f'), 'w') as f:\n                f.write('x')\n"
        "        ssl.create_default_context()\n"
        "        self.assertTrue(getpass.getuser())\n"
    ),
}


async def test_a_python_test_suite_and_git_work_inside(workdir):
    for name, text in PROJECT.items():
        (workdir / name).write_text(text)  # noqa: ASYNC240
    command = (
        "python3 -m unittest -v && git init -q -b main . && git add -A "
        "&& git -c user.name=Dev -c user.email=dev@example.com commit -q -m first "
        "&& echo '# more' >> calc.py && git diff --stat && git log --format=%s && git status --short"
    )
    result = await run_sandboxed(
        workdir, command, limits=Limits(wall_s=60, cpu_s=30, memory_mb=1024)
    )
    assert result.passed, result.output
    assert "Ran 2 tests" in result.output and "\nOK" in result.output
    assert (
        "calc.py | 1 +" in result.output
        and "first" in result.output
        and " M calc.py" in result.output
    )


async def test_the_wall_time_limit_kills_it(workdir):
    result = await run_sandboxed(
        workdir, "sleep 30; echo finished", limits=Limits(wall_s=1, cpu_s=5)
    )
    assert result.outcome == "timeout" and not result.passed
    assert "finished" not in result.output and result.duration_s < 5


async def test_the_cpu_time_limit_kills_it(workdir):
    result = await run_sandboxed(
        workdir, "python3 -c 'while True: pass'; echo after", limits=Limits(wall_s=20, cpu_s=1)
    )
    assert result.outcome == "cpu_limit" and not result.passed
    assert result.duration_s < 10


async def test_the_memory_limit_stops_it(workdir):
    grab = "python3 -c 'x = bytearray(600 * 1024 * 1024); print(\"allocated\")'"
    result = await run_sandboxed(workdir, grab, limits=Limits(wall_s=20, cpu_s=10, memory_mb=128))
    assert result.outcome == "memory_limit" and "allocated" not in result.output
    roomy = await run_sandboxed(
        workdir, grab.replace("600", "16"), limits=Limits(wall_s=20, cpu_s=10, memory_mb=128)
    )
    assert roomy.passed and "allocated" in roomy.output


async def test_output_is_truncated_to_the_limit_keeping_both_ends(workdir):
    result = await run_sandboxed(workdir, "echo FIRST; seq 1 200000; echo LAST", limits=QUICK)
    assert result.truncated and len(result.output) < 4200
    assert result.output.startswith("FIRST") and result.output.rstrip().endswith("LAST")


async def test_no_sandbox_means_a_refusal_unless_the_admin_chose_unsafe_local(workdir, monkeypatch):
    monkeypatch.setattr(sandbox, "probe", lambda: "bwrap is not installed")
    with pytest.raises(SandboxUnavailable, match="no sandbox is available"):
        await run_sandboxed(workdir, "echo hi", limits=QUICK)
    result = await run_sandboxed(workdir, "echo hi", limits=QUICK, mode="unsafe-local")
    assert result.passed and result.sandbox == "unsafe-local"
