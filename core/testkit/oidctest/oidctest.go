// Package oidctest runs a real OpenID Provider for tests: zitadel's
// github.com/zitadel/oidc/v3 pkg/op, with its example in-memory storage and
// username/password login form (example/server/exampleop), on 127.0.0.1
// over plain HTTP (loopback issuers are accepted over http). Clients are
// public ones with PKCE (no secret); the signing key can be rotated, and
// the provider stopped and started again on the same address.
//
// It is imported by tests only (the sidecar's auth tests and the WebUI's
// browser tests); no binary links it.
package oidctest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// Password is the password of every user of the provider.
const Password = "verysecure"

// Client is a public client (PKCE, no secret) registered at the provider.
type Client struct {
	ID           string
	RedirectURIs []string
}

// OP is a running OpenID Provider.
type OP struct {
	// Issuer is the provider's issuer URL, http://HOST:PORT.
	Issuer string
	// Addr is the address it listens on, 127.0.0.1:PORT.
	Addr string

	store   *rotating
	handler http.Handler
	mu      sync.Mutex
	srv     *http.Server
}

// Start runs a provider on a free loopback port whose issuer is
// http://127.0.0.1:PORT, and stops it at the end of the test.
func Start(t testing.TB, clients ...Client) *OP {
	t.Helper()
	return StartAt(t, FreeAddr(t), "127.0.0.1", clients...)
}

// StartAt runs a provider on addr whose issuer names host (127.0.0.1 or
// localhost) and addr's port.
func StartAt(t testing.TB, addr, host string, clients ...Client) *OP {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + net.JoinHostPort(host, port)
	cs := map[string]*storage.Client{}
	for _, c := range clients {
		cs[c.ID] = storage.NativeClient(c.ID, c.RedirectURIs...)
	}
	st := &rotating{Storage: storage.NewStorageWithClients(storage.NewUserStore(issuer), cs)}
	st.Rotate()
	o := &OP{Issuer: issuer, Addr: addr, store: st, handler: exampleop.SetupServer(issuer, st, nil, false)}
	o.Restart(t)
	t.Cleanup(o.Stop)
	return o
}

// FreeAddr returns a loopback address that was free a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Username is the login name of the provider's test user (its subject is
// "id1").
func (o *OP) Username() string {
	u, _ := url.Parse(o.Issuer)
	return "test-user@" + u.Hostname()
}

// Stop stops the provider; its keys and clients are kept for Restart.
func (o *OP) Stop() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.srv != nil {
		_ = o.srv.Close()
		o.srv = nil
	}
}

// Restart serves the provider again on its address.
func (o *OP) Restart(t testing.TB) {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.srv != nil {
		return
	}
	var l net.Listener
	var err error
	for i := 0; i < 50; i++ { // the port may linger briefly after Stop
		if l, err = net.Listen("tcp", o.Addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("oidctest: listen %s: %v", o.Addr, err)
	}
	o.srv = &http.Server{Handler: o.handler, ReadHeaderTimeout: 5 * time.Second}
	go func(s *http.Server) { _ = s.Serve(l) }(o.srv)
}

// Rotate replaces the signing key by a new one (a new kid): tokens are
// signed with it from now on and the JWKS lists it alone.
func (o *OP) Rotate() { o.store.Rotate() }

// KeyID returns the kid of the current signing key.
func (o *OP) KeyID() string {
	o.store.mu.Lock()
	defer o.store.mu.Unlock()
	return o.store.key.id
}

// Login runs the authorization code flow with PKCE for clientID as a
// browser would, with the test user's name and password typed into the
// provider's login form, and returns the ID token.
func (o *OP) Login(t testing.TB, clientID, redirectURI string) string {
	t.Helper()
	tok, err := o.login(clientID, redirectURI)
	if err != nil {
		t.Fatalf("oidctest: login: %v", err)
	}
	return tok
}

func (o *OP) login(clientID, redirectURI string) (string, error) {
	var d struct {
		Authorization string `json:"authorization_endpoint"`
		Token         string `json:"token_endpoint"`
	}
	c := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Get(o.Issuer + "/.well-known/openid-configuration")
	if err != nil {
		return "", err
	}
	err = json.NewDecoder(res.Body).Decode(&d)
	res.Body.Close()
	if err != nil {
		return "", err
	}
	verifier := rand.Text() + rand.Text()
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{
		"client_id": {clientID}, "redirect_uri": {redirectURI}, "response_type": {"code"}, "scope": {"openid profile"},
		"state": {rand.Text()}, "nonce": {rand.Text()},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}
	loc := d.Authorization + "?" + q.Encode()
	form := url.Values{"username": {o.Username()}, "password": {Password}}
	var code string
	for range 10 {
		var res *http.Response
		if u, _ := url.Parse(loc); u != nil && u.Path == "/login/username" && form != nil {
			form.Set("id", u.Query().Get("authRequestID"))
			res, err = c.PostForm(o.Issuer+"/login/username", form)
			form = nil
		} else {
			res, err = c.Get(loc)
		}
		if err != nil {
			return "", err
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusFound && res.StatusCode != http.StatusSeeOther {
			return "", fmt.Errorf("%s answered %d", loc, res.StatusCode)
		}
		next, err := res.Location()
		if err != nil {
			return "", err
		}
		loc = next.String()
		if strings.HasPrefix(loc, redirectURI) {
			code = next.Query().Get("code")
			break
		}
	}
	if code == "" {
		return "", errors.New("no code came back")
	}
	res, err = c.PostForm(d.Token, url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI},
		"client_id": {clientID}, "code_verifier": {verifier},
	})
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	var tr struct {
		IDToken string `json:"id_token"`
	}
	if err := json.NewDecoder(res.Body).Decode(&tr); err != nil || tr.IDToken == "" {
		return "", fmt.Errorf("token endpoint answered %d without an ID token", res.StatusCode)
	}
	return tr.IDToken, nil
}

// rotating is the example storage with a signing key that can be replaced.
type rotating struct {
	*storage.Storage
	mu  sync.Mutex
	key *signingKey
}

type signingKey struct {
	id  string
	key *rsa.PrivateKey
}

func (k *signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k *signingKey) Key() any                                    { return k.key }
func (k *signingKey) ID() string                                  { return k.id }

type publicKey struct{ k *signingKey }

func (p publicKey) ID() string                         { return p.k.id }
func (p publicKey) Algorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (p publicKey) Use() string                        { return "sig" }
func (p publicKey) Key() any                           { return &p.k.key.PublicKey }

// Rotate makes a new RSA key with a new kid.
func (s *rotating) Rotate() {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	s.mu.Lock()
	s.key = &signingKey{id: "k-" + rand.Text()[:10], key: k}
	s.mu.Unlock()
}

// SigningKey implements op.Storage.
func (s *rotating) SigningKey(context.Context) (op.SigningKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.key, nil
}

// SignatureAlgorithms implements op.Storage.
func (s *rotating) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

// KeySet implements op.Storage.
func (s *rotating) KeySet(context.Context) ([]op.Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return []op.Key{publicKey{s.key}}, nil
}
