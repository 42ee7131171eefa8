// Package bpf holds podflow's kernel programs (C sources, vendored headers
// and the bpf2go output committed next to them) and their Go loader.
package bpf

// Regenerate with `make generate` (Debian's clang); CI checks that the
// committed objects match.
//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel -type flow_key -type flow_val -type flow_stat -type handshake -type seq_state Flow flow.c -- -I./headers
//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel -type tuple_val -type event_stat -type owner_event -type owner_kind Events events.c -- -I./headers
//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel Reference reference.c -- -I./headers
