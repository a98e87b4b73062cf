package logging

import "strings"

// Replacement tokens written in place of what the encoder removes.
const (
	tokenRedacted = "[redacted]"  // payload field or byte slice
	tokenMasked   = "[masked]"    // credential field or key=value credential
	tokenJWT      = "[jwt]"       // JSON Web Token
	tokenPEM      = "[pem]"       // PEM block
	tokenBearer   = "[token]"     // credential after "Bearer "
	tokenEmail    = "[email]"     // e-mail address
	tokenBlob     = "[blob]"      // long base64 or hex run
	tokenIDNumber = "[id-number]" // PRC resident identity card number
	tokenPhone    = "[phone]"     // mainland China mobile number
	tokenCard     = "[card]"      // bank card number
)

// Thresholds of the scrubbing rules.
const (
	blobMin  = 32 // shortest base64 or hex run replaced by tokenBlob
	phoneLen = 11 // digits in a mainland China mobile number
	cardMin  = 13 // fewest digits in a bank card number
	cardMax  = 19 // most digits in a bank card number
	idLen    = 18 // characters in a PRC resident identity card number
	spanMax  = 19 // most digits any number rule looks at
)

// Redact returns s with every secret and every piece of personal data it can
// recognise replaced by a token. The encoder applies it to every string it
// writes; call it directly for strings that leave the process another way,
// such as error text. Rules apply in this order:
//
//   - PEM blocks, from "-----BEGIN" to the closing "-----" of the matching
//     "-----END ...-----" line (or to the end of s if there is none): "[pem]".
//   - the password of a URL's user information, "scheme://user:password@":
//     "scheme://user:[masked]@".
//   - JSON Web Tokens, "eyJ" followed by base64url characters, a ".", a
//     second non-empty segment and a "." with an optional third segment, plus
//     any further ".segment" (JWE): "[jwt]".
//   - the authentication schemes "Bearer", "Basic", "ApiKey" (any case, not
//     preceded by a letter) followed by blanks and a token68 credential, and
//     "Digest" followed by auth-params (to the end of the line): the
//     credential becomes "[token]".
//   - key=value and "key": value pairs whose key is a credential key (see the
//     package documentation), and the HTTP header lines "Authorization:",
//     "Proxy-Authorization:", "Cookie:", "Set-Cookie:" and "X-Api-Key:"
//     (value to the end of the line), and "Key:value" with no blank after
//     the colon (fmt's %+v of a field): the value becomes "[masked]".
//   - a credential header name (Authorization, Proxy-Authorization, Cookie,
//     Set-Cookie, X-Api-Key, Api-Key, api_key, ApiKey) followed by blanks or
//     a comma and a value, optionally labelled "Value:" and opened by "[" or a
//     quote — the fmt output of a name/value pair such as "[cookie v]" or
//     "{Name:cookie Value:v}": the value, to the closing bracket, brace,
//     quote or end of line, becomes "[masked]".
//   - e-mail addresses, local@domain.tld, ending with the two or more letters
//     that follow the last dot of the domain: "[email]".
//   - runs of 32 or more base64 or base64url characters (A-Z a-z 0-9 + / - _,
//     plus trailing "=") that are all hex digits or that mix digits and upper
//     case letters: "[blob]"; in other runs, each embedded run of 32 or more
//     hex digits: "[blob]". Lower-case words, paths and UUIDs are left.
//   - numbers: a span of whole digit groups, not part of a longer digit run,
//     where groups may be joined by single spaces or dashes (every group but
//     the last at least 3 digits long, except a leading 86 or 0086):
//     18 characters (17 digits and a digit or X) with a valid ISO 7064
//     MOD 11-2 check character: "[id-number]"; 11 digits 1[3-9]xxxxxxxxx,
//     optionally after 86 or 0086: "[phone]"; 13 to 19 digits passing the
//     Luhn check: "[card]". The longest match wins, then the rule listed
//     first.
//
// Redact is safe for concurrent use and does not allocate when s needs no
// change.
func Redact(s string) string {
	if !needsScan(s) {
		return s
	}
	s = redactPEM(s)
	s = redactURLPasswords(s)
	s = redactJWT(s)
	s = redactSchemes(s)
	s = redactAssignments(s)
	s = redactHeaderValues(s)
	s = redactLabelledPairs(s)
	s = redactEmails(s)
	s = redactBlobs(s)
	return redactNumbers(s)
}

