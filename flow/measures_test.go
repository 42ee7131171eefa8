package flow

import "testing"

func TestMeasuresAdd(t *testing.T) {
	var m Measures
	a := rttOf(2, 100, 300, 400)
	a.SetDrop(1, 60, "OLD", 10)
	b := rttOf(1, 50, 80, 50)
	b.SetDrop(2, 100, "NEW", 20)
	b.RetransPackets, b.RetransOctets, b.WireRetransPackets = 3, 4000, 2
	b.Handshake = Handshake{ServerUs: 7, ClientUs: 8, Seen: true}
	m.Add(&a)
	m.Add(&b)
	m.Add(&Measures{}) // nothing measured changes nothing
	if m.RTTSamples != 3 || m.RTTMinUs != 50 || m.RTTMaxUs != 300 || m.RTTMeanUs() != 150 {
		t.Errorf("RTT %+v", m)
	}
	if m.DropPackets != 3 || m.DropOctets != 160 || m.DropReason != "NEW" {
		t.Errorf("drops %d/%d %q, want 3/160 NEW (the latest)", m.DropPackets, m.DropOctets, m.DropReason)
	}
	if m.RetransPackets != 3 || m.RetransOctets != 4000 || m.WireRetransPackets != 2 || m.Handshake != b.Handshake {
		t.Errorf("retrans/handshake %+v", m)
	}
	if !m.HasRTT() || !m.HasRetrans() || !m.HasDrops() || !m.HasWireRetrans() {
		t.Errorf("Has*: %+v", m)
	}
	// An older drop merged later keeps the newer reason.
	old := Measures{}
	old.SetDrop(1, 1, "OLDER", 5)
	m.Add(&old)
	if m.DropReason != "NEW" || m.DropPackets != 4 {
		t.Errorf("after an older drop: %d %q", m.DropPackets, m.DropReason)
	}
	var none Measures
	if none.HasRTT() || none.HasRetrans() || none.HasDrops() || none.HasWireRetrans() || none.RTTMeanUs() != 0 {
		t.Errorf("zero Measures claims a measurement")
	}
}
