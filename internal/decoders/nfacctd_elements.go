package decoders

import (
	"bufio"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// ReadNfacctdPrimitives reads a pmacct aggregate_primitives file: the
// element ("PEN/ID") each named primitive prints.
func ReadNfacctdPrimitives(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("primitives: %w", err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "!") {
			continue
		}
		kv := map[string]string{}
		for _, field := range strings.Fields(line) {
			k, v, _ := strings.Cut(field, "=")
			kv[k] = v
		}
		if kv["name"] == "" || !strings.Contains(kv["field_type"], ":") {
			return nil, fmt.Errorf("primitives: line %q", line)
		}
		out[kv["name"]] = strings.Replace(kv["field_type"], ":", "/", 1)
	}
	return out, sc.Err()
}

// nfacctdProtocols are the names nfacctd prints for ip_proto.
var nfacctdProtocols = map[string]string{"tcp": "6", "udp": "17", "icmp": "1", "ipv6-icmp": "58", "sctp": "132"}

// NfacctdElements maps one of nfacctd's JSON lines (an aggregate of the
// records with the same primitives) to Elements. nfacctd prints every
// primitive of the aggregate on every line, 0 or empty when the records
// lacked its element, so those count as absent.
func NfacctdElements(line map[string]any, primitives map[string]string) (Elements, error) {
	e := Elements{}
	str := func(k string) string {
		if v, ok := line[k]; ok && v != nil {
			return fmt.Sprint(v)
		}
		return ""
	}
	for k, ids := range map[string][2]string{"ip_src": {"0/8", "0/27"}, "ip_dst": {"0/12", "0/28"}} {
		a, err := netip.ParseAddr(str(k))
		if err != nil {
			return nil, fmt.Errorf("nfacctd %s: %w", k, err)
		}
		key := ids[0]
		if a.Is6() {
			key = ids[1]
		}
		e[key] = a.String()
	}
	e["0/7"], e["0/11"], e["0/2"], e["0/1"] = str("port_src"), str("port_dst"), str("packets"), str("bytes")
	e["0/4"] = str("ip_proto")
	if n, ok := nfacctdProtocols[e["0/4"]]; ok {
		e["0/4"] = n
	}
	for k, key := range map[string]string{"timestamp_start": "0/152", "timestamp_end": "0/153"} {
		t, err := parseEpoch(str(k))
		if err != nil {
			return nil, fmt.Errorf("nfacctd %s: %w", k, err)
		}
		e[key] = t.Format(time.RFC3339Nano)
	}
	for name, key := range primitives {
		if v := str(name); v != "" && v != "0" {
			e[key] = v
		}
	}
	return e, nil
}

// parseEpoch parses nfacctd's timestamps_since_epoch ("1700000000.123000").
func parseEpoch(s string) (time.Time, error) {
	d, err := parseSeconds(s)
	if err != nil {
		return time.Time{}, err
	}
	return time.Unix(0, 0).Add(d), nil
}

// NfacctdSequenceErrors returns the lines of nfacctd's log reporting a
// sequence number it did not expect, once its checks are on (see
// NfacctdConfigDir). It counts NetFlow v9 per packet, v5 per flow and
// IPFIX per flow record: not options records, so with those in the stream
// (podflow's --ipfix-options) it reports gaps RFC 7011 does not.
func NfacctdSequenceErrors(log string) []string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "expecting flow") || strings.Contains(l, "Missing data detected") {
			out = append(out, l)
		}
	}
	return out
}

// NfacctdConfigDir copies dir's NfacctdConfig and NfacctdPrimitives to a
// temporary directory for StartNfacctd, with the config's keys overridden
// (e.g. nfacctd_disable_checks: false, as its sequence checks are off by
// default).
func NfacctdConfigDir(t testing.TB, dir string, overrides map[string]string) string {
	t.Helper()
	tmp := t.TempDir()
	if err := copyFile(filepath.Join(dir, NfacctdPrimitives), filepath.Join(tmp, NfacctdPrimitives)); err != nil {
		t.Fatal(err)
	}
	conf, err := os.ReadFile(filepath.Join(dir, NfacctdConfig))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tmp, NfacctdConfig), overrideConfig(conf, overrides), 0o644); err != nil {
		t.Fatal(err)
	}
	return tmp
}
