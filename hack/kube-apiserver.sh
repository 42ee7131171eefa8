#!/usr/bin/env bash
# Prints the path of a kube-apiserver binary for podflow's integration tests
# (internal/kubetest), building it first if the cache lacks it. The build
# compiles k8s.io/kubernetes from the Go module in internal/kubetest/apiserver
# (~6 minutes cold on 2 cores, ~20 s with a warm Go build cache), so the
# binary is cached under a name carrying the Kubernetes version: bumping the
# version there builds a new one.
#
#   PODFLOW_CACHE   cache directory (default ${XDG_CACHE_HOME:-$HOME/.cache}/podflow)
#   GO              the go command (default go)
#
# Progress goes to stderr; stdout is only the path, for $(hack/kube-apiserver.sh).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
mod=$root/internal/kubetest/apiserver
version=$(grep -oE 'k8s\.io/kubernetes v[0-9]+\.[0-9]+\.[0-9]+' "$mod/go.mod" | head -n1 | cut -d' ' -f2)
[[ -n $version ]] || { echo "kube-apiserver.sh: no k8s.io/kubernetes version in $mod/go.mod" >&2; exit 1; }

cache=${PODFLOW_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/podflow}
out=$cache/kube-apiserver-$version

if [[ ! -x $out ]]; then
	mkdir -p "$cache"
	echo "kube-apiserver.sh: building kube-apiserver $version into $out (~6 min cold)" >&2
	major=${version#v}; major=${major%%.*}
	minor=${version#v*.}; minor=${minor%%.*}
	pkg=k8s.io/component-base/version
	ldflags="-s -w -X $pkg.gitVersion=$version -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
	tmp=$(mktemp "$out.XXXXXX")
	trap 'rm -f "$tmp"' EXIT
	# A temporary name then a rename: an interrupted build never leaves a
	# truncated binary that a later run would take for a finished one.
	(cd "$mod" && GOWORK=off CGO_ENABLED=0 "${GO:-go}" build -trimpath -buildvcs=false -ldflags "$ldflags" -o "$tmp" .)
	chmod 0755 "$tmp"
	mv -f "$tmp" "$out"
	trap - EXIT
fi
echo "$out"
