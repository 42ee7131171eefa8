package decoders

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// NetFlowPacket is what Wireshark's cflow dissector read from one datagram.
type NetFlowPacket struct {
	Header map[string]string   // the message's own fields: "cflow.sequence", ...
	Flows  []map[string]string // its flow records, nested trees flattened
	// SeqErrors holds the texts of "unexpected flow sequence" expert infos.
	SeqErrors []string
}

// DecodeNetFlow writes datagrams to a pcap and decodes them with tshark.
func DecodeNetFlow(t testing.TB, datagrams [][]byte) []NetFlowPacket {
	t.Helper()
	path := RequireTool(t, "tshark")
	pcap := filepath.Join(t.TempDir(), "netflow.pcap")
	f, err := os.Create(pcap)
	if err != nil {
		t.Fatal(err)
	}
	const port = 2055
	err = WritePcap(f, port, time.Unix(1_700_000_200, 0), datagrams)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(path, "-r", pcap, "-d", fmt.Sprintf("udp.port==%d,cflow", port),
		"-J", "cflow", "-T", "json", "--no-duplicate-keys")
	cmd.Env = append(os.Environ(), "TZ=UTC")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v: %s", cmd, err, stderr.Bytes())
	}
	var frames []struct {
		Source struct {
			Layers map[string]any `json:"layers"`
		} `json:"_source"`
	}
	if err := json.Unmarshal(out, &frames); err != nil {
		t.Fatalf("tshark json: %v", err)
	}
	packets := make([]NetFlowPacket, len(frames))
	for i, fr := range frames {
		msg, ok := fr.Source.Layers["cflow"].(map[string]any)
		if !ok {
			t.Fatalf("frame %d: no NetFlow decoded", i+1)
		}
		p := NetFlowPacket{Header: map[string]string{}}
		p.walk(msg)
		packets[i] = p
	}
	return packets
}

// walk collects the message's fields, its flows (v9 "Flow N" under each
// "FlowSet", v5 "pdu i/n") and its sequence expert infos. tshark titles
// flows with their index, so their order is recovered from the keys.
func (p *NetFlowPacket) walk(tree map[string]any) {
	var flowKeys []string
	for k, v := range tree {
		switch v := v.(type) {
		case string:
			p.Header[k] = v
		case map[string]any:
			switch {
			case strings.HasPrefix(k, "Flow ") || strings.HasPrefix(k, "pdu "):
				flowKeys = append(flowKeys, k)
			case k == "_ws.expert":
				if _, ok := v["cflow.unexpected_sequence_number"]; ok {
					msg, _ := v["_ws.expert.message"].(string)
					p.SeqErrors = append(p.SeqErrors, msg)
				}
			default:
				p.walk(v)
			}
		}
	}
	slices.SortFunc(flowKeys, func(a, b string) int { return netflowIndex(a) - netflowIndex(b) })
	for _, k := range flowKeys {
		flat := map[string]string{}
		flattenNetFlow(tree[k].(map[string]any), flat)
		p.Flows = append(p.Flows, flat)
	}
}

func netflowIndex(key string) int {
	var n int
	if _, err := fmt.Sscanf(key, "Flow %d", &n); err == nil {
		return n
	}
	fmt.Sscanf(key, "pdu %d/", &n)
	return n
}

func flattenNetFlow(tree map[string]any, out map[string]string) {
	for k, v := range tree {
		switch v := v.(type) {
		case string:
			out[k] = v
		case map[string]any:
			flattenNetFlow(v, out)
		}
	}
}
