package netflow9

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/podflow/podflow/exporter/internal/udpsend"
	"github.com/podflow/podflow/flow"
	"github.com/podflow/podflow/internal/netflowtest"
)

// fuzzRecords turns fuzz input into records: every field, both families
// and v4/v6 mixes, times before Boot and far after it.
func fuzzRecords(data []byte) []flow.Record {
	var recs []flow.Record
	for b := range netflowtest.FuzzChunks(data) {
		src := netip.AddrFrom16([16]byte(b[0:16]))
		dst := netip.AddrFrom16([16]byte(b[16:32]))
		switch b[32] % 4 { // IPv4, IPv6 and the two mixes
		case 0:
			src, dst = netip.AddrFrom4([4]byte(b[0:4])), netip.AddrFrom4([4]byte(b[16:20]))
		case 1:
			src = netip.AddrFrom4([4]byte(b[0:4]))
		case 2:
			dst = netip.AddrFrom4([4]byte(b[16:20]))
		}
		protos := []uint8{flow.ProtoTCP, flow.ProtoUDP, flow.ProtoICMP, flow.ProtoICMPv6, flow.ProtoSCTP, b[33]}
		first, last := netflowtest.FuzzTimes(b)
		recs = append(recs, flow.Record{
			Key: flow.Key{Tuple: flow.Tuple{SrcAddr: src, DstAddr: dst,
				SrcPort: binary.BigEndian.Uint16(b[34:]), DstPort: binary.BigEndian.Uint16(b[36:]),
				Proto: protos[int(b[38])%len(protos)]},
				IfIndex: binary.BigEndian.Uint32(b[51:]), Direction: flow.Direction(b[55] % 2)},
			Counters: flow.Counters{Packets: binary.BigEndian.Uint64(b[56:]), Octets: binary.BigEndian.Uint64(b[0:8]) ^ uint64(b[39]),
				TCPFlags: binary.BigEndian.Uint16(b[40:]) & 0x1ff, First: first, Last: last},
			EndReason: flow.EndReason(b[33] % 6),
		})
	}
	return recs
}

// expected is what the record of r must hold.
func expected(r *flow.Record, bootMs int64) parsedRecord {
	src, dst := r.SrcAddr.Unmap(), r.DstAddr.Unmap()
	want := parsedRecord{template: TemplateIDIPv4, src: src, dst: dst,
		sport: r.SrcPort, dport: r.DstPort, proto: r.Proto, octets: r.Octets, packets: r.Packets,
		flags: uint8(r.TCPFlags), reason: uint8(r.EndReason), dir: uint8(r.Direction)}
	if !src.Is4() || !dst.Is4() {
		want.template = TemplateIDIPv6
		want.src, want.dst = netip.AddrFrom16(r.SrcAddr.As16()), netip.AddrFrom16(r.DstAddr.As16())
	}
	if r.IsICMP() {
		want.icmp = r.DstPort
	}
	if r.Direction == flow.Ingress {
		want.in = r.IfIndex
	} else {
		want.out = r.IfIndex
	}
	uptime := func(t time.Time) uint32 { return uint32(max(t.UnixMilli()-bootMs, 0)) }
	want.first, want.last = uptime(r.First), uptime(r.Last)
	return want
}

func FuzzV9Encode(f *testing.F) {
	f.Add(make([]byte, netflowtest.FuzzRecordLen*3), uint16(1500), uint8(20))
	seed := make([]byte, netflowtest.FuzzRecordLen*40)
	for i := range seed {
		seed[i] = byte(i*7 + i/netflowtest.FuzzRecordLen)
	}
	f.Add(seed, uint16(576), uint8(2))
	f.Add(seed[:netflowtest.FuzzRecordLen*5], uint16(260), uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, mtu uint16, every uint8) {
		cfg := Config{MTU: int(mtu), TemplateRefreshPackets: int(every), Boot: netflowtest.Boot, SourceID: 99}
		if mtu == 0 || int(mtu) < minPacketLen+udpsend.OverheadIPv4 || every == 0 {
			return
		}
		now := netflowtest.Boot.Add(37 * time.Hour)
		cfg.Now = func() time.Time { return now }
		e, conn := newCaptured(t, cfg)
		recs := fuzzRecords(data)
		if err := e.Export(recs); err != nil {
			t.Fatal(err)
		}
		packets := conn.Packets()
		parsed, err := parseAll(packets)
		if err != nil {
			t.Fatal(err)
		}
		// Records in order, IPv4 ones first.
		var want []parsedRecord
		for fam := range 2 {
			for i := range recs {
				if w := expected(&recs[i], netflowtest.Boot.UnixMilli()); (w.template == TemplateIDIPv6) == (fam == 1) {
					want = append(want, w)
				}
			}
		}
		var got []parsedRecord
		for i, p := range parsed {
			h := p.header
			if len(packets[i]) > int(mtu)-udpsend.OverheadIPv4 || h.seq != uint32(i) || h.sourceID != 99 {
				t.Fatalf("packet %d: %d octets, sequence %d, source %d", i, len(packets[i]), h.seq, h.sourceID)
			}
			if carries := len(p.templates) > 0; carries != (i%int(every) == 0) {
				t.Fatalf("packet %d of a refresh every %d carries templates: %v", i, every, carries)
			}
			// One instant: unix_secs*1000 − sysUptime is Boot (mod 2^32).
			if uint32(uint64(h.unixSecs)*1000-uint64(netflowtest.Boot.UnixMilli())) != h.uptime {
				t.Fatalf("packet %d: uptime %d at %d s", i, h.uptime, h.unixSecs)
			}
			got = append(got, p.records...)
		}
		if len(got) != len(want) {
			t.Fatalf("%d records decoded, %d sent", len(got), len(want))
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("record %d\n got %+v\nwant %+v", i, got[i], want[i])
			}
		}
		if s := e.Stats(); s.RecordsSent != uint64(len(recs)) || s.RecordsLost != 0 || s.MessagesSent != uint64(len(packets)) {
			t.Fatalf("stats %+v for %d records in %d packets", s, len(recs), len(packets))
		}
	})
}
