# syntax=docker/dockerfile:1
# The FluidCloud binaries: fluidcloud (CLI: migrate, admin), fluidcloud-api,
# fluidcloud-files and fluidcloud-worker, in one small image. docker-compose.yml runs
# each service from it with its own command.
#
# The image holds the binaries without their debug info; the debug files that
# symbolize their backtraces are the `debuginfo` stage:
#   docker build --target debuginfo --output type=local,dest=debuginfo .
# (copy NAME.debug next to the binary, or into /usr/local/bin/.debug/, to use them).

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bins \
    && scripts/split-debuginfo /out target/release/fluidcloud target/release/fluidcloud-api \
          target/release/fluidcloud-files target/release/fluidcloud-worker

FROM scratch AS debuginfo
COPY --from=build /out/debug/ /

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin fluidcloud
COPY --from=build /out/bin/ /usr/local/bin/
USER fluidcloud
ENV FLUIDCLOUD__LOG__FORMAT=json
# API, files (raw links), worker health and metrics.
EXPOSE 8080 8081 8083
CMD ["fluidcloud-api"]