// needsScan reports whether any rule of Redact could match s. It is a cheap
// pre-check that keeps short, harmless strings on a fast path.
func needsScan(s string) bool {
	if len(s) >= blobMin {
		return true
	}
	digits := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case isDigit(c):
			digits++
			if digits >= phoneLen {
				return true
			}
		case c == '@' || c == '=' || c == ':':
			return true
		case c == 'e':
			if strings.HasPrefix(s[i:], "eyJ") {
				return true
			}
		case c|0x20 == 'b' || c|0x20 == 'd':
			if hasPrefixFold(s[i:], "bearer") || hasPrefixFold(s[i:], "basic") || hasPrefixFold(s[i:], "digest") {
				return true
			}
		case c|0x20 == 'a' || c|0x20 == 'c' || c|0x20 == 'x':
			if hasPrefixFold(s[i:], "api") || hasPrefixFold(s[i:], "authorization") || hasPrefixFold(s[i:], "cookie") {
				return true
			}
		case c == '-':
			if strings.HasPrefix(s[i:], "-----") {
				return true
			}
		}
	}
	return false
}

// rewriter builds a copy of a string with some spans replaced, allocating only
// at the first replacement.
type rewriter struct {
	s    string
	b    strings.Builder
	last int // s[:last] has been written or replaced
	used bool
}

// replace writes s[r.last:start] and then tok in place of s[start:end].
func (r *rewriter) replace(start, end int, tok string) {
	if !r.used {
		r.used = true
		r.b.Grow(len(r.s))
	}
	r.b.WriteString(r.s[r.last:start])
	r.b.WriteString(tok)
	r.last = end
}

// result returns the rewritten string.
func (r *rewriter) result() string {
	if !r.used {
		return r.s
	}
	r.b.WriteString(r.s[r.last:])
	return r.b.String()
}

// redactPEM replaces PEM blocks.
func redactPEM(s string) string {
	if !strings.Contains(s, "-----BEGIN") {
		return s
	}
	rw := rewriter{s: s}
	for pos := 0; ; {
		i := strings.Index(s[pos:], "-----BEGIN")
		if i < 0 {
			break
		}
		start := pos + i
		end := len(s)
		if j := strings.Index(s[start:], "-----END"); j >= 0 {
			after := start + j + len("-----END")
			if k := strings.Index(s[after:], "-----"); k >= 0 {
				end = after + k + len("-----")
			}
		}
		rw.replace(start, end, tokenPEM)
		pos = end
	}
	return rw.result()
}

// redactURLPasswords masks the password in "scheme://user:password@host".
// The user information ends at the last "@" before the authority ends (a
// "/", "?", "#", blank, quote or bracket), as RFC 3986 reads it.
func redactURLPasswords(s string) string {
	if !strings.Contains(s, "://") {
		return s
	}
	rw := rewriter{s: s}
	for pos := 0; ; {
		i := strings.Index(s[pos:], "://")
		if i < 0 {
			break
		}
		start := pos + i + len("://")
		end := start
		for end < len(s) && !strings.ContainsRune("/?# \t\r\n\"'`<>[]{}()", rune(s[end])) {
			end++
		}
		at := strings.LastIndexByte(s[start:end], '@')
		if at >= 0 {
			if colon := strings.IndexByte(s[start:start+at], ':'); colon >= 0 {
				rw.replace(start+colon+1, start+at, tokenMasked)
			}
		}
		pos = max(end, start)
	}
	return rw.result()
}

// isB64URL reports whether c is a base64url character.
func isB64URL(c byte) bool {
	return isAlnum(c) || c == '-' || c == '_'
}

