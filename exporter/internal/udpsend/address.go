package udpsend

import (
	"fmt"
	"net"
	"net/netip"
)

// IP+UDP header octets in front of each datagram.
const (
	OverheadIPv4 = 20 + 8
	OverheadIPv6 = 40 + 8
)

// CheckAddress rejects a collector address the socket cannot dial: it
// must be host:port. name is the exporter's, for the error.
func CheckAddress(name, address string) error {
	if _, _, err := net.SplitHostPort(address); err != nil {
		return fmt.Errorf("%s: collector address %q: %w", name, address, err)
	}
	return nil
}

// Overhead is the IP+UDP header octets in front of each datagram to
// address (host:port), which the path MTU must hold besides the packet.
// The IP header size is known only for an address literal; for a host name
// it assumes IPv6, whose header is the larger.
func Overhead(address string) int {
	host, _, _ := net.SplitHostPort(address)
	if ip, err := netip.ParseAddr(host); err == nil && ip.Unmap().Is4() {
		return OverheadIPv4
	}
	return OverheadIPv6
}
