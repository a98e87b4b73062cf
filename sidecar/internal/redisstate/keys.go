package redisstate

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
)

// DefaultPrefix starts every Redis key the sidecar writes, so that it can
// share a Redis (and one ACL key pattern, ~sealocr:*) with other users.
const DefaultPrefix = "sealocr:"

// hashedKey returns prefix ‖ kind ‖ ":" ‖ base64url(SHA-256(domain)), where
// domain binds the kind, the namespace (a tenant: key ID, mode) and the
// caller's key, each length-prefixed so that no two inputs collide. What a
// reader of Redis sees is the kind and an opaque digest: no nonce, no
// client address, no key ID. With a secret (hashKey not empty) the digest is
// HMAC-SHA-256 under it, so that a reader of Redis cannot test guesses of
// low-entropy keys either (an IPv4 client address has 2^32 values).
func hashedKey(prefix, kind, namespace string, key, hashKey []byte) string {
	h := sha256.New()
	if len(hashKey) > 0 {
		h = hmac.New(sha256.New, hashKey)
	}
	var n [8]byte
	for _, part := range [][]byte{[]byte("sealocr redisstate v1"), []byte(kind), []byte(namespace), key} {
		binary.BigEndian.PutUint64(n[:], uint64(len(part)))
		h.Write(n[:])
		h.Write(part)
	}
	return prefix + kind + ":" + base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}
