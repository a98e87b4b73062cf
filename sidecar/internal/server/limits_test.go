package server

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sealocr/sealocr/sidecar/api"
	"github.com/sealocr/sealocr/sidecar/internal/auth"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/psk"
	"github.com/sealocr/sealocr/sidecar/internal/ratelimit"
	"github.com/sealocr/sealocr/sidecar/internal/route"
)

// TestSharedBucketAndFailedAuth: PSK, OHTTP and legacy requests of one
// client draw from one bucket; failed authentications draw from the
// address's bucket, and once it is empty credentials are not checked from
// that address (429, even for a valid key).
func TestSharedBucketAndFailedAuth(t *testing.T) {
	now := time.Unix(1e9, 0)
	h := Handler(Options{
		Gateway:    okHandler,
		Auth:       newAuth(t),
		AuthModes:  map[route.Kind]auth.Mode{route.PSK: auth.Optional, route.OHTTP: auth.Optional, route.Legacy: auth.Optional},
		RateStore:  ratelimit.NewMemory(100),
		RateShared: ratelimit.Policy{Name: "requests", Rate: 1.0 / 60, Burst: 3},
		Now:        func() time.Time { return now },
	})
	do := func(addr, method, path, ct, key string) int {
		r := httptest.NewRequest(method, path, strings.NewReader("x"))
		r.RemoteAddr = addr + ":1234"
		r.Header.Set("Content-Type", ct)
		if key != "" {
			r.Header.Set("X-API-Key", key)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	// Three modes, one bucket of 3 (an authenticated client: an anonymous
	// OHTTP request is charged by the gateway once opened, see
	// TestOHTTPInnerCredentialsChooseTheBucket).
	got := []int{
		do("192.0.2.1", "POST", "/v1/ocr", psk.RequestMediaType, apiKey),
		do("192.0.2.1", "POST", "/.well-known/ohttp-gateway", "message/ohttp-req", apiKey),
		do("192.0.2.1", "POST", "/v1/ocr", psk.RequestMediaType, apiKey),
		do("192.0.2.1", "POST", "/.well-known/ohttp-gateway", "message/ohttp-req", apiKey),
	}
	if want := []int{200, 200, 200, 429}; !equalInts(got, want) {
		t.Errorf("one client across modes: %v, want %v", got, want)
	}
	// Failed authentications: 401 while the address's bucket lasts, then
	// 429 without checking, even for the valid key.
	got = []int{
		do("192.0.2.2", "POST", "/v1/ocr", psk.RequestMediaType, "wrong-1"),
		do("192.0.2.2", "POST", "/v1/ocr", psk.RequestMediaType, "wrong-2"),
		do("192.0.2.2", "POST", "/v1/ocr", psk.RequestMediaType, "wrong-3"),
		do("192.0.2.2", "POST", "/v1/ocr", psk.RequestMediaType, "wrong-4"),
		do("192.0.2.2", "POST", "/v1/ocr", psk.RequestMediaType, apiKey),
	}
	if want := []int{401, 401, 401, 429, 429}; !equalInts(got, want) {
		t.Errorf("failed authentications: %v, want %v", got, want)
	}
	// Another address is unaffected; health is never limited.
	if c := do("192.0.2.3", "POST", "/v1/ocr", psk.RequestMediaType, ""); c != 200 {
		t.Errorf("another address: %d", c)
	}
	if c := do("192.0.2.2", "GET", "/healthz", "", ""); c != 200 {
		t.Errorf("health: %d", c)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestHealthBeforeLimits: with every slot taken, /healthz and /readyz still
// answer 200 at once.
func TestHealthBeforeLimits(t *testing.T) {
	release := make(chan struct{})
	var started sync.WaitGroup
	block := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		started.Done()
		<-release
	})
	h := Handler(Options{Gateway: block, MaxConcurrent: 2, MaxConcurrentPerClient: 2})
	var done sync.WaitGroup
	for i := range 2 {
		started.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			r := httptest.NewRequest("POST", "/v1/ocr", strings.NewReader("x"))
			r.RemoteAddr = "192.0.2." + string(rune('1'+i)) + ":1"
			r.Header.Set("Content-Type", psk.RequestMediaType)
			h.ServeHTTP(httptest.NewRecorder(), r)
		}()
	}
	started.Wait()
	for _, p := range []string{"/healthz", "/readyz"} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", p, nil))
		if w.Code != 200 {
			t.Errorf("%s with every slot taken: %d", p, w.Code)
		}
	}
	w := httptest.NewRecorder()
	r := httptest.NewRequest("POST", "/v1/ocr", strings.NewReader("x"))
	r.Header.Set("Content-Type", psk.RequestMediaType)
	h.ServeHTTP(w, r)
	if w.Code != 503 || w.Header().Get("Retry-After") == "" {
		t.Errorf("a third request: %d %v, want 503 busy", w.Code, w.Header())
	}
	close(release)
	done.Wait()
}

