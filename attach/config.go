package attach

import (
	"errors"
	"fmt"
	"path"

	"github.com/cilium/ebpf"
	"github.com/vishvananda/netns"
)

// Programs are the TC programs to attach. The L2 pair is for links whose
// packets start with an Ethernet header; the L3 pair for links whose packets
// start at the IP header (tun, wireguard, IP-in-IP tunnels). The L3 pair may
// be nil: L3 links are then reported as attach errors and left alone.
type Programs struct {
	IngressL2, EgressL2 *ebpf.Program
	IngressL3, EgressL3 *ebpf.Program
}

// Config chooses the links to attach to and how.
type Config struct {
	// Veth selects every link of kind "veth" (pod interfaces), whatever
	// its name.
	Veth bool
	// HostInterfaces selects links by name or path.Match glob ("eth*").
	// Empty selects the links carrying a default route (IPv4 or IPv6, main
	// table), following route changes.
	HostInterfaces []string
	// ForceNetlink attaches with clsact + netlink BPF filters even where
	// the kernel has TCX links.
	ForceNetlink bool
	// Netns is the network namespace to attach in; nil means the one the
	// process runs in. It must be the namespace the LinkSource watches.
	Netns *netns.NsHandle
}

// Validate reports malformed globs.
func (c Config) Validate() error {
	var errs []error
	for _, pattern := range c.HostInterfaces {
		if _, err := path.Match(pattern, ""); err != nil {
			errs = append(errs, fmt.Errorf("host interface pattern %q: %w", pattern, err))
		}
	}
	return errors.Join(errs...)
}

// Attach methods reported in Interface.Method.
const (
	MethodTCX     = "tcx"
	MethodNetlink = "netlink"
)

// Interface is a link podflow's programs are attached to.
type Interface struct {
	Index int
	Name  string
	Kind  string
	// L2 is true when the L2 program pair is attached (the link's packets
	// carry an Ethernet header), false for the L3 pair.
	L2 bool
	// Method is MethodTCX or MethodNetlink.
	Method string
}

// Stats counts the watcher's work since Run started.
type Stats struct {
	Attached     int    // interfaces attached now
	Attaches     uint64 // successful interface attaches (both hooks)
	Detaches     uint64 // interfaces released: deleted, deselected or at shutdown
	AttachErrors uint64 // failed interface attaches, vanished links included
	DetachErrors uint64 // failed hook detaches
	SourceErrors uint64 // errors reported by the link source, failed re-lists included
}

// selection is the watcher's decision for one link.
type selection struct {
	want bool   // selected by the config
	l2   bool   // which program pair
	err  error  // selected, but podflow cannot attach (unsupported link type)
	why  string // "veth", "name", "default-route": for logs
}

// selectLink decides whether and how cfg wants l attached.
func (c Config) selectLink(l Link) selection {
	var why string
	switch {
	case c.Veth && l.Kind == "veth":
		why = "veth"
	case len(c.HostInterfaces) > 0 && c.matchesName(l.Name):
		why = "name"
	case len(c.HostInterfaces) == 0 && l.DefaultRoute:
		why = "default-route"
	default:
		return selection{}
	}
	l2, err := layerOf(l.EncapType)
	return selection{want: true, l2: l2, err: err, why: why}
}

func (c Config) matchesName(name string) bool {
	for _, pattern := range c.HostInterfaces {
		if ok, _ := path.Match(pattern, name); ok {
			return true
		}
	}
	return false
}

// layerOf tells from the ARPHRD type whether TC programs see packets that
// start with an Ethernet header (true) or with the IP header (false). Types
// with some other link header (infiniband, GRE with header_ops, ...) are
// refused: neither program variant would parse them.
func layerOf(encapType string) (bool, error) {
	switch encapType {
	case "ether", "loopback": // loopback builds a zeroed Ethernet header
		return true, nil
	case "none", // tun, wireguard
		"ipip", "tunnel6", "sit", // IP-in-IP tunnels: no header_ops
		"ppp",        // the PPP header is added by the driver, after TC
		"unknown519": // ARPHRD_RAWIP (raw-IP WWAN modems); netlink has no name for it
		return false, nil
	}
	return false, fmt.Errorf("link type %q has neither an Ethernet header nor none: not supported", encapType)
}
