// Package route decides, once per request, what kind of request it is:
// health probe, auth description, PSK envelope, Oblivious HTTP request or key configuration,
// legacy envelope, allowlisted plain route, or refused. The server's third
// middleware (after the panic guard and the request ID) stores the Kind in the request's context; the gateway
// dispatches on it and the auth and rate-limit policies are chosen by it, so
// the three can never disagree.
package route

import (
	"context"
	"mime"
	"net/http"
	"strings"

	coreapi "github.com/sealocr/sealocr/core/api"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/ohttp"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/psk"
)

// LegacyPath is the legacy mode's path by default (the sidecar's
// legacy_path setting declares the same default; a test in config checks
// that they agree).
const LegacyPath = "/ocr"

// OHTTPPath is the Oblivious HTTP gateway and key configuration resource.
const OHTTPPath = coreapi.OHTTPPath

// Kind is the kind of a request.
type Kind int

// Kinds, in the order Classify tests them.
const (
	// Refused is an unencrypted request outside the plain allowlist.
	Refused Kind = iota
	// Health is GET or HEAD /healthz or /readyz, answered by the sidecar.
	Health
	// OHTTP is a POST to OHTTPPath.
	OHTTP
	// OHTTPKeys is any other method on OHTTPPath (GET and HEAD fetch the key
	// configurations).
	OHTTPKeys
	// PSK is a POST of the PSK envelope's media type.
	PSK
	// Legacy is a POST to the legacy path when legacy mode is on.
	Legacy
	// Plain is an allowlisted plain route, proxied as it is.
	Plain
	// AuthInfo is GET or HEAD AuthInfoPath, answered by the sidecar (never
	// forwarded, whatever the plain allowlist says).
	AuthInfo
)

// AuthInfoPath is the sidecar's public description of what clients need
// (sidecar/api.AuthInfoPath).
const AuthInfoPath = coreapi.AuthInfoPath

var names = [...]string{"refused", "health", "ohttp", "ohttp_keys", "psk", "legacy", "plain", "auth_info"}

// Policy returns the kind whose authentication mode and rate-limit policy
// apply to k: the health probes and the auth description share Health
// (never authenticated or limited), PSK, OHTTP and Legacy have their own,
// and everything else (plain routes, the OHTTP key configuration, requests
// the gateway refuses) is Plain. Policies are keyed by these five kinds.
func (k Kind) Policy() Kind {
	switch k {
	case Health, AuthInfo:
		return Health
	case PSK, OHTTP, Legacy:
		return k
	}
	return Plain
}

// String returns the kind's name.
func (k Kind) String() string {
	if k < 0 || int(k) >= len(names) {
		return "refused"
	}
	return names[k]
}

// Rules are the routing rules. The zero value knows no legacy path and no
// plain route.
type Rules struct {
	// LegacyEnabled turns legacy mode on, at LegacyPath.
	LegacyEnabled bool
	// LegacyPath is the legacy mode's path (LegacyPath when empty).
	LegacyPath string
	// Plain reports whether an unencrypted request may be proxied as is;
	// nil allows none.
	Plain func(method, path string) bool
}

// Classify returns the kind of r.
func (rs Rules) Classify(r *http.Request) Kind {
	p := r.URL.Path
	post := r.Method == http.MethodPost
	legacyPath := rs.LegacyPath
	if legacyPath == "" {
		legacyPath = LegacyPath
	}
	switch {
	case (r.Method == http.MethodGet || r.Method == http.MethodHead) && (p == coreapi.HealthPath || p == coreapi.ReadyPath):
		return Health
	case (r.Method == http.MethodGet || r.Method == http.MethodHead) && p == AuthInfoPath:
		return AuthInfo
	case p == OHTTPPath && post:
		return OHTTP
	case p == OHTTPPath:
		return OHTTPKeys
	case post && MediaType(r) == psk.RequestMediaType:
		return PSK
	case rs.LegacyEnabled && post && p == legacyPath:
		return Legacy
	case rs.Plain != nil && rs.Plain(r.Method, p):
		return Plain
	}
	return Refused
}

// MediaType returns the lower-cased media type of r's Content-Type, or "".
func MediaType(r *http.Request) string {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return strings.ToLower(mt)
}

// IsOHTTPRequest reports whether r carries the OHTTP request media type.
func IsOHTTPRequest(r *http.Request) bool { return MediaType(r) == ohttp.RequestMediaType }

type ctxKey struct{}

// WithKind returns ctx carrying k.
func WithKind(ctx context.Context, k Kind) context.Context {
	return context.WithValue(ctx, ctxKey{}, k)
}

// FromContext returns the kind stored by Middleware, if any.
func FromContext(ctx context.Context) (Kind, bool) {
	k, ok := ctx.Value(ctxKey{}).(Kind)
	return k, ok
}

// Of returns the kind stored in r's context, or classifies r under rs when
// none is (a handler used outside the server's chain).
func (rs Rules) Of(r *http.Request) Kind {
	if k, ok := FromContext(r.Context()); ok {
		return k
	}
	return rs.Classify(r)
}

// Middleware classifies each request once and stores its kind in the
// request's context.
func (rs Rules) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(WithKind(r.Context(), rs.Classify(r))))
	})
}

// ValidTarget reports whether target is a request-target in origin form
// as RFC 9112 §3.2.1 defines it: "/" and path segments, optionally "?" and
// a query, every byte a pchar of RFC 3986 (unreserved, sub-delims, ":",
// "@", or "%" and two hex digits), "/" or, in the query, "?". An inner
// request (OHTTP's Binary HTTP path, a PSK envelope's bound target) is
// forwarded only when it is one: a raw space, control byte, quote or
// non-ASCII byte would reach the upstream's request line, where a server
// other than Go's may split it differently (another version, a smuggled
// header or request).
func ValidTarget(target string) bool {
	if !strings.HasPrefix(target, "/") {
		return false
	}
	for i := 0; i < len(target); i++ {
		switch c := target[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("-._~!$&'()*+,;=:@/", c) >= 0:
		case c == '?': // starts the query; the query may hold more
		case c == '%':
			if i+2 >= len(target) || !isHex(target[i+1]) || !isHex(target[i+2]) {
				return false
			}
			i += 2
		default:
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}
