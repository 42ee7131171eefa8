package netflow5

import (
	"encoding/binary"
	"math"

	"github.com/podflow/podflow/flow"
)

const (
	version    = 5
	headerLen  = 24
	recordLen  = 48
	maxRecords = 30
)

// clamps counts the values of the records in one packet cut to fit.
type clamps struct{ ifIndex, counters, times int }

// header is what a packet header says besides the record count.
type header struct {
	uptime, unixSecs, sequence uint32
	engineType, engineID       uint8
	sampling                   uint16 // sampling.go
}

// packet is one export packet being filled; the buffer is reused.
type packet struct {
	buf      []byte
	max      int // records per packet
	count    int
	clamped  clamps
	latestMs int64 // latest record end, ms since Boot
}

func (p *packet) reset() {
	if p.buf == nil {
		p.buf = make([]byte, 0, headerLen+p.max*recordLen)
	}
	p.buf = p.buf[:headerLen]
	p.count, p.clamped, p.latestMs = 0, clamps{}, 0
}

func (p *packet) full() bool { return p.count >= p.max }

// uptimes are a record's First and Last in ms of uptime, and whether
// either was before Boot.
type uptimes struct {
	first, last uint32
	clamped     bool
}

// add appends r, an IPv4 flow, as a v5 record.
func (p *packet) add(r *flow.Record, u uptimes, lastMs int64) {
	src, dst := r.SrcAddr.Unmap().As4(), r.DstAddr.Unmap().As4()
	b := append(p.buf, src[:]...)
	b = append(b, dst[:]...)
	b = append(b, 0, 0, 0, 0) // nexthop
	in, out, ifClamped := ifIndexes(r)
	b = binary.BigEndian.AppendUint16(b, in)
	b = binary.BigEndian.AppendUint16(b, out)
	pkts, c1 := clamp32(r.Packets)
	octets, c2 := clamp32(r.Octets)
	b = binary.BigEndian.AppendUint32(b, pkts)
	b = binary.BigEndian.AppendUint32(b, octets)
	b = binary.BigEndian.AppendUint32(b, u.first)
	b = binary.BigEndian.AppendUint32(b, u.last)
	b = binary.BigEndian.AppendUint16(b, r.SrcPort)
	b = binary.BigEndian.AppendUint16(b, r.DstPort)
	b = append(b, 0, uint8(r.TCPFlags), r.Proto, 0) // pad1, tcp_flags, prot, tos
	b = append(b, 0, 0, 0, 0)                       // src_as, dst_as
	b = append(b, 0, 0, 0, 0)                       // src_mask, dst_mask, pad2
	p.buf = b
	p.count++
	p.latestMs = max(p.latestMs, lastMs)
	if ifClamped {
		p.clamped.ifIndex++
	}
	if c1 || c2 {
		p.clamped.counters++
	}
	if u.clamped {
		p.clamped.times++
	}
}

// finish writes the header; the packet is then buf, exactly.
func (p *packet) finish(h header) []byte {
	b := p.buf
	binary.BigEndian.PutUint16(b[0:], version)
	binary.BigEndian.PutUint16(b[2:], uint16(p.count))
	binary.BigEndian.PutUint32(b[4:], h.uptime)
	binary.BigEndian.PutUint32(b[8:], h.unixSecs)
	binary.BigEndian.PutUint32(b[12:], 0) // unix_nsecs: the instant is a whole second
	binary.BigEndian.PutUint32(b[16:], h.sequence)
	b[20], b[21] = h.engineType, h.engineID
	binary.BigEndian.PutUint16(b[22:], h.sampling)
	return b
}

// ifIndexes returns the input and output ifindex of r (the observed
// interface on the side of its hook, 0 on the other), cut to 16 bits.
func ifIndexes(r *flow.Record) (in, out uint16, clamped bool) {
	idx := uint16(min(r.IfIndex, math.MaxUint16))
	clamped = r.IfIndex > math.MaxUint16
	if r.Direction == flow.Egress {
		return 0, idx, clamped
	}
	return idx, 0, clamped
}

func clamp32(v uint64) (uint32, bool) {
	if v > math.MaxUint32 {
		return math.MaxUint32, true
	}
	return uint32(v), false
}
