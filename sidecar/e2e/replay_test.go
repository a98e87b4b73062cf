package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/sealocr/sealocr/sidecar/api"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/bhttp"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/ohttp"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/psk"
	"github.com/sealocr/sealocr/sidecar/internal/gateway"
	"github.com/sealocr/sealocr/sidecar/internal/keys"
)

// The attacks of issue 10 part 4 against a real sidecar and core: a
// captured request posted again, timestamps from the future, one tenant
// flooding the replay store, and an OHTTP request posted twice.

// junk is an inner request content the core refuses at once (not an
// image): enough to tell "forwarded" (a sealed answer) from "refused by the
// sidecar" (a fixed outer answer) without running OCR.
var junk = []byte("not an image")

// TestReplayPSK runs, for every suite: a captured request replayed, and
// timestamps 29 s and 31 s ahead of the sidecar's clock.
func TestReplayPSK(t *testing.T) {
	for _, suite := range psk.Suites() {
		t.Run(suite.String(), func(t *testing.T) {
			s := newSuiteSidecar(t, suite, nil)
			key := suiteKey(t, s, suite)
			t.Run("captured request replayed", func(t *testing.T) {
				r := sealPSK(t, key, "/v1/ocr", "application/octet-stream", junk, time.Now())
				res, body := s.sendPSK(t, r)
				openPSK(t, "first", r, res, body)
				res, body = s.sendPSK(t, r)
				checkResponse(t, "replayed", res, body, ansCannotOpen)
			})
			for _, c := range []struct {
				ahead time.Duration
				ok    bool
			}{{29 * time.Second, true}, {31 * time.Second, false}, {4 * time.Minute, false}} {
				t.Run(fmt.Sprintf("timestamp %s ahead", c.ahead), func(t *testing.T) {
					r := sealPSK(t, key, "/v1/ocr", "application/octet-stream", junk, time.Now().Add(c.ahead))
					res, body := s.sendPSK(t, r)
					if c.ok {
						openPSK(t, "accepted", r, res, body)
					} else {
						checkResponse(t, "refused", res, body, ansCannotOpen)
					}
				})
			}
		})
	}
}

