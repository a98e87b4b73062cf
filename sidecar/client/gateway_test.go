package client_test

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sealocr/sealocr/core/api"
	"github.com/sealocr/sealocr/sidecar/client"
	"github.com/sealocr/sealocr/sidecar/client/clienttest"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/ohttp"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/psk"
	"github.com/sealocr/sealocr/sidecar/internal/gateway"
	"github.com/sealocr/sealocr/sidecar/internal/keys"
	"github.com/sealocr/sealocr/sidecar/internal/upstream"
)

// fakeUpstream answers like the core, with clienttest.CannedCore.
type fakeUpstream struct{}

func (fakeUpstream) Do(ctx context.Context, method, path string, header http.Header, body []byte) (*upstream.Response, error) {
	status, ct, out := clienttest.CannedCore(ctx, clienttest.Request{
		Method: method, Target: path, ContentType: header.Get("Content-Type"), Body: body,
	})
	return &upstream.Response{Status: status, Header: http.Header{"Content-Type": {ct}}, Body: out}, nil
}

func (fakeUpstream) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.WriteHeader(http.StatusNotFound)
}

// keySource is a swappable gateway.KeySource.
type keySource struct{ cur atomic.Pointer[keys.Set] }

func (k *keySource) Current() *keys.Set { return k.cur.Load() }

