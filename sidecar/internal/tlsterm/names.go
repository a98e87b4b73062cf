package tlsterm

import "strings"

// ValidName reports whether name is a DNS name an ACME CA can issue for: two
// or more labels of letters, digits and inner hyphens, each label 1..63
// bytes, 253 bytes in all. It is the one name rule of the configuration
// (tls.acme.domains) and of this package.
func ValidName(name string) bool {
	if len(name) > 253 || !strings.Contains(name, ".") {
		return false
	}
	for _, l := range strings.Split(name, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			ch := l[i]
			if !('a' <= ch && ch <= 'z' || 'A' <= ch && ch <= 'Z' || '0' <= ch && ch <= '9' || ch == '-') {
				return false
			}
		}
	}
	return true
}

// ValidPattern reports whether p is a name (ValidName) or "*." followed by
// one: an on-demand allowlist entry.
func ValidPattern(p string) bool {
	return ValidName(strings.TrimPrefix(p, "*."))
}

// validPattern is ValidPattern under its older, unexported name.
func validPattern(p string) bool { return ValidPattern(p) }
