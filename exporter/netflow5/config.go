package netflow5

import (
	"fmt"
	"net"
	"net/netip"
	"time"
)

// Config configures one NetFlow v5 exporter (one collector).
type Config struct {
	Address    string // collector host:port (UDP)
	MTU        int    // path MTU to the collector; default 1500
	EngineType uint8  // header engine_type
	EngineID   uint8  // header engine_id
	Now        func() time.Time
	// Boot is the origin of the exporter's system uptime (milliseconds);
	// default the exporter's creation time, by Now.
	Boot time.Time
	// SamplingInterval is N when the records count each packet with
	// probability 1/N (their counts are the sampled ones): every header
	// says random sampling 1 in N (sampling.go), so collectors scale the
	// counts back. v5 holds N up to 16383: a larger N is sent as 16383,
	// logged at New and counted in Clamps.Sampling. 0 or 1: unsampled.
	SamplingInterval uint32
}

const (
	defaultMTU  = 1500
	dialTimeout = time.Second

	// IP+UDP header octets in front of a NetFlow packet.
	overheadIPv4 = 20 + 8
	overheadIPv6 = 40 + 8
)

// withDefaults fills the zero fields and rejects what cannot work.
func (c Config) withDefaults() (Config, error) {
	if _, _, err := net.SplitHostPort(c.Address); err != nil {
		return c, fmt.Errorf("netflow5: collector address %q: %w", c.Address, err)
	}
	if c.MTU == 0 {
		c.MTU = defaultMTU
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

// recordsPerPacket is how many records fit a packet to the collector at
// address: at most 30 (v5's limit), fewer if the path MTU holds fewer. The
// IP header size is known only for an address literal; for a host name we
// assume IPv6, whose header is the larger.
func recordsPerPacket(mtu int, address string) int {
	overhead := overheadIPv6
	host, _, _ := net.SplitHostPort(address)
	if ip, err := netip.ParseAddr(host); err == nil && ip.Unmap().Is4() {
		overhead = overheadIPv4
	}
	return min((mtu-overhead-headerLen)/recordLen, maxRecords)
}
