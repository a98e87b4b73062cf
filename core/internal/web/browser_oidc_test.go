package web

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/sealocr/sealocr/core/testkit"
	"github.com/sealocr/sealocr/core/testkit/oidctest"
)

// oidcLogin clicks "Sign in with <provider>", types the test user's name
// and password into the provider's own login form and waits until the
// page is back, signed in.
func oidcLogin(t *testing.T, ctx context.Context, op *oidctest.OP) {
	t.Helper()
	if err := chromedp.Do(ctx,
		chromedp.WaitVisible(chromedp.ID("oidc-signin")),
		chromedp.Click(chromedp.ID("oidc-signin")),
		chromedp.WaitVisible(chromedp.ID("username")),
	); err != nil {
		t.Fatalf("the provider's login form did not show: %v", err)
	}
	if u, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.origin`)); err != nil || u != op.Issuer {
		t.Errorf("login form at %q (%v), want the provider %s", u, err, op.Issuer)
	}
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("username"), op.Username()),
		chromedp.SendKeys(chromedp.ID("password"), oidctest.Password),
		chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("signed-in")),
		chromedp.WaitVisible(chromedp.ID("drop")),
	); err != nil {
		t.Fatalf("did not come back signed in: %v", err)
	}
}

// TestBrowserSignInOIDC: a sidecar with SEALOCR_AUTH=required and an
// OpenID Provider (a real one: zitadel's op with its login form, see
// core/testkit/oidctest). The page offers "Sign in with <provider>" beside the
// credential form; the browser goes to the provider, the test user types
// the name and password there, and the page comes back with code and state
// already gone from its address, exchanges the code (PKCE) at the token
// endpoint (which the page's CSP allows), and OCRs an image through OHTTP
// with the ID token inside the encapsulated request. The token is in no
// URL, header, storage, cookie or DOM, nor in either process's logs.
// Sign-out forgets it; signing in again works; an expired token brings
// back the sign-in form and sends nothing.
func TestBrowserSignInOIDC(t *testing.T) {
	const client = "sealocr-webui"
	chromiumPath(t)
	addr := testkit.FreeAddr(t)
	op := oidctest.Start(t, oidctest.Client{ID: client, RedirectURIs: []string{"https://" + addr + "/"}})
	coreURL, coreLogs := startCoreLogs(t)
	sc := startSidecarEnv(t, coreURL, "SEALOCR_LISTEN="+addr, "SEALOCR_AUTH=required",
		"SEALOCR_AUTH_OIDC_ISSUER="+op.Issuer, "SEALOCR_AUTH_OIDC_CLIENT_ID="+client)
	gateway := sc.url + "/.well-known/ohttp-gateway"
	ctx := browser(t, sc.spki)
	watchConsole(t, ctx, op.Issuer+"/favicon.ico")
	requests := recordRequests(ctx)

	if err := chromedp.Do(ctx,
		chromedp.Navigate(sc.url+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#transport[data-mode="ohttp"] #key-info`)),
		chromedp.WaitVisible(chromedp.CSS(`#signin input[name="credential"][type="password"]`)),
		chromedp.WaitVisible(chromedp.ID("oidc-signin")),
	); err != nil {
		t.Fatalf("page did not offer the OpenID sign-in: %v", err)
	}
	host := strings.TrimPrefix(op.Issuer, "http://")
	if got := text(t, ctx, "#oidc-signin"); got != "Sign in with "+host {
		t.Errorf("button %q, want %q", got, "Sign in with "+host)
	}
	screenshot(t, ctx, "webui-signin-oidc.png")

	// Login CSRF: a sign-in was started in this tab, and a forged answer
	// comes back (an attacker's link with their own code and a wrong
	// state). The page cleans its address, refuses it and never calls the
	// token endpoint.
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("oidc-signin")),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.Navigate(sc.url+"/?code=attackers-code&state=forged-state"),
		chromedp.WaitVisible(chromedp.ID("oidc-signin")),
	); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Poll[chromedp.Void](`document.getElementById("signin-message").textContent.includes("did not complete")`)); err != nil {
		t.Errorf("a forged answer was not refused: %v (message %q)", err, text(t, ctx, "#signin-message"))
	}
	if href, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + " " + sessionStorage.length`)); err != nil || href != sc.url+"/ 0" {
		t.Errorf("after a forged answer: %q (%v), want the bare address and no pending sign-in", href, err)
	}
	for _, r := range requests() {
		if r.method == http.MethodPost && strings.HasPrefix(r.url, op.Issuer) {
			t.Errorf("a forged answer reached the token endpoint: %s", r.url)
		}
	}

	oidcLogin(t, ctx, op)
	href, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href`))
	if err != nil || href != sc.url+"/" {
		t.Errorf("address after sign-in %q (%v), want %s/ without code or state", href, err, sc.url)
	}

	// The token the page received: the token endpoint's answer.
	var tokenReq request
	for _, r := range requests() {
		if r.method == http.MethodPost && strings.HasPrefix(r.url, op.Issuer+"/") {
			tokenReq = r
		}
	}
	if tokenReq.id == "" {
		t.Fatal("the page did not call the token endpoint")
	}
	body, err := chromedp.Call(ctx, network.GetResponseBody, network.GetResponseBodyParams{RequestID: tokenReq.id})
	if err != nil {
		t.Fatalf("token response: %v", err)
	}
	var tr struct {
		IDToken string `json:"id_token"`
	}
	if err := json.Unmarshal(body.Body, &tr); err != nil || strings.Count(tr.IDToken, ".") != 2 {
		t.Fatalf("token response %s (%v)", body.Body, err)
	}
	token := tr.IDToken
	sig := token[strings.LastIndexByte(token, '.')+1:]
	if tokenBody, err := chromedp.Call(ctx, network.GetRequestPostData, network.GetRequestPostDataParams{RequestID: tokenReq.id}); err != nil ||
		!bytes.Contains(tokenBody.PostData, []byte("code_verifier=")) || bytes.Contains(tokenBody.PostData, []byte("client_secret")) {
		t.Errorf("token request (%v): want a code verifier and no secret", err)
	}

	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.ID("mode"), "line")); err != nil {
		t.Fatal(err)
	}
	msg := upload(t, ctx, lineImage)
	if !strings.Contains(msg, "encrypted") {
		t.Errorf("status %q does not say the request was encrypted", msg)
	}
	if got := text(t, ctx, "#lines"); !strings.Contains(got, lineExpected) {
		t.Errorf("recognised lines %q lack %q", got, lineExpected)
	}
	screenshot(t, ctx, "webui-signed-in-oidc.png")

	// The token is nowhere the page keeps things.
	stored, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage), document.cookie, location.href, document.documentElement.outerHTML])`))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(stored, sig) || strings.Contains(stored, "code=") {
		t.Errorf("the token or code is in the page's storage, cookies, URL or DOM (%d bytes searched)", len(stored))
	}
	cookies, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{sc.url + "/"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(cookies.Cookies) != 0 {
		t.Errorf("%d cookies for the sidecar's origin", len(cookies.Cookies))
	}
	checkWire := func() {
		t.Helper()
		posts := 0
		for _, r := range requests() {
			if strings.Contains(r.url, sig) || strings.Contains(r.headers, sig) {
				t.Errorf("the token is in the URL or headers of %s %s", r.method, r.url)
			}
			if r.hasBody {
				b, err := chromedp.Call(ctx, network.GetRequestPostData, network.GetRequestPostDataParams{RequestID: r.id})
				if err == nil && (bytes.Contains(b.PostData, []byte(sig)) || bytes.Contains(b.PostData, []byte(token[:40]))) {
					t.Errorf("the token is in the clear in the body of %s %s", r.method, r.url)
				}
			}
			if strings.Contains(r.url, "/v1/ocr") {
				t.Errorf("request in the clear: %s %s", r.method, r.url)
			}
			if r.method == http.MethodPost && strings.HasPrefix(r.url, sc.url) {
				posts++
				if r.url != gateway || r.contentType != "message/ohttp-req" {
					t.Errorf("POST %s %q, want the gateway", r.url, r.contentType)
				}
				if strings.Contains(strings.ToLower(r.headers), "authorization") {
					t.Errorf("POST %s carries an outer Authorization header", r.url)
				}
			}
		}
		if posts != 1 {
			t.Errorf("%d POSTs to the sidecar, want 1", posts)
		}
	}
	checkWire()

	// Sign out: the form again and no upload; sign in again: it works.
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("signout")),
		chromedp.WaitVisible(chromedp.ID("oidc-signin")),
	); err != nil {
		t.Fatalf("sign out: %v", err)
	}
	if hidden, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("input").hidden`)); err != nil || !hidden {
		t.Errorf("the upload is offered after sign-out (hidden=%v, %v)", hidden, err)
	}
	// A file given to the (hidden) input anyway: refused, nothing sent.
	if kind, msg := uploadResult(t, ctx, lineImage); kind != "error" || !strings.Contains(msg, "Sign in first") {
		t.Errorf("upload after sign-out: %s %q", kind, msg)
	}
	checkWire() // still the one POST
	oidcLogin(t, ctx, op)

	// An expired token: the page's clock two hours on (the provider's ID
	// tokens live one): the upload brings back the sign-in, sends nothing.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { const now = Date.now.bind(Date); Date.now = () => now() + 2 * 3600e3; return true; })()`)); err != nil {
		t.Fatal(err)
	}
	kind, msg := uploadResult(t, ctx, lineImage)
	if kind != "error" || !strings.Contains(msg, "expired") {
		t.Errorf("expired token: %s %q", kind, msg)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("oidc-signin"))); err != nil {
		t.Errorf("the sign-in did not come back: %v", err)
	}
	if got := text(t, ctx, "#signin-message"); !strings.Contains(got, "expired") {
		t.Errorf("sign-in message %q", got)
	}
	checkWire() // still the one POST of the first upload

	// Neither process logged the token (nor its signature).
	for name, logs := range map[string]string{"sidecar": sc.logs.String(), "core": coreLogs.String()} {
		if strings.Contains(logs, sig) || strings.Contains(logs, token[:40]) {
			t.Errorf("the %s's logs hold the token", name)
		}
	}
}