// spanB64URL returns the end of the run of base64url characters at s[i:].
func spanB64URL(s string, i int) int {
	for i < len(s) && isB64URL(s[i]) {
		i++
	}
	return i
}

// redactJWT replaces JSON Web Tokens (and JWE compact serialisations).
func redactJWT(s string) string {
	if !strings.Contains(s, "eyJ") {
		return s
	}
	rw := rewriter{s: s}
	for pos := 0; ; {
		i := strings.Index(s[pos:], "eyJ")
		if i < 0 {
			break
		}
		start := pos + i
		// On a mismatch, skip the whole first segment: a later "eyJ" inside
		// it would end at the same place and fail the same way. This keeps
		// the pass linear.
		end := spanB64URL(s, start)
		if end >= len(s) || s[end] != '.' {
			pos = end
			continue
		}
		second := spanB64URL(s, end+1)
		if second == end+1 || second >= len(s) || s[second] != '.' {
			pos = end
			continue
		}
		end = spanB64URL(s, second+1)
		for end+1 < len(s) && s[end] == '.' && isB64URL(s[end+1]) {
			end = spanB64URL(s, end+1)
		}
		rw.replace(start, end, tokenJWT)
		pos = end
	}
	return rw.result()
}

// isToken68 reports whether c may appear in an RFC 6750 token68 credential.
func isToken68(c byte) bool {
	return isAlnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/'
}

// credentialSchemes are the HTTP authentication schemes whose credential
// Redact replaces wherever the scheme name appears as a word.
var credentialSchemes = [...]string{"bearer", "basic", "apikey", "digest"}

// redactSchemes replaces the credential after an authentication scheme
// name ("Bearer", "Basic", "ApiKey": a token68; "Digest": its auth-params,
// to the end of the line).
func redactSchemes(s string) string {
	rw := rewriter{s: s}
	for i := 0; i < len(s); i++ {
		if c := s[i] | 0x20; c != 'b' && c != 'a' && c != 'd' || i > 0 && isLetter(s[i-1]) {
			continue
		}
		scheme := ""
		for _, sc := range credentialSchemes {
			if hasPrefixFold(s[i:], sc) {
				scheme = sc
				break
			}
		}
		if scheme == "" {
			continue
		}
		j := i + len(scheme)
		blank := j
		for j < len(s) && (s[j] == ' ' || s[j] == '\t') {
			j++
		}
		if j == blank {
			continue
		}
		end := j
		for end < len(s) && isToken68(s[end]) {
			end++
		}
		if end == j || isTokenAt(s, j) {
			continue
		}
		if isScheme(s[j:end]) {
			i = j - 1 // "ApiKey Bearer x": the credential is the inner scheme's
			continue
		}
		if scheme == "digest" {
			if end >= len(s) || s[end] != '=' {
				continue // prose, not auth-params
			}
			for end < len(s) && s[end] != '\r' && s[end] != '\n' {
				end++
			}
		}
		if end < len(s) && s[end] == ':' {
			continue // "ApiKey Value:...": a label, not a credential
		}
		pad := end
		for end < len(s) && s[end] == '=' {
			end++
		}
		if end > pad {
			for end < len(s) && !isValueEnd(s[end]) && s[end] != '[' {
				end++ // "name=value" after the scheme, not token68 padding
			}
		}
		rw.replace(j, end, tokenBearer)
		i = end - 1
	}
	return rw.result()
}

// isScheme reports whether w is an authentication scheme name.
func isScheme(w string) bool {
	for _, sc := range credentialSchemes {
		if strings.EqualFold(w, sc) {
			return true
		}
	}
	return false
}

// headerNames are the credential-bearing HTTP field names. In text, a value
// that follows one of them (as in the fmt output of a name/value pair:
// "[cookie v]", "{Name:cookie Value:v}") is masked.
var headerNames = [...]string{"proxy-authorization", "authorization", "set-cookie", "cookie", "x-api-key", "api-key", "api_key", "apikey"}

