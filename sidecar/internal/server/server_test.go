package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sealocr/sealocr/sidecar/internal/auth"
	"github.com/sealocr/sealocr/sidecar/internal/clientip"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/bhttp"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/ohttp"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/psk"
	"github.com/sealocr/sealocr/sidecar/internal/gateway"
	"github.com/sealocr/sealocr/sidecar/internal/keys"
	"github.com/sealocr/sealocr/sidecar/internal/ratelimit"
	"github.com/sealocr/sealocr/sidecar/internal/route"
	"github.com/sealocr/sealocr/sidecar/internal/upstream"
)

const apiKey = "sk-server-test-0123456789abcdef0123"

func newAuth(t testing.TB) *auth.Authenticator {
	t.Helper()
	p := filepath.Join(t.TempDir(), "api-keys.yaml")
	if err := os.WriteFile(p, []byte("keys:\n  - id: ci\n    sha256: "+auth.HashAPIKey(apiKey)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := auth.New(context.Background(), auth.Options{APIKeysFile: p})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

var okHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })

// TestPolicyKinds: every request is keyed for auth and rate limits by the
// policy kind of the route decision (route.Kind.Policy).
func TestPolicyKinds(t *testing.T) {
	rules := route.Rules{LegacyEnabled: true, LegacyPath: "/ocr"}
	for _, tc := range []struct {
		method, path, ct string
		want             route.Kind
	}{
		{"GET", "/healthz", "", route.Health},
		{"HEAD", "/readyz", "", route.Health},
		{"POST", "/healthz", "", route.Plain},
		{"POST", gateway.OHTTPPath, ohttp.RequestMediaType, route.OHTTP},
		{"GET", gateway.OHTTPPath, "", route.Plain},
		{"POST", "/v1/ocr", psk.RequestMediaType + "; x=y", route.PSK},
		{"POST", "/ocr", "application/json", route.Legacy},
		{"POST", "/v1/ocr", "image/png", route.Plain},
		{"GET", "/static/app.js", "", route.Plain},
		{"GET", "/v1/auth-info", "", route.Health},
		{"HEAD", "/v1/auth-info", "", route.Health},
		{"POST", "/v1/auth-info", "", route.Plain},
	} {
		r := httptest.NewRequest(tc.method, tc.path, nil)
		r.Header.Set("Content-Type", tc.ct)
		if got := rules.Classify(r).Policy(); got != tc.want {
			t.Errorf("%s %s %s: %s, want %s", tc.method, tc.path, tc.ct, got, tc.want)
		}
	}
	if got := (route.Rules{LegacyPath: "/ocr"}).Classify(httptest.NewRequest("POST", "/ocr", nil)).Policy(); got != route.Plain {
		t.Errorf("legacy off: %s", got)
	}
}

// TestChain checks the order: auth runs before rate limiting (an
// authenticated client is limited by identity), health checks pass both,
// 401 and 429 carry their headers.
func TestChain(t *testing.T) {
	now := time.Unix(1e9, 0)
	h := Handler(Options{
		Gateway:   okHandler,
		Auth:      newAuth(t),
		AuthModes: map[route.Kind]auth.Mode{route.PSK: auth.Required, route.Plain: auth.Optional},
		RateStore: ratelimit.NewMemory(100),
		RatePolicies: map[route.Kind]ratelimit.Policy{
			route.PSK: {Name: "psk", Rate: 1.0 / 60, Burst: 2}, route.Plain: {Name: "plain", Rate: 1.0 / 60, Burst: 1},
		},
		Now: func() time.Time { return now },
	})
	do := func(method, path, ct, key string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, path, strings.NewReader("x"))
		r.RemoteAddr = "192.0.2.1:1234"
		r.Header.Set("Content-Type", ct)
		if key != "" {
			r.Header.Set("Authorization", "Bearer "+key)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	w := do("POST", "/v1/ocr", psk.RequestMediaType, "")
	if w.Code != 401 || w.Header().Get("WWW-Authenticate") != `Bearer realm="sealocr"` || w.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("no credentials: %d %v", w.Code, w.Header())
	}
	for i, want := range []int{200, 200, 429} {
		if w := do("POST", "/v1/ocr", psk.RequestMediaType, apiKey); w.Code != want {
			t.Errorf("psk request %d: %d, want %d", i, w.Code, want)
		} else if want == 429 && (w.Header().Get("Retry-After") != "60" || w.Header().Get("RateLimit-Policy") != `"psk";q=2;w=120`) {
			t.Errorf("429 headers %v", w.Header())
		}
	}
	// The same address, anonymous, has its own bucket on plain routes.
	if w := do("GET", "/", "", ""); w.Code != 200 {
		t.Errorf("anonymous plain: %d", w.Code)
	}
	if w := do("GET", "/", "", ""); w.Code != 429 {
		t.Errorf("anonymous plain again: %d", w.Code)
	}
	if w := do("GET", "/", "", "wrong-key"); w.Code != 401 {
		t.Errorf("optional with a bad key: %d", w.Code)
	}
	for range 5 {
		if w := do("GET", "/healthz", "", ""); w.Code != 200 {
			t.Errorf("health: %d", w.Code)
		}
	}
}

// stubUpstream answers every forwarded request, recording what came.
type stubUpstream struct {
	calls atomic.Int32
}

func (s *stubUpstream) Do(_ context.Context, _, path string, _ http.Header, body []byte) (*upstream.Response, error) {
	s.calls.Add(1)
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	return &upstream.Response{Status: 200, Header: h, Body: []byte(`{"path":"` + path + `","n":` + fmt.Sprint(len(body)) + `}`)}, nil
}

func (s *stubUpstream) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	_, _ = io.WriteString(w, "plain")
}

