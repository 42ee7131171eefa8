package ipfix

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/podflow/podflow/exporter"
)

// Config configures one IPFIX exporter (one collector, one observation domain).
type Config struct {
	Network             string        // "udp", "tcp" or "tls" (TCP with crypto/tls)
	Address             string        // collector host:port
	ObservationDomainID uint32        // observation domain id in every message header
	MTU                 int           // path MTU to the collector; default 1500
	TemplateRefresh     time.Duration // UDP template re-send interval; default 10m
	DialTimeout         time.Duration // bound on a dial (TLS handshake included) and on one TCP message write; default 1s
	ReconnectBackoff    time.Duration // minimum wait between connect attempts; default 1s
	EnterpriseNumber    uint32        // PEN of podflow's own elements; default exporter.DefaultPEN
	Now                 func() time.Time

	// TLS configures Network "tls": RootCAs to verify the collector (nil:
	// the system's), Certificates for mutual TLS, ServerName (default: the
	// host of Address). Only for "tls".
	TLS *tls.Config

	// NoOptions sends no options templates or records at all (see
	// options.go). go-ipfix's collector, and so Antrea's flow aggregator,
	// cannot decode them: over TCP and TLS it closes the connection at the
	// first options template, so set this for such a collector.
	NoOptions bool
	// StatsInterval is how often the exporting process reliability
	// statistics record is sent (and once more at Close); default 1m,
	// negative: never.
	StatsInterval time.Duration
	// ExportingProcessID is the scope of the statistics record; default
	// the process id.
	ExportingProcessID uint32
	// InterfaceName names the interfaces records were observed on, for the
	// interface options records: name (e.g. "veth1a2b") and description
	// (its kind, e.g. "veth"), ok false when unknown. It is called from
	// Export, so it must answer from memory. nil sends no interface names.
	InterfaceName func(ifindex uint32) (name, description string, ok bool)
	// SamplingInterval is N when the records count each packet with
	// probability 1/N (their counts are the sampled ones): the sampling
	// options (sampling.go) tell collectors N at each connect and UDP
	// template refresh, so they scale the counts back. 0 or 1: every packet
	// is counted and nothing is sent. With NoOptions nothing is sent either:
	// such a collector cannot learn N.
	SamplingInterval uint32
}

const (
	defaultMTU              = 1500
	defaultTemplateRefresh  = 10 * time.Minute
	defaultDialTimeout      = time.Second
	defaultReconnectBackoff = time.Second
	defaultStatsInterval    = time.Minute

	// IP+UDP header octets in front of an IPFIX message.
	overheadIPv4 = 20 + 8
	overheadIPv6 = 40 + 8
	// The message length field is 16 bits.
	maxMessageLen = 65535
)

// stream reports whether the transport is a byte stream (TCP or TLS),
// whose messages must be written whole or the session dropped.
func (c Config) stream() bool { return c.Network != "udp" }

// withDefaults fills the zero fields and rejects what cannot work.
func (c Config) withDefaults() (Config, error) {
	if c.Network != "udp" && c.Network != "tcp" && c.Network != "tls" {
		return c, fmt.Errorf("ipfix: network %q: want udp, tcp or tls", c.Network)
	}
	if c.TLS != nil && c.Network != "tls" {
		return c, errors.New("ipfix: a TLS config is only for network tls")
	}
	if _, _, err := net.SplitHostPort(c.Address); err != nil {
		return c, fmt.Errorf("ipfix: collector address %q: %w", c.Address, err)
	}
	if c.MTU == 0 {
		c.MTU = defaultMTU
	}
	if c.TemplateRefresh == 0 {
		c.TemplateRefresh = defaultTemplateRefresh
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = defaultDialTimeout
	}
	if c.ReconnectBackoff == 0 {
		c.ReconnectBackoff = defaultReconnectBackoff
	}
	if c.EnterpriseNumber == 0 {
		c.EnterpriseNumber = exporter.DefaultPEN
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.StatsInterval == 0 {
		c.StatsInterval = defaultStatsInterval
	}
	if c.ExportingProcessID == 0 {
		c.ExportingProcessID = uint32(os.Getpid())
	}
	if c.Network == "tls" && c.TLS == nil {
		c.TLS = &tls.Config{MinVersion: tls.VersionTLS12} // the system's roots, the host of Address
	}
	if c.TemplateRefresh < 0 || c.DialTimeout < 0 || c.ReconnectBackoff < 0 {
		return c, fmt.Errorf("ipfix: negative duration in config")
	}
	return c, nil
}

// messageLimit is the largest message that fits the path MTU to the
// collector at address. The IP header size is known only for an address
// literal; for a host name we assume IPv6, whose header is the larger, so
// the limit holds whichever family the name resolves to on any reconnect.
func messageLimit(mtu int, address string) int {
	overhead := overheadIPv6
	host, _, _ := net.SplitHostPort(address)
	if ip, err := netip.ParseAddr(host); err == nil && ip.Unmap().Is4() {
		overhead = overheadIPv4
	}
	return min(mtu-overhead, maxMessageLen)
}
