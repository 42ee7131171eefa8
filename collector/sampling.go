package collector

import "math"

// noteSampling remembers the packet sampling interval an options record
// announces for its observation domain, and gives flow records the one
// their domain announced last (Received.SamplingInterval).
func (s *session) noteSampling(r *Received) {
	domain := r.ObservationDomainID
	if !r.Options {
		r.SamplingInterval = s.sampling[domain]
		return
	}
	n := samplingInterval(r.Extra)
	if n == 0 {
		return
	}
	r.SamplingInterval = n
	if _, ok := s.sampling[domain]; !ok && len(s.sampling) >= maxDomainsPerSession {
		clear(s.sampling)
	}
	s.sampling[domain] = n
}

// samplingInterval reads the 1-in-N interval from the elements exporters
// announce packet sampling with, 0 when there are none: samplingInterval
// (34), samplerRandomInterval (50), samplingPacketInterval (305) with
// samplingPacketSpace (306) (N = (interval+space)/interval), or
// samplingProbability (311) (N = 1/p, rounded).
func samplingInterval(extra map[string]any) uint32 {
	for _, name := range []string{"samplingInterval", "samplerRandomInterval"} {
		if v, ok := extra[name].(uint64); ok && v > 0 {
			return clampUint32(v)
		}
	}
	if v, ok := extra["samplingPacketInterval"].(uint64); ok && v > 0 {
		space, _ := extra["samplingPacketSpace"].(uint64)
		return clampUint32(space/v + 1) // (v+space)/v, without overflowing
	}
	if p, ok := extra["samplingProbability"].(float64); ok && p > 0 && p <= 1 {
		return uint32(min(math.Round(1/p), math.MaxUint32))
	}
	return 0
}

func clampUint32(v uint64) uint32 { return uint32(min(v, math.MaxUint32)) }
