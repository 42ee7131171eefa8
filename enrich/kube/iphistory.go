package kube

import (
	"net/netip"
	"slices"
	"time"
)

// holder is one pod's tenure of one IP: [from, until), until zero while the
// pod still holds it.
type holder struct {
	pod         *Pod
	from, until time.Time
}

func (h *holder) ended() bool { return !h.until.IsZero() }

// expiry is when an ended holder's entry must be checked for pruning.
type expiry struct {
	ip netip.Addr
	at time.Time
}

// ipHistory maps each IP to the pods that held it, oldest first, with
// ranges that never overlap. It is not safe for concurrent use: the
// Watcher guards it.
type ipHistory struct {
	grace   time.Duration
	byIP    map[netip.Addr][]holder
	expires []expiry // in the order holders ended; at = when it ended + grace
}

func newIPHistory(grace time.Duration) ipHistory {
	return ipHistory{grace: grace, byIP: make(map[netip.Addr][]holder)}
}

// claim records that p holds ip, seen at time seen. A pod that already
// holds ip only has its snapshot replaced. A new holder's range starts at
// its creation, but never before the previous holder's range ended; a
// holder still open (its end was never seen) is ended where the new one
// starts.
func (h *ipHistory) claim(ip netip.Addr, p *Pod, seen time.Time) {
	hs := h.byIP[ip]
	for i := range hs {
		if hs[i].pod.UID == p.UID && !hs[i].ended() {
			hs[i].pod = p
			return
		}
	}
	from := p.Created
	if from.IsZero() || seen.Before(from) {
		from = seen
	}
	for i := range hs {
		if !hs[i].ended() {
			hs[i].until = later(from, hs[i].from)
			h.expires = append(h.expires, expiry{ip, seen.Add(h.grace)})
		}
		from = later(from, hs[i].until)
	}
	h.byIP[ip] = append(hs, holder{pod: p, from: from})
}

// release ends uid's tenure of ip at time seen.
func (h *ipHistory) release(ip netip.Addr, uid string, seen time.Time) {
	hs := h.byIP[ip]
	for i := range hs {
		if hs[i].pod.UID == uid && !hs[i].ended() {
			hs[i].until = later(seen, hs[i].from)
			h.expires = append(h.expires, expiry{ip, seen.Add(h.grace)})
			return
		}
	}
}

// lookup returns the pod that held ip at time at, if its entry has not
// outlived the grace period by now.
func (h *ipHistory) lookup(ip netip.Addr, at, now time.Time) (*Pod, bool) {
	hs := h.byIP[ip]
	for i := len(hs) - 1; i >= 0; i-- {
		c := &hs[i]
		if at.Before(c.from) {
			continue
		}
		// Ranges are ordered and disjoint: the newest one starting at or
		// before at is the only candidate.
		if c.ended() && (!at.Before(c.until) || !now.Before(c.until.Add(h.grace))) {
			return nil, false
		}
		return c.pod, true
	}
	return nil, false
}

// sweep forgets ended holders whose grace period is over at now.
func (h *ipHistory) sweep(now time.Time) {
	n := 0
	for n < len(h.expires) && !now.Before(h.expires[n].at) {
		ip := h.expires[n].ip
		hs := slices.DeleteFunc(h.byIP[ip], func(c holder) bool {
			return c.ended() && !now.Before(c.until.Add(h.grace))
		})
		if len(hs) == 0 {
			delete(h.byIP, ip)
		} else {
			h.byIP[ip] = hs
		}
		n++
	}
	if n > 0 {
		h.expires = slices.Delete(h.expires, 0, n)
	}
}

// counts returns the number of IPs, of ended holders still kept and of IPs
// with more than one holder.
func (h *ipHistory) counts() (ips, ended, multi int) {
	for _, hs := range h.byIP {
		if len(hs) > 1 {
			multi++
		}
		for i := range hs {
			if hs[i].ended() {
				ended++
			}
		}
	}
	return len(h.byIP), ended, multi
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
