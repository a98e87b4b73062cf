package ohttp

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hpke"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"
)

// Media types and labels fixed by RFC 9458.
const (
	// RequestMediaType is the Content-Type of an encapsulated request.
	RequestMediaType = "message/ohttp-req"
	// ResponseMediaType is the Content-Type of an encapsulated response.
	ResponseMediaType = "message/ohttp-res"
	// KeysMediaType is the Content-Type of a key configuration list.
	KeysMediaType = "application/ohttp-keys"
	// requestLabel and responseLabel are the HPKE info and export labels.
	requestLabel  = "message/bhttp request"
	responseLabel = "message/bhttp response"
)

// KEM is an HPKE KEM identifier.
type KEM uint16

// Supported KEMs.
const (
	// KEMX25519HKDFSHA256 is DHKEM(X25519, HKDF-SHA256).
	KEMX25519HKDFSHA256 KEM = 0x0020
	// KEMMLKEM768X25519 is the MLKEM768-X25519 (X-Wing) hybrid KEM.
	KEMMLKEM768X25519 KEM = 0x647a
)

// KDF is an HPKE KDF identifier.
type KDF uint16

// KDFHKDFSHA256 is HKDF-SHA256, the only supported KDF.
const KDFHKDFSHA256 KDF = 0x0001

// AEAD is an HPKE AEAD identifier.
type AEAD uint16

// Supported AEADs.
const (
	// AEADAES128GCM is AES-128-GCM.
	AEADAES128GCM AEAD = 0x0001
	// AEADAES256GCM is AES-256-GCM.
	AEADAES256GCM AEAD = 0x0002
	// AEADChaCha20Poly1305 is ChaCha20-Poly1305.
	AEADChaCha20Poly1305 AEAD = 0x0003
)

// SymmetricSuite is an HPKE KDF and AEAD pair of a key configuration.
type SymmetricSuite struct {
	// KDF is the HPKE KDF identifier.
	KDF KDF
	// AEAD is the HPKE AEAD identifier.
	AEAD AEAD
}

// DefaultSuites lists every supported suite, strongest AEAD first.
func DefaultSuites() []SymmetricSuite {
	return []SymmetricSuite{
		{KDFHKDFSHA256, AEADAES256GCM},
		{KDFHKDFSHA256, AEADChaCha20Poly1305},
		{KDFHKDFSHA256, AEADAES128GCM},
	}
}

// kemParams describes a supported KEM.
type kemParams struct {
	kem  hpke.KEM
	nPk  int // public key size
	nEnc int // encapsulated key size
}

// kemFor returns the parameters of a supported KEM.
func kemFor(id KEM) (kemParams, error) {
	switch id {
	case KEMX25519HKDFSHA256:
		return kemParams{hpke.DHKEM(ecdh.X25519()), 32, 32}, nil
	case KEMMLKEM768X25519:
		return kemParams{hpke.MLKEM768X25519(), 1216, 1120}, nil
	}
	return kemParams{}, fmt.Errorf("%w: KEM 0x%04x", ErrUnsupported, uint16(id))
}

// aeadParams describes a supported AEAD.
type aeadParams struct {
	hpke   hpke.AEAD
	nk, nn int
	new    func(key []byte) (cipher.AEAD, error)
}

// aeadFor returns the parameters of a supported AEAD.
func aeadFor(id AEAD) (aeadParams, error) {
	switch id {
	case AEADAES128GCM:
		return aeadParams{hpke.AES128GCM(), 16, 12, newGCM}, nil
	case AEADAES256GCM:
		return aeadParams{hpke.AES256GCM(), 32, 12, newGCM}, nil
	case AEADChaCha20Poly1305:
		return aeadParams{hpke.ChaCha20Poly1305(), 32, 12, chacha20poly1305.New}, nil
	}
	return aeadParams{}, fmt.Errorf("%w: AEAD 0x%04x", ErrUnsupported, uint16(id))
}

// suiteFor checks a suite and returns its AEAD parameters and HPKE KDF.
func suiteFor(s SymmetricSuite) (hpke.KDF, aeadParams, error) {
	if s.KDF != KDFHKDFSHA256 {
		return nil, aeadParams{}, fmt.Errorf("%w: KDF 0x%04x", ErrUnsupported, uint16(s.KDF))
	}
	a, err := aeadFor(s.AEAD)
	if err != nil {
		return nil, aeadParams{}, err
	}
	return hpke.HKDFSHA256(), a, nil
}

// newGCM returns AES-GCM for a 16- or 32-byte key.
func newGCM(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// header returns the 7-byte request header: key ID, KEM, KDF, AEAD.
func header(id uint8, kem KEM, s SymmetricSuite) []byte {
	return []byte{id, byte(kem >> 8), byte(kem), byte(s.KDF >> 8), byte(s.KDF), byte(s.AEAD >> 8), byte(s.AEAD)}
}

// requestInfo returns "message/bhttp request" ‖ 0x00 ‖ hdr.
func requestInfo(hdr []byte) []byte {
	info := make([]byte, 0, len(requestLabel)+1+len(hdr))
	info = append(info, requestLabel...)
	info = append(info, 0)
	return append(info, hdr...)
}
