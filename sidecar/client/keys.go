package client

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"

	"github.com/sealocr/sealocr/sidecar/internal/envelope/ohttp"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/psk"
	"github.com/sealocr/sealocr/sidecar/internal/keys"
)

// PSKKey is a pre-shared key and its public ID. The secret is unexported
// and never printed: a PSKKey formats as its ID only.
type PSKKey struct {
	k psk.Key
}

// NewPSKKey returns an AES-256-GCM key with the given ID (1 to 64 visible
// ASCII characters) and 32-byte secret, which is copied. An all-zero secret
// is refused.
func NewPSKKey(id string, secret []byte) (*PSKKey, error) {
	return NewPSKKeyWithSuite(id, "", secret)
}

// NewPSKKeyWithSuite is [NewPSKKey] for a key of the named suite, as in a
// key file's `suite:` field: "aes-256-gcm" (the default when empty; 32-byte
// secret), "sm4-gcm" or "sm4-gcm-sm3" (16-byte secret). Requests sealed
// with the key use its suite; the sidecar must hold the key with the same
// suite.
func NewPSKKeyWithSuite(id, suite string, secret []byte) (*PSKKey, error) {
	s, err := psk.ParseSuite(suite)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidConfig, err)
	}
	k, err := psk.NewSuiteKey(id, s, secret)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidConfig, err)
	}
	return &PSKKey{k: k}, nil
}

// ID returns the key ID.
func (k *PSKKey) ID() string { return k.k.ID() }

// Suite returns the name of the key's suite ("aes-256-gcm", "sm4-gcm" or
// "sm4-gcm-sm3"), which every request sealed with it uses.
func (k *PSKKey) Suite() string { return k.k.Suite().String() }

// Format prints the key ID only, whatever the verb.
func (k *PSKKey) Format(f fmt.State, _ rune) { fmt.Fprintf(f, "client.PSKKey(%s)", k.k.ID()) }

// LogValue implements [slog.LogValuer] and reveals the key ID only.
func (k *PSKKey) LogValue() slog.Value { return slog.StringValue("client.PSKKey(" + k.k.ID() + ")") }

// Keys are the pre-shared keys of a sealocr key file (the YAML file that
// `sealctl keygen` writes). Oblivious HTTP private keys in the file are
// ignored: a client needs only the gateway's public configurations.
type Keys struct {
	psk []psk.Key
}

// LoadKeys reads a sealocr key file. Error messages never contain key
// material.
func LoadKeys(path string) (*Keys, error) {
	set, err := keys.LoadFile(path)
	if err != nil {
		return nil, fmt.Errorf("sealocr client: load keys: %w", err)
	}
	return &Keys{psk: append([]psk.Key(nil), set.PSKKeys...)}, nil
}

// PSKIDs returns the IDs of the pre-shared keys in file order.
func (k *Keys) PSKIDs() []string {
	ids := make([]string, len(k.psk))
	for i, key := range k.psk {
		ids[i] = key.ID()
	}
	return ids
}

// PSK returns the pre-shared key with the given ID, or the first one when
// id is empty. It returns an error matching [ErrNoUsableKey] when there is
// no such key.
func (k *Keys) PSK(id string) (*PSKKey, error) {
	for _, key := range k.psk {
		if id == "" || key.ID() == id {
			return &PSKKey{k: key}, nil
		}
	}
	if id == "" {
		return nil, fmt.Errorf("%w: the key file has no pre-shared keys", ErrNoUsableKey)
	}
	return nil, fmt.Errorf("%w: no pre-shared key with ID %q", ErrNoUsableKey, id)
}

// Format prints the number of keys only.
func (k *Keys) Format(f fmt.State, _ rune) { fmt.Fprintf(f, "client.Keys(%d psk)", len(k.psk)) }

