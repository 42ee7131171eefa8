package process

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
)

// Protocol numbers of Socket.Proto.
const (
	ProtoTCP uint8 = 6
	ProtoUDP uint8 = 17
)

// TCP states of Socket.State (include/net/tcp_states.h). UDP sockets use
// StateEstablished when connected and StateClose otherwise.
const (
	StateEstablished uint8 = 0x01
	StateTimeWait    uint8 = 0x06
	StateClose       uint8 = 0x07
	StateListen      uint8 = 0x0a
)

// procNetEntry is one line of /proc/net/{tcp,tcp6,udp,udp6}.
type procNetEntry struct {
	local, remote netip.AddrPort
	state         uint8
	inode         uint64
}

// parseProcNet reads a whole /proc/net/{tcp,udp}[6] file, header included.
func parseProcNet(r io.Reader) ([]procNetEntry, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 64*1024)
	var out []procNetEntry
	first := true
	for sc.Scan() {
		if first { // the column header
			first = false
			continue
		}
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			continue
		}
		e, err := parseProcNetLine(line)
		if err != nil {
			return out, err
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("read proc net table: %w", err)
	}
	return out, nil
}

// parseProcNetLine parses one socket line:
//
//	sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ...
//
// Addresses are unmapped (::ffff:a.b.c.d becomes a.b.c.d) and an
// all-zero remote address and port becomes the zero AddrPort.
func parseProcNetLine(line string) (procNetEntry, error) {
	f := strings.Fields(line)
	if len(f) < 10 {
		return procNetEntry{}, fmt.Errorf("proc net line %q: %d fields, want at least 10", line, len(f))
	}
	local, err := parseHexAddrPort(f[1])
	if err != nil {
		return procNetEntry{}, fmt.Errorf("proc net line %q: local: %w", line, err)
	}
	remote, err := parseHexAddrPort(f[2])
	if err != nil {
		return procNetEntry{}, fmt.Errorf("proc net line %q: remote: %w", line, err)
	}
	if remote.Port() == 0 && remote.Addr().IsUnspecified() {
		remote = netip.AddrPort{}
	}
	state, err := strconv.ParseUint(f[3], 16, 8)
	if err != nil {
		return procNetEntry{}, fmt.Errorf("proc net line %q: state: %w", line, err)
	}
	inode, err := strconv.ParseUint(f[9], 10, 64)
	if err != nil {
		return procNetEntry{}, fmt.Errorf("proc net line %q: inode: %w", line, err)
	}
	return procNetEntry{local: local, remote: remote, state: uint8(state), inode: inode}, nil
}

// parseHexAddrPort parses "ADDR:PORT" as the kernel prints it: the port in
// plain hex, and the address as 32-bit words, each printed as a number
// after being read in host byte order from the network-order address (one
// word for IPv4, four for IPv6). So each word's bytes are recovered by
// writing the number back in host byte order.
func parseHexAddrPort(s string) (netip.AddrPort, error) {
	hexAddr, hexPort, ok := strings.Cut(s, ":")
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("%q: no port", s)
	}
	port, err := strconv.ParseUint(hexPort, 16, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("%q: port: %w", s, err)
	}
	var addr netip.Addr
	switch len(hexAddr) {
	case 8:
		var b [4]byte
		if err := putHexWords(b[:], hexAddr); err != nil {
			return netip.AddrPort{}, fmt.Errorf("%q: %w", s, err)
		}
		addr = netip.AddrFrom4(b)
	case 32:
		var b [16]byte
		if err := putHexWords(b[:], hexAddr); err != nil {
			return netip.AddrPort{}, fmt.Errorf("%q: %w", s, err)
		}
		addr = netip.AddrFrom16(b).Unmap()
	default:
		return netip.AddrPort{}, fmt.Errorf("%q: address of %d hex digits, want 8 or 32", s, len(hexAddr))
	}
	return netip.AddrPortFrom(addr, uint16(port)), nil
}

func putHexWords(dst []byte, hexWords string) error {
	for i := 0; i < len(dst); i += 4 {
		w, err := strconv.ParseUint(hexWords[2*i:2*i+8], 16, 32)
		if err != nil {
			return fmt.Errorf("address word %d: %w", i/4, err)
		}
		binary.NativeEndian.PutUint32(dst[i:i+4], uint32(w))
	}
	return nil
}
