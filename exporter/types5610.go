package exporter

import "fmt"

// ElementType is what RFC 5610 tells a collector about an information
// element it may not know: its abstract data type, semantics and units, as
// codes of IANA's IPFIX registries. Exporters send it for the enterprise
// elements of Fields, so a collector can decode them without a vendor file.
type ElementType struct {
	DataType  uint8  // "IPFIX Information Element Data Types", e.g. 3 unsigned32, 13 string
	Semantics uint8  // "IPFIX Information Element Semantics", e.g. 3 deltaCounter
	Units     uint16 // "IPFIX Information Element Units"; UnitsNone when the value has no unit
	// RangeBegin and RangeEnd bound an unsigned integer's values (those of
	// its type: podflow's elements use the whole of it); both 0 for other
	// types, which have no range.
	RangeBegin, RangeEnd uint64
}

// Codes of IANA's "IPFIX Information Element Semantics" registry (RFC 5610 §3.6).
const (
	SemanticsDefault      uint8 = 0
	SemanticsQuantity     uint8 = 1
	SemanticsTotalCounter uint8 = 2
	SemanticsDeltaCounter uint8 = 3
	SemanticsIdentifier   uint8 = 4
	SemanticsFlags        uint8 = 5
)

// Codes of IANA's "IPFIX Information Element Units" registry (RFC 5610 §3.7).
const (
	UnitsNone         uint16 = 0
	UnitsOctets       uint16 = 2
	UnitsPackets      uint16 = 3
	UnitsMicroseconds uint16 = 7
)

// dataTypeCodes maps the abstract data type names of RFC 7012 §3.1 to the
// codes of IANA's "IPFIX Information Element Data Types" registry.
var dataTypeCodes = map[string]uint8{
	"octetArray": 0, "unsigned8": 1, "unsigned16": 2, "unsigned32": 3, "unsigned64": 4,
	"signed8": 5, "signed16": 6, "signed32": 7, "signed64": 8, "float32": 9, "float64": 10,
	"boolean": 11, "macAddress": 12, "string": 13, "dateTimeSeconds": 14,
	"dateTimeMilliseconds": 15, "dateTimeMicroseconds": 16, "dateTimeNanoseconds": 17,
	"ipv4Address": 18, "ipv6Address": 19, "basicList": 20, "subTemplateList": 21,
	"subTemplateMultiList": 22,
}

// semantics gives the semantics and units of every enterprise element of
// Fields, by name. Strings and addresses have the default semantics, as in
// IANA's own registry; counts of this record's interval are delta counters.
var semantics = map[string]struct {
	semantics uint8
	units     uint16
}{
	"tcpRttMinMicroseconds":          {SemanticsQuantity, UnitsMicroseconds},
	"tcpRttMaxMicroseconds":          {SemanticsQuantity, UnitsMicroseconds},
	"tcpRttMeanMicroseconds":         {SemanticsQuantity, UnitsMicroseconds},
	"tcpRttSampleCount":              {SemanticsDeltaCounter, UnitsNone},
	"RETRANSMITTED_IN_PKTS":          {SemanticsDeltaCounter, UnitsPackets},
	"tcpRetransmittedPayloadOctets":  {SemanticsDeltaCounter, UnitsOctets},
	"tcpHandshakeServerMicroseconds": {SemanticsQuantity, UnitsMicroseconds},
	"tcpHandshakeClientMicroseconds": {SemanticsQuantity, UnitsMicroseconds},
	"tcpWireRetransmittedPackets":    {SemanticsDeltaCounter, UnitsPackets},
	"SRC_PROC_PID":                   {SemanticsIdentifier, UnitsNone},
	"SRC_PROC_NAME":                  {SemanticsDefault, UnitsNone},
	"sourceProcessExecutable":        {SemanticsDefault, UnitsNone},
	"sourceContainerId":              {SemanticsDefault, UnitsNone},
	"DST_PROC_PID":                   {SemanticsIdentifier, UnitsNone},
	"DST_PROC_NAME":                  {SemanticsDefault, UnitsNone},
	"destinationProcessExecutable":   {SemanticsDefault, UnitsNone},
	"destinationContainerId":         {SemanticsDefault, UnitsNone},
	"sourcePodNamespace":             {SemanticsDefault, UnitsNone},
	"sourcePodName":                  {SemanticsDefault, UnitsNone},
	"sourceNodeName":                 {SemanticsDefault, UnitsNone},
	"sourcePodLabels":                {SemanticsDefault, UnitsNone},
	"sourceWorkloadKind":             {SemanticsDefault, UnitsNone},
	"sourceWorkloadName":             {SemanticsDefault, UnitsNone},
	"destinationPodNamespace":        {SemanticsDefault, UnitsNone},
	"destinationPodName":             {SemanticsDefault, UnitsNone},
	"destinationNodeName":            {SemanticsDefault, UnitsNone},
	"destinationPodLabels":           {SemanticsDefault, UnitsNone},
	"destinationWorkloadKind":        {SemanticsDefault, UnitsNone},
	"destinationWorkloadName":        {SemanticsDefault, UnitsNone},
	"destinationClusterIPv4":         {SemanticsDefault, UnitsNone},
	"destinationClusterIPv6":         {SemanticsDefault, UnitsNone},
	"destinationServicePort":         {SemanticsIdentifier, UnitsNone},
	"destinationServicePortName":     {SemanticsDefault, UnitsNone},
	"flowType":                       {SemanticsIdentifier, UnitsNone},
	"kernelDropReason":               {SemanticsDefault, UnitsNone},
}

// TypeOf returns the RFC 5610 type of an enterprise field of Fields. It
// fails for a field whose type name is unknown or whose semantics are not
// in the table above: a new enterprise field must be described there too.
func TypeOf(f Field) (ElementType, error) {
	dt, ok := dataTypeCodes[f.Type]
	if !ok {
		return ElementType{}, fmt.Errorf("field %s: unknown data type %q", f.Name, f.Type)
	}
	s, ok := semantics[f.Name]
	if !ok {
		return ElementType{}, fmt.Errorf("field %s: no RFC 5610 semantics and units in exporter/types5610.go", f.Name)
	}
	t := ElementType{DataType: dt, Semantics: s.semantics, Units: s.units}
	if bits, ok := unsignedBits[f.Type]; ok {
		t.RangeEnd = 1<<bits - 1
	}
	return t, nil
}

var unsignedBits = map[string]uint{"unsigned8": 8, "unsigned16": 16, "unsigned32": 32, "unsigned64": 64}

// EnterpriseFields returns the enterprise-specific fields of Fields, once
// each, with Own fields under pen: those an exporter describes with RFC 5610
// type records.
func EnterpriseFields(pen uint32) []Field {
	var out []Field
	for _, f := range Fields {
		if !f.Own && f.PEN == 0 {
			continue
		}
		if f.Own {
			f.PEN = pen
		}
		out = append(out, f)
	}
	return out
}
