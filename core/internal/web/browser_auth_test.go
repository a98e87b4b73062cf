package web

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// interceptKeys makes the browser itself answer every GET of the OHTTP key
// list with status (0: a network error) through the DevTools Fetch domain,
// in front of the real sidecar; everything else goes through. It returns
// the number of key-list requests answered so.
func interceptKeys(t *testing.T, ctx context.Context, status int64) func() int {
	t.Helper()
	var mu sync.Mutex
	n := 0
	events := chromedp.Events(ctx, fetch.RequestPaused)
	go func() {
		for ev, err := range events {
			if err != nil {
				return
			}
			go func() {
				if ev.Request.Method != http.MethodGet || !strings.HasSuffix(ev.Request.URL, "/.well-known/ohttp-gateway") {
					_, _ = chromedp.Call(ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
					return
				}
				mu.Lock()
				n++
				mu.Unlock()
				if status == 0 {
					_, _ = chromedp.Call(ctx, fetch.FailRequest, fetch.FailRequestParams{RequestID: ev.RequestID, ErrorReason: network.ErrorReasonConnectionRefused})
					return
				}
				body := []byte(`{"error":{"code":"rate_limited","message":"too many requests, retry later"}}`)
				if status == http.StatusServiceUnavailable {
					body = []byte(`{"error":{"code":"busy","message":"the server is busy, retry later"}}`)
				}
				_, _ = chromedp.Call(ctx, fetch.FulfillRequest, fetch.FulfillRequestParams{
					RequestID: ev.RequestID, ResponseCode: status, Body: body,
					ResponseHeaders: []*fetch.HeaderEntry{{Name: "Content-Type", Value: "application/json"}, {Name: "Retry-After", Value: "1"}},
				})
			}()
		}
	}()
	if _, err := chromedp.Call(ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: "*/.well-known/ohttp-gateway*"}}}); err != nil {
		t.Fatalf("fetch.enable: %v", err)
	}
	return func() int {
		mu.Lock()
		defer mu.Unlock()
		return n
	}
}

