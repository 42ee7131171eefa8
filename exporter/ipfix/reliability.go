package ipfix

import (
	"encoding/binary"
	"fmt"
	"time"

	"go.uber.org/zap"
)

// statsDue reports whether a statistics record is due (checked by Export
// and by the timer, by cfg.Now).
func (e *Exporter) statsDue() bool {
	return e.options != nil && e.options.stats != nil && !e.now.Before(e.statsAt.Add(e.cfg.StatsInterval))
}

// sendStatsLogged sends the statistics record; a failure is only logged
// (the next one follows at the next interval, and Stats counts the failed
// message).
func (e *Exporter) sendStatsLogged() {
	if err := e.sendStats(); err != nil {
		e.log.Debug("ipfix: statistics record not sent", zap.Error(err))
	}
}

// sendStats sends the exporting process reliability statistics record (see
// TemplateIDExporterStats). Its totals count the message that carries it:
// once that is written they equal Stats exactly, and if it is not, no
// collector reads them. Records lost are those of Stats.RecordsLost: the
// exporter's own losses, not what a queue in front of it dropped.
func (e *Exporter) sendStats() error {
	a := e.options.stats
	if err := e.ready(a); err != nil {
		return err
	}
	s := e.stats.snapshot()
	packetsLost, octetsLost := e.NotSent()
	msg := binary.BigEndian.AppendUint32(e.optionsBuf[:firstRecordAt], e.cfg.ExportingProcessID)
	for _, v := range [...]uint64{
		s.MessagesSent + 1, s.RecordsSent, s.BytesSent + firstRecordAt + statsRecordLen,
		s.RecordsLost, packetsLost, octetsLost,
		unixMilli(e.started), unixMilli(e.now),
	} {
		msg = binary.BigEndian.AppendUint64(msg, v)
	}
	e.optionsBuf = msg[:0]
	putHeaders(msg, a.id, e.exportTime, e.seq, e.cfg.ObservationDomainID)
	if err := e.write(msg); err != nil {
		e.stats.sendErrors.Add(1)
		return fmt.Errorf("ipfix: sending statistics: %w", err)
	}
	e.seq++
	e.statsAt = e.now
	return nil
}

// statsTimer sends the statistics record every interval even while no
// records flow. Export sends it too when it is due, so the timer checks ten
// times an interval: a record is never more than a tenth late.
func (e *Exporter) statsTimer(interval time.Duration) {
	defer close(e.timerDone)
	t := time.NewTicker(max(interval/10, time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-e.stopTimer:
			return
		case <-t.C:
			e.mu.Lock()
			if !e.closed {
				e.beginCall()
				if e.statsDue() {
					e.sendStatsLogged()
				}
			}
			e.mu.Unlock()
		}
	}
}
