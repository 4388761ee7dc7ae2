# The k8smon image with Docker (or any BuildKit/Buildah builder):
#   docker build --build-arg VERSION=$(git describe --tags --always --dirty) -t REGISTRY/k8smon:TAG .
# The same image as `make image` builds without a container engine: the build
# stage compiles with the packages of .ci/deps.sh --build, and image/rootfs.sh
# (the one list of the image's files) assembles the root filesystem that the
# final stage copies into an empty image. Keep USER and ENTRYPOINT equal to
# image/oci.py's defaults (tests/integration/test_image.sh compares them).
FROM debian:bookworm-slim AS build
WORKDIR /src
COPY .ci/deps.sh .ci/deps.sh
RUN ./.ci/deps.sh --build && rm -rf /var/lib/apt/lists/*
COPY . .
# The source is copied without .git (.dockerignore), so the version comes from here.
ARG VERSION=dev
RUN make -j"$(nproc)" VERSION="$VERSION" bin/k8smon && sh image/rootfs.sh bin/k8smon /rootfs

FROM scratch
COPY --from=build /rootfs/ /
USER 65534:65534
EXPOSE 9420
ENTRYPOINT ["/usr/bin/k8smon"]
