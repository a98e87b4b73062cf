package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/zap"
)

// JWTOptions configure JWT verification. At least one key source is needed
// for JWTs to be accepted.
type JWTOptions struct {
	// Issuer, when set, must equal the iss claim.
	Issuer string
	// Audience, when set, must contain one of the aud claim's values.
	Audience []string
	// HS256KeyFile holds the raw HMAC key (at least 32 bytes) for HS256;
	// its kid is the file's base name without extension.
	HS256KeyFile string
	// PublicKeyFiles are PEM public keys (PKIX); the algorithm follows the
	// key: RSA (2048 bits or more) RS256, EC P-256 ES256, Ed25519 EdDSA. The
	// kid is the file's base name without extension.
	PublicKeyFiles []string
	// JWKSFile is a JSON Web Key Set file (RSA, EC P-256, Ed25519 keys).
	JWKSFile string
	// JWKSURL is a JSON Web Key Set URL, cached and refreshed.
	JWKSURL string
	// JWKSRefresh is how often the JWKS URL is refetched; zero means 10 min.
	JWKSRefresh time.Duration
	// ClockSkew is the leeway on exp and nbf; zero means 30 s.
	ClockSkew time.Duration
	// HTTPClient fetches JWKSURL; nil means a client with a 5 s timeout.
	HTTPClient *http.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// minRefetch is the least time between two fetches of the JWKS URL caused
// by unknown kids, so a stream of bogus kids cannot hammer the IdP.
const minRefetch = 30 * time.Second

// verKey is one verification key with its pinned algorithm.
type verKey struct {
	kid string
	alg string
	key any // []byte, *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey
}

type jwtVerifier struct {
	o      JWTOptions
	log    *zap.Logger
	static map[string]verKey
	// method names the identities this verifier establishes ("jwt", or
	// "oidc" for the OpenID Provider's tokens).
	method string

	mu          sync.RWMutex
	jwksURL     string // o.JWKSURL, or the one an OpenID Provider's discovery names once known
	remote      map[string]verKey
	fetchedAt   time.Time
	lastAttempt time.Time
	refreshing  atomic.Bool
}

func newJWTVerifier(ctx context.Context, o JWTOptions, log *zap.Logger) (*jwtVerifier, error) {
	if o.JWKSRefresh <= 0 {
		o.JWKSRefresh = 10 * time.Minute
	}
	if o.ClockSkew <= 0 {
		o.ClockSkew = 30 * time.Second
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 5 * time.Second}
	}
	v := &jwtVerifier{o: o, log: log, static: map[string]verKey{}, method: "jwt", jwksURL: o.JWKSURL}
	var errs []error
	add := func(k verKey) {
		if _, dup := v.static[k.kid]; dup {
			errs = append(errs, fmt.Errorf("%w: kid %q defined twice", ErrKeySource, k.kid))
		}
		v.static[k.kid] = k
	}
	if o.HS256KeyFile != "" {
		b, err := os.ReadFile(o.HS256KeyFile)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%w: %v", ErrKeySource, err))
		case len(b) < 32:
			errs = append(errs, fmt.Errorf("%w: HS256 key file %s: want at least 32 bytes", ErrKeySource, o.HS256KeyFile))
		default:
			add(verKey{kid: kidOf(o.HS256KeyFile), alg: "HS256", key: b})
		}
	}
	for _, f := range o.PublicKeyFiles {
		k, err := loadPublicKey(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		add(k)
	}
	if o.JWKSFile != "" {
		b, err := os.ReadFile(o.JWKSFile)
		if err == nil {
			var keys []verKey
			if keys, err = parseJWKS(b); err == nil {
				for _, k := range keys {
					add(k)
				}
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%w: JWKS file %s: %v", ErrKeySource, o.JWKSFile, err))
		}
	}
	if o.JWKSURL != "" {
		// A JWKS URL that cannot be fetched at start is not fatal: the IdP
		// may come up later. Tokens are refused until it answers.
		if err := v.fetch(ctx); err != nil {
			log.Warn("JWKS URL not available yet", zap.Error(err))
		}
	}
	return v, errors.Join(errs...)
}

// kidOf is a key file's base name without extension.
func kidOf(path string) string {
	b := filepath.Base(path)
	return strings.TrimSuffix(b, filepath.Ext(b))
}

func loadPublicKey(path string) (verKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return verKey{}, fmt.Errorf("%w: %v", ErrKeySource, err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return verKey{}, fmt.Errorf("%w: %s: no PEM block", ErrKeySource, path)
	}
	pub, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return verKey{}, fmt.Errorf("%w: %s: %v", ErrKeySource, path, err)
	}
	k, err := pinKey(kidOf(path), "", pub)
	if err != nil {
		return verKey{}, fmt.Errorf("%w: %s: %v", ErrKeySource, path, err)
	}
	return k, nil
}

