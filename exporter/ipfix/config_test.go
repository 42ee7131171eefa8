package ipfix

import (
	"crypto/tls"
	"os"
	"strings"
	"testing"
	"time"
)

func TestMessageLimit(t *testing.T) {
	for _, tc := range []struct {
		mtu     int
		address string
		want    int
	}{
		{1500, "127.0.0.1:4739", 1472},
		{1500, "[::1]:4739", 1452},
		{1500, "[::ffff:10.0.0.1]:4739", 1472},
		{1500, "collector.example:4739", 1452}, // family unknown: assume the larger header
		{576, "10.0.0.1:4739", 548},
		{70000, "10.0.0.1:4739", 65535},
	} {
		if got := messageLimit(tc.mtu, tc.address); got != tc.want {
			t.Errorf("messageLimit(%d, %s) = %d, want %d", tc.mtu, tc.address, got, tc.want)
		}
	}
}

func TestConfigDefaultsAndErrors(t *testing.T) {
	c, err := Config{Network: "udp", Address: "127.0.0.1:4739"}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if c.MTU != 1500 || c.TemplateRefresh != 10*time.Minute || c.DialTimeout != time.Second ||
		c.ReconnectBackoff != time.Second || c.Now == nil || c.StatsInterval != time.Minute ||
		c.ExportingProcessID != uint32(os.Getpid()) || c.TLS != nil {
		t.Errorf("defaults: %+v", c)
	}
	if c, err := (Config{Network: "tls", Address: "127.0.0.1:4739"}).withDefaults(); err != nil || c.TLS == nil || !c.stream() {
		t.Errorf("tls defaults: %+v, %v", c, err)
	}
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Network: "sctp", Address: "127.0.0.1:4739"}, `network "sctp"`},
		{Config{Network: "tcp", Address: "127.0.0.1:4739", TLS: &tls.Config{}}, "only for network tls"},
		{Config{Network: "udp", Address: "127.0.0.1"}, "collector address"},
		{Config{Network: "udp", Address: "127.0.0.1:4739", DialTimeout: -1}, "negative duration"},
		{Config{Network: "udp", Address: "127.0.0.1:4739", MTU: 100}, "template 256 does not fit a 72-octet message"},
		// The widest template: IPv6 with every field group.
		{Config{Network: "udp", Address: "[::1]:4739", MTU: 244}, "template 33022 does not fit a 196-octet message"},
	} {
		_, err := New(tc.cfg, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v) = %v, want error containing %q", tc.cfg, err, tc.want)
		}
	}
}
