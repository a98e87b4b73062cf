package client

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sealocr/sealocr/sidecar/api"
)

// ErrOpenResponse reports a response that could not be opened: the sealed or
// encapsulated body failed authentication or framing, it does not belong to
// the request, or the outer answer was a success of the wrong media type.
var ErrOpenResponse = errors.New("sealocr client: response could not be opened")

// ErrUnexpectedResponse reports a successful answer whose content is not
// what the API documents, such as an OCR response that is not JSON or a key
// list of the wrong media type.
var ErrUnexpectedResponse = errors.New("sealocr client: unexpected response")

// ErrKeyPinMismatch reports that none of the gateway's Oblivious HTTP key
// configurations matches [Config.PinnedKeyFingerprint].
var ErrKeyPinMismatch = errors.New("sealocr client: no gateway key configuration matches the pinned fingerprint")

// ErrNoUsableKey reports that the client has no key it can use: no
// pre-shared key with the requested ID, or no gateway key configuration with
// a supported KEM and symmetric suite.
var ErrNoUsableKey = errors.New("sealocr client: no usable key")

// ErrInvalidConfig reports a [Config] or [OCROptions] that cannot be used.
var ErrInvalidConfig = errors.New("sealocr client: invalid configuration")

// ErrResponseTooLarge reports a response body longer than
// [Config.MaxResponseBytes].
var ErrResponseTooLarge = errors.New("sealocr client: response larger than the limit")

// ServerError is an error answer of the sidecar or of the core: the HTTP
// status and the fixed code and message of the JSON error body
// {"error":{"code","message"}}. Answers without such a body get an empty
// Code and a short, sanitized Message.
type ServerError struct {
	// Status is the HTTP status code (for a sealed answer, the inner one).
	Status int
	// Code is the error code, such as "cannot_open" (the sidecar's codes
	// are listed in package sidecar/api) or "not_an_image" (the core's, in
	// core/api); "ohttp_key_unknown" for the key-unknown problem.
	Code string
	// Message is the server's fixed message for Code.
	Message string
	// Sealed reports that the answer came inside the PSK envelope or the
	// Oblivious HTTP response, so it is authenticated and comes from the
	// core (or the sidecar's upstream handling); otherwise the sidecar, or
	// something in front of it, refused the outer request.
	Sealed bool
	// RetryAfter is the delay from a Retry-After header (seconds form) on
	// an outer answer or inside an Oblivious HTTP response, or zero. (The
	// PSK envelope carries no headers: a sealed busy answer has none.)
	RetryAfter time.Duration
}

// FromSidecar reports whether the answer was made by the sidecar itself
// rather than by the OCR server behind it: every outer answer, and the
// sealed answers of the sidecar's upstream handling (the core could not be
// reached, timed out, or answered too much).
func (e *ServerError) FromSidecar() bool {
	if !e.Sealed {
		return true
	}
	switch e.Code {
	case api.CodeUpstreamUnavailable, api.CodeUpstreamTimeout, api.CodeUpstreamTooLarge, api.CodeRouteNotAllowed:
		return true
	}
	return false
}

// Error implements error.
func (e *ServerError) Error() string {
	var b strings.Builder
	b.WriteString("sealocr client: ")
	switch {
	case e.Sealed && e.FromSidecar():
		b.WriteString("sidecar answered (sealed) ")
	case e.Sealed:
		b.WriteString("core answered ")
	default:
		b.WriteString("server answered ")
	}
	fmt.Fprintf(&b, "%d", e.Status)
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	return b.String()
}
