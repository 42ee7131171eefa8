package collector

import (
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"time"
)

// validMessage is a template and one data record; its record has 42 packets.
func validMessage(seq uint32) []byte {
	return message(1, seq,
		set(templateSetID, tmplRecord(256, spec{id: iePacketDeltaCount, length: 8}, spec{id: ieInterfaceName, length: variableLength})),
		set(256, cat(be(42, 8), varField([]byte("eth0")))))
}

// malformedMessages are messages that must each be dropped with exactly one
// decode error and no record.
func malformedMessages() map[string][]byte {
	rnd := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 200)
	for i := range random {
		random[i] = byte(rnd.UintN(256))
	}
	random[1] = 0 // version 0x??00 is never 10
	withLength := func(m []byte, l uint16) []byte {
		m = append([]byte(nil), m...)
		m[2], m[3] = byte(l>>8), byte(l)
		return m
	}
	valid := validMessage(0)
	netflowV9 := append([]byte(nil), valid...)
	netflowV9[1] = 9
	tmpl := set(templateSetID, tmplRecord(300, spec{id: iePacketDeltaCount, length: 8}, spec{id: ieInterfaceName, length: variableLength}))
	return map[string][]byte{
		"empty":                         {},
		"random bytes":                  random,
		"truncated header":              valid[:10],
		"wrong version":                 netflowV9,
		"length beyond the datagram":    withLength(valid, uint16(len(valid)+10)),
		"datagram beyond the length":    withLength(valid, uint16(len(valid)-4)),
		"set length beyond the message": message(1, 0, cat(be(uint64(templateSetID), 2), be(200, 2), be(0, 4))),
		"set length below its header":   message(1, 0, cat(be(256, 2), be(2, 2))),
		"stray bytes after the sets":    message(1, 0, []byte{0, 2}),
		"reserved set id":               message(1, 0, set(1, be(0, 4))),
		"withdrawal of a reserved id":   message(1, 0, set(templateSetID, cat(be(uint64(optionsTemplateSetID), 2), be(0, 2)))),
		"template id below 256":         message(1, 0, set(templateSetID, tmplRecord(255, spec{id: iePacketDeltaCount, length: 8}))),
		"truncated field specifier":     message(1, 0, set(templateSetID, cat(be(300, 2), be(2, 2), be(uint64(iePacketDeltaCount), 2), be(8, 2), be(1, 2)))),
		"truncated enterprise number":   message(1, 0, set(templateSetID, cat(be(300, 2), be(1, 2), be(0x8001, 2), be(4, 2), be(0, 2)))),
		"options scope count zero":      message(1, 0, set(optionsTemplateSetID, optionsTmplRecord(300, 0, spec{id: iePacketDeltaCount, length: 8}))),
		"template of empty records":     message(1, 0, set(templateSetID, tmplRecord(300, spec{id: ieInterfaceName, length: 0}))),
		"non-zero template padding":     message(1, 0, set(templateSetID, tmplRecord(300, spec{id: iePacketDeltaCount, length: 8}), []byte{1})),
		"truncated variable field":      message(1, 0, tmpl, set(300, cat(be(42, 8), []byte{20, 'e', 't', 'h'}))),
		"truncated long length":         message(1, 0, tmpl, set(300, cat(be(42, 8), []byte{255, 0}))),
		"non-zero data set padding":     message(1, 0, tmpl, set(300, cat(be(42, 8), varField(nil)), []byte{0, 0, 0, 1})),
	}
}

// TestMalformedMessages checks each malformed message alone: one error, no
// record, no panic.
func TestMalformedMessages(t *testing.T) {
	for name, msg := range malformedMessages() {
		s := newSession("192.0.2.9:4739")
		recs, res := s.decodeMessage(msg)
		if len(recs) != 0 || len(res.errs) != 1 {
			t.Errorf("%s: %d records, errors %v; want none and one error", name, len(recs), res.errs)
		}
	}
}

// TestGarbageDoesNotStopUDP sends every malformed message, then a valid one,
// on one socket: the valid one is decoded and each bad one counted.
func TestGarbageDoesNotStopUDP(t *testing.T) {
	c := startCollector(t, "udp://127.0.0.1:0")
	conn := dial(t, "udp", c)
	bad := malformedMessages()
	for _, m := range bad {
		send(t, conn, m)
	}
	send(t, conn, validMessage(0))
	got := receive(t, c)
	if got.Packets != 42 || got.Extra["interfaceName"] != "eth0" {
		t.Errorf("valid message decoded as %+v", got)
	}
	// Datagrams are read in order by one goroutine, so all were counted
	// before the valid record was delivered.
	// Four bad messages carry a good template before their flaw.
	n := uint64(len(bad))
	checkStats(t, c, Stats{MessagesReceived: n + 1, RecordsReceived: 1, TemplatesReceived: 4 + 1, DecodeErrors: n})
}

// TestGarbageOnTCP: a message that frames well but decodes badly is skipped
// and the connection goes on; a broken frame closes the connection only.
func TestGarbageOnTCP(t *testing.T) {
	c := startCollector(t, "tcp://127.0.0.1:0")
	conn := dial(t, "tcp", c)
	send(t, conn, message(1, 0, set(1, be(0, 4))), validMessage(0))
	if got := receive(t, c); got.Packets != 42 {
		t.Errorf("after a bad message: %+v", got)
	}
	checkStats(t, c, Stats{MessagesReceived: 2, RecordsReceived: 1, TemplatesReceived: 1, DecodeErrors: 1})

	netflowV9 := validMessage(1)
	netflowV9[1] = 9
	send(t, conn, netflowV9)
	if err := conn.SetReadDeadline(time.Now().Add(waitLimit)); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("after a broken frame the collector should close the connection; read: %v", err)
	}

	again := dial(t, "tcp", c)
	send(t, again, validMessage(0))
	if got := receive(t, c); got.Packets != 42 {
		t.Errorf("on a new connection: %+v", got)
	}
	checkStats(t, c, Stats{MessagesReceived: 4, RecordsReceived: 2, TemplatesReceived: 2, DecodeErrors: 2})
}

// FuzzDecodeMessage: no input makes the decoder panic, and what it decodes
// it accounts for.
func FuzzDecodeMessage(f *testing.F) {
	f.Add(validMessage(0))
	for _, m := range malformedMessages() {
		f.Add(m)
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		s := newSession("192.0.2.9:4739")
		// Twice: the second pass sees the templates of the first.
		for range 2 {
			recs, res := s.decodeMessage(msg)
			if len(msg) < messageHeaderLen && (len(recs) != 0 || len(res.errs) != 1) {
				t.Fatalf("short message: %d records, errors %v", len(recs), res.errs)
			}
		}
	})
}
