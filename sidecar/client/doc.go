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
// Retries: a call that gets a busy or rate-limited answer (429, or 503
// "busy"; see [IsBusy]) — sent in the clear by the sidecar, sealed by the
// core, or inside the Oblivious HTTP response — is retried up to
// [Config.MaxRetries] times ([DefaultMaxRetries]). The client waits the
// server's Retry-After plus a random share of the backoff, or, without
// Retry-After (the PSK envelope carries none), an exponential backoff with
// full jitter: uniform in [0, min([Config.RetryMaxDelay],
// [Config.RetryBaseDelay]·2^n)). It never waits past the call's deadline: when
// the next wait would end after it, the call returns the server's answer at
// once. Every retry is sealed afresh (a new salt and nonce, a new HPKE
// context), so the sidecar never sees a replay. Attempts that got no answer
// (connection refused, reset or closed, or [Config.AttemptTimeout] passed)
// are retried too, although the server may have processed the request:
// that is safe only because OCR is idempotent — it stores nothing and the
// same image gives the same answer. Any other answer is final and is not
// retried. The final error is the last attempt's, still a [*ServerError]
// when the server answered. [OCROptions.OnRetry] observes each retry.
//
// The package keeps no global state; a Client is safe for concurrent use.
package client
