package gateway

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sealocr/sealocr/sidecar/api"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/bhttp"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/legacycbc"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/ohttp"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/psk"
	"github.com/sealocr/sealocr/sidecar/internal/keys"
	"github.com/sealocr/sealocr/sidecar/internal/upstream"
)

// fixture is a gateway in front of a recording stand-in upstream. The
// upstream is a real HTTP server on 127.0.0.1.
type fixture struct {
	gw       *Gateway
	set      *keys.Set
	upstream *httptest.Server
	up       *upstream.Proxy // the gateway's Forwarder to upstream
	got      chan *http.Request
	gotBody  chan []byte
}

type staticKeys struct{ s *keys.Set }

func (k staticKeys) Current() *keys.Set { return k.s }

func newFixture(t testing.TB, legacy bool) *fixture {
	t.Helper()
	data, err := keys.Generate("client-a")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "keys.yaml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	set, err := keys.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if legacy {
		if err := set.WithLegacyEnv(strings.Repeat("k", 32)); err != nil {
			t.Fatal(err)
		}
	}
	f := &fixture{set: set, got: make(chan *http.Request, 4), gotBody: make(chan []byte, 4)}
	f.upstream = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		select { // the legacy tests send many and read none
		case f.got <- r:
			f.gotBody <- b
		default:
		}
		// Like the core, refuse what is not an "image" (here: printable
		// ASCII), such as the legacy mode's undecodable stand-in.
		if bytes.Equal(b, []byte("not an image")) || bytes.ContainsFunc(b, func(r rune) bool { return r < 0x20 || r > 0x7e }) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(400)
			_, _ = io.WriteString(w, `{"error":{"code":"not_an_image","message":"the body is not a decodable image"}}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"text":"ok:`+r.URL.RequestURI()+`"}`)
	}))
	t.Cleanup(f.upstream.Close)
	up, err := upstream.New(upstream.Options{URL: f.upstream.URL, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	f.up = up
	f.gw = New(Options{
		Keys: staticKeys{set}, Upstream: up,
		Replay:        psk.NewMemoryReplayCache(1000, nil),
		LegacyEnabled: legacy,
		Plain:         func(m, p string) bool { return m == http.MethodGet && p == "/" },
	})
	return f
}

func (f *fixture) do(t *testing.T, method, target, ct string, body []byte) (*http.Response, []byte) {
	t.Helper()
	req := httptest.NewRequest(method, target, bytes.NewReader(body))
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	rec := httptest.NewRecorder()
	f.gw.ServeHTTP(rec, req)
	res := rec.Result()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

func TestPSKRoundTripAndRefusals(t *testing.T) {
	f := newFixture(t, false)
	key := f.set.PSKKeys[0]
	body, opener, err := psk.SealRequest(nil, key, "POST", "/v1/ocr?mode=line", "image/png", time.Now(), []byte("IMAGE"))
	if err != nil {
		t.Fatal(err)
	}
	res, out := f.do(t, "POST", "/v1/ocr?mode=line", psk.RequestMediaType, body)
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != psk.ResponseMediaType {
		t.Fatalf("status %d %s", res.StatusCode, out)
	}
	status, ct, plain, err := opener.Open(out)
	if err != nil || status != 200 || ct != "application/json" || string(plain) != `{"text":"ok:/v1/ocr?mode=line"}` {
		t.Fatalf("opened %d %q %q %v", status, ct, plain, err)
	}
	up := <-f.got
	if b := <-f.gotBody; string(b) != "IMAGE" || up.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("upstream got %q %q", b, up.Header.Get("Content-Type"))
	}

	tampered := append([]byte(nil), body...)
	tampered[len(tampered)-1] ^= 1
	other, _, _ := psk.SealRequest(nil, key, "POST", "/v1/other", "image/png", time.Now(), []byte("IMAGE"))
	old, _, _ := psk.SealRequest(nil, key, "POST", "/v1/ocr", "image/png", time.Now().Add(-time.Hour), []byte("IMAGE"))
	for name, b := range map[string][]byte{
		"replayed":     body,
		"tampered":     tampered,
		"truncated":    body[:len(body)/2],
		"other target": other,
		"expired":      old,
		"empty":        nil,
	} {
		t.Run(name, func(t *testing.T) {
			res, out := f.do(t, "POST", "/v1/ocr?mode=line", psk.RequestMediaType, b)
			if res.StatusCode != 400 || string(out) != msgCannotOpen {
				t.Fatalf("got %d %s", res.StatusCode, out)
			}
		})
	}
}

func TestUnencryptedRefusedAndPlainAllowlist(t *testing.T) {
	f := newFixture(t, false)
	res, out := f.do(t, "POST", "/v1/ocr", "image/png", []byte("IMAGE"))
	if res.StatusCode != 415 || string(out) != msgEncryptionRequired {
		t.Fatalf("unencrypted: %d %s", res.StatusCode, out)
	}
	select {
	case <-f.got:
		t.Fatal("unencrypted request reached the upstream")
	default:
	}
	res, out = f.do(t, "GET", "/", "", nil)
	if res.StatusCode != 200 || !strings.Contains(string(out), "ok:/") {
		t.Fatalf("plain route: %d %s", res.StatusCode, out)
	}
	// The legacy route is off unless enabled.
	res, _ = f.do(t, "POST", "/ocr", "application/json", []byte(`{}`))
	if res.StatusCode != 415 {
		t.Fatalf("legacy while disabled: %d", res.StatusCode)
	}
}

func TestOHTTP(t *testing.T) {
	f := newFixture(t, false)
	res, list := f.do(t, "GET", OHTTPPath, "", nil)
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != ohttp.KeysMediaType {
		t.Fatalf("keys: %d", res.StatusCode)
	}
	cfgs, err := ohttp.ParseKeyList(list)
	if err != nil || len(cfgs) != 2 {
		t.Fatalf("key list: %v %d", err, len(cfgs))
	}
	for _, cfg := range cfgs {
		for _, suite := range cfg.Suites() {
			breq := &bhttp.Request{Method: "POST", Scheme: "https", Authority: "evil.example", Path: "/v1/ocr?mode=line",
				Header: []bhttp.Field{{Name: "content-type", Value: "image/png"}}, Content: []byte("IMAGE")}
			inner, _ := breq.MarshalBinary()
			enc, cc, err := ohttp.EncapsulateRequest(cfg, suite, inner)
			if err != nil {
				t.Fatal(err)
			}
			res, out := f.do(t, "POST", OHTTPPath, ohttp.RequestMediaType, enc)
			if res.StatusCode != 200 || res.Header.Get("Content-Type") != ohttp.ResponseMediaType {
				t.Fatalf("status %d %s", res.StatusCode, out)
			}
			dec, err := cc.DecapsulateResponse(out)
			if err != nil {
				t.Fatal(err)
			}
			bres, err := bhttp.ParseResponse(dec, bhttp.Limits{})
			if err != nil || bres.Status != 200 || string(bres.Content) != `{"text":"ok:/v1/ocr?mode=line"}` {
				t.Fatalf("inner response %+v %v", bres, err)
			}
			if up := <-f.got; up.Host == "evil.example" {
				t.Fatal("the inner authority chose the upstream host")
			}
			<-f.gotBody
		}
	}
	// Unknown key ID: RFC 9458 problem answer.
	enc, _, _ := ohttp.EncapsulateRequest(cfgs[0], cfgs[0].Suites()[0], []byte{0})
	enc[0] ^= 0x80
	res, out := f.do(t, "POST", OHTTPPath, ohttp.RequestMediaType, enc)
	if res.StatusCode != 400 || string(out) != ProblemKeyUnknown {
		t.Fatalf("unknown key: %d %s", res.StatusCode, out)
	}
	// Garbage: seven bytes are a whole request header, naming key ID 'g'
	// (unknown), so the answer is the key-unknown problem; fewer bytes are
	// malformed, so the answer is cannot_open.
	res, out = f.do(t, "POST", OHTTPPath, ohttp.RequestMediaType, []byte("garbage"))
	if res.StatusCode != 400 || string(out) != ProblemKeyUnknown || res.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("garbage: %d %s", res.StatusCode, out)
	}
	res, out = f.do(t, "POST", OHTTPPath, ohttp.RequestMediaType, []byte("junk"))
	if res.StatusCode != 400 || string(out) != msgCannotOpen || res.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("short garbage: %d %s", res.StatusCode, out)
	}
}

