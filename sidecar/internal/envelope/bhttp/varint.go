package bhttp

import "encoding/binary"

// maxVarint is the largest value a QUIC variable-length integer
// (RFC 9000 Section 16) can carry.
const maxVarint = 1<<62 - 1

// appendVarint appends v in the shortest QUIC variable-length encoding.
// The caller guarantees v <= maxVarint.
func appendVarint(b []byte, v uint64) []byte {
	switch {
	case v < 1<<6:
		return append(b, byte(v))
	case v < 1<<14:
		return binary.BigEndian.AppendUint16(b, uint16(v)|0x4000)
	case v < 1<<30:
		return binary.BigEndian.AppendUint32(b, uint32(v)|0x80000000)
	default:
		return binary.BigEndian.AppendUint64(b, v|0xc000000000000000)
	}
}

// varintLen returns the encoded size of v.
func varintLen(v uint64) int {
	switch {
	case v < 1<<6:
		return 1
	case v < 1<<14:
		return 2
	case v < 1<<30:
		return 4
	default:
		return 8
	}
}

// reader is a bounds-checked cursor over an input message.
type reader struct {
	b []byte
}

// empty reports whether all input has been consumed.
func (r *reader) empty() bool { return len(r.b) == 0 }

// varint reads one variable-length integer. Non-minimal encodings are
// accepted, as RFC 9292 allows.
func (r *reader) varint() (uint64, bool) {
	if len(r.b) == 0 {
		return 0, false
	}
	n := 1 << (r.b[0] >> 6)
	if len(r.b) < n {
		return 0, false
	}
	v := uint64(r.b[0] & 0x3f)
	for _, c := range r.b[1:n] {
		v = v<<8 | uint64(c)
	}
	r.b = r.b[n:]
	return v, true
}

// bytes reads n bytes without copying. n comes from the input, so it is
// compared with the remaining length as a uint64 before any conversion.
func (r *reader) bytes(n uint64) ([]byte, bool) {
	if n > uint64(len(r.b)) {
		return nil, false
	}
	out := r.b[:n:n]
	r.b = r.b[n:]
	return out, true
}

// lengthPrefixed reads a varint length followed by that many bytes.
func (r *reader) lengthPrefixed() ([]byte, bool) {
	n, ok := r.varint()
	if !ok {
		return nil, false
	}
	return r.bytes(n)
}
