package collector

import (
	"fmt"
	"sync"

	"github.com/vmware/go-ipfix/pkg/entities"
	"github.com/vmware/go-ipfix/pkg/registry"

	"github.com/podflow/podflow/exporter"
	"github.com/podflow/podflow/internal/ieregistry"
)

// ieKey identifies an information element: enterprise number (0 for IANA)
// and element id (without the enterprise bit).
type ieKey struct {
	pen uint32
	id  uint16
}

// IANA element ids the collector maps into flow.Record or treats specially.
const (
	ieOctetDeltaCount                  uint16 = 1
	iePacketDeltaCount                 uint16 = 2
	ieProtocolIdentifier               uint16 = 4
	ieTCPControlBits                   uint16 = 6
	ieSourceTransportPort              uint16 = 7
	ieSourceIPv4Address                uint16 = 8
	ieIngressInterface                 uint16 = 10
	ieDestinationTransportPort         uint16 = 11
	ieDestinationIPv4Address           uint16 = 12
	ieEgressInterface                  uint16 = 14
	ieSourceIPv6Address                uint16 = 27
	ieDestinationIPv6Address           uint16 = 28
	ieICMPTypeCodeIPv4                 uint16 = 32
	ieFlowDirection                    uint16 = 61
	ieFlowEndReason                    uint16 = 136
	ieICMPTypeCodeIPv6                 uint16 = 139
	ieFlowStartMilliseconds            uint16 = 152
	ieFlowEndMilliseconds              uint16 = 153
	ieICMPTypeIPv4                     uint16 = 176
	ieICMPCodeIPv4                     uint16 = 177
	ieICMPTypeIPv6                     uint16 = 178
	ieICMPCodeIPv6                     uint16 = 179
	iePaddingOctets                    uint16 = 210
	ieDroppedOctetDeltaCount           uint16 = 132
	ieDroppedPacketDeltaCount          uint16 = 133
	iePostNATSourceIPv4Address         uint16 = 225
	iePostNATDestinationIPv4Address    uint16 = 226
	iePostNAPTSourceTransportPort      uint16 = 227
	iePostNAPTDestinationTransportPort uint16 = 228
	iePostNATSourceIPv6Address         uint16 = 281
	iePostNATDestinationIPv6Address    uint16 = 282
)

var (
	registryOnce sync.Once
	knownIEs     map[ieKey]entities.InfoElement
)

// lookupIE returns the registry definition of an element, if go-ipfix knows it.
//
// go-ipfix keeps its registry in package globals that LoadRegistry replaces
// wholesale, so reading them while another package (re)loads them is a data
// race. We copy what we need once and never touch the globals again.
func lookupIE(k ieKey) (entities.InfoElement, bool) {
	registryOnce.Do(snapshotRegistry)
	if ie, ok := knownIEs[k]; ok {
		return ie, true
	}
	ownMu.RLock()
	defer ownMu.RUnlock()
	ie, ok := ownIEs[k]
	return ie, ok
}

var (
	ownMu  sync.RWMutex
	ownIEs = map[ieKey]entities.InfoElement{}
)

func init() { RegisterEnterpriseNumber(exporter.DefaultPEN) }

// RegisterEnterpriseNumber makes the collector decode podflow's own
// elements (and ntop's that podflow sends) under pen, by their names in
// exporter.Fields, and place them in Received.Measures. exporter.DefaultPEN
// is registered from the start; an exporter configured with another
// --enterprise-number needs its collector to register it too.
func RegisterEnterpriseNumber(pen uint32) {
	ownMu.Lock()
	defer ownMu.Unlock()
	for _, f := range exporter.Fields {
		if !f.Own && f.PEN == 0 {
			continue // IANA elements come from the registry
		}
		if f.Own {
			f.PEN = pen
		}
		ie := entities.NewInfoElement(f.Name, f.ID, entities.IENameToType(f.Type), f.PEN, f.Length)
		ownIEs[ieKey{pen: f.PEN, id: f.ID}] = *ie
	}
}

func snapshotRegistry() {
	ieregistry.Load()
	knownIEs = make(map[ieKey]entities.InfoElement, 1024)
	for _, pen := range []uint32{registry.IANAEnterpriseID, registry.IANAReversedEnterpriseID, registry.AntreaEnterpriseID} {
		for id := uint16(0); id < 0x8000; id++ {
			if ie, err := registry.GetInfoElementFromID(id, pen); err == nil && ie != nil {
				knownIEs[ieKey{pen: pen, id: id}] = *ie
			}
		}
	}
}

// unknownIEName names an element missing from the registry, in the form
// ipfixcol2 uses, so unknown and enterprise elements still get a stable key.
func unknownIEName(k ieKey) string {
	return fmt.Sprintf("en%d:id%d", k.pen, k.id)
}
