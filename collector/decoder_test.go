package collector

import (
	"strings"
	"testing"
)

func TestDecoder(t *testing.T) {
	d := NewDecoder("192.0.2.1:4739")
	tmpl := message(1, 0, set(templateSetID, tmplRecord(256, spec{id: iePacketDeltaCount, length: 8})))
	if recs, err := d.Decode(tmpl); err != nil || len(recs) != 0 {
		t.Fatalf("template: %d records, %v", len(recs), err)
	}
	recs, err := d.Decode(message(1, 0, set(256, be(5, 8), be(6, 8))))
	if err != nil || len(recs) != 2 || recs[0].Packets != 5 || recs[1].Packets != 6 || recs[1].Exporter != "192.0.2.1:4739" {
		t.Fatalf("data: %+v, %v", recs, err)
	}
	// Sequence 5 after 2 records: 3 missing; still decoded.
	recs, err = d.Decode(message(1, 5, set(256, be(7, 8))))
	if len(recs) != 1 || err == nil || !strings.Contains(err.Error(), "3 records are missing") {
		t.Errorf("gap: %d records, %v", len(recs), err)
	}
	recs, err = d.Decode(message(1, 6, set(300, be(7, 8))))
	if len(recs) != 0 || err == nil || !strings.Contains(err.Error(), "1 data sets without a template") {
		t.Errorf("unknown template: %d records, %v", len(recs), err)
	}
	if _, err := d.Decode([]byte{0, 10}); err == nil {
		t.Error("a truncated message decoded without error")
	}
}
