package netflowtest

import (
	"encoding/binary"
	"iter"
	"time"
)

// FuzzRecordLen is how many fuzz input octets make one record.
const FuzzRecordLen = 64

// FuzzChunks yields the FuzzRecordLen-octet chunks of fuzz input that each
// make one record; a shorter tail makes none.
func FuzzChunks(data []byte) iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		for len(data) >= FuzzRecordLen && yield(data[:FuzzRecordLen]) {
			data = data[FuzzRecordLen:]
		}
	}
}

// FuzzTimes are the First and Last of the record a chunk makes (from its
// octets 42-50): milliseconds around Boot, up to 2³³ ms after it (so
// uptimes wrap), and sometimes before it.
func FuzzTimes(b []byte) (first, last time.Time) {
	first = Boot.Add(time.Duration(int64(binary.BigEndian.Uint32(b[42:]))-1<<20) * time.Millisecond)
	last = first.Add(time.Duration(binary.BigEndian.Uint32(b[46:])) * time.Millisecond * time.Duration(1+b[50]%2))
	return first, last
}
