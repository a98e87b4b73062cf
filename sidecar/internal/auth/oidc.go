package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// OIDCOptions configure an OpenID Provider whose tokens are accepted. The
// provider's discovery document (Issuer + "/.well-known/openid-configuration")
// names its JWKS, which the JWT verifier then uses as a JWKS URL: cached,
// refreshed, refetched on an unknown kid.
type OIDCOptions struct {
	// Issuer is the provider's issuer URL; "" turns OIDC off. The
	// discovery document must name the same issuer, and tokens must carry
	// it in iss.
	Issuer string
	// ClientID is the WebUI's client ID at the provider (a public client).
	ClientID string
	// Audience are the accepted aud values; empty means ClientID (the aud
	// of the provider's ID tokens for that client).
	Audience []string
	// Scopes are what the WebUI asks for (published, not checked).
	Scopes []string
	// RetryMin and RetryMax bound the backoff of discovery while the
	// provider cannot be reached; zero means 1 s and 1 min.
	RetryMin, RetryMax time.Duration
}

// Discovery is what the sidecar uses of an OpenID Provider's discovery
// document (OpenID Connect Discovery 1.0 section 3).
type Discovery struct {
	Issuer                string   `json:"issuer"`
	AuthorizationEndpoint string   `json:"authorization_endpoint"`
	TokenEndpoint         string   `json:"token_endpoint"`
	JWKSURI               string   `json:"jwks_uri"`
	CodeChallengeMethods  []string `json:"code_challenge_methods_supported"`
}

// CheckIssuer reports an issuer URL the sidecar does not accept: it must
// be https (http only on a loopback host), without query, fragment or user
// information (OpenID Connect Discovery 1.0 section 2).
func CheckIssuer(issuer string) error {
	u, err := url.Parse(issuer)
	if err != nil || u.Host == "" {
		return errors.New("want an absolute https URL")
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return errors.New("want no query, fragment or user information")
	}
	if !secureURL(u) {
		return errors.New("want https (http only on loopback)")
	}
	return nil
}

// secureURL reports an https URL, or an http one on a loopback host.
func secureURL(u *url.URL) bool {
	if u.Scheme == "https" {
		return true
	}
	if u.Scheme != "http" {
		return false
	}
	h := u.Hostname()
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// oidcProvider verifies an OpenID Provider's tokens with a jwtVerifier whose
// JWKS URL comes from discovery.
type oidcProvider struct {
	o   OIDCOptions
	v   *jwtVerifier
	log *zap.Logger
	doc atomic.Pointer[Discovery]
}

// newOIDC discovers the provider once; a document naming another issuer
// (or an insecure JWKS URL) is an error. A provider that cannot be reached
// is not: discovery is retried in the background until ctx ends, and the
// provider's tokens are refused meanwhile.
func newOIDC(ctx context.Context, o OIDCOptions, base JWTOptions, log *zap.Logger) (*oidcProvider, error) {
	if err := CheckIssuer(o.Issuer); err != nil {
		return nil, fmt.Errorf("%w: issuer: %v", ErrKeySource, err)
	}
	if o.RetryMin <= 0 {
		o.RetryMin = time.Second
	}
	if o.RetryMax <= 0 {
		o.RetryMax = time.Minute
	}
	aud := o.Audience
	if len(aud) == 0 {
		aud = []string{o.ClientID}
	}
	jo := base
	jo.Issuer, jo.Audience = o.Issuer, aud
	jo.HS256KeyFile, jo.PublicKeyFiles, jo.JWKSFile, jo.JWKSURL = "", nil, "", ""
	v, err := newJWTVerifier(ctx, jo, log)
	if err != nil {
		return nil, err
	}
	v.method = "oidc"
	p := &oidcProvider{o: o, v: v, log: log}
	err = p.discover(ctx)
	switch {
	case err == nil:
	case errors.Is(err, ErrDiscoveryRefused):
		return nil, err
	default:
		log.Warn("OpenID Provider not reachable yet; its tokens are refused (401) until discovery succeeds, retrying in the background", zap.Error(err))
		go p.retry(ctx)
	}
	return p, nil
}

// retry discovers the provider with a growing backoff until it succeeds or
// ctx ends.
func (p *oidcProvider) retry(ctx context.Context) {
	wait := p.o.RetryMin
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		err := p.discover(ctx)
		if err == nil {
			return
		}
		if errors.Is(err, ErrDiscoveryRefused) {
			p.log.Error("OpenID Provider names another issuer; its tokens stay refused", zap.Error(err))
			return
		}
		p.log.Warn("OpenID Provider discovery failed; retrying", zap.Error(err), zap.Duration("next", wait))
		wait = min(2*wait, p.o.RetryMax)
	}
}

// discover fetches the discovery document and, when it is usable, points
// the verifier at its JWKS and fetches the keys.
func (p *oidcProvider) discover(ctx context.Context) error {
	u := strings.TrimSuffix(p.o.Issuer, "/") + "/.well-known/openid-configuration"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("%w: URL does not parse", ErrDiscovery)
	}
	req.Header.Set("Accept", "application/json")
	res, err := p.v.o.HTTPClient.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("%w: %v", ErrDiscovery, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: answered %d", ErrDiscovery, res.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrDiscovery, err)
	}
	var d Discovery
	if err := json.Unmarshal(b, &d); err != nil {
		return fmt.Errorf("%w: document is not JSON", ErrDiscovery)
	}
	if d.Issuer != p.o.Issuer {
		return fmt.Errorf("%w: configured %q", ErrDiscoveryRefused, p.o.Issuer)
	}
	for name, s := range map[string]string{"jwks_uri": d.JWKSURI, "authorization_endpoint": d.AuthorizationEndpoint, "token_endpoint": d.TokenEndpoint} {
		eu, err := url.Parse(s)
		if err != nil || eu.Host == "" || !secureURL(eu) {
			return fmt.Errorf("%w: %s is not an https URL (http only on loopback)", ErrDiscoveryRefused, name)
		}
	}
	if len(d.CodeChallengeMethods) > 0 && !slices.Contains(d.CodeChallengeMethods, "S256") {
		// The WebUI always uses S256; a provider that says it lacks it
		// will refuse the sign-in, though its tokens still verify here.
		p.log.Warn("OpenID Provider does not list PKCE S256; the WebUI's sign-in will fail there")
	}
	p.v.setKeysURL(d.JWKSURI)
	p.doc.Store(&d)
	p.log.Info("OpenID Provider discovered", zap.String("issuer", d.Issuer))
	if err := p.v.fetch(ctx); err != nil {
		// The keys are refetched when a token needs them.
		p.log.Warn("OpenID Provider's JWKS not fetched yet", zap.Error(err))
	}
	return nil
}

// Discovered returns the discovery document, nil until it was fetched.
func (p *oidcProvider) Discovered() *Discovery { return p.doc.Load() }

// unverifiedIssuer returns the iss claim of a compact JWS without checking
// anything: it only chooses the verifier, which then checks iss itself.
func unverifiedIssuer(tok string) string {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var c struct {
		Iss string `json:"iss"`
	}
	if json.Unmarshal(b, &c) != nil {
		return ""
	}
	return c.Iss
}
