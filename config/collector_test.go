package config

import "testing"

func TestParseCollectorGood(t *testing.T) {
	cases := []struct {
		raw  string
		want Collector
	}{
		{"ipfix+udp://127.0.0.1:4739", Collector{"ipfix+udp://127.0.0.1:4739", "ipfix", "udp", "127.0.0.1:4739"}},
		{"ipfix+tcp://collector.monitoring.svc:4740", Collector{"ipfix+tcp://collector.monitoring.svc:4740", "ipfix", "tcp", "collector.monitoring.svc:4740"}},
		{"ipfix+udp://[::1]:2055", Collector{"ipfix+udp://[::1]:2055", "ipfix", "udp", "[::1]:2055"}},
		{"IPFIX+UDP://localhost:65535/", Collector{"IPFIX+UDP://localhost:65535/", "ipfix", "udp", "localhost:65535"}},
	}
	for _, tc := range cases {
		got, err := ParseCollector(tc.raw)
		if err != nil {
			t.Errorf("ParseCollector(%q): %v", tc.raw, err)
			continue
		}
		if got != tc.want {
			t.Errorf("ParseCollector(%q) = %+v, want %+v", tc.raw, got, tc.want)
		}
	}
}

func TestParseCollectorBad(t *testing.T) {
	cases := []struct{ raw, want string }{
		{"http://x:1", `collector URL "http://x:1": unknown scheme "http", want one of ipfix+tcp, ipfix+tls, ipfix+udp, netflow5+udp, netflow9+udp`},
		{"127.0.0.1:4739", `invalid collector URL "127.0.0.1:4739": parse "127.0.0.1:4739": first path segment in URL cannot contain colon`},
		{"ipfix+udp://host", `collector URL "ipfix+udp://host": want HOST:PORT after ipfix+udp://: address host: missing port in address`},
		{"ipfix+udp://:4739", `collector URL "ipfix+udp://:4739": missing host`},
		{"ipfix+udp://a:0", `collector URL "ipfix+udp://a:0": port "0" is not a number in 1..65535`},
		{"ipfix+udp://a:65536", `collector URL "ipfix+udp://a:65536": port "65536" is not a number in 1..65535`},
		{"ipfix+udp://a:ipfix", `invalid collector URL "ipfix+udp://a:ipfix": parse "ipfix+udp://a:ipfix": invalid port ":ipfix" after host`},
		{"ipfix+udp://a:", `collector URL "ipfix+udp://a:": port "" is not a number in 1..65535`},
		{"ipfix+udp://a_b:1", `collector URL "ipfix+udp://a_b:1": invalid host "a_b"`},
		{"ipfix+udp://a:1/path", `collector URL "ipfix+udp://a:1/path": want ipfix+udp://HOST:PORT and nothing else`},
		{"ipfix+udp://a:1?x=y", `collector URL "ipfix+udp://a:1?x=y": want ipfix+udp://HOST:PORT and nothing else`},
		{"ipfix+udp://u@a:1", `collector URL "ipfix+udp://u@a:1": want ipfix+udp://HOST:PORT and nothing else`},
		{"", `collector URL "": unknown scheme "", want one of ipfix+tcp, ipfix+tls, ipfix+udp, netflow5+udp, netflow9+udp`},
	}
	for _, tc := range cases {
		_, err := ParseCollector(tc.raw)
		if err == nil {
			t.Errorf("ParseCollector(%q) succeeded, want %s", tc.raw, tc.want)
			continue
		}
		if err.Error() != tc.want {
			t.Errorf("ParseCollector(%q)\n got %s\nwant %s", tc.raw, err, tc.want)
		}
	}
}
