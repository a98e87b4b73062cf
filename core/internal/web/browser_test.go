package web

// Browser tests: real headless Chromium against the real core and sidecar
// processes, built from this module. They need Debian's chromium (run
// .ci/run, which installs it) and the models (`make models`).

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/sealocr/sealocr/core/testkit"
)

const (
	pageImage    = "../../testdata/ocr/cnocr/pages/multi-line_cn1.png"
	pageExpected = "网络支付并无本质的区别"
	lineImage    = "../../testdata/ocr/paddleocr/lines/p11_line00.png"
	lineExpected = "纯臻营养护发素"
)

// chromiumPath returns the browser to drive: $SEALOCR_CHROMIUM or Debian's
// /usr/bin/chromium. A missing browser fails the test; it never skips.
func chromiumPath(t *testing.T) string {
	t.Helper()
	p := os.Getenv("SEALOCR_CHROMIUM")
	if p == "" {
		p = "/usr/bin/chromium"
	}
	if _, err := exec.LookPath(p); err != nil {
		t.Fatalf("chromium not found at %s (%v): run .ci/run, which installs the Debian package chromium, or set SEALOCR_CHROMIUM", p, err)
	}
	return p
}

// artifactDir is where screenshots go: $SEALOCR_ARTIFACTS, else a temporary
// directory. The path is logged.
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("SEALOCR_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// binaries builds the core (cgo) and the sidecar (CGO_ENABLED=0) once per
// test run, into a directory outside the repository.
func binaries(t *testing.T) (core, sidecar string) {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "sealocr-webtest-")
		if buildErr != nil {
			return
		}
		for _, b := range []struct{ out, pkg, cgo string }{
			{"core", "./core/cmd/core", "CGO_ENABLED=1"},
			{"sidecar", "./sidecar/cmd/sidecar", "CGO_ENABLED=0"},
		} {
			if buildErr = testkit.GoBuild(filepath.Join(binDir, b.out), b.pkg, b.cgo); buildErr != nil {
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, "core"), filepath.Join(binDir, "sidecar")
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

var listenLine = regexp.MustCompile(`listening on (https?://\S+)`)

// startProcessLogs runs bin with env added, stops it with SIGTERM at
// cleanup and returns the URL it prints on stdout ("... listening on URL")
// and its output (stdout and stderr: its logs).
func startProcessLogs(t *testing.T, name, bin string, args, env []string) (string, *testkit.SyncBuffer) {
	t.Helper()
	logs := &testkit.SyncBuffer{}
	pr, pw := io.Pipe()
	p, err := testkit.StartProcess(name, bin, args, testkit.ProcessOptions{Env: append(os.Environ(), env...), Stdout: pw, Stderr: logs})
	if err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			fmt.Fprintln(logs, sc.Text())
			if m := listenLine.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case urlc <- m[1]:
				default:
				}
			}
		}
	}()
	go func() { <-p.Done(); pw.Close() }()
	exited := p.Done()
	t.Cleanup(func() {
		p.Stop(10 * time.Second)
		if t.Failed() {
			t.Logf("%s output:\n%s", name, logs.String())
		}
	})
	select {
	case u := <-urlc:
		return u, logs
	case <-exited:
		t.Fatalf("%s exited: %v\n%s", name, p.Err(), logs.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("%s did not start listening\n%s", name, logs.String())
	}
	return "", logs
}

