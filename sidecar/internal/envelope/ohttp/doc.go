// Package ohttp implements Oblivious HTTP (RFC 9458) request and response
// encapsulation for a gateway and a client, on top of the standard library's
// crypto/hpke.
//
// Supported suites: the KEMs DHKEM(X25519, HKDF-SHA256) (0x0020) and
// MLKEM768-X25519 (X-Wing, 0x647a, from draft-ietf-hpke-pq), the KDF
// HKDF-SHA256 (0x0001), and the AEADs AES-128-GCM (0x0001), AES-256-GCM
// (0x0002) and ChaCha20-Poly1305 (0x0003).
//
// Key configurations use the encoding of RFC 9458 Section 3, and a list of
// them the application/ohttp-keys framing (each configuration prefixed by
// its 2-byte length). Private key configurations are stored in PEM blocks
// whose layout is specified in sidecar/PROTOCOL.md.
//
// A [Gateway] holds several key configurations at once, so keys can be
// rotated, and picks one by the key identifier and KEM named in each request
// header. Encapsulated content is Binary HTTP (package bhttp); this package
// treats it as opaque bytes.
//
// The package keeps no global state and writes no logs.
package ohttp
