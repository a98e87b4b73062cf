package bhttp

import "errors"

// ErrMalformed reports input that is not a valid Binary HTTP message of the
// expected kind: a bad framing indicator, a truncated length or section,
// non-zero padding, an invalid status code or field line.
var ErrMalformed = errors.New("bhttp: malformed message")

// ErrTooLarge reports a message, or a message being encoded, that exceeds
// one of the configured [Limits] or the range of a variable-length integer.
var ErrTooLarge = errors.New("bhttp: message exceeds limits")

// ErrInvalid reports a message value that cannot be encoded, such as a
// status code outside its range or a field line with an empty name.
var ErrInvalid = errors.New("bhttp: invalid message")
