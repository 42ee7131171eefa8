package ipfix

import (
	"encoding/binary"

	"go.uber.org/zap"

	"github.com/podflow/podflow/flow"
)

// maxNameLen keeps both strings of an interface record within one message
// (and under 255 octets, so each has a 1-octet length).
func (e *Exporter) maxNameLen() int {
	return min(254, (e.limit-firstRecordAt-4-2)/2)
}

// nameInterfaces sends, before the records of this call, the names of the
// interfaces they were observed on that were not named in this round (a
// round starts at each connect and UDP template refresh). An interface the
// callback does not know is not asked for again in the round; names that
// could not be sent are retried with the interface's next records.
func (e *Exporter) nameInterfaces(records []flow.Record) {
	if e.options == nil || e.options.interfaces == nil {
		return
	}
	pending := e.pendingIfs[:0]
	var last uint32
	for i := range records {
		ifindex := records[i].IfIndex
		if ifindex == 0 || ifindex == last || e.named[ifindex] {
			continue
		}
		last = ifindex
		e.named[ifindex] = true
		pending = append(pending, ifindex)
	}
	e.pendingIfs = pending
	if len(pending) == 0 {
		return
	}
	limit := e.maxNameLen()
	recs := make([][]byte, 0, len(pending))
	for _, ifindex := range pending {
		name, description, ok := e.cfg.InterfaceName(ifindex)
		if !ok {
			continue
		}
		rec := binary.BigEndian.AppendUint32(nil, ifindex)
		rec = appendString(rec, truncate(name, limit))
		recs = append(recs, appendString(rec, truncate(description, limit)))
	}
	if err := e.sendOptionsRecords(e.options.interfaces, recs); err != nil {
		for _, ifindex := range pending {
			delete(e.named, ifindex)
		}
		e.log.Debug("ipfix: interface names not sent", zap.Error(err))
	}
}
