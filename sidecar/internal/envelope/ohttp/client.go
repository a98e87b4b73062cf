package ohttp

import (
	"crypto/hpke"
	"fmt"
	"io"
)

// sealExporter is the part of an HPKE sending context that encapsulation
// needs; *hpke.Sender implements it.
type sealExporter interface {
	Seal(aad, plaintext []byte) ([]byte, error)
	Export(exporterContext string, length int) ([]byte, error)
}

// senderFunc sets up an HPKE sending context. Production code uses
// hpkeSender; tests substitute a sender with a fixed ephemeral key to
// reproduce RFC 9458 Appendix A, since crypto/hpke always draws the
// ephemeral key from crypto/rand.
type senderFunc func(pk hpke.PublicKey, kdf hpke.KDF, aead hpke.AEAD, info []byte) ([]byte, sealExporter, error)

// hpkeSender is the senderFunc backed by crypto/hpke.
func hpkeSender(pk hpke.PublicKey, kdf hpke.KDF, aead hpke.AEAD, info []byte) ([]byte, sealExporter, error) {
	return hpke.NewSender(pk, kdf, aead, info)
}

// ClientContext opens the response to one encapsulated request. It holds
// the exported response secret, which it never prints.
type ClientContext struct {
	aead   aeadParams
	enc    []byte
	secret []byte
}

// Format hides the response secret.
func (c *ClientContext) Format(f fmt.State, _ rune) { io.WriteString(f, "ohttp.ClientContext") }

// EncapsulateRequest encapsulates a Binary HTTP request for the gateway
// that published cfg, using suite, which cfg must offer. It returns the body
// of media type [RequestMediaType]. The HPKE ephemeral key comes from
// crypto/rand; crypto/hpke accepts no other source.
func EncapsulateRequest(cfg PublicKeyConfig, suite SymmetricSuite, bhttpRequest []byte) ([]byte, *ClientContext, error) {
	return encapsulateRequest(cfg, suite, bhttpRequest, hpkeSender)
}

// encapsulateRequest implements EncapsulateRequest with a chosen sender
// (RFC 9458 Section 4.3).
func encapsulateRequest(cfg PublicKeyConfig, suite SymmetricSuite, bhttpRequest []byte, newSender senderFunc) ([]byte, *ClientContext, error) {
	if cfg.pub == nil {
		return nil, nil, fmt.Errorf("%w: empty key configuration", ErrInvalid)
	}
	if !cfg.Supports(suite) {
		return nil, nil, fmt.Errorf("%w: suite KDF 0x%04x AEAD 0x%04x not offered", ErrUnsupported, uint16(suite.KDF), uint16(suite.AEAD))
	}
	kdf, ap, err := suiteFor(suite)
	if err != nil {
		return nil, nil, err
	}
	hdr := header(cfg.id, cfg.kem, suite)
	enc, s, err := newSender(cfg.pub, kdf, ap.hpke, requestInfo(hdr))
	if err != nil {
		return nil, nil, err
	}
	ct, err := s.Seal(nil, bhttpRequest)
	if err != nil {
		return nil, nil, err
	}
	secret, err := s.Export(responseLabel, max(ap.nk, ap.nn))
	if err != nil {
		return nil, nil, err
	}
	out := make([]byte, 0, len(hdr)+len(enc)+len(ct))
	out = append(append(append(out, hdr...), enc...), ct...)
	return out, &ClientContext{aead: ap, enc: enc, secret: secret}, nil
}

// DecapsulateResponse opens an encapsulated response (media type
// [ResponseMediaType]) and returns the Binary HTTP response. Errors wrap
// [ErrMalformed] or [ErrDecrypt].
func (c *ClientContext) DecapsulateResponse(encResponse []byte) ([]byte, error) {
	n := max(c.aead.nk, c.aead.nn)
	if len(encResponse) < n+tagSize {
		return nil, fmt.Errorf("%w: short encapsulated response", ErrMalformed)
	}
	a, aeadNonce, err := responseAEAD(c.aead, c.secret, c.enc, encResponse[:n])
	if err != nil {
		return nil, err
	}
	pt, err := a.Open(nil, aeadNonce, encResponse[n:], nil)
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}
