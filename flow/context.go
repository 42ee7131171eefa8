package flow

import "net/netip"

// Context is what the enrichment stage learned about a record beyond the
// kernel's counts: the local processes at either end and the NAT the
// conntrack table applied. Zero values mean unknown.
type Context struct {
	Src, Dst Process // the processes owning the source and destination endpoints, when local
	NAT      NAT
}

// Process is a local process owning one end of a flow.
type Process struct {
	PID         uint32
	Name        string // comm
	Exe         string // executable path
	ContainerID string // from the process's cgroup; "" outside containers
}

// Known reports whether the process was identified.
func (p *Process) Known() bool { return p.PID != 0 }

// NAT is where the flow's packets went after address translation (IPFIX
// postNATSource/DestinationIPv4/IPv6Address and postNAPT ports): for a flow
// to a service IP, the backend it was DNAT'ed to; for a masqueraded flow,
// the source it left with. Zero when no translation applies.
type NAT struct {
	SrcAddr, DstAddr netip.Addr
	SrcPort, DstPort uint16
}

// Known reports whether a translation applies.
func (n *NAT) Known() bool { return n.SrcAddr.IsValid() && n.DstAddr.IsValid() }

// Enricher adds Context to records in place before they are exported. It
// must not block: lookups are served from tables kept fresh elsewhere.
type Enricher interface {
	Enrich(records []Record)
}
