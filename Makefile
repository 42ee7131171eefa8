# podflow — see README.md. `sudo make run` and `sudo make test` are the two
# commands a new machine needs.
GO        ?= go
BIN       := bin/podflow
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
# The same flags as the Dockerfile's build (deploy/dockerfile_test.go checks).
LDFLAGS   := -s -w -X github.com/podflow/podflow/config.Version=$(VERSION) -X github.com/podflow/podflow/config.Commit=$(COMMIT)
COLLECTOR ?= udp://127.0.0.1:4739

.PHONY: all build generate check-generate run test test-unit bench lint clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -buildvcs=false -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/podflow

# Rebuild the BPF objects (Debian's clang) and their Go bindings.
generate:
	$(GO) generate ./bpf

# CI: the committed objects must be exactly what `make generate` produces.
check-generate: generate
	git diff --exit-code -- bpf/ || { echo "bpf/: committed objects differ from 'make generate'"; exit 1; }

# podflow on this host's interfaces, exporting to the built-in collector,
# whose records are printed live. Ctrl-C stops podflow, which drains and
# exports everything; the collector (in its own session, so Ctrl-C does not
# reach it) prints those last records, then is stopped.
run: build
	@set -e; \
	setsid ./$(BIN) collect --listen $(COLLECTOR) --format text & cpid=$$!; \
	trap 'sleep 1; kill $$cpid 2>/dev/null; wait $$cpid 2>/dev/null' EXIT; \
	./$(BIN) run --collector ipfix+$(COLLECTOR) || true

# Every test: unit, BPF (prog.Run), privileged end-to-end, interop with nfdump.
# Needs root; under CI=true a privileged test that cannot run fails.
test:
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 30m ./...

# Unprivileged subset for a quick loop (privileged tests skip).
test-unit:
	$(GO) test -count=1 ./...

bench:
	$(GO) test -run '^$$' -bench . -benchtime 1x ./bpf
	$(GO) test -run '^$$' -bench . -benchtime 3x ./agent
	$(GO) test -run '^$$' -bench . -benchmem ./flow ./exporter/...
	$(GO) test -run '^$$' -bench InformerMemory -benchtime 1x ./enrich/kube

# The kube-apiserver internal/kubetest runs: built from k8s.io/kubernetes once
# per version (~6 min cold) into ${PODFLOW_CACHE:-~/.cache/podflow}; prints its path.
.PHONY: kube-apiserver
kube-apiserver:
	@GO='$(GO)' ./hack/kube-apiserver.sh

clean:
	rm -rf bin
