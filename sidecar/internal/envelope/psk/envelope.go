package psk

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"slices"
	"time"
)

// Media types of the envelope bodies.
const (
	// RequestMediaType is the Content-Type of a sealed request body.
	RequestMediaType = "application/sealocr-psk"
	// ResponseMediaType is the Content-Type of a sealed response body.
	ResponseMediaType = "application/sealocr-psk-response"
)

// Sizes of the envelope fields in bytes.
const (
	// SaltSize is the size of the per-request HKDF salt.
	SaltSize = 16
	// NonceSize is the size of a GCM nonce (every suite).
	NonceSize = 12
	// TagSize is the size of a GCM tag (every suite).
	TagSize = 16
	// MaxContentTypeLen is the longest inner content type in bytes.
	MaxContentTypeLen = 255
	// MaxMethodLen is the longest HTTP method bound into the associated data.
	MaxMethodLen = 255
	// MaxTargetLen is the longest request target bound into the associated data.
	MaxTargetLen = 65535
)

// DefaultWindow is the accepted distance between a request's timestamp and
// the server's clock when [OpenRequest] is given a zero window.
const DefaultWindow = 5 * time.Minute

// DefaultMaxFuture is how far ahead of the server's clock a request's
// timestamp may be when [OpenOptions.MaxFuture] is zero. A clock a little
// fast is tolerated; a timestamp far in the future would otherwise extend
// the time a captured request stays replayable against a store that forgot
// it (a restart, a replica without shared state).
const DefaultMaxFuture = 30 * time.Second

// Framing constants. Version 1 is AES-256-GCM with no suite byte; version 2
// carries a suite byte after the version and is used for every other suite.
const (
	version1         = 0x01
	version2         = 0x02
	requestMagic0    = 'S'
	requestMagic1    = 'P'
	responseMagic0   = 'S'
	responseMagic1   = 'R'
	responseHdrSize  = 3 + NonceSize // version 1; version 2 adds the suite byte
	minRequestSize   = 3 + 1 + 1 + 8 + SaltSize + NonceSize + 1 + TagSize
	minResponseSize  = responseHdrSize + TagSize
	responseInnerMin = 2 + 1
)

// prefix returns the framing bytes after the magic: the version and, for
// version 2, the suite byte.
func (s Suite) prefix() []byte {
	if s == SuiteAES256GCM {
		return []byte{version1}
	}
	return []byte{version2, byte(s)}
}

// parsePrefix reads the version (and suite byte) at b[0:] and returns the
// suite and the prefix length. Version 2 must name a suite other than
// AES-256-GCM, so every suite has exactly one encoding.
func parsePrefix(b []byte) (Suite, int, bool) {
	switch {
	case len(b) >= 1 && b[0] == version1:
		return SuiteAES256GCM, 1, true
	case len(b) >= 2 && b[0] == version2:
		s := Suite(b[1])
		if !s.Valid() || s == SuiteAES256GCM {
			return 0, 0, false
		}
		return s, 2, true
	}
	return 0, 0, false
}

// requestHeader is the parsed cleartext part of a request body.
type requestHeader struct {
	raw         []byte // every byte before the ciphertext
	suite       Suite
	keyID       string
	timestamp   uint64
	salt        []byte
	nonce       []byte
	contentType string
}

// appendRequestHeader appends the cleartext request header.
func appendRequestHeader(b []byte, suite Suite, keyID string, ts uint64, salt, nonce []byte, contentType string) []byte {
	b = append(b, requestMagic0, requestMagic1)
	b = append(b, suite.prefix()...)
	b = append(b, byte(len(keyID)))
	b = append(b, keyID...)
	b = binary.BigEndian.AppendUint64(b, ts)
	b = append(b, salt...)
	b = append(b, nonce...)
	b = append(b, byte(len(contentType)))
	return append(b, contentType...)
}

