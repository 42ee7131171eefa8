package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// option is one row of the options table: everything podflow knows about a
// setting. The flag is --name, the YAML key is name, the environment
// variable is PODFLOW_NAME (upper-cased, dashes to underscores).
type option struct {
	name string
	arg  string // placeholder in the usage text: DUR, N, URL, ...
	def  string // default as text; Defaults parses it with set, so docs and code agree
	help string
	// list options take several values: the flag may repeat (each value may
	// also hold commas), the environment variable is comma-separated, the
	// YAML value is a sequence (or a comma-separated string). A later source
	// replaces the whole list of an earlier one.
	list bool
	// boolean options may be given as a bare --name.
	boolean bool
	// notInFile is set for --config itself, which cannot appear in a file.
	notInFile bool
	// set parses one value into c: it replaces a scalar, appends to a list.
	set func(c *Config, v string) error
	// reset empties a list before a source's values apply (lists only).
	reset func(c *Config)
	// show renders the current value for logs.
	show func(c *Config) any
}

// options is the single definition of every option, in the order the usage
// text and the README list them.
var options = []option{
	{
		name: "config", arg: "FILE", def: "", notInFile: true,
		help: "YAML configuration file; its keys are the option names",
		set:  func(c *Config, v string) error { c.ConfigFile = v; return nil },
		show: func(c *Config) any { return c.ConfigFile },
	},
	{
		name: "collector", arg: "URL", def: "ipfix+udp://127.0.0.1:4739", list: true,
		help: "collector to export to, as ipfix+udp://, ipfix+tcp://, ipfix+tls://, netflow9+udp:// or netflow5+udp:// (IPv4 flows only) HOST:PORT; repeat for several, each gets its own queue",
		set: func(c *Config, v string) error {
			col, err := ParseCollector(v)
			if err != nil {
				return err
			}
			c.Collectors = append(c.Collectors, col)
			return nil
		},
		reset: func(c *Config) { c.Collectors = nil },
		show: func(c *Config) any {
			urls := make([]string, len(c.Collectors))
			for i, col := range c.Collectors {
				urls[i] = col.URL
			}
			return urls
		},
	},
	{
		name: "interfaces", arg: "LIST", def: "", list: true,
		help: "host interfaces to observe besides veths, as names or globs (eth*); empty means the interfaces carrying a default route",
		set: func(c *Config, v string) error {
			c.Interfaces = append(c.Interfaces, v)
			return nil
		},
		reset: func(c *Config) { c.Interfaces = nil },
		show:  func(c *Config) any { return append([]string(nil), c.Interfaces...) },
	},
	boolOption("veth", "true", "attach to every veth in the host network namespace (pod interfaces)",
		func(c *Config) *bool { return &c.Veth }),
	{
		name: "mode", arg: "MODE", def: string(ModeDedup),
		help: "dedup: a packet crossing two observed interfaces is counted once; per-interface: one record per interface and direction",
		set:  func(c *Config, v string) error { c.Mode = Mode(v); return nil },
		show: func(c *Config) any { return string(c.Mode) },
	},
	durationOption("active-timeout", "60s", "export a long-lived flow at least this often",
		func(c *Config) *time.Duration { return &c.ActiveTimeout }),
	durationOption("idle-timeout", "15s", "end a flow that saw no packet for this long",
		func(c *Config) *time.Duration { return &c.IdleTimeout }),
	durationOption("poll-interval", "1s", "how often the kernel flow map is drained; at most the idle and active timeouts",
		func(c *Config) *time.Duration { return &c.PollInterval }),
	{
		name: "collector-ca", arg: "FILE", def: "",
		help: "PEM CA bundle that ipfix+tls:// collectors' certificates must chain to; empty: the system roots",
		set:  func(c *Config, v string) error { c.CollectorCA = v; return nil },
		show: func(c *Config) any { return c.CollectorCA },
	},
	{
		name: "collector-cert", arg: "FILE", def: "",
		help: "PEM client certificate for ipfix+tls:// collectors that want one (with --collector-key)",
		set:  func(c *Config, v string) error { c.CollectorCert = v; return nil },
		show: func(c *Config) any { return c.CollectorCert },
	},
	{
		name: "collector-key", arg: "FILE", def: "",
		help: "PEM private key of --collector-cert",
		set:  func(c *Config, v string) error { c.CollectorKey = v; return nil },
		show: func(c *Config) any { return c.CollectorKey },
	},
	boolOption("ipfix-options", "true", "send IPFIX options records: exporter reliability statistics, interface names, RFC 5610 types of the enterprise elements (go-ipfix's collector, hence Antrea's aggregator, cannot read them over TCP/TLS)",
		func(c *Config) *bool { return &c.IPFIXOptions }),
	{
		name: "observation-domain", arg: "N", def: "1",
		help: "IPFIX observation domain ID",
		set: func(c *Config, v string) error {
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil {
				return fmt.Errorf("invalid integer %q (want 0..4294967295)", v)
			}
			c.ObservationDomain = uint32(n)
			return nil
		},
		show: func(c *Config) any { return c.ObservationDomain },
	},
	intOption("mtu", "1500", "path MTU towards the collectors, 576..65535; export messages fit in it",
		func(c *Config) *int { return &c.MTU }),
	durationOption("template-refresh", "10m", "how often IPFIX templates are re-sent over UDP",
		func(c *Config) *time.Duration { return &c.TemplateRefresh }),
	intOption("max-flows", "32768", "entries of the kernel flow map and of the tuple map (socket and drop measurements), 1024..16777216; "+
		"kernel memory = 2 buffers × N × (48 B × CPUs + 44 B) + 2 × N × (64 B × CPUs + 44 B), 61.5 MiB for the default on 8 CPUs",
		func(c *Config) *int { return &c.MaxFlows }),
	intOption("max-table-flows", "262144", "flows the user-space flow table holds, 1024..16777216 (about 300–400 B of heap each); a new flow beyond it is exported at once with flowEndReason 5 (lack of resources) and counted",
		func(c *Config) *int { return &c.MaxTableFlows }),
	boolOption("precise-timestamps", "false", "stamp packets with ns resolution (bpf_ktime_get_ns, ~40 ns per packet more) instead of the kernel tick (1–10 ms)",
		func(c *Config) *bool { return &c.PreciseTimestamps }),
	boolOption("tcp-rtt", "true", "sample the smoothed RTT of every local TCP socket (tp_btf/tcp_probe) into its flow",
		func(c *Config) *bool { return &c.TCPRTT }),
	boolOption("tcp-retransmits", "true", "count the retransmissions of every local TCP socket (tp_btf/tcp_retransmit_skb, tcp_retransmit_synack) into its flow",
		func(c *Config) *bool { return &c.TCPRetransmits }),
	boolOption("kernel-drops", "true", "count the packets of each flow the kernel drops on this node, with the reason (tp_btf/kfree_skb)",
		func(c *Config) *bool { return &c.KernelDrops }),
	boolOption("handshake-rtt", "true", "time TCP handshakes (SYN → SYN-ACK → ACK) on the wire at every observed interface",
		func(c *Config) *bool { return &c.HandshakeRTT }),
	boolOption("wire-retransmits", "true", "count TCP segments seen again (sequence numbers) at every observed interface, for flows whose sockets are elsewhere",
		func(c *Config) *bool { return &c.WireRetransmits }),
	listOption("filter-cidrs", "LIST",
		"account only traffic to or from these prefixes; !PREFIX excludes traffic to or from it; per address the longest matching prefix decides (10.0.0.0/8,!10.1.0.0/16); IPv4 prefixes match IPv4 packets, IPv6 prefixes IPv6 packets; excluded packets are counted in the kernel counter filtered_packets",
		ParseCIDRRule, func(c *Config) *[]CIDRRule { return &c.FilterCIDRs }),
	listOption("filter-protocols", "LIST",
		"account only these IP protocols (tcp, udp, icmp, icmpv6, sctp or a number); !PROTO excludes one",
		ParseProtocolRule, func(c *Config) *[]ProtocolRule { return &c.FilterProtocols }),
	listOption("filter-ports", "LIST",
		"account only packets whose source or destination port is in these PORT or FIRST-LAST ranges; !RANGE excludes packets with either port in it; per port the narrowest range decides; packets without ports (ICMP, later fragments) match no range: allows exclude them, denies keep them",
		ParsePortRule, func(c *Config) *[]PortRule { return &c.FilterPorts }),
	intOption("sampling-interval", "1", "account each packet (after the filters) with probability 1/N (RFC 5475 uniform probabilistic sampling), 1..16777216; 1 accounts every packet; "+
		"exported counts are the sampled ones, with the interval, for collectors to scale; the unsampled are counted in the kernel counter sampled_out_packets; N > 1 turns --handshake-rtt and --wire-retransmits off",
		func(c *Config) *int { return &c.SamplingInterval }),
	boolOption("process-context", "true", "attribute flows to the local processes at either end: pid, name, executable, container id (socket tracepoints and a /proc scan at start)",
		func(c *Config) *bool { return &c.ProcessContext }),
	boolOption("nat-context", "true", "add the post-NAT addresses conntrack applied (DNAT'ed service IPs, SNAT)",
		func(c *Config) *bool { return &c.NATContext }),
	boolOption("kubernetes", "true", "name pods, workloads and services when running in a cluster (or with --kubeconfig); off by itself outside one",
		func(c *Config) *bool { return &c.Kubernetes }),
	{
		name: "kubeconfig", arg: "FILE", def: "",
		help: "kubeconfig for development; empty uses the in-cluster service account",
		set:  func(c *Config, v string) error { c.Kubeconfig = v; return nil },
		show: func(c *Config) any { return c.Kubeconfig },
	},
	{
		name: "node-name", arg: "NAME", def: "",
		help: "this node's Kubernetes name (a DaemonSet sets PODFLOW_NODE_NAME from spec.nodeName); empty means the hostname",
		set:  func(c *Config, v string) error { c.NodeName = v; return nil },
		show: func(c *Config) any { return c.NodeName },
	},
	boolOption("kube-remote-pods", "true", "also watch other nodes' pods so remote ends are named (memory ~1 KiB per pod, one cluster-wide watch); false: this node's pods only",
		func(c *Config) *bool { return &c.KubeRemotePods }),
	{
		name: "kube-labels", arg: "LIST", def: "app,app.kubernetes.io/name", list: true,
		help: "pod label keys exported with each end (Antrea's source/destinationPodLabels)",
		set: func(c *Config, v string) error {
			c.KubeLabels = append(c.KubeLabels, v)
			return nil
		},
		reset: func(c *Config) { c.KubeLabels = nil },
		show:  func(c *Config) any { return append([]string(nil), c.KubeLabels...) },
	},
	boolOption("once-per-cluster", "true", "export each pod-to-pod flow between two nodes from the source pod's node only, so a collector summing every node counts it once",
		func(c *Config) *bool { return &c.OncePerCluster }),
	{
		name: "metrics-listen", arg: "ADDR", def: "127.0.0.1:9750",
		help: "where to serve Prometheus /metrics, /healthz and /readyz; empty turns it off",
		set:  func(c *Config, v string) error { c.MetricsListen = v; return nil },
		show: func(c *Config) any { return c.MetricsListen },
	},
	{
		name: "enterprise-number", arg: "N", def: "32473",
		help: "IANA private enterprise number of podflow's own IPFIX elements; 32473 is RFC 5612's documentation number, set your organisation's",
		set: func(c *Config, v string) error {
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil || n == 0 {
				return fmt.Errorf("invalid enterprise number %q (want 1..4294967295)", v)
			}
			c.EnterpriseNumber = uint32(n)
			return nil
		},
		show: func(c *Config) any { return c.EnterpriseNumber },
	},
	{
		name: "log-level", arg: "LEVEL", def: "info",
		help: "debug, info, warn or error",
		set:  func(c *Config, v string) error { c.LogLevel = v; return nil },
		show: func(c *Config) any { return c.LogLevel },
	},
}

