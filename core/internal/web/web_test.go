package web

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/gorilla/mux"
)

func newRouter() *mux.Router {
	r := mux.NewRouter()
	Routes(r)
	return r
}

func TestServe(t *testing.T) {
	r := newRouter()
	tests := []struct {
		name, method, path string
		status             int
		contentType        string
		contains           string
	}{
		{"page", http.MethodGet, "/", 200, "text/html; charset=utf-8", `<script src="/static/app.js" defer></script>`},
		{"page HEAD", http.MethodHead, "/", 200, "text/html; charset=utf-8", ""},
		{"script", http.MethodGet, "/static/app.js", 200, "text/javascript; charset=utf-8", "message/ohttp-req"},
		{"style", http.MethodGet, "/static/app.css", 200, "text/css; charset=utf-8", ".transport"},
		{"icon", http.MethodGet, "/static/favicon.svg", 200, "image/svg+xml", "<svg"},
		{"index under static is not served twice", http.MethodGet, "/static/index.html", 404, "", ""},
		{"missing", http.MethodGet, "/static/nope.js", 404, "", ""},
		{"directory", http.MethodGet, "/static/", 404, "", ""},
		{"traversal is cleaned to /web.go", http.MethodGet, "/static/../web.go", 301, "", ""},
		{"other path", http.MethodGet, "/index.html", 404, "", ""},
		{"POST page", http.MethodPost, "/", 405, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			r.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d", rec.Code, tc.status)
			}
			if tc.status != 200 {
				return
			}
			h := rec.Header()
			if got := h.Get("Content-Type"); got != tc.contentType {
				t.Errorf("Content-Type %q, want %q", got, tc.contentType)
			}
			if got := h.Get("Content-Security-Policy"); got != ContentSecurityPolicy {
				t.Errorf("Content-Security-Policy %q", got)
			}
			if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("ETag") == "" {
				t.Errorf("headers %v", h)
			}
			if !strings.Contains(rec.Body.String(), tc.contains) {
				t.Errorf("body lacks %q", tc.contains)
			}
		})
	}
}

func TestETagRevalidation(t *testing.T) {
	r := newRouter()
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/static/app.js", nil))
	etag := rec.Header().Get("ETag")
	req := httptest.NewRequest(http.MethodGet, "/static/app.js", nil)
	req.Header.Set("If-None-Match", etag)
	rec = httptest.NewRecorder()
	r.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotModified {
		t.Fatalf("status %d, want 304", rec.Code)
	}
}

// TestNoRemoteResources keeps the page self-contained: no URL with a scheme
// or a protocol-relative URL in the HTML, and the bundle loads no code at
// run time. (@hpke/* falls back to Node's crypto module with
// `import("crypto")` when there is no WebCrypto; a browser cannot load that
// bare name, and the CSP allows scripts from this origin only.)
func TestNoRemoteResources(t *testing.T) {
	html, err := static.ReadFile("static/index.html")
	if err != nil {
		t.Fatal(err)
	}
	if m := regexp.MustCompile(`(?i)(src|href)="(https?:)?//`).Find(html); m != nil {
		t.Errorf("index.html references a remote resource: %s", m)
	}
	js, err := static.ReadFile("static/app.js")
	if err != nil {
		t.Fatal(err)
	}
	js = bytes.ReplaceAll(js, []byte(`import("crypto")`), nil)
	for _, bad := range []string{"import(", "importScripts", "eval(", "new Function", "WebAssembly"} {
		if bytes.Contains(js, []byte(bad)) {
			t.Errorf("app.js contains %q", bad)
		}
	}
}

// TestCoreAuthInfo: the core alone answers GET /v1/auth-info as the core,
// in the clear, without authentication (the page's only ground for posting
// in the clear), and the answer parses as the sidecar's does.
func TestCoreAuthInfo(t *testing.T) {
	w := httptest.NewRecorder()
	newRouter().ServeHTTP(w, httptest.NewRequest(http.MethodGet, AuthInfoPath, nil))
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "application/json" || w.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("%d %q %q", w.Code, w.Header().Get("Content-Type"), w.Header().Get("Cache-Control"))
	}
	var got struct {
		Server, Transport string
		Auth              struct {
			Mode    string
			Methods []string
		}
	}
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.Server != "core" || got.Transport != "plain" || got.Auth.Mode != "off" || got.Auth.Methods == nil || len(got.Auth.Methods) != 0 {
		t.Errorf("auth info %s", w.Body.Bytes())
	}
	w = httptest.NewRecorder()
	newRouter().ServeHTTP(w, httptest.NewRequest(http.MethodPost, AuthInfoPath, nil))
	if w.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", w.Code)
	}
}
