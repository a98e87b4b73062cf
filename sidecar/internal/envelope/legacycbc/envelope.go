package legacycbc

import (
	"crypto/aes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
)

// KeySize is the key size in bytes (AES-256).
const KeySize = 32

// Algorithm is the only accepted value of the request's "algorithm" member.
const Algorithm = "AES-256-CBC"

// StatusSuccess is the "status" member of a sealed response.
const StatusSuccess = "success"

// MediaType is the Content-Type of legacy request and response bodies.
const MediaType = "application/json"

// Key is an AES-256 key. Its bytes are unexported and never printed.
type Key struct {
	b [KeySize]byte
}

// NewKey returns a key from 32 bytes, which are copied. An all-zero key is
// refused.
func NewKey(b []byte) (Key, error) {
	var k Key
	if len(b) != KeySize {
		return k, fmt.Errorf("%w: need %d bytes, got %d", ErrInvalidKey, KeySize, len(b))
	}
	copy(k.b[:], b)
	var zero [KeySize]byte
	if subtle.ConstantTimeCompare(k.b[:], zero[:]) == 1 {
		return Key{}, fmt.Errorf("%w: all-zero key", ErrInvalidKey)
	}
	return k, nil
}

// Equal compares two keys in constant time.
func (k Key) Equal(o Key) bool { return subtle.ConstantTimeCompare(k.b[:], o.b[:]) == 1 }

// Format never prints the key bytes.
func (k Key) Format(f fmt.State, _ rune) { io.WriteString(f, "legacycbc.Key(redacted)") }

// LogValue implements [slog.LogValuer] without revealing the key.
func (k Key) LogValue() slog.Value { return slog.StringValue("legacycbc.Key(redacted)") }

// valid reports whether k was made by NewKey.
func (k Key) valid() bool {
	var zero [KeySize]byte
	return subtle.ConstantTimeCompare(k.b[:], zero[:]) == 0
}

// requestJSON is the legacy request body.
type requestJSON struct {
	Data      string `json:"data"`
	Algorithm string `json:"algorithm"`
}

// responseJSON is the legacy response body.
type responseJSON struct {
	Status string `json:"status"`
	Result string `json:"result"`
}

// Open decrypts a legacy request body and returns the image bytes. Every
// failure, including malformed JSON, a wrong algorithm, bad base64, a
// length that is not a positive multiple of 16 after the IV, and bad
// padding, returns ErrOpen.
func Open(key Key, body []byte) ([]byte, error) {
	var req requestJSON
	if err := json.Unmarshal(body, &req); err != nil || req.Algorithm != Algorithm {
		return nil, ErrOpen
	}
	return openBlob(key, req.Data)
}

// Seal encrypts a response plaintext (the upstream JSON) under a fresh IV
// read from rand (nil means crypto/rand.Reader) and returns the legacy
// response body.
func Seal(rand io.Reader, key Key, plaintext []byte) ([]byte, error) {
	blob, err := sealBlob(rand, key, plaintext)
	if err != nil {
		return nil, err
	}
	return json.Marshal(responseJSON{Status: StatusSuccess, Result: blob})
}

// SealRequest builds a legacy request body, as an existing client would.
// It exists for clients and tests.
func SealRequest(rand io.Reader, key Key, plaintext []byte) ([]byte, error) {
	blob, err := sealBlob(rand, key, plaintext)
	if err != nil {
		return nil, err
	}
	return json.Marshal(requestJSON{Data: blob, Algorithm: Algorithm})
}

// OpenResponse decrypts a legacy response body, as an existing client
// would. A status other than "success" or any other failure is ErrOpen.
func OpenResponse(key Key, body []byte) ([]byte, error) {
	var resp responseJSON
	if err := json.Unmarshal(body, &resp); err != nil || resp.Status != StatusSuccess {
		return nil, ErrOpen
	}
	return openBlob(key, resp.Result)
}

// openBlob decodes base64(iv ‖ ciphertext) and decrypts it.
func openBlob(key Key, blob string) ([]byte, error) {
	if !key.valid() {
		return nil, ErrOpen
	}
	raw, err := base64.StdEncoding.DecodeString(blob)
	if err != nil || len(raw) < 2*aes.BlockSize {
		return nil, ErrOpen
	}
	pt, err := decryptCBC(key.b[:], raw[:aes.BlockSize], raw[aes.BlockSize:])
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}

// sealBlob returns base64(iv ‖ AES-256-CBC(PKCS#7(plaintext))).
func sealBlob(r io.Reader, key Key, plaintext []byte) (string, error) {
	if !key.valid() {
		return "", ErrInvalidKey
	}
	if r == nil {
		r = rand.Reader
	}
	iv := make([]byte, aes.BlockSize)
	if _, err := io.ReadFull(r, iv); err != nil {
		return "", fmt.Errorf("legacycbc: reading randomness: %w", err)
	}
	ct, err := encryptCBC(key.b[:], iv, plaintext)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(append(iv, ct...)), nil
}
