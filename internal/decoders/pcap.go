package decoders

import (
	"encoding/binary"
	"fmt"
	"io"
	"time"
)

// Synthetic endpoints of the frames WritePcap builds; decoders only look at
// the UDP destination port and the payload.
var (
	pcapSrcIP = [4]byte{127, 0, 0, 2}
	pcapDstIP = [4]byte{127, 0, 0, 1}
)

const pcapSrcPort = 40000

// WritePcap writes datagrams as a classic pcap file (LINKTYPE_ETHERNET) of
// Ethernet/IPv4/UDP frames addressed to dstPort, one second apart from ts so
// their order is unambiguous.
func WritePcap(w io.Writer, dstPort uint16, ts time.Time, datagrams [][]byte) error {
	hdr := make([]byte, 24)
	binary.LittleEndian.PutUint32(hdr[0:], 0xa1b2c3d4) // microsecond timestamps
	binary.LittleEndian.PutUint16(hdr[4:], 2)
	binary.LittleEndian.PutUint16(hdr[6:], 4)
	binary.LittleEndian.PutUint32(hdr[16:], 65535) // snaplen
	binary.LittleEndian.PutUint32(hdr[20:], 1)     // LINKTYPE_ETHERNET
	if _, err := w.Write(hdr); err != nil {
		return fmt.Errorf("write pcap header: %w", err)
	}
	for i, d := range datagrams {
		frame, err := udpFrame(dstPort, d)
		if err != nil {
			return fmt.Errorf("datagram %d: %w", i, err)
		}
		at := ts.Add(time.Duration(i) * time.Second)
		rec := make([]byte, 16, 16+len(frame))
		binary.LittleEndian.PutUint32(rec[0:], uint32(at.Unix()))
		binary.LittleEndian.PutUint32(rec[4:], uint32(at.Nanosecond()/1000))
		binary.LittleEndian.PutUint32(rec[8:], uint32(len(frame)))
		binary.LittleEndian.PutUint32(rec[12:], uint32(len(frame)))
		if _, err := w.Write(append(rec, frame...)); err != nil {
			return fmt.Errorf("write pcap record %d: %w", i, err)
		}
	}
	return nil
}

// udpFrame wraps payload in Ethernet, IPv4 (with a valid header checksum)
// and UDP (checksum 0: none, which IPv4 allows).
func udpFrame(dstPort uint16, payload []byte) ([]byte, error) {
	const ethLen, ipLen, udpLen = 14, 20, 8
	total := ipLen + udpLen + len(payload)
	if total > 0xffff {
		return nil, fmt.Errorf("payload of %d bytes does not fit an IPv4 packet", len(payload))
	}
	f := make([]byte, ethLen+total)
	copy(f[0:6], []byte{0x02, 0, 0, 0, 0, 1})
	copy(f[6:12], []byte{0x02, 0, 0, 0, 0, 2})
	binary.BigEndian.PutUint16(f[12:], 0x0800)

	ip := f[ethLen : ethLen+ipLen]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(total))
	ip[8] = 64 // TTL
	ip[9] = 17 // UDP
	copy(ip[12:16], pcapSrcIP[:])
	copy(ip[16:20], pcapDstIP[:])
	binary.BigEndian.PutUint16(ip[10:], ipv4Checksum(ip))

	udp := f[ethLen+ipLen:]
	binary.BigEndian.PutUint16(udp[0:], pcapSrcPort)
	binary.BigEndian.PutUint16(udp[2:], dstPort)
	binary.BigEndian.PutUint16(udp[4:], uint16(udpLen+len(payload)))
	copy(udp[udpLen:], payload)
	return f, nil
}

func ipv4Checksum(h []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(h); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(h[i:]))
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}
