package ohttp

import (
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hpke"
	cryptorand "crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
)

// requestHeaderSize is the size of key ID, KEM, KDF and AEAD.
const requestHeaderSize = 7

// tagSize is the tag size of every supported AEAD.
const tagSize = 16

// configKey identifies a configuration within a gateway.
type configKey struct {
	id  uint8
	kem KEM
}

// Gateway decapsulates requests with any of several key configurations.
// It is immutable and safe for concurrent use.
type Gateway struct {
	configs map[configKey]*KeyConfig
	order   []*KeyConfig
}

// NewGateway returns a gateway holding cfgs. During a rotation both the old
// and the new configuration are given; the pair (key ID, KEM) must be unique.
func NewGateway(cfgs ...*KeyConfig) (*Gateway, error) {
	if len(cfgs) == 0 {
		return nil, fmt.Errorf("%w: no key configurations", ErrInvalid)
	}
	g := &Gateway{configs: make(map[configKey]*KeyConfig, len(cfgs))}
	for _, c := range cfgs {
		if c == nil || c.priv == nil {
			return nil, fmt.Errorf("%w: nil key configuration", ErrInvalid)
		}
		k := configKey{c.pub.id, c.pub.kem}
		if _, dup := g.configs[k]; dup {
			return nil, fmt.Errorf("%w: key ID %d KEM 0x%04x", ErrDuplicateKey, k.id, uint16(k.kem))
		}
		g.configs[k] = c
		g.order = append(g.order, c)
	}
	return g, nil
}

// KeyList returns the application/ohttp-keys body advertising every
// configuration, in the order given to [NewGateway].
func (g *Gateway) KeyList() ([]byte, error) {
	pubs := make([]PublicKeyConfig, len(g.order))
	for i, c := range g.order {
		pubs[i] = c.pub
	}
	return MarshalKeyList(pubs...)
}

// DecapsulateRequest opens an encapsulated request (media type
// [RequestMediaType]) and returns the Binary HTTP request it carries and the
// context for encapsulating the response. Errors wrap [ErrMalformed],
// [ErrUnknownKey], [ErrUnsupported] or [ErrDecrypt].
func (g *Gateway) DecapsulateRequest(encRequest []byte) ([]byte, *ResponseContext, error) {
	if len(encRequest) < requestHeaderSize {
		return nil, nil, fmt.Errorf("%w: short request header", ErrMalformed)
	}
	hdr := encRequest[:requestHeaderSize]
	k := configKey{hdr[0], KEM(binary.BigEndian.Uint16(hdr[1:]))}
	suite := SymmetricSuite{KDF(binary.BigEndian.Uint16(hdr[3:])), AEAD(binary.BigEndian.Uint16(hdr[5:]))}
	cfg, ok := g.configs[k]
	if !ok {
		return nil, nil, fmt.Errorf("%w: key ID %d KEM 0x%04x", ErrUnknownKey, k.id, uint16(k.kem))
	}
	if !cfg.pub.Supports(suite) {
		return nil, nil, fmt.Errorf("%w: suite KDF 0x%04x AEAD 0x%04x not offered", ErrUnsupported, uint16(suite.KDF), uint16(suite.AEAD))
	}
	kdf, ap, err := suiteFor(suite)
	if err != nil {
		return nil, nil, err
	}
	kp, err := kemFor(k.kem)
	if err != nil {
		return nil, nil, err
	}
	rest := encRequest[requestHeaderSize:]
	if len(rest) < kp.nEnc+tagSize {
		return nil, nil, fmt.Errorf("%w: short encapsulated request", ErrMalformed)
	}
	enc, ct := rest[:kp.nEnc], rest[kp.nEnc:]
	r, err := hpke.NewRecipient(enc, cfg.priv, kdf, ap.hpke, requestInfo(hdr))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrDecrypt, err)
	}
	pt, err := r.Open(nil, ct)
	if err != nil {
		return nil, nil, ErrDecrypt
	}
	secret, err := r.Export(responseLabel, max(ap.nk, ap.nn))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrDecrypt, err)
	}
	return pt, &ResponseContext{aead: ap, hdr: append([]byte(nil), hdr...), enc: append([]byte(nil), enc...), secret: secret}, nil
}

// ResponseContext encapsulates the response to one decapsulated request. It
// holds the exported response secret, which it never prints.
type ResponseContext struct {
	aead   aeadParams
	hdr    []byte // key ID, KEM, KDF, AEAD
	enc    []byte
	secret []byte
}

// Format hides the response secret.
func (c *ResponseContext) Format(f fmt.State, _ rune) { io.WriteString(f, "ohttp.ResponseContext") }

// EncapsulateResponse seals a Binary HTTP response (RFC 9458 Section 4.4)
// and returns the body of media type [ResponseMediaType]. rand supplies the
// response nonce; nil means crypto/rand.Reader.
func (c *ResponseContext) EncapsulateResponse(rand io.Reader, bhttpResponse []byte) ([]byte, error) {
	if rand == nil {
		rand = cryptorand.Reader
	}
	nonce := make([]byte, max(c.aead.nk, c.aead.nn))
	if err := readRandom(rand, nonce); err != nil {
		return nil, err
	}
	a, aeadNonce, err := responseAEAD(c.aead, c.secret, c.enc, nonce)
	if err != nil {
		return nil, err
	}
	return a.Seal(nonce, aeadNonce, bhttpResponse, nil), nil
}

// responseAEAD derives the response AEAD and nonce (RFC 9458 Section 4.4):
// prk = Extract(enc ‖ response_nonce, secret), key = Expand(prk, "key", Nk),
// nonce = Expand(prk, "nonce", Nn).
func responseAEAD(ap aeadParams, secret, enc, responseNonce []byte) (cipher.AEAD, []byte, error) {
	salt := make([]byte, 0, len(enc)+len(responseNonce))
	salt = append(append(salt, enc...), responseNonce...)
	prk, err := hkdf.Extract(sha256.New, secret, salt)
	if err != nil {
		return nil, nil, err
	}
	key, err := hkdf.Expand(sha256.New, prk, "key", ap.nk)
	if err != nil {
		return nil, nil, err
	}
	nonce, err := hkdf.Expand(sha256.New, prk, "nonce", ap.nn)
	if err != nil {
		return nil, nil, err
	}
	a, err := ap.new(key)
	clear(key)
	clear(prk)
	if err != nil {
		return nil, nil, err
	}
	return a, nonce, nil
}
