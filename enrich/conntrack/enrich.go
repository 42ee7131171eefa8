package conntrack

import "github.com/podflow/podflow/flow"

// Enrich implements flow.Enricher: records whose tuple was seen before
// translation get the post-NAT endpoints in Context.NAT. Records seen after
// translation (Kind PreNAT) are left alone: flow.NAT only carries post-NAT
// endpoints; callers wanting the service behind a backend use Lookup.
func (t *Table) Enrich(records []flow.Record) {
	for i := range records {
		r := &records[i]
		if n, ok := t.Lookup(r.Tuple); ok && n.Kind == PostNAT {
			r.Context.NAT = flow.NAT{SrcAddr: n.SrcAddr, DstAddr: n.DstAddr, SrcPort: n.SrcPort, DstPort: n.DstPort}
		}
	}
}
