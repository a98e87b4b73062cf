package logging

import "bytes"

// keyClass says how a field's value is treated because of its key.
type keyClass uint8

const (
	keyPlain   keyClass = iota // value is written, scrubbed
	keyPayload                 // value is replaced by tokenRedacted
	keySecret                  // value is replaced by tokenMasked
)

// classifyKey applies the key rules of the package documentation.
func classifyKey(key string) keyClass {
	var buf [32]byte
	if seg := lowerInto(buf[:0], lastWord(key)); seg != nil {
		switch string(seg) {
		case "body", "payload", "image", "text", "plaintext", "ciphertext", "data", "result", "lines":
			return keyPayload
		case "key", "psk", "credential", "credentials":
			return keySecret
		}
	}
	full := normalizeInto(buf[:0], key)
	for _, suffix := range [...]string{"token", "secret", "password", "passwd", "apikey", "privatekey", "authorization", "cookie"} {
		if bytes.HasSuffix(full, []byte(suffix)) {
			return keySecret
		}
	}
	return keyPlain
}

// isKeySep reports whether c separates words in a key.
func isKeySep(c byte) bool {
	return c == '-' || c == '_' || c == '.' || c == ' '
}

// lastWord returns the last word of key: the text after the last separator or
// from the last lower-to-upper camel-case boundary.
func lastWord(key string) string {
	for i := len(key) - 1; i > 0; i-- {
		c := key[i]
		if isKeySep(c) {
			return key[i+1:]
		}
		if c >= 'A' && c <= 'Z' && key[i-1] >= 'a' && key[i-1] <= 'z' {
			return key[i:]
		}
	}
	return key
}

// lowerInto appends s, lower-cased, to buf if it fits in buf's capacity,
// and returns nil otherwise: no word we look for is that long.
func lowerInto(buf []byte, s string) []byte {
	if len(s) > cap(buf) {
		return nil
	}
	for i := 0; i < len(s); i++ {
		buf = append(buf, lower(s[i]))
	}
	return buf
}

// normalizeInto appends s to buf, lower-cased and without separators. It
// keeps only the last cap(buf) bytes, which is enough for suffix checks and
// never allocates.
func normalizeInto(buf []byte, s string) []byte {
	n := 0
	for i := 0; i < len(s); i++ {
		if !isKeySep(s[i]) {
			n++
		}
	}
	skip := max(n-cap(buf), 0)
	for i := 0; i < len(s); i++ {
		if isKeySep(s[i]) {
			continue
		}
		if skip > 0 {
			skip--
			continue
		}
		buf = append(buf, lower(s[i]))
	}
	return buf
}

// lower lower-cases an ASCII letter and returns any other byte unchanged.
func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
