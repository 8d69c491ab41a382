"""What a sandboxed test run sees of the file system, and how much of it may fill.

Everything writable is a tmpfs limited in size and in number of files (a tmpfs is memory the host
pays for: its pages, and about 1 KB of kernel memory per file), because a script under test is
hostile: `/workspace` (a copy of the checkout, `disk_mb` in all), `/tmp` (`tmp_mb`) and `/dev/shm`
(small, for POSIX semaphores). Everything else, bubblewrap's own root and `/dev` included, is
read-only, and the tested code can create no namespace of its own (where it could mount more).

Of the host only `/usr` (and the `/bin`, `/sbin`, `/lib*` that point into it) is bound, read-only, plus
the few entries of `/etc` that programs need to start: the dynamic linker's cache, the alternatives
symlinks, CA certificates, Java's settings, time zone and protocol tables. `passwd`, `group`,
`hosts`, `hostname` and `nsswitch.conf` are generated, naming only root and the sandbox user. Not
`/etc/shadow`, the host's `/etc/hostname`, `/opt`, `/home`, `/root`, `/srv`, `/var` or Baton's data dir.

Two stages, because bubblewrap (0.8) cannot limit a tmpfs's number of files:
1. bubblewrap builds the read-only system in a user namespace where the setup script is root with
   CAP_SYS_ADMIN only (`STAGE1`): it mounts the three tmpfs with `size` and `nr_inodes`, then
2. runs a second bubblewrap: a nested user namespace as the sandbox user, no capabilities, no more
   namespaces (`--disable-userns`), every mount locked. There `STAGE2` copies the checkout (bound
   read-only at /run/checkout) onto /workspace, runs the test command and reports which file
   systems it left full (`FULL_MARK`), so that a failure can be blamed on the limit.
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
ETC_ALLOWED = (
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "alternatives",
    "java-*",
    "ssl/certs",
    "ssl/openssl.cnf",
    "localtime",
    "timezone",
    "protocols",
    "services",
    "mime.types",
    "fonts",
    "os-release",
)

INODES_PER_MB = 256  # files a tmpfs may hold per MB of its size: ~1 KB of kernel memory each
ROOT_CAPS = ("CAP_SYS_ADMIN", "CAP_SETFCAP")  # stage 1 mounts, and maps its root to the nested user

STAGE1 = f"""set -e
mount -t tmpfs -o "$1" tmpfs /tmp
mount -t tmpfs -o "$2" tmpfs /dev/shm
mount -t tmpfs -o "$3" tmpfs {WORKSPACE}
exec bwrap --unshare-user --disable-userns --uid "$4" --gid "$5" --dev-bind / / --die-with-parent \\
  --chdir {WORKSPACE} -- /bin/sh -c "$6" sandbox "$7"
"""

STAGE2 = f"""if ! copied=$(cp -a {CHECKOUT}/. {WORKSPACE}/ 2>&1); then
  printf '%s\\n' "$copied" | tail -n 3; echo; echo "{TOO_BIG_MARK}"; exit {TOO_BIG_EXIT}
fi
/bin/sh -c "$1"
code=$?
for fs in {WORKSPACE} /tmp /dev/shm; do
  set -- $(stat -f -c '%b %a %c %d' "$fs")
  [ $(($2 * 50)) -lt "$1" ] || [ $(($4 * 50)) -lt "$3" ] && {{ echo; echo "{FULL_MARK}$fs"; }}
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


def files_limit(size_mb: int) -> int:
    return max(4096, size_mb * INODES_PER_MB)


def _tmpfs(size_mb: int, mode: str) -> str:
    return f"size={size_mb * MB},nr_inodes={files_limit(size_mb)},mode={mode},nosuid,nodev"


def bwrap_argv(
    checkout: Path,
    command: str,
    *,
    disk_mb: int,
    tmp_mb: int,
    files: list[tuple[int, str]],
    env: dict[str, str],
) -> list[str]:
    """The whole bubblewrap command line, both stages (order matters: the read-only remounts come last)."""
    args = [
        "bwrap",
        "--unshare-all",
        "--unshare-user",
        "--uid",
        "0",
        "--gid",
        "0",
        "--die-with-parent",
        "--new-session",
        "--hostname",
        "sandbox",
    ]
    for cap in ROOT_CAPS:
        args += ["--cap-add", cap]
    args += ["--ro-bind", "/usr", "/usr"]
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
    args += [
        "--dir",
        "/tmp",
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        "--ro-bind",
        str(checkout),
        CHECKOUT,
        "--dir",
        WORKSPACE,
        "--remount-ro",
        "/dev",
        "--remount-ro",
        "/",
        "--clearenv",
    ]
    for name, value in env.items():
        args += ["--setenv", name, value]
    uid, gid, _ = sandbox_user()
    return [
        *args,
        "/bin/sh",
        "-c",
        STAGE1,
        "sandbox-setup",
        _tmpfs(tmp_mb, "1777"),
        _tmpfs(min(SHM_MB, tmp_mb), "1777"),
        _tmpfs(disk_mb, "0755"),
        str(uid),
        str(gid),
        STAGE2,
        command,
    ]


def full_filesystems(output: str) -> tuple[str, list[str], bool]:
    """The output without the wrapper's marks, the file systems left full, and whether the copy failed."""
    full: list[str] = []
    too_big = False
    kept = []
    for line in output.splitlines(keepends=True):
        if line.startswith(FULL_MARK):
            full.append(line[len(FULL_MARK) :].strip())
        elif line.startswith(TOO_BIG_MARK):
            too_big = True
        else:
            kept.append(line)
    return "".join(kept).rstrip("\n"), full, too_big
