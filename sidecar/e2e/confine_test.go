package e2e

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sealocr/sealocr/sidecar/internal/envelope/psk"
)

// headerRecorder is a stand-in upstream on 127.0.0.1 that records the
// request line and headers of everything the sidecar forwards.
type headerRecorder struct {
	srv  *httptest.Server
	mu   sync.Mutex
	seen []*http.Request
}

func newHeaderRecorder(t *testing.T) *headerRecorder {
	h := &headerRecorder{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		h.mu.Lock()
		h.seen = append(h.seen, r)
		h.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"text":"recorded"}`)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *headerRecorder) requests() []*http.Request {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]*http.Request(nil), h.seen...)
}

// TestCredentialsNeverReachTheCore: with authentication off, a client's
// Authorization, X-API-Key, Cookie and Proxy-Authorization headers are
// stripped from plain routes and encrypted requests alike. Before the fix,
// the plain routes forwarded Authorization and X-API-Key (and Cookie) to the
// core as sent.
func TestCredentialsNeverReachTheCore(t *testing.T) {
	rec := newHeaderRecorder(t)
	s := newSidecar(t, map[string]string{"SEALOCR_UPSTREAM": rec.srv.URL, "SEALOCR_AUTH": "off"})
	creds := map[string]string{
		"Authorization":       "Bearer canary-token-5f1d",
		"X-API-Key":           "canary-key-77aa",
		"Cookie":              "session=canary-cookie-e3b0",
		"Proxy-Authorization": "Basic Y2FuYXJ5OmNhbmFyeQ==",
	}
	send := func(method, target, ct string, body []byte) {
		req, _ := http.NewRequest(method, s.url+target, strings.NewReader(string(body)))
		for k, v := range creds {
			req.Header.Set(k, v)
		}
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		res, err := s.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("%s %s: %d", method, target, res.StatusCode)
		}
	}
	send(http.MethodGet, "/", "", nil)
	send(http.MethodGet, "/static/app.js", "", nil)
	r := sealPSK(t, pskKey(t, s), "/v1/ocr", "image/png", []byte("IMAGE"), time.Now())
	send(http.MethodPost, r.target, psk.RequestMediaType, r.body)
	seen := rec.requests()
	if len(seen) != 3 {
		t.Fatalf("the upstream saw %d requests, want 3", len(seen))
	}
	for _, r := range seen {
		for k := range creds {
			if v := r.Header.Get(k); v != "" {
				t.Errorf("%s %s reached the upstream with %s: %s", r.Method, r.URL, k, v)
			}
		}
	}
}

// TestPSKTargetAsSent writes a PSK request over a raw TLS connection, with a
// request-target the Go client would re-escape (`"` in the query), sealed
// over that target exactly as it is on the wire (PROTOCOL.md section 1.2).
// The sidecar must open it and forward that target. Before the fix it bound
// the re-escaped form (%22) and refused the request as cannot_open.
func TestPSKTargetAsSent(t *testing.T) {
	rec := newHeaderRecorder(t)
	s := newSidecar(t, map[string]string{"SEALOCR_UPSTREAM": rec.srv.URL})
	target := `/v1/ocr?mode=line&tag="x"`
	r := sealPSK(t, pskKey(t, s), target, "image/png", []byte("IMAGE"), time.Now())
	c, err := tls.Dial("tcp", s.addr, &tls.Config{RootCAs: s.caPool, ServerName: "127.0.0.1", NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n",
		target, s.addr, psk.RequestMediaType, len(r.body))
	if _, err := c.Write(r.body); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	status, _, content := openPSK(t, "psk "+target, r, res, body)
	if status != http.StatusOK || string(content) != `{"text":"recorded"}` {
		t.Fatalf("inner answer %d %s", status, content)
	}
	seen := rec.requests()
	if len(seen) != 1 || seen[0].RequestURI != target {
		got := ""
		if len(seen) == 1 {
			got = seen[0].RequestURI
		}
		t.Fatalf("the upstream saw %q, want %q", got, target)
	}
}