func TestLegacyUniformFailures(t *testing.T) {
	f := newFixture(t, true)
	key, _ := legacycbc.NewKey([]byte(strings.Repeat("k", 32)))
	good, err := legacycbc.SealRequest(nil, key, []byte("IMAGE"))
	if err != nil {
		t.Fatal(err)
	}
	res, out := f.do(t, "POST", "/ocr", "application/json", good)
	if res.StatusCode != 200 {
		t.Fatalf("status %d %s", res.StatusCode, out)
	}
	var env struct{ Status, Result string }
	if err := json.Unmarshal(out, &env); err != nil || env.Status != "success" {
		t.Fatalf("%s", out)
	}
	plain, err := legacycbc.OpenResponse(key, out)
	if err != nil || string(plain) != `{"text":"ok:/v1/ocr"}` {
		t.Fatalf("opened %q %v", plain, err)
	}
	wrongKey, _ := legacycbc.NewKey([]byte(strings.Repeat("w", 32)))
	wrong, _ := legacycbc.SealRequest(nil, wrongKey, []byte("IMAGE"))
	notImage, _ := legacycbc.SealRequest(nil, key, []byte("not an image"))
	var badPad map[string]string
	_ = json.Unmarshal(good, &badPad)
	bp := []byte(badPad["data"])
	bp[len(bp)-3] ^= 1
	badPad["data"] = string(bp)
	badPadJSON, _ := json.Marshal(badPad)
	for name, b := range map[string][]byte{
		"wrong key":    wrong,
		"bad base64":   []byte(`{"data":"***","algorithm":"AES-256-CBC"}`),
		"bad json":     []byte(`{`),
		"bad padding":  badPadJSON,
		"not an image": notImage,
	} {
		t.Run(name, func(t *testing.T) {
			res, out := f.do(t, "POST", "/ocr", "application/json", b)
			if res.StatusCode != 400 || string(out) != msgLegacyError {
				t.Fatalf("got %d %s", res.StatusCode, out)
			}
		})
	}
}

