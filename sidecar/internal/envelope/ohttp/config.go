package ohttp

import (
	"bytes"
	"crypto/hpke"
	"crypto/subtle"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
)

// PEMType is the PEM block type of a private key configuration.
const PEMType = "OHTTP PRIVATE KEY CONFIG"

// pemVersion is the first byte of a PEM block's payload.
const pemVersion = 1

// PublicKeyConfig is a public key configuration (RFC 9458 Section 3.1): a
// key identifier, a KEM and its public key, and the symmetric suites the
// gateway accepts with it.
type PublicKeyConfig struct {
	id     uint8
	kem    KEM
	pub    hpke.PublicKey
	suites []SymmetricSuite
}

// KeyID returns the key identifier.
func (c PublicKeyConfig) KeyID() uint8 { return c.id }

// KEM returns the KEM identifier.
func (c PublicKeyConfig) KEM() KEM { return c.kem }

// PublicKey returns the serialized public key.
func (c PublicKeyConfig) PublicKey() []byte {
	if c.pub == nil {
		return nil
	}
	return c.pub.Bytes()
}

// Suites returns the symmetric suites in configuration order, including
// any this package does not support.
func (c PublicKeyConfig) Suites() []SymmetricSuite {
	return append([]SymmetricSuite(nil), c.suites...)
}

// Supports reports whether the configuration lists s and this package
// implements it.
func (c PublicKeyConfig) Supports(s SymmetricSuite) bool {
	if _, _, err := suiteFor(s); err != nil {
		return false
	}
	for _, t := range c.suites {
		if t == s {
			return true
		}
	}
	return false
}

// MarshalBinary encodes the configuration as in RFC 9458 Section 3.1.
func (c PublicKeyConfig) MarshalBinary() ([]byte, error) {
	if c.pub == nil || len(c.suites) == 0 || len(c.suites) > 65532/4 {
		return nil, fmt.Errorf("%w: incomplete key configuration", ErrInvalid)
	}
	pk := c.pub.Bytes()
	b := make([]byte, 0, 1+2+len(pk)+2+4*len(c.suites))
	b = append(b, c.id)
	b = binary.BigEndian.AppendUint16(b, uint16(c.kem))
	b = append(b, pk...)
	b = binary.BigEndian.AppendUint16(b, uint16(4*len(c.suites)))
	for _, s := range c.suites {
		b = binary.BigEndian.AppendUint16(b, uint16(s.KDF))
		b = binary.BigEndian.AppendUint16(b, uint16(s.AEAD))
	}
	return b, nil
}

// ParsePublicKeyConfig decodes one key configuration (RFC 9458 Section
// 3.1). The KEM must be supported so that the public key length is known;
// unsupported symmetric suites are kept (see [PublicKeyConfig.Supports]).
// No bytes may follow the configuration.
func ParsePublicKeyConfig(b []byte) (PublicKeyConfig, error) {
	c, rest, err := parsePublicKeyConfig(b)
	if err != nil {
		return PublicKeyConfig{}, err
	}
	if len(rest) != 0 {
		return PublicKeyConfig{}, fmt.Errorf("%w: trailing bytes after key configuration", ErrMalformed)
	}
	return c, nil
}

// parsePublicKeyConfig decodes a key configuration at the start of b.
func parsePublicKeyConfig(b []byte) (PublicKeyConfig, []byte, error) {
	var c PublicKeyConfig
	if len(b) < 3 {
		return c, nil, fmt.Errorf("%w: short key configuration", ErrMalformed)
	}
	c.id = b[0]
	c.kem = KEM(binary.BigEndian.Uint16(b[1:]))
	kp, err := kemFor(c.kem)
	if err != nil {
		return c, nil, err
	}
	b = b[3:]
	if len(b) < kp.nPk+2 {
		return c, nil, fmt.Errorf("%w: short public key", ErrMalformed)
	}
	if c.pub, err = kp.kem.NewPublicKey(b[:kp.nPk]); err != nil {
		return c, nil, fmt.Errorf("%w: bad public key", ErrMalformed)
	}
	b = b[kp.nPk:]
	n := int(binary.BigEndian.Uint16(b))
	b = b[2:]
	if n < 4 || n%4 != 0 || len(b) < n {
		return c, nil, fmt.Errorf("%w: bad symmetric algorithms length", ErrMalformed)
	}
	for i := 0; i < n; i += 4 {
		c.suites = append(c.suites, SymmetricSuite{
			KDF:  KDF(binary.BigEndian.Uint16(b[i:])),
			AEAD: AEAD(binary.BigEndian.Uint16(b[i+2:])),
		})
	}
	return c, b[n:], nil
}

// MarshalKeyList encodes configurations as an application/ohttp-keys body:
// each configuration prefixed by its length as a 2-byte integer.
func MarshalKeyList(cfgs ...PublicKeyConfig) ([]byte, error) {
	var out []byte
	for _, c := range cfgs {
		b, err := c.MarshalBinary()
		if err != nil {
			return nil, err
		}
		if len(b) > 0xffff {
			return nil, fmt.Errorf("%w: key configuration too long", ErrInvalid)
		}
		out = binary.BigEndian.AppendUint16(out, uint16(len(b)))
		out = append(out, b...)
	}
	return out, nil
}

