package ohttp

import (
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/hpke"
	"crypto/sha256"
	"encoding/binary"
	"errors"
)

// This file is a test-only RFC 9180 base-mode sender for
// DHKEM(X25519, HKDF-SHA256) and HKDF-SHA256 with a caller-chosen ephemeral
// key. crypto/hpke draws the ephemeral key from crypto/rand with no hook, so
// reproducing RFC 9458 Appendix A byte for byte needs this. It is checked
// against the RFC 9180 vectors (TestReferenceSenderRFC9180) before it is
// trusted, and everything it produces is opened by crypto/hpke.

// refSender is a sending context with a fixed ephemeral key.
type refSender struct {
	aead      cipher.AEAD
	baseNonce []byte
	exporter  []byte
	suiteID   []byte
	seq       uint64
}

// labeledExtract is LabeledExtract of RFC 9180 Section 4.
func labeledExtract(suiteID, salt []byte, label string, ikm []byte) []byte {
	in := append(append(append([]byte("HPKE-v1"), suiteID...), label...), ikm...)
	prk, err := hkdf.Extract(sha256.New, in, salt)
	if err != nil {
		panic(err)
	}
	return prk
}

// labeledExpand is LabeledExpand of RFC 9180 Section 4.
func labeledExpand(suiteID, prk []byte, label string, info []byte, l int) []byte {
	in := binary.BigEndian.AppendUint16(nil, uint16(l))
	in = append(append(append(append(in, "HPKE-v1"...), suiteID...), label...), info...)
	out, err := hkdf.Expand(sha256.New, prk, string(in), l)
	if err != nil {
		panic(err)
	}
	return out
}

// fixedSender returns a senderFunc that uses skE as the ephemeral key.
func fixedSender(skE []byte) senderFunc {
	return func(pk hpke.PublicKey, kdf hpke.KDF, aead hpke.AEAD, info []byte) ([]byte, sealExporter, error) {
		if pk.KEM().ID() != uint16(KEMX25519HKDFSHA256) || kdf.ID() != uint16(KDFHKDFSHA256) {
			return nil, nil, errors.New("reference sender: unsupported suite")
		}
		ap, err := aeadFor(AEAD(aead.ID()))
		if err != nil {
			return nil, nil, err
		}
		eph, err := ecdh.X25519().NewPrivateKey(skE)
		if err != nil {
			return nil, nil, err
		}
		pkR, err := ecdh.X25519().NewPublicKey(pk.Bytes())
		if err != nil {
			return nil, nil, err
		}
		dh, err := eph.ECDH(pkR)
		if err != nil {
			return nil, nil, err
		}
		enc := eph.PublicKey().Bytes()
		kemID := []byte{'K', 'E', 'M', 0x00, 0x20}
		eaePRK := labeledExtract(kemID, nil, "eae_prk", dh)
		shared := labeledExpand(kemID, eaePRK, "shared_secret", append(append([]byte(nil), enc...), pk.Bytes()...), 32)

		suiteID := []byte{'H', 'P', 'K', 'E', 0x00, 0x20, 0x00, 0x01, byte(aead.ID() >> 8), byte(aead.ID())}
		pskIDHash := labeledExtract(suiteID, nil, "psk_id_hash", nil)
		infoHash := labeledExtract(suiteID, nil, "info_hash", info)
		ksContext := append(append([]byte{0x00}, pskIDHash...), infoHash...)
		secret := labeledExtract(suiteID, shared, "secret", nil)
		key := labeledExpand(suiteID, secret, "key", ksContext, ap.nk)
		a, err := ap.new(key)
		if err != nil {
			return nil, nil, err
		}
		return enc, &refSender{
			aead:      a,
			baseNonce: labeledExpand(suiteID, secret, "base_nonce", ksContext, ap.nn),
			exporter:  labeledExpand(suiteID, secret, "exp", ksContext, 32),
			suiteID:   suiteID,
		}, nil
	}
}

// Seal implements sealExporter.
func (s *refSender) Seal(aad, plaintext []byte) ([]byte, error) {
	nonce := append([]byte(nil), s.baseNonce...)
	var seq [8]byte
	binary.BigEndian.PutUint64(seq[:], s.seq)
	for i := range seq {
		nonce[len(nonce)-8+i] ^= seq[i]
	}
	s.seq++
	return s.aead.Seal(nil, nonce, plaintext, aad), nil
}

// Export implements sealExporter.
func (s *refSender) Export(ctx string, l int) ([]byte, error) {
	return labeledExpand(s.suiteID, s.exporter, "sec", []byte(ctx), l), nil
}
