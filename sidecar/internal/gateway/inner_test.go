package gateway

import (
	"net/http"
	"testing"
	"time"

	"github.com/sealocr/sealocr/sidecar/api"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/bhttp"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/ohttp"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/psk"
)

// TestInnerAllowlist checks that PSK and OHTTP inner requests reach only the
// default allowlist (POST /v1/ocr, GET /v1/models): anything else is answered
// 403 route_not_allowed inside the sealed or encapsulated answer, and the
// upstream never sees it.
func TestInnerAllowlist(t *testing.T) {
	f := newFixture(t, false)
	res, list := f.do(t, "GET", OHTTPPath, "", nil)
	if res.StatusCode != 200 {
		t.Fatalf("keys: %d", res.StatusCode)
	}
	cfgs, err := ohttp.ParseKeyList(list)
	if err != nil {
		t.Fatal(err)
	}
	want := api.Lookup(api.RouteNotAllowed)
	cases := []struct {
		method, target string
		allowed        bool
		ohttpOnly      bool // a target an HTTP/1.1 or HTTP/2 request line cannot carry
	}{
		{"POST", "/v1/ocr?mode=line", true, false},
		{"GET", "/v1/models", true, false},
		{"GET", "/metrics", false, false},
		{"POST", "/metrics", false, false},
		{"GET", "/readyz", false, false},
		{"GET", "/healthz", false, false},
		{"GET", "/", false, false},
		{"GET", "/static/app.js", false, false},
		{"PUT", "/v1/ocr", false, false},
		{"DELETE", "/v1/models", false, false},
		{"POST", "/v1/ocr/../metrics", false, false},
		{"POST", "/v1/%6Fcr", false, false},
		{"POST", "//v1/ocr", false, false},
		{"POST", "/unknown", false, false},
		{"POST", "/v1/ocr?mode=line&x=%20%E4%B8%AD", true, false},
		{"POST", "/v1/ocr?mode=line&note=a;b:c@d/e?f!$'()*+,=~", true, false},
		// Not a valid request-target (RFC 9112 §3.2, RFC 3986): a raw
		// space would split the upstream request line, and a non-Go OCR
		// server could read the rest as its own version or next request.
		{"POST", "/v1/ocr?mode=line x", false, true},
		{"POST", "/v1/ocr?mode=line HTTP/1.1\r\nX-Injected: 1", false, true},
		{"POST", "/v1/ocr?x=\x00", false, true},
		{"POST", "/v1/ocr?x=\x7f", false, true},
		{"POST", "/v1/ocr?x=\"<>", false, true},
		{"POST", "/v1/ocr?x=%zz", false, true},
		{"POST", "/v1/ocr?x=%4", false, true},
		{"POST", "/v1/ocr?x=中", false, true},
		{"POST", "/v1/ocr?x={}|^`", false, true},
		{"POST", "/v1/ocr?x=[1]", false, true},
		{"POST", "/v1/ocr\t", false, true},
	}
	check := func(t *testing.T, status int, ct string, body []byte, allowed bool) {
		t.Helper()
		var up *http.Request
		select {
		case up = <-f.got:
			<-f.gotBody
		case <-time.After(100 * time.Millisecond):
		}
		if allowed {
			if status != 200 || up == nil {
				t.Fatalf("allowed route: status %d, forwarded %v", status, up != nil)
			}
			return
		}
		if up != nil {
			t.Fatalf("refused route reached the upstream: %s %s", up.Method, up.URL)
		}
		if status != want.Status || ct != want.ContentType || string(body) != string(want.Body) {
			t.Fatalf("got %d %q %s, want %d %s", status, ct, body, want.Status, want.Body)
		}
	}
	for _, c := range cases {
		t.Run("ohttp "+c.method+" "+c.target, func(t *testing.T) {
			breq := &bhttp.Request{Method: c.method, Scheme: "https", Authority: "x", Path: c.target,
				Header: []bhttp.Field{{Name: "content-type", Value: "image/png"}}, Content: []byte("IMAGE")}
			inner, _ := breq.MarshalBinary()
			enc, cc, err := ohttp.EncapsulateRequest(cfgs[0], cfgs[0].Suites()[0], inner)
			if err != nil {
				t.Fatal(err)
			}
			res, out := f.do(t, "POST", OHTTPPath, ohttp.RequestMediaType, enc)
			if res.StatusCode != 200 {
				t.Fatalf("outer status %d", res.StatusCode)
			}
			dec, err := cc.DecapsulateResponse(out)
			if err != nil {
				t.Fatal(err)
			}
			bres, err := bhttp.ParseResponse(dec, bhttp.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			ct := ""
			for _, fl := range bres.Header {
				if fl.Name == "content-type" {
					ct = fl.Value
				}
			}
			check(t, bres.Status, ct, bres.Content, c.allowed)
		})
		if c.method != "POST" || c.target == "//v1/ocr" || c.ohttpOnly {
			continue // PSK requests are POSTs to the outer target
		}
		t.Run("psk "+c.method+" "+c.target, func(t *testing.T) {
			body, opener, err := psk.SealRequest(nil, f.set.PSKKeys[0], c.method, c.target, "image/png", time.Now(), []byte("IMAGE"))
			if err != nil {
				t.Fatal(err)
			}
			res, out := f.do(t, c.method, c.target, psk.RequestMediaType, body)
			if res.StatusCode != 200 {
				t.Fatalf("outer status %d %s", res.StatusCode, out)
			}
			status, ct, plain, err := opener.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			check(t, status, ct, plain, c.allowed)
		})
	}
}