// TestBrowserNoPlaintextFallback: behind the sidecar, a key list that
// answers 429 or 503, or cannot be fetched at all, never makes the page
// send the image in the clear: it retries, then says that encryption is
// unavailable and sends nothing, in English and in Chinese. (The page used
// to fall back to a plain POST of the image.)
func TestBrowserNoPlaintextFallback(t *testing.T) {
	chromiumPath(t)
	img, err := os.ReadFile(pageImage)
	if err != nil {
		t.Fatal(err)
	}
	probe := img[len(img)/2 : len(img)/2+32]
	coreURL := startCore(t)
	sc := startSidecarEnv(t, coreURL)
	for _, tc := range []struct {
		name   string
		status int64
		zh     bool
	}{
		{"429 en", http.StatusTooManyRequests, false},
		{"503 zh", http.StatusServiceUnavailable, true},
		{"network error en", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := browser(t, sc.spki)
			watchConsole(t, ctx, sc.url+"/.well-known/ohttp-gateway")
			requests := recordRequests(ctx)
			keyFetches := interceptKeys(t, ctx, tc.status)
			if err := chromedp.Do(ctx,
				chromedp.Navigate(sc.url+"/"),
				chromedp.WaitVisible(chromedp.CSS(`#transport:not([data-mode="checking"])`)),
			); err != nil {
				t.Fatalf("page did not settle: %v (requests %v)", err, requests())
			}
			if mode, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("transport").dataset.mode`)); err != nil || mode != "unreachable" {
				t.Errorf("transport mode %q (%v), want unreachable", mode, err)
			}
			if tc.zh {
				if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("lang"))); err != nil {
					t.Fatal(err)
				}
			}
			kind, msg := uploadResult(t, ctx, pageImage)
			wantEN, wantZH := "nothing will be sent", "不会发送任何内容"
			want, other := wantEN, wantZH
			if tc.zh {
				want, other = wantZH, wantEN
			}
			if kind != "error" || !strings.Contains(msg, want) {
				t.Errorf("message %s %q, want an error saying %q", kind, msg, want)
			}
			if got := text(t, ctx, "#transport-detail"); !strings.Contains(got, want) {
				t.Errorf("transport detail %q lacks %q", got, want)
			}
			if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("lang"))); err != nil {
				t.Fatal(err)
			}
			if got := text(t, ctx, "#message"); !strings.Contains(got, other) {
				t.Errorf("message after switching language %q lacks %q", got, other)
			}
			screenshot(t, ctx, "webui-no-plaintext-"+strings.ReplaceAll(tc.name, " ", "-")+".png")

			// Retried: 4 fetches at load, 4 more at the upload.
			if n := keyFetches(); n < 8 {
				t.Errorf("%d key-list fetches, want 4 at load and 4 more at the upload", n)
			}
			// The wire: nothing with a body left the page; no request to
			// /v1/ocr; no image bytes anywhere.
			for _, r := range requests() {
				if r.method != http.MethodGet || r.hasBody || strings.Contains(r.url, "/v1/ocr") {
					t.Errorf("request left the page: %s %s (body %v)", r.method, r.url, r.hasBody)
				}
				if !r.hasBody {
					continue
				}
				body, err := chromedp.Call(ctx, network.GetRequestPostData, network.GetRequestPostDataParams{RequestID: r.id})
				if err == nil && bytes.Contains(body.PostData, probe) {
					t.Errorf("%s %s carries the image in the clear", r.method, r.url)
				}
			}
		})
	}
}

// writeAPIKeys writes an API key file for key, in the layout the sidecar
// reads (auth.APIKeysFile: the hex SHA-256 of each key), and returns its
// path.
func writeAPIKeys(t *testing.T, key string) string {
	t.Helper()
	sum := sha256.Sum256([]byte(key))
	p := filepath.Join(t.TempDir(), "api-keys.yaml")
	if err := os.WriteFile(p, []byte("keys:\n  - id: browser\n    sha256: "+hex.EncodeToString(sum[:])+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// signIn types cred into the sign-in form and submits it.
func signIn(t *testing.T, ctx context.Context, cred string) {
	t.Helper()
	if err := chromedp.Do(ctx,
		chromedp.WaitVisible(chromedp.CSS(`#signin input[name="credential"][type="password"]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name="credential"]`), cred),
		chromedp.Click(chromedp.CSS(`#signin button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("signed-in")),
		chromedp.WaitVisible(chromedp.ID("drop")),
	); err != nil {
		t.Fatalf("sign in: %v", err)
	}
}

// TestBrowserSignInAPIKey: a sidecar with SEALOCR_AUTH=required and an API
// key file. The page asks for a credential before any upload; a wrong key
// is refused (the message says so and the form comes back); the right key
// OCRs the page through OHTTP; sign-out forgets it. The key is in no URL,
// no outer header, no storage, no cookie, and in neither process's logs.
func TestBrowserSignInAPIKey(t *testing.T) {
	const good = "sk-browser-good-9f8e7d6c5b4a39281706f5e4d3c2b1a0"
	const bad = "sk-browser-wrong-0123456789abcdef0123456789abcdef"
	chromiumPath(t)
	coreURL, coreLogs := startCoreLogs(t)
	sc := startSidecarEnv(t, coreURL, "SEALOCR_AUTH=required", "SEALOCR_AUTH_API_KEYS_FILE="+writeAPIKeys(t, good))
	gateway := sc.url + "/.well-known/ohttp-gateway"
	ctx := browser(t, sc.spki)
	watchConsole(t, ctx)
	requests := recordRequests(ctx)

	if err := chromedp.Do(ctx,
		chromedp.Navigate(sc.url+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#transport[data-mode="ohttp"] #key-info`)),
		chromedp.WaitVisible(chromedp.CSS(`#signin input[name="credential"][type="password"]`)),
	); err != nil {
		t.Fatalf("page did not ask for a credential: %v", err)
	}
	if hidden, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("input").hidden`)); err != nil || !hidden {
		t.Errorf("the upload is offered before sign-in (hidden=%v, %v)", hidden, err)
	}
	screenshot(t, ctx, "webui-signin.png")

	// A wrong key: refused, with a message, and back to the form.
	signIn(t, ctx, bad)
	kind, msg := uploadResult(t, ctx, pageImage)
	if kind != "error" || !strings.Contains(msg, "not accepted") {
		t.Errorf("wrong key: message %s %q, want an error saying the key was not accepted", kind, msg)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`#signin input[name="credential"]`))); err != nil {
		t.Fatalf("the sign-in form did not come back: %v", err)
	}
	if got := text(t, ctx, "#signin-message"); !strings.Contains(got, "not accepted") {
		t.Errorf("sign-in message %q", got)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("lang"))); err != nil {
		t.Fatal(err)
	}
	if got := text(t, ctx, "#signin-message"); !strings.Contains(got, "未被接受") {
		t.Errorf("sign-in message in Chinese %q", got)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("lang"))); err != nil {
		t.Fatal(err)
	}

	// The right key: OCR through OHTTP.
	signIn(t, ctx, good)
	msg = upload(t, ctx, pageImage)
	if !strings.Contains(msg, "encrypted") {
		t.Errorf("status %q does not say the request was encrypted", msg)
	}
	if got := text(t, ctx, "#lines"); !strings.Contains(got, pageExpected) {
		t.Errorf("recognised lines %q lack %q", got, pageExpected)
	}
	screenshot(t, ctx, "webui-signed-in.png")

	// The key is nowhere the page keeps things, nor in the form field.
	stored, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage), document.cookie, location.href, history.length, document.querySelector('input[name="credential"]').value, document.documentElement.outerHTML])`))
	if err != nil {
		t.Fatal(err)
	}
	cookies, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{})
	if err != nil {
		t.Fatal(err)
	}
	if len(cookies.Cookies) != 0 {
		t.Errorf("%d cookies set", len(cookies.Cookies))
	}
	for _, key := range []string{good, bad} {
		if strings.Contains(stored, key) {
			t.Errorf("a credential is in the page's storage, cookies, URL or DOM: %s", stored)
		}
		for _, r := range requests() {
			if strings.Contains(r.url, key) || strings.Contains(r.headers, key) {
				t.Errorf("a credential is in the URL or headers of %s %s", r.method, r.url)
			}
			if r.hasBody {
				body, err := chromedp.Call(ctx, network.GetRequestPostData, network.GetRequestPostDataParams{RequestID: r.id})
				if err == nil && bytes.Contains(body.PostData, []byte(key)) {
					t.Errorf("a credential is in the clear in the body of %s %s", r.method, r.url)
				}
			}
		}
	}
	var posts int
	for _, r := range requests() {
		if strings.Contains(r.url, "/v1/ocr") {
			t.Errorf("request in the clear: %s %s", r.method, r.url)
		}
		if r.method == http.MethodPost {
			posts++
			if r.url != gateway || r.contentType != "message/ohttp-req" {
				t.Errorf("POST %s %q, want the gateway", r.url, r.contentType)
			}
			if strings.Contains(strings.ToLower(r.headers), "authorization") {
				t.Errorf("POST %s carries an outer Authorization header", r.url)
			}
		}
	}
	if posts != 2 {
		t.Errorf("%d POSTs, want 2 (the wrong key, the right one)", posts)
	}

	// Sign out: the form again, and an upload sends nothing.
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("signout")),
		chromedp.WaitVisible(chromedp.CSS(`#signin input[name="credential"]`)),
	); err != nil {
		t.Fatalf("sign out: %v", err)
	}
	if hidden, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("input").hidden`)); err != nil || !hidden {
		t.Errorf("the upload is offered after sign-out (hidden=%v, %v)", hidden, err)
	}

	// Neither process logged a credential.
	for _, key := range []string{good, bad} {
		for name, logs := range map[string]string{"sidecar": sc.logs.String(), "core": coreLogs.String()} {
			if strings.Contains(logs, key) || strings.Contains(logs, key[len(key)-16:]) {
				t.Errorf("the %s's logs hold a credential", name)
			}
		}
	}
	if !strings.Contains(sc.logs.String(), "401") && !strings.Contains(sc.logs.String(), "inner") {
		t.Logf("sidecar logs:\n%s", sc.logs.String())
	}
}

// TestBrowserSignInRateLimited: with auth required and a rate of one
// request a minute, a second upload is "too many requests" (429), not a
// wrong key: the page keeps the credential and shows no sign-in form.
func TestBrowserSignInRateLimited(t *testing.T) {
	const good = "sk-browser-rate-00112233445566778899aabbccddeeff"
	chromiumPath(t)
	coreURL := startCore(t)
	sc := startSidecarEnv(t, coreURL, "SEALOCR_AUTH=required", "SEALOCR_AUTH_API_KEYS_FILE="+writeAPIKeys(t, good),
		"SEALOCR_RATE_LIMIT=1/m", "SEALOCR_RATE_LIMIT_BURST=1")
	ctx := browser(t, sc.spki)
	watchConsole(t, ctx, sc.url+"/.well-known/ohttp-gateway")
	if err := chromedp.Do(ctx, chromedp.Navigate(sc.url+"/")); err != nil {
		t.Fatal(err)
	}
	signIn(t, ctx, good)
	upload(t, ctx, lineImage)
	kind, msg := uploadResult(t, ctx, lineImage)
	if kind != "error" || !strings.Contains(msg, "Too many requests") || strings.Contains(msg, "not accepted") {
		t.Errorf("second upload: %s %q, want too many requests", kind, msg)
	}
	if visible, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`!document.getElementById("signin").hidden`)); err != nil || visible {
		t.Errorf("a 429 brought back the sign-in form (%v)", err)
	}
}

// hs256JWT makes a JWT signed with HS256 under key, with the subject and
// expiry given (the standard library only: the sidecar's verifier is what
// is under test).
func hs256JWT(key []byte, sub string, exp time.Time) string {
	enc := base64.RawURLEncoding.EncodeToString
	head := enc([]byte(`{"alg":"HS256","typ":"JWT"}`))
	claims := enc(fmt.Appendf(nil, `{"sub":%q,"iat":%d,"exp":%d}`, sub, time.Now().Unix(), exp.Unix()))
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(head + "." + claims))
	return head + "." + claims + "." + enc(mac.Sum(nil))
}

// TestBrowserSignInJWT: the same form takes a bearer JWT. A sidecar with
// SEALOCR_AUTH=required and an HS256 key: an expired token is refused with
// the message and the form, a valid one OCRs through OHTTP; neither token
// reaches a URL, the page's storage or either process's logs.
func TestBrowserSignInJWT(t *testing.T) {
	chromiumPath(t)
	key := []byte("browser-test-hs256-key-0123456789abcdef")
	keyFile := filepath.Join(t.TempDir(), "hs256.key")
	if err := os.WriteFile(keyFile, key, 0o600); err != nil {
		t.Fatal(err)
	}
	good := hs256JWT(key, "browser-user", time.Now().Add(10*time.Minute))
	expired := hs256JWT(key, "browser-user", time.Now().Add(-10*time.Minute))
	coreURL, coreLogs := startCoreLogs(t)
	sc := startSidecarEnv(t, coreURL, "SEALOCR_AUTH=required", "SEALOCR_AUTH_JWT_HS256_KEY_FILE="+keyFile)
	ctx := browser(t, sc.spki)
	watchConsole(t, ctx)
	requests := recordRequests(ctx)
	if err := chromedp.Do(ctx,
		chromedp.Navigate(sc.url+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#transport[data-mode="ohttp"] #key-info`)),
	); err != nil {
		t.Fatal(err)
	}
	info, err := chromedp.Run(ctx, chromedp.Evaluate[string](`fetch("/v1/auth-info").then((r) => r.text())`, chromedp.EvalAwaitPromise))
	if err != nil || !strings.Contains(info, `"mode":"required"`) || !strings.Contains(info, `"methods":["jwt"]`) {
		t.Errorf("auth info %s (%v)", info, err)
	}

	signIn(t, ctx, expired)
	kind, msg := uploadResult(t, ctx, lineImage)
	if kind != "error" || !strings.Contains(msg, "not accepted") {
		t.Errorf("expired token: %s %q", kind, msg)
	}
	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.ID("mode"), "line")); err != nil {
		t.Fatal(err)
	}
	signIn(t, ctx, good)
	upload(t, ctx, lineImage)
	if got := text(t, ctx, "#lines"); !strings.Contains(got, lineExpected) {
		t.Errorf("recognised lines %q lack %q", got, lineExpected)
	}
	stored, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage), document.cookie, location.href, document.documentElement.outerHTML])`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{good, expired} {
		sig := tok[strings.LastIndexByte(tok, '.')+1:]
		if strings.Contains(stored, sig) {
			t.Error("a token is in the page's storage, cookies, URL or DOM")
		}
		for _, r := range requests() {
			if strings.Contains(r.url, sig) || strings.Contains(r.headers, sig) {
				t.Errorf("a token is in the URL or headers of %s %s", r.method, r.url)
			}
		}
		if strings.Contains(sc.logs.String(), sig) || strings.Contains(coreLogs.String(), sig) {
			t.Error("a token is in the logs")
		}
	}
}

// TestBrowserSignInOptional: with SEALOCR_AUTH=optional the page offers the
// sign-in form beside the upload, and an anonymous upload OCRs.
func TestBrowserSignInOptional(t *testing.T) {
	chromiumPath(t)
	coreURL := startCore(t)
	sc := startSidecarEnv(t, coreURL, "SEALOCR_AUTH=optional", "SEALOCR_AUTH_API_KEYS_FILE="+writeAPIKeys(t, "sk-browser-optional-0123456789abcdef0123"))
	ctx := browser(t, sc.spki)
	watchConsole(t, ctx)
	if err := chromedp.Do(ctx,
		chromedp.Navigate(sc.url+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#transport[data-mode="ohttp"] #key-info`)),
		chromedp.WaitVisible(chromedp.CSS(`#signin input[name="credential"]`)),
		chromedp.WaitVisible(chromedp.ID("drop")),
	); err != nil {
		t.Fatalf("page did not offer both the form and the upload: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.ID("mode"), "line")); err != nil {
		t.Fatal(err)
	}
	upload(t, ctx, lineImage)
	if got := text(t, ctx, "#lines"); !strings.Contains(got, lineExpected) {
		t.Errorf("recognised lines %q lack %q", got, lineExpected)
	}
}

