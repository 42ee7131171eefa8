package netflow5

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/podflow/podflow/flow"
)

// unhex decodes hex written in groups with spaces and line breaks.
func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestGoldenBytes(t *testing.T) {
	clock := newFakeClock(boot.Add(100*time.Second + 700*time.Millisecond))
	e, conn := newCaptured(t, Config{EngineType: 1, EngineID: 2, Boot: boot, Now: clock.Now})
	tcp := truth{src: "10.1.2.3", dst: "192.168.7.8", sport: 43210, dport: 443, proto: flow.ProtoTCP,
		ifIndex: 7, dir: flow.Egress, packets: 12, octets: 3456, flags: 0x11b,
		first: 50*time.Second + 123*time.Millisecond, last: 100*time.Second + 456*time.Millisecond}
	icmp := truth{src: "10.0.0.1", dst: "10.0.0.2", dport: 3<<8 | 3, proto: flow.ProtoICMP,
		ifIndex: 9, dir: flow.Ingress, packets: 2, octets: 168, first: 90 * time.Second, last: 99 * time.Second}
	if err := e.Export(records([]truth{tcp, icmp})); err != nil {
		t.Fatal(err)
	}
	// Header: version 5, count 2, sysUptime 101000 ms and unix_secs
	// 1700000101 (the same whole second after now, nsecs 0), flow_sequence
	// 0, engine type 1 and id 2, sampling 0. Records: addresses, nexthop 0,
	// input/output ifindex, packets, octets, First, Last, ports, pad, TCP
	// flags (low 8 bits), protocol, ToS, AS numbers, masks, pad.
	want := unhex(t, `
		0005 0002 00018a88 6553f165 00000000 00000000 01 02 0000
		0a010203 c0a80708 00000000 0000 0007 0000000c 00000d80 0000c3cb 00018868 a8ca 01bb 00 1b 06 00 0000 0000 00 00 0000
		0a000001 0a000002 00000000 0009 0000 00000002 000000a8 00015f90 000182b8 0000 0303 00 00 01 00 0000 0000 00 00 0000`)
	packets := conn.packets()
	if len(packets) != 1 || !bytes.Equal(packets[0], want) {
		t.Fatalf("packets %x\nwant %x", packets, want)
	}

	// The next packet's flow_sequence counts the two records before it.
	clock.Advance(time.Second)
	if err := e.Export(records([]truth{tcp})); err != nil {
		t.Fatal(err)
	}
	want = unhex(t, `
		0005 0001 00018e70 6553f166 00000000 00000002 01 02 0000
		0a010203 c0a80708 00000000 0000 0007 0000000c 00000d80 0000c3cb 00018868 a8ca 01bb 00 1b 06 00 0000 0000 00 00 0000`)
	if got := conn.packets()[1]; !bytes.Equal(got, want) {
		t.Errorf("second packet %x\nwant %x", got, want)
	}
	if s := e.Stats(); s.RecordsSent != 3 || s.MessagesSent != 2 || s.BytesSent != 120+72 || s.RecordsLost != 0 {
		t.Errorf("stats %+v", s)
	}
}
