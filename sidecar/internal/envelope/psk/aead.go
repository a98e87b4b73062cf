package psk

import (
	"crypto/cipher"
	"crypto/hkdf"
)

// HKDF info strings; they separate the request and response keys. Every
// suite uses the same strings: a key belongs to one suite, and the suite is
// part of the authenticated header.
const (
	infoRequest  = "sealocr psk v1 request"
	infoResponse = "sealocr psk v1 response"
)

// msgKey is a derived per-message key: the first n bytes of b.
type msgKey struct {
	b [KeySize]byte
	n int
}

func (k *msgKey) bytes() []byte { return k.b[:k.n] }

func (k *msgKey) clear() { clear(k.b[:]) }

// deriveKey returns HKDF(suite hash, secret, salt, info) of the suite's key
// size: HKDF-SHA256 for AES-256-GCM and SM4-GCM, HKDF-SM3 for SM4-GCM-SM3.
func deriveKey(s Suite, secret, salt []byte, info string) (msgKey, error) {
	var out msgKey
	p, ok := s.params()
	if !ok {
		return out, ErrInvalid
	}
	k, err := hkdf.Key(p.hash, secret, salt, info, p.keySize)
	if err != nil {
		return out, err
	}
	out.n = copy(out.b[:], k)
	clear(k)
	return out, nil
}

// newAEAD returns the suite's GCM (12-byte nonce, 16-byte tag) for key,
// whose size must be the suite's key size.
func newAEAD(s Suite, key []byte) (cipher.AEAD, error) {
	p, ok := s.params()
	if !ok || len(key) != p.keySize {
		return nil, ErrInvalid
	}
	block, err := p.newBlock(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// gcmSeal appends the suite's GCM encryption of plaintext and its tag to dst.
func gcmSeal(s Suite, dst, key, nonce, plaintext, aad []byte) ([]byte, error) {
	a, err := newAEAD(s, key)
	if err != nil {
		return nil, err
	}
	return a.Seal(dst, nonce, plaintext, aad), nil
}

// gcmOpen authenticates and decrypts ciphertext (with its trailing tag).
// Any failure, including a wrong key or nonce size, is ErrDecrypt.
func gcmOpen(s Suite, key, nonce, ciphertext, aad []byte) ([]byte, error) {
	return gcmOpenTo(nil, s, key, nonce, ciphertext, aad)
}

// gcmOpenTo is gcmOpen appending the plaintext to dst; dst may be
// ciphertext[:0] to decrypt in place.
func gcmOpenTo(dst []byte, s Suite, key, nonce, ciphertext, aad []byte) ([]byte, error) {
	a, err := newAEAD(s, key)
	if err != nil || len(nonce) != a.NonceSize() || len(ciphertext) < a.Overhead() {
		return nil, ErrDecrypt
	}
	pt, err := a.Open(dst, nonce, ciphertext, aad)
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}
