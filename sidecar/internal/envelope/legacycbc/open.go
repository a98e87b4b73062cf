package legacycbc

import (
	"crypto/hmac"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"io"
)

// Causes of a request that no key opened, for the server's log only (see
// [Opened.Cause]). The client never sees them.
const (
	// CauseNone: a key accepted the request and its padding is valid.
	CauseNone = ""
	// CauseMalformed: not JSON, unknown algorithm, bad base64, a length
	// that is not an IV and a positive whole number of blocks, or a "mac"
	// member that is not base64 of 32 bytes. The client's own input alone
	// decides this.
	CauseMalformed = "malformed"
	// CauseUnauthenticated: no key accepted the request: the MAC matched
	// no key, or the request has no MAC and every key requires one.
	CauseUnauthenticated = "unauthenticated"
	// CauseUnopened: a key accepted the request, but no key gave valid
	// padding (a wrong key, a tampered or a badly padded ciphertext).
	CauseUnopened = "unopened"
)

// Opened is the outcome of [OpenAll]: the bytes to forward whatever
// happened, and the key that seals the answer.
type Opened struct {
	plaintext []byte
	key       *Key // nil: no key accepted the request
	alg       *algorithm
	reqMAC    []byte // the request's MAC, nil when it had none
	ok        bool
	cause     string
}

// OpenAll opens a legacy request body with every key, doing the same work
// whatever the padding holds and whichever key fits, so that a server can
// treat every outcome alike (PROTOCOL.md section 3.3):
//
//   - A key "accepts" the request when the request carries a MAC valid
//     under that key (checked in constant time, before decryption is
//     used), or when it carries none and the key does not require one.
//   - The ciphertext is decrypted under every key and the padding of each
//     result checked in constant time.
//   - The first accepting key with valid padding is chosen and its
//     unpadded plaintext returned. Else the first accepting key is chosen
//     and its whole decrypted buffer (padding not removed) returned. Else
//     (or for a malformed body) zero bytes stand in for the plaintext:
//     never an image, so the upstream refuses them.
//
// Plaintext is therefore never nil, and what a server does with it (send
// it upstream, seal a success answer with Seal) does not depend on the
// padding. OK and Cause report the outcome for logs and tests.
func OpenAll(keys []Key, body []byte) *Opened {
	p, standIn := parse(body)
	if p == nil {
		return &Opened{plaintext: make([]byte, standIn), cause: CauseMalformed}
	}
	o := &Opened{alg: p.alg, reqMAC: p.mac}
	hasMAC := 0
	if p.mac != nil {
		hasMAC = 1
	}
	chosen, fallback := -1, -1
	var bufs [][]byte
	var pads []int
	for i := range keys {
		k := &keys[i]
		// accept = hasMAC ? macOK : !required, without branching on secrets.
		macOK := 0
		if hasMAC == 1 && k.alg == p.alg {
			macOK = subtle.ConstantTimeCompare(requestMAC(k.mac[:], p.alg.name, p.iv, p.ct), p.mac)
		}
		req := 0
		if k.macRequired {
			req = 1
		}
		if k.alg != p.alg { // public: the request names its algorithm
			bufs, pads = append(bufs, nil), append(pads, 0)
			continue
		}
		accept := subtle.ConstantTimeSelect(hasMAC, macOK, req^1)
		block, err := p.alg.newBlock(k.bytes())
		if err != nil {
			bufs, pads = append(bufs, nil), append(pads, 0)
			continue
		}
		buf, n, padOK := decryptRaw(block, p.iv, p.ct)
		bufs, pads = append(bufs, buf), append(pads, n)
		// chosen: the first i with accept & padOK; fallback: the first accept.
		free := subtle.ConstantTimeEq(int32(chosen), -1)
		chosen = subtle.ConstantTimeSelect(free&accept&padOK, i, chosen)
		freeF := subtle.ConstantTimeEq(int32(fallback), -1)
		fallback = subtle.ConstantTimeSelect(freeF&accept, i, fallback)
	}
	switch {
	case chosen >= 0:
		o.key, o.ok = &keys[chosen], true
		o.plaintext = bufs[chosen][:len(bufs[chosen])-pads[chosen]]
	case fallback >= 0:
		o.key, o.cause = &keys[fallback], CauseUnopened
		o.plaintext = bufs[fallback]
	default:
		o.cause = CauseUnauthenticated
		o.plaintext = make([]byte, len(p.ct))
	}
	for i, b := range bufs {
		if i != chosen && i != fallback {
			clear(b)
		}
	}
	return o
}

// Plaintext returns the bytes to forward upstream: the opened image, or a
// stand-in of about the same length that no key opened (see [OpenAll]).
func (o *Opened) Plaintext() []byte { return o.plaintext }

// OK reports whether a key accepted the request and its padding is valid.
// A server must not branch on it before the upstream has answered.
func (o *Opened) OK() bool { return o.ok }

// Cause is one of the Cause constants, for the server's log.
func (o *Opened) Cause() string { return o.cause }

// HasMAC reports whether the request carried a "mac" member.
func (o *Opened) HasMAC() bool { return o.reqMAC != nil }

// CanSeal reports whether an answer can be sealed: some key accepted the
// request. It is false only for a malformed or unauthenticated request,
// whose stand-in plaintext the upstream always refuses.
func (o *Opened) CanSeal() bool { return o.key != nil }

// Seal encrypts the upstream's answer under the chosen key with a fresh IV
// from rand (nil: crypto/rand.Reader) and returns the legacy response body,
// with a response MAC when the request had a MAC.
func (o *Opened) Seal(rand io.Reader, plaintext []byte) ([]byte, error) {
	if o.key == nil {
		return nil, ErrOpen
	}
	iv, ct, err := sealBlob(rand, *o.key, plaintext)
	if err != nil {
		return nil, err
	}
	resp := responseJSON{Status: StatusSuccess, Result: blob(iv, ct)}
	if o.reqMAC != nil {
		resp.MAC = base64.StdEncoding.EncodeToString(responseMAC(o.key.mac[:], o.reqMAC, o.alg.name, iv, ct))
	}
	return json.Marshal(resp)
}

// checkMAC reports whether mac is the request MAC of (alg, iv, ct) under
// key; for tests and clients.
func checkMAC(key Key, alg string, iv, ct, mac []byte) bool {
	return hmac.Equal(requestMAC(key.mac[:], alg, iv, ct), mac)
}
