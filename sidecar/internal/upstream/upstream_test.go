package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sealocr/sealocr/sidecar/api"
)

// seen records what the fake core received.
type seen struct {
	mu     sync.Mutex
	method string
	uri    string
	host   string
	header http.Header
	body   []byte
}

func (s *seen) get() seen {
	s.mu.Lock()
	defer s.mu.Unlock()
	return seen{method: s.method, uri: s.uri, host: s.host, header: s.header, body: s.body}
}

// fakeCore answers every request with a JSON echo and records it. /readyz
// answers with the status in *ready.
func fakeCore(t *testing.T, rec *seen) http.Handler {
	t.Helper()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("core: read body: %v", err)
		}
		rec.mu.Lock()
		rec.method, rec.uri, rec.host, rec.header, rec.body = r.Method, r.RequestURI, r.Host, r.Header.Clone(), b
		rec.mu.Unlock()
		w.Header().Set("Server", "sealocr-core/1.2.3")
		w.Header().Set("X-Powered-By", "go")
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Core", "yes")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"ok":true}`))
	})
}

// startCore starts h on 127.0.0.1:0 and returns its URL.
func startCore(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// startUnixCore starts h on a unix socket in a temporary folder and returns
// its unix:// URL.
func startUnixCore(t *testing.T, h http.Handler) string {
	t.Helper()
	dir := t.TempDir()
	sock := filepath.Join(dir, "core.sock")
	if len(sock) > 100 { // sun_path limit
		d, err := os.MkdirTemp("", "sock")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.RemoveAll(d) })
		sock = filepath.Join(d, "c.sock")
	}
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return "unix://" + sock
}

func newProxy(t *testing.T, o Options) *Proxy {
	t.Helper()
	p, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(p.CloseIdleConnections)
	return p
}

// front serves p on 127.0.0.1:0, as the sidecar would, and returns its URL.
func front(t *testing.T, p http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestServeHTTPForwards(t *testing.T) {
	for _, tc := range []struct {
		name  string
		start func(*testing.T, http.Handler) string
	}{
		{"tcp", startCore},
		{"unix", startUnixCore},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rec seen
			up := tc.start(t, fakeCore(t, &rec))
			p := newProxy(t, Options{URL: up})
			req, err := http.NewRequest("POST", front(t, p)+"/static/a%2Fb/app.js?x=1&y=%20", strings.NewReader("hello body"))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("X-Keep", "kept")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			body, _ := io.ReadAll(res.Body)
			got := rec.get()
			if got.method != "POST" || got.uri != "/static/a%2Fb/app.js?x=1&y=%20" || string(got.body) != "hello body" {
				t.Errorf("core saw %s %s %q", got.method, got.uri, got.body)
			}
			if got.header.Get("X-Keep") != "kept" {
				t.Errorf("end-to-end header lost: %v", got.header)
			}
			if res.StatusCode != http.StatusCreated || string(body) != `{"ok":true}` || res.Header.Get("X-Core") != "yes" {
				t.Errorf("client got %d %q %v", res.StatusCode, body, res.Header)
			}
			for _, h := range []string{"Server", "X-Powered-By"} {
				if v := res.Header.Get(h); v != "" {
					t.Errorf("response header %s leaked: %q", h, v)
				}
			}
			if !api.ValidRequestID(res.Header.Get(api.RequestIDHeader)) || res.Header.Get(api.RequestIDHeader) != got.header.Get(api.RequestIDHeader) {
				t.Errorf("request ID: client %q, core %q", res.Header.Get(api.RequestIDHeader), got.header.Get(api.RequestIDHeader))
			}
		})
	}
}

