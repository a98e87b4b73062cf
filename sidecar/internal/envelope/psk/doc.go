// Package psk implements the sealocr pre-shared-key envelope, the default
// mode for service clients.
//
// A client seals an HTTP request body under a pre-shared key chosen by key
// ID ([SealRequest]); the sidecar opens it ([OpenRequest]), forwards the
// plaintext, and seals the upstream response so that only the holder of the
// same key, and only for that request, can open it ([Request.SealResponse],
// [ResponseOpener.Open]).
//
// Every key has a [Suite]: AES-256-GCM with HKDF-SHA256 and a 256-bit key
// (the default), SM4-GCM (RFC 8998) with HKDF-SHA256 and a 128-bit key, or
// SM4-GCM with HKDF-SM3 for an all-GM profile. The suite is written into
// the envelope header (implicitly for AES-256-GCM, whose framing predates
// suites and is unchanged) and authenticated with it; the response uses the
// request's suite.
//
// Each message uses the suite's AEAD under a key derived with HKDF from the
// pre-shared key and a fresh 16-byte random salt, so the NIST SP 800-38D
// limit of 2^32 random-nonce messages per key does not constrain the
// pre-shared key. The associated data binds the HTTP method, the request
// target and every header byte; replay is prevented by a timestamp window and
// a [ReplayCache]. The byte layouts are specified in sidecar/PROTOCOL.md.
//
// The package keeps no global state and writes no logs.
package psk
