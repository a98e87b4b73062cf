package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	coreapi "github.com/sealocr/sealocr/core/api"
	"github.com/sealocr/sealocr/sidecar/api"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/bhttp"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/ohttp"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/psk"
)

// cell is the answer to one request of the reachability matrix: the status
// and the public code (the JSON error code, or "" for content such as the
// web UI or the model list). For PSK and OHTTP requests it is the inner
// answer, inside the sealed or encapsulated response.
type cell struct {
	status int
	code   string
}

func (c cell) String() string { return fmt.Sprintf("%d %s", c.status, c.code) }

// sidecarAnswer is a fixed answer of the sidecar (sidecar/api).
func sidecarAnswer(id api.ID) cell { a := api.Lookup(id); return cell{a.Status, a.Code} }

// The matrix: every mode × every core route (and the legacy path) × methods.
var (
	reachModes   = []string{"plain", "psk", "ohttp", "legacy"}
	reachPaths   = []string{"/v1/ocr", "/v1/models", "/metrics", "/healthz", "/readyz", "/", "/static/app.js", "/no/such/route", "/ocr", "/v1/auth-info"}
	reachMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodOptions}
)

// reachPolicy is the one policy table of the matrix: the first row whose
// mode, methods and paths match a cell gives its expected answer ("*"
// matches anything). A request of mode "psk" or "legacy" that is not a POST
// is not an envelope at all: it meets the rows of mode "*", the rules of
// plain requests, like a plain request.
//
// What the core answers directly (the default inner_routes): POST /v1/ocr
// with a body that is no image is 400 not_an_image, GET and HEAD
// /v1/models are 200 (HEAD without a body).
var reachPolicy = []struct {
	mode, methods, paths string
	want                 cell
}{
	// PSK: the inner request is the outer POST to the path; only the
	// allowlist reaches the core, the rest is refused inside the seal.
	{"psk", "POST", "/v1/ocr", cell{400, coreapi.CodeNotAnImage}},
	{"psk", "POST", "*", sidecarAnswer(api.RouteNotAllowed)},
	// OHTTP: any inner method and path; only the allowlist reaches the core.
	{"ohttp", "POST", "/v1/ocr", cell{400, coreapi.CodeNotAnImage}},
	{"ohttp", "GET HEAD", "/v1/models", cell{200, ""}},
	{"ohttp", "*", "*", sidecarAnswer(api.RouteNotAllowed)},
	// Legacy: POST to the legacy path goes to /v1/ocr only; the junk image
	// comes back as the one legacy error.
	{"legacy", "POST", "/ocr", sidecarAnswer(api.LegacyError)},
	// Plain requests (and envelopes sent with another method).
	{"*", "GET HEAD", "/healthz", sidecarAnswer(api.Healthy)},
	{"*", "GET HEAD", "/readyz", sidecarAnswer(api.Ready)},
	{"*", "GET HEAD", "/ /static/app.js", cell{200, ""}},  // the default plain_routes: the web UI
	{"*", "GET HEAD", "/v1/auth-info", cell{200, ""}},     // answered by the sidecar itself (TestAuthInfoPublic)
	{"*", "POST", "/ocr", sidecarAnswer(api.LegacyError)}, // legacy mode is on: a POST there is a legacy request
	{"*", "*", "*", sidecarAnswer(api.EncryptionRequired)},
}

func matches(list, v string) bool { return list == "*" || slices.Contains(strings.Fields(list), v) }

func expected(mode, method, path string) cell {
	for _, r := range reachPolicy {
		if (r.mode == "*" || r.mode == mode) && matches(r.methods, method) && matches(r.paths, path) {
			return r.want
		}
	}
	panic("no policy row for " + mode + " " + method + " " + path)
}

// publicCode is the public code of an answer body: error.code, or the status
// of the sidecar's status bodies, or "" for content.
func publicCode(body []byte) string {
	for _, a := range api.Answers() {
		if len(body) > 0 && bytes.Equal(body, a.Body) {
			return a.Code
		}
	}
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error.Code != "" {
		return e.Error.Code
	}
	return ""
}

