#!/usr/bin/env bash
# Makes a local stand-in for the Dockerfile's base image when no image registry is reachable (CI):
# a minimal Debian bookworm from debootstrap, imported under the exact name the Dockerfile uses, so
# the Dockerfile builds unchanged. Real users pull the real image instead. Kept between runs: once the
# image exists in the local engine, this does nothing.
set -euo pipefail

BASE="$(sed -n 's/^FROM \([^ ]*\).*/\1/p' "$(dirname "$0")/../../Dockerfile" | head -n1)"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

if docker image inspect "$BASE" >/dev/null 2>&1; then
    exit 0
fi
command -v debootstrap >/dev/null || { echo "standin_base.sh: debootstrap is not installed" >&2; exit 1; }

root="$(mktemp -d /var/tmp/baton-base.XXXXXX)"
trap 'rm -rf "$root"' EXIT
echo "standin_base.sh: debootstrapping bookworm as $BASE" >&2
debootstrap --variant=minbase bookworm "$root" "$MIRROR" >"$root.log" 2>&1 ||
    { tail -n 20 "$root.log" >&2; rm -f "$root.log"; exit 1; }
rm -f "$root.log"
# As in the official image: deb822 sources with the updates and security suites, no package lists.
rm -f "$root/etc/apt/sources.list"
cat >"$root/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb
tar -C "$root" -c . | docker import --change 'CMD ["bash"]' - "$BASE" >/dev/null
echo "standin_base.sh: imported $BASE ($(docker image inspect -f '{{.Size}}' "$BASE") bytes)" >&2
