package sm4

import (
	"crypto/cipher"
	"errors"
	"hash"

	gmsm3 "github.com/emmansun/gmsm/sm3"
	gmsm4 "github.com/emmansun/gmsm/sm4"
)

// Sizes in bytes.
const (
	// KeySize is the SM4 key size (128 bits).
	KeySize = 16
	// BlockSize is the SM4 block size (128 bits).
	BlockSize = 16
	// NonceSize is the GCM nonce size used with SM4 (RFC 8998).
	NonceSize = 12
	// TagSize is the GCM tag size used with SM4 (RFC 8998).
	TagSize = 16
	// SM3Size is the size of an SM3 digest.
	SM3Size = gmsm3.Size
)

// ErrKeySize reports a key that is not [KeySize] bytes long.
var ErrKeySize = errors.New("sm4: key must be 16 bytes")

// ErrBlocks reports a CBC input that is not a whole number of blocks, or an
// IV that is not one block.
var ErrBlocks = errors.New("sm4: CBC input must be whole 16-byte blocks with a 16-byte IV")

// NewCipher returns the SM4 block cipher for a 16-byte key.
func NewCipher(key []byte) (cipher.Block, error) {
	if len(key) != KeySize {
		return nil, ErrKeySize
	}
	return gmsm4.NewCipher(key)
}

// NewGCM returns SM4-GCM with a 12-byte nonce and a 16-byte tag for a
// 16-byte key, as specified by RFC 8998 (AEAD_SM4_GCM). It is
// [cipher.NewGCM] over [NewCipher]; where the platform allows, the block
// supplies an accelerated GCM through the standard library's hook.
func NewGCM(key []byte) (cipher.AEAD, error) {
	b, err := NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// NewSM3 returns a new SM3 hash (GB/T 32905-2016), usable with crypto/hkdf
// and crypto/hmac.
func NewSM3() hash.Hash { return gmsm3.New() }

// EncryptCBC returns SM4-CBC(key, iv, plaintext) without padding and without
// the IV. plaintext must be a whole number of blocks.
func EncryptCBC(key, iv, plaintext []byte) ([]byte, error) {
	b, err := NewCipher(key)
	if err != nil {
		return nil, err
	}
	if len(iv) != BlockSize || len(plaintext)%BlockSize != 0 {
		return nil, ErrBlocks
	}
	out := make([]byte, len(plaintext))
	cipher.NewCBCEncrypter(b, iv).CryptBlocks(out, plaintext)
	return out, nil
}

// DecryptCBC reverses [EncryptCBC]: it decrypts whole blocks and leaves any
// padding in place for the caller to check.
func DecryptCBC(key, iv, ciphertext []byte) ([]byte, error) {
	b, err := NewCipher(key)
	if err != nil {
		return nil, err
	}
	if len(iv) != BlockSize || len(ciphertext)%BlockSize != 0 {
		return nil, ErrBlocks
	}
	out := make([]byte, len(ciphertext))
	cipher.NewCBCDecrypter(b, iv).CryptBlocks(out, ciphertext)
	return out, nil
}
