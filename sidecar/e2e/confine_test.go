package e2e

import (
	"bufio"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sealocr/sealocr/sidecar/api"
	"github.com/sealocr/sealocr/sidecar/internal/auth"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/bhttp"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/ohttp"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/psk"
)

// headerRecorder is a stand-in upstream on 127.0.0.1 that records the
// request line and headers of everything the sidecar forwards.
type headerRecorder struct {
	srv  *httptest.Server
	mu   sync.Mutex
	seen []*http.Request
}

func newHeaderRecorder(t *testing.T) *headerRecorder {
	h := &headerRecorder{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		h.mu.Lock()
		h.seen = append(h.seen, r)
		h.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"text":"recorded"}`)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *headerRecorder) requests() []*http.Request {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]*http.Request(nil), h.seen...)
}

// TestCredentialsNeverReachTheCore: with authentication off, a client's
// Authorization, X-API-Key, Cookie and Proxy-Authorization headers are
// stripped from plain routes and encrypted requests alike. Before the fix,
// the plain routes forwarded Authorization and X-API-Key (and Cookie) to the
// core as sent.
func TestCredentialsNeverReachTheCore(t *testing.T) {
	rec := newHeaderRecorder(t)
	s := newSidecar(t, map[string]string{"SEALOCR_UPSTREAM": rec.srv.URL, "SEALOCR_AUTH": "off"})
	creds := map[string]string{
		"Authorization":       "Bearer canary-token-5f1d",
		"X-API-Key":           "canary-key-77aa",
		"Cookie":              "session=canary-cookie-e3b0",
		"Proxy-Authorization": "Basic Y2FuYXJ5OmNhbmFyeQ==",
	}
	send := func(method, target, ct string, body []byte) {
		req, _ := http.NewRequest(method, s.url+target, strings.NewReader(string(body)))
		for k, v := range creds {
			req.Header.Set(k, v)
		}
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		res, err := s.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("%s %s: %d", method, target, res.StatusCode)
		}
	}
	send(http.MethodGet, "/", "", nil)
	send(http.MethodGet, "/static/app.js", "", nil)
	r := sealPSK(t, pskKey(t, s), "/v1/ocr", "image/png", []byte("IMAGE"), time.Now())
	send(http.MethodPost, r.target, psk.RequestMediaType, r.body)
	seen := rec.requests()
	if len(seen) != 3 {
		t.Fatalf("the upstream saw %d requests, want 3", len(seen))
	}
	for _, r := range seen {
		for k := range creds {
			if v := r.Header.Get(k); v != "" {
				t.Errorf("%s %s reached the upstream with %s: %s", r.Method, r.URL, k, v)
			}
		}
	}
}

// rawPSK writes a sealed PSK request over a raw TLS connection with the
// request-target exactly as given (no client library re-encodes it) and
// returns the outer answer.
func rawPSK(t *testing.T, s *sidecar, r sealedPSK) (*http.Response, []byte) {
	t.Helper()
	c, err := tls.Dial("tcp", s.addr, &tls.Config{RootCAs: s.caPool, ServerName: "127.0.0.1", NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n",
		r.target, s.addr, psk.RequestMediaType, len(r.body))
	if _, err := c.Write(r.body); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return res, body
}

// TestPSKTargetAsSent writes PSK requests over a raw TLS connection, each
// sealed over its request-target exactly as it is on the wire (PROTOCOL.md
// section 1.2), with characters Go's url package would re-escape. A `"` in
// the path: the request must open (and, its path being off the inner-route
// allowlist, get the sealed 403), where before the fix the sidecar bound the
// re-escaped form (%22) and refused it as cannot_open. A `"` in the query
// opens too, and gets the sealed 403 without reaching the upstream: it is not
// a valid RFC 9112 request-target, which an upstream other than Go's could
// read differently (audit finding #13). Sub-delimiters in the query (`'`,
// `(`, `!`, `*`): the request opens and the upstream gets the target as sent.
func TestPSKTargetAsSent(t *testing.T) {
	rec := newHeaderRecorder(t)
	s := newSidecar(t, map[string]string{"SEALOCR_UPSTREAM": rec.srv.URL})
	key := pskKey(t, s)

	r := sealPSK(t, key, `/v1/ocr/"x"`, "image/png", []byte("IMAGE"), time.Now())
	res, body := rawPSK(t, s, r)
	status, _, content := openPSK(t, "psk "+r.target, r, res, body)
	if a := api.Lookup(api.RouteNotAllowed); status != a.Status || string(content) != string(a.Body) {
		t.Errorf("%s: inner answer %d %s, want the sealed route_not_allowed", r.target, status, content)
	}

	r = sealPSK(t, key, `/v1/ocr?mode=line&tag="x"`, "image/png", []byte("IMAGE"), time.Now())
	res, body = rawPSK(t, s, r)
	status, _, content = openPSK(t, "psk "+r.target, r, res, body)
	if a := api.Lookup(api.RouteNotAllowed); status != a.Status || string(content) != string(a.Body) {
		t.Errorf("%s: inner answer %d %s, want the sealed route_not_allowed", r.target, status, content)
	}
	if seen := rec.requests(); len(seen) != 0 {
		t.Fatalf("a target that is not valid per RFC 9112 reached the upstream: %q", seen[0].RequestURI)
	}

	r = sealPSK(t, key, `/v1/ocr?mode=line&tag='x'(!*)`, "image/png", []byte("IMAGE"), time.Now())
	res, body = rawPSK(t, s, r)
	status, _, content = openPSK(t, "psk "+r.target, r, res, body)
	if status != http.StatusOK || string(content) != `{"text":"recorded"}` {
		t.Fatalf("%s: inner answer %d %s", r.target, status, content)
	}
	seen := rec.requests()
	if len(seen) != 1 || seen[0].RequestURI != r.target {
		got := ""
		if len(seen) == 1 {
			got = seen[0].RequestURI
		}
		t.Fatalf("the upstream saw %q, want %q", got, r.target)
	}
}

// TestOneBucketAcrossModes: with a budget of 3 requests, a client switching
// between PSK, OHTTP and legacy gets 3 answers and then 429, and failed
// authentications from an address empty its bucket until even a valid key
// is not checked (429). Before the fix each mode had its own bucket (the
// fourth request passed) and failed authentications cost nothing.
func TestOneBucketAcrossModes(t *testing.T) {
	const goodKey = "sk-e2e-bucket-0123456789abcdef0123456789"
	keysFile := filepath.Join(t.TempDir(), "api-keys.yaml")
	if err := os.WriteFile(keysFile, []byte("keys:\n  - id: e2e\n    sha256: "+auth.HashAPIKey(goodKey)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := newLegacySidecar(t, map[string]string{
		"SEALOCR_RATE_LIMIT": "3/h", "SEALOCR_RATE_LIMIT_BURST": "3",
		"SEALOCR_AUTH": "optional", "SEALOCR_AUTH_API_KEYS_FILE": keysFile,
		"SEALOCR_UNSAFE_LEGACY_ANONYMOUS": "true",
	})
	key := pskKey(t, s)
	cfg := ohttpKeys(t, s)[0]
	psk1 := func() int {
		r := sealPSK(t, key, "/v1/ocr", "image/png", []byte("IMAGE"), time.Now())
		res, _ := s.sendPSK(t, r)
		return res.StatusCode
	}
	ohttp1 := func() int {
		enc, _, err := ohttp.EncapsulateRequest(cfg, cfg.Suites()[0], innerRequest(t, s, "/v1/ocr", "image/png", []byte("IMAGE")))
		if err != nil {
			t.Fatal(err)
		}
		res, _ := s.do(t, http.MethodPost, "/.well-known/ohttp-gateway", ohttp.RequestMediaType, enc)
		return res.StatusCode
	}
	legacy1 := func() int {
		res, _ := s.do(t, http.MethodPost, "/ocr", "application/json", legacyJSON(make([]byte, 32)))
		return res.StatusCode
	}
	got := []int{psk1(), ohttp1(), legacy1(), psk1(), ohttp1()}
	if want := []int{200, 200, 400, 429, 429}; !slices.Equal(got, want) {
		t.Errorf("one client across modes: %v, want %v", got, want)
	}

	// Failed authentications, from another address.
	c := s.clientFrom("127.0.0.2", false, nil)
	try := func(k string) int {
		r := sealPSK(t, key, "/v1/ocr", "image/png", []byte("IMAGE"), time.Now())
		req, _ := http.NewRequest(http.MethodPost, s.url+r.target, strings.NewReader(string(r.body)))
		req.Header.Set("Content-Type", psk.RequestMediaType)
		req.Header.Set("X-API-Key", k)
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}
	got = []int{try("wrong-1"), try("wrong-2"), try("wrong-3"), try("wrong-4"), try(goodKey)}
	if want := []int{401, 401, 401, 429, 429}; !slices.Equal(got, want) {
		t.Errorf("failed authentications then the valid key: %v, want %v", got, want)
	}
}

// TestOHTTPTargetNotRFC9112 (audit round 2, #13) against the real sidecar:
// an OHTTP inner request whose path carries what an HTTP/1.1 request line
// cannot (a raw space, a `"`, a control byte, a bad %-escape) opens, and
// gets the sealed 403 without reaching the upstream; before the fix the
// raw space went into the upstream's request line. A valid target with
// sub-delimiters is forwarded as sent.
func TestOHTTPTargetNotRFC9112(t *testing.T) {
	rec := newHeaderRecorder(t)
	s := newSidecar(t, map[string]string{"SEALOCR_UPSTREAM": rec.srv.URL})
	cfg := ohttpKeys(t, s)[0]
	suite := ohttp.DefaultSuites()[0]
	refused := api.Lookup(api.RouteNotAllowed)
	for _, target := range []string{
		"/v1/ocr?mode=line&tag=a b",
		"/v1/ocr?mode=line&tag=\"x\"",
		"/v1/ocr?mode=line&tag=a\x01b",
		"/v1/ocr?mode=line&tag=%zz",
		"/v1/ocr?mode=line&tag=\xc3\xa9",
	} {
		bres := s.ohttpExchange(t, cfg, suite, innerRequest(t, s, target, "image/png", []byte("IMAGE")))
		if bres.Status != refused.Status || string(bres.Content) != string(refused.Body) {
			t.Errorf("%q: inner answer %d %s, want the sealed route_not_allowed", target, bres.Status, bres.Content)
		}
	}
	if seen := rec.requests(); len(seen) != 0 {
		t.Fatalf("a target that is not valid per RFC 9112 reached the upstream: %q", seen[0].RequestURI)
	}
	const valid = "/v1/ocr?mode=line&tag='x'(!*)"
	if bres := s.ohttpExchange(t, cfg, suite, innerRequest(t, s, valid, "image/png", []byte("IMAGE"))); bres.Status != http.StatusOK {
		t.Fatalf("%s: inner answer %d %s", valid, bres.Status, bres.Content)
	}
	if seen := rec.requests(); len(seen) != 1 || seen[0].RequestURI != valid {
		t.Fatalf("the upstream saw %v, want %q", seen, valid)
	}
}

// TestRelayStrangersCannotLockOutUsers (audit round 2, #4) against the
// real sidecar and core: behind a relay (one address for every client),
// strangers post garbage OHTTP requests until the address's bucket of 3 is
// empty; a client whose inner API key is valid, from the same address, is
// still served from its own bucket (a never-used key too), while an
// anonymous request from the address gets 429. Before the fix the outer
// request drew from the address's bucket before it was opened, and the
// valid inner key got 429.
func TestRelayStrangersCannotLockOutUsers(t *testing.T) {
	const keyA, keyB = "sk-e2e-relay-a-0123456789abcdef0123456789", "sk-e2e-relay-b-0123456789abcdef0123456789"
	keysFile := filepath.Join(t.TempDir(), "api-keys.yaml")
	if err := os.WriteFile(keysFile, []byte("keys:\n  - id: a\n    sha256: "+auth.HashAPIKey(keyA)+
		"\n  - id: b\n    sha256: "+auth.HashAPIKey(keyB)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"optional", "required"} {
		t.Run(mode, func(t *testing.T) {
			s := newSidecar(t, map[string]string{
				"SEALOCR_RATE_LIMIT": "3/h", "SEALOCR_RATE_LIMIT_BURST": "3",
				"SEALOCR_AUTH": mode, "SEALOCR_AUTH_API_KEYS_FILE": keysFile,
			})
			cfg := ohttpKeys(t, s)[0]
			post := func(inner []byte) (int, []byte) {
				res, body := s.do(t, http.MethodPost, "/.well-known/ohttp-gateway", ohttp.RequestMediaType, inner)
				return res.StatusCode, body
			}
			var garbage []int
			for range 6 {
				junk := make([]byte, 200)
				_, _ = rand.Read(junk)
				junk[0] = cfg.KeyID() // a known key: decapsulation is tried, and fails
				copy(junk[1:], []byte{0x00, 0x20, 0x00, 0x01, 0x00, 0x02})
				code, _ := post(junk)
				garbage = append(garbage, code)
			}
			if want := []int{400, 400, 400, 429, 429, 429}; !slices.Equal(garbage, want) {
				t.Errorf("garbage from the relay's address: %v, want %v", garbage, want)
			}
			sealed := func(key string) int {
				req := &bhttp.Request{Method: http.MethodPost, Scheme: "https", Authority: s.addr, Path: "/v1/ocr",
					Header: []bhttp.Field{{Name: "content-type", Value: "image/png"}}, Content: renderText(t, docTexts[0], 40)}
				if key != "" {
					req.Header = append(req.Header, bhttp.Field{Name: "x-api-key", Value: key})
				}
				b, err := req.MarshalBinary()
				if err != nil {
					t.Fatal(err)
				}
				enc, cc, err := ohttp.EncapsulateRequest(cfg, cfg.Suites()[0], b)
				if err != nil {
					t.Fatal(err)
				}
				code, body := post(enc)
				if code != http.StatusOK {
					return code
				}
				out, err := cc.DecapsulateResponse(body)
				if err != nil {
					t.Fatal(err)
				}
				bres, err := bhttp.ParseResponse(out, bhttp.Limits{})
				if err != nil {
					t.Fatal(err)
				}
				return bres.Status
			}
			for _, k := range []string{keyA, keyA, keyB} {
				if code := sealed(k); code != http.StatusOK {
					t.Errorf("a valid inner key after the garbage: %d, want 200", code)
				}
			}
			if code := sealed(""); code != http.StatusTooManyRequests {
				t.Errorf("anonymous from the emptied address: %d, want 429", code)
			}
		})
	}
}
