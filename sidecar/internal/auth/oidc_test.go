package auth

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/sealocr/sealocr/core/testkit/oidctest"
)

const (
	webClient   = "sealocr-webui"
	otherClient = "other-app"
	redirectURI = "https://127.0.0.1:8443/"
)

// clock is time.Now moved forward by a settable offset.
type clock struct{ off atomic.Int64 }

func (c *clock) now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *clock) advance(d time.Duration) { c.off.Add(int64(d)) }

// syncBuffer is a log sink safe for the background discovery goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) Sync() error { return nil }
func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func logTo(buf *syncBuffer) *zap.Logger {
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	return zap.New(zapcore.NewCore(enc, buf, zap.DebugLevel))
}

func bearer(tok string) http.Header {
	return http.Header{"Authorization": {"Bearer " + tok}}
}

func oidcAuth(t *testing.T, ctx context.Context, issuer string, c *clock, log *zap.Logger) (*Authenticator, error) {
	t.Helper()
	return New(ctx, Options{
		OIDC:   OIDCOptions{Issuer: issuer, ClientID: webClient, Scopes: []string{"openid"}, RetryMin: 50 * time.Millisecond, RetryMax: 200 * time.Millisecond},
		Now:    c.now,
		Logger: log,
	})
}

// TestOIDCRealProvider: ID tokens of a real OpenID Provider (zitadel's op,
// see core/testkit/oidctest), obtained through its login form with PKCE, are
// accepted; a token for another client (aud), from another provider (iss),
// expired, or signed by a key the provider never published (unknown kid) is
// refused; after the provider rotates its key, new tokens are accepted.
func TestOIDCRealProvider(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clients := []oidctest.Client{{ID: webClient, RedirectURIs: []string{redirectURI}}, {ID: otherClient, RedirectURIs: []string{redirectURI}}}
	op := oidctest.Start(t, clients...)
	other := oidctest.Start(t, clients...) // another provider, same client IDs
	var logs syncBuffer
	c := &clock{}
	a, err := oidcAuth(t, ctx, op.Issuer, c, logTo(&logs))
	if err != nil {
		t.Fatal(err)
	}
	if got := a.Methods(); len(got) != 1 || got[0] != "oidc" {
		t.Errorf("methods %v, want [oidc]", got)
	}
	info := a.OIDC()
	if info == nil || info.Issuer != op.Issuer || info.ClientID != webClient || !strings.HasPrefix(info.TokenEndpoint, op.Issuer+"/") ||
		!strings.HasPrefix(info.AuthorizationEndpoint, op.Issuer+"/") {
		t.Fatalf("OIDC info %+v", info)
	}

	good := op.Login(t, webClient, redirectURI)
	id, err := a.Authenticate(ctx, bearer(good))
	if err != nil || id.Method != "oidc" || id.Subject != "id1" {
		t.Fatalf("a real ID token: %+v, %v", id, err)
	}

	foreignKey := sign(t, jwt.SigningMethodRS256, "not-published", testKeys.rsa, jwt.MapClaims{
		"iss": op.Issuer, "aud": webClient, "sub": "id1", "exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix(),
	})
	for name, tok := range map[string]string{
		"wrong audience": op.Login(t, otherClient, redirectURI),
		"wrong issuer":   other.Login(t, webClient, redirectURI),
		"unknown kid":    foreignKey,
	} {
		if _, err := a.Authenticate(ctx, bearer(tok)); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("%s: %v, want ErrInvalidToken", name, err)
		}
	}

	// Rotation: the provider signs with a new kid and publishes it alone;
	// the unknown kid makes the verifier refetch the JWKS (at most every
	// minRefetch, so the clock moves past the last attempt).
	oldKid := op.KeyID()
	op.Rotate()
	rotated := op.Login(t, webClient, redirectURI)
	if op.KeyID() == oldKid {
		t.Fatal("the key did not rotate")
	}
	c.advance(minRefetch + time.Second)
	if id, err := a.Authenticate(ctx, bearer(rotated)); err != nil || id.Subject != "id1" {
		t.Errorf("token under the rotated key: %v", err)
	}
	// Expired: the provider's ID tokens live an hour.
	c.advance(2 * time.Hour)
	if _, err := a.Authenticate(ctx, bearer(rotated)); !errors.Is(err, ErrInvalidToken) || !strings.Contains(err.Error(), "expired") {
		t.Errorf("expired: %v", err)
	}
	// No token reached the log.
	for _, tok := range []string{good, rotated, foreignKey} {
		if strings.Contains(logs.String(), tok[strings.LastIndexByte(tok, '.')+1:]) {
			t.Error("a token is in the log")
		}
	}
}

