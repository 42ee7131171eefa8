package process

import (
	"net/netip"
	"slices"
	"testing"
)

func TestScanFakeProc(t *testing.T) {
	root := t.TempDir()
	const nsA, nsB = 4026531840, 4026532999
	// nginx master (10) and a worker forked from it (20) share listener
	// 1001; the worker also holds connection 1002.
	fakeProc{
		pid: 10, comm: "nginx", start: 1, netns: nsA,
		fds: map[string]string{"0": "/dev/null", "3": "socket:[1001]", "4": "pipe:[77]", "5": "anon_inode:[eventfd]"},
		procNetV4: "   0: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1001 1 0000000000000000 100 0 0 10 0\n" +
			"   1: 0A01A8C0:0050 6433640A:C350 01 00000000:00000000 00:00000000 00000000     0        0 1002 1 0000000000000000 20 0 0 10 -1\n" +
			"   2: 0A01A8C0:0050 6433640A:C351 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000\n",
		procNet: map[string]string{
			"tcp6": "   0: 0000000000000000FFFF00000100007F:1F90 0000000000000000FFFF00000100007F:ECAC 01 00000000:00000000 00:00000000 00000000     0        0 1003 1 0000000000000000 20 0 0 10 -1\n",
			"udp":  "  263: 00000000:0044 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 9999 2 0000000000000000 0\n",
			"udp6": "  628: B80D0120020001000000000003000000:0035 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1004 2 0000000000000000 0\n",
		},
	}.write(t, root)
	fakeProc{pid: 20, comm: "nginx", start: 2, netns: nsA,
		fds: map[string]string{"3": "socket:[1001]", "7": "socket:[1002]", "8": "socket:[1003]", "9": "socket:[1004]"},
	}.write(t, root)
	// 40 exited between the listing and the read of its namespace.
	fakeProc{pid: 40, comm: "gone", start: 4}.write(t, root)
	// 50 is a zombie in namespace B: no net tables; 60 is read instead.
	// Namespace B has IPv6 disabled.
	fakeProc{pid: 50, comm: "zombie", start: 5, netns: nsB}.write(t, root)
	fakeProc{pid: 60, comm: "coredns", start: 6, netns: nsB,
		fds:       map[string]string{"12": "socket:[2001]", "13": "socket:[65535]"},
		procNetV4: "   0: 0200A8C0:0035 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2001 1 0000000000000000 100 0 0 10 0\n",
		procNet:   map[string]string{"udp": ""},
	}.write(t, root)

	res, err := Scan(root)
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	ap := netip.MustParseAddrPort
	want := []Socket{
		{Proto: ProtoTCP, Local: ap("0.0.0.0:80"), State: StateListen, Inode: 1001, PID: 10, Comm: "nginx", NetnsInode: nsA},
		{Proto: ProtoTCP, Local: ap("192.168.1.10:80"), Remote: ap("10.100.51.100:50000"), State: StateEstablished, Inode: 1002, PID: 20, Comm: "nginx", NetnsInode: nsA},
		{Proto: ProtoTCP, Local: ap("127.0.0.1:8080"), Remote: ap("127.0.0.1:60588"), State: StateEstablished, Inode: 1003, PID: 20, Comm: "nginx", NetnsInode: nsA},
		{Proto: ProtoUDP, Local: ap("[2001:db8:1:2::3]:53"), State: StateClose, Inode: 1004, PID: 20, Comm: "nginx", NetnsInode: nsA},
		{Proto: ProtoTCP, Local: ap("192.168.0.2:53"), State: StateListen, Inode: 2001, PID: 60, Comm: "coredns", NetnsInode: nsB},
	}
	if !slices.Equal(res.Sockets, want) {
		t.Errorf("sockets:\n got %+v\nwant %+v", res.Sockets, want)
	}
	s := res.Stats
	s.Duration = 0
	// Unowned: the TIME_WAIT line and udp 9999, which no fd holds.
	wantStats := ScanStats{Processes: 5, Netns: 2, SocketFDs: 7, Sockets: 5, Unowned: 2, Vanished: 1}
	if s != wantStats {
		t.Errorf("stats = %+v, want %+v", s, wantStats)
	}
	if got, err := ScanSockets(root); err != nil || !slices.Equal(got, want) {
		t.Errorf("ScanSockets = %+v, %v; want the same sockets as Scan", got, err)
	}
}

func TestScanMissingProcRoot(t *testing.T) {
	if _, err := ScanSockets(t.TempDir() + "/nope"); err == nil {
		t.Error("ScanSockets of a missing root: no error")
	}
}
