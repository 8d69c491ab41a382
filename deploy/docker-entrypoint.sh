#!/bin/sh
# Container entry point (under tini): adds CA certificates mounted at run time, then runs the command.
#
# PEM files mounted under /certs (e.g. -v /etc/myproxy/ca.crt:/certs/proxy.crt:ro) are trusted in
# addition to the image's bundle (Debian's CAs plus any built in from certs/), for outgoing HTTPS
# (the model endpoint, publishers, webhooks, git) through a TLS-inspecting proxy. The image runs as a
# plain user who cannot rewrite /etc/ssl, so the combined bundle goes to a private temp file.
set -eu

if [ -d /certs ] && [ -n "$(find /certs -maxdepth 1 -type f \( -name '*.crt' -o -name '*.pem' \) 2>/dev/null)" ]; then
    bundle="$(mktemp /tmp/baton-ca-XXXXXX.pem)"
    cat /etc/ssl/certs/ca-certificates.crt > "$bundle"
    find /certs -maxdepth 1 -type f \( -name '*.crt' -o -name '*.pem' \) -exec cat {} + >> "$bundle"
    # Python (ssl, httpx) reads SSL_CERT_FILE; git's libcurl reads only GIT_SSL_CAINFO.
    export SSL_CERT_FILE="$bundle" REQUESTS_CA_BUNDLE="$bundle" GIT_SSL_CAINFO="$bundle"
fi

exec "$@"
