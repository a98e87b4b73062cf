package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sealocr/sealocr/core/api"
	"github.com/sealocr/sealocr/core/testkit"
	"github.com/sealocr/sealocr/sidecar/client"
)

// Back-pressure (issue 15): a busy or rate-limited answer slows the Go
// client and sealctl down; it never loses a file. These tests run the real
// core (one worker, a queue of 4), the real sidecar and the real sealctl in
// PSK and Oblivious HTTP modes. The legacy CBC mode has no Go client (its
// clients are other programs), so it is not covered here.

var (
	sealctlOnce sync.Once
	sealctlBin  string
	sealctlErr  error
)

// sealctlBinary builds sealctl once.
func sealctlBinary(t *testing.T) string {
	t.Helper()
	sealctlOnce.Do(func() {
		sealctlBin = filepath.Join(binDir, "sealctl")
		sealctlErr = testkit.GoBuild(sealctlBin, "./sidecar/cmd/sealctl", "CGO_ENABLED=0")
	})
	if sealctlErr != nil {
		t.Fatalf("build sealctl: %v", sealctlErr)
	}
	return sealctlBin
}

// lineCorpus copies the shared line images round-robin into a folder of n
// files.
func lineCorpus(t *testing.T, n int) string {
	t.Helper()
	var src []string
	for _, pat := range []string{"*.png", "*.jpg"} {
		m, err := filepath.Glob(filepath.Join(repoRoot, "core/testdata/ocr/*/lines", pat))
		if err != nil {
			t.Fatal(err)
		}
		src = append(src, m...)
	}
	if len(src) < 10 {
		t.Fatalf("only %d line images under core/testdata/ocr/*/lines", len(src))
	}
	dir := t.TempDir()
	for i := range n {
		f := src[i%len(src)]
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%03d%s", i, filepath.Ext(f))), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// metric sums the samples of a Prometheus text exposition whose line
// starts with name and contains every label matcher.
func metric(t *testing.T, url, name string, labels ...string) float64 {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s (not a metrics page)", url, res.Status)
	}
	var sum float64
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
next:
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		for _, l := range labels {
			if !strings.Contains(line, l) {
				continue next
			}
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err == nil {
			sum += v
		}
	}
	return sum
}

var retrySummary = regexp.MustCompile(`sealctl: (\d+) retries after busy, rate-limited or unanswered requests; concurrency went down to (\d+) of (\d+) and ended at (\d+)`)

// runSealctl runs sealctl ocr against s and returns stdout, stderr, the
// error and the wall time.
func runSealctl(t *testing.T, s *sidecar, limit time.Duration, args ...string) (stdout, stderr string, wall time.Duration, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	all := append([]string{"ocr", "--server", s.url, "--ca", s.caPath, "--keys", s.keysPath}, args...)
	cmd := exec.CommandContext(ctx, sealctlBinary(t), all...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	err = cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("sealctl %v did not finish in %s\nstderr tail: %s", args, limit, tailOf(errOut.String()))
	}
	return out.String(), errOut.String(), time.Since(start), err
}

func tailOf(s string) string {
	if len(s) > 2000 {
		return "…" + s[len(s)-2000:]
	}
	return s
}

// checkAllSucceeded parses sealctl's --format json output: one line per
// file, each the core's answer with at least one line of text.
func checkAllSucceeded(t *testing.T, stdout string, n int) {
	t.Helper()
	files := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var rec struct {
			File     string          `json:"file"`
			Response json.RawMessage `json:"response"`
		}
		var r api.Response
		if err := json.Unmarshal([]byte(line), &rec); err != nil || json.Unmarshal(rec.Response, &r) != nil || r.Width == 0 {
			t.Fatalf("bad output line %q", truncate([]byte(line)))
		}
		files[rec.File] = true
	}
	if len(files) != n {
		t.Fatalf("%d files answered, want %d", len(files), n)
	}
}

