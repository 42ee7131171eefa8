// Package ipfix exports flow records as IPFIX (RFC 7011) over UDP, TCP or
// TLS (TCP with crypto/tls, RFC 7011 §11).
//
// Templates and data records are built and encoded with go-ipfix's entities
// and registry, from the field table in package exporter. The message and
// set headers, the buffer and the connection are ours, for three reasons:
//
//   - go-ipfix's ExportingProcess hides its connection: a collector that
//     closed its TCP session cannot be noticed before the next write, and
//     records written into the dead socket would be lost without being
//     counted. Here every TCP message write is preceded by a non-blocking
//     read that sees the collector's FIN or RST, and a failed write counts
//     exactly the records of the messages not fully written as lost.
//   - its TempRefTimeout goroutine races with the sender on the sequence
//     number (go test -race shows it). Here the UDP template refresh is
//     checked from Export itself; the one goroutine, the statistics timer,
//     takes the exporter's mutex like Export does.
//   - one reused buffer per message and reused element values keep the hot
//     path free of allocations.
//
// Each message carries exactly one set, and each template set exactly one
// template record: go-ipfix's own collector (used by Antrea's flow
// aggregator) decodes only the first set of a message and only the first
// record of a template set, and reads a data set up to the end of the
// message, so several sets per message or set padding would be misread.
// Records are packed into data sets of their address family (template 256
// IPv4, 257 IPv6), as many as fit in the path MTU minus the IP and UDP
// headers (28 octets to an IPv4 collector, 48 to an IPv6 one); TCP uses the
// same bound so messages stay small.
//
// Options (options.go, unless Config.NoOptions): at each connect and UDP
// template refresh the exporter sends its options templates and an RFC
// 5610 type record for every enterprise element it exports (podflow's, and
// the ntop and Antrea elements it uses), so a collector without vendor
// files decodes them, and with Config.SamplingInterval the sampling
// interval and algorithm (sampling.go: nfdump scales the sampled counts by
// it, pmacct and goflow2 report it); before the first record observed on
// an interface in that round, the interface's name (Config.InterfaceName);
// every
// StatsInterval and at Close, the exporting process reliability statistics
// (RFC 7011 §4.3), whose totals equal Stats. go-ipfix's collector cannot
// decode options templates: over TCP and TLS it closes the connection at
// the first one, hence NoOptions.
//
// Accounting: the sequence number counts the data records, flow and
// options records alike (RFC 7011 §3.1), sent in the current transport
// session (a new TCP connection starts at 0). RecordsSent and RecordsLost
// count flow records only: RecordsLost every flow record that was not
// written, NotSent its packets and octets. SendErrors counts messages (data,
// options or template) whose write failed, and data messages that found no
// connection to write them to. Reconnects counts successful
// connects after the first one; TemplatesSent counts template and options
// template records.
package ipfix
