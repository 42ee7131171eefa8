package ipfix

import (
	"bytes"
	"encoding/hex"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/podflow/podflow/flow"
)

// rawCollector is a bare UDP socket: the bytes are checked without any
// IPFIX decoder in the way.
func rawCollector(t *testing.T) (*net.UDPConn, func(n int) [][]byte) {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	read := func(n int) [][]byte {
		t.Helper()
		var out [][]byte
		buf := make([]byte, 65536)
		for range n {
			if err := conn.SetReadDeadline(time.Now().Add(waitLimit)); err != nil {
				t.Fatal(err)
			}
			size, err := conn.Read(buf)
			if err != nil {
				t.Fatalf("after %d datagrams: %v", len(out), err)
			}
			out = append(out, append([]byte(nil), buf[:size]...))
		}
		return out
	}
	return conn, read
}

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
	conn, read := rawCollector(t)
	clock := newFakeClock() // 1_700_000_000 s = 0x6553f100
	e, err := New(Config{NoOptions: true, Network: "udp", Address: conn.LocalAddr().String(), ObservationDomainID: 0x01020304, Now: clock.Now}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	r := flow.Record{
		Key: flow.Key{Tuple: flow.Tuple{SrcAddr: netip.MustParseAddr("10.1.2.3"), DstAddr: netip.MustParseAddr("192.168.7.8"),
			SrcPort: 43210, DstPort: 443, Proto: flow.ProtoTCP}, IfIndex: 7, Direction: flow.Egress},
		Counters: flow.Counters{Packets: 12, Octets: 3456, TCPFlags: 0x113,
			First: time.UnixMilli(1_700_000_000_123), Last: time.UnixMilli(1_700_000_009_456)},
		EndReason: flow.EndOfFlow,
	}
	if err := e.Export([]flow.Record{r, r}); err != nil {
		t.Fatal(err)
	}
	got := read(3)

	want := []string{
		// IPv4 template: header (version 10, length 84, export time, sequence 0, domain),
		// template set (id 2, length 68), template 256 with 15 fields (id, length).
		`000a 0054 6553f100 00000000 01020304
		 0002 0044  0100 000f
		 0008 0004  000c 0004  0007 0002  000b 0002  0004 0001  0001 0008  0002 0008  0006 0002
		 0098 0008  0099 0008  0088 0001  000a 0004  000e 0004  003d 0001  0020 0002`,
		// IPv6 template 257.
		`000a 0054 6553f100 00000000 01020304
		 0002 0044  0101 000f
		 001b 0010  001c 0010  0007 0002  000b 0002  0004 0001  0001 0008  0002 0008  0006 0002
		 0098 0008  0099 0008  0088 0001  000a 0004  000e 0004  003d 0001  008b 0002`,
		// Data: header (length 16+4+2*59 = 138), set 256 (length 122), two 59-octet
		// records, no padding.
		`000a 008a 6553f100 00000000 01020304
		 0100 007a` + strings.Repeat(`
		 0a010203 c0a80708 a8ca 01bb 06 0000000000000d80 000000000000000c 0113
		 0000018bcfe5687b 0000018bcfe58cf0 03 00000000 00000007 01 0000`, 2),
	}
	for i, w := range want {
		if wb := unhex(t, w); !bytes.Equal(got[i], wb) {
			t.Errorf("datagram %d\n got %x\nwant %x", i, got[i], wb)
		}
	}

	// The next message's sequence number counts the two data records only.
	clock.Advance(time.Second)
	if err := e.Export([]flow.Record{r}); err != nil {
		t.Fatal(err)
	}
	next := read(1)[0]
	if seq, at := be32(next[8:]), be32(next[4:]); seq != 2 || at != 1_700_000_001 {
		t.Errorf("second data message: sequence %d export time %d, want 2 and 1700000001", seq, at)
	}
}

func TestMessageLengthsAreExact(t *testing.T) {
	conn, read := rawCollector(t)
	e, err := New(Config{NoOptions: true, Network: "udp", Address: conn.LocalAddr().String(), MTU: 1000}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	const n = 300
	if err := e.Export(mixedRecords(n)); err != nil {
		t.Fatal(err)
	}
	// (1000-28-20)/59 = 16 IPv4, /83 = 11 IPv6 records per message.
	msgs := 2 + ceilDiv(n/2, 16) + ceilDiv(n/2, 11)
	records, seq := 0, uint32(0)
	for i, d := range read(msgs) {
		if len(d) > 1000-28 || int(be16(d[2:])) != len(d) || int(be16(d[18:])) != len(d)-16 {
			t.Errorf("datagram %d: %d octets, message length %d, set length %d", i, len(d), be16(d[2:]), be16(d[18:]))
		}
		if be32(d[8:]) != seq {
			t.Errorf("datagram %d: sequence %d, want %d", i, be32(d[8:]), seq)
		}
		recLen := map[uint16]int{TemplateIDIPv4: 59, TemplateIDIPv6: 83}[be16(d[16:])]
		if recLen == 0 {
			continue // template set
		}
		if (len(d)-20)%recLen != 0 {
			t.Errorf("datagram %d: %d octets of records is not a multiple of %d", i, len(d)-20, recLen)
		}
		records += (len(d) - 20) / recLen
		seq += uint32((len(d) - 20) / recLen)
	}
	if records != n {
		t.Errorf("got %d records, want %d", records, n)
	}
}
