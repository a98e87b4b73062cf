// Package logging builds every logger of both binaries, the sidecar and the
// core (which holds the plaintext); all output goes through a redacting
// encoder. It is public only so that the core can import it: it depends on
// zap and the standard library alone.
//
// New is the one constructor. The *zap.Logger it returns wraps zap's JSON or
// console encoder in an encoder that applies these rules to every entry,
// including fields attached earlier with Logger.With or Core.With:
//
//  1. Payload-bearing fields are never written. A field whose key names a
//     payload (see below) is written as "[redacted]" whatever its type, and so
//     is every []byte value (zap.Binary, zap.ByteString, byte slices inside
//     zap.Any values) whatever its key. The key stays so a reader can see that
//     something was there; the value, its length and its type do not.
//  2. Credential-bearing fields are masked. A field whose key names a
//     credential (see below) is written as "[masked]"; bool values are kept,
//     since "has_token": true reveals nothing. The same rule applies to keys
//     inside maps and structs logged with zap.Any, so an http.Header keeps its
//     keys and loses the values of Authorization, Cookie and the like.
//  3. Name/value shapes are key/value. A value paired with a name takes the
//     name's rule as if the name were its key: the Value (or Values) field of
//     a struct with a Name or Key field ([]bhttp.Field, a Key/Value pair), the
//     element after a name in a list of strings ([2]string{"cookie", v},
//     [][2]string, a flat header list, zap.Strings), and a "value" field
//     after a "name" or "key" field in zap.Object, zap.Dict and zap.Array
//     marshalers. (http.Header and url.Values are maps: rule 2.)
//  4. Every string is scrubbed with Redact: the message, the logger name, the
//     stack trace, string fields and keys, errors (zap.Error, including the
//     "Verbose" and "Causes" forms), stringers, strings inside zap.Object,
//     zap.Array, zap.Dict, zap.Inline and zap.Any values. Integers with 11 or
//     more digits are scrubbed too and written as the replacement string when
//     they match a pattern (a phone or card number stored in an int64).
//     Redact also masks the credential after the authentication schemes
//     Basic, Bearer, Digest and ApiKey anywhere in a string, and, in text
//     such as fmt's rendering of a pair, the value after a credential header
//     name ("[cookie v]", "{Name:x-api-key Value:v}", "{Key:password
//     Value:v}"). Text cannot say which value an unlabelled name such as
//     "password" governs ("[password v]"); only structured fields can.
//  5. KeyID and Subject log a short keyed hash of an identifier instead of the
//     identifier itself.
//
// Key matching is case-insensitive and looks at both the whole key with the
// separators "-", "_", "." and " " removed and at its last word (split at
// those separators and at lower-to-upper camel-case boundaries):
//
//   - payload: the last word is body, payload, image, text, plaintext,
//     ciphertext, data, result or lines (so "request_body", "ocrText" and
//     "result" match; "context" and "metadata" do not).
//   - credential: the last word is key, psk, credential or credentials, or
//     the whole key ends with token, secret, password, passwd, apikey,
//     privatekey, authorization or cookie (so "Authorization",
//     "Proxy-Authorization", "Set-Cookie", "X-Api-Key", "access_token",
//     "clientSecret" and "key" match; "key_id" and "tokens" do not).
//
// Zap namespaces (zap.Namespace) are not payload-checked by key; the fields
// inside them are.
//
// The logger may be handed as is to libraries that take a *zap.Logger, such as
// certmagic (certmagic.Config.Logger); their entries go through the same
// encoder. There is deliberately no option to turn redaction off.
package logging

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// MinHashKeyLen is the shortest Options.HashKey that New accepts.
const MinHashKeyLen = 16

// Options configures New. The zero value is usable: info level, JSON to
// stderr, a random hash key.
type Options struct {
	// Level is the minimum level written: "debug", "info", "warn" or "error"
	// (case-insensitive). Empty means "info".
	Level string
	// Format is "json" or "console" (case-insensitive). Empty means "json".
	Format string
	// Output receives the encoded entries. Nil means os.Stderr. Writes are
	// serialised, so the writer need not be safe for concurrent use.
	Output io.Writer
	// HashKey keys the HMAC behind KeyID and Subject, so the same identifier
	// gives the same short hash on every line and in every process that
	// shares the key. It must be at least MinHashKeyLen bytes. Nil means a
	// random key drawn by New: hashes then correlate only between lines of
	// the loggers derived from that one New call. New copies the key.
	HashKey []byte
}

// New builds a logger whose every entry goes through the redacting encoder
// described in the package documentation. It reports every problem with o at
// once, each wrapping ErrUnknownLevel, ErrUnknownFormat or ErrShortHashKey.
// The logger adds the caller to each entry; it is safe for concurrent use.
func New(o Options) (*zap.Logger, error) {
	var errs []error
	level, err := parseLevel(o.Level)
	if err != nil {
		errs = append(errs, err)
	}
	cfg := zap.NewProductionEncoderConfig()
	cfg.TimeKey = "ts"
	cfg.EncodeTime = zapcore.ISO8601TimeEncoder
	var inner zapcore.Encoder
	if err := CheckFormat(o.Format); err != nil {
		errs = append(errs, err)
	} else if strings.EqualFold(o.Format, "console") {
		inner = zapcore.NewConsoleEncoder(cfg)
	} else {
		inner = zapcore.NewJSONEncoder(cfg)
	}
	key := make([]byte, len(o.HashKey))
	copy(key, o.HashKey)
	switch {
	case o.HashKey == nil:
		key = make([]byte, 32)
		rand.Read(key) // never fails (crypto/rand docs); it panics otherwise
	case len(o.HashKey) < MinHashKeyLen:
		errs = append(errs, fmt.Errorf("%w: %d bytes, want at least %d", ErrShortHashKey, len(o.HashKey), MinHashKeyLen))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	out := o.Output
	if out == nil {
		out = os.Stderr
	}
	enc := newEncoder(inner, newRedactor(key))
	core := zapcore.NewCore(enc, zapcore.Lock(zapcore.AddSync(out)), level)
	return zap.New(core, zap.AddCaller()), nil
}

// CheckLevel reports whether s is a level New accepts ("debug", "info",
// "warn", "error", case-insensitive; empty means info). Configuration
// validation calls it so the rule lives here once.
func CheckLevel(s string) error {
	_, err := parseLevel(s)
	return err
}

// CheckFormat reports whether s is a format New accepts ("json" or
// "console", case-insensitive; empty means json).
func CheckFormat(s string) error {
	switch strings.ToLower(s) {
	case "", "json", "console":
		return nil
	}
	return fmt.Errorf("%w %q (want json or console)", ErrUnknownFormat, s)
}

// parseLevel maps an Options.Level to a zap level.
func parseLevel(s string) (zapcore.Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return zapcore.DebugLevel, nil
	case "", "info":
		return zapcore.InfoLevel, nil
	case "warn":
		return zapcore.WarnLevel, nil
	case "error":
		return zapcore.ErrorLevel, nil
	}
	return zapcore.InfoLevel, fmt.Errorf("%w %q (want debug, info, warn or error)", ErrUnknownLevel, s)
}
