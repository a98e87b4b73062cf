package route

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sealocr/sealocr/sidecar/internal/envelope/ohttp"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/psk"
)

func TestClassify(t *testing.T) {
	rs := Rules{LegacyEnabled: true, Plain: func(method, path string) bool {
		return method == http.MethodGet && (path == "/" || path == "/healthz")
	}}
	for _, tc := range []struct {
		method, path, ct string
		want             Kind
	}{
		{"GET", "/healthz", "", Health},
		{"HEAD", "/readyz", "", Health},
		{"POST", "/healthz", "", Refused},
		{"POST", OHTTPPath, ohttp.RequestMediaType, OHTTP},
		{"POST", OHTTPPath, "text/plain", OHTTP}, // the gateway refuses the media type
		{"GET", OHTTPPath, "", OHTTPKeys},
		{"DELETE", OHTTPPath, "", OHTTPKeys},
		{"POST", "/v1/ocr", psk.RequestMediaType + "; x=y", PSK},
		{"POST", "/v1/ocr", "Application/SEALOCR-PSK", PSK},
		{"GET", "/v1/ocr", psk.RequestMediaType, Refused},
		{"POST", "/ocr", "application/json", Legacy},
		{"POST", "/ocr", psk.RequestMediaType, PSK},
		{"POST", "/v1/ocr", "image/png", Refused},
		{"GET", "/", "", Plain},
		{"GET", "/static/app.js", "", Refused},
	} {
		r := httptest.NewRequest(tc.method, tc.path, nil)
		r.Header.Set("Content-Type", tc.ct)
		if got := rs.Classify(r); got != tc.want {
			t.Errorf("%s %s %q: %s, want %s", tc.method, tc.path, tc.ct, got, tc.want)
		}
	}
	if got := (Rules{}).Classify(httptest.NewRequest("POST", "/ocr", nil)); got != Refused {
		t.Errorf("legacy off: %s", got)
	}
	if got := (Rules{LegacyEnabled: true, LegacyPath: "/old"}).Classify(httptest.NewRequest("POST", "/old", nil)); got != Legacy {
		t.Errorf("legacy path: %s", got)
	}
}

// TestMiddlewareOnce checks that the decision is stored once and read back
// by Of, whatever the rules of the reader say.
func TestMiddlewareOnce(t *testing.T) {
	calls := 0
	rs := Rules{Plain: func(string, string) bool { calls++; return true }}
	var got Kind
	h := rs.Middleware(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		got = Rules{}.Of(r) // other rules would say Refused
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/x", nil))
	if got != Plain || calls != 1 {
		t.Errorf("kind %s after %d classifications, want plain after 1", got, calls)
	}
	if k := (Rules{}).Of(httptest.NewRequest("GET", "/x", nil)); k != Refused {
		t.Errorf("without the middleware: %s", k)
	}
}

func TestValidTarget(t *testing.T) {
	for target, want := range map[string]bool{
		"/v1/ocr":                     true,
		"/v1/ocr?mode=line&cls=false": true,
		"/v1/ocr?a=%20%2F&b=?c":       true,
		"/":                           true,
		"":                            false,
		"v1/ocr":                      false,
		"*":                           false,
		"http://core/v1/ocr":          false,
		"/v1/ocr?mode=line x":         false,
		"/v1/ocr?x=%2":                false,
		"/v1/ocr?x=%g0":               false,
		"/v1/ocr#frag":                false,
		"/v1/ocr\\..\\metrics":        false,
		"/v1/ocr?x=\"":                false,
		"/v1/ocr?x=é":                 false,
		"/v1/ocr\r\nHost: evil":       false,
	} {
		if got := ValidTarget(target); got != want {
			t.Errorf("ValidTarget(%q) = %v, want %v", target, got, want)
		}
	}
}
