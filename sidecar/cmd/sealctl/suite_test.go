package main

import (
	"context"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sealocr/sealocr/sidecar/client/clienttest"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/psk"
	"github.com/sealocr/sealocr/sidecar/internal/gateway"
	"github.com/sealocr/sealocr/sidecar/internal/keys"
	"github.com/sealocr/sealocr/sidecar/internal/upstream"
)

// cannedUpstream answers like the core, with clienttest.CannedCore.
type cannedUpstream struct{}

func (cannedUpstream) Do(ctx context.Context, method, path string, header http.Header, body []byte) (*upstream.Response, error) {
	status, ct, out := clienttest.CannedCore(ctx, clienttest.Request{Method: method, Target: path, ContentType: header.Get("Content-Type"), Body: body})
	return &upstream.Response{Status: status, Header: http.Header{"Content-Type": {ct}}, Body: out}, nil
}

func (cannedUpstream) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.WriteHeader(http.StatusNotFound)
}

// fixedKeys is a gateway.KeySource with one key set.
type fixedKeys struct{ set *keys.Set }

func (f fixedKeys) Current() *keys.Set { return f.set }

// TestKeygenSuiteAndOCR writes a key file per suite with `keygen --suite`,
// serves it with the sidecar's real gateway, and runs an unchanged
// `sealctl ocr --keys FILE` against it; the request on the wire must carry
// the key's suite.
func TestKeygenSuiteAndOCR(t *testing.T) {
	img := writeFile(t, filepath.Join(t.TempDir(), "scan.png"), pngBytes(10))
	for _, suite := range psk.Suites() {
		t.Run(suite.String(), func(t *testing.T) {
			dir := t.TempDir()
			keyFile := filepath.Join(dir, "keys.yaml")
			stdout, _, err := runCmd(t, nil, "keygen", "--out", keyFile, "--id", "k-"+suite.String(), "--suite", suite.String())
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(stdout, "psk suite: "+suite.String()) {
				t.Errorf("stdout = %q", stdout)
			}
			set, err := keys.LoadFile(keyFile)
			if err != nil {
				t.Fatal(err)
			}
			if got := set.PSKKeys[0].Suite(); got != suite {
				t.Fatalf("key file suite %v", got)
			}
			gw := gateway.New(gateway.Options{Keys: fixedKeys{set}, Upstream: cannedUpstream{}, Replay: psk.NewMemoryReplayCache(0, nil)})
			var prefix atomic.Value
			srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Content-Type") == psk.RequestMediaType {
					body, err := io.ReadAll(r.Body)
					if err != nil {
						t.Error(err)
						return
					}
					prefix.Store(string(body[:4]))
					r.Body = io.NopCloser(strings.NewReader(string(body)))
				}
				gw.ServeHTTP(w, r)
			}))
			defer srv.Close()
			ca := filepath.Join(dir, "ca.pem")
			if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
				t.Fatal(err)
			}
			out, errOut, err := runCmd(t, nil, "ocr", "--server", srv.URL, "--ca", ca, "--keys", keyFile, img)
			if err != nil {
				t.Fatalf("ocr: %v\n%s", err, errOut)
			}
			if out != "hello\nworld\n" {
				t.Errorf("ocr output %q", out)
			}
			want := "SP\x01"
			if suite != psk.SuiteAES256GCM {
				want = "SP\x02" + string([]byte{byte(suite)})
			}
			if got, _ := prefix.Load().(string); !strings.HasPrefix(got, want) {
				t.Errorf("request framing %q, want prefix %q", got, want)
			}
		})
	}
	t.Run("unknown suite", func(t *testing.T) {
		_, _, err := runCmd(t, nil, "keygen", "--out", filepath.Join(t.TempDir(), "k.yaml"), "--suite", "sm4-cbc")
		if err == nil || !strings.Contains(err.Error(), "unknown suite") {
			t.Fatalf("err = %v", err)
		}
	})
}
