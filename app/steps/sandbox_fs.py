"""What a sandboxed test run sees of the file system, and how big it may make it.

Everything writable is a size-limited tmpfs, because a tmpfs is memory the host pays for and a script
under test is hostile: `/workspace` (a copy of the checkout, `disk_mb` in all), `/tmp` (`tmp_mb`) and
`/dev/shm` (small, for POSIX semaphores). The rest, bubblewrap's own root and its `/dev` included, is
remounted read-only, so nothing else can grow.

Of the host only `/usr` (and the `/bin`, `/sbin`, `/lib*` that point into it) is bound, read-only, plus
the few entries of `/etc` that programs need to start: the dynamic linker's cache, the alternatives
symlinks, CA certificates, Python's and Java's configuration, time zone and protocol tables. `passwd`,
`group`, `hosts`, `hostname` and `nsswitch.conf` are generated, naming only root and the sandbox user.
Not `/etc/shadow`, `/etc/hostname`, `/opt`, `/home`, `/root`, `/srv`, `/var` or Baton's data dir.

The checkout is bound read-only at /run/checkout and copied onto /workspace by a small shell wrapper,
which then runs the test command and, after it, reports which file systems it left full (`FULL_MARK`).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
from collections.abc import Iterator
from pathlib import Path

MB = 1024 * 1024
SHM_MB = 64
CHECKOUT = "/run/checkout"
WORKSPACE = "/workspace"
FULL_MARK = "@@baton-sandbox: full "
TOO_BIG_MARK = "@@baton-sandbox: checkout too big"
TOO_BIG_EXIT = 125

# Host /etc entries a test run may need, found by running Python, git, node and Java inside (globs allowed).
# Java needs alternatives (its binaries are reached through them) and java-* (its security settings);
# ld.so.* find libraries outside the default paths; the rest are public tables (CA certificates, not
# /etc/ssl/private; time zone; protocols and services for getservbyname; MIME types; fonts; os-release).
ETC_ALLOWED = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "java-*", "ssl/certs",
               "ssl/openssl.cnf", "localtime", "timezone", "protocols", "services", "mime.types", "fonts",
               "os-release")

# Copies the checkout onto the size-limited /workspace, runs the command ($1), then names the file
# systems it left (nearly) full, so that a failure can be blamed on the limit rather than the code.
WRAPPER = f"""
if ! copied=$(cp -a {CHECKOUT}/. {WORKSPACE}/ 2>&1); then
  printf '%s\n' "$copied" | tail -n 3; echo; echo "{TOO_BIG_MARK}"; exit {TOO_BIG_EXIT}
fi
/bin/sh -c "$1"
code=$?
for fs in {WORKSPACE} /tmp /dev/shm; do
  set -- $(stat -f -c '%b %a' "$fs")
  [ $(($2 * 50)) -lt "$1" ] && {{ echo; echo "{FULL_MARK}$fs"; }}
done
exit $code
"""


def sandbox_user() -> tuple[int, int, str]:
    """The uid, gid and name the tested code runs as: nobody when Baton is root, else Baton's user."""
    if os.geteuid() == 0:
        return 65534, 65534, "nobody"
    uid, gid = os.getuid(), os.getgid()
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:
        name = "sandbox"
    return uid, gid, name


def generated_etc() -> dict[str, str]:
    uid, gid, name = sandbox_user()
    group = "nogroup" if gid == 65534 else name
    return {
        "/etc/passwd": f"root:x:0:0:root:/root:/usr/sbin/nologin\n{name}:x:{uid}:{gid}:{name}:{WORKSPACE}:/bin/sh\n",
        "/etc/group": f"root:x:0:\n{group}:x:{gid}:\n",
        "/etc/hosts": "127.0.0.1\tlocalhost sandbox\n::1\tlocalhost sandbox\n",
        "/etc/hostname": "sandbox\n",
        "/etc/nsswitch.conf": "passwd: files\ngroup: files\nshadow: files\nhosts: files\nnetworks: files\n"
                              "protocols: files\nservices: files\n",
    }


@contextlib.contextmanager
def generated_files() -> Iterator[list[tuple[int, str]]]:
    """Pipes holding the generated /etc files, as (read fd, destination) for `--ro-bind-data`.

    The caller passes the fds to the child (`pass_fds`); they are closed here afterwards."""
    fds: list[tuple[int, str]] = []
    try:
        for dest, text in generated_etc().items():
            read, write = os.pipe()
            fds.append((read, dest))
            with os.fdopen(write, "wb") as pipe:  # a few hundred bytes: fits in the pipe's buffer
                pipe.write(text.encode())
        yield fds
    finally:
        for fd, _ in fds:
            os.close(fd)


def host_etc() -> list[str]:
    found: list[str] = []
    for pattern in ETC_ALLOWED:
        found += sorted(p for p in glob.glob(f"/etc/{pattern}") if os.path.exists(p))
    return found


def mount_args(checkout: Path, *, disk_mb: int, tmp_mb: int, files: list[tuple[int, str]]) -> list[str]:
    """bubblewrap's file-system arguments (order matters: the read-only remounts come last)."""
    args = ["--ro-bind", "/usr", "/usr"]
    for link in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = Path("/") / link
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), f"/{link}"]
        elif path.is_dir():
            args += ["--ro-bind", str(path), f"/{link}"]
    for path in host_etc():
        args += ["--ro-bind", path, path]
    for fd, dest in files:
        args += ["--perms", "0644", "--ro-bind-data", str(fd), dest]
    args += ["--perms", "01777", "--size", str(tmp_mb * MB), "--tmpfs", "/tmp",
             "--dev", "/dev", "--perms", "01777", "--size", str(min(SHM_MB, tmp_mb) * MB), "--tmpfs", "/dev/shm",
             "--proc", "/proc",
             "--ro-bind", str(checkout), CHECKOUT,
             "--perms", "0755", "--size", str(disk_mb * MB), "--tmpfs", WORKSPACE,
             "--remount-ro", "/dev", "--remount-ro", "/"]
    return args


def full_filesystems(output: str) -> tuple[str, list[str], bool]:
    """The output without the wrapper's marks, the file systems left full, and whether the copy failed."""
    full: list[str] = []
    too_big = False
    kept = []
    for line in output.splitlines(keepends=True):
        if line.startswith(FULL_MARK):
            full.append(line[len(FULL_MARK):].strip())
        elif line.startswith(TOO_BIG_MARK):
            too_big = True
        else:
            kept.append(line)
    return "".join(kept).rstrip("\n"), full, too_big
