package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sealocr/sealocr/core/testkit/oidctest"
	"github.com/sealocr/sealocr/sidecar/api"
)

// TestOIDCSidecar: a real sidecar process with auth required and an OpenID
// Provider (zitadel's op, core/testkit/oidctest) that is down when the sidecar
// starts. The sidecar starts anyway and refuses the provider's ID token
// (401, and the log says the provider is not reachable yet); once the
// provider is up, background discovery finds it, /v1/auth-info publishes
// its endpoints, the page's Content-Security-Policy lets it connect to the
// token endpoint's origin (and nowhere else new), and the same token OCRs.
// The token is in no log line.
func TestOIDCSidecar(t *testing.T) {
	const client = "sealocr-webui"
	op := oidctest.Start(t, oidctest.Client{ID: client, RedirectURIs: []string{"https://127.0.0.1/"}})
	tok := op.Login(t, client, "https://127.0.0.1/")
	op.Stop()

	s := newSidecar(t, map[string]string{
		"SEALOCR_AUTH":                "required",
		"SEALOCR_AUTH_OIDC_ISSUER":    op.Issuer,
		"SEALOCR_AUTH_OIDC_CLIENT_ID": client,
	})
	tokFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokFile, []byte(tok), 0o600); err != nil {
		t.Fatal(err)
	}
	im := renderedImage(t, docTexts[0])
	_, stderr, _, err := runSealctl(t, s, time.Minute, "--token-file", tokFile, im.abs())
	if err == nil || !strings.Contains(stderr, "refused the credential") {
		t.Fatalf("with the provider down: err %v, stderr %s", err, tailOf(stderr))
	}
	if !strings.Contains(s.proc.logs(), "OpenID Provider not reachable yet") {
		t.Errorf("the log does not say the provider is unreachable")
	}
	res, body := s.do(t, http.MethodGet, api.AuthInfoPath, "", nil)
	var info api.AuthInfo
	if res.StatusCode != http.StatusOK || json.Unmarshal(body, &info) != nil || info.Auth.OIDC == nil || info.Auth.OIDC.TokenEndpoint != "" {
		t.Errorf("auth info before discovery: %s", body)
	}

	op.Restart(t)
	deadline := time.Now().Add(20 * time.Second)
	for {
		res, body = s.do(t, http.MethodGet, api.AuthInfoPath, "", nil)
		info = api.AuthInfo{}
		if res.StatusCode == http.StatusOK && json.Unmarshal(body, &info) == nil && info.Auth.OIDC != nil && info.Auth.OIDC.TokenEndpoint != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the provider was never discovered: %s\n%s", body, s.proc.tail())
		}
		time.Sleep(100 * time.Millisecond)
	}
	o := info.Auth.OIDC
	if o.Issuer != op.Issuer || o.ClientID != client || len(o.Scopes) != 1 || o.Scopes[0] != "openid" ||
		!strings.HasPrefix(o.AuthorizationEndpoint, op.Issuer+"/") || !strings.HasPrefix(o.TokenEndpoint, op.Issuer+"/") ||
		!strings.Contains(strings.Join(info.Auth.Methods, ","), "oidc") {
		t.Errorf("auth info %s", body)
	}
	if strings.Contains(strings.ToLower(string(body)), "secret") {
		t.Errorf("auth info mentions a secret: %s", body)
	}

	// The page's policy: connect-src gains the provider's origin, the rest
	// is the core's as it was.
	res, _ = s.do(t, http.MethodGet, "/", "", nil)
	csp := res.Header.Get("Content-Security-Policy")
	want := "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; connect-src 'self' " + op.Issuer +
		"; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
	if csp != want {
		t.Errorf("page CSP\n got %s\nwant %s", csp, want)
	}

	// Keys are fetched with discovery: the same token now OCRs.
	stdout, stderr, _, err := runSealctl(t, s, time.Minute, "--token-file", tokFile, im.abs())
	if err != nil {
		t.Fatalf("with the provider up: %v\n%s", err, tailOf(stderr))
	}
	if !strings.Contains(squash(stdout), squash(im.text)) {
		t.Errorf("OCR output %q lacks %q", stdout, im.text)
	}
	if sig := tok[strings.LastIndexByte(tok, '.')+1:]; strings.Contains(s.proc.logs(), sig) {
		t.Error("the token is in the sidecar's log")
	}
}

// TestOIDCIssuerMismatchRefusesStart: a provider whose discovery document
// names another issuer than the configured one (it calls itself localhost;
// the sidecar was told 127.0.0.1) stops the sidecar at start with a clear
// error.
func TestOIDCIssuerMismatchRefusesStart(t *testing.T) {
	op := oidctest.StartAt(t, oidctest.FreeAddr(t), "localhost")
	configured := strings.Replace(op.Issuer, "localhost", "127.0.0.1", 1)
	dir := t.TempDir()
	s := startSidecar(t, map[string]string{
		"SEALOCR_STATE_DIR":           dir,
		"SEALOCR_AUTH":                "required",
		"SEALOCR_AUTH_OIDC_ISSUER":    configured,
		"SEALOCR_AUTH_OIDC_CLIENT_ID": "webui",
	})
	deadline := time.Now().Add(30 * time.Second)
	for !s.proc.exited() {
		if time.Now().After(deadline) {
			t.Fatalf("the sidecar kept running with a mismatched issuer\n%s", s.proc.tail())
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.proc.stop() // an expected exit, not a crash
	if !strings.Contains(s.proc.logs(), "discovery document refused") {
		t.Errorf("the exit does not say why:\n%s", s.proc.tail())
	}
}
