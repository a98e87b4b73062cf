package client_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sealocr/sealocr/core/api"
	"github.com/sealocr/sealocr/sidecar/client"
	"github.com/sealocr/sealocr/sidecar/client/clienttest"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/psk"
	"github.com/sealocr/sealocr/sidecar/internal/gateway"
	"github.com/sealocr/sealocr/sidecar/internal/upstream"
)

// answer is one scripted answer: an error code (with its fixed status and
// body from core/api, or a raw status) and an optional Retry-After.
type answer struct {
	status     int // 0: the code's status
	code       string
	retryAfter int           // seconds; 0: none
	hold       time.Duration // the upstream waits this long first (or until the request is cancelled)
}

func (a answer) write(h http.Header) (int, []byte) {
	status, body := api.ErrorFor(a.code)
	if a.code == "rate_limited" || a.code == "cannot_open" || a.code == "encryption_required" {
		body = api.ErrorBody{Error: api.Error{Code: a.code, Message: "sidecar refusal"}}
	}
	if a.status != 0 {
		status = a.status
	}
	b, _ := json.Marshal(body)
	h.Set("Content-Type", "application/json")
	if a.retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(a.retryAfter))
	}
	return status, b
}

// retryRig is the sidecar's real gateway in front of a scripted upstream,
// behind a front door that can refuse POSTs in the clear (as the sidecar's
// concurrency and rate limits do) and records every POST body on the wire.
type retryRig struct {
	url, ca string
	key     *client.PSKKey

	mu        sync.Mutex
	outer     []answer // next POSTs are refused in the clear with these
	outerAll  *answer  // every POST is refused with this
	inner     []answer // next upstream calls answer these
	innerAll  *answer  // every upstream call answers this
	bodies    [][]byte // every POST body
	upstreams int      // upstream calls
}

func (r *retryRig) Do(ctx context.Context, method, path string, header http.Header, body []byte) (*upstream.Response, error) {
	r.mu.Lock()
	r.upstreams++
	var a *answer
	if len(r.inner) > 0 {
		a, r.inner = &r.inner[0], r.inner[1:]
	} else {
		a = r.innerAll
	}
	r.mu.Unlock()
	if a == nil {
		status, ct, out := clienttest.CannedCore(ctx, clienttest.Request{Method: method, Target: path, ContentType: header.Get("Content-Type"), Body: body})
		return &upstream.Response{Status: status, Header: http.Header{"Content-Type": {ct}}, Body: out}, nil
	}
	if a.hold > 0 {
		select {
		case <-time.After(a.hold):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	h := http.Header{}
	status, b := a.write(h)
	return &upstream.Response{Status: status, Header: h, Body: b}, nil
}

func (r *retryRig) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.WriteHeader(http.StatusNotFound)
}

// posts returns the POST bodies seen so far and the upstream calls.
func (r *retryRig) posts() ([][]byte, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.bodies...), r.upstreams
}

func newRetryRig(t *testing.T) *retryRig {
	t.Helper()
	dir := t.TempDir()
	keyFile := writeKeyFile(t, dir, "keys.yaml", "retry-key")
	var ks keySource
	ks.cur.Store(loadSet(t, keyFile))
	r := &retryRig{key: firstPSK(t, keyFile)}
	gw := gateway.New(gateway.Options{Keys: &ks, Upstream: r, Replay: psk.NewMemoryReplayCache(0, nil)})
	r.url, r.ca = serveTLS(t, dir, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodPost {
			gw.ServeHTTP(w, req)
			return
		}
		body, err := io.ReadAll(req.Body)
		if err != nil {
			t.Errorf("read body: %v", err)
			return
		}
		r.mu.Lock()
		r.bodies = append(r.bodies, body)
		var a *answer
		if len(r.outer) > 0 {
			a, r.outer = &r.outer[0], r.outer[1:]
		} else {
			a = r.outerAll
		}
		r.mu.Unlock()
		if a != nil {
			status, b := a.write(w.Header())
			w.WriteHeader(status)
			_, _ = w.Write(b)
			return
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		gw.ServeHTTP(w, req)
	}))
	return r
}

