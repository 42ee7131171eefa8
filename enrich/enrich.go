// Package enrich adds context to flow records between the flow table and
// the exporters: process (pid, command, container), NAT (conntrack) and
// Kubernetes (pod, namespace, workload, service). Each source is one
// Enricher; none is implemented yet (issues 3–5), so the drain loop
// exports records as the table produces them.
package enrich

import "github.com/podflow/podflow/flow"

// Enricher adds context to records in place. It must never block the drain
// loop: lookups that need I/O are served from caches kept fresh elsewhere.
type Enricher interface {
	Enrich(records []flow.Record)
}