// parseRequestHeader splits body into header and ciphertext.
func parseRequestHeader(body []byte) (requestHeader, []byte, error) {
	var h requestHeader
	if len(body) < minRequestSize || body[0] != requestMagic0 || body[1] != requestMagic1 {
		return h, nil, ErrMalformed
	}
	suite, pl, ok := parsePrefix(body[2:])
	if !ok || len(body) < minRequestSize+pl-1 {
		return h, nil, ErrMalformed
	}
	h.suite = suite
	off := 2 + pl
	kl := int(body[off])
	off++
	if len(body)-off < kl+8+SaltSize+NonceSize+1 {
		return h, nil, ErrMalformed
	}
	h.keyID = string(body[off : off+kl])
	if !validKeyID(h.keyID) {
		return h, nil, ErrMalformed
	}
	off += kl
	h.timestamp = binary.BigEndian.Uint64(body[off:])
	off += 8
	h.salt = body[off : off+SaltSize : off+SaltSize]
	off += SaltSize
	h.nonce = body[off : off+NonceSize : off+NonceSize]
	off += NonceSize
	cl := int(body[off])
	off++
	if len(body)-off < cl+TagSize {
		return h, nil, ErrMalformed
	}
	h.contentType = string(body[off : off+cl])
	if !validContentType(h.contentType) {
		return h, nil, ErrMalformed
	}
	off += cl
	h.raw = body[:off:off]
	return h, body[off:], nil
}

// validContentType reports whether ct is at most MaxContentTypeLen printable
// ASCII bytes (0x20 to 0x7e). The empty string is allowed.
func validContentType(ct string) bool {
	if len(ct) > MaxContentTypeLen {
		return false
	}
	for i := 0; i < len(ct); i++ {
		if ct[i] < 0x20 || ct[i] > 0x7e {
			return false
		}
	}
	return true
}

// requestAAD returns header ‖ u8 len(method) ‖ method ‖ u16 len(target) ‖ target.
func requestAAD(header []byte, method, target string) ([]byte, error) {
	if len(method) == 0 || len(method) > MaxMethodLen || len(target) > MaxTargetLen {
		return nil, ErrMalformed
	}
	aad := make([]byte, 0, len(header)+1+len(method)+2+len(target))
	aad = append(aad, header...)
	aad = append(aad, byte(len(method)))
	aad = append(aad, method...)
	aad = binary.BigEndian.AppendUint16(aad, uint16(len(target)))
	return append(aad, target...), nil
}

// bindingSize is the size of the response binding: SHA-256 and SM3 both
// give 32 bytes.
const bindingSize = sha256.Size

// binding returns Hash(request AAD ‖ request tag), with the suite's hash
// (SHA-256, or SM3 for SM4-GCM-SM3), which the response's associated data
// carries so that it belongs to exactly one request.
func binding(s Suite, aad, ciphertext []byte) [bindingSize]byte {
	h := suites[s].hash()
	h.Write(aad)
	h.Write(ciphertext[len(ciphertext)-TagSize:])
	var out [bindingSize]byte
	h.Sum(out[:0])
	return out
}

// responseKey derives the response key from the pre-shared key and the
// request's salt and nonce.
func responseKey(s Suite, secret, salt, nonce []byte) (msgKey, error) {
	sn := make([]byte, 0, SaltSize+NonceSize)
	sn = append(append(sn, salt...), nonce...)
	return deriveKey(s, secret, sn, infoResponse)
}

// ResponseOpener opens the response to one sealed request. It holds the
// derived response key, which it never prints.
type ResponseOpener struct {
	suite   Suite
	key     msgKey
	binding [bindingSize]byte
}

// Format hides the response key.
func (o *ResponseOpener) Format(f fmt.State, _ rune) { io.WriteString(f, "psk.ResponseOpener") }

// SealRequest seals plaintext for the sidecar under key, with the key's
// suite. method and target
// are the method and request target (origin-form path and query, exactly as
// sent on the wire) of the outer HTTP request; contentType is the media type
// of plaintext; now is the client's clock. rand supplies the salt and nonce;
// nil means crypto/rand.Reader. The returned body has media type
// [RequestMediaType]; the ResponseOpener opens the matching response.
func SealRequest(rand io.Reader, key Key, method, target, contentType string, now time.Time, plaintext []byte) ([]byte, *ResponseOpener, error) {
	return AppendSealRequest(nil, rand, key, method, target, contentType, now, plaintext)
}