// waitOK polls url until it answers 200.
func waitOK(t *testing.T, client *http.Client, url string) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		res, err := client.Get(url)
		if err == nil {
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready: %v", url, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// startCore runs the core on a free loopback port and waits until it is
// ready. It returns the base URL.
func startCore(t *testing.T, extra ...string) string {
	u, _ := startCoreLogs(t, extra...)
	return u
}

// startCoreLogs is startCore that also returns the core's logs.
func startCoreLogs(t *testing.T, extra ...string) (string, *testkit.SyncBuffer) {
	core, _ := binaries(t)
	// No metrics listener: its fixed default port would collide with
	// other cores on this machine.
	u, logs := startProcessLogs(t, "core", core, append([]string{"--listen", "127.0.0.1:0", "--metrics-listen", "", "--log-format", "console"}, extra...), nil)
	waitOK(t, http.DefaultClient, u+"/readyz")
	return u, logs
}

// startSidecar runs the sidecar in front of coreURL with a fresh state
// directory (local CA, leaf, generated development keys). It returns the
// base URL and the base64 SHA-256 of the leaf's SubjectPublicKeyInfo, after
// checking that the leaf chains to the local CA for 127.0.0.1.
func startSidecar(t *testing.T, coreURL string) (string, string) {
	sc := startSidecarEnv(t, coreURL)
	return sc.url, sc.spki
}

// sidecarInfo is a running sidecar: its URL, the base64 SHA-256 of its
// leaf's SubjectPublicKeyInfo, its metrics URL and its CA.
type sidecarInfo struct {
	url, spki, metrics string
	pool               *x509.CertPool
	logs               *testkit.SyncBuffer
}

// startSidecarEnv is startSidecar with more environment (NAME=value).
func startSidecarEnv(t *testing.T, coreURL string, env ...string) sidecarInfo {
	_, sidecar := binaries(t)
	state := t.TempDir()
	metrics := testkit.FreeAddr(t)
	u, logs := startProcessLogs(t, "sidecar", sidecar, nil, append([]string{
		"SEALOCR_STATE_DIR=" + state,
		"SEALOCR_LISTEN=127.0.0.1:0",
		"SEALOCR_METRICS_LISTEN=" + metrics,
		"SEALOCR_UPSTREAM=" + coreURL,
		"SEALOCR_LOG_FORMAT=console",
	}, env...))
	pool := x509.NewCertPool()
	caPEM, err := os.ReadFile(filepath.Join(state, "ca.pem"))
	if err != nil || !pool.AppendCertsFromPEM(caPEM) {
		t.Fatalf("local CA: %v", err)
	}
	leafPEM, err := os.ReadFile(filepath.Join(state, "tls", "cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(leafPEM)
	if blk == nil {
		t.Fatal("tls/cert.pem holds no PEM block")
	}
	leaf, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "127.0.0.1"}); err != nil {
		t.Fatalf("sidecar leaf does not chain to its local CA: %v", err)
	}
	spki := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	t.Cleanup(client.CloseIdleConnections)
	waitOK(t, client, u+"/readyz")
	return sidecarInfo{url: u, spki: base64.StdEncoding.EncodeToString(spki[:]), metrics: "http://" + metrics + "/metrics", pool: pool, logs: logs}
}

// browser starts headless Chromium. spki, if set, is the only certificate
// key the browser accepts without a trusted chain (the sidecar's leaf);
// certificate errors stay fatal for everything else.
func browser(t *testing.T, spki string) context.Context {
	t.Helper()
	return browserFor(t, spki, 90*time.Second)
}

// browserFor is browser with the given time limit for the whole test.
func browserFor(t *testing.T, spki string, limit time.Duration) context.Context {
	t.Helper()
	return browserWith(t, spki, limit)
}

// browserWith is browserFor with more Chromium options.
func browserWith(t *testing.T, spki string, limit time.Duration, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("lang", "en-US"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 860),
	)
	if spki != "" {
		opts = append(opts, chromedp.Flag("ignore-certificate-errors-spki-list", spki))
	}
	opts = append(opts, extra...)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil { // starts the browser, with no deadline
		t.Fatalf("start chromium: %v", err)
	}
	tctx, cancel := context.WithTimeout(ctx, limit)
	t.Cleanup(cancel)
	return tctx
}

// request is one request the page sent, as the DevTools protocol saw it.
type request struct {
	id          network.RequestID
	method, url string
	contentType string
	hasBody     bool
	headers     string // every header name and value, for searching
}

