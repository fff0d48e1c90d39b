# tagdrift container image: a release build on Debian 12, run from distroless `cc` (glibc and libgcc, no
# shell, no package manager) as the distroless `nonroot` user, uid/gid 65532. The Helm chart's
# podSecurityContext/securityContext.runAsUser must stay equal to that uid (.ci/chart-checks compares them).
#
#   docker build -t tagdrift:0.1.0 .
#   docker run --rm -p 9898:9898 -v "$PWD/config:/etc/tagdrift:ro" tagdrift:0.1.0 \
#     run --config /etc/tagdrift/example.yaml

# The toolchain CI tests with; Cargo.toml's rust-version is the minimum.
ARG RUST_VERSION=1.95

FROM docker.io/library/rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src
# The workspace: its manifest and lock file, the page templates' escaper setting (askama.toml), the library
# crates and the root package.
COPY Cargo.toml Cargo.lock askama.toml ./
COPY crates ./crates
COPY src ./src
RUN cargo fetch --locked
# Without the default `emulator` feature: the emulated clouds (`tagdrift emulate`, `tagdrift demo`) are test
# tooling and stay out of the image.
RUN cargo build --release --locked --no-default-features --package tagdrift --bin tagdrift \
 && install -D -m 0755 target/release/tagdrift /out/tagdrift

# Same Debian release (bookworm, glibc 2.36) as the build stage, so the dynamically linked binary runs.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/tagdrift /usr/local/bin/tagdrift
USER 65532:65532
EXPOSE 9898
ENTRYPOINT ["/usr/local/bin/tagdrift"]
CMD ["run", "--config", "/etc/tagdrift/desired-state.yaml"]
