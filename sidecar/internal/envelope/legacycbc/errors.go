package legacycbc

import "errors"

// ErrOpen is the only error [Open] and [OpenResponse] return for a body
// that cannot be opened, whatever the cause, so that callers cannot leak
// which check failed.
var ErrOpen = errors.New("legacycbc: request could not be opened")

// ErrInvalidKey reports a key that is not 32 bytes, or is all zero.
var ErrInvalidKey = errors.New("legacycbc: invalid key")

// errCBC is the single failure of the raw CBC layer (bad key size, length or
// padding); the JSON layer maps it to ErrOpen.
var errCBC = errors.New("legacycbc: cbc failure")
