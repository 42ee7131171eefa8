// Package e2e holds podflow's privileged end-to-end tests: a "node" is a
// throwaway network namespace with a bridge and veth "pods" (plus a routed
// pod), podflow runs in-process attached to that namespace, and what it
// exports is decoded by go-ipfix's collector and by nfcapd/nfdump, then
// compared with the kernel's own counters and the traffic the test sent.
package e2e
