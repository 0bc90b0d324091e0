# ngx_webpush: nginx + ngx_http_webpush_module + webpush-sender + webpush-cli
# on Debian bookworm.  Multi-stage: build against Debian's nginx-dev so the
# module loads into the stock Debian nginx of the runtime image.
#
#   docker build -t ngx-webpush .
#   docker run ... ngx-webpush                      # nginx with the module
#   docker run ... ngx-webpush webpush-sender       # a sender process

FROM debian:bookworm-slim AS build
WORKDIR /src
COPY util/deps.sh util/deps.sh
RUN util/deps.sh build && rm -rf /var/lib/apt/lists/*
COPY . .
RUN make module bins

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
        nginx libhiredis0.14 libyajl2 libpq5 libcurl4 libssl3 \
        ca-certificates curl tini \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home /var/lib/webpush --create-home webpush
COPY --from=build /src/build/nginx/ngx_http_webpush_module.so \
        /usr/lib/nginx/modules/ngx_http_webpush_module.so
COPY --from=build /src/build/webpush-sender /src/build/webpush-cli \
        /usr/local/bin/
COPY sql /usr/share/webpush/sql
COPY nginx.conf.example /etc/nginx/nginx.conf
ENV WEBPUSH_SQL_DIR=/usr/share/webpush/sql
# nginx needs its temp and log dirs writable by the unprivileged user.
RUN mkdir -p /var/lib/nginx /var/log/nginx /run/nginx \
 && chown -R webpush:webpush /var/lib/nginx /var/log/nginx /run/nginx
USER webpush
EXPOSE 8443
HEALTHCHECK --interval=30s --timeout=5s \
    CMD curl -fsk https://127.0.0.1:8443/api/push/health || exit 1
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["nginx", "-g", "daemon off;"]
