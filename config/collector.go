package config

import (
	"fmt"
	"maps"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Collector is one export destination, parsed from a URL such as
// ipfix+udp://collector.example:4739.
type Collector struct {
	URL       string // as given
	Protocol  string // "ipfix", "netflow9" or "netflow5"
	Transport string // "udp" or "tcp"
	Address   string // host:port, for net.Dial
}

// collectorScheme is what a URL scheme stands for. Supporting a new export
// protocol or transport (netflow9+udp, netflow5+udp, ipfix+tls) is one entry
// in collectorSchemes plus the exporter itself.
type collectorScheme struct {
	protocol, transport string
}

var collectorSchemes = map[string]collectorScheme{
	"ipfix+udp":    {protocol: "ipfix", transport: "udp"},
	"ipfix+tcp":    {protocol: "ipfix", transport: "tcp"},
	"ipfix+tls":    {protocol: "ipfix", transport: "tls"},
	"netflow9+udp": {protocol: "netflow9", transport: "udp"},
	"netflow5+udp": {protocol: "netflow5", transport: "udp"},
}

// knownSchemes lists collectorSchemes for error messages, sorted.
func knownSchemes() string {
	return strings.Join(slices.Sorted(maps.Keys(collectorSchemes)), ", ")
}

// hostnamePattern is an RFC 1123 host name (labels of letters, digits and
// inner dashes), which is what DNS and Kubernetes service names use.
var hostnamePattern = regexp.MustCompile(`^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$`)

// ParseCollector parses a collector URL: SCHEME://HOST:PORT with a known
// scheme, a host name or IP address (IPv6 in brackets) and a numeric port
// 1..65535. Nothing else (path, query, user) is accepted.
func ParseCollector(raw string) (Collector, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Collector{}, fmt.Errorf("invalid collector URL %q: %w", raw, err)
	}
	scheme, ok := collectorSchemes[u.Scheme]
	if !ok {
		return Collector{}, fmt.Errorf("collector URL %q: unknown scheme %q, want one of %s", raw, u.Scheme, knownSchemes())
	}
	if u.Opaque != "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return Collector{}, fmt.Errorf("collector URL %q: want %s://HOST:PORT and nothing else", raw, u.Scheme)
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		return Collector{}, fmt.Errorf("collector URL %q: want HOST:PORT after %s://: %w", raw, u.Scheme, err)
	}
	if err := checkHost(host); err != nil {
		return Collector{}, fmt.Errorf("collector URL %q: %w", raw, err)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return Collector{}, fmt.Errorf("collector URL %q: port %q is not a number in 1..65535", raw, port)
	}
	return Collector{
		URL:       raw,
		Protocol:  scheme.protocol,
		Transport: scheme.transport,
		Address:   net.JoinHostPort(host, port),
	}, nil
}

func checkHost(host string) error {
	if host == "" {
		return fmt.Errorf("missing host")
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return nil
	}
	if len(host) > 253 || !hostnamePattern.MatchString(host) {
		return fmt.Errorf("invalid host %q", host)
	}
	return nil
}
