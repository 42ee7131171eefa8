package check

import (
	"context"
	"fmt"
	"strings"

	"github.com/podflow/podflow/config"
	"github.com/podflow/podflow/enrich/conntrack"
)

// EffectNATOff is what podflow does without conntrack.
const EffectNATOff = "NAT context off: no post-NAT addresses; " + CountersKeepFlowing

// ConntrackProbe starts a conntrack Table as the agent does (event
// subscription, then a dump) in this network namespace and stops it: one
// result for the table and one per sysctl it judges, with its own words.
func ConntrackProbe(cfg *config.Config) Probe {
	return Probe{Name: "conntrack", Run: func(ctx context.Context) []Result {
		ctx, stop := context.WithCancel(ctx)
		defer stop()
		t := conntrack.New(conntrack.Config{})
		if err := t.Start(ctx); err != nil {
			return []Result{ConntrackUnavailable(err)}
		}
		defer func() { stop(); <-t.Done() }()
		s := t.Stats()
		r := Result{Name: "conntrack", Status: OK}
		if s.Polling {
			r.Detail = fmt.Sprintf("dump works (%d NAT'ed connections); events off, polling", s.Entries)
		} else {
			r.Detail = fmt.Sprintf("dump and event subscription work (%d NAT'ed connections)", s.Entries)
		}
		out := []Result{r}
		for _, c := range t.Checks() {
			if !c.Warn && c.Sysctl != conntrack.SysctlEvents && c.Sysctl != conntrack.SysctlAcct {
				continue // table size and count: only worth a line when nearly full
			}
			sr := Result{Name: strings.TrimPrefix(c.Sysctl, "net.netfilter."), Status: OK, Detail: c.Value + ": " + c.Note}
			if c.Err != nil {
				sr.Detail = c.Err.Error() + ": " + c.Note
			}
			if c.Warn {
				out[0].Status = Degraded
				sr.Status = Degraded
			}
			out = append(out, sr)
		}
		if !cfg.NATContext {
			for i := range out {
				out[i].Effect = "not used: --nat-context=false"
			}
		}
		return out
	}}
}

// ConntrackUnavailable is the result, and the agent's warning, when a
// conntrack Table does not start.
func ConntrackUnavailable(err error) Result {
	return Result{Name: "conntrack", Status: Unavailable, Detail: err.Error(), Effect: EffectNATOff}
}