// client returns a client of the rig with fast backoff.
func (r *retryRig) client(t *testing.T, mode client.Mode, mutate func(*client.Config)) *client.Client {
	t.Helper()
	cfg := client.Config{Server: r.url, CAFile: r.ca, Mode: mode, PSKKey: r.key, Timeout: 20 * time.Second,
		RetryBaseDelay: 20 * time.Millisecond, RetryMaxDelay: 100 * time.Millisecond}
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := client.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// checkFresh fails if two POST bodies are the same: each retry must be
// sealed afresh.
func checkFresh(t *testing.T, bodies [][]byte) {
	t.Helper()
	seen := map[string]bool{}
	for _, b := range bodies {
		if seen[string(b)] {
			t.Fatal("a retry resent the same sealed bytes")
		}
		seen[string(b)] = true
	}
}

func TestRetryBusyAnswers(t *testing.T) {
	const base = 20 * time.Millisecond
	tests := []struct {
		name         string
		outer, inner []answer
		// wait bounds of each retry
		minDelay, maxDelay time.Duration
		sealed             bool
	}{
		{"plain 503 busy with Retry-After", []answer{{code: api.CodeBusy, retryAfter: 1}, {code: api.CodeBusy, retryAfter: 1}}, nil,
			time.Second, time.Second + 4*base, false},
		{"plain 429 without Retry-After", []answer{{status: 429, code: "rate_limited"}, {status: 429, code: "rate_limited"}}, nil,
			0, 4 * base, false},
		{"sealed 503 busy", nil, []answer{{code: api.CodeBusy}, {code: api.CodeBusy}}, 0, 4 * base, true},
		{"sealed 429", nil, []answer{{status: 429, code: api.CodeBusy}, {status: 429, code: api.CodeBusy}}, 0, 4 * base, true},
	}
	for _, mode := range []client.Mode{client.ModePSK, client.ModeOHTTP} {
		for _, tt := range tests {
			t.Run(string(mode)+"/"+tt.name, func(t *testing.T) {
				r := newRetryRig(t)
				r.outer, r.inner = tt.outer, tt.inner
				c := r.client(t, mode, nil)
				var retries []client.RetryInfo
				var gaps []time.Duration
				last := time.Now()
				res, err := c.OCR(context.Background(), pngImage(), client.OCROptions{OnRetry: func(ri client.RetryInfo) {
					retries = append(retries, ri)
					gaps = append(gaps, time.Since(last))
					last = time.Now().Add(ri.Delay)
				}})
				if err != nil {
					t.Fatalf("OCR after two busy answers: %v", err)
				}
				if res.Text != "hello\nworld" {
					t.Errorf("response %+v", res)
				}
				if len(retries) != 2 {
					t.Fatalf("%d retries, want 2: %+v", len(retries), retries)
				}
				for i, ri := range retries {
					var se *client.ServerError
					if ri.Attempt != i+2 || !errors.As(ri.Err, &se) || !client.IsBusy(ri.Err) || se.Sealed != tt.sealed {
						t.Errorf("retry %d: %+v (%v)", i, ri, ri.Err)
					}
					if ri.Delay < tt.minDelay || ri.Delay >= tt.maxDelay {
						t.Errorf("retry %d waits %s, want in [%s, %s)", i, ri.Delay, tt.minDelay, tt.maxDelay)
					}
				}
				bodies, ups := r.posts()
				if len(bodies) != 3 {
					t.Errorf("%d POSTs on the wire, want 3", len(bodies))
				}
				if want := 1 + len(tt.inner); ups != want {
					t.Errorf("%d upstream calls, want %d", ups, want)
				}
				checkFresh(t, bodies)
			})
		}
	}
}

// TestRetryAfterInsideOHTTP: the core's Retry-After travels inside the
// Oblivious HTTP response and is honoured; the PSK envelope carries no
// fields, so a PSK client backs off without it.
func TestRetryAfterInsideOHTTP(t *testing.T) {
	for _, tc := range []struct {
		mode     client.Mode
		min, max time.Duration
	}{
		{client.ModeOHTTP, time.Second, time.Second + 100*time.Millisecond},
		{client.ModePSK, 0, 100 * time.Millisecond},
	} {
		t.Run(string(tc.mode), func(t *testing.T) {
			r := newRetryRig(t)
			r.inner = []answer{{code: api.CodeBusy, retryAfter: 1}}
			c := r.client(t, tc.mode, nil)
			var got []client.RetryInfo
			start := time.Now()
			if _, err := c.OCR(context.Background(), pngImage(), client.OCROptions{OnRetry: func(ri client.RetryInfo) { got = append(got, ri) }}); err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || got[0].Delay < tc.min || got[0].Delay >= tc.max {
				t.Fatalf("retries %+v, want one waiting in [%s, %s)", got, tc.min, tc.max)
			}
			if el := time.Since(start); el < tc.min {
				t.Errorf("call took %s, less than the server's Retry-After", el)
			}
			var se *client.ServerError
			if errors.As(got[0].Err, &se) && tc.mode == client.ModeOHTTP && se.RetryAfter != time.Second {
				t.Errorf("inner Retry-After read as %s", se.RetryAfter)
			}
		})
	}
}

// TestNoRetryOnOtherErrors: permanent answers are final at once.
func TestNoRetryOnOtherErrors(t *testing.T) {
	tests := []struct {
		name         string
		outer, inner *answer
		wantStatus   int
		wantCode     string
	}{
		{"plain 400 cannot_open", &answer{code: "cannot_open", status: 400}, nil, 400, "cannot_open"},
		{"plain 415 encryption_required", &answer{code: "encryption_required", status: 415}, nil, 415, "encryption_required"},
		{"sealed 415 unsupported media type", nil, &answer{code: api.CodeUnsupportedMedia}, 415, api.CodeUnsupportedMedia},
		{"sealed 503 not_ready", nil, &answer{code: api.CodeNotReady}, 503, api.CodeNotReady},
		{"sealed 503 timeout", nil, &answer{code: api.CodeTimeout}, 503, api.CodeTimeout},
		{"sealed 500 internal", nil, &answer{code: api.CodeInternal}, 500, api.CodeInternal},
	}
	for _, mode := range []client.Mode{client.ModePSK, client.ModeOHTTP} {
		for _, tt := range tests {
			t.Run(string(mode)+"/"+tt.name, func(t *testing.T) {
				r := newRetryRig(t)
				r.outerAll, r.innerAll = tt.outer, tt.inner
				c := r.client(t, mode, nil)
				_, err := c.OCR(context.Background(), pngImage(), client.OCROptions{OnRetry: func(ri client.RetryInfo) {
					t.Errorf("retried after %v", ri.Err)
				}})
				var se *client.ServerError
				if !errors.As(err, &se) || se.Status != tt.wantStatus || se.Code != tt.wantCode {
					t.Fatalf("err = %v, want %d %s", err, tt.wantStatus, tt.wantCode)
				}
				if bodies, _ := r.posts(); len(bodies) != 1 {
					t.Errorf("%d POSTs, want 1", len(bodies))
				}
			})
		}
	}
	t.Run("sealed not_an_image", func(t *testing.T) {
		r := newRetryRig(t)
		c := r.client(t, client.ModePSK, nil)
		_, err := c.OCR(context.Background(), []byte("not an image"), client.OCROptions{})
		var se *client.ServerError
		if !errors.As(err, &se) || se.Code != api.CodeNotAnImage {
			t.Fatalf("err = %v", err)
		}
		if _, ups := r.posts(); ups != 1 {
			t.Errorf("%d upstream calls, want 1", ups)
		}
	})
}

// TestRetryLimit: a server that stays busy gets MaxRetries+1 attempts and
// the caller hears its last answer.
func TestRetryLimit(t *testing.T) {
	for _, tc := range []struct {
		maxRetries, want int
	}{{3, 4}, {-1, 1}, {0, 1 + client.DefaultMaxRetries}} {
		t.Run(strconv.Itoa(tc.maxRetries), func(t *testing.T) {
			r := newRetryRig(t)
			r.innerAll = &answer{code: api.CodeBusy}
			c := r.client(t, client.ModeOHTTP, func(c *client.Config) { c.MaxRetries = tc.maxRetries })
			_, err := c.OCR(context.Background(), pngImage(), client.OCROptions{})
			var se *client.ServerError
			if !errors.As(err, &se) || se.Status != 503 || se.Code != api.CodeBusy || !se.Sealed || !client.IsBusy(err) {
				t.Fatalf("err = %v, want the core's sealed 503 busy", err)
			}
			if _, ups := r.posts(); ups != tc.want {
				t.Errorf("%d attempts, want %d", ups, tc.want)
			}
		})
	}
}

// TestRetryDeadline: retries never outlast the caller's deadline.
func TestRetryDeadline(t *testing.T) {
	t.Run("Retry-After past the deadline answers at once", func(t *testing.T) {
		r := newRetryRig(t)
		r.outerAll = &answer{code: api.CodeBusy, retryAfter: 30}
		c := r.client(t, client.ModePSK, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		start := time.Now()
		_, err := c.OCR(ctx, pngImage(), client.OCROptions{})
		if el := time.Since(start); el > time.Second {
			t.Errorf("took %s; a 30 s Retry-After cannot fit in 3 s, so the answer is due at once", el)
		}
		var se *client.ServerError
		if !errors.As(err, &se) || se.Code != api.CodeBusy || se.RetryAfter != 30*time.Second {
			t.Fatalf("err = %v, want the server's busy answer", err)
		}
		if bodies, _ := r.posts(); len(bodies) != 1 {
			t.Errorf("%d POSTs, want 1", len(bodies))
		}
	})
	t.Run("backoff stops at the deadline", func(t *testing.T) {
		r := newRetryRig(t)
		r.innerAll = &answer{code: api.CodeBusy}
		c := r.client(t, client.ModePSK, func(c *client.Config) { c.MaxRetries = 1000 })
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		_, err := c.OCR(ctx, pngImage(), client.OCROptions{})
		if el := time.Since(start); el > 1500*time.Millisecond {
			t.Errorf("took %s with a 1 s deadline", el)
		}
		var se *client.ServerError
		if !(errors.As(err, &se) && se.Code == api.CodeBusy) && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v", err)
		}
		if bodies, _ := r.posts(); len(bodies) < 4 {
			t.Errorf("only %d attempts in a second with 20-100 ms backoff", len(bodies))
		}
	})
	t.Run("Config.Timeout bounds the retries too", func(t *testing.T) {
		r := newRetryRig(t)
		r.innerAll = &answer{code: api.CodeBusy}
		c := r.client(t, client.ModeOHTTP, func(c *client.Config) { c.MaxRetries = 1000; c.Timeout = 700 * time.Millisecond })
		start := time.Now()
		_, err := c.OCR(context.Background(), pngImage(), client.OCROptions{})
		if el := time.Since(start); el > 1200*time.Millisecond || err == nil {
			t.Errorf("took %s (%v) with a 700 ms timeout", el, err)
		}
	})
}

// TestRetryAttemptTimeout: an attempt that got no answer in AttemptTimeout
// is sent again (sealed afresh) while the call has time left.
func TestRetryAttemptTimeout(t *testing.T) {
	for _, mode := range []client.Mode{client.ModePSK, client.ModeOHTTP} {
		t.Run(string(mode), func(t *testing.T) {
			r := newRetryRig(t)
			r.inner = []answer{{code: api.CodeInternal, hold: time.Minute}}
			// Long enough for an X-Wing OHTTP round trip under -race on a
			// loaded machine, far shorter than the held first attempt.
			c := r.client(t, mode, func(c *client.Config) { c.AttemptTimeout = 3 * time.Second })
			var got []client.RetryInfo
			start := time.Now()
			res, err := c.OCR(context.Background(), pngImage(), client.OCROptions{OnRetry: func(ri client.RetryInfo) { got = append(got, ri) }})
			if err != nil {
				t.Fatal(err)
			}
			if res.Text != "hello\nworld" || len(got) != 1 || !errors.Is(got[0].Err, context.DeadlineExceeded) || client.IsBusy(got[0].Err) {
				t.Fatalf("res %+v, retries %+v", res, got)
			}
			if el := time.Since(start); el > 15*time.Second {
				t.Errorf("took %s", el)
			}
			bodies, ups := r.posts()
			if ups != 2 {
				t.Errorf("%d upstream calls, want 2", ups)
			}
			checkFresh(t, bodies)
		})
	}
}

// TestRetryConnectionRefused: a server that is not there is reported at
// once, not retried: no connection was made, and backing off for minutes
// (10 retries, 27.8 s in sealctl before) only hides that nothing listens.
func TestRetryConnectionRefused(t *testing.T) {
	r := newRetryRig(t)
	c, err := client.New(client.Config{Server: "https://127.0.0.1:1", CAFile: r.ca, PSKKey: r.key, MaxRetries: 10,
		RetryBaseDelay: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	start := time.Now()
	_, err = c.OCR(context.Background(), pngImage(), client.OCROptions{OnRetry: func(client.RetryInfo) { n++ }})
	if err == nil || n != 0 || !client.IsUnreachable(err) {
		t.Fatalf("err %v (unreachable %v) after %d retries, want an unreachable error and no retry", err, client.IsUnreachable(err), n)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s to report a refused connection", d)
	}
}

// TestRetryOwnHTTPClient: retries also work with a caller's HTTP client.
func TestRetryOwnHTTPClient(t *testing.T) {
	r := newRetryRig(t)
	r.inner = []answer{{code: api.CodeBusy}}
	pem, err := os.ReadFile(r.ca)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	c, err := client.New(client.Config{Server: r.url, HTTPClient: hc, PSKKey: r.key, RetryBaseDelay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.OCR(context.Background(), pngImage(), client.OCROptions{}); err != nil {
		t.Fatal(err)
	}
}