// TestReplayFairShare: three tenants, one per suite, share a replay store
// shrunk to 80 records (20 per tenant and 20 for OHTTP; a 1 min window and
// 1 request/s expected make the start-time size check pass). The first
// tenant floods it with 60 fresh requests: it is refused (503 busy) once
// at its share, and the other two tenants' fresh requests are still served.
// Before the per-key shares, the flood filled the store and every other
// tenant got 400.
func TestReplayFairShare(t *testing.T) {
	dir, err := os.MkdirTemp("", "sealocr-e2e-state-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	var merged keys.File
	for _, suite := range psk.Suites() {
		data, err := keys.GenerateSuite("tenant-"+suite.String(), suite)
		if err != nil {
			t.Fatal(err)
		}
		var f keys.File
		if err := yaml.Unmarshal(data, &f); err != nil {
			t.Fatal(err)
		}
		merged.PSK = append(merged.PSK, f.PSK...)
		merged.OHTTP = f.OHTTP
	}
	data, err := yaml.Marshal(&merged)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "keys.yaml"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	s := newSidecar(t, map[string]string{
		"SEALOCR_STATE_DIR":            dir,
		"SEALOCR_REPLAY_CACHE_SIZE":    "80",
		"SEALOCR_REPLAY_EXPECTED_RATE": "1",
		"SEALOCR_REPLAY_WINDOW":        "1m",
		"SEALOCR_REPLAY_MAX_FUTURE":    "5s",
	})
	set, err := keys.LoadFile(s.keysPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(set.PSKKeys) != 3 {
		t.Fatalf("%d keys, want 3", len(set.PSKKeys))
	}
	flooder, victims := set.PSKKeys[0], set.PSKKeys[1:]

	accepted, busy := 0, 0
	for i := range 60 {
		r := sealPSK(t, flooder, "/v1/ocr", "application/octet-stream", junk, time.Now())
		res, body := s.sendPSK(t, r)
		switch res.StatusCode {
		case http.StatusOK:
			openPSK(t, fmt.Sprint("flood ", i), r, res, body)
			accepted++
		default:
			checkResponse(t, fmt.Sprint("flood ", i), res, body, answer(api.Busy))
			if res.Header.Get("Retry-After") == "" {
				t.Errorf("flood %d: 503 without Retry-After", i)
			}
			busy++
		}
	}
	if accepted != 20 || busy != 40 {
		t.Errorf("the flooding tenant had %d requests accepted and %d refused as busy; want its share of 20, then 40 refusals", accepted, busy)
	}
	for _, v := range victims {
		for i := range 10 {
			r := sealPSK(t, v, "/v1/ocr", "application/octet-stream", junk, time.Now())
			res, body := s.sendPSK(t, r)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("tenant %s, fresh request %d during the flood: %d %s", v.ID(), i, res.StatusCode, truncate(body))
			}
			openPSK(t, "victim", r, res, body)
		}
	}
}

// coreRequests is the core's count of OCR requests, whatever their result
// (the sum of sealocr_core_requests_total).
func coreRequests(t *testing.T) float64 {
	t.Helper()
	return metric(t, coreMetrics, "sealocr_core_requests_total")
}

// postOHTTP posts an encapsulated request as is.
func (s *sidecar) postOHTTP(t *testing.T, enc []byte) (*http.Response, []byte) {
	t.Helper()
	return s.do(t, http.MethodPost, gateway.OHTTPPath, ohttp.RequestMediaType, enc)
}

// datedInner is an inner OCR request with the given Date field values.
func datedInner(t *testing.T, s *sidecar, content []byte, dates ...string) []byte {
	t.Helper()
	req := &bhttp.Request{Method: http.MethodPost, Scheme: "https", Authority: s.addr, Path: "/v1/ocr",
		Header: []bhttp.Field{{Name: "content-type", Value: "image/png"}}, Content: content}
	for _, d := range dates {
		req.Header = append(req.Header, bhttp.Field{Name: "date", Value: d})
	}
	b, err := req.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestReplayOHTTP: a byte-identical encapsulated request posted twice runs
// OCR once (the core's counter) and the second gets the documented
// refusal; the inner Date's acceptance window (RFC 9458 section 6.5) with
// the date problem carrying the sidecar's clock.
func TestReplayOHTTP(t *testing.T) {
	s := newSidecar(t, nil)
	cfg := ohttpKeys(t, s)[0]
	suite := cfg.Suites()[0]
	img := imgHello.read(t)
	httpDate := func(d time.Duration) string { return time.Now().Add(d).UTC().Format(http.TimeFormat) }

	for _, c := range []struct {
		name  string
		dates []string
	}{{"with Date", []string{httpDate(0)}}, {"without Date", nil}} {
		t.Run("posted twice "+c.name, func(t *testing.T) {
			enc, cc, err := ohttp.EncapsulateRequest(cfg, suite, datedInner(t, s, img, c.dates...))
			if err != nil {
				t.Fatal(err)
			}
			before := coreRequests(t)
			res, body := s.postOHTTP(t, enc)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("first post: %d %s", res.StatusCode, truncate(body))
			}
			out, err := cc.DecapsulateResponse(body)
			if err != nil {
				t.Fatal(err)
			}
			inner, err := bhttp.ParseResponse(out, bhttp.Limits{})
			if err != nil || inner.Status != http.StatusOK {
				t.Fatalf("first post: inner %v %v", inner, err)
			}
			res, body = s.postOHTTP(t, enc)
			checkResponse(t, "second post", res, body, ansCannotOpen)
			if n := coreRequests(t) - before; n != 1 {
				t.Errorf("the core ran OCR %v times for one request posted twice, want 1", n)
			}
		})
	}

	for _, c := range []struct {
		name  string
		dates []string
		ok    bool
	}{
		{"Date 29 s ahead", []string{httpDate(29 * time.Second)}, true},
		{"Date 31 s ahead", []string{httpDate(31 * time.Second)}, false},
		{"Date 6 min behind", []string{httpDate(-6 * time.Minute)}, false},
		{"two Dates", []string{httpDate(0), httpDate(0)}, false},
		{"Date not a date", []string{"tomorrow"}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := coreRequests(t)
			inner := s.ohttpExchange(t, cfg, suite, datedInner(t, s, junk, c.dates...))
			ran := coreRequests(t) - before
			if c.ok {
				if inner.Status == http.StatusBadRequest && field(inner.Header, "content-type") == api.ContentTypeProblem || ran != 1 {
					t.Fatalf("refused: inner %d %s, core ran %v", inner.Status, inner.Content, ran)
				}
				return
			}
			want := api.Lookup(api.OHTTPDate)
			if inner.Status != want.Status || field(inner.Header, "content-type") != want.ContentType || string(inner.Content) != string(want.Body) {
				t.Fatalf("inner answer %d %q %s, want %d %q %s", inner.Status, field(inner.Header, "content-type"), inner.Content,
					want.Status, want.ContentType, want.Body)
			}
			var p api.Problem
			if err := json.Unmarshal(inner.Content, &p); err != nil || p.Type != api.ProblemTypeDate {
				t.Errorf("problem %s", inner.Content)
			}
			d, err := http.ParseTime(field(inner.Header, "date"))
			if err != nil || time.Since(d).Abs() > 5*time.Second {
				t.Errorf("the date problem must carry the sidecar's Date: %q", field(inner.Header, "date"))
			}
			if ran != 0 {
				t.Errorf("the core ran %v times for a refused request", ran)
			}
		})
	}
}
