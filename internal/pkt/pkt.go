// Package pkt builds raw Ethernet frames for BPF tests and benchmarks:
// VLAN tags, IPv4 with options and fragments, IPv6 with extension headers,
// and TCP/UDP/SCTP/ICMP headers. Checksums are left zero: the TC programs
// never look at them.
package pkt

import (
	"encoding/binary"
	"net/netip"
)

// Ext is one IPv6 extension header: Proto is its own header type (0, 43,
// 44, 51, 60), Len its total length in bytes (multiple of 8; 8 for fragment).
type Ext struct {
	Proto      uint8
	Len        int
	FragOffset uint16 // fragment header only, in 8-byte units
	More       bool   // fragment header only
}

// Frame describes one frame. Zero values give an untagged frame, no
// options, no extension headers, no payload.
type Frame struct {
	VLANs    []uint16 // outermost first; first is 802.1ad when there are two
	Src, Dst netip.Addr
	Proto    uint8
	SrcPort  uint16 // TCP/UDP/SCTP
	DstPort  uint16
	ICMPType uint8
	ICMPCode uint8
	TCPFlags uint16 // 9 bits, NS..FIN
	TCPSeq   uint32 // sequence number
	TCPOpts  int    // bytes of TCP options (multiple of 4)
	IPOpts   int    // bytes of IPv4 options (multiple of 4)
	Exts     []Ext  // IPv6 extension headers in order
	// IPv4 fragmentation: offset in 8-byte units, more-fragments flag.
	FragOffset uint16
	More       bool
	Payload    int // bytes of payload after the L4 header
}

// L4Len is the length of the L4 header the frame will carry.
func (f Frame) L4Len() int {
	switch f.Proto {
	case 6:
		return 20 + f.TCPOpts
	case 17:
		return 8
	case 132:
		return 12
	case 1, 58:
		return 8
	}
	return 0
}

func (f Frame) fragmented() bool {
	if f.Src.Is4() {
		return f.FragOffset != 0
	}
	for _, e := range f.Exts {
		if e.Proto == 44 && e.FragOffset != 0 {
			return true
		}
	}
	return false
}

// Bytes serialises the frame. A non-first fragment carries no L4 header:
// its payload is Payload bytes.
func (f Frame) Bytes() []byte {
	b := make([]byte, 12, 128) // MACs left zero
	eth := uint16(0x0800)
	if f.Src.Is6() {
		eth = 0x86DD
	}
	for i, id := range f.VLANs {
		tpid := uint16(0x8100)
		if i == 0 && len(f.VLANs) > 1 {
			tpid = 0x88A8
		}
		b = binary.BigEndian.AppendUint16(b, tpid)
		b = binary.BigEndian.AppendUint16(b, id)
	}
	b = binary.BigEndian.AppendUint16(b, eth)

	l4 := f.l4()
	if f.fragmented() {
		l4 = nil
	}
	payload := make([]byte, f.Payload)
	if f.Src.Is4() {
		b = f.ipv4(b, len(l4)+len(payload))
	} else {
		b = f.ipv6(b, len(l4)+len(payload))
	}
	b = append(b, l4...)
	return append(b, payload...)
}

func (f Frame) ipv4(b []byte, rest int) []byte {
	ihl := 20 + f.IPOpts
	h := make([]byte, ihl)
	h[0] = 0x40 | byte(ihl/4)
	binary.BigEndian.PutUint16(h[2:], uint16(ihl+rest))
	frag := f.FragOffset & 0x1fff
	if f.More {
		frag |= 0x2000
	}
	binary.BigEndian.PutUint16(h[6:], frag)
	h[8] = 64
	h[9] = f.Proto
	s, d := f.Src.As4(), f.Dst.As4()
	copy(h[12:], s[:])
	copy(h[16:], d[:])
	for i := 20; i < ihl; i++ {
		h[i] = 1 // NOP options
	}
	return append(b, h...)
}

func (f Frame) ipv6(b []byte, rest int) []byte {
	extLen := 0
	for _, e := range f.Exts {
		extLen += e.Len
	}
	h := make([]byte, 40)
	h[0] = 0x60
	binary.BigEndian.PutUint16(h[4:], uint16(extLen+rest))
	next := f.Proto
	if len(f.Exts) > 0 {
		next = f.Exts[0].Proto
	}
	h[6] = next
	h[7] = 64
	s, d := f.Src.As16(), f.Dst.As16()
	copy(h[8:], s[:])
	copy(h[24:], d[:])
	b = append(b, h...)
	for i, e := range f.Exts {
		next := f.Proto
		if i+1 < len(f.Exts) {
			next = f.Exts[i+1].Proto
		}
		x := make([]byte, e.Len)
		x[0] = next
		switch e.Proto {
		case 44:
			off := e.FragOffset << 3
			if e.More {
				off |= 1
			}
			binary.BigEndian.PutUint16(x[2:], off)
		case 51:
			x[1] = byte(e.Len/4 - 2)
		default:
			x[1] = byte(e.Len/8 - 1)
		}
		b = append(b, x...)
	}
	return b
}

func (f Frame) l4() []byte {
	h := make([]byte, f.L4Len())
	switch f.Proto {
	case 6:
		binary.BigEndian.PutUint16(h[0:], f.SrcPort)
		binary.BigEndian.PutUint16(h[2:], f.DstPort)
		binary.BigEndian.PutUint32(h[4:], f.TCPSeq)
		h[12] = byte(len(h)/4)<<4 | byte(f.TCPFlags>>8&1)
		h[13] = byte(f.TCPFlags)
	case 17, 132:
		binary.BigEndian.PutUint16(h[0:], f.SrcPort)
		binary.BigEndian.PutUint16(h[2:], f.DstPort)
		if f.Proto == 17 {
			binary.BigEndian.PutUint16(h[4:], uint16(8+f.Payload))
		}
	case 1, 58:
		h[0] = f.ICMPType
		h[1] = f.ICMPCode
	}
	return h
}
