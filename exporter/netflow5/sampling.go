package netflow5

// The header's sampling_interval (octets 22-23): the sampling mode in the
// top two bits, the interval N in the low 14. Mode 2 is random sampling
// (Wireshark's reading, and the numbering of v9's SAMPLING_ALGORITHM: 1
// deterministic, 2 random); podflow counts each packet with probability
// 1/N. nfdump's nfcapd multiplies packets and octets by N itself (whatever
// the mode), pmacct's nfacctd reports sampling_rate N, tshark names both
// parts (cflow.samplingmode, cflow.samplerate).
const (
	samplingModeRandom  = 2
	maxSamplingInterval = 1<<14 - 1 // 16383
)

// samplingField is the header's sampling_interval for 1-in-n sampling: 0
// when unsampled (n 0 or 1); an n above 16383 does not fit and is sent as
// 16383 (clamped true), which collectors take for a smaller interval.
func samplingField(n uint32) (field uint16, clamped bool) {
	if n <= 1 {
		return 0, false
	}
	if n > maxSamplingInterval {
		n, clamped = maxSamplingInterval, true
	}
	return samplingModeRandom<<14 | uint16(n), clamped
}
