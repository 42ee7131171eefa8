# Multi-stage build of a static podflow binary on a minimal runtime image.
# The BPF objects are committed (bpf/*_bpfel.o), so no clang is needed here.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath \
    -ldflags "-s -w -X github.com/podflow/podflow/config.Version=${VERSION}" \
    -o /out/podflow ./cmd/podflow

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/podflow /podflow
# Loading BPF and attaching TC programs needs CAP_BPF, CAP_PERFMON and
# CAP_NET_ADMIN (granted by the DaemonSet), not a root shell.
USER 0
ENTRYPOINT ["/podflow"]
CMD ["run"]
