// Package enrich adds context to flow records between the flow table and
// the exporters: process (pid, command, executable, container; package
// owners with process), NAT (package conntrack) and, later, Kubernetes.
// Each source is one flow.Enricher; Chain runs several in order.
package enrich

import "github.com/podflow/podflow/flow"

// Enricher is flow.Enricher: it adds context to records in place and never
// blocks the drain loop.
type Enricher = flow.Enricher

// Chain runs enrichers in order.
type Chain []Enricher

// Enrich implements flow.Enricher.
func (c Chain) Enrich(records []flow.Record) {
	for _, e := range c {
		e.Enrich(records)
	}
}
