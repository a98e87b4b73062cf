package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sealocr/sealocr/sidecar/internal/auth"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/bhttp"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/ohttp"
	"github.com/sealocr/sealocr/sidecar/internal/gateway"
	"github.com/sealocr/sealocr/sidecar/internal/keys"
	"github.com/sealocr/sealocr/sidecar/internal/ratelimit"
	"github.com/sealocr/sealocr/sidecar/internal/replay"
	"github.com/sealocr/sealocr/sidecar/internal/route"
	"github.com/sealocr/sealocr/sidecar/internal/upstream"
)

// ohttpRig is a real sidecar handler (server chain and gateway) on
// 127.0.0.1 forwarding through the real upstream proxy to a core stand-in
// on 127.0.0.1 that counts the OCR requests reaching it.
type ohttpRig struct {
	t      *testing.T
	set    *keys.Set
	srv    *httptest.Server
	ocr    atomic.Int64 // POST /v1/ocr calls at the core
	client *http.Client
}

// apiKeys writes an API key file holding id -> key and returns the
// authenticator.
func apiKeys(t *testing.T, kv map[string]string) *auth.Authenticator {
	t.Helper()
	var b strings.Builder
	b.WriteString("keys:\n")
	for id, k := range kv {
		b.WriteString("  - id: " + id + "\n    sha256: " + auth.HashAPIKey(k) + "\n")
	}
	p := filepath.Join(t.TempDir(), "api-keys.yaml")
	if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := auth.New(context.Background(), auth.Options{APIKeysFile: p})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// newOHTTPRig starts the rig; o's Gateway is filled in, and every class in
// modes gets OHTTPAuthorizer for its OHTTP mode.
func newOHTTPRig(t *testing.T, o Options, store replay.Store) *ohttpRig {
	t.Helper()
	kb, err := keys.Generate("k1")
	if err != nil {
		t.Fatal(err)
	}
	set, err := keys.Parse(kb)
	if err != nil {
		t.Fatal(err)
	}
	rig := &ohttpRig{t: t, set: set}
	core := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/v1/ocr" {
			rig.ocr.Add(1)
		}
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"text":""}`)
	}))
	t.Cleanup(core.Close)
	up, err := upstream.New(upstream.Options{URL: core.URL})
	if err != nil {
		t.Fatal(err)
	}
	o.Gateway = gateway.New(gateway.Options{
		Keys: staticKeys{set}, Upstream: up, Replay: store,
		Authorize: OHTTPAuthorizer(o.Auth, o.AuthModes[route.OHTTP]),
	})
	rig.srv = httptest.NewServer(Handler(o))
	t.Cleanup(rig.srv.Close)
	rig.client = &http.Client{Timeout: 10 * time.Second}
	return rig
}

// seal encapsulates an inner POST /v1/ocr carrying the given fields.
func (rig *ohttpRig) seal(fields ...bhttp.Field) ([]byte, *ohttp.ClientContext) {
	rig.t.Helper()
	breq := &bhttp.Request{Method: "POST", Scheme: "https", Authority: "sidecar", Path: "/v1/ocr",
		Header: append([]bhttp.Field{{Name: "content-type", Value: "image/png"}}, fields...), Content: []byte("img")}
	b, err := breq.MarshalBinary()
	if err != nil {
		rig.t.Fatal(err)
	}
	enc, cc, err := ohttp.EncapsulateRequest(rig.set.Public[0], ohttp.DefaultSuites()[0], b)
	if err != nil {
		rig.t.Fatal(err)
	}
	return enc, cc
}

// post sends an encapsulated request (outerKey, if any, as X-Api-Key) and
// returns the outer status and, for a 200, the inner response.
func (rig *ohttpRig) post(enc []byte, cc *ohttp.ClientContext, outerKey string) (int, *bhttp.Response) {
	rig.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, rig.srv.URL+gateway.OHTTPPath, bytes.NewReader(enc))
	req.Header.Set("Content-Type", ohttp.RequestMediaType)
	if outerKey != "" {
		req.Header.Set("X-Api-Key", outerKey)
	}
	res, err := rig.client.Do(req)
	if err != nil {
		rig.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || cc == nil {
		return res.StatusCode, nil
	}
	plain, err := cc.DecapsulateResponse(body)
	if err != nil {
		rig.t.Fatal(err)
	}
	bres, err := bhttp.ParseResponse(plain, bhttp.Limits{})
	if err != nil {
		rig.t.Fatal(err)
	}
	return res.StatusCode, bres
}

// TestOHTTPInnerCredentialsChooseTheBucket plays issue 19 #4: behind a
// relay (one address, many clients) strangers post garbage OHTTP requests
// until the address's bucket is empty; a client whose inner credentials are
// valid, from the same address, must still be served (its own bucket),
// while anonymous and garbage requests from the address stay limited.
// Before the fix the outer request drew from the address's bucket before
// it was opened, and the valid inner key got 429.
func TestOHTTPInnerCredentialsChooseTheBucket(t *testing.T) {
	const keyA, keyB = "sk-inner-a-0123456789abcdef0123456789", "sk-inner-b-0123456789abcdef0123456789"
	for _, mode := range []auth.Mode{auth.Optional, auth.Required} {
		t.Run(mode.String(), func(t *testing.T) {
			now := time.Unix(1e9, 0)
			authn := apiKeys(t, map[string]string{"a": keyA, "b": keyB})
			rig := newOHTTPRig(t, Options{
				Auth: authn, AuthModes: map[route.Kind]auth.Mode{route.OHTTP: mode},
				RateStore:  ratelimit.NewMemory(100),
				RateShared: ratelimit.Policy{Name: "requests", Rate: 1.0 / 60, Burst: 3},
				Now:        func() time.Time { return now },
			}, replay.NewMemory(replay.MemoryOptions{}))

			// Garbage from the relay's address: three refusals, then 429.
			var garbage []int
			for range 10 {
				junk := make([]byte, 200)
				_, _ = rand.Read(junk)
				junk[0] = rig.set.Public[0].KeyID() // a known key: decapsulation is tried, and fails
				copy(junk[1:], []byte{0x00, 0x20, 0x00, 0x01, 0x00, 0x02})
				code, _ := rig.post(junk, nil, "")
				garbage = append(garbage, code)
			}
			if want := []int{400, 400, 400, 429, 429, 429, 429, 429, 429, 429}; !equalInts(garbage, want) {
				t.Errorf("garbage from one address: %v, want %v", garbage, want)
			}

			// Valid inner credentials from the same address: served, each
			// from its own bucket of 3 (a never-used key too).
			for _, k := range []string{keyA, keyA, keyA, keyB} {
				before := rig.ocr.Load()
				enc, cc := rig.seal(bhttp.Field{Name: "x-api-key", Value: k})
				code, inner := rig.post(enc, cc, "")
				if code != http.StatusOK || inner == nil || inner.Status != http.StatusOK || rig.ocr.Load() != before+1 {
					st := 0
					if inner != nil {
						st = inner.Status
					}
					t.Fatalf("valid inner key after the garbage: outer %d inner %d, forwarded %v", code, st, rig.ocr.Load() != before)
				}
			}
			// The key's own bucket still holds: its fourth request is limited.
			enc, cc := rig.seal(bhttp.Field{Name: "x-api-key", Value: keyA})
			if code, _ := rig.post(enc, cc, ""); code != http.StatusTooManyRequests {
				t.Errorf("fourth request of key a: %d, want 429", code)
			}
			// Anonymous and wrong-key requests from the address stay limited,
			// and reach no core.
			before := rig.ocr.Load()
			for _, f := range [][]bhttp.Field{nil, {{Name: "x-api-key", Value: "sk-wrong"}}} {
				enc, cc := rig.seal(f...)
				if code, _ := rig.post(enc, cc, ""); code != http.StatusTooManyRequests {
					t.Errorf("inner fields %v from the emptied address: %d, want 429", f, code)
				}
			}
			if rig.ocr.Load() != before {
				t.Errorf("limited requests reached the core")
			}
		})
	}
}

// TestOHTTPReplayWhoeverSendsIt plays issue 19 #6: a captured encapsulated
// request, replayed with other outer credentials or none, must be refused
// and never reach the core again. Before the fix the replay record was kept
// under "ohttp:" + the outer identity, so each new identity made it fresh.
func TestOHTTPReplayWhoeverSendsIt(t *testing.T) {
	const keyA, keyB = "sk-outer-a-0123456789abcdef0123456789", "sk-outer-b-0123456789abcdef0123456789"
	authn := apiKeys(t, map[string]string{"a": keyA, "b": keyB})
	rig := newOHTTPRig(t, Options{Auth: authn, AuthModes: map[route.Kind]auth.Mode{route.OHTTP: auth.Optional}},
		replay.NewMemory(replay.MemoryOptions{}))
	for _, first := range []string{keyA, ""} {
		enc, cc := rig.seal()
		if code, inner := rig.post(enc, cc, first); code != http.StatusOK || inner == nil || inner.Status != http.StatusOK {
			t.Fatalf("first post: %d", code)
		}
		before := rig.ocr.Load()
		for _, outer := range []string{first, keyB, "", keyA} {
			if code, _ := rig.post(enc, nil, outer); code != http.StatusBadRequest {
				t.Errorf("captured with outer key %v, replayed with %v: %d, want 400 cannot_open", first != "", outer != "", code)
			}
		}
		if n := rig.ocr.Load() - before; n != 0 {
			t.Errorf("replays reached the core %d times", n)
		}
	}
}
