# ngx_webpush: nginx + ngx_http_webpush_module + webpush-sender + webpush-cli
# on Debian bookworm.  Multi-stage: the module is built against Debian's
# nginx-dev so it loads into the stock Debian nginx of the runtime image.
# The build runs the same make targets as `make test` (module, bins).
#
#   docker build -t ngx-webpush .
#   docker run ... ngx-webpush                       # nginx with the module
#   docker run ... ngx-webpush webpush-sender        # a sender process
#   docker run ... ngx-webpush webpush-cli migrate   # any cli command
#
# docker-compose.yml wires them to PostgreSQL and Redis.  The runtime image
# runs as the unprivileged user "webpush"; nginx listens on 8443 and wants
# /etc/webpush/tls/cert.pem and key.pem (mount them).

FROM debian:bookworm-slim AS build
WORKDIR /src
COPY util/deps.sh util/deps.sh
RUN util/deps.sh build && rm -rf /var/lib/apt/lists/*
COPY . .
RUN make module bins

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
        nginx libhiredis0.14 libyajl2 libpq5 libcurl4 libssl3 libc-ares2 \
        ca-certificates curl tini \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home-dir /var/lib/webpush --create-home \
        --shell /usr/sbin/nologin webpush \
 && mkdir -p /tmp/nginx /etc/webpush/tls \
 && chown webpush:webpush /tmp/nginx
COPY --from=build /src/build/nginx/ngx_http_webpush_module.so \
        /usr/lib/nginx/modules/ngx_http_webpush_module.so
COPY --from=build /src/build/webpush-sender /src/build/webpush-cli \
        /usr/local/bin/
COPY sql /usr/share/webpush/sql
COPY deploy/docker/nginx.conf /etc/nginx/nginx.conf
ENV WEBPUSH_SQL_DIR=/usr/share/webpush/sql
USER webpush
EXPOSE 8443
# -k: the certificate names the public host, not 127.0.0.1.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD curl -fsk https://127.0.0.1:8443/api/push/health || exit 1
ENTRYPOINT ["/usr/bin/tini", "--"]
# -e: the compiled-in /var/log/nginx/error.log is not ours to open.
CMD ["nginx", "-e", "stderr", "-c", "/etc/nginx/nginx.conf"]
