// Package netflow5 exports flow records as NetFlow version 5 over UDP.
//
// NetFlow v5 has one fixed layout: a 24-octet header and at most 30
// 48-octet records per packet, fewer when the path MTU minus the IP and
// UDP headers holds fewer. It carries IPv4 flows only: IPv6 records (and
// v4/v6 mixes) cannot be exported. They are never dropped silently: each
// is counted lost in Stats and in Unexportable, reported in Export's
// error, and each Export call that met some logs their number once.
//
// Fields narrower than podflow's values are clamped and counted (Clamps):
// the 16-bit input/output ifindex, the 32-bit packet and octet counts, and
// uptimes before Boot (sent as 0). TCP flags are the low 8 bits (NS does
// not fit). ICMP flows carry type<<8|code in the destination port, as v5
// exporters do (and as flow.Tuple holds them). Next hop, ToS, AS numbers
// and masks are 0; the sampling interval is 0 (unsampled) or, with
// Config.SamplingInterval, random sampling 1 in N (sampling.go); engine
// type and id come from the Config.
//
// Time: the header names one instant three ways: unix_secs (a whole
// second, unix_nsecs 0) and sysUptime, the milliseconds from Boot to that
// second. A collector computing the boot time from them gets Boot exactly,
// and First and Last back as exact wall-clock milliseconds, whether it
// reads unix_nsecs or not. That second is the first one not before now nor
// before the packet's latest Last, so sysUptime − Last never goes negative
// (collectors compute it unsigned). Uptimes wrap at 2³² ms (49.7 days), as
// a router's do.
//
// Accounting, as the IPFIX exporter: flow_sequence counts the records
// written before the packet (v5 counts flows, not packets); RecordsLost
// counts every record not written; SendErrors counts packets that could not
// be sent.
package netflow5