// Names of the Oblivious HTTP algorithms, as used in [Config] and
// [KeyInfo].
const (
	// KEMX25519 is DHKEM(X25519, HKDF-SHA256), KEM 0x0020.
	KEMX25519 = "X25519"
	// KEMMLKEM768X25519 is the post-quantum hybrid MLKEM768-X25519
	// (X-Wing), KEM 0x647a.
	KEMMLKEM768X25519 = "MLKEM768-X25519"
	// KDFHKDFSHA256 is HKDF-SHA256, KDF 0x0001, the only supported KDF.
	KDFHKDFSHA256 = "HKDF-SHA256"
	// AEADAES128GCM is AES-128-GCM, AEAD 0x0001, the default.
	AEADAES128GCM = "AES-128-GCM"
	// AEADAES256GCM is AES-256-GCM, AEAD 0x0002.
	AEADAES256GCM = "AES-256-GCM"
	// AEADChaCha20Poly1305 is ChaCha20-Poly1305, AEAD 0x0003.
	AEADChaCha20Poly1305 = "ChaCha20-Poly1305"
)

// KeyInfo describes one Oblivious HTTP key configuration of a gateway.
type KeyInfo struct {
	// ID is the key identifier.
	ID uint8
	// KEM is the KEM name, such as [KEMX25519].
	KEM string
	// Suites lists the symmetric suites as "KDF/AEAD", such as
	// "HKDF-SHA256/AES-128-GCM", in configuration order.
	Suites []string
	// Fingerprint is the lowercase hex SHA-256 of the encoded key
	// configuration (RFC 9458 Section 3.1); see
	// [Config.PinnedKeyFingerprint].
	Fingerprint string
}

// kemName, kdfName and aeadName map identifiers to names.
func kemName(k ohttp.KEM) string {
	switch k {
	case ohttp.KEMX25519HKDFSHA256:
		return KEMX25519
	case ohttp.KEMMLKEM768X25519:
		return KEMMLKEM768X25519
	}
	return fmt.Sprintf("0x%04x", uint16(k))
}

func kdfName(k ohttp.KDF) string {
	if k == ohttp.KDFHKDFSHA256 {
		return KDFHKDFSHA256
	}
	return fmt.Sprintf("0x%04x", uint16(k))
}

func aeadName(a ohttp.AEAD) string {
	switch a {
	case ohttp.AEADAES128GCM:
		return AEADAES128GCM
	case ohttp.AEADAES256GCM:
		return AEADAES256GCM
	case ohttp.AEADChaCha20Poly1305:
		return AEADChaCha20Poly1305
	}
	return fmt.Sprintf("0x%04x", uint16(a))
}

// parseKEM and parseAEAD accept the names case-insensitively.
func parseKEM(s string) (ohttp.KEM, bool) {
	switch {
	case strings.EqualFold(s, KEMX25519):
		return ohttp.KEMX25519HKDFSHA256, true
	case strings.EqualFold(s, KEMMLKEM768X25519), strings.EqualFold(s, "X-Wing"):
		return ohttp.KEMMLKEM768X25519, true
	}
	return 0, false
}

func parseAEAD(s string) (ohttp.AEAD, bool) {
	for _, a := range []ohttp.AEAD{ohttp.AEADAES128GCM, ohttp.AEADAES256GCM, ohttp.AEADChaCha20Poly1305} {
		if strings.EqualFold(s, aeadName(a)) {
			return a, true
		}
	}
	return 0, false
}

// keyInfo describes cfg.
func keyInfo(cfg ohttp.PublicKeyConfig) (KeyInfo, error) {
	fp, err := fingerprint(cfg)
	if err != nil {
		return KeyInfo{}, err
	}
	ki := KeyInfo{ID: cfg.KeyID(), KEM: kemName(cfg.KEM()), Fingerprint: fp}
	for _, s := range cfg.Suites() {
		ki.Suites = append(ki.Suites, kdfName(s.KDF)+"/"+aeadName(s.AEAD))
	}
	return ki, nil
}

// fingerprint is the hex SHA-256 of the encoded configuration.
func fingerprint(cfg ohttp.PublicKeyConfig) (string, error) {
	b, err := cfg.MarshalBinary()
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// normalizeFingerprint accepts hex with optional "sha256:" prefix, colons
// and upper case, and returns lowercase hex, or false if it is not 32 bytes
// of hex.
func normalizeFingerprint(s string) (string, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	s = strings.TrimPrefix(s, "sha256:")
	s = strings.ReplaceAll(s, ":", "")
	if b, err := hex.DecodeString(s); err != nil || len(b) != sha256.Size {
		return "", false
	}
	return s, true
}
