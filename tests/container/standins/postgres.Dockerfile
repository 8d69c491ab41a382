# CI stand-in for the official `postgres` image (no registry reachable): Debian's PostgreSQL with the
# same contract compose.example.yml relies on — POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_DB, data
# in /var/lib/postgresql/data, pg_isready, port 5432 on all interfaces with password auth.
FROM debian:bookworm-slim
RUN set -eux; \
    mkdir -p /etc/postgresql-common/createcluster.d; \
    echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.d/ci.conf; \
    apt-get update; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-15; \
    rm -rf /var/lib/apt/lists/*; \
    mkdir -p /var/lib/postgresql/data /var/run/postgresql; \
    chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql
COPY postgres-entrypoint.sh /usr/local/bin/
ENV PATH=/usr/lib/postgresql/15/bin:$PATH PGDATA=/var/lib/postgresql/data
USER postgres
ENTRYPOINT ["/usr/local/bin/postgres-entrypoint.sh"]