// headerNameAt returns the length of the credential header name at s[i], or
// 0 when none starts there as a whole word.
func headerNameAt(s string, i int) int {
	if c := s[i] | 0x20; c != 'p' && c != 'a' && c != 's' && c != 'c' && c != 'x' || i > 0 && isKeyChar(s[i-1]) {
		return 0
	}
	for _, h := range headerNames {
		if hasPrefixFold(s[i:], h) && (i+len(h) == len(s) || !isKeyChar(s[i+len(h)])) {
			return len(h)
		}
	}
	return 0
}

// redactHeaderValues masks the value that follows a credential header name
// after blanks or a comma, optionally labelled "value:" or "Value=" and
// opened by "[" or a quote; ":" and "=" right after the name are left to
// redactAssignments.
func redactHeaderValues(s string) string {
	rw := rewriter{s: s}
	for i := 0; i < len(s); i++ {
		n := headerNameAt(s, i)
		if n == 0 {
			continue
		}
		k := i + n
		if k < len(s) && (s[k] == '"' || s[k] == '\'') {
			k++
		}
		sep := k
		for k < len(s) && (s[k] == ' ' || s[k] == '\t' || s[k] == ',') {
			k++
		}
		if k == sep {
			i = k - 1
			continue
		}
		for _, label := range [...]string{"values", "value"} {
			if hasPrefixFold(s[k:], label) && k+len(label) < len(s) && (s[k+len(label)] == ':' || s[k+len(label)] == '=') {
				k += len(label) + 1
				break
			}
		}
		if isTokenAt(s, k) {
			i = k - 1
			continue
		}
		for k < len(s) && s[k] == '[' {
			k++
		}
		end := k
		if k < len(s) && (s[k] == '"' || s[k] == '\'') {
			q := s[k]
			k++
			end = k
			for end < len(s) && s[end] != q {
				if s[end] == '\\' && end+1 < len(s) {
					end++
				}
				end++
			}
			end = min(end, len(s))
		} else {
			for end < len(s) && !strings.ContainsRune("[]})\r\n\"", rune(s[end])) {
				end++ // "[" starts a replacement token of an earlier rule
			}
			for end > k && (s[end-1] == ' ' || s[end-1] == '\t') {
				end--
			}
		}
		if end == k || isTokenAt(s, k) {
			i = k - 1
			continue
		}
		rw.replace(k, end, tokenMasked)
		i = end - 1
	}
	return rw.result()
}

// redactLabelledPairs masks the value of a labelled name/value pair whose
// name is a credential or payload key, as fmt's %+v prints a struct with
// Name (or Key) and Value fields: "{Name:password Value:v}" or
// "Key:token, Value:v".
func redactLabelledPairs(s string) string {
	rw := rewriter{s: s}
	for i := 0; i < len(s); i++ {
		if c := s[i] | 0x20; c != 'n' && c != 'k' || i > 0 && isKeyChar(s[i-1]) {
			continue
		}
		var n int
		switch {
		case hasPrefixFold(s[i:], "name:") || hasPrefixFold(s[i:], "name="):
			n = len("name:")
		case hasPrefixFold(s[i:], "key:") || hasPrefixFold(s[i:], "key="):
			n = len("key:")
		default:
			continue
		}
		j := i + n
		w := j
		for w < len(s) && (isKeyChar(s[w]) || s[w] == '"') {
			w++
		}
		if w == j || classifyKey(strings.Trim(s[j:w], `"`)) == keyPlain {
			continue
		}
		k := w
		for k < len(s) && (s[k] == ' ' || s[k] == '\t' || s[k] == ',') {
			k++
		}
		label := 0
		for _, l := range [...]string{"values", "value"} {
			if hasPrefixFold(s[k:], l) && k+len(l) < len(s) && (s[k+len(l)] == ':' || s[k+len(l)] == '=') {
				label = len(l) + 1
				break
			}
		}
		if k == w || label == 0 {
			continue
		}
		v := k + label
		if isTokenAt(s, v) {
			i = v - 1
			continue
		}
		end := v
		for end < len(s) && !strings.ContainsRune("}\r\n", rune(s[end])) {
			end++ // to the end of the struct or line
		}
		if end == v {
			continue
		}
		rw.replace(v, end, tokenMasked)
		i = end - 1
	}
	return rw.result()
}

