package server

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sealocr/sealocr/sidecar/api"
	"github.com/sealocr/sealocr/sidecar/internal/route"
)

// TestAddConnectSrc: only connect-src gains the origin; a policy without
// it is not widened.
func TestAddConnectSrc(t *testing.T) {
	const o = "https://login.example"
	for _, tc := range []struct{ in, want string }{
		{"default-src 'none'; connect-src 'self'; form-action 'none'", "default-src 'none'; connect-src 'self' " + o + "; form-action 'none'"},
		{"connect-src 'self'", "connect-src 'self' " + o},
		{"connect-src 'none'; img-src 'self'", "connect-src " + o + "; img-src 'self'"},
		{"default-src 'self'", "default-src 'self'"},
	} {
		if got := addConnectSrc(tc.in, o); got != tc.want {
			t.Errorf("addConnectSrc(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	for in, want := range map[string]string{
		"https://login.example/oauth/token": "https://login.example",
		"http://127.0.0.1:5556/token":       "http://127.0.0.1:5556",
		"javascript:alert(1)":               "",
		"https://a.example;script-src *":    "",
		"":                                  "",
	} {
		if got := CSPOrigin(in); got != want {
			t.Errorf("CSPOrigin(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestCSPConnectPlainOnly: the policy of a plain route's answer gains the
// token endpoint's origin once it is known; other routes, and the time
// before discovery, keep the policy as the upstream sent it.
func TestCSPConnectPlainOnly(t *testing.T) {
	const policy = "default-src 'none'; connect-src 'self'"
	var info *api.AuthInfoOIDC
	up := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Security-Policy", policy)
		_, _ = w.Write([]byte("page"))
	})
	h := cspConnect(func() *api.AuthInfoOIDC { return info })(up)
	get := func(kind route.Kind) string {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r = r.WithContext(route.WithKind(r.Context(), kind))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Header().Get("Content-Security-Policy")
	}
	if got := get(route.Plain); got != policy {
		t.Errorf("before discovery: %q", got)
	}
	info = &api.AuthInfoOIDC{Issuer: "https://login.example", TokenEndpoint: "https://tokens.example/token"}
	if got := get(route.Plain); got != "default-src 'none'; connect-src 'self' https://tokens.example" {
		t.Errorf("plain route: %q", got)
	}
	if got := get(route.OHTTP); got != policy {
		t.Errorf("OHTTP route: %q", got)
	}
}
