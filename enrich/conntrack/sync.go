package conntrack

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/mdlayher/netlink"
	ct "github.com/ti-mo/conntrack"
	"github.com/vishvananda/netns"
	"go.uber.org/zap"
	"golang.org/x/sys/unix"
)

// Start reads the sysctls, subscribes to conntrack events, dumps the table
// and keeps the mirror current until ctx ends (then Done closes). Lookups
// answer from the dump once Start returns.
func (t *Table) Start(ctx context.Context) error {
	if !t.starting.CompareAndSwap(false, true) {
		return errors.New("conntrack: table started twice")
	}
	if t.cfg.Disabled {
		close(t.done)
		return nil
	}
	t.checks = readChecks(t.cfg.Netns)
	t.polling = eventsOff(t.checks)
	t.logChecks()
	dumps, err := ct.Dial(&netlink.Config{NetNS: nsFD(t.cfg.Netns)})
	if err != nil {
		return fmt.Errorf("conntrack: dial dump socket: %w", err)
	}
	t.dumps = dumps
	if !t.polling {
		// Subscribe before the first dump: an event racing the dump is then
		// queued on the socket and applied after it, never lost in between.
		if t.events, err = t.subscribe(); err != nil {
			return errors.Join(err, dumps.Close())
		}
	}
	if err := t.dump(); err != nil {
		if t.events != nil {
			err = errors.Join(err, t.events.Close())
		}
		return errors.Join(err, dumps.Close())
	}
	t.started.Store(true)

	var wg sync.WaitGroup
	if t.events != nil {
		wg.Go(func() { t.receive(ctx, t.events) })
	}
	wg.Go(func() { t.maintain(ctx) })
	go func() {
		wg.Wait()
		_ = t.dumps.Close()
		close(t.done)
	}()
	return nil
}

// subscribe opens an event socket in the namespace, sized before it joins
// the groups so no burst meets a default-sized buffer.
func (t *Table) subscribe() (*netlink.Conn, error) {
	c, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: nsFD(t.cfg.Netns)})
	if err != nil {
		return nil, fmt.Errorf("conntrack: dial event socket: %w", err)
	}
	got, err := setReadBuffer(c, t.cfg.ReadBuffer)
	if err != nil {
		return nil, errors.Join(err, c.Close())
	}
	t.readBuffer.Store(int64(got))
	for _, g := range []uint32{unix.NFNLGRP_CONNTRACK_NEW, unix.NFNLGRP_CONNTRACK_UPDATE, unix.NFNLGRP_CONNTRACK_DESTROY} {
		if err := c.JoinGroup(g); err != nil {
			return nil, errors.Join(fmt.Errorf("conntrack: join event group %d: %w", g, err), c.Close())
		}
	}
	return c, nil
}

// setReadBuffer prefers SO_RCVBUFFORCE, which net.core.rmem_max does not
// cap, and returns the size the kernel settled on.
func setReadBuffer(c *netlink.Conn, size int) (int, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, fmt.Errorf("conntrack: event socket fd: %w", err)
	}
	var got int
	var serr error
	err = rc.Control(func(fd uintptr) {
		if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, size); serr != nil {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, size)
		}
		if serr == nil {
			got, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF)
		}
	})
	if err = errors.Join(err, serr); err != nil {
		return 0, fmt.Errorf("conntrack: set event socket receive buffer to %d: %w", size, err)
	}
	return got, nil
}

// receive follows the event socket; if it fails for another reason than
// an overrun it subscribes again (and resyncs) until ctx ends.
func (t *Table) receive(ctx context.Context, sock *netlink.Conn) {
	for {
		err := t.follow(ctx, sock)
		if ctx.Err() != nil {
			return
		}
		t.log.Error("conntrack event socket failed; subscribing again", zap.Error(err))
		for sock = nil; sock == nil; {
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
			if sock, err = t.subscribe(); err != nil {
				t.log.Error("conntrack: subscribing again failed", zap.Error(err))
			}
		}
		t.resyncs.Add(1)
		t.resync()
	}
}

// follow applies the events read from sock until reading fails with
// another error than ENOBUFS, and closes sock.
func (t *Table) follow(ctx context.Context, sock *netlink.Conn) error {
	stop := context.AfterFunc(ctx, func() { _ = sock.Close() }) // unblocks Receive
	defer func() {
		if stop() {
			_ = sock.Close()
		}
	}()
	for {
		msgs, err := sock.Receive()
		switch {
		case err == nil:
			t.apply(msgs)
		case errors.Is(err, unix.ENOBUFS):
			t.overrun(sock)
		default:
			return err
		}
	}
}

// overrun handles lost events: the kernel could not queue some because the
// socket buffer was full. Only a dump can tell what they said.
func (t *Table) overrun(sock *netlink.Conn) {
	t.logOverrun()
	t.discard(sock)
	t.resyncs.Add(1)
	t.resync()
}