// pinKey returns the key with the algorithm its type allows; alg, when not
// empty, must be that algorithm.
func pinKey(kid, alg string, pub any) (verKey, error) {
	var want string
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return verKey{}, errors.New("RSA key shorter than 2048 bits")
		}
		want = "RS256"
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return verKey{}, errors.New("EC key not on P-256")
		}
		want = "ES256"
	case ed25519.PublicKey:
		want = "EdDSA"
	default:
		return verKey{}, fmt.Errorf("unsupported key type %T", pub)
	}
	if alg != "" && alg != want {
		return verKey{}, fmt.Errorf("alg %q does not fit a key for %s", alg, want)
	}
	return verKey{kid: kid, alg: want, key: pub}, nil
}

// jwk is the subset of RFC 7517/7518/8037 fields used.
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
	Crv string `json:"crv"`
	N   string `json:"n"`
	E   string `json:"e"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// parseJWKS parses a key set. Keys for other uses and symmetric ("oct")
// keys are skipped; a key that is malformed is an error.
func parseJWKS(b []byte) ([]verKey, error) {
	var set struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(b, &set); err != nil {
		return nil, err
	}
	var out []verKey
	for i, j := range set.Keys {
		if j.Use != "" && j.Use != "sig" {
			continue
		}
		pub, err := j.publicKey()
		if err != nil {
			return nil, fmt.Errorf("key %d (kid %q): %w", i, j.Kid, err)
		}
		if pub == nil {
			continue
		}
		k, err := pinKey(j.Kid, j.Alg, pub)
		if err != nil {
			return nil, fmt.Errorf("key %d (kid %q): %w", i, j.Kid, err)
		}
		out = append(out, k)
	}
	return out, nil
}

func b64(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }

// publicKey decodes the JWK; nil, nil for key types that are skipped.
func (j jwk) publicKey() (any, error) {
	switch j.Kty {
	case "RSA":
		n, err1 := b64(j.N)
		e, err2 := b64(j.E)
		if err1 != nil || err2 != nil || len(e) == 0 || len(e) > 4 {
			return nil, errors.New("bad RSA n or e")
		}
		ei := int(new(big.Int).SetBytes(e).Int64())
		if ei < 3 || ei%2 == 0 {
			return nil, errors.New("bad RSA exponent")
		}
		return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: ei}, nil
	case "EC":
		if j.Crv != "P-256" {
			return nil, fmt.Errorf("unsupported curve %q", j.Crv)
		}
		x, err1 := b64(j.X)
		y, err2 := b64(j.Y)
		if err1 != nil || err2 != nil || len(x) != 32 || len(y) != 32 {
			return nil, errors.New("bad EC x or y")
		}
		pt := append(append([]byte{4}, x...), y...)
		return ecdsa.ParseUncompressedPublicKey(elliptic.P256(), pt)
	case "OKP":
		x, err := b64(j.X)
		if j.Crv != "Ed25519" || err != nil || len(x) != ed25519.PublicKeySize {
			return nil, errors.New("bad OKP key (want Ed25519)")
		}
		return ed25519.PublicKey(x), nil
	case "oct":
		return nil, nil // symmetric keys never come from a key set
	}
	return nil, fmt.Errorf("unsupported kty %q", j.Kty)
}

// keysURL is the JWKS URL, "" while none is known.
func (v *jwtVerifier) keysURL() string {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.jwksURL
}

// setKeysURL sets the JWKS URL (an OpenID Provider's, once discovered).
func (v *jwtVerifier) setKeysURL(u string) {
	v.mu.Lock()
	v.jwksURL = u
	v.mu.Unlock()
}

// fetch replaces the remote keys with the JWKS URL's.
func (v *jwtVerifier) fetch(ctx context.Context) error {
	v.mu.Lock()
	v.lastAttempt = v.o.Now()
	u := v.jwksURL
	v.mu.Unlock()
	if u == "" {
		return fmt.Errorf("%w: no JWKS URL known yet", ErrKeySource)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("%w: JWKS URL does not parse", ErrKeySource)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	res, err := v.o.HTTPClient.Do(req)
	if err != nil {
		// A *url.Error repeats the URL, whose query or user information may
		// hold a credential: keep only its cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("%w: JWKS URL: %v", ErrKeySource, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: JWKS URL answered %d", ErrKeySource, res.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%w: JWKS URL: %v", ErrKeySource, err)
	}
	keys, err := parseJWKS(b)
	if err != nil {
		return fmt.Errorf("%w: JWKS URL: %v", ErrKeySource, err)
	}
	m := make(map[string]verKey, len(keys))
	for _, k := range keys {
		m[k.kid] = k
	}
	v.mu.Lock()
	v.remote, v.fetchedAt = m, v.o.Now()
	v.mu.Unlock()
	v.log.Info("JWKS fetched", zap.Int("keys", len(m)))
	return nil
}

// lookup finds the key for kid ("" when the token has none: allowed only
// when exactly one key is known). An unknown kid refetches the JWKS URL,
// at most once per minRefetch; a stale set is refreshed in the background.
func (v *jwtVerifier) lookup(ctx context.Context, kid string) (verKey, bool) {
	if k, ok := v.find(kid); ok {
		v.maybeRefresh()
		return k, true
	}
	if v.keysURL() == "" {
		return verKey{}, false
	}
	v.mu.RLock()
	recent := v.o.Now().Sub(v.lastAttempt) < minRefetch
	v.mu.RUnlock()
	if recent {
		return verKey{}, false
	}
	if err := v.fetch(ctx); err != nil {
		v.log.Warn("JWKS refetch failed", zap.Error(err))
	}
	return v.find(kid)
}

func (v *jwtVerifier) find(kid string) (verKey, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if kid == "" {
		if len(v.static)+len(v.remote) != 1 {
			return verKey{}, false
		}
		for _, k := range v.static {
			return k, true
		}
		for _, k := range v.remote {
			return k, true
		}
	}
	if k, ok := v.static[kid]; ok {
		return k, true
	}
	k, ok := v.remote[kid]
	return k, ok
}

func (v *jwtVerifier) maybeRefresh() {
	if v.keysURL() == "" {
		return
	}
	v.mu.RLock()
	stale := v.o.Now().Sub(v.fetchedAt) > v.o.JWKSRefresh && v.o.Now().Sub(v.lastAttempt) > minRefetch
	v.mu.RUnlock()
	if stale && v.refreshing.CompareAndSwap(false, true) {
		go func() {
			defer v.refreshing.Store(false)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := v.fetch(ctx); err != nil {
				v.log.Warn("JWKS refresh failed; keeping the cached keys", zap.Error(err))
			}
		}()
	}
}

// allAlgs lists the algorithms of the configured keys (and the JWKS URL's
// possible ones), for the parser's method allowlist.
var allAlgs = []string{"HS256", "RS256", "ES256", "EdDSA"}

// strictToken refuses what the JWT library lets through but the RFCs do
// not: a "crit" header parameter, since this verifier understands no JWS
// extension (RFC 7515 §4.1.11: a recipient that does not understand a
// listed extension must refuse; an empty list is invalid too), and time
// claims that are not JSON numbers (RFC 7519 §2 NumericDate; the library
// accepts "exp":"1999999999" as a string).
func strictToken(t *jwt.Token) error {
	if _, has := t.Header["crit"]; has {
		return errors.New("crit header parameter (no extension is understood)")
	}
	parts := strings.Split(t.Raw, ".")
	if len(parts) != 3 {
		return errors.New("not a compact JWS")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return errors.New("payload is not base64url")
	}
	var claims map[string]json.RawMessage
	if err := json.Unmarshal(payload, &claims); err != nil {
		return errors.New("payload is not a JSON object")
	}
	for _, name := range [...]string{"exp", "nbf", "iat"} {
		v, ok := claims[name]
		if !ok {
			continue
		}
		if len(v) == 0 || !(v[0] == '-' || (v[0] >= '0' && v[0] <= '9')) {
			return fmt.Errorf("claim %s is not a JSON number", name)
		}
	}
	return nil
}

// verify checks a compact JWS and returns its subject.
func (v *jwtVerifier) verify(ctx context.Context, tok string) (Identity, error) {
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(allAlgs),
		jwt.WithLeeway(v.o.ClockSkew),
		jwt.WithTimeFunc(v.o.Now),
		jwt.WithExpirationRequired(),
		jwt.WithStrictDecoding(),
	}
	if v.o.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(v.o.Issuer))
	}
	if len(v.o.Audience) > 0 {
		opts = append(opts, jwt.WithAudience(v.o.Audience...))
	}
	var claims jwt.RegisteredClaims
	_, err := jwt.ParseWithClaims(tok, &claims, func(t *jwt.Token) (any, error) {
		if err := strictToken(t); err != nil {
			return nil, err
		}
		kid, _ := t.Header["kid"].(string)
		k, ok := v.lookup(ctx, kid)
		if !ok {
			return nil, fmt.Errorf("unknown kid %q", kid)
		}
		// The algorithm is pinned per key: a token naming another one is
		// refused whatever its signature, so an RSA public key is never
		// used as an HMAC secret.
		if t.Method.Alg() != k.alg {
			return nil, fmt.Errorf("algorithm %q not allowed for kid %q (pinned %s)", t.Method.Alg(), k.kid, k.alg)
		}
		return k.key, nil
	}, opts...)
	if err != nil {
		return Identity{}, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	if claims.Subject == "" {
		return Identity{}, fmt.Errorf("%w: no sub claim", ErrInvalidToken)
	}
	return Identity{Method: v.method, Subject: claims.Subject}, nil
}

// hasKeys reports whether any key source is configured.
func (v *jwtVerifier) hasKeys() bool {
	return len(v.static) > 0 || v.o.JWKSURL != ""
}
