// Package e2e holds podflow's privileged end-to-end tests: a "node" is a
// throwaway network namespace with a bridge and veth "pods" (plus a routed
// pod), podflow runs in-process attached to that namespace, and what it
// exports is decoded by podflow's own collector and by nfcapd/nfdump (and
// tshark for the enterprise elements), then compared with the kernel's own
// counters and the traffic the test sent.
package e2e