// TestPerClientAndBudget: one client gets at most its share of slots, and
// bodies beyond the byte budget are refused busy, while another client and
// smaller bodies go through; the gateway gets the body without a copy.
func TestPerClientAndBudget(t *testing.T) {
	release := make(chan struct{})
	var started sync.WaitGroup
	var mu sync.Mutex
	lens := map[int]bool{}
	gw := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := r.Body.(interface{ Bytes() []byte })
		if !ok {
			t.Error("the gateway got an unbuffered body")
		} else {
			mu.Lock()
			lens[len(b.Bytes())] = true
			mu.Unlock()
		}
		started.Done()
		<-release
	})
	h := Handler(Options{Gateway: gw, MaxConcurrent: 10, MaxConcurrentPerClient: 2, MaxBodyBytes: 1000, MaxBufferedBytes: 2500,
		MaxBufferedBytesPerClient: 1600})
	send := func(addr string, n int) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", "/v1/ocr", bytes.NewReader(make([]byte, n)))
		r.RemoteAddr = addr + ":1"
		r.Header.Set("Content-Type", psk.RequestMediaType)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	var done sync.WaitGroup
	for _, addr := range []string{"192.0.2.1", "192.0.2.1", "192.0.2.2"} {
		started.Add(1)
		done.Add(1)
		go func() { defer done.Done(); send(addr, 800) }()
	}
	started.Wait() // 2400 of 2500 bytes held
	if w := send("192.0.2.1", 10); w.Code != 503 {
		t.Errorf("third request of one client: %d, want 503", w.Code)
	}
	if w := send("192.0.2.3", 200); w.Code != 503 || w.Header().Get("Retry-After") == "" {
		t.Errorf("a body beyond the budget: %d, want 503 busy with Retry-After", w.Code)
	}
	if w := send("192.0.2.3", 1001); w.Code != 413 {
		t.Errorf("a body over the limit: %d, want 413", w.Code)
	}
	started.Add(1)
	done.Add(1)
	go func() { defer done.Done(); send("192.0.2.3", 100) }()
	started.Wait()
	close(release)
	done.Wait()
	if !lens[800] || !lens[100] {
		t.Errorf("body lengths seen by the gateway: %v", lens)
	}
}

// slowBody yields one byte per tick.
type slowBody struct {
	n    int
	tick time.Duration
}

func (s *slowBody) Read(p []byte) (int, error) {
	if s.n == 0 {
		return 0, io.EOF
	}
	time.Sleep(s.tick)
	s.n--
	p[0] = 'x'
	return 1, nil
}

// TestMinimumRate: a body slower than the minimum rate after the grace
// period is refused too_slow before the gateway sees it; one within it is
// read.
func TestMinimumRate(t *testing.T) {
	called := 0
	gw := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { called++ })
	h := Handler(Options{Gateway: gw, BodyMinRate: 100, BodyGrace: 200 * time.Millisecond})
	send := func(body io.Reader, n int64) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", "/v1/ocr", body)
		r.ContentLength = n
		r.Header.Set("Content-Type", psk.RequestMediaType)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	start := time.Now()
	w := send(&slowBody{n: 1000, tick: 50 * time.Millisecond}, 1000)
	if a := api.Lookup(api.TooSlow); w.Code != a.Status || w.Body.String() != string(a.Body) {
		t.Errorf("slow body: %d %s", w.Code, w.Body)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the slow body was held %s", d)
	}
	if called != 0 {
		t.Error("the gateway saw the slow request")
	}
	if w := send(&slowBody{n: 5, tick: 10 * time.Millisecond}, -1); w.Code != 200 || called != 1 {
		t.Errorf("a short chunked body: %d, gateway called %d times", w.Code, called)
	}
}

// TestNextSize: a body's buffers double as they fill, never beyond twice
// what has arrived (or readChunk for the first), and end on the limit; with
// a declared length the bytes copied from replaced buffers stay under the
// length (a body just over a power of two, 1 MiB with its envelope, took
// 64 KiB, ..., 1 MiB and then the length: twice its length copied).
func TestNextSize(t *testing.T) {
	for _, tc := range []struct {
		name  string
		limit int64
		exact bool
	}{
		{"small", 1000, true},
		{"readChunk", readChunk, true},
		{"just over readChunk", readChunk + 1, true},
		{"1MiB", 1 << 20, true},
		{"1MiB+envelope", 1<<20 + 64, true},
		{"20MiB-1", 20<<20 - 1, true},
		{"unknown length, 20MiB limit", 20 << 20, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var sizes []int64
			copied := int64(0)
			for old := int64(0); old < tc.limit; {
				size := nextSize(old, tc.limit, tc.exact)
				if size <= old {
					t.Fatalf("after %v: %d does not grow", sizes, size)
				}
				if size > max(2*old, readChunk) {
					t.Fatalf("after %v: %d is more than twice %d (or readChunk)", sizes, size, old)
				}
				sizes = append(sizes, size)
				copied += old
				old = size
			}
			if last := sizes[len(sizes)-1]; last != tc.limit {
				t.Fatalf("sizes %v end on %d, want the limit %d", sizes, last, tc.limit)
			}
			if tc.exact && copied >= tc.limit {
				t.Fatalf("sizes %v: %d bytes copied, want fewer than the length %d", sizes, copied, tc.limit)
			}
		})
	}
}