// The fixed bodies the tests expect, from the one table in sidecar/api.
var (
	msgCannotOpen         = string(api.Lookup(api.CannotOpen).Body)
	msgEncryptionRequired = string(api.Lookup(api.EncryptionRequired).Body)
	msgLegacyError        = string(api.Lookup(api.LegacyError).Body)
	ProblemKeyUnknown     = string(api.Lookup(api.OHTTPKeyUnknown).Body)
)

// TestLegacySameWorkAtTheCore: every legacy request reaches the upstream,
// whatever failed; a bad-padding request forwards as many bytes as its
// ciphertext (the padding decides nothing), and with the upstream down a
// valid request gets the one legacy answer, not 502.
func TestLegacySameWorkAtTheCore(t *testing.T) {
	f := newFixture(t, true)
	key, _ := legacycbc.NewKey([]byte(strings.Repeat("k", 32)))
	good, _ := legacycbc.SealRequest(nil, key, []byte("IMAGE")) // 16 bytes of ciphertext
	var m map[string]string
	_ = json.Unmarshal(good, &m)
	raw, _ := base64.StdEncoding.DecodeString(m["data"])
	raw[15] ^= 0x0f // IV: the pad byte 0x0b becomes 0x04, the bytes before it stay 0x0b
	m["data"] = base64.StdEncoding.EncodeToString(raw)
	badPad, _ := json.Marshal(m)
	for _, tc := range []struct {
		name string
		body []byte
		want int // bytes forwarded
	}{
		{"valid", good, 5},
		{"bad padding", badPad, 16},
		{"not json", []byte("{"), 16},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for len(f.got) > 0 {
				<-f.got
				<-f.gotBody
			}
			f.do(t, "POST", "/ocr", "application/json", tc.body)
			select {
			case <-f.got:
				if b := <-f.gotBody; len(b) != tc.want {
					t.Fatalf("forwarded %d bytes, want %d", len(b), tc.want)
				}
			default:
				t.Fatal("nothing reached the upstream")
			}
		})
	}
	f.upstream.Close()
	for name, body := range map[string][]byte{"valid": good, "bad padding": badPad} {
		res, out := f.do(t, "POST", "/ocr", "application/json", body)
		if res.StatusCode != 400 || string(out) != msgLegacyError {
			t.Errorf("%s with the upstream down: %d %s", name, res.StatusCode, out)
		}
	}
}

// TestSealedAnswerSentBeforeCleanup: over HTTP/1.1 a sealed answer carries
// its length (not chunked, even when longer than the server's 2 KiB
// buffer) and reaches the client before the handler returns, so that the
// request's cleanup (the body buffer zeroed, the budget, the access log)
// does not delay it.
func TestSealedAnswerSentBeforeCleanup(t *testing.T) {
	f := newFixture(t, false)
	received := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.gw.ServeHTTP(w, r)
		select { // the cleanup waits for the client's copy of the answer
		case <-received:
		case <-time.After(5 * time.Second):
		}
	}))
	t.Cleanup(srv.Close)
	target := "/v1/ocr?pad=" + strings.Repeat("a", 4000) // a 4 KiB answer
	body, opener, err := psk.SealRequest(nil, f.set.PSKKeys[0], "POST", target, "image/png", time.Now(), []byte("IMAGE"))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res, err := srv.Client().Post(srv.URL+target, psk.RequestMediaType, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(res.Body)
	res.Body.Close()
	close(received)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("status %d: %v", res.StatusCode, err)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Fatalf("the answer waited for the handler to return (%s)", d)
	}
	if res.ContentLength != int64(len(out)) || len(res.TransferEncoding) != 0 {
		t.Fatalf("length %d, transfer encoding %v, %d bytes", res.ContentLength, res.TransferEncoding, len(out))
	}
	if status, _, plain, err := opener.Open(out); err != nil || status != 200 || !strings.HasPrefix(string(plain), `{"text":"ok:/v1/ocr?pad=aaa`) {
		t.Fatalf("opened %d %.40q %v", status, plain, err)
	}
}