// TestOIDCIssuerMismatch: a provider whose discovery document names another
// issuer (here "localhost" for a sidecar configured with 127.0.0.1, the
// same server) is refused at start.
func TestOIDCIssuerMismatch(t *testing.T) {
	addr := oidctest.FreeAddr(t)
	op := oidctest.StartAt(t, addr, "localhost", oidctest.Client{ID: webClient, RedirectURIs: []string{redirectURI}})
	configured := strings.Replace(op.Issuer, "localhost", "127.0.0.1", 1)
	_, err := oidcAuth(t, context.Background(), configured, &clock{}, zap.NewNop())
	if !errors.Is(err, ErrDiscoveryRefused) {
		t.Fatalf("New: %v, want ErrDiscoveryRefused", err)
	}
	if _, err := oidcAuth(t, context.Background(), op.Issuer, &clock{}, zap.NewNop()); err != nil {
		t.Fatalf("the same provider under its own issuer: %v", err)
	}
}

// TestOIDCProviderDownAtStart: a provider that cannot be reached when the
// sidecar starts does not stop it: its tokens are refused (401) and the
// log says why, until background discovery reaches it; then they are
// accepted.
func TestOIDCProviderDownAtStart(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	op := oidctest.Start(t, oidctest.Client{ID: webClient, RedirectURIs: []string{redirectURI}})
	tok := op.Login(t, webClient, redirectURI)
	op.Stop()

	var logs syncBuffer
	start := time.Now()
	a, err := oidcAuth(t, ctx, op.Issuer, &clock{}, logTo(&logs))
	if err != nil {
		t.Fatalf("New with the provider down: %v", err)
	}
	if d := time.Since(start); d > 6*time.Second {
		t.Errorf("New took %s with the provider down", d)
	}
	if _, err := a.Authenticate(ctx, bearer(tok)); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("token while the provider is down: %v, want ErrInvalidToken", err)
	}
	if a.OIDCReady() || a.OIDC().TokenEndpoint != "" {
		t.Error("the provider is reported ready while down")
	}
	if !strings.Contains(logs.String(), "OpenID Provider not reachable yet") {
		t.Errorf("the log does not say the provider is unreachable:\n%s", logs.String())
	}

	op.Restart(t)
	deadline := time.Now().Add(10 * time.Second)
	for !a.OIDCReady() {
		if time.Now().After(deadline) {
			t.Fatalf("keys never fetched after the provider came up; log:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if id, err := a.Authenticate(ctx, bearer(tok)); err != nil || id.Subject != "id1" {
		t.Fatalf("token once the provider is up: %+v, %v", id, err)
	}
	if strings.Contains(logs.String(), tok[strings.LastIndexByte(tok, '.')+1:]) {
		t.Error("the token is in the log")
	}
}

// TestCheckIssuer: https, or http on loopback; nothing that could carry a
// credential or confuse the discovery URL.
func TestCheckIssuer(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"https://idp.example", true},
		{"https://idp.example/realms/x", true},
		{"http://127.0.0.1:5556", true},
		{"http://localhost:5556/dex", true},
		{"http://idp.example", false},
		{"https://idp.example?x=1", false},
		{"https://user:pw@idp.example", false},
		{"idp.example", false},
		{"", false},
	} {
		if err := CheckIssuer(tc.in); (err == nil) != tc.ok {
			t.Errorf("CheckIssuer(%q) = %v, want ok=%v", tc.in, err, tc.ok)
		}
	}
}
