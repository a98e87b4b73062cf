// Package auth authenticates the sidecar's clients: bearer JWTs (HS256 with a
// key file; RS256, ES256 and EdDSA with public key files or a JWKS file or
// URL), ID tokens of an OpenID Provider (its JWKS found through its
// discovery document, then verified by the same JWT code) and API keys
// stored hashed in a file.
//
// Credentials travel in "Authorization: Bearer <token>" (a JWT, or an API
// key when the token is not a JWT) or in "X-API-Key: <key>". Each route has
// a Mode: off (credentials ignored), optional (checked when present) or
// required. A refusal is a 401 with a WWW-Authenticate challenge (RFC 6750)
// and a fixed body; the detail goes to the log, never the token itself.
//
// JWTs: the algorithm is pinned per key (a key is used only with its one
// algorithm, so "none" and HS/RS confusion cannot happen); exp is required,
// nbf, iss and aud are checked, with a small clock skew; sub is the
// identity. Keys are chosen by the token's kid (optional when there is only
// one key). A JWKS URL is cached, refreshed periodically and refetched
// (rate-limited) when a token names an unknown kid, so rotated keys are
// accepted.
package auth

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/sealocr/sealocr/sidecar/api"
	"github.com/sealocr/sealocr/sidecar/logging"
)

// Mode is how a route treats credentials.
type Mode int

// Modes.
const (
	// Off ignores credentials.
	Off Mode = iota
	// Optional checks credentials when present; requests without any are
	// anonymous.
	Optional
	// Required refuses requests without valid credentials.
	Required
)

// ParseMode parses "off", "optional" or "required".
func ParseMode(s string) (Mode, error) {
	switch s {
	case "off":
		return Off, nil
	case "optional":
		return Optional, nil
	case "required":
		return Required, nil
	}
	return Off, ErrBadMode
}

// String returns the mode's name.
func (m Mode) String() string {
	switch m {
	case Optional:
		return "optional"
	case Required:
		return "required"
	}
	return "off"
}

// Identity is an authenticated client.
type Identity struct {
	// Method is "jwt", "oidc" (a token of the OpenID Provider) or "api_key".
	Method string
	// Subject is the JWT subject or the API key's ID.
	Subject string
}

// Key returns the rate-limiting key of the identity.
func (id Identity) Key() string { return id.Method + ":" + id.Subject }

// Options configure New.
type Options struct {
	// JWT configures bearer JWTs; with no key source JWTs are refused.
	JWT JWTOptions
	// OIDC configures an OpenID Provider whose tokens are accepted (off
	// when its Issuer is empty). It shares JWT's ClockSkew, JWKSRefresh,
	// HTTPClient and Now.
	OIDC OIDCOptions
	// APIKeysFile is a YAML file of API key hashes; "" accepts no API key.
	APIKeysFile string
	// Realm is the WWW-Authenticate realm; "" means "sealocr".
	Realm string
	// Logger receives refusals (never credentials); nil discards them.
	Logger *zap.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Authenticator checks credentials.
type Authenticator struct {
	jwt   *jwtVerifier
	oidc  *oidcProvider // nil without an OpenID Provider
	keys  *apiKeys
	realm string
	log   *zap.Logger
}

// New loads the key sources, reporting every problem at once.
func New(ctx context.Context, o Options) (*Authenticator, error) {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Realm == "" {
		o.Realm = "sealocr"
	}
	if o.JWT.Now == nil {
		o.JWT.Now = o.Now
	}
	a := &Authenticator{realm: o.Realm, log: o.Logger}
	var errs []error
	var err error
	if a.jwt, err = newJWTVerifier(ctx, o.JWT, o.Logger); err != nil {
		errs = append(errs, err)
	}
	if o.OIDC.Issuer != "" {
		if a.oidc, err = newOIDC(ctx, o.OIDC, a.jwt.o, o.Logger); err != nil {
			errs = append(errs, err)
		}
	}
	if o.APIKeysFile != "" {
		if a.keys, err = loadAPIKeys(o.APIKeysFile); err != nil {
			errs = append(errs, err)
		}
	}
	return a, errors.Join(errs...)
}

// Authenticate checks the credentials in h. It returns ErrNoCredentials when
// h carries none, and an error wrapping ErrInvalidToken or ErrInvalidAPIKey
// when they do not verify.
func (a *Authenticator) Authenticate(ctx context.Context, h http.Header) (Identity, error) {
	if k := h.Get("X-Api-Key"); k != "" {
		return a.apiKey(k)
	}
	v := h.Get("Authorization")
	if v == "" {
		return Identity{}, ErrNoCredentials
	}
	scheme, tok, ok := strings.Cut(v, " ")
	tok = strings.TrimSpace(tok)
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return Identity{}, ErrUnsupportedScheme
	}
	if strings.Count(tok, ".") == 2 {
		// The OpenID Provider's tokens go to its verifier, which checks iss
		// again; every other JWT to the configured keys.
		if a.oidc != nil && unverifiedIssuer(tok) == a.oidc.o.Issuer {
			return a.oidc.v.verify(ctx, tok)
		}
		return a.jwt.verify(ctx, tok)
	}
	return a.apiKey(tok)
}

func (a *Authenticator) apiKey(k string) (Identity, error) {
	id, ok := a.keys.lookup(k)
	if !ok {
		return Identity{}, ErrInvalidAPIKey
	}
	return Identity{Method: "api_key", Subject: id}, nil
}

type ctxKey struct{}

// WithIdentity returns ctx carrying id.
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// IdentityFrom returns the identity stored by Middleware, if any.
func IdentityFrom(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(ctxKey{}).(Identity)
	return id, ok
}

