"""Running untrusted code (a repository's tests) in a sandbox.

    result = await run_sandboxed(workdir, "pytest -q", limits=Limits(wall_s=120, cpu_s=60, memory_mb=1024))

The command runs under `sh -c` inside Debian's bubblewrap with:
- every namespace unshared (`--unshare-all`): no network at all (only a private loopback), own PIDs;
- a read-only system: /usr (and /bin, /sbin, /lib*) and a few public /etc files, minimal /dev and
  /proc; nothing else of the host (no /opt, /home, /root, data dir) — see sandbox_fs.py;
- a copy of the checkout at /workspace, on a tmpfs of `disk_mb` in all, and /tmp of `tmp_mb` (at
  most `memory_mb`: a tmpfs is memory); everything else read-only;
- limits: CPU seconds, heap, file size and process count (`prlimit`), wall time (`timeout`,
  then SIGKILL), and `--die-with-parent` so nothing outlives the step;
- an empty environment apart from PATH, HOME, LANG and TMPDIR.

Run as root (the VM, a container), bubblewrap would keep root's ownership of every bound file; so the
sandbox first drops to `nobody` (65534) with `setpriv`, then unshares, and the checkout is handed to
that user. Run as another user, that user's own unprivileged namespaces are used.

No bubblewrap, or namespaces refused by the kernel → `SandboxUnavailable` with what to do. Only
`BATON_SANDBOX=unsafe-local` (an admin's explicit choice) runs tests without isolation (limits
still apply, except the space limits: the tests run in the checkout itself).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import re
import shutil
import signal
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from app.engine.errors import FatalError
from app.steps import sandbox_fs

NOBODY = 65534
OUTPUT_LIMIT = 64 * 1024
SANDBOX_PATH = "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin"
# How the tests find their tools: the project's own tools first (a virtualenv or node_modules in the
# checkout), then the system's under /usr. Nothing else of the host is visible (docs/publishing-and-code-review.md).
PROJECT_PATH = f"{sandbox_fs.WORKSPACE}/.venv/bin:{sandbox_fs.WORKSPACE}/node_modules/.bin"
# The shell's own words for a command it could not start (dash: "sh: 1: pytest: not found"; bash:
# "pytest: command not found"), as distinct from a test's output mentioning "not found".
NOT_STARTED = re.compile(
    r"^(?:\S*sh: (?:\d+: )?)?\S+: (?:command )?not found$|^\S*sh: (?:\d+: )?\S+: Permission denied$",
    re.MULTILINE,
)


class SandboxUnavailable(FatalError):
    pass


UNAVAILABLE = (
    "Tests were not run: no sandbox is available on this server ({why}). Install bubblewrap "
    "(apt-get install bubblewrap) on a kernel that allows user namespaces. An administrator can "
    "set BATON_SANDBOX=unsafe-local to run tests without isolation, at their own risk."
)


@dataclass(frozen=True)
class Limits:
    wall_s: int = 300
    cpu_s: int = 240
    memory_mb: int = 2048
    file_mb: int = 256
    processes: int = 256
    output_bytes: int = OUTPUT_LIMIT
    disk_mb: int = 1024  # everything in /workspace, the checkout included
    tmp_mb: int = 512  # /tmp, never more than memory_mb: it is memory

    @property
    def tmp_size_mb(self) -> int:
        return max(1, min(self.tmp_mb, self.memory_mb))


@dataclass(frozen=True)
class SandboxResult:
    exit_code: int
    passed: bool
    outcome: (
        str  # passed, failed, setup_error, timeout, cpu_limit, memory_limit, disk_limit, killed
    )
    output: str
    truncated: bool
    duration_s: float
    sandbox: str  # bwrap or unsafe-local

    def to_json(self) -> dict:
        return asdict(self)


def _as_root() -> bool:
    return os.geteuid() == 0


def _bwrap_args(
    checkout: Path, command: str, limits: Limits, files: list[tuple[int, str]]
) -> list[str]:
    env = {
        "PATH": f"{PROJECT_PATH}:{SANDBOX_PATH}",
        "HOME": sandbox_fs.WORKSPACE,
        "TMPDIR": "/tmp",
        "LANG": "C.UTF-8",
        "CI": "true",
    }
    return sandbox_fs.bwrap_argv(
        checkout, command, disk_mb=limits.disk_mb, tmp_mb=limits.tmp_size_mb, files=files, env=env
    )


def _drop_privileges() -> list[str]:
    return (
        ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--"]
        if _as_root()
        else []
    )


def _limits(limits: Limits) -> list[str]:
    # RLIMIT_DATA (heap and private writable mappings), not RLIMIT_AS: runtimes such as V8 and Go
    # reserve gigabytes of address space they never use. The CPU limit's soft value sends SIGXCPU.
    return [
        "prlimit",
        f"--cpu={limits.cpu_s}:{limits.cpu_s + 2}",
        f"--data={limits.memory_mb * 1024 * 1024}",
        f"--fsize={limits.file_mb * 1024 * 1024}",
        f"--nproc={limits.processes}",
        "--core=0",
        "--",
    ]


@functools.lru_cache(maxsize=1)
def probe() -> str | None:
    """None when the sandbox works here; otherwise why not (cached per process)."""
    for tool in ("bwrap", "prlimit", "timeout", "mount") + (("setpriv",) if _as_root() else ()):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    import tempfile

    with tempfile.TemporaryDirectory(prefix="baton-probe-") as tmp:
        if _as_root():
            os.chown(tmp, NOBODY, NOBODY)
        try:
            with sandbox_fs.generated_files() as files:
                done = subprocess.run(
                    [*_drop_privileges(), *_bwrap_args(Path(tmp), "true", Limits(), files)],
                    capture_output=True,
                    timeout=20,
                    pass_fds=[fd for fd, _ in files],
                )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"bubblewrap could not start: {exc}"
    if done.returncode != 0:
        return (
            "bubblewrap could not create namespaces: "
            + done.stderr.decode(errors="replace").strip()[:200]
        )
    return None


def require_sandbox(mode: str) -> str:
    """The sandbox this server will use ('bwrap' or 'unsafe-local'); SandboxUnavailable otherwise."""
    if mode == "unsafe-local":
        return mode
    why = probe()
    if why:
        raise SandboxUnavailable(UNAVAILABLE.format(why=why))
    return "bwrap"


def prepare_workdir(workdir: Path) -> None:
    """Hand the checkout to the sandbox user, who copies it (only needed when running as root)."""
    if not _as_root():
        return
    for root, dirs, files in os.walk(workdir):
        os.lchown(root, NOBODY, NOBODY)
        for name in dirs + files:
            os.lchown(os.path.join(root, name), NOBODY, NOBODY)
    parent = workdir.parent
    os.chmod(parent, 0o711)  # traversable by the sandbox user, not listable


class _Capture:
    """Keeps the first and the last half of the output, counting what was dropped."""

    def __init__(self, limit: int):
        self.half = limit // 2
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = 0

    def add(self, chunk: bytes) -> None:
        room = self.half - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if chunk:
            self.tail += chunk
            if len(self.tail) > self.half:
                cut = len(self.tail) - self.half
                self.dropped += cut
                del self.tail[:cut]

    def text(self) -> str:
        head = self.head.decode(errors="replace")
        tail = self.tail.decode(errors="replace")
        if self.dropped:
            return f"{head}\n\n… {self.dropped:,} bytes of output left out …\n\n{tail}"
        return head + tail


def _outcome(
    code: int, timed_out: bool, output: str, duration_s: float, limits: Limits, full: bool
) -> str:
    if code in (-signal.SIGXCPU, 128 + signal.SIGXCPU) or "CPU time limit exceeded" in output:
        return "cpu_limit"
    if timed_out or code == 124 or (code == 137 and duration_s >= limits.wall_s):
        return "timeout"
    if code != 0 and (full or "No space left on device" in output or "ENOSPC" in output):
        return "disk_limit"
    if any(
        s in output
        for s in ("MemoryError", "Cannot allocate memory", "out of memory", "std::bad_alloc")
    ):
        return "memory_limit"
    if code < 0 or code > 128:
        return "killed"
    # 126/127: the shell could not run the command at all (not installed, not on PATH, not
    # executable): the tests never ran, so it is the setup that needs fixing, not the code.
    if code in (126, 127) or (code != 0 and NOT_STARTED.search(output)):
        return "setup_error"
    return "passed" if code == 0 else "failed"


def _setup_message(code: int) -> str:
    return (
        f"Baton: could not start the test command (exit {code}: a tool it needs was not found or is not "
        "executable inside the sandbox). The tests did not run: this is a setup problem, not failing tests. "
        f"Inside the sandbox, PATH is {sandbox_fs.WORKSPACE}/.venv/bin, {sandbox_fs.WORKSPACE}/node_modules/.bin "
        "(the project's own tools, if the checkout has them), then /usr/local/bin, /usr/bin and /bin of the "
        "server: install the tool there (e.g. apt-get install python3-pytest) or give a test command "
        "that uses a tool that is, e.g. `python3 -m unittest`."
    )


def _disk_message(limits: Limits, full: list[str], too_big: bool) -> str:
    if too_big:
        return (
            f"Baton: the checkout does not fit in the test run's disk limit of {limits.disk_mb} MB "
            f"(and {limits.file_mb} MB per file): the tests were not run."
        )

    def limit(mb: int) -> str:
        return f"{mb} MB or {sandbox_fs.files_limit(mb):,} files"

    disk = f"its disk limit of {limit(limits.disk_mb)} (all of /workspace)"
    tmp = f"its /tmp limit of {limit(limits.tmp_size_mb)} (/tmp is memory)"
    shm = f"its /dev/shm limit of {limit(min(sandbox_fs.SHM_MB, limits.tmp_size_mb))}"
    if not full:  # it freed the space before exiting: say what the limits are
        return f"Baton: the test run ran out of space: {disk}, {tmp}."
    said = [
        text
        for fs, text in ((sandbox_fs.WORKSPACE, disk), ("/tmp", tmp), ("/dev/shm", shm))
        if fs in full
    ]
    return f"Baton: the test run exceeded {' and '.join(said)}."


async def run_sandboxed(
    workdir: Path, command: str, *, limits: Limits = Limits(), mode: str = "bwrap"
) -> SandboxResult:
    """Run `command` on a copy of `workdir` (in `workdir` itself if unsafe-local). Never raises for its failures."""
    sandbox = require_sandbox(mode)
    wall = ["timeout", "--kill-after=2", f"{limits.wall_s}s"]
    started = time.monotonic()
    capture = _Capture(limits.output_bytes)
    with sandbox_fs.generated_files() as files:
        if sandbox == "bwrap":
            prepare_workdir(workdir)
            argv = [
                *wall,
                *_limits(limits),
                *_drop_privileges(),
                *_bwrap_args(workdir, command, limits, files),
            ]
            env = {"PATH": SANDBOX_PATH, "LANG": "C.UTF-8"}
        else:
            argv = [*wall, *_limits(limits), "/bin/sh", "-c", command]
            env = {
                "PATH": os.environ.get("PATH", SANDBOX_PATH),
                "HOME": str(workdir),
                "LANG": "C.UTF-8",
                "CI": "true",
            }
        proc = await asyncio.create_subprocess_exec(
            *argv,
            cwd=workdir,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
            pass_fds=[fd for fd, _ in files],
        )
    timed_out = False

    async def pump() -> None:
        while chunk := await proc.stdout.read(65536):
            capture.add(chunk)

    try:
        await asyncio.wait_for(asyncio.gather(pump(), proc.wait()), timeout=limits.wall_s + 10)
    except TimeoutError:
        timed_out = True
    finally:
        if proc.returncode is None:  # our own backstop, and on cancellation of the step
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
    output, full, too_big = sandbox_fs.full_filesystems(capture.text())
    code = proc.returncode if proc.returncode is not None else -9
    duration = round(time.monotonic() - started, 2)
    outcome = _outcome(code, timed_out, output, duration, limits, bool(full) or too_big)
    if outcome == "disk_limit":
        output = "\n\n".join(filter(None, [output, _disk_message(limits, full, too_big)]))
    elif outcome == "setup_error":
        output = "\n\n".join(filter(None, [output, _setup_message(code)]))
    return SandboxResult(
        exit_code=code,
        passed=outcome == "passed",
        outcome=outcome,
        output=output,
        truncated=capture.dropped > 0,
        duration_s=duration,
        sandbox=sandbox,
    )
