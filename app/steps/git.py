"""Reading the code under review with git, safely.

The source is cloned into Baton's own mirror (data dir/code-review/<run id>.git), never used in
place: a clone carries no hooks and none of the source's config (no diff drivers, no filters), and
diffs run with --no-ext-diff --no-textconv. Sources are an http(s) URL, or a local path under one
of the directories an admin lists in BATON_REPO_ROOTS (otherwise any user could read any
repository the server can). A URL's host goes through app/core/outbound.py like a connector's:
resolved once, refused if internal (unless BATON_CONNECTOR_ALLOW opens it), and git is pinned to
the checked addresses (`http.curloptResolve`) with redirects off, so neither a second DNS answer
nor a redirect can take it elsewhere. ssh:// and git:// are refused: their host could not be
pinned that way. Refs are checked before they reach git's command line. A worker that lacks the
mirror (another machine, a cleaned disk) clones it again: every function here is safe to run twice.
"""

from __future__ import annotations

import io
import ipaddress
import logging
import os
import re
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from app.core import outbound, runtime
from app.engine.errors import FatalError

REF = re.compile(r"^(?!-)(?!.*\.\.)(?!.*//)[A-Za-z0-9._/@^~{}+-]{1,200}$")
URL = re.compile(r"^https?://[^\s]+$")
GIT_TIMEOUT_S = 300
MAX_DIFF = 200_000
PROTOCOLS = "https:http"
ASK_FOR_SOURCE = "Give an https:// git URL or an absolute local path."

log = logging.getLogger("baton.git")


class SourceRefused(FatalError):
    pass


def repo_roots() -> list[Path]:
    """Directories whose repositories users may review by local path (BATON_REPO_ROOTS, ':'-separated)."""
    return [
        Path(p).resolve() for p in os.environ.get("BATON_REPO_ROOTS", "").split(":") if p.strip()
    ]


def check_ref(ref: str) -> str:
    ref = (ref or "").strip()
    if not REF.match(ref) or ref.endswith((".lock", "/", ".")):
        raise SourceRefused(f"{ref[:60]!r} is not a git ref or commit")
    return ref


def check_source_form(source: str) -> str:
    """The source if it is an http(s) URL or an absolute path (the form only: no look-up, no file
    system). Refuses option-like sources and git's other transports (ext::, fd::, ssh, git, file);
    an http(s) URL may hold "::" (an IPv6 address) since git picks a transport by its scheme."""
    source = (source or "").strip()
    if source.startswith("-") or any(c.isspace() or ord(c) < 32 for c in source):
        raise SourceRefused(ASK_FOR_SOURCE)
    if URL.match(source):
        _url_host(source)
        return source
    if "::" in source or not source.startswith("/"):
        raise SourceRefused(ASK_FOR_SOURCE + " ssh:// and git:// addresses are not supported.")
    return source


def check_source(source: str) -> tuple[str, bool]:
    """(source, is_local). Refuses what check_source_form does, and paths out of bounds."""
    source = check_source_form(source)
    if URL.match(source):
        return source, False
    path = Path(source).resolve()
    roots = repo_roots()
    if not roots:
        raise SourceRefused(
            "Local repositories are not enabled on this server (an administrator can list "
            "allowed directories in BATON_REPO_ROOTS); give a git URL instead."
        )
    if not any(path == root or root in path.parents for root in roots):
        raise SourceRefused(
            "This path is outside the directories allowed for code review (BATON_REPO_ROOTS)."
        )
    if not path.exists():
        raise SourceRefused("No repository at this path.")
    return str(path), True


def _url_host(source: str) -> tuple[str, int]:
    try:
        parts = urlsplit(source)
        port = parts.port
    except ValueError:
        raise SourceRefused(ASK_FOR_SOURCE) from None
    if not parts.hostname:
        raise SourceRefused(ASK_FOR_SOURCE)
    # curl must look up exactly the name checked here: a trailing dot or an IDN name could be
    # spelled differently by curl, which would then resolve it itself.
    if parts.hostname.endswith(".") or not parts.hostname.isascii():
        raise SourceRefused(
            "Write the URL's host name without a trailing dot, in ASCII (xn--…) form."
        )
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


def pinned_options(source: str) -> list[str]:
    """git options that make it connect to the addresses checked here, and only there."""
    host, port = _url_host(source)
    try:
        addresses = outbound.resolve(host, port, runtime.current().settings.connector_allow)
    except (outbound.AddressRefused, outbound.HostNotFound) as exc:
        raise SourceRefused(str(exc)) from None
    options = ["-c", "http.followRedirects=false"]
    try:
        ipaddress.ip_address(host)
    except ValueError:  # a name: curl must not look it up again (`*`: whatever it calls the host)
        listed = ",".join(f"[{a}]" if a.version == 6 else str(a) for a in addresses)
        options += [
            "-c",
            f"http.curloptResolve={host}:{port}:{listed}",
            "-c",
            f"http.curloptResolve=*:{port}:{listed}",
        ]
    return options


