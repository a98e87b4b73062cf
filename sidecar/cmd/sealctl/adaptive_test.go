package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sealocr/sealocr/core/api"
	"github.com/sealocr/sealocr/sidecar/client"
	"github.com/sealocr/sealocr/sidecar/client/clienttest"
)

var (
	errBusy = &client.ServerError{Status: 503, Code: "busy", Sealed: true}
	errRate = &client.ServerError{Status: 429, Code: "rate_limited"}
)

func TestLimiterAIMD(t *testing.T) {
	now := time.Unix(1000, 0)
	l := newLimiter(16)
	l.now = func() time.Time { return now }
	ctx := context.Background()
	for range 16 {
		if err := l.acquire(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// A 17th waits until a slot frees.
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := l.acquire(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("acquire beyond the window: %v", err)
	}
	sent := now.Add(-time.Second)
	now = now.Add(time.Millisecond)
	// Sixteen busy answers to attempts sent before the cut: one halving.
	for range 16 {
		l.retried(client.RetryInfo{Err: errBusy}, sent)
	}
	if r, cur, low := l.stats(); r != 16 || cur != 8 || low != 8 {
		t.Fatalf("after one round of busy answers: retries %d window %d lowest %d, want 16 8 8", r, cur, low)
	}
	// An attempt sent after the cut that is refused again cuts again.
	now = now.Add(time.Second)
	l.retried(client.RetryInfo{Err: errRate}, now.Add(-time.Millisecond))
	if _, cur, _ := l.stats(); cur != 4 {
		t.Fatalf("window %d, want 4", cur)
	}
	// Transport errors are retried but are not a congestion signal.
	now = now.Add(time.Second)
	l.retried(client.RetryInfo{Err: context.DeadlineExceeded}, now.Add(-time.Millisecond))
	if r, cur, _ := l.stats(); r != 18 || cur != 4 {
		t.Fatalf("retries %d window %d, want 18 4", r, cur)
	}
	// A core timeout cuts without counting a retry.
	now = now.Add(time.Second)
	l.congested(now.Add(-time.Millisecond))
	if r, cur, _ := l.stats(); r != 18 || cur != 2 {
		t.Fatalf("after a core timeout: retries %d window %d, want 18 2", r, cur)
	}
	// The window never drops below 1.
	for i := range 10 {
		now = now.Add(time.Second)
		l.retried(client.RetryInfo{Err: errBusy}, now.Add(-time.Millisecond))
		_ = i
	}
	if _, cur, low := l.stats(); cur != 1 || low != 1 {
		t.Fatalf("window %d lowest %d, want 1 1", cur, low)
	}
	// 16 in flight and a window of 1: nothing new starts until 16 finish.
	got := make(chan error, 1)
	go func() { got <- l.acquire(ctx) }()
	for range 15 {
		l.release(false)
	}
	select {
	case err := <-got:
		t.Fatalf("acquired with %d in flight and a window of 1 (%v)", 1, err)
	case <-time.After(20 * time.Millisecond):
	}
	l.release(false)
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	// Additive increase: one more per window's worth of successes, up
	// to the cap.
	l.release(true)
	if _, cur, _ := l.stats(); cur != 2 {
		t.Fatalf("window after a success at 1: %d, want 2", cur)
	}
	for range 1000 {
		l.inflight++
		l.release(true)
	}
	if _, cur, _ := l.stats(); cur != 16 {
		t.Fatalf("window %d after many successes, want the cap 16", cur)
	}
}

// TestOCRBusyServer: a server that answers busy to two of every three
// requests still gets every file done; the summary reports the retries.
func TestOCRBusyServer(t *testing.T) {
	var calls atomic.Int64
	srv := clienttest.NewServer(t, func(ctx context.Context, r clienttest.Request) (int, string, []byte) {
		if calls.Add(1)%3 != 0 {
			status, body := api.ErrorFor(api.CodeBusy)
			return status, "application/json", []byte(fmt.Sprintf(`{"error":{"code":%q,"message":%q}}`, body.Error.Code, body.Error.Message))
		}
		return clienttest.CannedCore(ctx, r)
	})
	dir := t.TempDir()
	const files = 24
	for i := range files {
		writeFile(t, filepath.Join(dir, fmt.Sprintf("f%02d.png", i)), pngBytes(i))
	}
	for _, mode := range []string{"psk", "ohttp"} {
		t.Run(mode, func(t *testing.T) {
			stdout, stderr, err := runCmd(t, nil, "ocr", "--server", srv.URL, "--ca", srv.CAFile, "--keys", srv.KeysFile,
				"--mode", mode, "--concurrency", "8", "--max-retries", "20", dir)
			if err != nil {
				t.Fatalf("err = %v\nstderr: %s", err, stderr)
			}
			if n := strings.Count(stdout, "==> "); n != files {
				t.Errorf("%d files printed, want %d", n, files)
			}
			if !strings.Contains(stderr, " retries after busy, rate-limited or unanswered requests; concurrency went down to ") {
				t.Errorf("stderr lacks the retry summary: %q", stderr)
			}
		})
	}
	t.Run("retries run out but others succeed", func(t *testing.T) {
		stdout, stderr, err := runCmd(t, nil, "ocr", "--server", srv.URL, "--ca", srv.CAFile, "--keys", srv.KeysFile,
			"--concurrency", "4", "--max-retries", "2", dir)
		if err != nil {
			t.Fatalf("err = %v\nstderr: %s", err, stderr)
		}
		if n := strings.Count(stdout, "==> "); n != files {
			t.Errorf("%d files printed, want %d", n, files)
		}
		if !strings.Contains(stderr, " times a file went round again after its retries or time ran out") {
			t.Errorf("stderr %q does not report files going round again", stderr)
		}
	})
	t.Run("no retries", func(t *testing.T) {
		_, stderr, err := runCmd(t, nil, "ocr", "--server", srv.URL, "--ca", srv.CAFile, "--keys", srv.KeysFile,
			"--concurrency", "8", "--max-retries", "0", dir)
		if err == nil || !strings.Contains(stderr, "core answered 503 busy") || strings.Contains(stderr, "retries after") {
			t.Errorf("err = %v, stderr = %q", err, stderr)
		}
	})
	t.Run("bad flag", func(t *testing.T) {
		_, stderr, err := runCmd(t, nil, "ocr", "--max-retries", "-1", dir)
		if err == nil || !strings.Contains(stderr, "--max-retries must not be negative") {
			t.Errorf("err = %v, stderr = %q", err, stderr)
		}
	})
}

// TestOCRCoreTimeout: a file the core gave up on (503 timeout, typically
// after waiting in its queue) goes round again while others succeed.
func TestOCRCoreTimeout(t *testing.T) {
	var calls atomic.Int64
	srv := clienttest.NewServer(t, func(ctx context.Context, r clienttest.Request) (int, string, []byte) {
		if calls.Add(1)%4 == 2 {
			status, body := api.ErrorFor(api.CodeTimeout)
			return status, "application/json", []byte(fmt.Sprintf(`{"error":{"code":%q,"message":%q}}`, body.Error.Code, body.Error.Message))
		}
		return clienttest.CannedCore(ctx, r)
	})
	dir := t.TempDir()
	const files = 12
	for i := range files {
		writeFile(t, filepath.Join(dir, fmt.Sprintf("f%02d.png", i)), pngBytes(i))
	}
	stdout, stderr, err := runCmd(t, nil, "ocr", "--server", srv.URL, "--ca", srv.CAFile, "--keys", srv.KeysFile, "--concurrency", "1", dir)
	if err != nil {
		t.Fatalf("err = %v\nstderr: %s", err, stderr)
	}
	if n := strings.Count(stdout, "==> "); n != files {
		t.Errorf("%d files printed, want %d", n, files)
	}
	// Not retried by the client (a timeout is not "busy"), and not sent
	// again with --max-retries 0.
	calls.Store(0)
	_, stderr, err = runCmd(t, nil, "ocr", "--server", srv.URL, "--ca", srv.CAFile, "--keys", srv.KeysFile, "--concurrency", "1", "--max-retries", "0", dir)
	if err == nil || !strings.Contains(stderr, "core answered 503 timeout") {
		t.Errorf("err = %v, stderr %q", err, stderr)
	}
}

// TestOCRCancelStopsWaiting: cancelling stops files waiting for a slot.
func TestOCRCancelStopsWaiting(t *testing.T) {
	var mu sync.Mutex
	srv := clienttest.NewServer(t, func(ctx context.Context, r clienttest.Request) (int, string, []byte) {
		mu.Lock()
		defer mu.Unlock()
		status, body := api.ErrorFor(api.CodeBusy)
		return status, "application/json", []byte(fmt.Sprintf(`{"error":{"code":%q,"message":%q}}`, body.Error.Code, body.Error.Message))
	})
	dir := t.TempDir()
	for i := range 6 {
		writeFile(t, filepath.Join(dir, fmt.Sprintf("f%02d.png", i)), pngBytes(i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	var out, errOut strings.Builder
	start := time.Now()
	err := run(ctx, []string{"ocr", "--server", srv.URL, "--ca", srv.CAFile, "--keys", srv.KeysFile,
		"--concurrency", "2", "--max-retries", "1000", dir}, env(map[string]string{"HOME": t.TempDir()}), strings.NewReader(""), &out, &errOut)
	if el := time.Since(start); el > 4*time.Second {
		t.Errorf("took %s after a 1.5 s cancellation", el)
	}
	if err == nil || !strings.Contains(err.Error(), "6 of 6 files failed") {
		t.Errorf("err = %v; stderr %q", err, errOut.String())
	}
	// Without a success in the run, a file does not go round again.
	start = time.Now()
	_, stderr, err := runCmd(t, nil, "ocr", "--server", srv.URL, "--ca", srv.CAFile, "--keys", srv.KeysFile,
		"--concurrency", "6", "--max-retries", "1", dir)
	if err == nil || strings.Contains(stderr, "went round again") || time.Since(start) > 10*time.Second {
		t.Errorf("stuck server: err %v after %s, stderr %q", err, time.Since(start), stderr)
	}
}
