package netflow5

import (
	"encoding/binary"
	"math"
	"net/netip"
	"testing"
	"time"

	"github.com/podflow/podflow/exporter/internal/udpsend"
	"github.com/podflow/podflow/flow"
	"github.com/podflow/podflow/internal/netflowtest"
)

// fuzzRecords turns fuzz input into records: mostly IPv4, some IPv6 and
// v4/v6 mixes, counters and ifindexes beyond v5's fields, times before
// Boot and far after it.
func fuzzRecords(data []byte) []flow.Record {
	var recs []flow.Record
	for b := range netflowtest.FuzzChunks(data) {
		src, dst := netip.AddrFrom4([4]byte(b[0:4])), netip.AddrFrom4([4]byte(b[16:20]))
		switch b[32] % 8 {
		case 0:
			src, dst = netip.AddrFrom16([16]byte(b[0:16])), netip.AddrFrom16([16]byte(b[16:32]))
		case 1:
			dst = netip.AddrFrom16([16]byte(b[16:32]))
		}
		protos := []uint8{flow.ProtoTCP, flow.ProtoUDP, flow.ProtoICMP, flow.ProtoSCTP, b[33]}
		first, last := netflowtest.FuzzTimes(b)
		shift := b[55] % 40 // counters up to 2^40
		recs = append(recs, flow.Record{
			Key: flow.Key{Tuple: flow.Tuple{SrcAddr: src, DstAddr: dst,
				SrcPort: binary.BigEndian.Uint16(b[34:]), DstPort: binary.BigEndian.Uint16(b[36:]),
				Proto: protos[int(b[38])%len(protos)]},
				IfIndex: binary.BigEndian.Uint32(b[51:]) >> (b[39] % 32), Direction: flow.Direction(b[39] % 2)},
			Counters: flow.Counters{Packets: binary.BigEndian.Uint64(b[56:]) >> (64 - shift - 1),
				Octets: binary.BigEndian.Uint64(b[4:12]) >> (b[41] % 64), TCPFlags: binary.BigEndian.Uint16(b[40:]) & 0x1ff,
				First: first, Last: last},
		})
	}
	return recs
}

func expected(r *flow.Record, bootMs int64) parsedRecord {
	c32 := func(v uint64) uint32 { return uint32(min(v, math.MaxUint32)) }
	idx := uint16(min(r.IfIndex, math.MaxUint16))
	uptime := func(t time.Time) uint32 { return uint32(max(t.UnixMilli()-bootMs, 0)) }
	w := parsedRecord{src: r.SrcAddr.Unmap(), dst: r.DstAddr.Unmap(), packets: c32(r.Packets), octets: c32(r.Octets),
		first: uptime(r.First), last: uptime(r.Last), sport: r.SrcPort, dport: r.DstPort,
		flags: uint8(r.TCPFlags), proto: r.Proto}
	if r.Direction == flow.Egress {
		w.out = idx
	} else {
		w.in = idx
	}
	return w
}

func FuzzV5Encode(f *testing.F) {
	f.Add(make([]byte, netflowtest.FuzzRecordLen*3), uint16(1500), uint8(1), uint8(2))
	seed := make([]byte, netflowtest.FuzzRecordLen*70)
	for i := range seed {
		seed[i] = byte(i*13 + i/netflowtest.FuzzRecordLen)
	}
	f.Add(seed, uint16(576), uint8(0), uint8(0))
	f.Add(seed[:netflowtest.FuzzRecordLen*31], uint16(1500), uint8(255), uint8(255))
	mapped := make([]byte, netflowtest.FuzzRecordLen) // a v4-mapped IPv6 pair is IPv4
	copy(mapped[10:], []byte{0xff, 0xff, 10, 0, 0, 1})
	copy(mapped[26:], []byte{0xff, 0xff, 10, 0, 0, 2})
	f.Add(mapped, uint16(1500), uint8(0), uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, mtu uint16, engineType, engineID uint8) {
		per := recordsPerPacket(int(mtu), "127.0.0.1:2055")
		if mtu == 0 || per < 1 {
			return
		}
		now := netflowtest.Boot.Add(37 * time.Hour)
		e, conn := newCaptured(t, Config{MTU: int(mtu), EngineType: engineType, EngineID: engineID,
			Boot: netflowtest.Boot, Now: func() time.Time { return now }})
		recs := fuzzRecords(data)
		var want []parsedRecord
		for i := range recs {
			if recs[i].SrcAddr.Unmap().Is4() && recs[i].DstAddr.Unmap().Is4() {
				want = append(want, expected(&recs[i], netflowtest.Boot.UnixMilli()))
			}
		}
		err := e.Export(recs)
		if (err != nil) != (len(want) < len(recs)) {
			t.Fatalf("Export = %v with %d of %d records IPv4", err, len(want), len(recs))
		}
		packets := conn.Packets()
		parsed, err := parseAll(packets)
		if err != nil {
			t.Fatal(err)
		}
		var got []parsedRecord
		for i, p := range parsed {
			h := p.header
			if len(packets[i]) > int(mtu)-udpsend.OverheadIPv4 || len(p.records) > per || h.seq != uint32(len(got)) ||
				h.engineType != engineType || h.engineID != engineID || h.sampling != 0 || h.unixNsecs != 0 {
				t.Fatalf("packet %d (%d octets): header %+v", i, len(packets[i]), h)
			}
			if i < len(parsed)-1 && len(p.records) != per {
				t.Fatalf("packet %d holds %d records, %d fit", i, len(p.records), per)
			}
			if uint32(uint64(h.unixSecs)*1000-uint64(netflowtest.Boot.UnixMilli())) != h.uptime {
				t.Fatalf("packet %d: uptime %d at %d s", i, h.uptime, h.unixSecs)
			}
			got = append(got, p.records...)
		}
		if len(got) != len(want) {
			t.Fatalf("%d records decoded, %d IPv4 sent", len(got), len(want))
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("record %d\n got %+v\nwant %+v", i, got[i], want[i])
			}
		}
		s := e.Stats()
		if s.RecordsSent != uint64(len(want)) || s.RecordsLost != uint64(len(recs)-len(want)) ||
			e.Unexportable() != s.RecordsLost || s.MessagesSent != uint64(len(packets)) {
			t.Fatalf("stats %+v, unexportable %d, for %d records (%d IPv4) in %d packets",
				s, e.Unexportable(), len(recs), len(want), len(packets))
		}
	})
}
