// Package netflow9 exports flow records as NetFlow version 9 (RFC 3954)
// over UDP.
//
// Two fixed templates carry every record: 256 for IPv4 flows and 257 for
// IPv6 flows (a v4/v6 mix goes to 257 with the IPv4 side mapped). Their
// fields are the classic v9 field types, so every NetFlow v9 collector
// decodes them; podflow's measurements and context, which v9 collectors do
// not know, travel in IPFIX only. Template ids are never reused with
// another layout.
//
// Fields, in order: IPV4_SRC_ADDR (8) / IPV6_SRC_ADDR (27), IPV4_DST_ADDR
// (12) / IPV6_DST_ADDR (28), L4_SRC_PORT (7), L4_DST_PORT (11), PROTOCOL
// (4), IN_BYTES (1, 8 octets), IN_PKTS (2, 8 octets), TCP_FLAGS (6, one
// octet: the low 8 bits, NS does not fit), FIRST_SWITCHED (22),
// LAST_SWITCHED (21), flowEndReason (136, IANA), INPUT_SNMP (10) and
// OUTPUT_SNMP (14) (4 octets: the ifindex on the side of the hook, 0 on
// the other), DIRECTION (61) and ICMP_TYPE (32: type<<8|code for ICMP and
// ICMPv6, 0 otherwise; ICMP flows also carry it in L4_DST_PORT, as
// flow.Tuple and classic exporters do). tshark decodes every field;
// nfdump 1.7 ignores flowEndReason, and reads IANA's icmpTypeCodeIPv6
// (139) as 0, hence ICMP_TYPE for both families. The dropped packet and
// octet counts (132, 133) are left to IPFIX: nfdump 1.7 ignores them in
// v9, and a fixed template would carry their 16 octets in every record.
//
// Packets: records are packed per address family into one data FlowSet per
// family (padded to 32 bits), as many as fit in the path MTU minus the IP
// and UDP headers. The header count is the number of template and data
// records in the packet, and the sequence number counts the export packets
// sent before it (RFC 3954 §5.1).
//
// Templates (RFC 3954 §9): both templates are sent in one template FlowSet
// at the head of the first packet, then again at the head of a packet once
// TemplateRefreshPackets packets have gone out since the last ones, or once
// TemplateRefresh has passed. A packet whose send failed did not carry its
// templates: the next packet carries them again. With
// Config.SamplingInterval they are followed by the sampling options
// template 258 and its record (sampling.go), so that every template round
// tells the collector the interval.
//
// Time: v9 carries no sub-second export time, so the header names one
// instant twice: unix_secs, a whole second, and sysUptime, the
// milliseconds from Boot to that same second. A collector computing the
// boot time as unix_secs×1000 − sysUptime then gets Boot exactly, and
// FIRST_SWITCHED and LAST_SWITCHED back as exact wall-clock milliseconds.
// That second is the first one not before now nor before the packet's
// latest LAST_SWITCHED: collectors that compute sysUptime − LAST_SWITCHED
// in unsigned arithmetic (pmacct's nfacctd does) would otherwise read a
// flow that ended in the last second as ending 49 days ago. Uptimes wrap
// at 2³² ms (49.7 days), as a router's do. A record whose first (or last)
// packet came before Boot is sent with 0 there, and counted (Clamps).
//
// Accounting, as the IPFIX exporter: RecordsLost counts every record not
// written (no valid address pair, no connection, a failed send); SendErrors
// counts packets that could not be sent; the sequence number advances only
// for packets written.
package netflow9
