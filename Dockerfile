# Single-container Baton:
#   docker build -t baton . && docker run --name baton -p 127.0.0.1:8000:8000 -v baton:/data baton
# runs `baton serve` (web + worker) with the embedded PostgreSQL kept in the volume; with
# -e DATABASE_URL=... it uses that server instead. docs/operations.md has the whole story.
#
# Builds with the classic builder and with BuildKit alike (no BuildKit-only syntax). Behind a
# TLS-inspecting proxy, put its CA certificate(s) into certs/ (PEM, *.crt or *.pem) before building.

# Debian's own Python 3.11 and PostgreSQL 15: both get Debian's security updates with each rebuild,
# and the Python matches the one the lock file was made for (requires-python >= 3.11).
FROM debian:bookworm-slim AS base

# Build-time only (an ARG is not kept in the image): apt never asks questions here.
ARG DEBIAN_FRONTEND=noninteractive
ENV LANG=C.UTF-8 \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt

COPY certs/ /usr/local/share/ca-certificates/baton/

# - python3: the interpreter of the virtualenv below.
# - tini: PID 1, forwards SIGTERM to Baton and reaps the embedded server's children.
# - postgresql-15 (+ client for pg_dump): the embedded database's binaries. No cluster is created
#   here; Baton initialises its own under /data on first start.
# - libpango, harfbuzz-subset, DejaVu: WeasyPrint's PDF reports.
# - git, bubblewrap: the code-review workflow (fetching repositories, running their tests sandboxed;
#   prlimit, setpriv and timeout come with the base system).
RUN set -eux; \
    mkdir -p /etc/postgresql-common/createcluster.d; \
    echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.d/baton.conf; \
    apt-get update; \
    apt-get install -y --no-install-recommends \
        ca-certificates python3 tini \
        postgresql-15 postgresql-client-15 \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
        git bubblewrap; \
    cd /usr/local/share/ca-certificates/baton; \
    for f in *.pem; do if [ -e "$f" ]; then mv "$f" "${f%.pem}.crt"; fi; done; \
    find . -type f ! -name '*.crt' -delete; \
    update-ca-certificates; \
    rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin

# --- Build stage: uv and the virtualenv ------------------------------------------------------
FROM base AS build
ARG DEBIAN_FRONTEND=noninteractive

RUN apt-get update \
    && apt-get install -y --no-install-recommends python3-pip \
    && rm -rf /var/lib/apt/lists/*

# A pinned uv from PyPI (the same version the project is developed with).
ARG UV_VERSION=0.13.9
RUN python3 -m pip install --no-cache-dir --break-system-packages --target /opt/uv "uv==${UV_VERSION}"

# The lock's exact versions, on Debian's Python (uv never downloads an interpreter here).
# pgserver is left out: the image uses Debian's maintained PostgreSQL instead of its bundled one.
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_NO_CACHE=1 \
    UV_PYTHON=/usr/bin/python3.11 \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /app

# Dependencies in their own layer: a code (or README) change does not reinstall them.
COPY pyproject.toml uv.lock ./
RUN /opt/uv/bin/uv sync --frozen --no-dev --no-install-project --no-install-package pgserver
COPY . .
RUN /opt/uv/bin/uv sync --frozen --no-dev --no-install-package pgserver \
    && rm -rf certs

# --- Runtime image ----------------------------------------------------------------------------
FROM base

COPY --from=build /app /app
COPY deploy/docker-entrypoint.sh /usr/local/bin/baton-entrypoint

# The embedded PostgreSQL refuses to run as root; a plain user also keeps a breakout small.
RUN useradd --system --user-group --create-home --uid 10001 baton \
    && mkdir /data && chown baton:baton /data
USER baton
WORKDIR /app

ENV PATH="/app/.venv/bin:$PATH" \
    PYTHONUNBUFFERED=1 \
    BATON_DATA_DIR=/data
# No VOLUME: mount a named volume at /data (-v baton:/data) when using the embedded PostgreSQL;
# processes using DATABASE_URL keep only scratch files there and need none.
EXPOSE 8000

# Healthy only while /healthz answers 200 (database reachable, migrations applied, worker alive).
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request as u; sys.exit(u.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status != 200)"]

ENTRYPOINT ["tini", "--", "baton-entrypoint"]
CMD ["baton", "serve", "--host", "0.0.0.0", "--port", "8000"]