// isKeyChar reports whether c may appear in a key of a key=value pair.
func isKeyChar(c byte) bool {
	return isAlnum(c) || c == '-' || c == '_' || c == '.'
}

// isValueEnd reports whether c ends an unquoted value of a key=value pair.
func isValueEnd(c byte) bool {
	switch c {
	case ' ', '\t', '\r', '\n', '&', ';', ',', '"', '\'', ')', ']', '}', '<', '>':
		return true
	}
	return false
}

// isHeaderLineKey reports whether key is an HTTP header whose value is a
// credential to the end of the line.
func isHeaderLineKey(key string) bool {
	for _, h := range [...]string{"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"} {
		if strings.EqualFold(key, h) {
			return true
		}
	}
	return false
}

// redactAssignments masks the values of credential keys written as
// key=value, "key": value or an HTTP header line.
func redactAssignments(s string) string {
	if strings.IndexByte(s, '=') < 0 && strings.IndexByte(s, ':') < 0 {
		return s
	}
	rw := rewriter{s: s}
	for i := 0; i < len(s); i++ {
		sep := s[i]
		if sep != '=' && sep != ':' {
			continue
		}
		keyEnd := i
		quoted := keyEnd > rw.last && s[keyEnd-1] == '"'
		if quoted {
			keyEnd--
		}
		keyStart := keyEnd
		for keyStart > rw.last && isKeyChar(s[keyStart-1]) {
			keyStart--
		}
		if keyStart == keyEnd || (quoted && (keyStart == rw.last || s[keyStart-1] != '"')) {
			continue
		}
		key := s[keyStart:keyEnd]
		toEOL := false
		switch {
		case sep == ':' && !quoted && isHeaderLineKey(key):
			toEOL = true
		case sep == ':' && !quoted:
			// "Password:v" as fmt's %+v writes a field, but not prose
			// such as "psk: unknown key ID".
			// "Key:" is the label of a name/value pair
			// (redactLabelledPairs), not a credential.
			if classifyKey(key) != keySecret || strings.EqualFold(key, "key") || i+1 >= len(s) || s[i+1] == ' ' || s[i+1] == '\t' {
				continue
			}
		case classifyKey(key) != keySecret:
			continue
		}
		v := i + 1
		for v < len(s) && (s[v] == ' ' || s[v] == '\t') {
			v++
		}
		end := v
		switch {
		case toEOL:
			for end < len(s) && s[end] != '\r' && s[end] != '\n' {
				end++
			}
		case end < len(s) && (s[end] == '"' || s[end] == '\''):
			q := s[end]
			end++
			for end < len(s) && s[end] != q {
				if s[end] == '\\' && end+1 < len(s) {
					end++
				}
				end++
			}
			if end < len(s) {
				end++
			}
		default:
			for end < len(s) && !isValueEnd(s[end]) {
				end++
			}
		}
		if end == v || isTokenAt(s, v) {
			continue
		}
		rw.replace(v, end, tokenMasked)
		i = end - 1
	}
	return rw.result()
}

// isTokenAt reports whether a replacement token starts at s[i], so that a
// value already replaced by an earlier rule is left alone.
func isTokenAt(s string, i int) bool {
	if i >= len(s) || s[i] != '[' {
		return false
	}
	for _, tok := range [...]string{tokenMasked, tokenJWT, tokenPEM, tokenBearer} {
		if strings.HasPrefix(s[i:], tok) {
			return true
		}
	}
	return false
}

// isEmailLocal reports whether c may appear in the local part of an address.
func isEmailLocal(c byte) bool {
	return isAlnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-'
}