func TestServeHTTPStripsHeaders(t *testing.T) {
	var rec seen
	p := newProxy(t, Options{URL: startCore(t, fakeCore(t, &rec))})
	req, _ := http.NewRequest("GET", front(t, p)+"/", nil)
	for k, v := range map[string]string{
		"Connection":          "X-Listed, keep-alive",
		"X-Listed":            "drop me",
		"Keep-Alive":          "timeout=5",
		"Proxy-Authorization": "Basic Zm9vOmJhcg==",
		"Proxy-Anything":      "x",
		"Proxy":               "http://evil.example:3128",
		"X-Forwarded-For":     "203.0.113.7",
		"X-Forwarded-Host":    "evil.example",
		"X-Forwarded-Proto":   "http",
		"X-Forwarded-Prefix":  "/evil",
		"Forwarded":           "for=203.0.113.7",
		"X-Real-Ip":           "203.0.113.7",
		"Te":                  "gzip",
		"Upgrade":             "websocket",
		"X-Keep":              "kept",
	} {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	got := rec.get().header
	for _, h := range []string{"X-Listed", "Keep-Alive", "Proxy-Authorization", "Proxy-Anything", "Proxy",
		"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-Prefix", "Forwarded",
		"X-Real-Ip", "Te", "Upgrade"} {
		t.Run(h, func(t *testing.T) {
			if v, ok := got[h]; ok {
				t.Errorf("%s forwarded: %q", h, v)
			}
		})
	}
	if got.Get("X-Keep") != "kept" {
		t.Errorf("X-Keep lost")
	}
}

func TestRequestID(t *testing.T) {
	var rec seen
	p := newProxy(t, Options{URL: startCore(t, fakeCore(t, &rec))})
	url := front(t, p) + "/"
	for _, tc := range []struct {
		name, in string
		keep     bool
	}{
		{"valid", "abc.DEF_123-xyz", true},
		{"max length", strings.Repeat("a", 64), true},
		{"missing", "", false},
		{"too long", strings.Repeat("a", 65), false},
		{"bad characters", "abc def", false},
		{"injection", "a\"b<script>", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", url, nil)
			if tc.in != "" {
				req.Header.Set(api.RequestIDHeader, tc.in)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			id := rec.get().header.Get(api.RequestIDHeader)
			if tc.keep && id != tc.in {
				t.Errorf("core saw %q, want %q", id, tc.in)
			}
			if !tc.keep && (id == tc.in || !api.ValidRequestID(id)) {
				t.Errorf("core saw %q, want a fresh valid ID", id)
			}
		})
	}
}

func TestHostNotChosenByClient(t *testing.T) {
	var rec seen
	up := startCore(t, fakeCore(t, &rec))
	p := newProxy(t, Options{URL: up})
	wantHost := strings.TrimPrefix(up, "http://")

	t.Run("Host header", func(t *testing.T) {
		req, _ := http.NewRequest("GET", front(t, p)+"/x", nil)
		req.Host = "evil.example:80"
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if got := rec.get(); got.host != wantHost || got.uri != "/x" {
			t.Errorf("core saw host %q uri %q, want %q /x", got.host, got.uri, wantHost)
		}
	})
	t.Run("absolute URI", func(t *testing.T) {
		w := httptest.NewRecorder()
		p.ServeHTTP(w, httptest.NewRequest("GET", "http://evil.example/y?q=1", nil))
		if w.Code != http.StatusCreated {
			t.Fatalf("status %d", w.Code)
		}
		if got := rec.get(); got.host != wantHost || got.uri != "/y?q=1" {
			t.Errorf("core saw host %q uri %q", got.host, got.uri)
		}
	})
	t.Run("Do", func(t *testing.T) {
		for _, target := range []string{"http://evil.example/z", "//evil.example/z", "z", "/z#frag"} {
			if _, err := p.Do(context.Background(), "GET", target, nil, nil); !errors.Is(err, ErrBadRequest) {
				t.Errorf("Do(%q) = %v, want ErrBadRequest", target, err)
			}
		}
		if _, err := p.Do(context.Background(), "GET", "/z", http.Header{"Host": {"evil.example"}}, nil); err != nil {
			t.Fatal(err)
		}
		if got := rec.get(); got.host != wantHost {
			t.Errorf("core saw host %q", got.host)
		}
	})
}

// downURL returns the URL of a loopback port nobody listens on.
func downURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

// slowCore waits for the request to be abandoned.
func slowCore() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
}

func TestServeHTTPErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		url    func(*testing.T) string
		status int
		body   string
	}{
		{"down", downURL, http.StatusBadGateway,
			`{"error":{"code":"upstream_unavailable","message":"the OCR service is unavailable"}}`},
		{"down unix", func(t *testing.T) string { return "unix://" + filepath.Join(t.TempDir(), "none.sock") },
			http.StatusBadGateway, `{"error":{"code":"upstream_unavailable","message":"the OCR service is unavailable"}}`},
		{"slow", func(t *testing.T) string { return startCore(t, slowCore()) }, http.StatusGatewayTimeout,
			`{"error":{"code":"upstream_timeout","message":"the OCR service did not answer in time"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newProxy(t, Options{URL: tc.url(t), Timeout: 200 * time.Millisecond})
			res, err := http.Get(front(t, p) + "/")
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != tc.status || string(body) != tc.body {
				t.Errorf("got %d %s, want %d %s", res.StatusCode, body, tc.status, tc.body)
			}
			if ct := res.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			var v map[string]any
			if err := json.Unmarshal(body, &v); err != nil {
				t.Errorf("body is not JSON: %v", err)
			}
		})
	}
}

func TestDo(t *testing.T) {
	var rec seen
	for _, tc := range []struct {
		name  string
		start func(*testing.T, http.Handler) string
	}{
		{"tcp", startCore},
		{"unix", startUnixCore},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newProxy(t, Options{URL: tc.start(t, fakeCore(t, &rec))})
			// Keys as a decoded inner request may carry them: not canonical.
			h := rawHeader(
				"content-type", "image/png",
				"x-request-id", "req-1",
				"connection", "x-listed",
				"x-listed", "1",
				"x-forwarded-for", "203.0.113.7",
				"content-length", "999",
			)
			res, err := p.Do(context.Background(), "POST", "/v1/ocr?lang=en", h, []byte("PNGDATA"))
			if err != nil {
				t.Fatal(err)
			}
			got := rec.get()
			if got.method != "POST" || got.uri != "/v1/ocr?lang=en" || string(got.body) != "PNGDATA" {
				t.Errorf("core saw %s %s %q", got.method, got.uri, got.body)
			}
			if got.header.Get("Content-Type") != "image/png" || got.header.Get(api.RequestIDHeader) != "req-1" {
				t.Errorf("core header %v", got.header)
			}
			for _, k := range []string{"X-Listed", "X-Forwarded-For"} {
				if _, ok := got.header[k]; ok {
					t.Errorf("%s forwarded", k)
				}
			}
			if !reflect.DeepEqual(h, rawHeader("content-type", "image/png", "x-request-id", "req-1", "connection", "x-listed",
				"x-listed", "1", "x-forwarded-for", "203.0.113.7", "content-length", "999")) {
				t.Errorf("Do modified the caller's header")
			}
			if res.Status != http.StatusCreated || string(res.Body) != `{"ok":true}` || res.Header.Get("X-Core") != "yes" {
				t.Errorf("response %d %q %v", res.Status, res.Body, res.Header)
			}
			for _, k := range []string{"Server", "X-Powered-By", "Content-Length"} {
				if _, ok := res.Header[k]; ok {
					t.Errorf("response header %s kept", k)
				}
			}
			if res.Header.Get(api.RequestIDHeader) != "req-1" {
				t.Errorf("response request ID %q", res.Header.Get(api.RequestIDHeader))
			}
		})
	}
}

func TestDoErrors(t *testing.T) {
	t.Run("down", func(t *testing.T) {
		p := newProxy(t, Options{URL: downURL(t)})
		_, err := p.Do(context.Background(), "GET", "/", nil, nil)
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("err = %v, want ErrUnavailable", err)
		}
		if r := ErrorResponse(err); r.Status != http.StatusBadGateway {
			t.Errorf("status %d", r.Status)
		}
	})
	t.Run("slow", func(t *testing.T) {
		p := newProxy(t, Options{URL: startCore(t, slowCore()), Timeout: 200 * time.Millisecond})
		start := time.Now()
		_, err := p.Do(context.Background(), "GET", "/", nil, nil)
		if !errors.Is(err, ErrTimeout) {
			t.Fatalf("err = %v, want ErrTimeout", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("took %s", d)
		}
		if r := ErrorResponse(err); r.Status != http.StatusGatewayTimeout {
			t.Errorf("status %d", r.Status)
		}
	})
	t.Run("caller cancels", func(t *testing.T) {
		p := newProxy(t, Options{URL: startCore(t, slowCore())})
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		_, err := p.Do(ctx, "GET", "/", nil, nil)
		if !errors.Is(err, context.Canceled) || errors.Is(err, ErrTimeout) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	})
	t.Run("bad method", func(t *testing.T) {
		p := newProxy(t, Options{URL: downURL(t)})
		if _, err := p.Do(context.Background(), "GE T", "/", nil, nil); !errors.Is(err, ErrBadRequest) {
			t.Fatalf("err = %v, want ErrBadRequest", err)
		}
	})
}

func TestResponseCap(t *testing.T) {
	const limit = 1000
	core := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		b := bytes.Repeat([]byte("x"), n)
		if r.URL.Query().Get("chunked") == "1" {
			w.(http.Flusher).Flush() // no Content-Length: the cap must hold while reading
			for len(b) > 0 {
				k := min(100, len(b))
				_, _ = w.Write(b[:k])
				w.(http.Flusher).Flush()
				b = b[k:]
			}
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(n))
		_, _ = w.Write(b)
	})
	p := newProxy(t, Options{URL: startCore(t, core), MaxResponseBytes: limit})
	for _, tc := range []struct {
		name  string
		query string
		ok    bool
	}{
		{"at limit", "n=1000", true},
		{"at limit chunked", "n=1000&chunked=1", true},
		{"over by content length", "n=1001", false},
		{"over while reading", "n=5000&chunked=1", false},
	} {
		t.Run("Do "+tc.name, func(t *testing.T) {
			res, err := p.Do(context.Background(), "GET", "/?"+tc.query, nil, nil)
			if tc.ok {
				if err != nil || len(res.Body) != limit {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if !errors.Is(err, ErrResponseTooLarge) {
				t.Fatalf("err = %v, want ErrResponseTooLarge", err)
			}
		})
	}
	t.Run("ServeHTTP over by content length", func(t *testing.T) {
		res, err := http.Get(front(t, p) + "/?n=1001")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusBadGateway || !strings.Contains(string(body), "upstream_response_too_large") {
			t.Errorf("got %d %s", res.StatusCode, body)
		}
	})
	t.Run("ServeHTTP over while reading", func(t *testing.T) {
		res, err := http.Get(front(t, p) + "/?n=5000&chunked=1")
		if err != nil {
			return // the connection was aborted: fine
		}
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		if err == nil && len(body) > limit {
			t.Errorf("client read %d bytes past the cap", len(body))
		}
	})
}

func TestNewRejects(t *testing.T) {
	for _, tc := range []struct {
		name   string
		o      Options
		remote bool
	}{
		{"remote", Options{URL: "http://192.0.2.1:8081"}, true},
		{"remote name", Options{URL: "http://core.internal:8081"}, true},
		{"unspecified address", Options{URL: "http://0.0.0.0:8081"}, true},
		{"https", Options{URL: "https://127.0.0.1:8081"}, false},
		{"path", Options{URL: "http://127.0.0.1:8081/api"}, false},
		{"user info", Options{URL: "http://u:p@127.0.0.1:8081"}, false},
		{"query", Options{URL: "http://127.0.0.1:8081?a=b"}, false},
		{"relative unix", Options{URL: "unix://core.sock"}, false},
		{"empty", Options{}, false},
		{"bad port", Options{URL: "http://127.0.0.1:99999"}, false},
		{"negative timeout", Options{URL: "http://127.0.0.1:8081", Timeout: -1}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.o)
			if err == nil {
				t.Fatal("New succeeded")
			}
			if errors.Is(err, ErrRemote) != tc.remote {
				t.Errorf("err = %v, ErrRemote %v", err, tc.remote)
			}
			if strings.Contains(err.Error(), ":p@") {
				t.Errorf("error leaks user info: %v", err)
			}
		})
	}
	for _, tc := range []struct{ name, url string }{
		{"remote allowed", "http://192.0.2.1:8081"},
		{"ipv6 loopback", "http://[::1]:8081"},
		{"localhost", "http://localhost:8081"},
		{"default port", "http://127.0.0.1"},
		{"unix", "unix:///run/sealocr/core.sock"},
	} {
		t.Run("accepts "+tc.name, func(t *testing.T) {
			if _, err := New(Options{URL: tc.url, AllowRemote: tc.name == "remote allowed"}); err != nil {
				t.Errorf("New: %v", err)
			}
		})
	}
}

func TestReady(t *testing.T) {
	var mu sync.Mutex
	status := http.StatusServiceUnavailable
	core := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != "GET" || r.URL.Path != ReadyPath {
			http.NotFound(w, r)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		w.WriteHeader(status)
	})
	p := newProxy(t, Options{URL: startCore(t, core)})
	if err := p.Ready(context.Background()); !errors.Is(err, ErrNotReady) {
		t.Errorf("not ready: err = %v", err)
	}
	mu.Lock()
	status = http.StatusOK
	mu.Unlock()
	if err := p.Ready(context.Background()); err != nil {
		t.Errorf("ready: err = %v", err)
	}
	down := newProxy(t, Options{URL: downURL(t)})
	if err := down.Ready(context.Background()); !errors.Is(err, ErrUnavailable) {
		t.Errorf("down: err = %v", err)
	}
}

func TestTransportOverride(t *testing.T) {
	var calls int
	rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		calls++
		return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("ok")), Request: r}, nil
	})
	p := newProxy(t, Options{URL: "http://127.0.0.1:1", Transport: rt})
	res, err := p.Do(context.Background(), "GET", "/", nil, nil)
	if err != nil || string(res.Body) != "ok" || calls != 1 {
		t.Fatalf("Do = %v, %v, calls %d", res, err, calls)
	}
}

// rawHeader builds a header from key, value pairs without canonicalising the
// keys.
func rawHeader(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h[kv[i]] = append(h[kv[i]], kv[i+1])
	}
	return h
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// An upstream that answers before it has read the body: Do returns with the
// answer while the transport may still be sending. The caller then reuses
// the body's memory (the sidecar recycles it); none of what it writes there
// afterwards may reach the upstream.
func TestDoBodyNotReadAfterReturn(t *testing.T) {
	const size = 8 << 20
	got := make(chan []byte, 1)
	url := startCore(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", "14") // complete without the handler's end
		_, _ = io.WriteString(w, `{"early":true}`)
		_ = http.NewResponseController(w).Flush()
		time.Sleep(100 * time.Millisecond) // the caller has its answer and reuses the body
		b, _ := io.ReadAll(r.Body)
		got <- b
	}))
	p := newProxy(t, Options{URL: url, Timeout: 5 * time.Second})
	body := bytes.Repeat([]byte{'a'}, size)
	res, err := p.Do(context.Background(), http.MethodPost, "/v1/ocr", http.Header{"Content-Type": {"image/png"}}, body)
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Body) != `{"early":true}` {
		t.Fatalf("answer %q", res.Body)
	}
	for i := range body {
		body[i] = 'Z'
	}
	select {
	case b := <-got:
		if n := bytes.Count(b, []byte{'Z'}); n > 0 {
			t.Fatalf("the upstream received %d bytes written into the body after Do returned (of %d received)", n, len(b))
		}
		t.Logf("the upstream received %d of %d bytes, all from before Do returned", len(b), size)
	case <-time.After(5 * time.Second):
		t.Fatal("the upstream handler did not finish")
	}
}

// countingConn records the writes made to it.
type countingConn struct {
	net.Conn // nil: only Write is called
	writes   []int
	data     bytes.Buffer
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.writes = append(c.writes, len(p))
	return c.data.Write(p)
}

// The transport hands a request body to the connection's ReadFrom inside an
// io.LimitedReader: a body held in memory goes out in one write (not 32
// KiB copies), at most the limit's bytes, and not at all once revoked.
// Other readers are copied unchanged.
func TestUpstreamConnWritesBodyOnce(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	l := &lentBodies{b: body}
	c := &countingConn{}
	lr := &io.LimitedReader{R: l.open(), N: int64(len(body) - 10)}
	n, err := upstreamConn{c}.ReadFrom(lr)
	if err != nil || n != int64(len(body)-10) || lr.N != 0 {
		t.Fatalf("ReadFrom = %d, %v; left %d", n, err, lr.N)
	}
	if len(c.writes) != 1 || !bytes.Equal(c.data.Bytes(), body[:len(body)-10]) {
		t.Fatalf("%d writes %v; %d bytes sent", len(c.writes), c.writes[:min(len(c.writes), 5)], c.data.Len())
	}

	l.revoke()
	c = &countingConn{}
	if _, err := (upstreamConn{c}).ReadFrom(&io.LimitedReader{R: l.open(), N: 10}); !errors.Is(err, errRevoked) || c.data.Len() != 0 {
		t.Fatalf("after revoke: %v, %d bytes sent", err, c.data.Len())
	}
	if _, err := l.open().Read(make([]byte, 10)); !errors.Is(err, errRevoked) {
		t.Fatalf("Read after revoke: %v", err)
	}

	c = &countingConn{}
	other := strings.NewReader("another body")
	if n, err := (upstreamConn{c}).ReadFrom(io.LimitReader(other, 7)); err != nil || n != 7 || c.data.String() != "another" {
		t.Fatalf("other reader: %d, %v, %q", n, err, c.data.String())
	}
}
