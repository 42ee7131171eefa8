package delayline

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/podflow/podflow/internal/privtest"
)

// TestUDPBurstKeepsOrderAndDelay sends a burst of datagrams C→S, each
// stamped with the wall clock when sent, and checks every one arrives, in
// order, no sooner than the delay after it was sent. Arrival is the
// kernel's receive timestamp (SO_TIMESTAMPNS, also the wall clock), so the
// test's own slowness in reading the burst does not count.
func TestUDPBurstKeepsOrderAndDelay(t *testing.T) {
	privtest.Require(t)
	const (
		delay = 20 * time.Millisecond
		count = 100
	)
	tp := New(t, delay)
	var srv, cli *net.UDPConn
	err := tp.Server.Do(func() (err error) {
		srv, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(tp.ServerAddr4, 0)))
		return err
	})
	if err != nil {
		t.Fatalf("listen udp in server netns: %v", err)
	}
	defer srv.Close()
	enableRxTimestamps(t, srv)
	err = tp.Client.Do(func() (err error) {
		cli, err = net.DialUDP("udp4", nil, srv.LocalAddr().(*net.UDPAddr))
		return err
	})
	if err != nil {
		t.Fatalf("dial udp from client netns: %v", err)
	}
	defer cli.Close()

	msg := make([]byte, 12)
	for seq := range count {
		binary.BigEndian.PutUint32(msg, uint32(seq))
		binary.BigEndian.PutUint64(msg[4:], uint64(time.Now().UnixNano()))
		if _, err := cli.Write(msg); err != nil {
			t.Fatalf("send datagram %d: %v", seq, err)
		}
	}
	if err := srv.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatalf("read deadline: %v", err)
	}
	var minDelay, maxDelay, sum time.Duration
	buf, oob := make([]byte, 64), make([]byte, 128)
	for want := range count {
		n, oobn, _, _, err := srv.ReadMsgUDP(buf, oob)
		if err != nil {
			t.Fatalf("datagram %d: %v", want, err)
		}
		arrived := rxTimestamp(t, oob[:oobn])
		if n != len(msg) {
			t.Fatalf("datagram %d: %d bytes, want %d", want, n, len(msg))
		}
		if seq := binary.BigEndian.Uint32(buf); seq != uint32(want) {
			t.Fatalf("got datagram %d, want %d: the line reordered", seq, want)
		}
		oneWay := time.Duration(arrived - int64(binary.BigEndian.Uint64(buf[4:])))
		if want == 0 || oneWay < minDelay {
			minDelay = oneWay
		}
		maxDelay = max(maxDelay, oneWay)
		sum += oneWay
	}
	mean := sum / count
	t.Logf("one-way delay over %d datagrams: min %v mean %v max %v", count, minDelay, mean, maxDelay)
	if minDelay < delay {
		t.Errorf("a datagram arrived after %v, sooner than the %v delay", minDelay, delay)
	}
	// A burst queues behind the line's writer (each tun write runs R's
	// forwarding and S's receive path): alone its mean was delay + 0.2 to
	// 1.3 ms, but with CI's other packages running in parallel it reached
	// delay + 5.6 ms. Tests here do not fail on timing, so the bound only
	// catches a line that does not delay as configured at all (twice the
	// delay); the exact property is the lower bound above.
	if limit := 2 * delay; mean > limit {
		t.Errorf("mean one-way delay %v, want at most %v", mean, limit)
	}

	if err := tp.Line.Close(); err != nil {
		t.Fatalf("close line: %v", err)
	}
	stats := tp.Line.Stats()
	t.Logf("line lateness mean %v max %v", stats.MeanLateness(), stats.MaxLateness)
	// R's own MLD reports may cross the line too, hence at least.
	if stats.Packets < count || stats.TCPSegments != 0 {
		t.Errorf("line carried %d packets, %d of them TCP; want at least %d, none TCP",
			stats.Packets, stats.TCPSegments, count)
	}
	// Close is idempotent: the cleanup closes the line once more.
	if err := tp.Line.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
}

func enableRxTimestamps(t *testing.T, conn *net.UDPConn) {
	t.Helper()
	raw, err := conn.SyscallConn()
	if err != nil {
		t.Fatalf("raw conn: %v", err)
	}
	var sockErr error
	err = raw.Control(func(fd uintptr) {
		sockErr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
	})
	if err = errors.Join(err, sockErr); err != nil {
		t.Fatalf("enable SO_TIMESTAMPNS: %v", err)
	}
}

// rxTimestamp returns the SCM_TIMESTAMPNS receive time in Unix nanoseconds.
func rxTimestamp(t *testing.T, oob []byte) int64 {
	t.Helper()
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		t.Fatalf("parse control messages: %v", err)
	}
	for _, m := range msgs {
		if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SCM_TIMESTAMPNS &&
			len(m.Data) >= int(unsafe.Sizeof(unix.Timespec{})) {
			return (*unix.Timespec)(unsafe.Pointer(&m.Data[0])).Nano()
		}
	}
	t.Fatalf("no SCM_TIMESTAMPNS among %d control messages", len(msgs))
	return 0
}
