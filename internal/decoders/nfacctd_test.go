package decoders

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestNfacctdDecodesPodflowElements runs nfacctd with the shipped config and
// primitives (configs/pmacct), as a user would.
func TestNfacctdDecodesPodflowElements(t *testing.T) {
	t.Parallel()
	n := StartNfacctd(t, "../../configs/pmacct")
	// The first two messages only: nfacctd aggregates records with equal
	// primitives, and the third repeats recordA.
	SendUDP(t, n.Addr(), scenario(t)[:2])
	records, err := n.WaitRecords(3, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	num := func(s string) json.Number { return json.Number(s) }
	want := []map[string]any{
		{
			"event_type": "purge",
			"ip_src":     "10.1.2.3", "ip_dst": "10.4.5.6", "port_src": num("40001"), "port_dst": num("443"),
			"ip_proto": "tcp", "packets": num("4000001"), "bytes": num("5000000123"),
			"iface_in": num("7"), "iface_out": num("0"),
			"timestamp_start": "1700000000.123000", "timestamp_end": "1700000005.456000",
			"tcp_rtt_min_us": "1500", "tcp_rtt_max_us": "25000", "tcp_rtt_mean_us": "8000",
			"tcp_rtt_sample_count": "12", "retransmitted_in_pkts": "5",
			"tcp_retransmitted_payload_octets": "6000000007",
			"tcp_handshake_server_us":          "350", "tcp_handshake_client_us": "420",
			"tcp_wire_retransmitted_packets": "6",
			"kernel_drop_reason":             "NETFILTER_DROP",
		},
		{
			"event_type": "purge",
			"ip_src":     "10.1.2.3", "ip_dst": "10.4.5.7", "port_src": num("40002"), "port_dst": num("8080"),
			"ip_proto": "tcp", "packets": num("10"), "bytes": num("600"),
			"iface_in": num("0"), "iface_out": num("9"),
			"timestamp_start": "1700000001.000000", "timestamp_end": "1700000002.000000",
			"tcp_rtt_min_us": "90", "tcp_rtt_max_us": "110", "tcp_rtt_mean_us": "100",
			"tcp_rtt_sample_count": "2", "retransmitted_in_pkts": "1",
			"tcp_retransmitted_payload_octets": "1448",
			"tcp_handshake_server_us":          "4294967295", "tcp_handshake_client_us": "1",
			"tcp_wire_retransmitted_packets": "2",
			"kernel_drop_reason":             "NO_SOCKET",
		},
		{
			"event_type": "purge",
			"ip_src":     "2001:db8::1", "ip_dst": "2001:db8::2", "port_src": num("50000"), "port_dst": num("22"),
			"ip_proto": "tcp", "packets": num("20"), "bytes": num("2000"),
			"iface_in": num("3"), "iface_out": num("0"),
			"timestamp_start": "1700000003.000000", "timestamp_end": "1700000004.000000",
			"tcp_rtt_min_us": "10", "tcp_rtt_max_us": "30", "tcp_rtt_mean_us": "20",
			"tcp_rtt_sample_count": "3",
			// Elements the record's template lacks print as zero / empty:
			// nfacctd cannot tell "absent" from 0.
			"retransmitted_in_pkts": "0", "tcp_retransmitted_payload_octets": "0",
			"tcp_handshake_server_us": "0", "tcp_handshake_client_us": "0",
			"tcp_wire_retransmitted_packets": "0",
			"kernel_drop_reason":             "",
		},
	}
	// The process and Kubernetes fields are in the shipped aggregate but in
	// none of these templates: nfacctd prints them as zero / empty.
	for _, w := range want {
		for _, side := range []string{"src_proc", "dst_proc"} {
			w[side+"_pid"], w[side+"_name"] = "0", ""
		}
		for _, side := range []string{"source", "destination"} {
			w[side+"_process_executable"], w[side+"_container_id"] = "", ""
			for _, f := range []string{"_pod_namespace", "_pod_name", "_node_name", "_pod_labels", "_workload_kind", "_workload_name"} {
				w[side+f] = ""
			}
		}
		w["destination_cluster_ipv4"], w["destination_cluster_ipv6"] = "0.0.0.0", "::"
		w["destination_service_port"], w["destination_service_port_name"], w["flow_type"] = "0", "", "0"
	}
	// Output order follows nfacctd's cache, not arrival: sort by source port.
	slices.SortFunc(records, func(a, b map[string]any) int {
		return strings.Compare(fmt.Sprint(a["port_src"]), fmt.Sprint(b["port_src"]))
	})
	if len(records) != len(want) {
		t.Fatalf("nfacctd printed %d records, want %d: %v", len(records), len(want), records)
	}
	for i := range want {
		if !reflect.DeepEqual(records[i], want[i]) {
			t.Errorf("record %d\n got %v\nwant %v", i, records[i], want[i])
		}
	}
}
