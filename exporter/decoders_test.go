package exporter

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// repoFile is a path relative to the module root; tests run in exporter/.
func repoFile(rel string) string { return filepath.Join("..", filepath.FromSlash(rel)) }

func TestPmacctName(t *testing.T) {
	want := map[string]string{
		"sourceIPv4Address":              "source_ipv4_address",
		"tcpRttMinMicroseconds":          "tcp_rtt_min_us",
		"tcpRttMaxMicroseconds":          "tcp_rtt_max_us",
		"tcpRttMeanMicroseconds":         "tcp_rtt_mean_us",
		"tcpRttSampleCount":              "tcp_rtt_sample_count",
		"RETRANSMITTED_IN_PKTS":          "retransmitted_in_pkts",
		"tcpRetransmittedPayloadOctets":  "tcp_retransmitted_payload_octets",
		"tcpHandshakeServerMicroseconds": "tcp_handshake_server_us",
		"tcpHandshakeClientMicroseconds": "tcp_handshake_client_us",
		"kernelDropReason":               "kernel_drop_reason",
	}
	for name, w := range want {
		if got := PmacctName(Field{Name: name}); got != w {
			t.Errorf("PmacctName(%s) = %q, want %q", name, got, w)
		}
	}
}

func TestPmacctPrimitivesRows(t *testing.T) {
	var rows []string
	for _, line := range strings.Split(PmacctPrimitives(12345), "\n") {
		if line != "" && !strings.HasPrefix(line, "!") {
			rows = append(rows, line)
		}
	}
	want := []string{
		"name=tcp_rtt_min_us\tfield_type=12345:1\tlen=4\tsemantics=u_int",
		"name=tcp_rtt_max_us\tfield_type=12345:2\tlen=4\tsemantics=u_int",
		"name=tcp_rtt_mean_us\tfield_type=12345:3\tlen=4\tsemantics=u_int",
		"name=tcp_rtt_sample_count\tfield_type=12345:4\tlen=4\tsemantics=u_int",
		"name=retransmitted_in_pkts\tfield_type=35632:109\tlen=4\tsemantics=u_int",
		"name=tcp_retransmitted_payload_octets\tfield_type=12345:5\tlen=8\tsemantics=u_int",
		"name=tcp_handshake_server_us\tfield_type=12345:6\tlen=4\tsemantics=u_int",
		"name=tcp_handshake_client_us\tfield_type=12345:7\tlen=4\tsemantics=u_int",
		"name=tcp_wire_retransmitted_packets\tfield_type=12345:9\tlen=4\tsemantics=u_int",
		"name=src_proc_pid\tfield_type=35632:168\tlen=4\tsemantics=u_int",
		"name=src_proc_name\tfield_type=35632:169\tlen=vlen\tsemantics=str",
		"name=source_process_executable\tfield_type=12345:10\tlen=vlen\tsemantics=str",
		"name=source_container_id\tfield_type=12345:11\tlen=vlen\tsemantics=str",
		"name=dst_proc_pid\tfield_type=35632:375\tlen=4\tsemantics=u_int",
		"name=dst_proc_name\tfield_type=35632:376\tlen=vlen\tsemantics=str",
		"name=destination_process_executable\tfield_type=12345:12\tlen=vlen\tsemantics=str",
		"name=destination_container_id\tfield_type=12345:13\tlen=vlen\tsemantics=str",
		"name=source_pod_namespace\tfield_type=56506:100\tlen=vlen\tsemantics=str",
		"name=source_pod_name\tfield_type=56506:101\tlen=vlen\tsemantics=str",
		"name=source_node_name\tfield_type=56506:104\tlen=vlen\tsemantics=str",
		"name=source_pod_labels\tfield_type=56506:143\tlen=vlen\tsemantics=str",
		"name=source_workload_kind\tfield_type=12345:14\tlen=vlen\tsemantics=str",
		"name=source_workload_name\tfield_type=12345:15\tlen=vlen\tsemantics=str",
		"name=destination_pod_namespace\tfield_type=56506:102\tlen=vlen\tsemantics=str",
		"name=destination_pod_name\tfield_type=56506:103\tlen=vlen\tsemantics=str",
		"name=destination_node_name\tfield_type=56506:105\tlen=vlen\tsemantics=str",
		"name=destination_pod_labels\tfield_type=56506:144\tlen=vlen\tsemantics=str",
		"name=destination_workload_kind\tfield_type=12345:16\tlen=vlen\tsemantics=str",
		"name=destination_workload_name\tfield_type=12345:17\tlen=vlen\tsemantics=str",
		"name=destination_cluster_ipv4\tfield_type=56506:106\tlen=4\tsemantics=ip",
		"name=destination_cluster_ipv6\tfield_type=56506:107\tlen=16\tsemantics=ip",
		"name=destination_service_port\tfield_type=56506:108\tlen=2\tsemantics=u_int",
		"name=destination_service_port_name\tfield_type=56506:109\tlen=vlen\tsemantics=str",
		"name=flow_type\tfield_type=56506:137\tlen=1\tsemantics=u_int",
		"name=kernel_drop_reason\tfield_type=12345:8\tlen=vlen\tsemantics=str",
	}
	if !slices.Equal(rows, want) {
		t.Errorf("rows\n got %q\nwant %q", rows, want)
	}
}

// TestPmacctPrimitivesShipped keeps the shipped file in step with Fields.
func TestPmacctPrimitivesShipped(t *testing.T) {
	path := repoFile(PmacctPrimitivesPath)
	want := PmacctPrimitives(DefaultPEN)
	if os.Getenv("UPDATE_CONFIGS") == "1" {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (generate it with: UPDATE_CONFIGS=1 go test ./exporter)", err)
	}
	if string(got) != want {
		t.Errorf("%s is stale: regenerate it with: UPDATE_CONFIGS=1 go test ./exporter", PmacctPrimitivesPath)
	}
}

// TestNfacctdConfAggregatesEveryPrimitive: a primitive defined but left out of
// 'aggregate' is silently dropped by nfacctd.
func TestNfacctdConfAggregatesEveryPrimitive(t *testing.T) {
	f, err := os.Open(repoFile("configs/pmacct/nfacctd.conf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var aggregate []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "aggregate:"); ok {
			for _, p := range strings.Split(v, ",") {
				aggregate = append(aggregate, strings.TrimSpace(p))
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	want := []string{"src_host", "dst_host", "src_port", "dst_port", "proto"}
	for _, fl := range Fields {
		if fl.Own || fl.PEN != 0 {
			want = append(want, PmacctName(fl))
		}
	}
	for _, w := range want {
		if !slices.Contains(aggregate, w) {
			t.Errorf("configs/pmacct/nfacctd.conf: aggregate lacks %s", w)
		}
	}
}
