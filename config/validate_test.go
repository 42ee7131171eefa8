package config

import (
	"strings"
	"testing"
	"time"
)

func TestValidateRules(t *testing.T) {
	cases := []struct {
		name   string
		modify func(c *Config)
		want   string // the whole error
	}{
		{"active-timeout zero", func(c *Config) { c.ActiveTimeout = 0 }, "--active-timeout: must be positive, got 0s"},
		{"idle-timeout negative", func(c *Config) { c.IdleTimeout = -time.Second }, "--idle-timeout: must be positive, got -1s"},
		{"poll-interval zero", func(c *Config) { c.PollInterval = 0 }, "--poll-interval: must be positive, got 0s"},
		{"template-refresh zero", func(c *Config) { c.TemplateRefresh = 0 }, "--template-refresh: must be positive, got 0s"},
		{"poll above idle", func(c *Config) { c.PollInterval = 20 * time.Second },
			"--poll-interval: must not exceed --idle-timeout (15s), got 20s"},
		{"poll above both", func(c *Config) { c.PollInterval = 2 * time.Minute; c.IdleTimeout = 3 * time.Minute },
			"--poll-interval: must not exceed --active-timeout (1m), got 2m"},
		{"mtu low", func(c *Config) { c.MTU = 575 }, "--mtu: must be in 576..65535, got 575"},
		{"mtu high", func(c *Config) { c.MTU = 65536 }, "--mtu: must be in 576..65535, got 65536"},
		{"log-level", func(c *Config) { c.LogLevel = "verbose" }, `--log-level: must be one of debug, info, warn, error, got "verbose"`},
		{"mode", func(c *Config) { c.Mode = "both" }, `--mode: must be dedup or per-interface, got "both"`},
		{"max-flows low", func(c *Config) { c.MaxFlows = 1023 }, "--max-flows: must be in 1024..16777216, got 1023"},
		{"max-flows high", func(c *Config) { c.MaxFlows = 1<<24 + 1 }, "--max-flows: must be in 1024..16777216, got 16777217"},
		{"max-table-flows low", func(c *Config) { c.MaxTableFlows = 1023 }, "--max-table-flows: must be in 1024..16777216, got 1023"},
		{"max-table-flows high", func(c *Config) { c.MaxTableFlows = 1<<24 + 1 }, "--max-table-flows: must be in 1024..16777216, got 16777217"},
		{"no collector", func(c *Config) { c.Collectors = nil }, "--collector: at least one collector is required"},
		{"collector scheme", func(c *Config) { c.Collectors = []Collector{{URL: "sflow+udp://a:1"}} },
			`--collector: collector URL "sflow+udp://a:1": unknown scheme "sflow+udp", want one of ipfix+tcp, ipfix+tls, ipfix+udp, netflow5+udp, netflow9+udp`},
		{"collector fields", func(c *Config) { c.Collectors = []Collector{{URL: "ipfix+udp://a:1", Address: "b:2"}} },
			`--collector: "ipfix+udp://a:1": fields do not match the URL (use ParseCollector)`},
		{"interface glob", func(c *Config) { c.Interfaces = []string{"eth["} },
			`--interfaces: invalid glob "eth[": syntax error in pattern`},
		{"interface name too long", func(c *Config) { c.Interfaces = []string{"abcdefghijklmnop"} },
			`--interfaces: interface name "abcdefghijklmnop" is longer than 15 bytes`},
		{"interface with slash", func(c *Config) { c.Interfaces = []string{"a/b"} },
			`--interfaces: invalid interface name "a/b"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := Defaults()
			tc.modify(c)
			err := c.Validate()
			if err == nil {
				t.Fatalf("Validate() = nil, want %s", tc.want)
			}
			if err.Error() != tc.want {
				t.Fatalf("Validate()\n got %s\nwant %s", err, tc.want)
			}
		})
	}
}

func TestValidateAcceptsLimits(t *testing.T) {
	c := Defaults()
	c.MTU, c.MaxFlows = MinMTU, MinMaxFlows
	c.PollInterval, c.IdleTimeout, c.ActiveTimeout = time.Second, time.Second, time.Second
	c.Interfaces = []string{"eth0", "en*", "veth?[0-9]", "abcdefghijklmno"}
	if err := c.Validate(); err != nil {
		t.Fatalf("lower limits: %v", err)
	}
	c.MTU, c.MaxFlows = MaxMTU, MaxMaxFlows
	if err := c.Validate(); err != nil {
		t.Fatalf("upper limits: %v", err)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	c := Defaults()
	c.MTU, c.LogLevel, c.Collectors = 1, "loud", nil
	want := strings.Join([]string{
		"--mtu: must be in 576..65535, got 1",
		`--log-level: must be one of debug, info, warn, error, got "loud"`,
		"--collector: at least one collector is required",
	}, "\n")
	if err := c.Validate(); err == nil || err.Error() != want {
		t.Fatalf("Validate()\n got %v\nwant %s", err, want)
	}
}

// Load runs Validate after layering, so a value that parses but breaks a
// rule is still reported against its option.
func TestLoadValidates(t *testing.T) {
	got := loadErr(t, []string{"--active-timeout", "0s"}, env{"PODFLOW_MTU": "100"})
	want := "--active-timeout: must be positive, got 0s\n--mtu: must be in 576..65535, got 100"
	if got != want {
		t.Fatalf("error\n got %s\nwant %s", got, want)
	}
	got = loadErr(t, []string{"--collector", ""}, nil)
	if got != "--collector: at least one collector is required" {
		t.Fatalf("empty --collector: %s", got)
	}
}