// TestBrowserCoreNotLoopback: the page served by the core alone under a
// name that is not loopback (Chromium maps ocr.example to the core on
// 127.0.0.1, as a proxy or a remote listener would expose it) says so and
// sends nothing: plain requests only on loopback.
func TestBrowserCoreNotLoopback(t *testing.T) {
	chromiumPath(t)
	coreURL := startCore(t)
	_, port, err := net.SplitHostPort(strings.TrimPrefix(coreURL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := browserWith(t, "", 90*time.Second, chromedp.Flag("host-resolver-rules", "MAP ocr.example 127.0.0.1"))
	// No watchConsole: Chromium rightly reports that it ignores the core's
	// Cross-Origin-Opener-Policy on plain HTTP under a non-loopback name.
	requests := recordRequests(ctx)
	page := "http://ocr.example:" + port + "/"
	if err := chromedp.Do(ctx,
		chromedp.Navigate(page),
		chromedp.WaitVisible(chromedp.CSS(`#transport:not([data-mode="checking"])`)),
	); err != nil {
		t.Fatal(err)
	}
	if mode, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("transport").dataset.mode`)); err != nil || mode != "plainRefused" {
		t.Errorf("transport mode %q (%v), want plainRefused", mode, err)
	}
	if got := text(t, ctx, "#transport-detail"); !strings.Contains(got, "nothing will be sent") {
		t.Errorf("transport detail %q", got)
	}
	kind, msg := uploadResult(t, ctx, lineImage)
	if kind != "error" || !strings.Contains(msg, "nothing will be sent") {
		t.Errorf("upload: %s %q, want refused", kind, msg)
	}
	for _, r := range requests() {
		if r.method != http.MethodGet || r.hasBody || strings.Contains(r.url, "/v1/ocr") {
			t.Errorf("request left the page: %s %s", r.method, r.url)
		}
	}
}
