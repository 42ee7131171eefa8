package bpf

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"unsafe"

	"github.com/cilium/ebpf/ringbuf"
)

// Owner is one report of the process owning a local TCP/UDP endpoint.
type Owner struct {
	Kind   EventsOwnerKind
	Proto  uint8
	Local  netip.AddrPort // unspecified address: a wildcard bind
	Remote netip.AddrPort // zero port: not connected
	PID    uint32         // 0 for OWNER_CLOSE
	Netns  uint32         // inode of the socket's network namespace
	Comm   string
}

// ReadOwners delivers the owner events of the attached programs (Owners
// option) to fn, on the calling goroutine, until ctx is done.
func (e *Events) ReadOwners(ctx context.Context, fn func(Owner)) error {
	rd, err := ringbuf.NewReader(e.OwnerEvents)
	if err != nil {
		return fmt.Errorf("owner events ring buffer: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { rd.Close() })
	defer stop()
	defer rd.Close()
	var rec ringbuf.Record
	for {
		if err := rd.ReadInto(&rec); err != nil {
			if errors.Is(err, ringbuf.ErrClosed) {
				return nil
			}
			return fmt.Errorf("read owner event: %w", err)
		}
		o, err := decodeOwner(rec.RawSample)
		if err != nil {
			return err
		}
		fn(o)
	}
}

func decodeOwner(raw []byte) (Owner, error) {
	var ev EventsOwnerEvent
	if len(raw) < int(unsafe.Sizeof(ev)) {
		return Owner{}, fmt.Errorf("owner event of %d bytes, want %d", len(raw), unsafe.Sizeof(ev))
	}
	if err := binary.Read(bytes.NewReader(raw), binary.LittleEndian, &ev); err != nil {
		return Owner{}, fmt.Errorf("decode owner event: %w", err)
	}
	fk := FlowFlowKey{Saddr: ev.Laddr, Daddr: ev.Raddr, Sport: ev.Lport, Dport: ev.Rport, Proto: ev.Proto, IpVersion: ev.IpVersion}
	tu := KeyToFlow(&fk).Tuple
	comm := make([]byte, 0, len(ev.Comm))
	for _, c := range ev.Comm {
		if c == 0 {
			break
		}
		comm = append(comm, byte(c))
	}
	o := Owner{
		Kind:  EventsOwnerKind(ev.Kind),
		Proto: ev.Proto,
		Local: netip.AddrPortFrom(tu.SrcAddr, tu.SrcPort),
		PID:   ev.Pid,
		Netns: ev.Netns,
		Comm:  string(comm),
	}
	if ev.Rport != 0 {
		o.Remote = netip.AddrPortFrom(tu.DstAddr, tu.DstPort)
	}
	return o, nil
}
