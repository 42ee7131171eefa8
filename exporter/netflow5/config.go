package netflow5

import (
	"cmp"
	"time"

	"github.com/podflow/podflow/exporter/internal/udpsend"
	"github.com/podflow/podflow/exporter/internal/uptime"
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

const defaultMTU = 1500

// withDefaults fills the zero fields and rejects what cannot work.
func (c Config) withDefaults() (Config, error) {
	if err := udpsend.CheckAddress("netflow5", c.Address); err != nil {
		return c, err
	}
	c.MTU = cmp.Or(c.MTU, defaultMTU)
	c.Now, c.Boot = uptime.Defaults(c.Now, c.Boot)
	return c, nil
}

// recordsPerPacket is how many records fit a packet to the collector at
// address: at most 30 (v5's limit), fewer if the path MTU holds fewer.
func recordsPerPacket(mtu int, address string) int {
	return min((mtu-udpsend.Overhead(address)-headerLen)/recordLen, maxRecords)
}