def _git(
    args: list[str],
    *,
    cwd: Path | None = None,
    local: bool = False,
    data: bytes | None = None,
    timeout: float = GIT_TIMEOUT_S,
    options: list[str] | None = None,
) -> bytes:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": "/nonexistent",
        "LANG": "C.UTF-8",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_ALLOW_PROTOCOL": PROTOCOLS + (":file" if local else ""),
    }
    command = [
        "git",
        "-c",
        "core.hooksPath=/dev/null",
        "-c",
        "safe.directory=*",
        *(options or []),
        *args,
    ]
    try:
        done = subprocess.run(
            command, cwd=cwd, env=env, input=data, capture_output=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"git {args[0]} took longer than {timeout:.0f} s") from None
    if done.returncode != 0:
        raise GitFailed(
            done.stderr.decode(errors="replace").strip()[-500:] or f"git {args[0]} failed"
        )
    return done.stdout


class GitFailed(RuntimeError):
    pass


def _own_words(failure: GitFailed) -> str:
    """git's own error lines, without what the remote said (`remote: …` lines carry the server's
    text, which a user must not read back from an internal service); the rest is logged."""
    log.info("git.failed", extra={"stderr": str(failure)})
    lines = [
        line
        for line in str(failure).splitlines()
        if line.strip() and not line.startswith("remote:")
    ]
    return (lines[-1] if lines else "git failed")[:300]


def mirror_path(data_dir: Path, run_id: str) -> Path:
    return data_dir / "code-review" / f"{run_id}.git"


def ensure_mirror(data_dir: Path, run_id: str, source: str, *, refresh: bool = False) -> Path:
    source, local = check_source(source)
    mirror = mirror_path(data_dir, run_id)
    if not (mirror / "HEAD").exists():
        shutil.rmtree(mirror, ignore_errors=True)
        mirror.parent.mkdir(parents=True, exist_ok=True)
        tmp = mirror.with_name(mirror.name + f".{os.getpid()}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            _git(
                ["clone", "--mirror", "--quiet", "--no-hardlinks", "--", source, str(tmp)],
                local=local,
                options=[] if local else pinned_options(source),
            )
        except GitFailed as exc:
            raise SourceRefused(f"Could not read the repository: {_own_words(exc)}") from None
        tmp.rename(mirror)
    elif refresh:
        try:
            _git(
                ["fetch", "--prune", "--quiet", "origin"],
                cwd=mirror,
                local=local,
                options=[] if local else pinned_options(source),
            )
        except GitFailed as exc:  # still worth a retry (a network glitch), in git's own words only
            raise GitFailed(f"Could not fetch from the repository: {_own_words(exc)}") from None
    return mirror


def resolve(data_dir: Path, run_id: str, source: str, ref: str, *, fetch: bool = False) -> str:
    """The commit a ref names (fetching the source again if it is not known yet, or first when
    `fetch`: a branch that moved, e.g. after fixes were pushed)."""
    ref = check_ref(ref)
    for refresh in (True,) if fetch else (False, True):
        mirror = ensure_mirror(data_dir, run_id, source, refresh=refresh)
        try:
            return (
                _git(
                    ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"],
                    cwd=mirror,
                )
                .decode()
                .strip()
            )
        except GitFailed:
            continue
    raise SourceRefused(f"The repository has no ref or commit {ref!r}.")


@dataclass(frozen=True)
class Diff:
    text: str
    files: list[str]
    truncated: bool


def diff(data_dir: Path, run_id: str, source: str, base: str, head: str) -> Diff:
    mirror = ensure_mirror(data_dir, run_id, source)
    raw = _git(
        ["diff", "--no-ext-diff", "--no-textconv", "--no-color", "-M", f"{base}...{head}", "--"],
        cwd=mirror,
    )
    return _diff_of(raw.decode(errors="replace"))


def diff_of_patch(patch: str) -> Diff:
    return _diff_of(patch)


def _diff_of(text: str) -> Diff:
    files = []
    for line in text.splitlines():
        if line.startswith("+++ "):
            name = line[4:].strip()
            if name != "/dev/null":
                files.append(name[2:] if name.startswith("b/") else name)
    return Diff(text[:MAX_DIFF], files, len(text) > MAX_DIFF)


def export_tree(
    data_dir: Path, run_id: str, source: str, commit: str, dest: Path, patch: str | None = None
) -> None:
    """The files of `commit` (plus `patch`, applied) into `dest`, without .git."""
    mirror = ensure_mirror(data_dir, run_id, source)
    archive = _git(["archive", "--format=tar", commit], cwd=mirror)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")
    if patch:
        try:
            _git(["apply", "--whitespace=nowarn", "-"], cwd=dest, data=patch.encode())
        except GitFailed as exc:
            raise SourceRefused(f"The patch does not apply to {commit[:12]}: {exc}") from None


def remove_mirror(data_dir: Path, run_id: str) -> None:
    shutil.rmtree(mirror_path(data_dir, run_id), ignore_errors=True)


def detect_test_command(tree: Path) -> str | None:
    """pytest, npm test or go test ./..., from what the checkout contains."""
    if (tree / "go.mod").exists():
        return "go test ./..."
    if (tree / "package.json").exists():
        return "npm test"
    markers = ("pytest.ini", "conftest.py", "tox.ini", "setup.cfg")
    if (
        any((tree / m).exists() for m in markers)
        or (tree / "tests").is_dir()
        or any(tree.glob("test_*.py"))
    ):
        return "pytest"
    if (tree / "pyproject.toml").exists():
        return "pytest"
    return None
