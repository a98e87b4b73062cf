package gateway

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/sealocr/sealocr/sidecar/api"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/bhttp"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/ohttp"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/psk"
)

// downStore is a replay store whose backend does not answer (a Redis that
// is down): the one fault the in-memory store cannot show.
type downStore struct{}

func (downStore) Seen(context.Context, string, []byte, time.Time) (bool, error) {
	return false, errors.New("dial tcp 127.0.0.1:6379: connection refused")
}

// TestReplayStoreDown: when the replay store cannot answer, PSK and OHTTP
// requests are refused with 503 busy and Retry-After, and nothing reaches
// the upstream: a request is never accepted unchecked.
func TestReplayStoreDown(t *testing.T) {
	f := newFixture(t, false)
	f.gw.o.Replay = downStore{}
	busy := api.Lookup(api.Busy)
	check := func(what string, res *http.Response, body []byte) {
		t.Helper()
		if res.StatusCode != busy.Status || string(body) != string(busy.Body) || res.Header.Get("Retry-After") == "" {
			t.Errorf("%s: %d %q Retry-After %q, want %d %s", what, res.StatusCode, body, res.Header.Get("Retry-After"), busy.Status, busy.Body)
		}
		select {
		case <-f.got:
			t.Errorf("%s: the upstream was called", what)
		default:
		}
	}

	sealed, _, err := psk.SealRequest(nil, f.set.PSKKeys[0], "POST", "/v1/ocr", "image/png", time.Now(), []byte("IMAGE"))
	if err != nil {
		t.Fatal(err)
	}
	res, body := f.do(t, "POST", "/v1/ocr", psk.RequestMediaType, sealed)
	check("psk", res, body)

	cfg := f.set.Public[0]
	inner, _ := (&bhttp.Request{Method: "POST", Scheme: "https", Authority: "a", Path: "/v1/ocr",
		Header: []bhttp.Field{{Name: "date", Value: time.Now().UTC().Format(http.TimeFormat)}}, Content: []byte("IMAGE")}).MarshalBinary()
	enc, _, err := ohttp.EncapsulateRequest(cfg, cfg.Suites()[0], inner)
	if err != nil {
		t.Fatal(err)
	}
	res, body = f.do(t, "POST", OHTTPPath, ohttp.RequestMediaType, enc)
	check("ohttp", res, body)
}

// TestOHTTPRequireDate: with OHTTPRequireDate, an inner request without
// Date gets the encapsulated date problem with the gateway's Date.
func TestOHTTPRequireDate(t *testing.T) {
	f := newFixture(t, false)
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	f.gw.o.OHTTPRequireDate = true
	f.gw.o.Now = func() time.Time { return now }
	cfg := f.set.Public[0]
	for _, c := range []struct {
		name string
		date string
		ok   bool
	}{{"no Date", "", false}, {"Date now", now.Format(http.TimeFormat), true}} {
		req := &bhttp.Request{Method: "POST", Scheme: "https", Authority: "a", Path: "/v1/ocr", Content: []byte("IMAGE")}
		if c.date != "" {
			req.Header = []bhttp.Field{{Name: "date", Value: c.date}}
		}
		inner, _ := req.MarshalBinary()
		enc, cc, err := ohttp.EncapsulateRequest(cfg, cfg.Suites()[0], inner)
		if err != nil {
			t.Fatal(err)
		}
		res, body := f.do(t, "POST", OHTTPPath, ohttp.RequestMediaType, enc)
		if res.StatusCode != 200 {
			t.Fatalf("%s: outer %d %s", c.name, res.StatusCode, body)
		}
		out, err := cc.DecapsulateResponse(body)
		if err != nil {
			t.Fatal(err)
		}
		bres, err := bhttp.ParseResponse(out, bhttp.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		want := api.Lookup(api.OHTTPDate)
		refused := bres.Status == want.Status && string(bres.Content) == string(want.Body)
		if refused == c.ok {
			t.Errorf("%s: inner %d %s", c.name, bres.Status, bres.Content)
		}
		if !c.ok {
			var date string
			for _, h := range bres.Header {
				if h.Name == "date" {
					date = h.Value
				}
			}
			if date != now.Format(http.TimeFormat) {
				t.Errorf("%s: the date problem carries Date %q, want the gateway's clock", c.name, date)
			}
		}
	}
}