func TestBackpressure(t *testing.T) {
	models, ortLib, err := modelPaths()
	if err != nil {
		t.Fatal(err)
	}
	// A core of its own: one worker and a queue of 4, so that 48 files in
	// flight are mostly refused busy.
	proc, smallCore, err := startCore(models, ortLib, "--workers", "1", "--queue", "4")
	if proc != nil {
		t.Cleanup(func() {
			crashed := proc.crashed()
			proc.stop()
			if crashed || panicLine(proc.logs()) != "" {
				t.Errorf("the small core crashed\n%s", proc.tail())
			}
			proc.cleanup()
		})
	}
	if err != nil {
		t.Fatalf("small core: %v", err)
	}
	s := newSidecar(t, map[string]string{"SEALOCR_UPSTREAM": smallCore, "SEALOCR_LOG_LEVEL": "info"})
	const files = 240
	dir := lineCorpus(t, files)

	for _, mode := range []string{"psk", "ohttp"} {
		t.Run(mode+"/240 files at concurrency 48", func(t *testing.T) {
			busyBefore := metric(t, proc.metricsURL, "sealocr_core_requests_total", `code="busy"`)
			stdout, stderr, wall, err := runSealctl(t, s, 8*time.Minute,
				"--mode", mode, "--doc-mode", "line", "--concurrency", "48", "--format", "json", dir)
			if err != nil {
				t.Fatalf("sealctl failed: %v\nstderr tail: %s", err, tailOf(stderr))
			}
			checkAllSucceeded(t, stdout, files)
			m := retrySummary.FindStringSubmatch(stderr)
			if m == nil {
				t.Fatalf("no retry summary in stderr %q", tailOf(stderr))
			}
			retries, _ := strconv.Atoi(m[1])
			lowest, _ := strconv.Atoi(m[2])
			busy := metric(t, proc.metricsURL, "sealocr_core_requests_total", `code="busy"`) - busyBefore
			if retries == 0 || busy == 0 || lowest >= 48 {
				t.Errorf("retries %d, core busy answers %v, lowest concurrency %d: the test did not saturate the core", retries, busy, lowest)
			}
			t.Logf("%s: %d/%d files in %s, %d retries, core answered busy %v times, concurrency down to %s, ended at %s",
				mode, files, files, wall.Round(100*time.Millisecond), retries, busy, m[2], m[4])
		})
	}

	t.Run("permanent errors are not retried", func(t *testing.T) {
		for _, mode := range []client.Mode{client.ModePSK, client.ModeOHTTP} {
			c := newGoClient(t, s, mode, nil)
			before := metric(t, proc.metricsURL, "sealocr_core_requests_total", `code="unsupported_media_type"`)
			_, err := c.OCR(context.Background(), imgHello.read(t), client.OCROptions{ContentType: "text/plain",
				OnRetry: func(ri client.RetryInfo) { t.Errorf("%s: retried after %v", mode, ri.Err) }})
			var se *client.ServerError
			if !errors.As(err, &se) || se.Status != 415 || se.Code != api.CodeUnsupportedMedia || !se.Sealed {
				t.Errorf("%s: err = %v, want the core's sealed 415", mode, err)
			}
			if n := metric(t, proc.metricsURL, "sealocr_core_requests_total", `code="unsupported_media_type"`) - before; n != 1 {
				t.Errorf("%s: the core saw %v requests, want 1", mode, n)
			}
		}
		wrong, err := client.NewPSKKey(pskKey(t, s).ID(), bytes.Repeat([]byte{7}, 32))
		if err != nil {
			t.Fatal(err)
		}
		c := newGoClient(t, s, client.ModePSK, func(cfg *client.Config) { cfg.PSKKey = wrong })
		before := metric(t, s.metrics, "sealocr_sidecar_requests_total", `mode="psk"`, `outcome="refused"`)
		_, err = c.OCR(context.Background(), imgHello.read(t), client.OCROptions{
			OnRetry: func(ri client.RetryInfo) { t.Errorf("cannot_open retried after %v", ri.Err) }})
		var se *client.ServerError
		if !errors.As(err, &se) || se.Status != 400 || se.Code != "cannot_open" {
			t.Errorf("err = %v, want 400 cannot_open", err)
		}
		if n := metric(t, s.metrics, "sealocr_sidecar_requests_total", `mode="psk"`, `outcome="refused"`) - before; n != 1 {
			t.Errorf("the sidecar refused %v requests, want 1", n)
		}
	})

	t.Run("429 from the rate limiter", func(t *testing.T) {
		limited := newSidecar(t, map[string]string{"SEALOCR_UPSTREAM": smallCore, "SEALOCR_LOG_LEVEL": "info",
			"SEALOCR_RATE_LIMIT": "10/s", "SEALOCR_RATE_LIMIT_BURST": "10"})
		small := lineCorpus(t, 60)
		stdout, stderr, wall, err := runSealctl(t, limited, 4*time.Minute,
			"--mode", "psk", "--doc-mode", "line", "--concurrency", "48", "--format", "json", small)
		if err != nil {
			t.Fatalf("sealctl failed: %v\nstderr tail: %s", err, tailOf(stderr))
		}
		checkAllSucceeded(t, stdout, 60)
		n := metric(t, limited.metrics, "sealocr_sidecar_rate_limited_total")
		if n == 0 || retrySummary.FindStringSubmatch(stderr) == nil {
			t.Errorf("%v answers were 429; stderr %q", n, tailOf(stderr))
		}
		t.Logf("60 files through a 10/s limit in %s; %v answers were 429", wall.Round(100*time.Millisecond), n)
	})
}