// AppendSealRequest is [SealRequest] appending the body to dst and returning
// the extended slice (nil on error), so that a client can reuse one buffer
// for its requests: pass buf[:0] once the previous request is sent.
// plaintext must not overlap dst's spare capacity.
func AppendSealRequest(dst []byte, rand io.Reader, key Key, method, target, contentType string, now time.Time, plaintext []byte) ([]byte, *ResponseOpener, error) {
	if !validKeyID(key.id) || !key.suite.Valid() {
		return nil, nil, fmt.Errorf("%w: zero Key", ErrInvalid)
	}
	if !validContentType(contentType) {
		return nil, nil, fmt.Errorf("%w: content type", ErrInvalid)
	}
	if now.Unix() < 0 {
		return nil, nil, fmt.Errorf("%w: time before 1970", ErrInvalid)
	}
	var sn [SaltSize + NonceSize]byte
	if err := readRandom(rand, sn[:]); err != nil {
		return nil, nil, err
	}
	salt, nonce := sn[:SaltSize], sn[SaltSize:]
	out := slices.Grow(dst, 5+len(key.id)+8+len(sn)+1+len(contentType)+len(plaintext)+TagSize)
	start := len(out)
	out = appendRequestHeader(out, key.suite, key.id, uint64(now.Unix()), salt, nonce, contentType)
	aad, err := requestAAD(out[start:], method, target)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: method or target length", ErrInvalid)
	}
	k, err := deriveKey(key.suite, key.secretBytes(), salt, infoRequest)
	if err != nil {
		return nil, nil, err
	}
	defer k.clear()
	out, err = gcmSeal(key.suite, out, k.bytes(), nonce, plaintext, aad)
	if err != nil {
		return nil, nil, err
	}
	o := &ResponseOpener{suite: key.suite, binding: binding(key.suite, aad, out[start:])}
	if o.key, err = responseKey(key.suite, key.secretBytes(), salt, nonce); err != nil {
		return nil, nil, err
	}
	return out, o, nil
}

// Open authenticates and decrypts a response body of media type
// [ResponseMediaType], returning the upstream status code, content type and
// content. The response must use the request's suite. Failures are
// [ErrMalformed] or [ErrDecrypt].
func (o *ResponseOpener) Open(body []byte) (status int, contentType string, plaintext []byte, err error) {
	if len(body) < 2 || body[0] != responseMagic0 || body[1] != responseMagic1 {
		return 0, "", nil, ErrMalformed
	}
	suite, pl, ok := parsePrefix(body[2:])
	hs := 2 + pl + NonceSize
	if !ok || suite != o.suite || len(body) < hs+TagSize {
		return 0, "", nil, ErrMalformed
	}
	hdr := body[:hs]
	inner, err := gcmOpen(o.suite, o.key.bytes(), hdr[2+pl:], body[hs:], responseAAD(hdr, &o.binding))
	if err != nil {
		return 0, "", nil, ErrDecrypt
	}
	// The inner framing is authenticated, so a failure here means the
	// sealer was faulty; it is still reported rather than trusted.
	if len(inner) < responseInnerMin {
		return 0, "", nil, ErrMalformed
	}
	status = int(binary.BigEndian.Uint16(inner))
	cl := int(inner[2])
	if status < 100 || status > 599 || len(inner)-responseInnerMin < cl {
		return 0, "", nil, ErrMalformed
	}
	contentType = string(inner[3 : 3+cl])
	if !validContentType(contentType) {
		return 0, "", nil, ErrMalformed
	}
	return status, contentType, inner[3+cl:], nil
}

// responseAAD returns response header ‖ request binding.
func responseAAD(hdr []byte, b *[bindingSize]byte) []byte {
	aad := make([]byte, 0, len(hdr)+len(b))
	return append(append(aad, hdr...), b[:]...)
}

