# syntax=docker/dockerfile:1.7
# The operator image: a release build in the official Rust image, then only the binary on a
# distroless, non-root base (glibc + libgcc, CA certificates, no shell, no package manager).
# TLS uses rustls with the ring provider, so no OpenSSL is needed at run time.
#
#   docker build -t watson-speech-operator:0.1.0 .

ARG RUST_VERSION=1.95
FROM rust:${RUST_VERSION}-bookworm AS builder
WORKDIR /src
# Manifests first: dependency downloads are cached in a layer unless Cargo.lock changes.
COPY Cargo.toml Cargo.lock ./
COPY crates ./crates
# Cargo.toml declares the benchmark target; its file must exist for the manifest to load.
COPY benches ./benches
RUN mkdir src && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && cargo fetch --locked \
    && rm -rf src
COPY src ./src
COPY crds ./crds
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --no-default-features --bin watson-speech-operator \
    && install -D -m 0755 target/release/watson-speech-operator /out/watson-speech-operator

# Debian 12 matches the builder's glibc.
FROM gcr.io/distroless/cc-debian12:nonroot
LABEL org.opencontainers.image.title="watson-speech-operator" \
      org.opencontainers.image.description="Kubernetes operator for IBM Watson Speech custom models" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=builder /out/watson-speech-operator /usr/local/bin/watson-speech-operator
# 65532 is distroless' "nonroot"; numeric so runAsNonRoot can verify it.
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/watson-speech-operator"]
CMD ["run"]
