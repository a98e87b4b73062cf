package legacycbc

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
)

// KeySize is the key size in bytes of AES-256-CBC, the default algorithm
// ([NewKey]). SM4-CBC keys are 16 bytes.
const KeySize = 32

// Algorithm is the default value of the request's "algorithm" member:
// AES-256-CBC. [AlgorithmSM4] is the other accepted value.
const Algorithm = "AES-256-CBC"

// StatusSuccess is the "status" member of a sealed response.
const StatusSuccess = "success"

// MediaType is the Content-Type of legacy request and response bodies.
const MediaType = "application/json"

// Key is a legacy key of one algorithm with its derived MAC key and its MAC
// policy. Its bytes are unexported and never printed.
type Key struct {
	b           [KeySize]byte // the first alg.keySize bytes are the key
	alg         *algorithm
	mac         [MACSize]byte
	macRequired bool
}

// NewKey returns an AES-256-CBC key from 32 bytes, which are copied. An
// all-zero key is refused. The key accepts requests with or without a "mac"
// member; see [Key.WithMACRequired].
func NewKey(b []byte) (Key, error) { return NewAlgorithmKey(Algorithm, b) }

// NewAlgorithmKey returns a key for alg ([Algorithm]: 32 bytes,
// [AlgorithmSM4]: 16 bytes). A key opens only requests of its algorithm.
func NewAlgorithmKey(alg string, b []byte) (Key, error) {
	var k Key
	a := lookup(alg)
	if a == nil {
		return k, fmt.Errorf("%w: unknown algorithm (want %s or %s)", ErrInvalidKey, Algorithm, AlgorithmSM4)
	}
	if len(b) != a.keySize {
		return k, fmt.Errorf("%w: %s needs %d bytes, got %d", ErrInvalidKey, a.name, a.keySize, len(b))
	}
	copy(k.b[:], b)
	var zero [KeySize]byte
	if subtle.ConstantTimeCompare(k.b[:], zero[:]) == 1 {
		return Key{}, fmt.Errorf("%w: all-zero key", ErrInvalidKey)
	}
	k.alg = a
	k.mac = deriveMACKey(k.bytes())
	return k, nil
}

// bytes returns the key bytes of the key's algorithm.
func (k *Key) bytes() []byte { return k.b[:k.alg.keySize] }

// Algorithm returns the key's algorithm name.
func (k Key) Algorithm() string {
	if k.alg == nil {
		return ""
	}
	return k.alg.name
}

// WithMACRequired returns a copy of k that accepts only requests that carry
// a valid "mac" member (encrypt-then-MAC, PROTOCOL.md section 3.2).
func (k Key) WithMACRequired() Key {
	k.macRequired = true
	return k
}

// MACRequired reports whether k accepts only requests with a valid MAC.
func (k Key) MACRequired() bool { return k.macRequired }

// Equal compares two keys' algorithm and bytes in constant time.
func (k Key) Equal(o Key) bool {
	return k.alg == o.alg && subtle.ConstantTimeCompare(k.b[:], o.b[:]) == 1
}

// Format never prints the key bytes.
func (k Key) Format(f fmt.State, _ rune) { io.WriteString(f, "legacycbc.Key(redacted)") }

// LogValue implements [slog.LogValuer] without revealing the key.
func (k Key) LogValue() slog.Value { return slog.StringValue("legacycbc.Key(redacted)") }

// valid reports whether k was made by NewKey or NewAlgorithmKey.
func (k Key) valid() bool { return k.alg != nil }

// requestJSON is the legacy request body.
type requestJSON struct {
	Data      string `json:"data"`
	Algorithm string `json:"algorithm"`
	MAC       string `json:"mac,omitempty"`
}

// responseJSON is the legacy response body.
type responseJSON struct {
	Status string `json:"status"`
	Result string `json:"result"`
	MAC    string `json:"mac,omitempty"`
}

// parsed is a request body that is well formed: known algorithm, base64
// data of an IV and a positive whole number of blocks, and, if present, a
// base64 MAC of MACSize bytes.
type parsed struct {
	alg    *algorithm
	iv, ct []byte
	mac    []byte // nil when the request has no "mac" member
}

// parse checks a body's form; it reads no key. On failure it returns the
// length of the zero bytes that stand in for the plaintext (see OpenAll).
func parse(body []byte) (*parsed, int) {
	var req requestJSON
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, blockSize
	}
	raw, err := base64.StdEncoding.DecodeString(req.Data)
	if err != nil {
		return nil, blockSize
	}
	standIn := max(blockSize, (len(raw)-blockSize)/blockSize*blockSize)
	alg := lookup(req.Algorithm)
	if alg == nil || len(raw) < 2*blockSize || len(raw)%blockSize != 0 {
		return nil, standIn
	}
	p := &parsed{alg: alg, iv: raw[:blockSize], ct: raw[blockSize:]}
	if req.MAC != "" {
		m, err := base64.StdEncoding.DecodeString(req.MAC)
		if err != nil || len(m) != MACSize {
			return nil, standIn
		}
		p.mac = m
	}
	return p, 0
}

