package logging

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"sync"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// redactor holds what the encoder needs besides the wrapped encoder. It is
// shared by every clone and safe for concurrent use.
type redactor struct {
	macs sync.Pool // of hash.Hash: HMAC-SHA256 keyed with Options.HashKey
}

// newRedactor returns a redactor hashing identifiers under key.
func newRedactor(key []byte) *redactor {
	r := &redactor{}
	r.macs.New = func() any { return hmac.New(sha256.New, key) }
	return r
}

// hashed is an identifier to be logged as a keyed hash. Its fields are
// unexported and it has no MarshalJSON, so an encoder that does not know it
// writes {} rather than the identifier.
type hashed struct {
	prefix string
	id     string
}

// String hides the identifier from fmt.
func (hashed) String() string { return "[hashed]" }

// GoString hides the identifier from fmt's %#v.
func (hashed) GoString() string { return "[hashed]" }

// hash returns prefix ":" and the first 8 bytes, in hex, of
// HMAC-SHA256(key, prefix NUL id).
func (r *redactor) hash(h hashed) string {
	mac := r.macs.Get().(hash.Hash)
	mac.Reset()
	var buf [64]byte
	in := append(append(append(buf[:0], h.prefix...), 0), h.id...)
	mac.Write(in)
	var sum [sha256.Size]byte
	mac.Sum(sum[:0])
	r.macs.Put(mac)
	out := append(append(buf[:0], h.prefix...), ':')
	return string(hex.AppendEncode(out, sum[:8]))
}

// KeyID returns a field "key_id" that logs the key identifier id as
// "kid:" followed by 16 hex digits: the first 8 bytes of an HMAC-SHA256 of id
// under Options.HashKey. The same id gives the same value on every line of a
// logger (and across loggers sharing a HashKey) without revealing id.
func KeyID(id string) zap.Field {
	return zap.Field{Key: "key_id", Type: zapcore.ReflectType, Interface: hashed{prefix: "kid", id: id}}
}

// Subject returns a field "subject" that logs the subject s (a user, client or
// document identifier) as "sub:" followed by 16 hex digits, computed like
// KeyID but in a separate domain, so a key ID and a subject that are equal
// strings do not give equal hashes.
func Subject(s string) zap.Field {
	return zap.Field{Key: "subject", Type: zapcore.ReflectType, Interface: hashed{prefix: "sub", id: s}}
}