// newGoClient is a Go client of s in mode.
func newGoClient(t *testing.T, s *sidecar, mode client.Mode, mutate func(*client.Config)) *client.Client {
	t.Helper()
	cfg := client.Config{Server: s.url, CAFile: s.caPath, Mode: mode, Timeout: requestTimeout}
	if mode == client.ModePSK {
		ks, err := client.LoadKeys(s.keysPath)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.PSKKey, err = ks.PSK(""); err != nil {
			t.Fatal(err)
		}
	}
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

// holdSlot keeps the sidecar busy: a POST that declares a body as large as
// the sidecar's whole max_buffered_bytes (holdBytes) and sends all of it but
// the last byte (the budget counts what arrived, not what was declared).
// The sidecar reads bodies before it gives out request slots, so the hold
// is on the byte budget: every other body gets 503 busy until the test
// ends. The sidecar must run with SEALOCR_MAX_BUFFERED_BYTES=holdBytes and a
// body_grace longer than the test.
func holdSlot(t *testing.T, s *sidecar) {
	t.Helper()
	conn, err := tls.Dial("tcp", s.addr, &tls.Config{RootCAs: s.caPool, ServerName: "127.0.0.1", NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_, err = io.WriteString(conn, "POST /v1/ocr HTTP/1.1\r\nHost: "+s.addr+"\r\nContent-Type: application/sealocr-psk\r\nContent-Length: "+strconv.Itoa(holdBytes)+"\r\n\r\n"+strings.Repeat("x", holdBytes-1))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for metric(t, s.metrics, "sealocr_sidecar_buffered_bytes") < holdBytes {
		if time.Now().After(deadline) {
			t.Fatal("the held request never took the byte budget")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// holdBytes is the byte budget of a sidecar that holdSlot keeps busy.
const holdBytes = 100000

// TestBackpressureDeadline: against a sidecar that stays busy (its one
// request slot held), retries end at the caller's deadline, with the
// server's answer.
func TestBackpressureDeadline(t *testing.T) {
	s := newSidecar(t, map[string]string{"SEALOCR_MAX_CONCURRENT": "1", "SEALOCR_LOG_LEVEL": "info",
		"SEALOCR_MAX_BUFFERED_BYTES": strconv.Itoa(holdBytes), "SEALOCR_MAX_BODY_BYTES": strconv.Itoa(holdBytes),
		"SEALOCR_BODY_GRACE": "10m"})
	ohttpClient := newGoClient(t, s, client.ModeOHTTP, func(c *client.Config) { c.MaxRetries = 1000 })
	if _, err := ohttpClient.OHTTPKeys(context.Background()); err != nil { // cache the keys while the slot is free
		t.Fatal(err)
	}
	holdSlot(t, s)
	for _, tc := range []struct {
		mode client.Mode
		c    *client.Client
	}{
		{client.ModePSK, newGoClient(t, s, client.ModePSK, func(c *client.Config) { c.MaxRetries = 1000 })},
		{client.ModeOHTTP, ohttpClient},
	} {
		t.Run(string(tc.mode), func(t *testing.T) {
			before := metric(t, s.metrics, "sealocr_sidecar_request_seconds_count", `code="503"`)
			ctx, cancel := context.WithTimeout(context.Background(), 2500*time.Millisecond)
			defer cancel()
			start := time.Now()
			retries := 0
			_, err := tc.c.OCR(ctx, imgHello.read(t), client.OCROptions{OnRetry: func(client.RetryInfo) { retries++ }})
			el := time.Since(start)
			var se *client.ServerError
			if !errors.As(err, &se) || se.Status != 503 || se.Code != "busy" || se.RetryAfter != time.Second || se.Sealed {
				t.Errorf("err = %v, want the sidecar's 503 busy with Retry-After 1", err)
			}
			if el > 2600*time.Millisecond || el < time.Second {
				t.Errorf("returned after %s with a 2.5 s deadline and Retry-After 1 s", el)
			}
			if n := metric(t, s.metrics, "sealocr_sidecar_request_seconds_count", `code="503"`) - before; retries < 1 || n != float64(retries+1) {
				t.Errorf("%d retries, %v busy answers at the sidecar", retries, n)
			}
		})
	}
	t.Run("sealctl --timeout", func(t *testing.T) {
		dir := lineCorpus(t, 5)
		_, stderr, wall, err := runSealctl(t, s, time.Minute, "--timeout", "2s", "--concurrency", "5", dir)
		if err == nil || strings.Count(stderr, "server answered 503 busy") != 5 {
			t.Errorf("err = %v, stderr = %q", err, stderr)
		}
		if wall > 10*time.Second {
			t.Errorf("sealctl took %s with --timeout 2s", wall)
		}
	})
}
