package attach

import (
	"errors"
	"path"
	"testing"
)

func TestSelectLink(t *testing.T) {
	globs := []string{"uplink*", "bond0"}
	for _, tc := range []struct {
		name   string
		cfg    Config
		link   Link
		want   bool
		l2     bool
		why    string
		refuse bool
	}{
		{"veth by kind, whatever its name", Config{Veth: true}, Link{Name: "eth0", Kind: "veth", EncapType: "ether"}, true, true, "veth", false},
		{"veth name but not a veth", Config{Veth: true}, Link{Name: "veth12", Kind: "dummy", EncapType: "ether"}, false, false, "", false},
		{"veths off", Config{}, Link{Name: "veth12", Kind: "veth", EncapType: "ether"}, false, false, "", false},
		{"glob match", Config{HostInterfaces: globs}, Link{Name: "uplink0", Kind: "dummy", EncapType: "ether"}, true, true, "name", false},
		{"glob matches the bare prefix", Config{HostInterfaces: globs}, Link{Name: "uplink", Kind: "device", EncapType: "ether"}, true, true, "name", false},
		{"exact name", Config{HostInterfaces: globs}, Link{Name: "bond0", Kind: "bond", EncapType: "ether"}, true, true, "name", false},
		{"no glob match", Config{HostInterfaces: globs}, Link{Name: "bond1", Kind: "bond", EncapType: "ether"}, false, false, "", false},
		{"names replace the default route rule", Config{HostInterfaces: globs}, Link{Name: "eth0", Kind: "device", EncapType: "ether", DefaultRoute: true}, false, false, "", false},
		{"default route", Config{}, Link{Name: "eth0", Kind: "device", EncapType: "ether", DefaultRoute: true}, true, true, "default-route", false},
		{"no default route", Config{}, Link{Name: "eth1", Kind: "device", EncapType: "ether"}, false, false, "", false},
		{"wireguard is L3", Config{}, Link{Name: "wg0", Kind: "wireguard", EncapType: "none", DefaultRoute: true}, true, false, "default-route", false},
		{"ipip is L3", Config{HostInterfaces: []string{"tunl0"}}, Link{Name: "tunl0", Kind: "ipip", EncapType: "ipip"}, true, false, "name", false},
		{"raw-IP modem is L3", Config{}, Link{Name: "wwan0", Kind: "device", EncapType: "unknown519", DefaultRoute: true}, true, false, "default-route", false},
		{"infiniband refused", Config{}, Link{Name: "ib0", Kind: "ipoib", EncapType: "infiniband", DefaultRoute: true}, true, false, "default-route", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.cfg.selectLink(tc.link)
			if got.want != tc.want || got.l2 != tc.l2 || got.why != tc.why || (got.err != nil) != tc.refuse {
				t.Errorf("selectLink = %+v, want want=%v l2=%v why=%q refused=%v", got, tc.want, tc.l2, tc.why, tc.refuse)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	if err := (Config{HostInterfaces: []string{"eth*", "bond0"}}).Validate(); err != nil {
		t.Errorf("valid globs: %v", err)
	}
	err := Config{HostInterfaces: []string{"eth[", "ok", "x[-]"}}.Validate()
	if !errors.Is(err, path.ErrBadPattern) {
		t.Fatalf("Validate = %v, want ErrBadPattern", err)
	}
	want := "host interface pattern \"eth[\": syntax error in pattern\nhost interface pattern \"x[-]\": syntax error in pattern"
	if err.Error() != want {
		t.Errorf("Validate = %q, want %q", err, want)
	}
}
