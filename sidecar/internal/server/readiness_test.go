package server

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sealocr/sealocr/sidecar/internal/upstream"
)

// TestReadyzBurstReachesCoreOncePerSecond plays the audit's /readyz flood
// (issue 19 #10) against a real server and a real upstream proxy: 8
// clients send /readyz as fast as they can for 2.5 s; the core stand-in
// (an HTTP server on 127.0.0.1 counting its /readyz calls) must be asked at
// most about once a second, and every answer is still the right one. Before
// the cache each request called the core.
func TestReadyzBurstReachesCoreOncePerSecond(t *testing.T) {
	var coreCalls atomic.Int64
	var coreReady atomic.Bool
	coreReady.Store(true)
	core := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != upstream.ReadyPath {
			http.NotFound(w, r)
			return
		}
		coreCalls.Add(1)
		if !coreReady.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_, _ = io.WriteString(w, `{"status":"x"}`)
	}))
	defer core.Close()
	up, err := upstream.New(upstream.Options{URL: core.URL})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(Handler(Options{Gateway: okHandler, Upstream: up}))
	defer srv.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: 16}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	get := func() int {
		res, err := client.Get(srv.URL + "/readyz")
		if err != nil {
			t.Error(err)
			return 0
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}

	const clients, runFor = 8, 2500 * time.Millisecond
	var requests, wrong atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Since(start) < runFor {
				requests.Add(1)
				if get() != http.StatusOK {
					wrong.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	calls := coreCalls.Load()
	t.Logf("%d /readyz requests in %s (%.0f/s) reached the core %d times", requests.Load(), elapsed.Round(time.Millisecond),
		float64(requests.Load())/elapsed.Seconds(), calls)
	if wrong.Load() > 0 {
		t.Errorf("%d answers were not 200 while the core was ready", wrong.Load())
	}
	if requests.Load() < 100 {
		t.Fatalf("only %d requests: the burst proves nothing", requests.Load())
	}
	if limit := int64(elapsed/readyCacheFor) + 1; calls > limit {
		t.Errorf("the core was asked %d times in %s, want at most %d (once per %s)", calls, elapsed.Round(time.Millisecond), limit, readyCacheFor)
	}

	// The verdict follows the core within about a second.
	coreReady.Store(false)
	deadline := time.Now().Add(3 * readyCacheFor)
	for get() != http.StatusServiceUnavailable {
		if time.Now().After(deadline) {
			t.Fatalf("/readyz still 200 %s after the core went unready", 3*readyCacheFor)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
