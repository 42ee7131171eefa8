package bpf

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
)

// drainBatch is how many keys one batch syscall returns at most.
const drainBatch = 4096

// doubleBuffer empties a pair of per-CPU hash maps of which the programs
// write one: each drain makes the idle map live and waits for running
// programs (swap), then empties the retired map with BatchLookupAndDelete.
// No program writes the retired map, so nothing counted between lookup and
// delete is lost. Not safe for concurrent use.
type doubleBuffer[K, V any] struct {
	swap       func(live *ebpf.Map) error // makes live the programs' map; returns once no program uses the other
	live, idle *ebpf.Map
	nCPU       int
	keys       []K
	vals       []V
	noBatchOps bool
}

// swapSlot makes a map live by storing it in slot 0 of an array-of-maps:
// the kernel waits for running programs before the update returns
// (maybe_wait_bpf_programs).
func swapSlot(outer *ebpf.Map) func(*ebpf.Map) error {
	return func(live *ebpf.Map) error {
		if err := outer.Update(uint32(0), live, ebpf.UpdateAny); err != nil {
			return fmt.Errorf("swap live map %s: %w", outer, err)
		}
		return nil
	}
}

func newDoubleBuffer[K, V any](swap func(*ebpf.Map) error, live, idle *ebpf.Map) (*doubleBuffer[K, V], error) {
	n, err := ebpf.PossibleCPU()
	if err != nil {
		return nil, fmt.Errorf("possible CPUs: %w", err)
	}
	return &doubleBuffer[K, V]{
		swap: swap,
		live: live,
		idle: idle,
		nCPU: n,
		keys: make([]K, drainBatch),
		vals: make([]V, drainBatch*n),
	}, nil
}

// drain swaps the maps and calls each for every key of the retired one with
// its per-CPU values (valid only during the call).
func (b *doubleBuffer[K, V]) drain(each func(k *K, perCPU []V)) error {
	if err := b.swap(b.idle); err != nil {
		return err
	}
	retired := b.live
	b.live, b.idle = b.idle, retired
	if !b.noBatchOps {
		err := b.drainBatched(retired, each)
		if !errors.Is(err, ebpf.ErrNotSupported) {
			return err
		}
		b.noBatchOps = true // kernels before 5.6
	}
	return b.drainIterate(retired, each)
}

func (b *doubleBuffer[K, V]) drainBatched(m *ebpf.Map, each func(*K, []V)) error {
	var cursor ebpf.MapBatchCursor
	for {
		n, err := m.BatchLookupAndDelete(&cursor, b.keys, b.vals, nil)
		for i := range n {
			each(&b.keys[i], b.vals[i*b.nCPU:(i+1)*b.nCPU])
		}
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("drain %s: %w", m, err)
		}
	}
}

// drainIterate is the fallback without batch operations. Iterating and then
// deleting is safe here only because the map is retired: no program writes it.
func (b *doubleBuffer[K, V]) drainIterate(m *ebpf.Map, each func(*K, []V)) error {
	var (
		key  K
		vals []V
		keys []K
		iter = m.Iterate()
	)
	for iter.Next(&key, &vals) {
		each(&key, vals)
		keys = append(keys, key)
	}
	if err := iter.Err(); err != nil {
		return fmt.Errorf("iterate %s: %w", m, err)
	}
	var errs []error
	for i := range keys {
		if err := m.Delete(&keys[i]); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("delete drained entries from %s: %w", m, errors.Join(errs...))
	}
	return nil
}
