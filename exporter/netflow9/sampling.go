package netflow9

import "encoding/binary"

// Packet sampling (Config.SamplingInterval above 1): the records' counts
// are those of packets each counted with probability 1/N, so collectors
// must learn N to scale them back. Every packet that carries the templates
// carries after them an options template FlowSet (RFC 3954 §6.1) and an
// options data FlowSet (§6.2) with one record: scope System (4 octets, the
// source id), SAMPLING_INTERVAL (34, 4 octets) = N. nfdump's nfcapd (1.7.1)
// then multiplies packets and octets by N itself, pmacct's nfacctd reports
// sampling_rate N (and scales with nfacctd_renormalize), goflow2 sets
// SamplingRate N, tshark names it. SAMPLING_ALGORITHM (35, 2: random) is
// left out on purpose: with it in the template nfcapd 1.7.1 ignores the
// interval altogether (measured), and v9 has no field for uniform
// probabilistic sampling anyway (IPFIX sends PSAMP's).
const (
	TemplateIDSampling uint16 = 258

	optionsTemplateFlowSetID        = 1
	scopeSystem              uint16 = 1
	fieldSamplingInterval    uint16 = 34
	// The options template record and its data record, both counted in
	// the header's count; TemplatesSent counts the first.
	samplingRecords = 2
)

// samplingFlowSets encodes the options template FlowSet and the options
// data FlowSet of the sampling interval; their lengths are multiples of 4.
func samplingFlowSets(sourceID, interval uint32) []byte {
	b := binary.BigEndian.AppendUint16(nil, optionsTemplateFlowSetID)
	b = binary.BigEndian.AppendUint16(b, 20) // 4 header + 6 + 4 scope + 4 field + 2 padding
	b = binary.BigEndian.AppendUint16(b, TemplateIDSampling)
	b = binary.BigEndian.AppendUint16(b, 4) // option scope length, octets
	b = binary.BigEndian.AppendUint16(b, 4) // option length, octets
	b = binary.BigEndian.AppendUint16(b, scopeSystem)
	b = binary.BigEndian.AppendUint16(b, 4)
	b = binary.BigEndian.AppendUint16(b, fieldSamplingInterval)
	b = binary.BigEndian.AppendUint16(b, 4)
	b = append(b, 0, 0) // padding to 32 bits
	b = binary.BigEndian.AppendUint16(b, TemplateIDSampling)
	b = binary.BigEndian.AppendUint16(b, flowSetHeaderLen+8)
	b = binary.BigEndian.AppendUint32(b, sourceID)
	return binary.BigEndian.AppendUint32(b, interval)
}