func durationOption(name, def, help string, field func(*Config) *time.Duration) option {
	return option{
		name: name, arg: "DUR", def: def, help: help,
		set: func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil {
				return fmt.Errorf("invalid duration %q (want e.g. 30s, 5m)", v)
			}
			*field(c) = d
			return nil
		},
		show: func(c *Config) any { return formatDuration(*field(c)) },
	}
}

func intOption(name, def, help string, field func(*Config) *int) option {
	return option{
		name: name, arg: "N", def: def, help: help,
		set: func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil {
				return fmt.Errorf("invalid integer %q", v)
			}
			*field(c) = n
			return nil
		},
		show: func(c *Config) any { return *field(c) },
	}
}

func boolOption(name, def, help string, field func(*Config) *bool) option {
	return option{
		name: name, arg: "BOOL", def: def, help: help, boolean: true,
		set: func(c *Config, v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("invalid boolean %q (want true or false)", v)
			}
			*field(c) = b
			return nil
		},
		show: func(c *Config) any { return *field(c) },
	}
}

// envName is the environment variable of an option.
func (o *option) envName() string {
	return "PODFLOW_" + strings.ToUpper(strings.ReplaceAll(o.name, "-", "_"))
}

// values splits one raw text value: lists are comma-separated (blank items
// are dropped, so "a, b," is [a b]); scalars are taken whole.
func (o *option) values(raw string) []string {
	if !o.list {
		return []string{raw}
	}
	var vals []string
	for _, v := range strings.Split(raw, ",") {
		if v = strings.TrimSpace(v); v != "" {
			vals = append(vals, v)
		}
	}
	return vals
}

// apply sets the values one source gave for this option: a list is replaced
// by them, a scalar takes the last. It returns one error per bad value.
func (o *option) apply(c *Config, vals []string) []error {
	if !o.list {
		if len(vals) == 0 {
			return nil
		}
		if err := o.set(c, vals[len(vals)-1]); err != nil {
			return []error{err}
		}
		return nil
	}
	o.reset(c)
	var errs []error
	for _, v := range vals {
		if err := o.set(c, v); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// lookupOption finds an option by name.
func lookupOption(name string) (*option, bool) {
	for i := range options {
		if options[i].name == name {
			return &options[i], true
		}
	}
	return nil, false
}

// formatDuration prints a duration the way people write it in a config
// file: 1m rather than 1m0s, 10m rather than 10m0s.
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
