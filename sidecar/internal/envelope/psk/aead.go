package psk

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
)

// HKDF info strings; they separate the request and response keys.
const (
	infoRequest  = "sealocr psk v1 request"
	infoResponse = "sealocr psk v1 response"
)

// deriveKey returns HKDF-SHA256(secret, salt, info) truncated to 32 bytes.
func deriveKey(secret, salt []byte, info string) ([KeySize]byte, error) {
	var out [KeySize]byte
	k, err := hkdf.Key(sha256.New, secret, salt, info, KeySize)
	if err != nil {
		return out, err
	}
	copy(out[:], k)
	clear(k)
	return out, nil
}

// newGCM returns AES-GCM with a 12-byte nonce and 16-byte tag for key, which
// is 16, 24 or 32 bytes long. The envelope always uses 32 bytes.
func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// gcmSeal appends the AES-GCM encryption of plaintext and its tag to dst.
func gcmSeal(dst, key, nonce, plaintext, aad []byte) ([]byte, error) {
	a, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	return a.Seal(dst, nonce, plaintext, aad), nil
}

// gcmOpen authenticates and decrypts ciphertext (with its trailing tag).
// Any failure, including a wrong nonce size, is ErrDecrypt.
func gcmOpen(key, nonce, ciphertext, aad []byte) ([]byte, error) {
	a, err := newGCM(key)
	if err != nil || len(nonce) != a.NonceSize() || len(ciphertext) < a.Overhead() {
		return nil, ErrDecrypt
	}
	pt, err := a.Open(nil, nonce, ciphertext, aad)
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}