// Request is an opened request. Its plaintext and response key are not
// printed by fmt.
type Request struct {
	keyID       string
	suite       Suite
	contentType string
	timestamp   time.Time
	plaintext   []byte
	respKey     msgKey
	binding     [bindingSize]byte
}

// KeyID returns the ID of the key that opened the request.
func (r *Request) KeyID() string { return r.keyID }

// Suite returns the request's suite, which [Request.SealResponse] uses too.
func (r *Request) Suite() Suite { return r.suite }

// ContentType returns the inner content type chosen by the client.
func (r *Request) ContentType() string { return r.contentType }

// Timestamp returns the client's timestamp.
func (r *Request) Timestamp() time.Time { return r.timestamp }

// Plaintext returns the decrypted request content.
func (r *Request) Plaintext() []byte { return r.plaintext }

// Format prints metadata only, never the plaintext or key.
func (r *Request) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "psk.Request(key=%s suite=%s type=%q len=%d)", r.keyID, r.suite, r.contentType, len(r.plaintext))
}

// SealResponse seals an upstream response (status code 100 to 599, content
// type and content) for the client that sent r, with the request's suite.
// rand supplies the nonce;
// nil means crypto/rand.Reader. The body has media type [ResponseMediaType].
func (r *Request) SealResponse(rand io.Reader, status int, contentType string, plaintext []byte) ([]byte, error) {
	if status < 100 || status > 599 {
		return nil, fmt.Errorf("%w: status %d", ErrInvalid, status)
	}
	if !validContentType(contentType) {
		return nil, fmt.Errorf("%w: content type", ErrInvalid)
	}
	prefix := r.suite.prefix()
	hs := 2 + len(prefix) + NonceSize
	body := make([]byte, 0, hs+responseInnerMin+len(contentType)+len(plaintext)+TagSize)
	body = append(body, responseMagic0, responseMagic1)
	body = append(body, prefix...)
	body = body[:hs]
	if err := readRandom(rand, body[2+len(prefix):hs]); err != nil {
		return nil, err
	}
	// The inner framing and content are laid out right after the header
	// and sealed in place: no second copy of the content.
	body = binary.BigEndian.AppendUint16(body, uint16(status))
	body = append(body, byte(len(contentType)))
	body = append(body, contentType...)
	body = append(body, plaintext...)
	hdr := body[:hs]
	return gcmSeal(r.suite, body[:hs], r.respKey.bytes(), hdr[2+len(prefix):], body[hs:], responseAAD(hdr, &r.binding))
}

// OpenRequest opens a request with the default future bound
// ([DefaultMaxFuture]) and no context: [Open] with [OpenOptions]{Window:
// window, Replay: replay}.
func OpenRequest(kr Keyring, method, target string, body []byte, now time.Time, window time.Duration, replay ReplayCache) (*Request, error) {
	return Open(context.Background(), kr, method, target, body, now, OpenOptions{Window: window, Replay: replay})
}

// OpenOptions are the freshness rules and the replay store of [Open].
type OpenOptions struct {
	// Window bounds how old a timestamp may be (now - timestamp); zero or
	// negative means [DefaultWindow].
	Window time.Duration
	// MaxFuture bounds how far ahead a timestamp may be (timestamp - now);
	// zero or negative means [DefaultMaxFuture]. It is capped at Window.
	MaxFuture time.Duration
	// Replay records accepted requests, in the partition
	// [ReplayPartition] of their key ID; it must not be nil.
	Replay ReplayCache
	// InPlace lets Open decrypt into body itself: body is overwritten
	// (with the plaintext, or with zeros on failure) and
	// [Request.Plaintext] aliases it. It saves a copy of the content;
	// use it when the caller owns body and needs it no more.
	InPlace bool
}

