// Package netflowtest holds what the tests of the NetFlow v5 and v9
// exporters share: a fake clock, the flow records they send and expect
// decoders to read back (Truth), a connection capturing the datagrams, and
// the runs of nfdump, tshark and nfacctd over those records (Interop).
// Test code only: it imports testing.
package netflowtest
