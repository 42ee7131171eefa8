package decoders

import (
	"fmt"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/vmware/go-ipfix/pkg/collector"
	"github.com/vmware/go-ipfix/pkg/entities"

	"github.com/podflow/podflow/internal/ieregistry"
)

// GoIPFIX is go-ipfix's collecting process (Antrea's flow aggregator is
// built on it) over TLS, keeping every message it decodes. It reads one
// set per message and no options templates: the exporter must send none
// (podflow's --ipfix-options=false).
type GoIPFIX struct {
	cp      *collector.CollectingProcess
	mu      sync.Mutex
	msgs    []*entities.Message
	arrived chan struct{}
}

// StartGoIPFIXTLS listens on 127.0.0.1 with p's collector certificate and
// requires exporters to present one of p's CA. Enterprise elements outside
// its registry (podflow's, ntop's) are kept as octets. t's cleanup stops it.
func StartGoIPFIXTLS(t testing.TB, p *PKI) *GoIPFIX {
	t.Helper()
	ieregistry.Load() // go-ipfix reads its registry from package globals
	cp, err := collector.InitCollectingProcess(collector.CollectorInput{
		Address: "127.0.0.1:0", Protocol: "tcp", MaxBufferSize: 65535,
		IsEncrypted: true, CACert: p.CAPEM, ServerCert: p.ServerCertPEM, ServerKey: p.ServerKeyPEM,
		DecodingMode: collector.DecodingModeLenientKeepUnknown,
	})
	if err != nil {
		t.Fatalf("go-ipfix collector: %v", err)
	}
	g := &GoIPFIX{cp: cp, arrived: make(chan struct{}, 1)}
	started, drained := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(started)
		cp.Start() // returns once Stop is called
	}()
	pollUntil(t, "go-ipfix listening", func() bool { return cp.GetAddress() != nil })
	go func() {
		defer close(drained)
		for m := range cp.GetMsgChan() {
			g.mu.Lock()
			g.msgs = append(g.msgs, m)
			g.mu.Unlock()
			select {
			case g.arrived <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(func() {
		cp.Stop()
		<-started
		<-drained
	})
	return g
}

// Addr is where go-ipfix listens.
func (g *GoIPFIX) Addr() string { return g.cp.GetAddress().String() }

// WaitDataRecords waits until n data records arrived, then returns every
// message so far, in arrival order.
func (g *GoIPFIX) WaitDataRecords(n int, timeout time.Duration) ([]*entities.Message, error) {
	deadline := time.After(timeout)
	for {
		g.mu.Lock()
		msgs := append([]*entities.Message(nil), g.msgs...)
		g.mu.Unlock()
		got := 0
		for _, m := range msgs {
			if m.GetSet().GetSetType() == entities.Data {
				got += int(m.GetSet().GetNumberOfRecords())
			}
		}
		if got >= n {
			return msgs, nil
		}
		select {
		case <-g.arrived:
		case <-deadline:
			return nil, fmt.Errorf("go-ipfix decoded %d of %d data records within %v", got, n, timeout)
		}
	}
}

// GoIPFIXSequenceGaps checks the messages' sequence numbers against the
// data records before them in their domain (go-ipfix itself does not).
func GoIPFIXSequenceGaps(msgs []*entities.Message) []string {
	var gaps []string
	next := map[uint32]uint32{}
	for i, m := range msgs {
		d := m.GetObsDomainID()
		if want, ok := next[d]; ok && m.GetSequenceNum() != want {
			gaps = append(gaps, fmt.Sprintf("message %d (domain %d): sequence %d, want %d", i+1, d, m.GetSequenceNum(), want))
		}
		n := uint32(0)
		if m.GetSet().GetSetType() == entities.Data {
			n = m.GetSet().GetNumberOfRecords()
		}
		next[d] = m.GetSequenceNum() + n
	}
	return gaps
}

// GoIPFIXElements maps the data records of msgs to Elements; pen is
// podflow's enterprise number (its elements arrive as octets).
func GoIPFIXElements(msgs []*entities.Message, pen uint32) ([]Elements, error) {
	var out []Elements
	for _, m := range msgs {
		if m.GetSet().GetSetType() != entities.Data {
			continue
		}
		for _, rec := range m.GetSet().GetRecords() {
			e := Elements{}
			for _, v := range rec.GetOrderedElementList() {
				ie := v.GetInfoElement()
				key := ElementKey(ie.EnterpriseId, ie.ElementId)
				s, err := goIPFIXValue(pen, key, v)
				if err != nil {
					return nil, err
				}
				e[key] = s
			}
			out = append(out, e)
		}
	}
	return out, nil
}

func goIPFIXValue(pen uint32, key string, v entities.InfoElementWithValue) (string, error) {
	switch v.GetDataType() {
	case entities.Unsigned8:
		return strconv.FormatUint(uint64(v.GetUnsigned8Value()), 10), nil
	case entities.Unsigned16:
		return strconv.FormatUint(uint64(v.GetUnsigned16Value()), 10), nil
	case entities.Unsigned32:
		return strconv.FormatUint(uint64(v.GetUnsigned32Value()), 10), nil
	case entities.Unsigned64:
		return strconv.FormatUint(v.GetUnsigned64Value(), 10), nil
	case entities.String:
		return v.GetStringValue(), nil
	case entities.Ipv4Address, entities.Ipv6Address:
		a, ok := netip.AddrFromSlice(v.GetIPAddressValue())
		if !ok {
			return "", fmt.Errorf("go-ipfix element %s: address %v", key, v.GetIPAddressValue())
		}
		return a.Unmap().String(), nil
	case entities.DateTimeMilliseconds:
		return time.UnixMilli(int64(v.GetUnsigned64Value())).UTC().Format(time.RFC3339Nano), nil
	case entities.OctetArray:
		return RawElement(pen, key, v.GetOctetArrayValue()), nil
	}
	return "", fmt.Errorf("go-ipfix element %s (%s): type %v not expected from podflow", key, v.GetName(), v.GetDataType())
}