// Open opens a request body of media type [RequestMediaType].
// method and target are those of the outer HTTP request as received;
// now is the server's clock; the timestamp must lie in
// [now - o.Window, now + o.MaxFuture]; o.Replay records accepted requests
// until timestamp + Window + 1 s.
//
// Checks run in this order: framing (including a known suite), timestamp
// window, key lookup, suite match, authentication, replay. An unknown key
// ID, or a key of another suite than the header names, still costs a
// decryption attempt under a dummy key of the header's suite, so that
// timing does not reveal which IDs exist or which suite a key has. The
// replay store is consulted only for authenticated requests, so forged
// requests cannot fill it. Every refusal matches [ErrOpen] and one of
// [ErrMalformed], [ErrExpired], [ErrUnknownKey], [ErrSuiteMismatch],
// [ErrDecrypt], [ErrReplay]; a store that cannot check the request gives
// [ErrReplayStore] (wrapping the store's error), which does not match
// ErrOpen.
func Open(ctx context.Context, kr Keyring, method, target string, body []byte, now time.Time, o OpenOptions) (*Request, error) {
	replay, window := o.Replay, o.Window
	if replay == nil {
		return nil, ErrNoReplayCache
	}
	if kr == nil {
		return nil, fmt.Errorf("%w: nil keyring", ErrInvalid)
	}
	if window <= 0 {
		window = DefaultWindow
	}
	future := o.MaxFuture
	if future <= 0 {
		future = DefaultMaxFuture
	}
	future = min(future, window)
	h, ct, err := parseRequestHeader(body)
	if err != nil {
		return nil, refuse(err)
	}
	aad, err := requestAAD(h.raw, method, target)
	if err != nil {
		return nil, refuse(err)
	}
	if h.timestamp > math.MaxInt64 {
		return nil, refuse(ErrExpired)
	}
	ts := time.Unix(int64(h.timestamp), 0)
	if d := now.Sub(ts); d > window || d < -future {
		return nil, refuse(ErrExpired)
	}
	key, known := kr.Lookup(h.keyID)
	if known && key.id != h.keyID {
		known = false
	}
	sameSuite := known && key.suite == h.suite
	var dummy [KeySize]byte
	secret := dummy[:h.suite.KeySize()]
	if sameSuite {
		secret = key.secretBytes()
	}
	k, err := deriveKey(h.suite, secret, h.salt, infoRequest)
	if err != nil {
		return nil, refuse(ErrDecrypt)
	}
	// The binding hashes the tag, which decrypting in place keeps.
	bind := binding(h.suite, aad, ct)
	var dst []byte
	if o.InPlace {
		dst = ct[:0]
	}
	pt, err := gcmOpenTo(dst, h.suite, k.bytes(), h.nonce, ct, aad)
	k.clear()
	if !known {
		return nil, refuse(ErrUnknownKey)
	}
	if !sameSuite {
		return nil, refuse(ErrSuiteMismatch)
	}
	if err != nil {
		return nil, refuse(ErrDecrypt)
	}
	id := make([]byte, 0, SaltSize+NonceSize)
	id = append(append(id, h.salt...), h.nonce...)
	fresh, err := replay.Seen(ctx, ReplayPartition(h.keyID), id, ts.Add(window+time.Second))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrReplayStore, err)
	}
	if !fresh {
		return nil, refuse(ErrReplay)
	}
	req := &Request{
		keyID:       h.keyID,
		suite:       h.suite,
		contentType: h.contentType,
		timestamp:   ts,
		plaintext:   pt,
		binding:     bind,
	}
	if req.respKey, err = responseKey(h.suite, key.secretBytes(), h.salt, h.nonce); err != nil {
		return nil, refuse(ErrDecrypt)
	}
	return req, nil
}

// refuse wraps a specific sentinel so that it also matches ErrOpen.
func refuse(err error) error {
	return fmt.Errorf("%w: %w", ErrOpen, err)
}

// readRandom fills b from r, or from crypto/rand when r is nil.
func readRandom(r io.Reader, b []byte) error {
	if r == nil {
		r = rand.Reader
	}
	if _, err := io.ReadFull(r, b); err != nil {
		return fmt.Errorf("psk: reading randomness: %w", err)
	}
	return nil
}
