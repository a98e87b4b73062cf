// Package legacycbc implements the legacy AES-256-CBC JSON envelope that
// existing clients use.
//
// A request body is {"data": base64(iv ‖ AES-256-CBC-PKCS#7(image)),
// "algorithm": "AES-256-CBC"} and a response body is {"status": "success",
// "result": base64(iv' ‖ AES-256-CBC-PKCS#7(json))} with a fresh IV.
//
// The format carries no MAC, so it gives confidentiality against passive
// observers only: ciphertexts are malleable and the server cannot tell a
// tampered request from a genuine one. To avoid turning the sidecar into a
// padding oracle, [Open] checks the padding in constant time and reports
// every failure (bad JSON, base64, length, algorithm or padding) as the
// single error [ErrOpen]. New clients should use the psk or ohttp envelopes.
//
// The package keeps no global state and writes no logs.
package legacycbc
