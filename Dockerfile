# Single-container Baton: `docker run -p 8000:8000 -v baton:/data IMAGE` runs `baton serve` with the
# embedded PostgreSQL kept in the volume; with -e DATABASE_URL=... it uses that server instead.
FROM python:3.11-slim-bookworm

# WeasyPrint (PDF reports) needs pango and harfbuzz; DejaVu gives it a font to render with.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

RUN pip install --no-cache-dir uv

ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /app

# Dependencies in their own layer: a code change does not reinstall them.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY . .
RUN uv sync --frozen --no-dev

# The embedded PostgreSQL refuses to run as root; a plain user also keeps a breakout small.
RUN useradd --system --create-home --uid 10001 baton \
    && mkdir /data && chown baton:baton /data
USER baton

ENV PATH="/app/.venv/bin:$PATH" \
    PYTHONUNBUFFERED=1 \
    BATON_DATA_DIR=/data
VOLUME /data
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status != 200)"]

CMD ["baton", "serve", "--host", "0.0.0.0", "--port", "8000"]