// ParseKeyList decodes an application/ohttp-keys body. Configurations with
// an unsupported KEM are skipped, as RFC 9458 asks of clients; any framing
// error fails the whole list.
func ParseKeyList(b []byte) ([]PublicKeyConfig, error) {
	var out []PublicKeyConfig
	for len(b) > 0 {
		if len(b) < 2 {
			return nil, fmt.Errorf("%w: truncated key list", ErrMalformed)
		}
		n := int(binary.BigEndian.Uint16(b))
		b = b[2:]
		if len(b) < n {
			return nil, fmt.Errorf("%w: truncated key list entry", ErrMalformed)
		}
		c, err := ParsePublicKeyConfig(b[:n])
		b = b[n:]
		if errors.Is(err, ErrUnsupported) {
			continue // a KEM this package does not implement
		}
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// KeyConfig is a private key configuration held by a gateway. Its private
// key is unexported and never printed.
type KeyConfig struct {
	pub  PublicKeyConfig
	priv hpke.PrivateKey
}

// GenerateKeyConfig creates a key configuration with a fresh key pair from
// crypto/rand (crypto/hpke offers no way to supply another source). With no
// suites, [DefaultSuites] are used.
func GenerateKeyConfig(id uint8, kem KEM, suites ...SymmetricSuite) (*KeyConfig, error) {
	kp, err := kemFor(kem)
	if err != nil {
		return nil, err
	}
	priv, err := kp.kem.GenerateKey()
	if err != nil {
		return nil, err
	}
	return newKeyConfig(id, kem, priv, suites)
}

// NewKeyConfig builds a key configuration from a serialized private key (the
// output of SerializePrivateKey in RFC 9180; for X-Wing the 32-byte seed).
// With no suites, [DefaultSuites] are used.
func NewKeyConfig(id uint8, kem KEM, privateKey []byte, suites ...SymmetricSuite) (*KeyConfig, error) {
	kp, err := kemFor(kem)
	if err != nil {
		return nil, err
	}
	priv, err := kp.kem.NewPrivateKey(privateKey)
	if err != nil {
		return nil, fmt.Errorf("%w: bad private key", ErrInvalid)
	}
	return newKeyConfig(id, kem, priv, suites)
}

// newKeyConfig checks the suites and assembles a KeyConfig.
func newKeyConfig(id uint8, kem KEM, priv hpke.PrivateKey, suites []SymmetricSuite) (*KeyConfig, error) {
	if len(suites) == 0 {
		suites = DefaultSuites()
	}
	if len(suites) > 65532/4 {
		return nil, fmt.Errorf("%w: too many suites", ErrInvalid)
	}
	for _, s := range suites {
		if _, _, err := suiteFor(s); err != nil {
			return nil, err
		}
	}
	return &KeyConfig{
		pub:  PublicKeyConfig{id: id, kem: kem, pub: priv.PublicKey(), suites: append([]SymmetricSuite(nil), suites...)},
		priv: priv,
	}, nil
}

// PublicConfig returns the public part, to publish to clients.
func (k *KeyConfig) PublicConfig() PublicKeyConfig { return k.pub }

// Format prints the key identifier and KEM only.
func (k *KeyConfig) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "ohttp.KeyConfig(id=%d kem=0x%04x)", k.pub.id, uint16(k.pub.kem))
}

// MarshalPEM encodes the private key configuration as one PEM block of type
// [PEMType], for a key file readable only by the gateway.
func (k *KeyConfig) MarshalPEM() ([]byte, error) {
	cfg, err := k.pub.MarshalBinary()
	if err != nil {
		return nil, err
	}
	sk, err := k.priv.Bytes()
	if err != nil {
		return nil, err
	}
	defer clear(sk)
	b := make([]byte, 0, 1+2+len(cfg)+2+len(sk))
	b = append(b, pemVersion)
	b = binary.BigEndian.AppendUint16(b, uint16(len(cfg)))
	b = append(b, cfg...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(sk)))
	b = append(b, sk...)
	out := pem.EncodeToMemory(&pem.Block{Type: PEMType, Bytes: b})
	clear(b)
	return out, nil
}

// ParseKeyConfigsPEM decodes every [PEMType] block in data. Other block
// types, text outside blocks other than whitespace, and a private key that
// does not match its public configuration are errors.
func ParseKeyConfigsPEM(data []byte) ([]*KeyConfig, error) {
	var out []*KeyConfig
	rest := data
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != PEMType || len(blk.Headers) != 0 {
			return nil, fmt.Errorf("%w: unexpected PEM block %q", ErrMalformed, blk.Type)
		}
		k, err := parsePEMPayload(blk.Bytes)
		clear(blk.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("%w: data outside PEM blocks", ErrMalformed)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no %s block", ErrMalformed, PEMType)
	}
	return out, nil
}

// parsePEMPayload decodes version ‖ u16 len ‖ config ‖ u16 len ‖ private key.
func parsePEMPayload(b []byte) (*KeyConfig, error) {
	if len(b) < 3 || b[0] != pemVersion {
		return nil, fmt.Errorf("%w: bad key file version", ErrMalformed)
	}
	n := int(binary.BigEndian.Uint16(b[1:]))
	b = b[3:]
	if len(b) < n+2 {
		return nil, fmt.Errorf("%w: truncated key file", ErrMalformed)
	}
	pub, err := ParsePublicKeyConfig(b[:n])
	if err != nil {
		return nil, err
	}
	b = b[n:]
	m := int(binary.BigEndian.Uint16(b))
	b = b[2:]
	if len(b) != m {
		return nil, fmt.Errorf("%w: bad private key length", ErrMalformed)
	}
	k, err := NewKeyConfig(pub.id, pub.kem, b, pub.suites...)
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(k.pub.PublicKey(), pub.PublicKey()) != 1 {
		return nil, fmt.Errorf("%w: private key does not match public key", ErrInvalid)
	}
	return k, nil
}

// readRandom fills b from r.
func readRandom(r io.Reader, b []byte) error {
	if _, err := io.ReadFull(r, b); err != nil {
		return fmt.Errorf("ohttp: reading randomness: %w", err)
	}
	return nil
}