// TestReachabilityMatrix sends every cell of the matrix to a real sidecar in
// front of the real core and checks each answer against reachPolicy. It
// also checks that the core's API port does not serve /metrics, which is on
// the core's own metrics listener.
func TestReachabilityMatrix(t *testing.T) {
	s := newLegacySidecar(t, map[string]string{"SEALOCR_UNSAFE_LEGACY_ANONYMOUS": "true"})
	key := pskKey(t, s)
	cfg := ohttpKeys(t, s)[0]
	suite := cfg.Suites()[0]
	lkey := []byte(legacySecret)
	junk := []byte("this is not an image")

	// One request per cell; returns the observed cell.
	send := func(t *testing.T, mode, method, path string) cell {
		switch mode {
		case "plain":
			res, body := s.do(t, method, path, "application/octet-stream", junk)
			return cell{res.StatusCode, publicCode(body)}
		case "legacy":
			padded := append(bytes.Repeat([]byte("j"), 15), 1) // PKCS#7: one byte of padding
			res, body := s.do(t, method, path, "application/json", rawCBC(t, lkey, padded))
			return cell{res.StatusCode, publicCode(body)}
		case "psk":
			sealed, opener, err := psk.SealRequest(nil, key, method, path, "image/png", time.Now(), junk)
			if err != nil {
				t.Fatal(err)
			}
			res, body := s.do(t, method, path, psk.RequestMediaType, sealed)
			if res.Header.Get("Content-Type") != psk.ResponseMediaType {
				return cell{res.StatusCode, publicCode(body)} // not an envelope for the sidecar
			}
			status, _, content, err := opener.Open(body)
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			return cell{status, publicCode(content)}
		case "ohttp":
			req := &bhttp.Request{Method: method, Scheme: "https", Authority: s.addr, Path: path,
				Header: []bhttp.Field{{Name: "content-type", Value: "image/png"}}, Content: junk}
			inner, err := req.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			enc, cc, err := ohttp.EncapsulateRequest(cfg, suite, inner)
			if err != nil {
				t.Fatal(err)
			}
			res, body := s.do(t, http.MethodPost, "/.well-known/ohttp-gateway", ohttp.RequestMediaType, enc)
			if res.StatusCode != http.StatusOK {
				return cell{res.StatusCode, publicCode(body)}
			}
			out, err := cc.DecapsulateResponse(body)
			if err != nil {
				t.Fatalf("decapsulate: %v", err)
			}
			bres, err := bhttp.ParseResponse(out, bhttp.Limits{})
			if err != nil {
				t.Fatalf("inner response: %v", err)
			}
			return cell{bres.Status, publicCode(bres.Content)}
		}
		panic(mode)
	}

	reached := map[string][]string{} // mode → cells whose answer came from the core
	for _, mode := range reachModes {
		for _, path := range reachPaths {
			for _, method := range reachMethods {
				want := expected(mode, method, path)
				got := send(t, mode, method, path)
				if method == http.MethodHead && mode != "ohttp" {
					got.code, want.code = "", "" // no body to carry a code
				}
				if got != want {
					t.Errorf("%-6s %-7s %-15s got %-28s want %s", mode, method, path, got, want)
				}
				if !isSidecarCell(got) && (method != http.MethodHead || mode == "ohttp") {
					reached[mode] = append(reached[mode], method+" "+path+" → "+got.String())
				}
			}
		}
	}
	for _, mode := range reachModes {
		t.Logf("%s: %d cells answered by the core: %s", mode, len(reached[mode]), strings.Join(reached[mode], "; "))
	}

	// The core's API port (the sidecar's upstream) does not serve /metrics;
	// its metrics listener does.
	c := &http.Client{Timeout: 5 * time.Second}
	res, err := c.Get(coreURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("core API port GET /metrics: %d, want 404", res.StatusCode)
	}
	res, err = c.Get(coreMetrics)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !bytes.Contains(m, []byte("sealocr_core_requests_total")) {
		t.Errorf("core metrics listener: %d, %d bytes", res.StatusCode, len(m))
	}
}

// isSidecarCell reports whether c is one of the sidecar's own answers (the
// web UI and the core's answers are not).
func isSidecarCell(c cell) bool {
	if c.code == "" {
		return false
	}
	for _, a := range api.Answers() {
		if a.Status == c.status && a.Code == c.code {
			return true
		}
	}
	return false
}

// TestPlainAnswerHeadersOnce: a plain route through the sidecar to the real
// core's WebUI carries each security header and the request ID once: the
// sidecar's value, not the sidecar's and the core's side by side (before:
// Referrer-Policy, X-Content-Type-Options and X-Request-ID came twice).
func TestPlainAnswerHeadersOnce(t *testing.T) {
	s := newSidecar(t, nil)
	for _, path := range []string{"/", "/healthz"} {
		res, _ := s.do(t, http.MethodGet, path, "", nil)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", path, res.StatusCode)
		}
		for _, h := range []string{"Referrer-Policy", "X-Content-Type-Options", "X-Request-Id", "Strict-Transport-Security", "Content-Type"} {
			if n := len(res.Header.Values(h)); n != 1 {
				t.Errorf("GET %s: %s %d times: %q", path, h, n, res.Header.Values(h))
			}
		}
	}
}
