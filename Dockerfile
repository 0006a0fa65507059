# syntax=docker/dockerfile:1.7
#
# iotd images. One build stage, two runtime targets:
#
#   docker build --target app   -t iotd-app .     iotd (FastCGI pool, migrations, CLI)
#   docker build --target nginx -t iotd-nginx .   nginx with nginx/ and public/ baked in
#
# The build stage compiles and unit-tests with tools/build, the same script
# ./dev and CI use (tests/infra/check_infra.sh checks that this stays true).
# Suites that need Postgres or S3 skip themselves (exit 77) here.

ARG DEBIAN_IMAGE=debian:12-slim

########################################################################
# build: Debian 12, the -dev packages, autotools build, unit tests
########################################################################
FROM ${DEBIAN_IMAGE} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      autoconf automake libtool pkg-config make gcc libc6-dev \
      libfcgi-dev libpq-dev libcurl4-openssl-dev libxml2-dev libjson-c-dev \
      libssl-dev libvips-dev check \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN tools/build --check --install /out /tmp/build

########################################################################
# app: runtime libraries, iotd, iotd-master and iotd-render, views, migrations, RDS CA
########################################################################
FROM ${DEBIAN_IMAGE} AS app
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libfcgi0ldbl libpq5 libcurl4 libxml2 libjson-c5 libssl3 libvips42 \
      ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --no-create-home \
      --home-dir /nonexistent --shell /usr/sbin/nologin iotd
COPY --from=build /out/usr/local/ /usr/local/

# The RDS CA bundle, for PGSSLMODE=verify-full. Fetched when the image is
# built (on GitHub's runners; nothing is fetched at run time). AWS adds CAs to
# this file over time, so it is not pinned by checksum; pass
# --build-arg RDS_CA_SHA256=<sha256> to pin a reviewed copy.
ARG RDS_CA_SHA256=""
ADD --chmod=0644 https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem /usr/local/share/iotd/rds-global-bundle.pem
RUN if [ -n "$RDS_CA_SHA256" ]; then \
      echo "$RDS_CA_SHA256  /usr/local/share/iotd/rds-global-bundle.pem" | sha256sum -c -; \
    fi \
 && grep -q 'BEGIN CERTIFICATE' /usr/local/share/iotd/rds-global-bundle.pem \
 && if ldd /usr/local/bin/iotd /usr/local/bin/iotd-render /usr/local/bin/iotd-master | grep 'not found'; then exit 1; fi

ENV IOTD_VIEWS_DIR=/usr/local/share/iotd/views \
    IOTD_MIGRATIONS_DIR=/usr/local/share/iotd/migrations \
    IOTD_LISTEN=127.0.0.1:9000 \
    IOTD_ADMIN_LISTEN=127.0.0.1:9001
USER 10001:10001
EXPOSE 9000 9001
# Probes the FastCGI socket with a real request for /healthz (exit 0 on 200).
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD ["iotd", "healthcheck"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["iotd"]
CMD ["serve"]

########################################################################
# nginx: static files and the FastCGI front, non-root on 8080
########################################################################
FROM ${DEBIAN_IMAGE} AS nginx
RUN apt-get update \
 && apt-get install -y --no-install-recommends nginx-light gettext-base \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10002 --user-group --no-create-home \
      --home-dir /nonexistent --shell /usr/sbin/nologin iotd-nginx \
 && mkdir -p /etc/iotd /run/iotd-nginx \
 && chown iotd-nginx:iotd-nginx /etc/iotd /run/iotd-nginx
COPY nginx/ /usr/local/share/iotd/nginx/
COPY public/ /usr/local/share/iotd/public/

# nginx/render writes the config from nginx/iotd.conf.in. It runs at start
# (so docker-compose can point IOTD_FASTCGI at another container) and once
# here, with the ECS values, so a broken template fails the build.
ENV NGINX_PORT=8080 \
    IOTD_FASTCGI=127.0.0.1:9000 \
    IOTD_FASTCGI_ADMIN=127.0.0.1:9001 \
    IOTD_PUBLIC_DIR=/usr/local/share/iotd/public \
    NGINX_RUN_DIR=/run/iotd-nginx \
    IOTD_MAX_UPLOAD_MB=20
USER 10002:10002
RUN /usr/local/share/iotd/nginx/render /etc/iotd/nginx.conf \
 && nginx -e stderr -t -c /etc/iotd/nginx.conf
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${NGINX_PORT} && printf 'GET /healthz HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && head -n1 <&3 | grep -q ' 200 '"]
STOPSIGNAL SIGQUIT
CMD ["bash", "-c", "/usr/local/share/iotd/nginx/render /etc/iotd/nginx.conf && if grep -Eq '^[[:space:]]*daemon[[:space:]]' /etc/iotd/nginx.conf; then exec nginx -e stderr -c /etc/iotd/nginx.conf; else exec nginx -e stderr -c /etc/iotd/nginx.conf -g 'daemon off;'; fi"]
