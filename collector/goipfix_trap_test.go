package collector

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"

	ipfixcollector "github.com/vmware/go-ipfix/pkg/collector"
)

const goIPFIXChildEnv = "PODFLOW_COLLECTOR_GOIPFIX_CHILD"

// TestGoIPFIXCollectorPanicsOnReducedSize documents why this package does
// not use go-ipfix's collector: one well-formed message with a reduced-size
// integer (RFC 7011 §6.2) makes it index past the field, in a goroutine of
// its own, so the whole process dies. The collector runs in a child process.
// If this test fails because the child survived, go-ipfix has been fixed.
func TestGoIPFIXCollectorPanicsOnReducedSize(t *testing.T) {
	if os.Getenv(goIPFIXChildEnv) == "1" {
		goIPFIXChild(t)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestGoIPFIXCollectorPanicsOnReducedSize$", "-test.v")
	cmd.Env = append(os.Environ(), goIPFIXChildEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("go-ipfix's collector survived reduced-size encoding; it may now be usable here:\n%s", out)
	}
	if !bytes.Contains(out, []byte("panic: runtime error: index out of range")) ||
		!bytes.Contains(out, []byte("go-ipfix")) {
		t.Fatalf("child failed for another reason (%v):\n%s", err, out)
	}
}

// goIPFIXChild sends the fatal message, then a harmless one, and returns
// normally only if go-ipfix decoded the harmless one.
func goIPFIXChild(t *testing.T) {
	cp, err := ipfixcollector.InitCollectingProcess(ipfixcollector.CollectorInput{
		Address: "127.0.0.1:0", Protocol: "udp", MaxBufferSize: 65535,
		DecodingMode: ipfixcollector.DecodingModeLenientKeepUnknown,
	})
	if err != nil {
		t.Fatal(err)
	}
	go cp.Start()
	defer cp.Stop()
	deadline := time.Now().Add(waitLimit)
	for cp.GetAddress() == nil { // Start binds asynchronously
		if time.Now().After(deadline) {
			t.Fatal("go-ipfix collector never listened")
		}
		<-time.After(time.Millisecond)
	}
	conn, err := net.Dial("udp", cp.GetAddress().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	reduced := tmplRecord(256, spec{id: ieOctetDeltaCount, length: 4})
	send(t, conn, message(1, 0, set(templateSetID, reduced)), message(1, 0, set(256, be(5, 4))))
	send(t, conn, message(1, 1, set(templateSetID, tmplRecord(257, spec{id: ieOctetDeltaCount, length: 8}))))
	for {
		select {
		case msg := <-cp.GetMsgChan():
			if msg.GetSet().GetRecords()[0].GetTemplateID() == 257 {
				return
			}
		case <-time.After(waitLimit):
			t.Fatal("no message from go-ipfix")
		}
	}
}
