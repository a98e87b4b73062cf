// Package sm4 provides the Chinese national ("ShangMi") primitives the
// envelopes use, as standard library types: the SM4 block cipher
// (GB/T 32907-2016) as a [cipher.Block], SM4-GCM through
// [cipher.NewGCM] with the RFC 8998 parameters (128-bit key, 12-byte nonce,
// 16-byte tag), raw SM4-CBC through [cipher.NewCBCEncrypter] and
// [cipher.NewCBCDecrypter], and the SM3 hash (GB/T 32905-2016) as a
// [hash.Hash] for HKDF and HMAC.
//
// The block cipher and SM3 come from github.com/emmansun/gmsm, pinned by
// exact version in go.mod; nothing here implements a primitive by hand.
// Padding is not this package's job: the CBC helpers take and return whole
// blocks, so that a mode which pads (the legacy JSON envelope) keeps its one
// constant-time padding check.
//
// The package keeps no global state and writes no logs.
package sm4