// recordRequests collects every request of the tab from now on.
func recordRequests(ctx context.Context) func() []request {
	var mu sync.Mutex
	var reqs []request
	events := chromedp.Events(ctx, network.RequestWillBeSent)
	go func() {
		for ev, err := range events {
			if err != nil {
				return
			}
			ct := ""
			for k, v := range ev.Request.Headers {
				if strings.EqualFold(k, "content-type") {
					ct = fmt.Sprint(v)
				}
			}
			mu.Lock()
			reqs = append(reqs, request{ev.RequestID, ev.Request.Method, ev.Request.URL, ct, ev.Request.HasPostData, fmt.Sprint(ev.Request.Headers)})
			mu.Unlock()
		}
	}()
	return func() []request {
		mu.Lock()
		defer mu.Unlock()
		return append([]request(nil), reqs...)
	}
}

// watchConsole fails the test at cleanup on any uncaught exception or
// console or browser-log error of the tab (a CSP violation, for example),
// except network errors for the URLs in expected.
func watchConsole(t *testing.T, ctx context.Context, expected ...string) {
	t.Helper()
	var mu sync.Mutex
	var errs []string
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			if m.Source == "network" && slices.Contains(expected, m.URL) {
				continue
			}
			if m.IsException() || m.Type == chromedp.ConsoleError {
				mu.Lock()
				errs = append(errs, m.String())
				mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, e := range errs {
			t.Errorf("browser console: %s", e)
		}
	})
}

// upload picks file in the page's file input and waits for the result or
// an error; it returns the status message.
func upload(t *testing.T, ctx context.Context, file string) string {
	t.Helper()
	abs, err := filepath.Abs(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.SetUploadFiles(chromedp.ID("file"), []string{abs})); err != nil {
		t.Fatalf("upload: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`#message[data-kind="done"], #message[data-kind="error"]`))); err != nil {
		t.Fatalf("waiting for the result: %v", err)
	}
	msg, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("message")))
	if err != nil {
		t.Fatal(err)
	}
	kind, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("message").dataset.kind`))
	if err != nil {
		t.Fatal(err)
	}
	if kind != "done" {
		t.Fatalf("page reports an error: %q", msg)
	}
	return msg
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	p := filepath.Join(artifactDir(t), name)
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", p)
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// TestBrowserOHTTP drives the page through the sidecar: the page must seal
// the image with Oblivious HTTP, and nothing on the wire may carry it in the
// clear.
func TestBrowserOHTTP(t *testing.T) {
	chromiumPath(t)
	img, err := os.ReadFile(pageImage)
	if err != nil {
		t.Fatal(err)
	}
	coreURL := startCore(t)
	sidecarURL, spki := startSidecar(t, coreURL)
	ctx := browser(t, spki)
	watchConsole(t, ctx)
	requests := recordRequests(ctx)

	if err := chromedp.Do(ctx,
		chromedp.Navigate(sidecarURL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#transport[data-mode="ohttp"] #key-info`)),
	); err != nil {
		t.Fatalf("page did not find the OHTTP gateway: %v", err)
	}
	if got := text(t, ctx, "#transport-title"); !strings.Contains(got, "encrypted") {
		t.Errorf("transport title %q", got)
	}
	fp := text(t, ctx, "#fingerprint")
	if !regexp.MustCompile(`^[0-9a-f]{4}( [0-9a-f]{4}){3}$`).MatchString(fp) {
		t.Errorf("fingerprint %q", fp)
	}
	if got := text(t, ctx, "#key-desc"); !strings.Contains(got, "X-Wing") {
		t.Errorf("key %q: want the post-quantum hybrid, which the sidecar offers", got)
	}

	msg := upload(t, ctx, pageImage)
	if !strings.Contains(msg, "encrypted") {
		t.Errorf("status %q does not say the request was encrypted", msg)
	}
	if got := text(t, ctx, "#lines"); !strings.Contains(got, pageExpected) {
		t.Errorf("recognised lines %q lack %q", got, pageExpected)
	}
	boxes, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#boxes polygon").length`))
	if err != nil || boxes < 5 {
		t.Errorf("%d boxes drawn (%v), want one per line", boxes, err)
	}
	screenshot(t, ctx, "webui-ohttp.png")

	// The wire: exactly one POST, to the gateway, as message/ohttp-req,
	// with no run of the image in it; nothing to /v1/ocr.
	probe := img[len(img)/2 : len(img)/2+32]
	var posts int
	for _, r := range requests() {
		if strings.Contains(r.url, "/v1/ocr") {
			t.Errorf("request in the clear: %s %s", r.method, r.url)
		}
		if r.method != http.MethodPost {
			continue
		}
		posts++
		if r.url != sidecarURL+"/.well-known/ohttp-gateway" || r.contentType != "message/ohttp-req" {
			t.Errorf("POST %s with Content-Type %q, want the gateway and message/ohttp-req", r.url, r.contentType)
		}
		body, err := chromedp.Call(ctx, network.GetRequestPostData, network.GetRequestPostDataParams{RequestID: r.id})
		if err != nil {
			t.Fatalf("request body: %v", err)
		}
		data := body.PostData
		if len(data) < len(img) {
			t.Errorf("request body is %d bytes, smaller than the %d-byte image", len(data), len(img))
		}
		if bytes.Contains(data, probe) || bytes.Contains(data, []byte(base64.StdEncoding.EncodeToString(probe)[:40])) {
			t.Error("the request body holds image bytes in the clear")
		}
		// hdr = key ID, KEM 0x647a (X-Wing), KDF 1, AEAD.
		if len(data) < 7 || data[1] != 0x64 || data[2] != 0x7a || data[3] != 0 || data[4] != 1 {
			t.Errorf("request header % x", data[:min(7, len(data))])
		}
	}
	if posts != 1 {
		t.Errorf("%d POST requests, want 1", posts)
	}

	// The interface switches to Chinese.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("lang"))); err != nil {
		t.Fatal(err)
	}
	if got := text(t, ctx, "#transport-title"); !strings.Contains(got, "加密") {
		t.Errorf("transport title in Chinese %q", got)
	}
	if got := text(t, ctx, "#message"); !strings.Contains(got, "已加密发送") {
		t.Errorf("status in Chinese %q", got)
	}
	screenshot(t, ctx, "webui-ohttp-zh.png")
}

