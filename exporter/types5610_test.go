package exporter

import (
	"math"
	"testing"
)

func TestEveryEnterpriseFieldHasAType(t *testing.T) {
	fields := EnterpriseFields(4242)
	if len(fields) == 0 {
		t.Fatal("no enterprise fields")
	}
	for _, f := range fields {
		if _, err := TypeOf(f); err != nil {
			t.Error(err)
		}
		if f.Own && f.PEN != 4242 {
			t.Errorf("%s: PEN %d, want the configured 4242", f.Name, f.PEN)
		}
	}
	for name, want := range map[string]ElementType{
		"tcpRttMinMicroseconds":         {DataType: 3, Semantics: SemanticsQuantity, Units: UnitsMicroseconds, RangeEnd: math.MaxUint32},
		"tcpRetransmittedPayloadOctets": {DataType: 4, Semantics: SemanticsDeltaCounter, Units: UnitsOctets, RangeEnd: math.MaxUint64},
		"SRC_PROC_NAME":                 {DataType: 13},
		"destinationClusterIPv6":        {DataType: 19},
		"flowType":                      {DataType: 1, Semantics: SemanticsIdentifier, RangeEnd: math.MaxUint8},
	} {
		var got ElementType
		var err error
		for _, f := range fields {
			if f.Name == name {
				got, err = TypeOf(f)
			}
		}
		if err != nil || got != want {
			t.Errorf("TypeOf(%s) = %+v, %v; want %+v", name, got, err, want)
		}
	}
	if _, err := TypeOf(Field{Name: "sourceIPv4Address", Type: "ipv4Address"}); err == nil {
		t.Error("TypeOf of a field without semantics succeeded")
	}
}
