package bpf

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/rlimit"
)

// DefaultMaxFlows is the default number of entries of each flow map.
const DefaultMaxFlows = 32768

// LoadOptions size the kernel side at load time.
type LoadOptions struct {
	// MaxFlows is the number of entries of each of the two flow maps.
	// Memory: 2 × MaxFlows × (44 B key + 40 B × possible CPUs + overhead).
	MaxFlows uint32
	// PreciseTimestamps stamps packets with bpf_ktime_get_ns (ns
	// resolution, ~40 ns per packet more here) instead of jiffies (tick
	// resolution, 1–10 ms).
	PreciseTimestamps bool
	// TrackHandshakes times TCP handshakes on the wire (SYN → SYN-ACK →
	// ACK) at every observation point.
	TrackHandshakes bool
	// TrackWireRetransmits counts TCP retransmissions from sequence numbers
	// at every observation point.
	TrackWireRetransmits bool
	// Filter selects the packets accounted; the rest are only counted in
	// the filtered_* stats. The zero value accounts every packet. Pass
	// Objects.Filter to OpenEvents to apply it to the tracepoints too.
	Filter Filter
	// SamplingInterval accounts each packet (that passed Filter) with
	// probability 1/SamplingInterval; 0 and 1 account every packet. Flows
	// then hold the sampled packets and octets, the rest go to the
	// sampled_out_* stats. Handshake timing and wire retransmissions need
	// every packet: sampling turns TrackHandshakes and
	// TrackWireRetransmits off.
	SamplingInterval uint32
}

// Objects are podflow's loaded TC programs and maps.
type Objects struct {
	FlowObjects
	precise bool          // timestamps are CLOCK_MONOTONIC ns, not jiffies
	filter  *kernelFilter // what LoadOptions.Filter compiled to, for Filter
}

// Load loads the TC programs and their maps into the kernel.
func Load(opts LoadOptions) (*Objects, error) {
	if err := rlimit.RemoveMemlock(); err != nil {
		return nil, fmt.Errorf("remove memlock rlimit: %w", err)
	}
	spec, err := LoadFlow()
	if err != nil {
		return nil, fmt.Errorf("load flow spec: %w", err)
	}
	if opts.MaxFlows == 0 {
		opts.MaxFlows = DefaultMaxFlows
	}
	for _, name := range []string{FlowMapFlowsA, FlowMapFlowsB} {
		spec.Maps[name].MaxEntries = opts.MaxFlows
	}
	spec.Maps[FlowMapLiveFlows].InnerMap.MaxEntries = opts.MaxFlows
	// Handshakes last one RTT: a quarter of the flows in flight at once is
	// plenty, and the LRU evicts SYNs that were never answered.
	spec.Maps[FlowMapHandshakes].MaxEntries = max(opts.MaxFlows/4, 1024)
	spec.Maps[FlowMapTcpSeqs].MaxEntries = opts.MaxFlows
	if opts.SamplingInterval > 1 {
		opts.TrackHandshakes, opts.TrackWireRetransmits = false, false
	}
	filter, err := opts.Filter.compile()
	if err != nil {
		return nil, err
	}
	if err := filter.apply(spec); err != nil {
		return nil, err
	}
	for name, v := range map[string]uint32{FlowVarSamplingInterval: max(opts.SamplingInterval, 1), FlowVarSamplingThreshold: samplingThreshold(opts.SamplingInterval)} {
		if err := spec.Variables[name].Set(v); err != nil {
			return nil, fmt.Errorf("set %s: %w", name, err)
		}
	}
	for name, on := range map[string]bool{"track_handshakes": opts.TrackHandshakes, "track_wire_retrans": opts.TrackWireRetransmits} {
		if err := spec.Variables[name].Set(on); err != nil {
			return nil, fmt.Errorf("set %s: %w", name, err)
		}
	}
	if err := spec.Variables["precise_timestamps"].Set(opts.PreciseTimestamps); err != nil {
		return nil, fmt.Errorf("set precise_timestamps: %w", err)
	}
	objs := &Objects{precise: opts.PreciseTimestamps, filter: filter}
	if err := spec.LoadAndAssign(&objs.FlowObjects, nil); err != nil {
		var verr *ebpf.VerifierError
		if errors.As(err, &verr) {
			return nil, fmt.Errorf("load flow programs: %w\n%+v", err, verr)
		}
		return nil, fmt.Errorf("load flow programs: %w", err)
	}
	// Until a map is live the programs count nothing: make flows_a live now.
	if err := objs.LiveFlows.Update(uint32(0), objs.FlowsA, ebpf.UpdateAny); err != nil {
		objs.Close()
		return nil, fmt.Errorf("make flows_a live: %w", err)
	}
	return objs, nil
}

// Close releases the programs and maps.
func (o *Objects) Close() error {
	return o.FlowObjects.Close()
}

// Stats returns the sums over CPUs of the kernel's per-CPU counters,
// indexed by FlowFlowStat.
func (o *Objects) Stats() ([FlowFlowStatSTAT_MAX]uint64, error) {
	var out [FlowFlowStatSTAT_MAX]uint64
	for i := range out {
		var perCPU []uint64
		if err := o.FlowMaps.Stats.Lookup(uint32(i), &perCPU); err != nil {
			return out, fmt.Errorf("read stat %d: %w", i, err)
		}
		for _, v := range perCPU {
			out[i] += v
		}
	}
	return out, nil
}

// StatNames name the kernel counters, indexed by FlowFlowStat, for logs and
// metrics.
var StatNames = [FlowFlowStatSTAT_MAX]string{
	FlowFlowStatSTAT_MAP_FULL_PACKETS:    "map_full_packets",
	FlowFlowStatSTAT_MAP_FULL_OCTETS:     "map_full_octets",
	FlowFlowStatSTAT_NON_IP_PACKETS:      "non_ip_packets",
	FlowFlowStatSTAT_NON_IP_OCTETS:       "non_ip_octets",
	FlowFlowStatSTAT_MALFORMED_PACKETS:   "malformed_packets",
	FlowFlowStatSTAT_MALFORMED_OCTETS:    "malformed_octets",
	FlowFlowStatSTAT_L4TRUNCATED_PACKETS: "l4_truncated_packets",
	FlowFlowStatSTAT_FRAGMENTS:           "later_fragments",
	FlowFlowStatSTAT_PULL_FAILED:         "pull_failed",
	FlowFlowStatSTAT_HANDSHAKES_EVICTED:  "handshakes_not_tracked",
	FlowFlowStatSTAT_FILTERED_PACKETS:    "filtered_packets",
	FlowFlowStatSTAT_FILTERED_OCTETS:     "filtered_octets",
	FlowFlowStatSTAT_SAMPLED_OUT_PACKETS: "sampled_out_packets",
	FlowFlowStatSTAT_SAMPLED_OUT_OCTETS:  "sampled_out_octets",
}
