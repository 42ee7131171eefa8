#!/usr/bin/env bash
# Re-vendors the C headers the BPF programs build against and records where
# they came from in SOURCES. Run on a machine with the wanted kernel and
# Debian's libbpf-dev; commit the result together with regenerated objects.
set -euo pipefail
cd "$(dirname "$0")"

# libbpf's BPF-side helpers (bpf_helpers.h and friends), from Debian's libbpf-dev.
for h in bpf_helpers.h bpf_helper_defs.h bpf_endian.h bpf_core_read.h bpf_tracing.h; do
	cp "/usr/include/bpf/$h" "bpf/$h"
done
libbpf_version=$(dpkg-query -W -f='${Version}' libbpf-dev)

# Kernel types (struct __sk_buff, iphdr, ...) from the running kernel's BTF.
bpftool btf dump file /sys/kernel/btf/vmlinux format c > vmlinux.h

cat > SOURCES <<TXT
bpf/*.h     Debian libbpf-dev ${libbpf_version} (/usr/include/bpf), LGPL-2.1 OR BSD-2-Clause
vmlinux.h   bpftool btf dump of /sys/kernel/btf/vmlinux, kernel $(uname -r) $(uname -m)
TXT