// redactEmails replaces e-mail addresses.
func redactEmails(s string) string {
	if strings.IndexByte(s, '@') < 0 {
		return s
	}
	rw := rewriter{s: s}
	for i := 0; i < len(s); i++ {
		if s[i] != '@' {
			continue
		}
		start := i
		for start > rw.last && isEmailLocal(s[start-1]) {
			start--
		}
		if start == i {
			continue
		}
		end := i + 1
		for end < len(s) && (isAlnum(s[end]) || s[end] == '.' || s[end] == '-') {
			end++
		}
		// The address ends after the last run of two or more letters that
		// follows a dot of the domain (its TLD), whatever comes after: only
		// letters decide, so a later rule cannot move the end.
		tldEnd := -1
		for d := i + 2; d < end; d++ {
			if s[d-1] != '.' || d-1 == i+1 {
				continue
			}
			e := d
			for e < end && isLetter(s[e]) {
				e++
			}
			if e-d >= 2 {
				tldEnd = e
			}
		}
		if tldEnd < 0 {
			continue
		}
		end = tldEnd
		rw.replace(start, end, tokenEmail)
		i = end - 1
	}
	return rw.result()
}

// isBlobChar reports whether c is a base64 or base64url character.
func isBlobChar(c byte) bool {
	return isAlnum(c) || c == '+' || c == '/' || c == '-' || c == '_'
}

// redactBlobs replaces long base64 and hex runs.
func redactBlobs(s string) string {
	if len(s) < blobMin {
		return s
	}
	rw := rewriter{s: s}
	for i := 0; i < len(s); {
		if !isBlobChar(s[i]) {
			i++
			continue
		}
		j := i
		allHex, hasDigit, hasUpper := true, false, false
		for ; j < len(s) && isBlobChar(s[j]); j++ {
			c := s[j]
			switch {
			case isDigit(c):
				hasDigit = true
			case c >= 'A' && c <= 'Z':
				hasUpper = true
				allHex = allHex && c <= 'F'
			case c >= 'a' && c <= 'f':
			default:
				allHex = false
			}
		}
		switch {
		case j-i >= blobMin && (allHex || (hasDigit && hasUpper)):
			for j < len(s) && s[j] == '=' {
				j++
			}
			rw.replace(i, j, tokenBlob)
		case j-i >= blobMin:
			// Not a blob as a whole, but it may embed one in hex, as in
			// "sha256-<64 hex digits>" or "key_<hex>".
			for h := i; h < j; {
				if !isHexDigit(s[h]) {
					h++
					continue
				}
				e := h
				for e < j && isHexDigit(s[e]) {
					e++
				}
				if e-h >= blobMin {
					rw.replace(h, e, tokenBlob)
				}
				h = e
			}
		}
		i = j
	}
	return rw.result()
}

// digitGroup is one maximal run of digits inside a number.
type digitGroup struct {
	start, end int  // s[start:end] are the digits
	x          bool // s[end] is an ID number check character X or x
}

// redactNumbers replaces PRC ID numbers, mobile numbers and bank card
// numbers.
func redactNumbers(s string) string {
	digits := 0
	for i := 0; i < len(s); i++ {
		if isDigit(s[i]) {
			digits++
		}
	}
	if digits < phoneLen {
		return s
	}
	rw := rewriter{s: s}
	var groupsBuf [8]digitGroup
	groups := groupsBuf[:0]
	for i := 0; i < len(s); {
		if !isDigit(s[i]) {
			i++
			continue
		}
		groups = collectGroups(s, i, groups[:0])
		redactGroups(&rw, s, groups)
		last := groups[len(groups)-1]
		i = last.end
	}
	return rw.result()
}

// collectGroups appends to groups the digit groups of the number starting at
// s[i]: maximal digit runs joined by a single space or dash.
func collectGroups(s string, i int, groups []digitGroup) []digitGroup {
	for {
		g := digitGroup{start: i}
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		g.end = i
		if i < len(s) && (s[i] == 'X' || s[i] == 'x') {
			g.x = true
			return append(groups, g)
		}
		groups = append(groups, g)
		if i+1 < len(s) && (s[i] == ' ' || s[i] == '-') && isDigit(s[i+1]) {
			i++
			continue
		}
		return groups
	}
}

