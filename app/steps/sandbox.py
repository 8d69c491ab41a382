"""Running untrusted code (a repository's tests) in a sandbox.

    result = await run_sandboxed(workdir, "pytest -q", limits=Limits(wall_s=120, cpu_s=60, memory_mb=1024))

The command runs under `sh -c` inside Debian's bubblewrap with:
- every namespace unshared (`--unshare-all`): no network at all (only a private loopback), own PIDs;
- a read-only system: /usr and /etc (and /opt) bound read-only, a private /tmp, minimal /dev and /proc;
- one writable directory, the checkout, at /workspace; nothing else of the host (no data dir, no /root);
- limits: CPU seconds, address space, file size and process count (`prlimit`), wall time (`timeout`,
  then SIGKILL), and `--die-with-parent` so nothing outlives the step;
- an empty environment apart from PATH, HOME, LANG and TMPDIR.

Run as root (the VM, a container), bubblewrap would keep root's ownership of every bound file; so the
sandbox first drops to `nobody` (65534) with `setpriv`, then unshares, and the checkout is handed to
that user. Run as another user, that user's own unprivileged namespaces are used.

No bubblewrap, or namespaces refused by the kernel → `SandboxUnavailable` with what to do. Only
`BATON_SANDBOX=unsafe-local` (an admin's explicit choice) runs tests without isolation (limits
still apply).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import shutil
import signal
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from app.engine.errors import FatalError

NOBODY = 65534
OUTPUT_LIMIT = 64 * 1024
SANDBOX_PATH = "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin"


class SandboxUnavailable(FatalError):
    pass


UNAVAILABLE = ("Tests were not run: no sandbox is available on this server ({why}). Install bubblewrap "
               "(apt-get install bubblewrap) on a kernel that allows user namespaces. An administrator can "
               "set BATON_SANDBOX=unsafe-local to run tests without isolation, at their own risk.")


@dataclass(frozen=True)
class Limits:
    wall_s: int = 300
    cpu_s: int = 240
    memory_mb: int = 2048
    file_mb: int = 256
    processes: int = 256
    output_bytes: int = OUTPUT_LIMIT


@dataclass(frozen=True)
class SandboxResult:
    exit_code: int
    passed: bool
    outcome: str  # passed, failed, timeout, cpu_limit, memory_limit, killed
    output: str
    truncated: bool
    duration_s: float
    sandbox: str  # bwrap or unsafe-local

    def to_json(self) -> dict:
        return asdict(self)


def _as_root() -> bool:
    return os.geteuid() == 0


def _bwrap_args(workdir: Path) -> list[str]:
    args = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session",
            "--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc"]
    for link in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = Path("/") / link
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), f"/{link}"]
        elif path.is_dir():
            args += ["--ro-bind", str(path), f"/{link}"]
    if Path("/opt").is_dir():
        args += ["--ro-bind", "/opt", "/opt"]
    args += ["--tmpfs", "/tmp", "--dev", "/dev", "--proc", "/proc",
             "--bind", str(workdir), "/workspace", "--chdir", "/workspace",
             "--clearenv", "--setenv", "PATH", SANDBOX_PATH, "--setenv", "HOME", "/workspace",
             "--setenv", "TMPDIR", "/tmp", "--setenv", "LANG", "C.UTF-8", "--setenv", "CI", "true"]
    return args


def _drop_privileges() -> list[str]:
    return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--"] if _as_root() else []


def _limits(limits: Limits) -> list[str]:
    # RLIMIT_DATA (heap and private writable mappings), not RLIMIT_AS: runtimes such as V8 and Go
    # reserve gigabytes of address space they never use. The CPU limit's soft value sends SIGXCPU.
    return ["prlimit", f"--cpu={limits.cpu_s}:{limits.cpu_s + 2}", f"--data={limits.memory_mb * 1024 * 1024}",
            f"--fsize={limits.file_mb * 1024 * 1024}", f"--nproc={limits.processes}", "--core=0", "--"]


@functools.lru_cache(maxsize=1)
def probe() -> str | None:
    """None when the sandbox works here; otherwise why not (cached per process)."""
    for tool in ("bwrap", "prlimit", "timeout") + (("setpriv",) if _as_root() else ()):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    import tempfile

    with tempfile.TemporaryDirectory(prefix="baton-probe-") as tmp:
        if _as_root():
            os.chown(tmp, NOBODY, NOBODY)
        try:
            done = subprocess.run([*_drop_privileges(), *_bwrap_args(Path(tmp)), "true"],
                                  capture_output=True, timeout=20)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"bubblewrap could not start: {exc}"
    if done.returncode != 0:
        return "bubblewrap could not create namespaces: " + done.stderr.decode(errors="replace").strip()[:200]
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
    """Hand the checkout to the sandbox user (only needed when running as root)."""
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


def _outcome(code: int, timed_out: bool, output: str, duration_s: float, limits: Limits) -> str:
    if code in (-signal.SIGXCPU, 128 + signal.SIGXCPU) or "CPU time limit exceeded" in output:
        return "cpu_limit"
    if timed_out or code == 124 or (code == 137 and duration_s >= limits.wall_s):
        return "timeout"
    if any(s in output for s in ("MemoryError", "Cannot allocate memory", "out of memory", "std::bad_alloc")):
        return "memory_limit"
    if code < 0 or code > 128:
        return "killed"
    return "passed" if code == 0 else "failed"


async def run_sandboxed(workdir: Path, command: str, *, limits: Limits = Limits(), mode: str = "bwrap") -> SandboxResult:
    """Run `command` in `workdir` (which it may change). Never raises for the command's failures."""
    sandbox = require_sandbox(mode)
    wall = ["timeout", "--kill-after=2", f"{limits.wall_s}s"]
    if sandbox == "bwrap":
        prepare_workdir(workdir)
        argv = [*wall, *_limits(limits), *_drop_privileges(), *_bwrap_args(workdir), "/bin/sh", "-c", command]
        env = {"PATH": SANDBOX_PATH, "LANG": "C.UTF-8"}
    else:
        argv = [*wall, *_limits(limits), "/bin/sh", "-c", command]
        env = {"PATH": os.environ.get("PATH", SANDBOX_PATH), "HOME": str(workdir), "LANG": "C.UTF-8", "CI": "true"}
    started = time.monotonic()
    capture = _Capture(limits.output_bytes)
    proc = await asyncio.create_subprocess_exec(*argv, cwd=workdir, env=env, stdin=asyncio.subprocess.DEVNULL,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
                                                start_new_session=True)
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
    output = capture.text()
    code = proc.returncode if proc.returncode is not None else -9
    duration = round(time.monotonic() - started, 2)
    outcome = _outcome(code, timed_out, output, duration, limits)
    return SandboxResult(exit_code=code, passed=outcome == "passed", outcome=outcome, output=output,
                         truncated=capture.dropped > 0, duration_s=duration, sandbox=sandbox)
