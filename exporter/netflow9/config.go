package netflow9

import (
	"cmp"
	"errors"
	"time"

	"github.com/podflow/podflow/exporter/internal/udpsend"
	"github.com/podflow/podflow/exporter/internal/uptime"
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

	maxPacketLen = 65535 - udpsend.OverheadIPv4 // a UDP datagram's largest payload over IPv4
)

var errNegative = errors.New("netflow9: negative template refresh in config")

// withDefaults fills the zero fields and rejects what cannot work.
func (c Config) withDefaults() (Config, error) {
	if err := udpsend.CheckAddress("netflow9", c.Address); err != nil {
		return c, err
	}
	c.MTU = cmp.Or(c.MTU, defaultMTU)
	c.TemplateRefresh = cmp.Or(c.TemplateRefresh, defaultTemplateRefresh)
	c.TemplateRefreshPackets = cmp.Or(c.TemplateRefreshPackets, defaultTemplateRefreshPackets)
	if c.TemplateRefresh < 0 || c.TemplateRefreshPackets < 0 {
		return c, errNegative
	}
	c.Now, c.Boot = uptime.Defaults(c.Now, c.Boot)
	return c, nil
}

// packetLimit is the largest packet that fits the path MTU to the collector
// at address.
func packetLimit(mtu int, address string) int {
	return min(mtu-udpsend.Overhead(address), maxPacketLen)
}