// redactGroups replaces, left to right, the longest spans of whole groups
// that match a number rule. A span may grow past a group only if that group
// has at least 3 digits or is a leading country code 86.
func redactGroups(rw *rewriter, s string, groups []digitGroup) {
	var buf [spanMax + 1]byte
	for gi := 0; gi < len(groups); {
		bestEnd, bestTok := -1, ""
		n := 0
		for gj := gi; gj < len(groups); gj++ {
			if gj > gi {
				p := groups[gj-1]
				if p.end-p.start < 3 && (gj-1 != gi || s[p.start:p.end] != "86") {
					break
				}
			}
			g := groups[gj]
			if n+g.end-g.start > spanMax {
				break
			}
			n += copy(buf[n:], s[g.start:g.end])
			if tok := matchNumber(buf[:n]); tok != "" {
				bestEnd, bestTok = g.end, tok
			}
			if g.x && n == idLen-1 {
				buf[n] = 'X'
				if idNumberValid(buf[:idLen]) {
					bestEnd, bestTok = g.end+1, tokenIDNumber
				}
			}
		}
		if bestEnd < 0 {
			gi++
			continue
		}
		rw.replace(groups[gi].start, bestEnd, bestTok)
		for gi < len(groups) && groups[gi].start < bestEnd {
			gi++
		}
	}
}

// matchNumber returns the token for the all-digit number d, or "" when d
// matches no rule.
func matchNumber(d []byte) string {
	switch {
	case len(d) == idLen && idNumberValid(d):
		return tokenIDNumber
	case isMobile(d):
		return tokenPhone
	case len(d) >= cardMin && len(d) <= cardMax && luhnValid(d):
		return tokenCard
	}
	return ""
}

// isMobile reports whether d is a mainland China mobile number, optionally
// after the country code 86 or 0086.
func isMobile(d []byte) bool {
	switch {
	case len(d) == phoneLen+2 && d[0] == '8' && d[1] == '6':
		d = d[2:]
	case len(d) == phoneLen+4 && string(d[:4]) == "0086":
		d = d[4:]
	}
	return len(d) == phoneLen && d[0] == '1' && d[1] >= '3' && d[1] <= '9'
}

// idNumberValid reports whether d, 17 digits and a digit or X, carries a valid
// ISO 7064 MOD 11-2 check character (GB 11643-1999).
func idNumberValid(d []byte) bool {
	if len(d) != idLen {
		return false
	}
	weights := [idLen - 1]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i, w := range weights {
		if !isDigit(d[i]) {
			return false
		}
		sum += int(d[i]-'0') * w
	}
	c := d[idLen-1]
	if c == 'x' {
		c = 'X'
	}
	return "10X98765432"[sum%11] == c
}

// luhnValid reports whether the digits d pass the Luhn check.
func luhnValid(d []byte) bool {
	sum := 0
	double := false
	for i := len(d) - 1; i >= 0; i-- {
		n := int(d[i] - '0')
		if double {
			n *= 2
			if n > 9 {
				n -= 9
			}
		}
		sum += n
		double = !double
	}
	return sum%10 == 0
}

// hasPrefixFold reports whether s begins with the lower-case ASCII prefix,
// ignoring case.
func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// isHexDigit reports whether c is a hexadecimal digit.
func isHexDigit(c byte) bool { return isDigit(c) || (c|0x20 >= 'a' && c|0x20 <= 'f') }

// isLetter reports whether c is an ASCII letter.
func isLetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

// isDigit reports whether c is an ASCII digit.
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// isAlnum reports whether c is an ASCII letter or digit.
func isAlnum(c byte) bool {
	return isDigit(c) || (c|0x20 >= 'a' && c|0x20 <= 'z')
}