// TestBrowserPlain drives the page served by the core alone: it must say
// that requests are not encrypted, and post plainly to /v1/ocr.
func TestBrowserPlain(t *testing.T) {
	chromiumPath(t)
	coreURL := startCore(t)
	ctx := browser(t, "")
	// The page probes for the gateway; the core alone answers 404.
	watchConsole(t, ctx, coreURL+"/.well-known/ohttp-gateway")
	requests := recordRequests(ctx)

	if err := chromedp.Do(ctx,
		chromedp.Navigate(coreURL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#transport[data-mode="plain"] #transport-detail`)),
	); err != nil {
		t.Fatalf("page did not settle on plain mode: %v", err)
	}
	if got := text(t, ctx, "#transport-title"); got != "Not encrypted" {
		t.Errorf("transport title %q, want %q", got, "Not encrypted")
	}
	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.ID("mode"), "line")); err != nil {
		t.Fatal(err)
	}
	upload(t, ctx, lineImage)
	if got := text(t, ctx, "#lines"); !strings.Contains(got, lineExpected) {
		t.Errorf("recognised lines %q lack %q", got, lineExpected)
	}
	screenshot(t, ctx, "webui-plain.png")

	// Positive control for the OHTTP test's wire check: here the body is
	// the image itself, and the same probe finds it.
	img, err := os.ReadFile(lineImage)
	if err != nil {
		t.Fatal(err)
	}
	probe := img[len(img)/2 : len(img)/2+32]
	var found bool
	for _, r := range requests() {
		if r.method != http.MethodPost || r.url != coreURL+"/v1/ocr?mode=line" {
			continue
		}
		found = true
		body, err := chromedp.Call(ctx, network.GetRequestPostData, network.GetRequestPostDataParams{RequestID: r.id})
		if err != nil {
			t.Fatalf("request body: %v", err)
		}
		if !bytes.Contains(body.PostData, probe) {
			t.Error("the plain request body does not hold the image: the wire check cannot see bodies")
		}
	}
	if !found {
		t.Errorf("no plain POST /v1/ocr?mode=line among %v", requests())
	}
}
