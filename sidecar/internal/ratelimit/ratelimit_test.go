package ratelimit

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sealocr/sealocr/sidecar/api"
)

func TestParseRate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want float64
		bad  bool
	}{
		{in: "10/s", want: 10}, {in: "60/m", want: 1}, {in: "10/min", want: 10.0 / 60},
		{in: "3600/h", want: 1}, {in: "0.5/s", want: 0.5}, {in: "off", want: 0}, {in: "0", want: 0},
		{in: "10", bad: true}, {in: "x/s", bad: true}, {in: "-1/s", bad: true}, {in: "0/s", bad: true},
		{in: "10/d", bad: true}, {in: "", bad: true}, {in: "Inf/s", bad: true}, {in: "NaN/s", bad: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseRate(tc.in)
			if tc.bad {
				if !errors.Is(err, ErrBadRate) {
					t.Errorf("ParseRate = %v, %v; want ErrBadRate", got, err)
				}
				return
			}
			if err != nil || math.Abs(got-tc.want) > 1e-12 {
				t.Errorf("ParseRate = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

// TestBucketArithmetic drives one bucket (10 per minute, burst 3) with an
// injected clock and checks each decision, Retry-After and the headers.
func TestBucketArithmetic(t *testing.T) {
	p := Policy{Name: "legacy", Rate: 10.0 / 60, Burst: 3} // one token every 6 s
	m := NewMemory(10)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, step := range []struct {
		at         time.Duration
		allowed    bool
		remaining  int
		retryAfter string // header value; "" when allowed
		rateLimit  string
	}{
		{0, true, 2, "", `"legacy";r=2;t=6`},
		{0, true, 1, "", `"legacy";r=1;t=12`},
		{0, true, 0, "", `"legacy";r=0;t=18`},
		{0, false, 0, "6", `"legacy";r=0;t=18`},
		{time.Second, false, 0, "5", `"legacy";r=0;t=17`},
		{5500 * time.Millisecond, false, 0, "1", `"legacy";r=0;t=13`}, // 0.5 s left rounds up to 1
		{6 * time.Second, true, 0, "", `"legacy";r=0;t=18`},
		{7 * time.Second, false, 0, "5", `"legacy";r=0;t=17`},
		{60 * time.Second, true, 2, "", `"legacy";r=2;t=6`}, // refilled to the burst, not beyond
	} {
		d := m.Take(ctx, "ip:192.0.2.1", p, t0.Add(step.at))
		h := http.Header{}
		SetHeaders(h, p, d)
		if d.Allowed != step.allowed || d.Remaining != step.remaining ||
			h.Get("Retry-After") != step.retryAfter || h.Get("RateLimit") != step.rateLimit {
			t.Errorf("at %s: %+v, Retry-After %q, RateLimit %q; want allowed %v remaining %d Retry-After %q RateLimit %q",
				step.at, d, h.Get("Retry-After"), h.Get("RateLimit"), step.allowed, step.remaining, step.retryAfter, step.rateLimit)
		}
		if got := h.Get("RateLimit-Policy"); got != `"legacy";q=3;w=18` {
			t.Errorf("RateLimit-Policy %q", got)
		}
	}
	if d := m.Take(ctx, "ip:192.0.2.2", p, t0.Add(7*time.Second)); !d.Allowed {
		t.Error("another client shares the bucket")
	}
	if d := m.Take(ctx, "ip:192.0.2.1", Policy{Name: "psk", Rate: 1, Burst: 1}, t0.Add(7*time.Second)); !d.Allowed {
		t.Error("another policy shares the bucket")
	}
}

func TestMemoryBounded(t *testing.T) {
	p := Policy{Name: "p", Rate: 1, Burst: 2}
	m := NewMemory(100)
	t0 := time.Unix(1e9, 0)
	for i := range 1000 {
		m.Take(ctx, string(rune('a'+i%26))+string(rune(i)), p, t0)
	}
	if m.Len() != 100 || m.Evicted() != 900 {
		t.Errorf("Len %d Evicted %d, want 100 and 900", m.Len(), m.Evicted())
	}
	// Full buckets are swept as idle: after 2 s every bucket has refilled.
	later := t0.Add(3 * time.Second)
	for range 100 {
		m.Take(ctx, "fresh", p, later)
	}
	if m.Len() > 2 {
		t.Errorf("idle buckets kept: Len %d", m.Len())
	}
	if d := (Policy{}); !d.Off() || d.Window() != 0 {
		t.Error("zero policy is not off")
	}
	if d := m.Take(ctx, "x", Policy{Name: "off"}, t0); !d.Allowed {
		t.Error("off policy refused")
	}
}

func TestMiddleware(t *testing.T) {
	now := time.Unix(1e9, 0)
	l := &Limiter{
		Store: NewMemory(10),
		Policy: func(r *http.Request) (Policy, bool) {
			return Policy{Name: "default", Rate: 1, Burst: 2}, r.URL.Path != "/healthz"
		},
		Key: func(r *http.Request) string { return r.RemoteAddr },
		Now: func() time.Time { return now },
	}
	limited := 0
	l.OnLimited = func(*http.Request, Policy) { limited++ }
	h := l.Middleware(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) }))
	do := func(path, remote string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, path, nil)
		r.RemoteAddr = remote
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	for i, want := range []int{204, 204, 429, 429} {
		w := do("/v1/ocr", "a")
		if w.Code != want {
			t.Errorf("request %d: %d, want %d", i, w.Code, want)
		}
		if w.Header().Get("RateLimit-Policy") == "" {
			t.Errorf("request %d: no RateLimit-Policy", i)
		}
		if want == 429 && (w.Header().Get("Retry-After") != "1" || w.Body.String() == "") {
			t.Errorf("request %d: Retry-After %q body %q", i, w.Header().Get("Retry-After"), w.Body)
		}
	}
	if w := do("/v1/ocr", "b"); w.Code != 204 {
		t.Errorf("other client: %d", w.Code)
	}
	if w := do("/healthz", "a"); w.Code != 204 || w.Header().Get("RateLimit") != "" {
		t.Errorf("exempt route: %d %v", w.Code, w.Header())
	}
	now = now.Add(time.Second)
	if w := do("/v1/ocr", "a"); w.Code != 204 {
		t.Errorf("after refill: %d", w.Code)
	}
	if limited != 2 {
		t.Errorf("OnLimited called %d times", limited)
	}
}

func TestPeekTakesNothing(t *testing.T) {
	m := NewMemory(10)
	p := Policy{Name: "p", Rate: 1, Burst: 2}
	now := time.Unix(1000, 0)
	if d := m.Peek(ctx, "a", p, now); !d.Allowed || d.Remaining != 2 {
		t.Fatalf("peek of a new bucket: %+v", d)
	}
	for i := range 5 {
		if d := m.Peek(ctx, "a", p, now); !d.Allowed {
			t.Fatalf("peek %d refused: %+v", i, d)
		}
	}
	m.Take(ctx, "a", p, now)
	m.Take(ctx, "a", p, now)
	if d := m.Peek(ctx, "a", p, now); d.Allowed || d.RetryAfter != time.Second {
		t.Fatalf("peek of an empty bucket: %+v", d)
	}
	if d := m.Peek(ctx, "a", p, now.Add(time.Second)); !d.Allowed {
		t.Fatalf("peek after refill: %+v", d)
	}
}

// downStore is a shared store whose backend cannot be asked (the fault a
// Redis outage causes; the real one is tested with redis-server in
// sidecar/cmd/sidecar): it answers per its failure policy.
type downStore struct{ open bool }

func (s downStore) Take(context.Context, string, Policy, time.Time) Decision {
	return Decision{Allowed: s.open, Unavailable: true, RetryAfter: time.Second}
}

// TestMiddlewareStoreUnavailable: fail open serves without RateLimit
// headers; fail closed answers 503 busy with Retry-After, not 429.
func TestMiddlewareStoreUnavailable(t *testing.T) {
	for _, open := range []bool{true, false} {
		limited := 0
		l := &Limiter{Store: downStore{open}, Key: func(*http.Request) string { return "a" },
			Policy:    func(*http.Request) (Policy, bool) { return Policy{Name: "default", Rate: 1, Burst: 2}, true },
			OnLimited: func(*http.Request, Policy) { limited++ }}
		h := l.Middleware(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) }))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/v1/ocr", nil))
		busy := api.Lookup(api.Busy)
		switch {
		case open && (w.Code != 204 || w.Header().Get("RateLimit") != "" || w.Header().Get("RateLimit-Policy") != ""):
			t.Errorf("fail open: %d RateLimit %q, want 204 without RateLimit headers", w.Code, w.Header().Get("RateLimit"))
		case !open && (w.Code != busy.Status || w.Body.String() != string(busy.Body) || w.Header().Get("Retry-After") == "" || limited != 0):
			t.Errorf("fail closed: %d %q Retry-After %q limited %d, want 503 busy, not counted as rate limited", w.Code, w.Body, w.Header().Get("Retry-After"), limited)
		}
	}
}

// ctx is the context of the tests' direct store calls.
var ctx = context.Background()
