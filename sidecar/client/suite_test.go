package client_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/sealocr/sealocr/sidecar/client"
	"github.com/sealocr/sealocr/sidecar/client/clienttest"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/psk"
	"github.com/sealocr/sealocr/sidecar/internal/gateway"
	"github.com/sealocr/sealocr/sidecar/internal/keys"
)

// TestSuites runs PSK mode for every suite against the sidecar's gateway:
// the client follows the suite of the key it loads, and a key built with
// NewPSKKeyWithSuite is refused when the sidecar holds the same bytes under
// another suite.
func TestSuites(t *testing.T) {
	for _, suite := range psk.Suites() {
		t.Run(suite.String(), func(t *testing.T) {
			dir := t.TempDir()
			data, err := keys.GenerateSuite("suite-key", suite)
			if err != nil {
				t.Fatal(err)
			}
			keyFile := filepath.Join(dir, "keys.yaml")
			if err := os.WriteFile(keyFile, data, 0o600); err != nil {
				t.Fatal(err)
			}
			var ks keySource
			ks.cur.Store(loadSet(t, keyFile))
			gw := gateway.New(gateway.Options{Keys: &ks, Upstream: fakeUpstream{}, Replay: psk.NewMemoryReplayCache(0, nil)})
			var version atomic.Value
			srvURL, caFile := serveTLS(t, dir, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				if len(body) > 3 {
					version.Store(body[2])
				}
				r.Body = io.NopCloser(bytes.NewReader(body))
				gw.ServeHTTP(w, r)
			}))
			key := firstPSK(t, keyFile)
			if key.Suite() != suite.String() {
				t.Fatalf("loaded key suite %q", key.Suite())
			}
			c, err := client.New(client.Config{Server: srvURL, CAFile: caFile, PSKKey: key})
			if err != nil {
				t.Fatal(err)
			}
			res, err := c.OCR(context.Background(), pngImage(), client.OCROptions{})
			if err != nil {
				t.Fatal(err)
			}
			if want := clienttest.CannedResponse(len(pngImage())); res.Text != want.Text {
				t.Errorf("text %q", res.Text)
			}
			if wantV := map[bool]byte{true: 1, false: 2}[suite == psk.SuiteAES256GCM]; version.Load() != wantV {
				t.Errorf("framing version %v, want %d", version.Load(), wantV)
			}
		})
	}
	t.Run("same bytes, other suite", func(t *testing.T) {
		dir := t.TempDir()
		secret := bytes.Repeat([]byte{9}, 16)
		srvKey, err := psk.NewSuiteKey("k", psk.SuiteSM4GCMSM3, secret)
		if err != nil {
			t.Fatal(err)
		}
		kset, err := psk.NewKeySet(srvKey)
		if err != nil {
			t.Fatal(err)
		}
		var ks keySource
		ks.cur.Store(&keys.Set{PSK: kset, PSKKeys: []psk.Key{srvKey}, PSKIDs: []string{"k"}})
		gw := gateway.New(gateway.Options{Keys: &ks, Upstream: fakeUpstream{}, Replay: psk.NewMemoryReplayCache(0, nil)})
		srvURL, caFile := serveTLS(t, dir, gw)
		key, err := client.NewPSKKeyWithSuite("k", "sm4-gcm", secret)
		if err != nil {
			t.Fatal(err)
		}
		c, err := client.New(client.Config{Server: srvURL, CAFile: caFile, PSKKey: key})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.OCR(context.Background(), pngImage(), client.OCROptions{})
		var se *client.ServerError
		if !errors.As(err, &se) || se.Status != http.StatusBadRequest || se.Code != "cannot_open" {
			t.Fatalf("err = %v, want cannot_open", err)
		}
	})
	t.Run("constructor", func(t *testing.T) {
		if _, err := client.NewPSKKeyWithSuite("k", "sm4-gcm", make([]byte, 32)); !errors.Is(err, client.ErrInvalidConfig) {
			t.Errorf("32-byte sm4 key: %v", err)
		}
		if _, err := client.NewPSKKeyWithSuite("k", "sm4", make([]byte, 16)); !errors.Is(err, client.ErrInvalidConfig) {
			t.Errorf("unknown suite: %v", err)
		}
		k, err := client.NewPSKKey("k", bytes.Repeat([]byte{1}, 32))
		if err != nil || k.Suite() != "aes-256-gcm" {
			t.Errorf("NewPSKKey suite %v, %v", k, err)
		}
	})
}