// Open decrypts a legacy request body with one key and returns the image
// bytes. Every failure, including malformed JSON, an unknown algorithm, bad
// base64, a length that is not a positive multiple of 16 after the IV, a
// missing MAC where the key requires one, a wrong MAC, and bad padding,
// returns ErrOpen. Servers use [OpenAll], which also hides which check
// failed from the upstream.
func Open(key Key, body []byte) ([]byte, error) {
	o := OpenAll([]Key{key}, body)
	if !o.OK() {
		clear(o.plaintext)
		return nil, ErrOpen
	}
	return o.plaintext, nil
}

// Seal encrypts a response plaintext (the upstream JSON) under a fresh IV
// read from rand (nil means crypto/rand.Reader) and returns the legacy
// response body, without a MAC.
func Seal(rand io.Reader, key Key, plaintext []byte) ([]byte, error) {
	iv, ct, err := sealBlob(rand, key, plaintext)
	if err != nil {
		return nil, err
	}
	return json.Marshal(responseJSON{Status: StatusSuccess, Result: blob(iv, ct)})
}

// SealRequest builds a legacy request body without a MAC, as an existing
// client would. It exists for clients and tests.
func SealRequest(rand io.Reader, key Key, plaintext []byte) ([]byte, error) {
	return sealRequest(rand, key, plaintext, false)
}

// SealRequestMAC builds a legacy request body with the "mac" member
// (encrypt-then-MAC, PROTOCOL.md section 3.2). It exists for clients and
// tests.
func SealRequestMAC(rand io.Reader, key Key, plaintext []byte) ([]byte, error) {
	return sealRequest(rand, key, plaintext, true)
}

func sealRequest(rand io.Reader, key Key, plaintext []byte, withMAC bool) ([]byte, error) {
	iv, ct, err := sealBlob(rand, key, plaintext)
	if err != nil {
		return nil, err
	}
	req := requestJSON{Data: blob(iv, ct), Algorithm: key.alg.name}
	if withMAC {
		req.MAC = base64.StdEncoding.EncodeToString(requestMAC(key.mac[:], key.alg.name, iv, ct))
	}
	return json.Marshal(req)
}

// OpenResponse decrypts a legacy response body, as an existing client
// would; it does not check a "mac" member (see [OpenResponseTo]). A status
// other than "success" or any other failure is ErrOpen.
func OpenResponse(key Key, body []byte) ([]byte, error) {
	var resp responseJSON
	if err := json.Unmarshal(body, &resp); err != nil || resp.Status != StatusSuccess {
		return nil, ErrOpen
	}
	raw, err := base64.StdEncoding.DecodeString(resp.Result)
	if err != nil || len(raw) < 2*blockSize || !key.valid() {
		return nil, ErrOpen
	}
	block, err := key.alg.newBlock(key.bytes())
	if err != nil {
		return nil, ErrOpen
	}
	pt, err := decryptCBC(block, raw[:blockSize], raw[blockSize:])
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}

// OpenResponseTo decrypts the response to request, as a client that sent a
// "mac" member does: when request has one, the response must carry a valid
// response MAC (bound to the request's MAC), checked before decryption.
func OpenResponseTo(key Key, request, response []byte) ([]byte, error) {
	var req requestJSON
	var resp responseJSON
	if json.Unmarshal(request, &req) != nil || json.Unmarshal(response, &resp) != nil {
		return nil, ErrOpen
	}
	if req.MAC != "" {
		reqMAC, err1 := base64.StdEncoding.DecodeString(req.MAC)
		got, err2 := base64.StdEncoding.DecodeString(resp.MAC)
		raw, err3 := base64.StdEncoding.DecodeString(resp.Result)
		if err1 != nil || err2 != nil || err3 != nil || len(raw) < 2*blockSize {
			return nil, ErrOpen
		}
		want := responseMAC(key.mac[:], reqMAC, req.Algorithm, raw[:blockSize], raw[blockSize:])
		if !hmac.Equal(got, want) {
			return nil, ErrOpen
		}
	}
	return OpenResponse(key, response)
}

// blob returns base64(iv ‖ ct).
func blob(iv, ct []byte) string {
	return base64.StdEncoding.EncodeToString(append(append(make([]byte, 0, len(iv)+len(ct)), iv...), ct...))
}

// sealBlob encrypts plaintext under a fresh IV with the key's algorithm.
func sealBlob(r io.Reader, key Key, plaintext []byte) (iv, ct []byte, err error) {
	if !key.valid() {
		return nil, nil, ErrInvalidKey
	}
	if r == nil {
		r = rand.Reader
	}
	iv = make([]byte, blockSize)
	if _, err := io.ReadFull(r, iv); err != nil {
		return nil, nil, fmt.Errorf("legacycbc: reading randomness: %w", err)
	}
	block, err := key.alg.newBlock(key.bytes())
	if err != nil {
		return nil, nil, err
	}
	ct, err = encryptCBC(block, iv, plaintext)
	if err != nil {
		return nil, nil, err
	}
	return iv, ct, nil
}
