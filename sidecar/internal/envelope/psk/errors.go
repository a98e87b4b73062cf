package psk

import "errors"

// ErrOpen is matched (with [errors.Is]) by every error that [OpenRequest]
// returns for a request that must be refused, in addition to the specific
// sentinel below. Servers answer all of them with the same status and the
// fixed message [ClientMessage], and log the specific error.
var ErrOpen = errors.New("psk: request could not be opened")

// ErrMalformed reports a request or response body that does not follow the
// framing: wrong magic or version, an unknown suite, truncated fields, a key ID or content
// type outside its alphabet, or an over-long method or target.
var ErrMalformed = errors.New("psk: malformed envelope")

// ErrUnknownKey reports a request whose key ID is not in the keyring.
var ErrUnknownKey = errors.New("psk: unknown key ID")

// ErrExpired reports a request whose timestamp is outside the accepted
// window around the server's clock: older than the window, or more than
// the future bound ([DefaultMaxFuture]) ahead.
var ErrExpired = errors.New("psk: timestamp outside window")

// ErrSuiteMismatch reports a request whose header names another suite than
// the one its key belongs to.
var ErrSuiteMismatch = errors.New("psk: suite does not match the key")

// ErrReplay reports a request that the replay cache has already seen.
var ErrReplay = errors.New("psk: replayed request")

// ErrReplayStore reports an authenticated request that could not be checked
// against the replay store: the store is unreachable, or the key ID's share
// of it is full. It does not match [ErrOpen]: the request is well formed and
// is refused as "busy, retry later", never accepted unchecked.
var ErrReplayStore = errors.New("psk: replay store cannot check the request")

// ErrDecrypt reports a failed authentication tag check: a wrong key, or
// tampered ciphertext, header, method, target or binding.
var ErrDecrypt = errors.New("psk: decryption failed")

// ErrInvalid reports an argument that cannot be sealed or used: a key of the
// wrong size, a bad key ID, method, target, content type or status code.
var ErrInvalid = errors.New("psk: invalid argument")

// ErrDuplicateKey reports two keys with the same ID given to [NewKeySet].
var ErrDuplicateKey = errors.New("psk: duplicate key ID")

// ErrNoReplayCache reports a call to [OpenRequest] without a replay cache.
// Replay protection cannot be switched off.
var ErrNoReplayCache = errors.New("psk: no replay cache")

// ClientMessage is the fixed text a server returns to the client for any
// error matching [ErrOpen], so that the client cannot tell which check
// failed.
const ClientMessage = "request could not be opened"
