package bpf

import (
	"fmt"

	"github.com/podflow/podflow/flow"
)

// TupleDrainer empties the double-buffered tuple maps of the tracepoint
// programs and merges their per-CPU values into flow.TupleEntry values; it
// implements flow.TupleSource. Not safe for concurrent use.
type TupleDrainer struct {
	buf     *doubleBuffer[EventsFlowKey, EventsTupleVal]
	reasons map[uint32]string
}

// NewTupleDrainer returns a drainer over e. reasons names drop reasons
// (DropReasons); a reason it lacks is exported as its number.
func NewTupleDrainer(e *Events, reasons map[uint32]string) (*TupleDrainer, error) {
	buf, err := newDoubleBuffer[EventsFlowKey, EventsTupleVal](e.swapTuples, e.TuplesA, e.TuplesB)
	if err != nil {
		return nil, err
	}
	if reasons == nil {
		reasons = map[uint32]string{}
	}
	return &TupleDrainer{buf: buf, reasons: reasons}, nil
}

// DrainTuples appends one TupleEntry per tuple measured since the previous
// call.
func (d *TupleDrainer) DrainTuples(dst []flow.TupleEntry) ([]flow.TupleEntry, error) {
	err := d.buf.drain(func(k *EventsFlowKey, perCPU []EventsTupleVal) {
		if e, ok := d.merge(k, perCPU); ok {
			dst = append(dst, e)
		}
	})
	return dst, err
}

func (d *TupleDrainer) merge(k *EventsFlowKey, perCPU []EventsTupleVal) (flow.TupleEntry, bool) {
	var m flow.Measures
	var dropPackets, dropOctets, dropAt uint64
	var reason uint32
	for i := range perCPU {
		v := &perCPU[i]
		m.Add(&flow.Measures{
			RTTSumUs:       v.RttSumUs,
			RTTSamples:     v.RttSamples,
			RTTMinUs:       v.RttMinUs,
			RTTMaxUs:       v.RttMaxUs,
			RetransPackets: v.RetransSegs,
			RetransOctets:  v.RetransOctets,
		})
		if v.DropPackets > 0 {
			dropPackets += v.DropPackets
			dropOctets += v.DropOctets
			if v.DropLastNs >= dropAt {
				dropAt, reason = v.DropLastNs, v.DropReason
			}
		}
	}
	if dropPackets > 0 {
		m.SetDrop(dropPackets, dropOctets, d.reasonName(reason), int64(dropAt))
	}
	if m == (flow.Measures{}) {
		return flow.TupleEntry{}, false
	}
	fk := FlowFlowKey(*k)
	return flow.TupleEntry{Tuple: KeyToFlow(&fk).Tuple, Measures: m}, true
}

func (d *TupleDrainer) reasonName(code uint32) string {
	if name, ok := d.reasons[code]; ok {
		return name
	}
	name := fmt.Sprint(code)
	d.reasons[code] = name // interned: records share the string
	return name
}
