package ipfix

import (
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/podflow/podflow/exporter"
)

// Config configures one IPFIX exporter (one collector, one observation domain).
type Config struct {
	Network             string        // "udp" or "tcp"
	Address             string        // collector host:port
	ObservationDomainID uint32        // observation domain id in every message header
	MTU                 int           // path MTU to the collector; default 1500
	TemplateRefresh     time.Duration // UDP template re-send interval; default 10m
	DialTimeout         time.Duration // bound on a dial and on one TCP message write; default 1s
	ReconnectBackoff    time.Duration // minimum wait between connect attempts; default 1s
	EnterpriseNumber    uint32        // PEN of podflow's own elements; default exporter.DefaultPEN
	Now                 func() time.Time
}

const (
	defaultMTU              = 1500
	defaultTemplateRefresh  = 10 * time.Minute
	defaultDialTimeout      = time.Second
	defaultReconnectBackoff = time.Second

	// IP+UDP header octets in front of an IPFIX message.
	overheadIPv4 = 20 + 8
	overheadIPv6 = 40 + 8
	// The message length field is 16 bits.
	maxMessageLen = 65535
)

// withDefaults fills the zero fields and rejects what cannot work.
func (c Config) withDefaults() (Config, error) {
	if c.Network != "udp" && c.Network != "tcp" {
		return c, fmt.Errorf("ipfix: network %q: want udp or tcp", c.Network)
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
