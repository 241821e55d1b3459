# The `based` binary (node, proposer, gateway, validator) in a slim image.
#
#   docker build -t based:local .
#   docker run --rm based:local --help
#
# The Kurtosis package (kurtosis/, docs/kurtosis.md) runs this image. The image also carries the
# committed contract artifacts (contracts/out) so deployments can use exactly the bytecode the
# binary was built against. `based devnet` needs anvil, which this image does not ship: use
# `make devnet` on the host instead.
#
# tests/tests/kurtosis_package.rs checks this file statically: the toolchain pin equals the
# workspace's rust-version, the built package exists, every copied path exists in the repo and the
# EXPOSEd ports are the binary's default ports.

# Build stage: the workspace's rust-version (Cargo.toml `rust-version = "1.94"`).
FROM rust:1.94-slim-bookworm AS build
# C toolchain for blst, c-kzg, secp256k1 and zstd; cmake for aws-lc-sys.
RUN apt-get update \
    && apt-get install -y --no-install-recommends cmake g++ make \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock rustfmt.toml ./
COPY bin bin
COPY crates crates
COPY tests tests
COPY chain-specs chain-specs
COPY contracts/out contracts/out
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p based \
    && cp target/release/based /usr/local/bin/based

# Runtime stage.
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 based \
    && useradd --system --uid 10001 --gid based --home-dir /data --shell /usr/sbin/nologin based \
    && mkdir -p /data \
    && chown based:based /data
COPY --from=build /usr/local/bin/based /usr/local/bin/based
COPY chain-specs /usr/local/share/based/chain-specs
COPY contracts/out /usr/local/share/based/contracts
USER based
WORKDIR /data
# 8546: `based node` L2 JSON-RPC; 8547: `based proposer` transaction submission;
# 8548: `based gateway` (JSON-RPC + Commitments API). Each listens on 127.0.0.1 by default: pass
# `--http.addr 0.0.0.0` (node) or `--http.addr 0.0.0.0:<port>` (proposer, gateway) in a container.
EXPOSE 8546 8547 8548
ENTRYPOINT ["based"]
CMD ["--help"]
