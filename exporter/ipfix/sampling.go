package ipfix

import (
	"encoding/binary"
	"math"
)

// Packet sampling options (Config.SamplingInterval above 1): the kernel
// counts each packet with probability 1/N and the records carry those raw
// counts, so collectors must learn N to scale them back. Two options
// templates say it, each with one record per round:
//
//   - TemplateIDSamplingInterval, the form collectors read: scope
//     observationDomainId (the domain of the message); samplingInterval
//     (34) = N. nfdump's nfcapd (1.7.1) then multiplies packets and octets
//     by N itself, pmacct's nfacctd reports sampling_rate N (and scales with
//     nfacctd_renormalize), goflow2 sets SamplingRate N. samplingAlgorithm
//     (35) is left out on purpose: with it in the template nfcapd 1.7.1
//     ignores the interval altogether. So it does, measured, with every
//     other form: samplerId/samplerMode/samplerRandomInterval (48-50) and
//     selectorId/selectorAlgorithm/samplingPacketInterval/
//     samplingPacketSpace (302, 304-306), with or without the id in the
//     flow records.
//   - TemplateIDSelector, the exact description (PSAMP, RFC 5475 and RFC
//     5477): scope selectorId (SelectorID); selectorAlgorithm
//     (304) = 4, uniform probabilistic sampling; samplingProbability (311)
//     = 1/N. samplingInterval says "1 in N" but not how the packet is
//     chosen; this says it, for collectors that read PSAMP (tshark and
//     libfixbuf name every field). nfcapd, nfacctd and goflow2 ignore it.
//
// Flow records carry no sampling field: every record of the domain is
// sampled alike, and a selectorId in the records would only add 8 octets
// that no collector at hand uses to scale.
const (
	TemplateIDSamplingInterval uint16 = 65283
	TemplateIDSelector         uint16 = 65284

	// SelectorID names podflow's one selector in its observation domain.
	SelectorID uint64 = 1
	// SelectorAlgorithmUniformProbabilistic is IANA's "PSAMP Selector
	// Algorithm" 4.
	SelectorAlgorithmUniformProbabilistic uint16 = 4
)

var (
	samplingIntervalFields = []optionsField{{"observationDomainId", 4}, {"samplingInterval", 4}}
	selectorFields         = []optionsField{{"selectorId", 8}, {"selectorAlgorithm", 2}, {"samplingProbability", 8}}
)

// sampled reports whether the records are sampled, so the sampling options
// are due; 0 and 1 both mean every packet is counted.
func (c Config) sampled() bool { return c.SamplingInterval > 1 }

// samplingRecords encodes the one record of each sampling template.
func samplingRecords(domain, interval uint32) (samplingInterval, selector []byte) {
	samplingInterval = binary.BigEndian.AppendUint32(nil, domain)
	samplingInterval = binary.BigEndian.AppendUint32(samplingInterval, interval)
	selector = binary.BigEndian.AppendUint64(nil, SelectorID)
	selector = binary.BigEndian.AppendUint16(selector, SelectorAlgorithmUniformProbabilistic)
	selector = binary.BigEndian.AppendUint64(selector, math.Float64bits(1/float64(interval)))
	return samplingInterval, selector
}

// sendSamplingRecords sends the sampling records of this round, after their
// templates (sendOptionsRound).
func (e *Exporter) sendSamplingRecords() error {
	o := e.options
	if o.samplingInterval == nil {
		return nil
	}
	if err := e.sendOptionsRecords(o.samplingInterval, [][]byte{o.samplingIntervalRecord}); err != nil {
		return err
	}
	return e.sendOptionsRecords(o.selector, [][]byte{o.selectorRecord})
}
