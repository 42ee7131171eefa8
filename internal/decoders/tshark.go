package decoders

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Tshark collects IPFIX datagrams on an ephemeral UDP port and decodes them
// with Wireshark's cflow dissector.
type Tshark struct {
	*Listener
	path string
	dir  string
}

// NewTshark starts the listener; it needs tshark (see RequireTool).
func NewTshark(t testing.TB) *Tshark {
	t.Helper()
	path := RequireTool(t, "tshark")
	return &Tshark{Listener: Listen(t), path: path, dir: t.TempDir()}
}

// Decode waits until n datagrams arrived (or timeout), writes them to a
// pcap and returns what tshark decodes from it.
func (ts *Tshark) Decode(n int, timeout time.Duration) (*Decoding, error) {
	datagrams, err := ts.WaitDatagrams(n, timeout)
	if err != nil {
		return nil, err
	}
	port := uint16(ts.Addr().Port)
	pcap := filepath.Join(ts.dir, fmt.Sprintf("ipfix-%d.pcap", len(datagrams)))
	f, err := os.Create(pcap)
	if err != nil {
		return nil, fmt.Errorf("create pcap: %w", err)
	}
	err = WritePcap(f, port, time.Now(), datagrams)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close pcap: %w", cerr)
	}
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return DecodePcap(ctx, ts.path, pcap, port)
}

// DecodePcap runs tshark on a capture of IPFIX sent to UDP port port.
func DecodePcap(ctx context.Context, tshark, pcap string, port uint16) (*Decoding, error) {
	cmd := exec.CommandContext(ctx, tshark, "-r", pcap,
		"-d", fmt.Sprintf("udp.port==%d,cflow", port),
		// The default limit (60 fields) would make tshark skip larger templates.
		"-o", "cflow.max_template_fields:0",
		// -J keeps cflow's whole tree; without --no-duplicate-keys a record's
		// several enterprise_private_entry values would share one JSON key.
		"-J", "cflow", "-T", "json", "--no-duplicate-keys")
	cmd.Env = append(os.Environ(), "TZ=UTC") // absolute times print in local time
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s: %w: %s", cmd, err, stderr.Bytes())
	}
	d, err := parseTsharkJSON(stdout.Bytes())
	if err != nil {
		return nil, fmt.Errorf("parse tshark output: %w", err)
	}
	return d, nil
}
