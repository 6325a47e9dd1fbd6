# syntax=docker/dockerfile:1
#
# k8sless container image: a static (musl) release binary on distroless/static.
#
#   docker build -t k8sless .
#   docker run --rm -p 8080:8080 -e PORT=8080 k8sless      # `k8sless serve`
#
# Build stage: the official Rust image on Alpine links against musl, so the binary is
# fully static and needs no libc in the runtime image. TLS is rustls with ring (no
# OpenSSL); the system CA bundle is read from /etc/ssl/certs at run time.
# Cloud Run ignores Docker HEALTHCHECK; it probes /readyz (startup) and /livez (liveness),
# configured in terraform/modules/k8sless/run.tf.
# checkov:skip=CKV_DOCKER_2: Cloud Run ignores HEALTHCHECK and the distroless image has no shell or curl; health is probed by Cloud Run on /readyz and /livez (terraform/modules/k8sless/run.tf)

ARG RUST_VERSION=1.95

FROM docker.io/library/rust:${RUST_VERSION}-alpine AS build
# ring compiles C and assembly: it needs a C compiler and the musl headers.
RUN apk add --no-cache gcc musl-dev
WORKDIR /src
# Static, stated rather than assumed: musl targets link statically by default, and this
# keeps it so should the default change; the check below fails the build otherwise.
ENV RUSTFLAGS="-C target-feature=+crt-static"
COPY . .
# The cache mounts only speed up local rebuilds; Cloud Build starts from scratch each time.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin k8sless \
 && if readelf -lW target/release/k8sless | grep -q 'program interpreter'; then \
      echo 'k8sless is dynamically linked' >&2; exit 1; \
    fi \
 && install -D -m 0755 target/release/k8sless /out/k8sless

# Runtime: ~2 MB of distroless (CA certificates, /etc/passwd with `nonroot`, tzdata), no shell.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/k8sless /k8sless
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    RUST_LOG=info
# 65532 is distroless' `nonroot` user.
USER 65532:65532
# Cloud Run sets $PORT; without it the service listens on 8080.
EXPOSE 8080
ENTRYPOINT ["/k8sless"]
CMD ["serve"]
