// Package client is the Go client of a sealocr sidecar: it seals an OCR
// request (PSK envelope or Oblivious HTTP), sends it, and opens the response.
//
// A [Client] is built from a [Config] with [New]. In PSK mode (the default)
// it needs a pre-shared key, loaded from a sealocr key file with [LoadKeys]
// or built with [NewPSKKey]; the image is sealed for POST /v1/ocr and the
// sidecar's sealed answer is opened and authenticated. In Oblivious HTTP mode
// (RFC 9458) it needs no secret: it fetches the gateway's public key
// configurations from /.well-known/ohttp-gateway (optionally pinned by
// fingerprint), encapsulates a Binary HTTP request and decapsulates the
// answer.
//
// Errors: the server's JSON error answers, whether sent in the clear by the
// sidecar or sealed inside the envelope by the core, are a [*ServerError];
// a response that cannot be opened or authenticated matches
// [ErrOpenResponse]. Error messages never contain image bytes, recognized
// text or key material, and the package writes no logs.
//
// The package keeps no global state; a Client is safe for concurrent use.
package client
