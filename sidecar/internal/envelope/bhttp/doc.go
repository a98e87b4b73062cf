// Package bhttp encodes and decodes Binary HTTP messages as defined in
// RFC 9292.
//
// It encodes requests and responses in the known-length framing
// (RFC 9292 Section 3.1) and decodes both the known-length and the
// indeterminate-length framings (Section 3.2), including informational
// responses, trailers, padding and truncation (Section 3.8).
//
// Decoding is defensive: every length read from the input is checked against
// the bytes that remain and against the caller's [Limits] before anything is
// allocated, and hostile input yields an error wrapping [ErrMalformed] or
// [ErrTooLarge], never a panic. The package performs no I/O and does not
// interpret field values.
package bhttp