type staticKeys struct{ s *keys.Set }

func (k staticKeys) Current() *keys.Set { return k.s }

// TestOHTTPInnerCredentials: with auth required for OHTTP the credentials
// may travel inside the encrypted request; without them the answer is an
// encapsulated 401 with a WWW-Authenticate field.
func TestOHTTPInnerCredentials(t *testing.T) {
	kb, err := keys.Generate("k1")
	if err != nil {
		t.Fatal(err)
	}
	set, err := keys.Parse(kb)
	if err != nil {
		t.Fatal(err)
	}
	authn := newAuth(t)
	up := &stubUpstream{}
	modes := map[route.Kind]auth.Mode{route.OHTTP: auth.Required}
	gw := gateway.New(gateway.Options{
		Keys: staticKeys{set}, Upstream: up, Replay: psk.NewMemoryReplayCache(100, time.Now),
		Authorize: OHTTPAuthorizer(authn, modes[route.OHTTP]),
	})
	srv := httptest.NewTLSServer(Handler(Options{Gateway: gw, Auth: authn, AuthModes: modes}))
	defer srv.Close()
	client := srv.Client()

	send := func(inner []bhttp.Field, outerKey string) (int, *bhttp.Response) {
		t.Helper()
		breq := &bhttp.Request{Method: "POST", Scheme: "https", Authority: "sidecar", Path: "/v1/ocr",
			Header: append([]bhttp.Field{{Name: "content-type", Value: "image/png"}}, inner...), Content: []byte("img")}
		b, err := breq.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		enc, cc, err := ohttp.EncapsulateRequest(set.Public[0], ohttp.DefaultSuites()[0], b)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodPost, srv.URL+gateway.OHTTPPath, bytes.NewReader(enc))
		req.Header.Set("Content-Type", ohttp.RequestMediaType)
		if outerKey != "" {
			req.Header.Set("X-Api-Key", outerKey)
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 {
			return res.StatusCode, nil
		}
		plain, err := cc.DecapsulateResponse(body)
		if err != nil {
			t.Fatal(err)
		}
		bres, err := bhttp.ParseResponse(plain, bhttp.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		return res.StatusCode, bres
	}
	field := func(r *bhttp.Response, name string) string {
		for _, f := range r.Header {
			if f.Name == name {
				return f.Value
			}
		}
		return ""
	}
	for _, tc := range []struct {
		name      string
		inner     []bhttp.Field
		outer     string
		outerCode int
		inner401  bool
		challenge string
	}{
		{"no credentials", nil, "", 200, true, `Bearer realm="sealocr"`},
		{"inner api key", []bhttp.Field{{Name: "x-api-key", Value: apiKey}}, "", 200, false, ""},
		{"inner bearer", []bhttp.Field{{Name: "authorization", Value: "Bearer " + apiKey}}, "", 200, false, ""},
		{"inner wrong key", []bhttp.Field{{Name: "x-api-key", Value: "nope"}}, "", 200, true, `Bearer realm="sealocr", error="invalid_token"`},
		{"outer key", nil, apiKey, 200, false, ""},
		{"outer wrong key", nil, "nope", 401, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := up.calls.Load()
			code, res := send(tc.inner, tc.outer)
			if code != tc.outerCode {
				t.Fatalf("outer status %d, want %d", code, tc.outerCode)
			}
			if res == nil {
				return
			}
			forwarded := up.calls.Load() != before
			if tc.inner401 {
				if res.Status != 401 || field(res, "www-authenticate") != tc.challenge || forwarded {
					t.Errorf("inner %d %q forwarded %v", res.Status, field(res, "www-authenticate"), forwarded)
				}
				return
			}
			if res.Status != 200 || !forwarded {
				t.Errorf("inner %d %s forwarded %v", res.Status, res.Content, forwarded)
			}
		})
	}
}