// Challenge returns the WWW-Authenticate value for err (RFC 6750 section 3):
// a bare challenge when credentials are missing, error="invalid_token"
// otherwise. It never carries the detail.
func (a *Authenticator) Challenge(err error) string {
	c := `Bearer realm=` + strconv.Quote(a.realm)
	if err != nil && !errors.Is(err, ErrNoCredentials) {
		c += `, error="invalid_token"`
	}
	return c
}

// CredentialHeaders are the request headers that may carry a client's
// credentials. StripCredentials removes them all, whatever the route's
// mode: the core authenticates nobody and must never see them. Cookie is
// among them: neither the sidecar nor the core sets or reads a cookie, so a
// browser's cookies for the sidecar's domain (set by some other application
// on it) could only leak.
var CredentialHeaders = []string{"Authorization", "X-Api-Key", "Cookie", "Proxy-Authorization"}

// HasCredentials reports whether h carries an Authorization or X-API-Key
// header.
func HasCredentials(h http.Header) bool {
	return h.Get("Authorization") != "" || h.Get("X-Api-Key") != ""
}

// StripCredentials is middleware that removes CredentialHeaders from every
// request before it goes on, so that with authentication off too they never
// reach the upstream. The server runs it after Middleware.
func StripCredentials(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, h := range CredentialHeaders {
			r.Header.Del(h)
		}
		next.ServeHTTP(w, r)
	})
}

// Guard limits authentication attempts; the server builds it on the rate
// limiter so that failed attempts count against the client's bucket. Nil
// functions allow everything.
type Guard struct {
	// Allow is called before the credentials of a request are checked; it
	// returns false when it has answered the request itself.
	Allow func(w http.ResponseWriter, r *http.Request) bool
	// Failed is called when credentials were refused, before the 401 is
	// written; it returns true when it has answered the request itself.
	Failed func(w http.ResponseWriter, r *http.Request) bool
}

// Middleware authenticates each request under the mode that mode returns
// for it. An authenticated identity is stored in the request's context and
// the credential headers are removed, so they never reach the upstream.
// Requests without credentials on a Required route, and requests with
// invalid credentials on any route that is not Off, are refused with 401.
// The optional guard is consulted before credentials are checked and after
// they fail.
func (a *Authenticator) Middleware(mode func(*http.Request) Mode, guard ...Guard) func(http.Handler) http.Handler {
	var g Guard
	if len(guard) > 0 {
		g = guard[0]
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			m := mode(r)
			if m == Off {
				next.ServeHTTP(w, r)
				return
			}
			if g.Allow != nil && HasCredentials(r.Header) && !g.Allow(w, r) {
				return
			}
			id, err := a.Authenticate(r.Context(), r.Header)
			r.Header.Del("Authorization")
			r.Header.Del("X-Api-Key")
			switch {
			case err == nil:
				logging.For(r.Context(), a.log).Debug("authenticated", zap.String("method", id.Method), logging.Subject(id.Subject))
				r = r.WithContext(WithIdentity(r.Context(), id))
			case errors.Is(err, ErrNoCredentials) && m == Optional:
			default:
				logging.For(r.Context(), a.log).Info("authentication refused", zap.String("path", r.URL.Path), zap.Error(err))
				if g.Failed != nil && g.Failed(w, r) {
					return
				}
				a.Refuse(w, err)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// Refuse writes the 401 answer for err: api.Unauthorized with the
// challenge for err.
func (a *Authenticator) Refuse(w http.ResponseWriter, err error) {
	w.Header().Set(api.HeaderWWWAuthenticate, a.Challenge(err))
	api.Write(w, api.Unauthorized)
}

// Configured reports whether any credential source (a JWT key or an API key
// file) is configured; without one, only anonymous requests can pass.
func (a *Authenticator) Configured() bool {
	return a.jwt.hasKeys() || a.keys != nil || a.oidc != nil
}

// Methods returns the credential kinds a configured source accepts:
// "api_key" when an API key file is loaded, "jwt" when a JWT key is. It
// names kinds only, never keys.
func (a *Authenticator) Methods() []string {
	m := []string{}
	if a == nil {
		return m
	}
	if a.keys != nil {
		m = append(m, "api_key")
	}
	if a.jwt.hasKeys() {
		m = append(m, "jwt")
	}
	if a.oidc != nil {
		m = append(m, "oidc")
	}
	return m
}

// OIDC describes the OpenID Provider for clients (GET /v1/auth-info): its
// issuer, the WebUI's client ID and scopes, and, once discovery succeeded,
// its authorization and token endpoints. Nil without a provider. It holds
// no secret: the client is public.
func (a *Authenticator) OIDC() *api.AuthInfoOIDC {
	if a == nil || a.oidc == nil {
		return nil
	}
	o := a.oidc.o
	info := &api.AuthInfoOIDC{Issuer: o.Issuer, ClientID: o.ClientID, Scopes: append([]string{}, o.Scopes...)}
	if d := a.oidc.Discovered(); d != nil {
		info.AuthorizationEndpoint, info.TokenEndpoint = d.AuthorizationEndpoint, d.TokenEndpoint
	}
	return info
}

// OIDCReady reports whether the OpenID Provider's keys are known, so that
// its tokens can verify (false without a provider).
func (a *Authenticator) OIDCReady() bool {
	if a == nil || a.oidc == nil {
		return false
	}
	a.oidc.v.mu.RLock()
	defer a.oidc.v.mu.RUnlock()
	return len(a.oidc.v.remote) > 0
}
