package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/sealocr/sealocr/sidecar/api"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type keys struct {
	hs                      []byte
	rsa, rsa2               *rsa.PrivateKey
	ec                      *ecdsa.PrivateKey
	ed                      ed25519.PrivateKey
	dir, hsFile, rsaFile    string
	ecFile, edFile, apiFile string
}

var testKeys = func() *keys {
	k := &keys{hs: []byte("0123456789abcdef0123456789abcdef!")}
	k.rsa, _ = rsa.GenerateKey(rand.Reader, 2048)
	k.rsa2, _ = rsa.GenerateKey(rand.Reader, 2048)
	k.ec, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, k.ed, _ = ed25519.GenerateKey(rand.Reader)
	return k
}()

func writePEM(t *testing.T, dir, name string, pub any) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// files writes the key files of testKeys into a temporary folder.
func files(t *testing.T) *keys {
	t.Helper()
	k := *testKeys
	k.dir = t.TempDir()
	k.hsFile = filepath.Join(k.dir, "hs.key")
	if err := os.WriteFile(k.hsFile, k.hs, 0o600); err != nil {
		t.Fatal(err)
	}
	k.rsaFile = writePEM(t, k.dir, "rsa.pem", &k.rsa.PublicKey)
	k.ecFile = writePEM(t, k.dir, "ec.pem", &k.ec.PublicKey)
	k.edFile = writePEM(t, k.dir, "ed.pem", k.ed.Public())
	k.apiFile = filepath.Join(k.dir, "api-keys.yaml")
	content := "keys:\n  - id: ci\n    sha256: " + HashAPIKey("sk-test-0123456789abcdef0123456789") + "\n"
	if err := os.WriteFile(k.apiFile, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return &k
}

func sign(t *testing.T, m jwt.SigningMethod, kid string, key any, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// signHeader is sign with one more header parameter.
func signHeader(t *testing.T, m jwt.SigningMethod, kid string, key any, claims jwt.MapClaims, name string, value any) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, claims)
	tok.Header["kid"] = kid
	tok.Header[name] = value
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func good() jwt.MapClaims {
	return jwt.MapClaims{"sub": "alice", "iss": "https://idp.example", "aud": "sealocr",
		"exp": t0.Add(time.Hour).Unix(), "nbf": t0.Add(-time.Minute).Unix(), "iat": t0.Unix()}
}

func with(c jwt.MapClaims, k string, v any) jwt.MapClaims {
	c[k] = v
	if v == nil {
		delete(c, k)
	}
	return c
}

func newAuth(t *testing.T, k *keys) *Authenticator {
	t.Helper()
	a, err := New(context.Background(), Options{
		JWT: JWTOptions{
			Issuer: "https://idp.example", Audience: []string{"sealocr", "other"},
			HS256KeyFile: k.hsFile, PublicKeyFiles: []string{k.rsaFile, k.ecFile, k.edFile},
		},
		APIKeysFile: k.apiFile,
		Now:         func() time.Time { return t0 },
	})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestJWT(t *testing.T) {
	k := files(t)
	a := newAuth(t, k)
	hsOnlyAsRSA := sign(t, jwt.SigningMethodHS256, "rsa", mustPEM(t, k.rsaFile), good())
	tampered := sign(t, jwt.SigningMethodRS256, "rsa", k.rsa, good())
	parts := strings.Split(tampered, ".")
	payload, _ := json.Marshal(with(good(), "sub", "mallory"))
	tampered = parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + parts[2]
	noneTok := func() string {
		s, _ := jwt.NewWithClaims(jwt.SigningMethodNone, good()).SignedString(jwt.UnsafeAllowNoneSignatureType)
		return s
	}()
	for _, tc := range []struct {
		name, token string
		ok          bool
	}{
		{"HS256", sign(t, jwt.SigningMethodHS256, "hs", k.hs, good()), true},
		{"RS256", sign(t, jwt.SigningMethodRS256, "rsa", k.rsa, good()), true},
		{"ES256", sign(t, jwt.SigningMethodES256, "ec", k.ec, good()), true},
		{"EdDSA", sign(t, jwt.SigningMethodEdDSA, "ed", k.ed, good()), true},
		{"second audience", sign(t, jwt.SigningMethodES256, "ec", k.ec, with(good(), "aud", []string{"x", "other"})), true},
		{"expired within skew", sign(t, jwt.SigningMethodES256, "ec", k.ec, with(good(), "exp", t0.Add(-20*time.Second).Unix())), true},
		{"expired", sign(t, jwt.SigningMethodES256, "ec", k.ec, with(good(), "exp", t0.Add(-time.Minute).Unix())), false},
		{"no exp", sign(t, jwt.SigningMethodES256, "ec", k.ec, with(good(), "exp", nil)), false},
		{"not yet valid", sign(t, jwt.SigningMethodES256, "ec", k.ec, with(good(), "nbf", t0.Add(time.Minute).Unix())), false},
		{"wrong audience", sign(t, jwt.SigningMethodES256, "ec", k.ec, with(good(), "aud", "someone-else")), false},
		{"no audience", sign(t, jwt.SigningMethodES256, "ec", k.ec, with(good(), "aud", nil)), false},
		{"wrong issuer", sign(t, jwt.SigningMethodES256, "ec", k.ec, with(good(), "iss", "https://evil.example")), false},
		{"no subject", sign(t, jwt.SigningMethodES256, "ec", k.ec, with(good(), "sub", nil)), false},
		{"unknown kid", sign(t, jwt.SigningMethodES256, "nope", k.ec, good()), false},
		{"no kid with several keys", sign(t, jwt.SigningMethodES256, "", k.ec, good()), false},
		{"wrong algorithm for kid", sign(t, jwt.SigningMethodES256, "rsa", k.ec, good()), false},
		{"RS256 key used as HMAC secret", hsOnlyAsRSA, false},
		{"RS384 not allowed", sign(t, jwt.SigningMethodRS384, "rsa", k.rsa, good()), false},
		{"alg none", noneTok, false},
		{"signed by another RSA key", sign(t, jwt.SigningMethodRS256, "rsa", k.rsa2, good()), false},
		{"tampered payload", tampered, false},
		// RFC 7519 §2: NumericDate is a JSON number; RFC 7515 §4.1.11: a
		// crit extension the recipient does not understand is refused.
		{"exp as a string", sign(t, jwt.SigningMethodES256, "ec", k.ec, with(good(), "exp", strconv.FormatInt(t0.Add(time.Hour).Unix(), 10))), false},
		{"nbf as a string", sign(t, jwt.SigningMethodES256, "ec", k.ec, with(good(), "nbf", strconv.FormatInt(t0.Unix(), 10))), false},
		{"iat as a string", sign(t, jwt.SigningMethodES256, "ec", k.ec, with(good(), "iat", strconv.FormatInt(t0.Unix(), 10))), false},
		{"unknown crit", signHeader(t, jwt.SigningMethodES256, "ec", k.ec, good(), "crit", []string{"x-sealocr-unknown"}), false},
		{"empty crit", signHeader(t, jwt.SigningMethodES256, "ec", k.ec, good(), "crit", []string{}), false},
		{"garbage", "a.b.c", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, err := a.Authenticate(context.Background(), http.Header{"Authorization": {"Bearer " + tc.token}})
			if tc.ok {
				if err != nil || id != (Identity{Method: "jwt", Subject: "alice"}) {
					t.Errorf("Authenticate = %+v, %v", id, err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidToken) {
				t.Errorf("Authenticate = %+v, %v; want ErrInvalidToken", id, err)
			}
			if err != nil && strings.Contains(err.Error(), tc.token) {
				t.Error("error holds the token")
			}
		})
	}
}

func mustPEM(t *testing.T, path string) []byte {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAPIKeysAndSchemes(t *testing.T) {
	a := newAuth(t, files(t))
	const key = "sk-test-0123456789abcdef0123456789"
	for _, tc := range []struct {
		name string
		h    http.Header
		want error
	}{
		{"bearer api key", http.Header{"Authorization": {"Bearer " + key}}, nil},
		{"x-api-key", http.Header{"X-Api-Key": {key}}, nil},
		{"wrong key", http.Header{"X-Api-Key": {key + "x"}}, ErrInvalidAPIKey},
		{"wrong bearer key", http.Header{"Authorization": {"Bearer sk-nope"}}, ErrInvalidAPIKey},
		{"basic", http.Header{"Authorization": {"Basic YTpi"}}, ErrUnsupportedScheme},
		{"empty bearer", http.Header{"Authorization": {"Bearer "}}, ErrUnsupportedScheme},
		{"none", http.Header{}, ErrNoCredentials},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, err := a.Authenticate(context.Background(), tc.h)
			if !errors.Is(err, tc.want) || (err == nil && id != (Identity{Method: "api_key", Subject: "ci"})) {
				t.Errorf("Authenticate = %+v, %v; want %v", id, err, tc.want)
			}
		})
	}
}

func TestBadKeySources(t *testing.T) {
	dir := t.TempDir()
	short := filepath.Join(dir, "short.key")
	_ = os.WriteFile(short, []byte("too short"), 0o600)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	smallFile := writePEM(t, dir, "small.pem", &small.PublicKey)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p384File := writePEM(t, dir, "p384.pem", &p384.PublicKey)
	badAPI := filepath.Join(dir, "api.yaml")
	_ = os.WriteFile(badAPI, []byte("keys:\n  - id: x\n    sha256: nothex\n"), 0o600)
	_, err := New(context.Background(), Options{
		JWT:         JWTOptions{HS256KeyFile: short, PublicKeyFiles: []string{smallFile, p384File, filepath.Join(dir, "missing.pem")}},
		APIKeysFile: badAPI,
	})
	if err == nil || strings.Count(err.Error(), "\n") != 4 || !errors.Is(err, ErrKeySource) {
		t.Errorf("New = %v, want five problems", err)
	}
}

func jwkOf(t *testing.T, kid string, pub any) map[string]string {
	t.Helper()
	enc := base64.RawURLEncoding.EncodeToString
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return map[string]string{"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
			"n": enc(k.N.Bytes()), "e": enc(big.NewInt(int64(k.E)).Bytes())}
	case *ecdsa.PublicKey:
		b, _ := k.Bytes()
		return map[string]string{"kty": "EC", "kid": kid, "crv": "P-256", "x": enc(b[1:33]), "y": enc(b[33:])}
	case ed25519.PublicKey:
		return map[string]string{"kty": "OKP", "kid": kid, "crv": "Ed25519", "x": enc(k)}
	}
	t.Fatalf("type %T", pub)
	return nil
}

// TestJWKSRotation serves a key set that rotates: a token signed with the
// new key is accepted after a refetch triggered by its unknown kid, and
// refetches are rate-limited.
func TestJWKSRotation(t *testing.T) {
	var set atomic.Value
	set.Store([]map[string]string{jwkOf(t, "k1", &testKeys.rsa.PublicKey), {"kty": "oct", "kid": "sym", "k": "AAAA"}})
	var fetches atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fetches.Add(1)
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": set.Load()})
	}))
	defer srv.Close()
	now := t0
	a, err := New(context.Background(), Options{
		JWT: JWTOptions{JWKSURL: srv.URL, Audience: []string{"sealocr"}},
		Now: func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	check := func(kid string, key any, m jwt.SigningMethod, ok bool) {
		t.Helper()
		_, err := a.Authenticate(context.Background(), http.Header{"Authorization": {"Bearer " + sign(t, m, kid, key, good())}})
		if (err == nil) != ok {
			t.Errorf("kid %s: %v, want ok %v", kid, err, ok)
		}
	}
	check("k1", testKeys.rsa, jwt.SigningMethodRS256, true)
	check("sym", []byte("\x00\x00\x00"), jwt.SigningMethodHS256, false) // symmetric keys never come from a JWKS

	set.Store([]map[string]string{jwkOf(t, "k1", &testKeys.rsa.PublicKey), jwkOf(t, "k2", &testKeys.ec.PublicKey), jwkOf(t, "k3", testKeys.ed.Public())})
	before := fetches.Load()
	check("k2", testKeys.ec, jwt.SigningMethodES256, false) // the start-up fetch was under 30 s ago
	now = now.Add(time.Minute)
	check("k2", testKeys.ec, jwt.SigningMethodES256, true)
	check("k3", testKeys.ed, jwt.SigningMethodEdDSA, true)
	check("k9", testKeys.ec, jwt.SigningMethodES256, false)
	check("k9", testKeys.ec, jwt.SigningMethodES256, false)
	if n := fetches.Load() - before; n != 1 {
		t.Errorf("%d refetches, want 1 (rate-limited)", n)
	}
}

func TestMiddleware(t *testing.T) {
	a := newAuth(t, files(t))
	const key = "sk-test-0123456789abcdef0123456789"
	var got Identity
	var sawHeader bool
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = IdentityFrom(r.Context())
		sawHeader = r.Header.Get("Authorization") != "" || r.Header.Get("X-Api-Key") != ""
		w.WriteHeader(204)
	})
	for _, tc := range []struct {
		name      string
		mode      Mode
		h         http.Header
		status    int
		challenge string
	}{
		{"required, none", Required, nil, 401, `Bearer realm="sealocr"`},
		{"required, bad", Required, http.Header{"X-Api-Key": {"nope"}}, 401, `Bearer realm="sealocr", error="invalid_token"`},
		{"required, good", Required, http.Header{"X-Api-Key": {key}}, 204, ""},
		{"optional, none", Optional, nil, 204, ""},
		{"optional, bad", Optional, http.Header{"Authorization": {"Bearer a.b.c"}}, 401, `Bearer realm="sealocr", error="invalid_token"`},
		{"off, bad", Off, http.Header{"Authorization": {"Bearer a.b.c"}}, 204, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, sawHeader = Identity{}, false
			r := httptest.NewRequest(http.MethodPost, "/v1/ocr", nil)
			for k, v := range tc.h {
				r.Header[k] = v
			}
			w := httptest.NewRecorder()
			a.Middleware(func(*http.Request) Mode { return tc.mode })(next).ServeHTTP(w, r)
			if w.Code != tc.status || w.Header().Get("WWW-Authenticate") != tc.challenge {
				t.Errorf("status %d challenge %q", w.Code, w.Header().Get("WWW-Authenticate"))
			}
			if tc.status == 401 && w.Body.String() != string(api.Lookup(api.Unauthorized).Body) {
				t.Errorf("body %q", w.Body)
			}
			if tc.status == 204 && tc.mode != Off && sawHeader {
				t.Error("credentials forwarded")
			}
			if tc.name == "required, good" && got.Subject != "ci" {
				t.Errorf("identity %+v", got)
			}
		})
	}
	for _, s := range []string{"off", "optional", "required"} {
		if m, err := ParseMode(s); err != nil || m.String() != s {
			t.Errorf("ParseMode(%s) = %v, %v", s, m, err)
		}
	}
	if _, err := ParseMode("on"); !errors.Is(err, ErrBadMode) {
		t.Error("ParseMode(on)")
	}
}
