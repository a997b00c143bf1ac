# paystream services image (used by docker-compose.yml). Debian 12, the same
# packages as scripts/setup; the build runs the unit tests so a broken image
# is never produced.
FROM debian:12 AS build
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        build-essential cmake pkg-config librdkafka-dev libpq-dev libssl-dev libjansson-dev \
        libavro-dev libcurl4-openssl-dev libmicrohttpd-dev zlib1g-dev libzip-dev \
    && rm -rf /var/lib/apt/lists/*
COPY . /src
RUN cmake -S /src -B /build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPS_WERROR=ON \
        -DCMAKE_INSTALL_PREFIX=/usr \
    && cmake --build /build -j "$(nproc)" \
    && ctest --test-dir /build -L unit --output-on-failure \
    && DESTDIR=/install cmake --install /build

FROM debian:12
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        librdkafka++1 librdkafka1 libpq5 libssl3 libjansson4 libavro23 libcurl4 \
        libmicrohttpd12 zlib1g libzip4 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --no-create-home paystream
COPY --from=build /install/ /
# Migrations ship with the image; see docs/CONFIGURATION.md (pg.migrations_dir).
ENV PAYSTREAM_PG_MIGRATIONS_DIR=/usr/share/paystream/schemas/postgres
USER paystream
