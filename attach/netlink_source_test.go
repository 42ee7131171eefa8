package attach

import (
	"net"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

func update(family uint8, msgType uint16, l netlink.Link) netlink.LinkUpdate {
	return netlink.LinkUpdate{
		IfInfomsg: nl.IfInfomsg{IfInfomsg: unix.IfInfomsg{Family: family}},
		Header:    unix.NlMsghdr{Type: msgType},
		Link:      l,
	}
}

func TestLinkEvent(t *testing.T) {
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Index: 7, Name: "veth7", EncapType: "ether"}}
	want := Link{Index: 7, Name: "veth7", Kind: "veth", EncapType: "ether"}

	ev, ok := linkEvent(update(unix.AF_UNSPEC, unix.RTM_NEWLINK, veth))
	if !ok || ev != (LinkEvent{Kind: EventLinkChanged, Link: want}) {
		t.Errorf("RTM_NEWLINK -> %+v, %v", ev, ok)
	}
	ev, ok = linkEvent(update(unix.AF_UNSPEC, unix.RTM_DELLINK, veth))
	if !ok || ev != (LinkEvent{Kind: EventLinkRemoved, Link: want}) {
		t.Errorf("RTM_DELLINK -> %+v, %v", ev, ok)
	}
	// A port leaving a bridge is announced as an AF_BRIDGE RTM_DELLINK:
	// the link still exists.
	if ev, ok := linkEvent(update(unix.AF_BRIDGE, unix.RTM_DELLINK, veth)); ok {
		t.Errorf("AF_BRIDGE RTM_DELLINK -> %+v, want ignored", ev)
	}
}

func TestIsDefaultRoute(t *testing.T) {
	_, v4any, _ := net.ParseCIDR("0.0.0.0/0")
	_, v6any, _ := net.ParseCIDR("::/0")
	_, v4net, _ := net.ParseCIDR("192.0.2.0/24")
	for _, tc := range []struct {
		name  string
		route netlink.Route
		want  bool
	}{
		{"ipv4 default", netlink.Route{Table: unix.RT_TABLE_MAIN, Dst: v4any}, true},
		{"ipv6 default", netlink.Route{Table: unix.RT_TABLE_MAIN, Dst: v6any}, true},
		{"no destination", netlink.Route{Table: unix.RT_TABLE_MAIN}, true},
		{"prefix", netlink.Route{Table: unix.RT_TABLE_MAIN, Dst: v4net}, false},
		{"other table", netlink.Route{Table: 100, Dst: v4any}, false},
	} {
		if got := isDefaultRoute(tc.route); got != tc.want {
			t.Errorf("%s: isDefaultRoute = %v, want %v", tc.name, got, tc.want)
		}
	}
}
