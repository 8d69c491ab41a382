# CI stand-in for the official `nginx` image (no registry reachable): Debian's nginx reading the same
# /etc/nginx/conf.d/default.conf that compose.example.yml mounts.
FROM debian:bookworm-slim
RUN set -eux; \
    apt-get update; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx-light; \
    rm -rf /var/lib/apt/lists/* /etc/nginx/sites-enabled/*; \
    ln -sf /dev/stdout /var/log/nginx/access.log; ln -sf /dev/stderr /var/log/nginx/error.log
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
