package psk

import (
	"crypto/subtle"
	"fmt"
	"log/slog"
)

// KeySize is the size in bytes of an AES-256-GCM pre-shared key, the
// default, and the largest key of any suite. SM4 suites use 16-byte keys
// ([Suite.KeySize]).
const KeySize = 32

// MaxKeyIDLen is the longest key ID in bytes.
const MaxKeyIDLen = 64

// Key is a pre-shared key, its public ID and its [Suite]. The secret bytes
// are unexported and never printed: Key formats as its ID only.
type Key struct {
	id     string
	suite  Suite
	secret [KeySize]byte // the first suite.KeySize() bytes are used
}

// NewKey returns an AES-256-GCM key ([DefaultSuite]) with the given ID and
// 32-byte secret; see [NewSuiteKey].
func NewKey(id string, secret []byte) (Key, error) {
	return NewSuiteKey(id, DefaultSuite, secret)
}

// NewSuiteKey returns a key of the given suite with the given ID and
// secret, which must be [Suite.KeySize] bytes (32 for AES-256-GCM, 16 for
// the SM4 suites) and is copied. The ID is 1 to 64 visible ASCII characters
// (0x21 to 0x7e). An all-zero secret is refused.
func NewSuiteKey(id string, suite Suite, secret []byte) (Key, error) {
	if !validKeyID(id) {
		return Key{}, fmt.Errorf("%w: key ID must be 1-%d visible ASCII characters", ErrInvalid, MaxKeyIDLen)
	}
	if !suite.Valid() {
		return Key{}, fmt.Errorf("%w: unknown suite %s", ErrInvalid, suite)
	}
	if len(secret) != suite.KeySize() {
		return Key{}, fmt.Errorf("%w: a %s key must be %d bytes, got %d", ErrInvalid, suite, suite.KeySize(), len(secret))
	}
	k := Key{id: id, suite: suite}
	copy(k.secret[:], secret)
	var zero [KeySize]byte
	if subtle.ConstantTimeCompare(k.secret[:], zero[:]) == 1 {
		return Key{}, fmt.Errorf("%w: all-zero key", ErrInvalid)
	}
	return k, nil
}

// ID returns the key ID.
func (k Key) ID() string { return k.id }

// Suite returns the key's suite; envelopes sealed under the key use it.
func (k Key) Suite() Suite { return k.suite }

// secretBytes returns the key's secret, [Suite.KeySize] bytes.
func (k *Key) secretBytes() []byte { return k.secret[:k.suite.KeySize()] }

// Equal reports whether k and o have the same ID, suite and secret,
// comparing the secrets in constant time.
func (k Key) Equal(o Key) bool {
	return k.id == o.id && k.suite == o.suite && subtle.ConstantTimeCompare(k.secret[:], o.secret[:]) == 1
}

// Format prints the key ID only, whatever the verb, so that the secret
// cannot reach a log through fmt.
func (k Key) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "psk.Key(%s)", k.id)
}

// LogValue implements [slog.LogValuer] and reveals the key ID only.
func (k Key) LogValue() slog.Value {
	return slog.StringValue("psk.Key(" + k.id + ")")
}

// validKeyID reports whether id is 1..MaxKeyIDLen visible ASCII bytes.
func validKeyID(id string) bool {
	if len(id) == 0 || len(id) > MaxKeyIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return false
		}
	}
	return true
}

// Keyring finds a pre-shared key by ID. Implementations must be safe for
// concurrent use.
type Keyring interface {
	// Lookup returns the key with the given ID, if any.
	Lookup(id string) (Key, bool)
}

// KeySet is an immutable in-memory [Keyring].
type KeySet struct {
	keys map[string]Key
}

// NewKeySet returns a keyring holding keys. Duplicate IDs are an error.
func NewKeySet(keys ...Key) (*KeySet, error) {
	s := &KeySet{keys: make(map[string]Key, len(keys))}
	for _, k := range keys {
		if !validKeyID(k.id) || !k.suite.Valid() {
			return nil, fmt.Errorf("%w: zero Key", ErrInvalid)
		}
		if _, dup := s.keys[k.id]; dup {
			return nil, fmt.Errorf("%w: %q", ErrDuplicateKey, k.id)
		}
		s.keys[k.id] = k
	}
	return s, nil
}

// Lookup implements [Keyring].
func (s *KeySet) Lookup(id string) (Key, bool) {
	k, ok := s.keys[id]
	return k, ok
}

// Format prints the key IDs only.
func (s *KeySet) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "psk.KeySet(%d keys)", len(s.keys))
}
