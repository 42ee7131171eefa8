# Multi-stage build of a static podflow binary on a minimal runtime image.
# The BPF objects are committed (bpf/*_bpfel.o), so no clang is needed here.
#
#   docker build --build-arg VERSION=$(git describe --tags --always) \
#                --build-arg COMMIT=$(git rev-parse --short HEAD) -t REGISTRY/podflow:TAG .
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
# The release build flags live here and only here: deploy/deploy_test.go
# reads this RUN line and builds with exactly these flags to check the result
# is static (CGO_ENABLED=0: no libc, so the runtime image needs none),
# stripped (-s -w) and free of build paths (-trimpath). -buildvcs=false: the
# build context has no .git (.dockerignore), and builds from a checkout and
# from this context must not differ. Keep it one command with no shell
# operators: the test refuses anything it cannot read as plain words.
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false \
    -ldflags "-s -w -X github.com/podflow/podflow/config.Version=${VERSION} -X github.com/podflow/podflow/config.Commit=${COMMIT}" \
    -o /out/podflow ./cmd/podflow

# distroless/static: CA certificates (ipfix+tls:// collectors), tzdata and
# /etc/passwd, no shell, no libc, no package manager. It runs as uid 0: the
# DaemonSet's added capabilities are only effective for root, since
# Kubernetes sets no ambient capabilities for a non-root user. Pin the digest
# in production (gcr.io/distroless/static-debian12@sha256:...).
FROM gcr.io/distroless/static-debian12
COPY --from=build /out/podflow /podflow
ENTRYPOINT ["/podflow"]
CMD ["run"]