func (t *Table) logOverrun() {
	n := t.overruns.Add(1)
	t.log.Warn("conntrack event socket overrun (ENOBUFS): events were lost; resyncing from a dump",
		zap.Uint64("overruns", n), zap.Int64("read_buffer", t.readBuffer.Load()))
}

// discard empties sock before the resync dump. It must: after an overrun
// the kernel drops every further event, without reporting ENOBUFS again,
// until a read finds the queue empty; a dump made before that would miss
// what is dropped after it. What is read here predates the dump, which
// supersedes it (applied after the dump, a NEW whose DESTROY was lost would
// revive an ended connection).
func (t *Table) discard(sock *netlink.Conn) {
	rc, err := sock.SyscallConn()
	if err != nil {
		return
	}
	buf := make([]byte, 1) // a short read still consumes the whole datagram
	// The cap only guards against a flood outpacing these reads forever.
	for range 1 << 20 {
		var rerr error
		if err := rc.Control(func(fd uintptr) {
			_, _, rerr = unix.Recvfrom(int(fd), buf, unix.MSG_DONTWAIT|unix.MSG_TRUNC)
		}); err != nil {
			return
		}
		switch {
		case rerr == nil:
			t.discarded.Add(1)
		case errors.Is(rerr, unix.ENOBUFS):
			t.logOverrun() // emptied, refilled, overran again: still before the dump
		case errors.Is(rerr, unix.EINTR):
		default:
			return // EAGAIN: empty, and the kernel queues events again
		}
	}
}

// apply decodes event messages and applies them.
func (t *Table) apply(msgs []netlink.Message) {
	events := make([]ct.Event, 0, len(msgs))
	for _, m := range msgs {
		var ev ct.Event
		if err := ev.Unmarshal(m); err != nil || ev.Flow == nil {
			if t.decodeErrs.Add(1) == 1 {
				t.log.Warn("conntrack: undecodable event (further ones only counted)", zap.Error(err))
			}
			continue
		}
		events = append(events, ev)
	}
	t.applyEvents(events)
}

func (t *Table) applyEvents(events []ct.Event) {
	t.wmu.Lock()
	defer t.wmu.Unlock()
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, ev := range events {
		t.nEvents.Add(1)
		switch ev.Type {
		case ct.EventNew, ct.EventUpdate:
			if e, ok := entryOf(ev.Flow); ok && !t.idx.put(e, t.cfg.MaxEntries) {
				t.dropped.Add(1)
			}
		case ct.EventDestroy:
			t.idx.end(tupleOf(ev.Flow.TupleOrig), ev.Flow.ID, t.now()+int64(t.cfg.Grace))
		}
	}
	t.publish()
}

// resync dumps again; a failure leaves the maintenance loop to retry.
func (t *Table) resync() {
	if err := t.dump(); err != nil {
		t.resyncDue.Store(true)
	}
}

// dump replaces the index with one built from a fresh dump. Other writers
// wait meanwhile, so events queued during the dump are applied after its
// result, in order.
func (t *Table) dump() error {
	t.wmu.Lock()
	defer t.wmu.Unlock()
	t.nDumps.Add(1)
	flows, err := t.dumps.Dump(nil)
	if err != nil {
		t.dumpErrs.Add(1)
		t.log.Error("conntrack: dump failed", zap.Error(err))
		return fmt.Errorf("conntrack: dump: %w", err)
	}
	t.replaceLocked(flows)
	t.resyncDue.Store(false)
	return nil
}

// replaceLocked swaps in the index the dump describes (see rebuild); the
// caller holds wmu, so only readers run meanwhile and see old or new whole.
func (t *Table) replaceLocked(flows []ct.Flow) {
	x, dropped := rebuild(t.idx, flows, t.now(), int64(t.cfg.Grace), t.cfg.MaxEntries)
	t.dropped.Add(uint64(dropped))
	t.mu.Lock()
	t.idx = x
	t.publish()
	t.mu.Unlock()
}

// maintain expires ended entries, retries failed resyncs, and dumps
// periodically: to reconcile, or as the only source when polling.
func (t *Table) maintain(ctx context.Context) {
	expiry := time.NewTicker(min(max(t.cfg.Grace/4, 10*time.Millisecond), time.Second))
	defer expiry.Stop()
	interval := t.cfg.ResyncInterval
	if t.polling {
		interval = t.cfg.PollInterval
	}
	dumps := time.NewTicker(interval)
	defer dumps.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-expiry.C:
			t.expire()
			if t.resyncDue.Load() {
				t.resync()
			}
		case <-dumps.C:
			_ = t.dump() // logged and counted; the next tick tries again
		}
	}
}

func (t *Table) expire() {
	t.wmu.Lock()
	defer t.wmu.Unlock()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.idx.expire(t.now())
	t.publish()
}

// nsFD is the namespace fd for netlink.Config: 0 keeps the current one.
func nsFD(h netns.NsHandle) int {
	if h <= 0 {
		return 0
	}
	return int(h)
}
