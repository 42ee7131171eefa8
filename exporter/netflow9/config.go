package netflow9

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// Config configures one NetFlow v9 exporter (one collector, one source id).
type Config struct {
	Address  string // collector host:port (UDP)
	SourceID uint32 // source id in every packet header
	MTU      int    // path MTU to the collector; default 1500
	// Templates are sent again once this much time has passed (default
	// 10m), and once this many packets went out since they last were
	// (default 20), whichever comes first.
	TemplateRefresh        time.Duration
	TemplateRefreshPackets int
	Now                    func() time.Time
	// Boot is the origin of the exporter's system uptime (milliseconds);
	// default the exporter's creation time, by Now.
	Boot time.Time
	// SamplingInterval is N when the records count each packet with
	// probability 1/N (their counts are the sampled ones): the packets that
	// carry the templates also carry N in an options record (sampling.go),
	// so collectors scale the counts back. 0 or 1: every packet is counted
	// and nothing is sent.
	SamplingInterval uint32
}

const (
	defaultMTU                    = 1500
	defaultTemplateRefresh        = 10 * time.Minute
	defaultTemplateRefreshPackets = 20
	dialTimeout                   = time.Second

	// IP+UDP header octets in front of a NetFlow packet.
	overheadIPv4 = 20 + 8
	overheadIPv6 = 40 + 8
	maxPacketLen = 65535 - overheadIPv4
)

var errNegative = errors.New("netflow9: negative template refresh in config")

// withDefaults fills the zero fields and rejects what cannot work.
func (c Config) withDefaults() (Config, error) {
	if _, _, err := net.SplitHostPort(c.Address); err != nil {
		return c, fmt.Errorf("netflow9: collector address %q: %w", c.Address, err)
	}
	if c.MTU == 0 {
		c.MTU = defaultMTU
	}
	if c.TemplateRefresh == 0 {
		c.TemplateRefresh = defaultTemplateRefresh
	}
	if c.TemplateRefreshPackets == 0 {
		c.TemplateRefreshPackets = defaultTemplateRefreshPackets
	}
	if c.TemplateRefresh < 0 || c.TemplateRefreshPackets < 0 {
		return c, errNegative
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Boot.IsZero() {
		c.Boot = c.Now()
	}
	c.Boot = c.Boot.Truncate(time.Millisecond)
	return c, nil
}

// packetLimit is the largest packet that fits the path MTU to the collector
// at address. The IP header size is known only for an address literal; for
// a host name we assume IPv6, whose header is the larger.
func packetLimit(mtu int, address string) int {
	overhead := overheadIPv6
	host, _, _ := net.SplitHostPort(address)
	if ip, err := netip.ParseAddr(host); err == nil && ip.Unmap().Is4() {
		overhead = overheadIPv4
	}
	return min(mtu-overhead, maxPacketLen)
}
