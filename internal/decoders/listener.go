package decoders

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"
)

// Listener records every UDP datagram sent to an ephemeral port on
// 127.0.0.1, for decoders that read captures rather than sockets.
type Listener struct {
	conn *net.UDPConn
	done chan struct{}

	mu        sync.Mutex
	datagrams [][]byte
	arrived   chan struct{} // closed and replaced on each datagram
	readErr   error
}

// Listen starts a Listener that t's cleanup closes.
func Listen(t testing.TB) *Listener {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	l := &Listener{conn: conn, done: make(chan struct{}), arrived: make(chan struct{})}
	go l.receive()
	t.Cleanup(func() {
		conn.Close()
		<-l.done
	})
	return l
}

func (l *Listener) receive() {
	defer close(l.done)
	buf := make([]byte, 65535)
	for {
		n, err := l.conn.Read(buf)
		l.mu.Lock()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				l.readErr = err
			}
			close(l.arrived)
			l.mu.Unlock()
			return
		}
		l.datagrams = append(l.datagrams, append([]byte(nil), buf[:n]...))
		close(l.arrived)
		l.arrived = make(chan struct{})
		l.mu.Unlock()
	}
}

// Addr is where to send datagrams.
func (l *Listener) Addr() *net.UDPAddr { return l.conn.LocalAddr().(*net.UDPAddr) }

// Datagrams returns a copy of what arrived so far, in arrival order.
func (l *Listener) Datagrams() [][]byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([][]byte(nil), l.datagrams...)
}

// WaitDatagrams waits until at least n datagrams arrived, or timeout.
func (l *Listener) WaitDatagrams(n int, timeout time.Duration) ([][]byte, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		l.mu.Lock()
		got, arrived, readErr := len(l.datagrams), l.arrived, l.readErr
		l.mu.Unlock()
		switch {
		case got >= n:
			return l.Datagrams(), nil
		case readErr != nil:
			return nil, fmt.Errorf("receive: %w", readErr)
		}
		select {
		case <-arrived:
		case <-deadline.C:
			return nil, fmt.Errorf("%d of %d datagrams arrived within %v", got, n, timeout)
		}
	}
}
