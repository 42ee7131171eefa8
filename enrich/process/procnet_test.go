package process

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParseProcNetLine(t *testing.T) {
	ap := netip.MustParseAddrPort
	tests := []struct {
		name string
		line string
		want procNetEntry
	}{{
		name: "tcp IPv4 listener",
		line: "   1: 0200007F:B270 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 242944 1 00000000d2fec81c 100 0 0 10 0                    ",
		want: procNetEntry{local: ap("127.0.0.2:45680"), state: StateListen, inode: 242944},
	}, {
		name: "tcp IPv4 established",
		line: "   2: 0100007F:ECAC 0100007F:B26E 01 00000000:00000000 00:00000000 00000000     0        0 242941 2 00000000f54352ab 20 0 0 10 -1",
		want: procNetEntry{local: ap("127.0.0.1:60588"), remote: ap("127.0.0.1:45678"), state: StateEstablished, inode: 242941},
	}, {
		name: "tcp IPv4 word byte order",
		line: "   3: 0A01A8C0:0016 6433640A:C350 01 00000000:00000000 02:000A7B2C 00000000  1000        0 99 4 0000000000000000 20 4 30 10 -1",
		want: procNetEntry{local: ap("192.168.1.10:22"), remote: ap("10.100.51.100:50000"), state: StateEstablished, inode: 99},
	}, {
		name: "tcp6 wildcard listener",
		line: "   0: 00000000000000000000000000000000:B26E 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 242940 1 000000006236fd5d 100 0 0 10 0",
		want: procNetEntry{local: ap("[::]:45678"), state: StateListen, inode: 242940},
	}, {
		name: "tcp6 IPv4-mapped established, unmapped",
		line: "   1: 0000000000000000FFFF00000100007F:B26E 0000000000000000FFFF00000100007F:ECAC 01 00000000:00000000 00:00000000 00000000     0        0 242942 1 000000000fa226bf 20 0 0 10 -1",
		want: procNetEntry{local: ap("127.0.0.1:45678"), remote: ap("127.0.0.1:60588"), state: StateEstablished, inode: 242942},
	}, {
		name: "tcp6 global and link-local, every word different",
		line: "   4: B80D0120020001000000000003000000:01BB 000080FE000000007856341200EFCDAB:D431 01 00000000:00000000 00:00000000 00000000     0        0 7 1 0000000000000000 20 0 0 10 -1",
		want: procNetEntry{local: ap("[2001:db8:1:2::3]:443"), remote: ap("[fe80::1234:5678:abcd:ef00]:54321"), state: StateEstablished, inode: 7},
	}, {
		name: "udp6 loopback unconnected",
		line: "  628: 00000000000000000000000001000000:B26F 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 242943 2 00000000c47882f4 0",
		want: procNetEntry{local: ap("[::1]:45679"), state: StateClose, inode: 242943},
	}, {
		name: "udp IPv4 wildcard",
		line: "  263: 00000000:0044 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 17353 2 0000000000000000 0",
		want: procNetEntry{local: ap("0.0.0.0:68"), state: StateClose, inode: 17353},
	}, {
		name: "tcp time-wait, no inode",
		line: "   5: 0100007F:1F90 0100007F:A1B2 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000",
		want: procNetEntry{local: ap("127.0.0.1:8080"), remote: ap("127.0.0.1:41394"), state: StateTimeWait, inode: 0},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseProcNetLine(tt.line)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseProcNetLineRejectsMalformed(t *testing.T) {
	for _, line := range []string{
		"   1: 0100007F:0016 00000000:0000 0A",                                                              // too few fields
		"   1: 0100007F 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1",                      // no port
		"   1: 100007F:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1",                  // 7 hex digits
		"   1: 0100007G:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1",                 // not hex
		"   1: 0100007F:10000 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1",                // port over 16 bits
		"   1: 0100007F:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 x",                 // inode
		"   1: 0100007F:0016 00000000:0000 1FF 00000000:00000000 00:00000000 00000000 0 0 1",                // state over 8 bits
		"   1: 0000000000000000FFFF00000100007:0016 00000000:0000 0A 00000000:00000000 00:00000000 0 0 0 1", // 31 hex digits
	} {
		if e, err := parseProcNetLine(line); err == nil {
			t.Errorf("parse %q = %+v, want an error", line, e)
		}
	}
}

func TestParseProcNetSkipsHeader(t *testing.T) {
	file := "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n" +
		"   0: 3500007F:0035 00000000:0000 0A 00000000:00000000 00:00000000 00000000   101        0 1234 1 0000000000000000 100 0 0 10 0\n" +
		"   1: 0100007F:0277 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5678 1 0000000000000000 100 0 0 10 0\n"
	got, err := parseProcNet(strings.NewReader(file))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	want := []procNetEntry{
		{local: netip.MustParseAddrPort("127.0.0.53:53"), state: StateListen, inode: 1234},
		{local: netip.MustParseAddrPort("127.0.0.1:631"), state: StateListen, inode: 5678},
	}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("got %+v, want %+v", got, want)
	}
}
