package flow

// Measures are what podflow measured about a flow beside its packet counts,
// during one record's interval. Each part is present only when it was
// measured (its Has… method): a UDP flow carries no RTT rather than a zero
// pretending to be one.
type Measures struct {
	// Smoothed RTT of the local TCP socket sending this flow, sampled at
	// each segment it received (tcp_probe): the sum, count and extremes.
	RTTSumUs   uint64
	RTTSamples uint32
	RTTMinUs   uint32
	RTTMaxUs   uint32

	// Retransmissions of that socket: segments as tcpi_total_retrans counts
	// them, and their TCP payload as tcpi_bytes_retrans counts it. Known
	// (even when 0) whenever the socket is local: see HasRetrans.
	RetransPackets uint32
	RetransOctets  uint64

	// Packets of this flow the kernel dropped on this node, their IP
	// octets, and the reason of the latest drop (enum skb_drop_reason
	// without its SKB_DROP_REASON_ prefix).
	DropPackets uint64
	DropOctets  uint64
	DropReason  string
	dropLastNs  int64 // when DropReason was seen, to keep the latest when merging

	// TCP handshake timed on the wire at the observation point (on the
	// client→server flow): SYN → SYN-ACK and SYN-ACK → ACK.
	Handshake Handshake
	// TCP segments seen again at the observation point (sequence numbers
	// below the highest already seen): retransmissions as the wire shows
	// them, for flows whose sockets are not local. See bpf/wire.h.
	WireRetransPackets uint32
}

// Handshake is one TCP handshake's timing at an observation point.
type Handshake struct {
	ServerUs uint32 // SYN → SYN-ACK: the path to the server and back, plus its SYN processing
	ClientUs uint32 // SYN-ACK → ACK: the path to the client and back
	Seen     bool
}

// HasRTT reports whether RTT samples were taken.
func (m *Measures) HasRTT() bool { return m.RTTSamples > 0 }

// HasRetrans reports whether the retransmission count is known: the flow's
// sending socket is local (it was sampled, or it retransmitted).
func (m *Measures) HasRetrans() bool { return m.RTTSamples > 0 || m.RetransPackets > 0 }

// HasWireRetrans reports whether retransmissions were seen on the wire.
func (m *Measures) HasWireRetrans() bool { return m.WireRetransPackets > 0 }

// HasDrops reports whether the kernel dropped packets of the flow.
func (m *Measures) HasDrops() bool { return m.DropPackets > 0 }

// RTTMeanUs returns the mean of the RTT samples (0 without samples).
func (m *Measures) RTTMeanUs() uint32 {
	if m.RTTSamples == 0 {
		return 0
	}
	return uint32(m.RTTSumUs / uint64(m.RTTSamples))
}

// SetDrop records drops with the reason of the latest of them, seen at
// atNs (any monotonic clock, used only to order merges).
func (m *Measures) SetDrop(packets, octets uint64, reason string, atNs int64) {
	m.DropPackets, m.DropOctets, m.DropReason, m.dropLastNs = packets, octets, reason, atNs
}

// Add merges o into m: sums, extremes, the latest drop reason and the
// latest handshake.
func (m *Measures) Add(o *Measures) {
	if o.RTTSamples > 0 {
		if m.RTTSamples == 0 || o.RTTMinUs < m.RTTMinUs {
			m.RTTMinUs = o.RTTMinUs
		}
		m.RTTMaxUs = max(m.RTTMaxUs, o.RTTMaxUs)
		m.RTTSumUs += o.RTTSumUs
		m.RTTSamples += o.RTTSamples
	}
	m.RetransPackets += o.RetransPackets
	m.RetransOctets += o.RetransOctets
	if o.DropPackets > 0 {
		m.DropPackets += o.DropPackets
		m.DropOctets += o.DropOctets
		if m.DropReason == "" || o.dropLastNs >= m.dropLastNs {
			m.DropReason, m.dropLastNs = o.DropReason, o.dropLastNs
		}
	}
	if o.Handshake.Seen {
		m.Handshake = o.Handshake
	}
	m.WireRetransPackets += o.WireRetransPackets
}

// TupleEntry is what sockets and drop points measured for one 5-tuple
// during one drain interval. They know no observation point: the table
// joins them to the flow of their Tuple (see Table.Update).
type TupleEntry struct {
	Tuple
	Measures
}
