// Package delayline injects a fixed one-way delay into routed test traffic,
// standing in for netem, which this kernel lacks. A Line reads IP packets
// from a tun device, holds each for the configured delay and writes it back
// into the same tun, where policy routing sends it on. New builds a
// client/router/server namespace topology whose client-to-server direction
// crosses a Line, so a TCP connection's RTT is about the delay.
package delayline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// maxNap bounds one sleep of the writer, so Close never waits longer than
// this for a long delay to run out.
const maxNap = 50 * time.Millisecond

// queueLen is how many packets may be in flight inside the line. Beyond it
// the reader stops reading and the tun's own queue drops, as a full link would.
const queueLen = 8192

// Stats counts what went through a line. Lateness is how long after its due
// time (arrival + delay) a packet was written back: the delayer's own jitter.
type Stats struct {
	// Packets written back. Besides the delayed traffic this may include
	// the router's own MLD reports, which it sends into the tun as into
	// any multicast link.
	Packets uint64
	Bytes   uint64 // their IP bytes
	// TCP segments among them, those carrying payload, and payload bytes
	// (IPv4 and IPv6 without extension headers).
	TCPSegments     uint64
	TCPDataSegments uint64
	TCPPayloadBytes uint64
	WriteErrors     uint64
	MaxLateness     time.Duration
	TotalLateness   time.Duration // divide by Packets for the mean
}

// MeanLateness is TotalLateness / Packets (0 without packets).
func (s Stats) MeanLateness() time.Duration {
	if s.Packets == 0 {
		return 0
	}
	return s.TotalLateness / time.Duration(s.Packets)
}

// Line delays every packet read from a tun by the same duration, keeping
// their order. Create it with Start; stop it with Close.
type Line struct {
	delay  time.Duration
	tun    *os.File
	queue  chan heldPacket
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	stats   Stats
	readErr error
}

type heldPacket struct {
	data []byte
	due  time.Duration // CLOCK_MONOTONIC
}

// Start runs a line on tun, a tun queue opened non-blocking (as netlink and
// netnstest.OpenTun open it), so that Close can interrupt its read. The line
// owns tun from now on and closes it in Close.
func Start(tun *os.File, delay time.Duration) *Line {
	ctx, cancel := context.WithCancel(context.Background())
	l := &Line{delay: delay, tun: tun, queue: make(chan heldPacket, queueLen), cancel: cancel}
	l.wg.Add(2)
	go l.read(ctx)
	go l.write(ctx)
	return l
}

// Stats returns the counters so far.
func (l *Line) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stats
}

// Close stops both goroutines, drops packets still held, closes the tun
// queue and returns the reader's error, if it failed before Close.
func (l *Line) Close() error {
	l.cancel()
	closeErr := l.tun.Close()
	l.wg.Wait()
	if errors.Is(closeErr, os.ErrClosed) {
		closeErr = nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return errors.Join(l.readErr, closeErr)
}

func (l *Line) read(ctx context.Context) {
	defer l.wg.Done()
	buf := make([]byte, 65536)
	for {
		n, err := l.tun.Read(buf)
		if err != nil {
			if ctx.Err() == nil {
				l.mu.Lock()
				l.readErr = fmt.Errorf("read tun: %w", err)
				l.mu.Unlock()
			}
			return
		}
		// Stamp on arrival, from the clock the writer sleeps on.
		p := heldPacket{data: append([]byte(nil), buf[:n]...), due: monotonicNow() + l.delay}
		select {
		case l.queue <- p:
		case <-ctx.Done():
			return
		}
	}
}

func (l *Line) write(ctx context.Context) {
	defer l.wg.Done()
	for {
		var p heldPacket
		select {
		case p = <-l.queue:
		case <-ctx.Done():
			return
		}
		if !sleepUntil(ctx, p.due) {
			return
		}
		late := monotonicNow() - p.due
		_, err := l.tun.Write(p.data)
		if err != nil && ctx.Err() != nil {
			return // Close raced with the write: not a write error
		}
		l.count(p.data, late, err)
	}
}

func (l *Line) count(pkt []byte, late time.Duration, writeErr error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if writeErr != nil {
		l.stats.WriteErrors++
		return
	}
	s := &l.stats
	s.Packets++
	s.Bytes += uint64(len(pkt))
	if payload, ok := tcpPayloadLen(pkt); ok {
		s.TCPSegments++
		if payload > 0 {
			s.TCPDataSegments++
			s.TCPPayloadBytes += uint64(payload)
		}
	}
	s.TotalLateness += late
	s.MaxLateness = max(s.MaxLateness, late)
}

// sleepUntil blocks until the monotonic time due, or returns false once ctx
// is cancelled. It sleeps with clock_nanosleep rather than a Go timer: the
// runtime's timers wake through epoll with millisecond granularity, which
// would add up to a millisecond of jitter; an absolute hrtimer sleep wakes
// within tens of microseconds. The thread it blocks is the writer's alone.
func sleepUntil(ctx context.Context, due time.Duration) bool {
	for {
		if ctx.Err() != nil {
			return false
		}
		now := monotonicNow()
		if now >= due {
			return true
		}
		wake := min(due, now+maxNap)
		ts := unix.NsecToTimespec(int64(wake))
		// EINTR (the runtime's preemption signals) just loops.
		_ = unix.ClockNanosleep(unix.CLOCK_MONOTONIC, unix.TIMER_ABSTIME, &ts, nil)
	}
}

func monotonicNow() time.Duration {
	var ts unix.Timespec
	// CLOCK_MONOTONIC cannot fail on Linux.
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return time.Duration(ts.Nano())
}

// tcpPayloadLen returns the TCP payload length of an IPv4 or IPv6 packet, or
// false if it is not (unfragmented, extension-header-free) TCP.
func tcpPayloadLen(pkt []byte) (int, bool) {
	if len(pkt) < 1 {
		return 0, false
	}
	var l4 []byte
	switch pkt[0] >> 4 {
	case 4:
		if len(pkt) < 20 || pkt[9] != unix.IPPROTO_TCP {
			return 0, false
		}
		// Fragments (offset or more-fragments set) carry no whole header.
		if (uint16(pkt[6])<<8|uint16(pkt[7]))&0x3fff != 0 {
			return 0, false
		}
		total := int(pkt[2])<<8 | int(pkt[3])
		ihl := int(pkt[0]&0x0f) * 4
		if ihl < 20 || total > len(pkt) || total < ihl {
			return 0, false
		}
		l4 = pkt[ihl:total]
	case 6:
		if len(pkt) < 40 || pkt[6] != unix.IPPROTO_TCP {
			return 0, false
		}
		end := 40 + (int(pkt[4])<<8 | int(pkt[5]))
		if end > len(pkt) {
			return 0, false
		}
		l4 = pkt[40:end]
	default:
		return 0, false
	}
	if len(l4) < 20 {
		return 0, false
	}
	doff := int(l4[12]>>4) * 4
	if doff < 20 || doff > len(l4) {
		return 0, false
	}
	return len(l4) - doff, true
}
