package psk

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"fmt"
	"hash"
	"strings"

	"github.com/sealocr/sealocr/sidecar/internal/envelope/sm4"
)

// Suite names the algorithms of a pre-shared key and of every envelope
// sealed under it: the AEAD, the HKDF hash and the hash of the response
// binding. A key has exactly one suite; the suite is written into each
// envelope header (implicitly for [SuiteAES256GCM]) and authenticated with
// it. The zero Suite is not valid.
type Suite uint8

// The suites. Their numbers are the suite byte of the version 2 framing
// (sidecar/PROTOCOL.md, section 1.2).
const (
	// SuiteAES256GCM is AES-256-GCM with HKDF-SHA256 and a 32-byte key:
	// the default, framed as version 1 (no suite byte), byte-identical to
	// envelopes sealed before suites existed.
	SuiteAES256GCM Suite = 0x01
	// SuiteSM4GCM is SM4-GCM (RFC 8998: 128-bit key, 12-byte nonce, 16-byte
	// tag) with HKDF-SHA256 and a 16-byte key.
	SuiteSM4GCM Suite = 0x02
	// SuiteSM4GCMSM3 is SM4-GCM with HKDF-SM3 and an SM3 response binding,
	// for deployments that need every primitive from the Chinese national
	// standards (an all-GM profile). 16-byte key.
	SuiteSM4GCMSM3 Suite = 0x03
)

// DefaultSuite is the suite of a key that names none.
const DefaultSuite = SuiteAES256GCM

// suiteParams are the algorithms behind a Suite.
type suiteParams struct {
	name     string
	keySize  int
	hash     func() hash.Hash
	newBlock func(key []byte) (cipher.Block, error)
}

var suites = map[Suite]suiteParams{
	SuiteAES256GCM: {"aes-256-gcm", 32, sha256.New, aes.NewCipher},
	SuiteSM4GCM:    {"sm4-gcm", sm4.KeySize, sha256.New, sm4.NewCipher},
	SuiteSM4GCMSM3: {"sm4-gcm-sm3", sm4.KeySize, sm4.NewSM3, sm4.NewCipher},
}

// Suites returns every supported suite, default first.
func Suites() []Suite { return []Suite{SuiteAES256GCM, SuiteSM4GCM, SuiteSM4GCMSM3} }

// params returns the suite's algorithms, or false for an unknown suite.
func (s Suite) params() (suiteParams, bool) {
	p, ok := suites[s]
	return p, ok
}

// Valid reports whether s is a supported suite.
func (s Suite) Valid() bool {
	_, ok := suites[s]
	return ok
}

// String returns the suite's name as used in key files ("aes-256-gcm",
// "sm4-gcm", "sm4-gcm-sm3").
func (s Suite) String() string {
	if p, ok := suites[s]; ok {
		return p.name
	}
	return fmt.Sprintf("suite(0x%02x)", uint8(s))
}

// KeySize returns the size in bytes of the suite's pre-shared keys (and of
// its derived message keys): 32 for AES-256-GCM, 16 for the SM4 suites, 0
// for an unknown suite.
func (s Suite) KeySize() int { return suites[s].keySize }

// ParseSuite returns the suite with the given name, case-insensitively. The
// empty name is [DefaultSuite].
func ParseSuite(name string) (Suite, error) {
	if name == "" {
		return DefaultSuite, nil
	}
	for _, s := range Suites() {
		if strings.EqualFold(name, s.String()) {
			return s, nil
		}
	}
	return 0, fmt.Errorf("%w: unknown suite %q (known: aes-256-gcm, sm4-gcm, sm4-gcm-sm3)", ErrInvalid, name)
}
