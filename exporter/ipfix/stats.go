package ipfix

import (
	"sync/atomic"

	"github.com/podflow/podflow/exporter"
	"github.com/podflow/podflow/flow"
)

// counters are the running totals behind Stats: atomics, so Stats may be
// read from another goroutine while Export runs.
type counters struct {
	recordsSent, recordsLost, messagesSent, bytesSent atomic.Uint64
	sendErrors, reconnects, templatesSent             atomic.Uint64
	// packets and octets of the flow records counted in recordsLost: the
	// statistics record's notSentPacketTotalCount and notSentOctetTotalCount.
	packetsLost, octetsLost atomic.Uint64
}

func (c *counters) snapshot() exporter.Stats {
	return exporter.Stats{
		RecordsSent:   c.recordsSent.Load(),
		RecordsLost:   c.recordsLost.Load(),
		MessagesSent:  c.messagesSent.Load(),
		BytesSent:     c.bytesSent.Load(),
		SendErrors:    c.sendErrors.Load(),
		Reconnects:    c.reconnects.Load(),
		TemplatesSent: c.templatesSent.Load(),
	}
}

// lose counts records that will not be sent, with their packets and octets.
func (c *counters) lose(records ...flow.Record) {
	var packets, octets uint64
	for i := range records {
		packets += records[i].Packets
		octets += records[i].Octets
	}
	c.loseCounted(len(records), packets, octets)
}

func (c *counters) loseCounted(records int, packets, octets uint64) {
	c.recordsLost.Add(uint64(records))
	c.packetsLost.Add(packets)
	c.octetsLost.Add(octets)
}
