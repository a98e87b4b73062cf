package ohttp

import "errors"

// ErrMalformed reports an encapsulated request or response, key
// configuration, key list or key file that does not follow its encoding.
var ErrMalformed = errors.New("ohttp: malformed message")

// ErrUnknownKey reports a request naming a key identifier and KEM that the
// gateway does not hold. RFC 9458 Section 5.3 lets the gateway tell the
// client so that it can fetch fresh keys.
var ErrUnknownKey = errors.New("ohttp: unknown key configuration")

// ErrUnsupported reports a KEM, KDF or AEAD that this package does not
// implement, or a suite that the key configuration does not list.
var ErrUnsupported = errors.New("ohttp: unsupported algorithm")

// ErrDecrypt reports a failed decapsulation: a bad encapsulated key or an
// authentication failure.
var ErrDecrypt = errors.New("ohttp: decryption failed")

// ErrDuplicateKey reports two configurations with the same key identifier
// and KEM given to [NewGateway].
var ErrDuplicateKey = errors.New("ohttp: duplicate key configuration")

// ErrInvalid reports an invalid argument, such as an empty suite list or a
// key that does not match its configuration.
var ErrInvalid = errors.New("ohttp: invalid argument")

// ErrDate reports an inner request whose Date field is missing (when
// required), malformed or outside the acceptance window.
var ErrDate = errors.New("ohttp: date outside the acceptance window")
