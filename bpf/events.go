package bpf

import (
	"errors"
	"fmt"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
)

// EventOptions select and size the tracepoint programs.
type EventOptions struct {
	// MaxTuples is the number of entries of each of the two tuple maps.
	MaxTuples uint32
	// RTT samples each local TCP socket's smoothed RTT (tcp_probe).
	RTT bool
	// Retransmits counts local TCP sockets' retransmissions
	// (tcp_retransmit_skb, tcp_retransmit_synack).
	Retransmits bool
	// Drops counts packets the kernel dropped, with the reason (kfree_skb).
	Drops bool
	// Owners reports which process owns each local TCP/UDP endpoint
	// (inet_sock_set_state, sock_send_length, sock_recv_length).
	Owners bool
	// Filter is the TC programs' filter (Objects.Filter): the RTT,
	// retransmit and drop programs then leave the tuples it excludes out of
	// the tuple maps, with the TC programs' decision, constants and CIDR
	// trie, and only count them (tuple_events_filtered). nil measures every
	// tuple. Owner events are not filtered: an owner is a socket's, not a
	// flow's. Sampling (LoadOptions.SamplingInterval) does not apply here:
	// these programs measure sockets and drop points, not packets.
	Filter *LoadedFilter
}

// Events are podflow's loaded and attached tracepoint programs. A program
// the kernel refuses is left out (Attach says which and why); the others
// keep working, and so do the TC programs.
type Events struct {
	EventsMaps
	rodata   *ebpf.Map // the constants, frozen: loaded once for all programs
	programs []*ebpf.Program
	links    []link.Link
	// Attached names the programs running, by tracepoint.
	Attached []string
}

// eventPrograms maps each option to its programs.
func eventPrograms(opts EventOptions) []string {
	var names []string
	if opts.RTT {
		names = append(names, EventsProgTcpProbe)
	}
	if opts.Retransmits {
		names = append(names, EventsProgTcpRetransmitSkb, EventsProgTcpRetransmitSynack)
	}
	if opts.Drops {
		names = append(names, EventsProgKfreeSkb)
	}
	if opts.Owners {
		names = append(names, EventsProgInetSockSetState, EventsProgSockSendLength, EventsProgSockRecvLength)
	}
	return names
}

// OpenEvents loads the tracepoint maps and the programs opts selects, and
// attaches them. The error joins one error per program that could not be
// loaded or attached; Events is usable whenever it is not nil, with
// whatever did attach (possibly nothing).
func OpenEvents(opts EventOptions) (*Events, error) {
	spec, err := LoadEvents()
	if err != nil {
		return nil, fmt.Errorf("load events spec: %w", err)
	}
	return openEvents(spec, opts)
}

func openEvents(spec *ebpf.CollectionSpec, opts EventOptions) (*Events, error) {
	if opts.MaxTuples == 0 {
		opts.MaxTuples = DefaultMaxFlows
	}
	for _, name := range []string{EventsMapTuplesA, EventsMapTuplesB} {
		spec.Maps[name].MaxEntries = opts.MaxTuples
	}
	filter, shared := &kernelFilter{}, map[string]*ebpf.Map{}
	if opts.Filter != nil {
		filter = opts.Filter.compiled
		shared[EventsMapFilterCidr] = opts.Filter.cidrs
	}
	if err := filter.apply(spec); err != nil {
		return nil, err
	}
	var loaded struct {
		EventsMaps
		Rodata *ebpf.Map `ebpf:".rodata"`
	}
	if err := spec.LoadAndAssign(&loaded, &ebpf.CollectionOptions{MapReplacements: shared}); err != nil {
		return nil, fmt.Errorf("load event maps: %w", err)
	}
	e := &Events{EventsMaps: loaded.EventsMaps, rodata: loaded.Rodata}
	replace := map[string]*ebpf.Map{
		".rodata":            e.rodata,
		EventsMapFilterCidr:  e.FilterCidr,
		EventsMapTuplesA:     e.TuplesA,
		EventsMapTuplesB:     e.TuplesB,
		EventsMapTuplesIndex: e.TuplesIndex,
		EventsMapRcuWait:     e.RcuWait,
		EventsMapRcuDummy:    e.RcuDummy,
		EventsMapEventStats:  e.EventStats,
		EventsMapOwnerEvents: e.OwnerEvents,
		EventsMapSkOwners:    e.SkOwners,
	}
	var errs []error
	for _, name := range eventPrograms(opts) {
		if err := e.attach(spec, name, replace); err != nil {
			errs = append(errs, &ProgramError{Program: name, Err: err})
		}
	}
	return e, errors.Join(errs...)
}

// ProgramError is why one program was left out: OpenEvents's error joins
// one per program, so callers can tell which features degrade and why.
type ProgramError struct {
	Program string // EventsProg*
	Err     error
}

func (e *ProgramError) Error() string { return e.Err.Error() }
func (e *ProgramError) Unwrap() error { return e.Err }

