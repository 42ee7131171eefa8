// Package config loads podflow's run configuration. Every option is defined
// once, in the table in options.go; flags, environment variables, YAML keys,
// the usage text and the README options table are all derived from it.
//
// Layering, later wins: defaults → YAML file (--config or PODFLOW_CONFIG) →
// environment (PODFLOW_<OPTION>) → command-line flags → Validate.
package config

import (
	"fmt"
	"time"
)

// Mode says how a packet that crosses several observed interfaces is counted.
type Mode string

const (
	// ModeDedup counts a packet once even if it crosses two observed
	// interfaces on this node (pod → bridge → pod, pod → uplink).
	ModeDedup Mode = "dedup"
	// ModePerInterface exports one record per interface and direction, as
	// routers do.
	ModePerInterface Mode = "per-interface"
)

// Config is podflow's run configuration. Build it with Load (or Defaults for
// tests) and check it with Validate; the zero value is not usable.
type Config struct {
	// ConfigFile is the YAML file the configuration was read from ("" if none).
	ConfigFile string
	// Collectors receive the flow records; at least one.
	Collectors []Collector
	// Interfaces are host interface names or path.Match globs to observe
	// besides veths; empty means the interfaces carrying a default route.
	Interfaces []string
	// Veth attaches to every veth in the host network namespace.
	Veth bool
	// Mode is dedup (default) or per-interface.
	Mode Mode
	// ActiveTimeout exports long-lived flows at least this often.
	ActiveTimeout time.Duration
	// IdleTimeout ends a flow that saw no packet for this long.
	IdleTimeout time.Duration
	// PollInterval is how often the kernel flow map is drained.
	PollInterval time.Duration
	// CollectorCA, CollectorCert and CollectorKey configure TLS towards
	// ipfix+tls:// collectors.
	CollectorCA, CollectorCert, CollectorKey string
	// IPFIXOptions sends IPFIX options records.
	IPFIXOptions bool
	// ObservationDomain is the IPFIX observation domain ID.
	ObservationDomain uint32
	// MTU is the path MTU towards the collectors; export messages fit in it.
	MTU int
	// TemplateRefresh is how often templates are re-sent over UDP.
	TemplateRefresh time.Duration
	// MaxFlows is the number of entries of the kernel flow map.
	MaxFlows int
	// MaxTableFlows bounds the flows the user-space flow table holds; a new
	// flow beyond it is exported at once with flowEndReason 5 (lack of
	// resources) instead of being held.
	MaxTableFlows int
	// PreciseTimestamps stamps packets in ns instead of kernel ticks.
	PreciseTimestamps bool
	// TCPRTT, TCPRetransmits and KernelDrops attach the socket and drop
	// tracepoints; HandshakeRTT times TCP handshakes in the TC programs.
	TCPRTT, TCPRetransmits, KernelDrops, HandshakeRTT bool
	// WireRetransmits counts TCP retransmissions from sequence numbers in
	// the TC programs.
	WireRetransmits bool
	// FilterCIDRs, FilterProtocols and FilterPorts select the traffic the
	// kernel accounts (see filter.go for their semantics); empty lists
	// select everything.
	FilterCIDRs     []CIDRRule
	FilterProtocols []ProtocolRule
	FilterPorts     []PortRule
	// SamplingInterval accounts each packet with probability
	// 1/SamplingInterval; 1 accounts every packet.
	SamplingInterval int
	// ProcessContext and NATContext turn the process and conntrack
	// enrichments on.
	ProcessContext, NATContext bool
	// Kubernetes turns the Kubernetes stage on (it stays off outside a
	// cluster unless Kubeconfig is set); NodeName is this node ("" means
	// the hostname); KubeRemotePods watches every node's pods; KubeLabels
	// are the label keys exported; OncePerCluster exports inter-node flows
	// from the source pod's node only.
	Kubernetes     bool
	Kubeconfig     string
	NodeName       string
	KubeRemotePods bool
	KubeLabels     []string
	OncePerCluster bool
	// MetricsListen is where /metrics, /healthz and /readyz are served; ""
	// turns them off.
	MetricsListen string
	// EnterpriseNumber is the PEN of podflow's own IPFIX elements.
	EnterpriseNumber uint32
	// LogLevel is debug, info, warn or error.
	LogLevel string
}

// FlowMapBytes is the kernel memory the flow and tuple maps take with
// MaxFlows entries on a machine with cpus CPUs: two buffers each (the map
// being filled and the one being drained) of per-CPU values (48 B per flow,
// 64 B per tuple) plus the 44 B key.
func (c *Config) FlowMapBytes(cpus int) uint64 {
	return 2*uint64(c.MaxFlows)*(48*uint64(cpus)+44) + 2*uint64(c.MaxFlows)*(64*uint64(cpus)+44)
}

// Defaults returns the configuration with every option at its default.
func Defaults() *Config {
	c := &Config{}
	for _, o := range options {
		if errs := o.apply(c, o.values(o.def)); errs != nil {
			// The table's defaults are constants checked by the tests.
			panic(fmt.Sprintf("config: bad default for --%s: %v", o.name, errs))
		}
	}
	return c
}