// TestRealGateway runs the client against the sidecar's gateway handler.
func TestRealGateway(t *testing.T) {
	dir := t.TempDir()
	keyFile := writeKeyFile(t, dir, "keys.yaml", "gw-key")
	set := loadSet(t, keyFile)
	var ks keySource
	ks.cur.Store(set)
	gw := gateway.New(gateway.Options{Keys: &ks, Upstream: fakeUpstream{}, Replay: psk.NewMemoryReplayCache(0, nil)})
	srvURL, caFile := serveTLS(t, dir, gw)
	key := firstPSK(t, keyFile)
	newC := func(mode client.Mode) *client.Client {
		c, err := client.New(client.Config{Server: srvURL, CAFile: caFile, Mode: mode, PSKKey: key})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ctx := context.Background()
	for _, mode := range []client.Mode{client.ModePSK, client.ModeOHTTP} {
		t.Run(string(mode), func(t *testing.T) {
			c := newC(mode)
			res, err := c.OCR(ctx, pngImage(), client.OCROptions{Mode: client.LineMode})
			if err != nil {
				t.Fatal(err)
			}
			if want := clienttest.CannedResponse(len(pngImage())); res.Text != want.Text || res.Width != want.Width {
				t.Errorf("response = %+v", res)
			}
			_, err = c.OCR(ctx, []byte("not an image"), client.OCROptions{})
			var se *client.ServerError
			if !errors.As(err, &se) || se.Code != api.CodeNotAnImage || !se.Sealed {
				t.Errorf("err = %v, want sealed not_an_image", err)
			}
		})
	}
	t.Run("ohttp key rotation refetches on key-unknown", func(t *testing.T) {
		c := newC(client.ModeOHTTP)
		if _, err := c.OCR(ctx, pngImage(), client.OCROptions{}); err != nil {
			t.Fatal(err)
		}
		kc, err := ohttp.GenerateKeyConfig(9, ohttp.KEMX25519HKDFSHA256, ohttp.DefaultSuites()...)
		if err != nil {
			t.Fatal(err)
		}
		g, err := ohttp.NewGateway(kc)
		if err != nil {
			t.Fatal(err)
		}
		rotated := *set
		rotated.OHTTP, rotated.Public = g, []ohttp.PublicKeyConfig{kc.PublicConfig()}
		ks.cur.Store(&rotated)
		defer ks.cur.Store(set)
		if _, err := c.OCR(ctx, pngImage(), client.OCROptions{}); err != nil {
			t.Fatalf("after rotation: %v", err)
		}
		infos, err := c.OHTTPKeys(ctx)
		if err != nil || len(infos) != 1 || infos[0].ID != 9 {
			t.Fatalf("keys = %+v, %v", infos, err)
		}
	})
	t.Run("psk unknown key is refused in the clear", func(t *testing.T) {
		other, err := client.NewPSKKey("gw-key", []byte("0123456789abcdef0123456789abcdef"))
		if err != nil {
			t.Fatal(err)
		}
		c, err := client.New(client.Config{Server: srvURL, CAFile: caFile, PSKKey: other})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.OCR(ctx, pngImage(), client.OCROptions{})
		var se *client.ServerError
		if !errors.As(err, &se) || se.Status != 400 || se.Code != "cannot_open" || se.Sealed {
			t.Errorf("err = %v", err)
		}
	})
}

// TestCredentials checks where the bearer credential travels: inside the
// encrypted request for OHTTP (checked by the gateway's Authorize hook after
// decapsulation), in the outer Authorization header for PSK.
func TestCredentials(t *testing.T) {
	dir := t.TempDir()
	keyFile := writeKeyFile(t, dir, "keys.yaml", "cred-key")
	var ks keySource
	ks.cur.Store(loadSet(t, keyFile))
	const token = "tok-7f3a-secret"
	gw := gateway.New(gateway.Options{Keys: &ks, Upstream: fakeUpstream{}, Replay: psk.NewMemoryReplayCache(0, nil),
		Authorize: func(_ context.Context, h http.Header) (string, error) {
			if h.Get("Authorization") != "Bearer "+token {
				return "", errors.New("bad credential")
			}
			return "client-1", nil
		}})
	var outer atomic.Value
	srvURL, caFile := serveTLS(t, dir, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != client.GatewayPath {
			outer.Store(r.Header.Get("Authorization"))
		} else if r.Method == http.MethodPost && r.Header.Get("Authorization") != "" {
			t.Error("OHTTP credential sent outside the encrypted request")
		}
		gw.ServeHTTP(w, r)
	}))
	key := firstPSK(t, keyFile)
	img := []byte("\x89PNG\r\n\x1a\n....")
	for _, tc := range []struct {
		name    string
		mode    client.Mode
		cred    string
		wantErr bool
	}{
		{"ohttp with credential", client.ModeOHTTP, token, false},
		{"ohttp without credential", client.ModeOHTTP, "", true},
		{"ohttp wrong credential", client.ModeOHTTP, "nope", true},
		{"psk with credential", client.ModePSK, token, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := client.New(client.Config{Server: srvURL, CAFile: caFile, Mode: tc.mode, PSKKey: key, Credential: tc.cred})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.OCR(context.Background(), img, client.OCROptions{})
			var se *client.ServerError
			if tc.wantErr {
				if !errors.As(err, &se) || se.Status != http.StatusUnauthorized || !se.Sealed {
					t.Fatalf("got %v, want a sealed 401", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.mode == client.ModePSK && outer.Load() != "Bearer "+token {
				t.Fatalf("PSK outer Authorization = %v", outer.Load())
			}
			if strings.Contains(fmt.Sprintf("%v %+v", c, c), token) {
				t.Fatal("client prints its credential")
			}
		})
	}
}

// writeKeyFile writes a newly generated key file named name into dir.
func writeKeyFile(t *testing.T, dir, name, pskID string) string {
	t.Helper()
	data, err := keys.Generate(pskID)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// loadSet loads a key file as the sidecar does.
func loadSet(t *testing.T, path string) *keys.Set {
	t.Helper()
	set, err := keys.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// firstPSK loads a key file as a client does and returns its first key.
func firstPSK(t *testing.T, path string) *client.PSKKey {
	t.Helper()
	loaded, err := client.LoadKeys(path)
	if err != nil {
		t.Fatal(err)
	}
	key, err := loaded.PSK("")
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// serveTLS serves h over TLS on 127.0.0.1 and writes the server's
// certificate into dir as the CA file a client trusts.
func serveTLS(t *testing.T, dir string, h http.Handler) (url, caFile string) {
	t.Helper()
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	caFile = filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	return srv.URL, caFile
}
