package logging

import "errors"

// ErrUnknownLevel is returned by New when Options.Level is not one of
// "debug", "info", "warn" or "error".
var ErrUnknownLevel = errors.New("logging: unknown level")

// ErrUnknownFormat is returned by New when Options.Format is not one of
// "json" or "console".
var ErrUnknownFormat = errors.New("logging: unknown format")

// ErrShortHashKey is returned by New when Options.HashKey is set but shorter
// than MinHashKeyLen bytes.
var ErrShortHashKey = errors.New("logging: hash key too short")