// TestLoad runs a real server on 127.0.0.1 behind a "trusted proxy" (the
// test client itself, naming clients in X-Forwarded-For): many clients go
// far past their limits while legitimate ones keep being served; then a
// flood of distinct addresses shows the buckets stay bounded.
func TestLoad(t *testing.T) {
	ips, _ := clientip.New([]string{"127.0.0.1"})
	store := ratelimit.NewMemory(1000)
	const burst = 5
	h := Handler(Options{
		Gateway: okHandler, ClientIP: ips, RateStore: store, MaxConcurrent: 4096,
		RatePolicies: map[route.Kind]ratelimit.Policy{route.PSK: {Name: "psk", Rate: 1.0 / 60, Burst: burst}},
	})
	srv := httptest.NewServer(h)
	defer srv.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	post := func(ip string) int {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/ocr", strings.NewReader("sealed"))
		req.Header.Set("Content-Type", psk.RequestMediaType)
		req.Header.Set("X-Forwarded-For", ip)
		res, err := client.Do(req)
		if err != nil {
			t.Error(err)
			return 0
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}

	const abusers, perAbuser, legit, perLegit, workers = 200, 12, 20, burst, 64
	type job struct {
		ip    string
		legit bool
	}
	jobs := make(chan job)
	var allowed, refused, legitOK, legitRefused atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				code := post(j.ip)
				switch {
				case j.legit && code == 200:
					legitOK.Add(1)
				case j.legit:
					legitRefused.Add(1)
				case code == 200:
					allowed.Add(1)
				case code == 429:
					refused.Add(1)
				}
			}
		}()
	}
	start := time.Now()
	for round := range perAbuser {
		for a := range abusers {
			jobs <- job{ip: fmt.Sprintf("198.51.100.%d", a+1)}
		}
		if round < perLegit {
			for l := range legit {
				jobs <- job{ip: fmt.Sprintf("203.0.113.%d", l+1), legit: true}
			}
		}
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(start)
	total := abusers*perAbuser + legit*perLegit
	t.Logf("phase 1: %d requests in %s (%.0f req/s); abusers allowed %d refused %d; legitimate %d served, %d refused",
		total, elapsed.Round(time.Millisecond), float64(total)/elapsed.Seconds(), allowed.Load(), refused.Load(), legitOK.Load(), legitRefused.Load())
	if allowed.Load() != abusers*burst || refused.Load() != abusers*(perAbuser-burst) {
		t.Errorf("limiter leaked: %d allowed, want exactly %d", allowed.Load(), abusers*burst)
	}
	if legitOK.Load() != legit*perLegit {
		t.Errorf("legitimate clients refused: %d of %d served", legitOK.Load(), legit*perLegit)
	}

	// Phase 2: a flood of distinct addresses cannot grow the store.
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	const flood = 4000
	jobs2 := make(chan string)
	var wg2 sync.WaitGroup
	for range workers {
		wg2.Add(1)
		go func() {
			defer wg2.Done()
			for ip := range jobs2 {
				post(ip)
			}
		}()
	}
	start = time.Now()
	for i := range flood {
		jobs2 <- fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
	}
	close(jobs2)
	wg2.Wait()
	elapsed = time.Since(start)
	runtime.GC()
	runtime.ReadMemStats(&m1)
	growth := int64(m1.HeapAlloc) - int64(m0.HeapAlloc)
	t.Logf("phase 2: %d distinct clients in %s (%.0f req/s); buckets held %d (max 1000), evicted %d; heap %+.1f MiB",
		flood, elapsed.Round(time.Millisecond), float64(flood)/elapsed.Seconds(), store.Len(), store.Evicted(), float64(growth)/(1<<20))
	if store.Len() > 1000 {
		t.Errorf("store holds %d buckets, bound 1000", store.Len())
	}
	if growth > 32<<20 {
		t.Errorf("heap grew by %d bytes", growth)
	}
	if code := post("203.0.113.250"); code != 200 {
		t.Errorf("a new legitimate client after the flood: %d", code)
	}
}