// OpenEventsSpec is OpenEvents for a spec the caller loaded (LoadEvents)
// and may have changed: tests point a program at a tracepoint the kernel
// lacks to see podflow degrade.
func OpenEventsSpec(spec *ebpf.CollectionSpec, opts EventOptions) (*Events, error) {
	return openEvents(spec, opts)
}

// attach loads one program (sharing the maps already loaded) and attaches
// it to its BTF tracepoint.
func (e *Events) attach(spec *ebpf.CollectionSpec, name string, maps map[string]*ebpf.Map) error {
	single := spec.Copy()
	for n := range single.Programs {
		if n != name {
			delete(single.Programs, n)
		}
	}
	coll, err := ebpf.NewCollectionWithOptions(single, ebpf.CollectionOptions{MapReplacements: maps})
	if err != nil {
		var verr *ebpf.VerifierError
		if errors.As(err, &verr) {
			return fmt.Errorf("load %s: %w\n%+v", name, err, verr)
		}
		return fmt.Errorf("load %s: %w", name, err)
	}
	prog := coll.DetachProgram(name)
	coll.Close() // drops only the collection's references to the shared maps
	if prog == nil {
		return fmt.Errorf("load %s: no such program", name)
	}
	l, err := link.AttachTracing(link.TracingOptions{Program: prog, AttachType: ebpf.AttachTraceRawTp})
	if err != nil {
		prog.Close()
		return fmt.Errorf("attach tp_btf/%s: %w", name, err)
	}
	e.programs = append(e.programs, prog)
	e.links = append(e.links, l)
	e.Attached = append(e.Attached, name)
	return nil
}

// swapTuples makes live the tuple map the programs write (tuples_index
// selects it), then waits for programs that may still write the other one.
func (e *Events) swapTuples(live *ebpf.Map) error {
	idx := uint32(0)
	if live == e.TuplesB {
		idx = 1
	}
	if err := e.TuplesIndex.Update(uint32(0), idx, ebpf.UpdateAny); err != nil {
		return fmt.Errorf("flip tuples_index: %w", err)
	}
	// Any array-of-maps update returns only once running programs are done.
	if err := e.RcuWait.Update(uint32(0), e.RcuDummy, ebpf.UpdateAny); err != nil {
		return fmt.Errorf("wait for tracepoint programs: %w", err)
	}
	return nil
}

// Program returns the attached program of that name (EventsProg*), or nil.
func (e *Events) Program(name string) *ebpf.Program {
	for i, n := range e.Attached {
		if n == name {
			return e.programs[i]
		}
	}
	return nil
}

// Detach stops the programs; the maps stay readable for a last drain.
func (e *Events) Detach() error {
	var errs []error
	for _, l := range e.links {
		errs = append(errs, l.Close())
	}
	e.links = nil
	return errors.Join(errs...)
}

// Close detaches the programs and releases everything.
func (e *Events) Close() error {
	errs := []error{e.Detach()}
	for _, p := range e.programs {
		errs = append(errs, p.Close())
	}
	e.links, e.programs, e.Attached = nil, nil, nil
	errs = append(errs, e.EventsMaps.Close(), e.rodata.Close())
	return errors.Join(errs...)
}

// Stats returns the sums over CPUs of the event counters, indexed by
// EventsEventStat.
func (e *Events) Stats() ([EventsEventStatEVSTAT_MAX]uint64, error) {
	var out [EventsEventStatEVSTAT_MAX]uint64
	for i := range out {
		var perCPU []uint64
		if err := e.EventStats.Lookup(uint32(i), &perCPU); err != nil {
			return out, fmt.Errorf("read event stat %d: %w", i, err)
		}
		for _, v := range perCPU {
			out[i] += v
		}
	}
	return out, nil
}

// EventStatNames name the event counters, indexed by EventsEventStat.
var EventStatNames = [EventsEventStatEVSTAT_MAX]string{
	EventsEventStatEVSTAT_DROPS_NOT_IP:      "drops_not_ip",
	EventsEventStatEVSTAT_MAP_FULL:          "tuple_map_full",
	EventsEventStatEVSTAT_RETRANS_FAILED:    "retransmits_not_sent",
	EventsEventStatEVSTAT_OWNER_EVENTS_LOST: "owner_events_lost",
	EventsEventStatEVSTAT_FILTERED:          "tuple_events_filtered",
}

// DropReasons reads the names of the kernel's drop reasons from its BTF
// (enum skb_drop_reason: the values differ between kernel versions), without
// the SKB_DROP_REASON_ prefix.
func DropReasons() (map[uint32]string, error) {
	spec, err := btf.LoadKernelSpec()
	if err != nil {
		return nil, fmt.Errorf("load kernel BTF: %w", err)
	}
	var enum *btf.Enum
	if err := spec.TypeByName("skb_drop_reason", &enum); err != nil {
		return nil, fmt.Errorf("enum skb_drop_reason: %w", err)
	}
	out := make(map[uint32]string, len(enum.Values))
	for _, v := range enum.Values {
		out[uint32(v.Value)] = strings.TrimPrefix(v.Name, "SKB_DROP_REASON_")
	}
	return out, nil
}
