# The engine image: built on Debian 12 with the same packages as scripts/install-deps.sh.
FROM debian:bookworm AS build
COPY scripts/install-deps.sh /src/scripts/install-deps.sh
RUN /src/scripts/install-deps.sh
COPY . /src
RUN cmake -S /src -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DOPTISCHEMA_ENABLE_TESTS=OFF -DOPTISCHEMA_ENABLE_BENCH=OFF \
 && cmake --build /build -j 2 --target optischema

# The dashboard's static export (Node.js only at build time).
FROM debian:bookworm AS dashboard
RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY web/dashboard /src/web/dashboard
RUN cd /src/web/dashboard && rm -rf node_modules out .next \
 && npm ci --no-audit --no-fund && NEXT_TELEMETRY_DISABLED=1 npx --no-install next build

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends \
      libcaf-core0.17.6 libcaf-io0.17.6 libnats3.4 libpqxx-6.4 libpq5 librocksdb7.8 libspdlog1.10 \
      libfmt9 libpg-query1504.0 libcpprest2.10 libboost-system1.74.0 postgresql-client-15 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home /var/lib/optischema optischema \
 && mkdir -p /var/lib/optischema && chown 10001:10001 /var/lib/optischema
COPY --from=build /build/optischema /usr/local/bin/optischema
COPY --from=dashboard /src/web/dashboard/out /usr/share/optischema/dashboard
# Numeric: Kubernetes' runAsNonRoot can verify only a number, not a name.
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=5s --retries=3 CMD ["optischema", "health"]
VOLUME /var/lib/optischema
ENTRYPOINT ["optischema"]
# Beyond loopback the engine needs its API token and refuses to start without one (saying how to
# make one): mount it and set OPTISCHEMA_API_TOKEN_FILE (or pass OPTISCHEMA_API_TOKEN).
CMD ["serve", "--listen", "0.0.0.0:8080", "--data-dir", "/var/lib/optischema", \
     "--static-dir", "/usr/share/optischema/dashboard"]
