package client_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sealocr/sealocr/sidecar/client"
	"github.com/sealocr/sealocr/sidecar/client/clienttest"
)

// pngImage() is enough of a PNG for content sniffing.
func pngImage() []byte { return []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR fake image bytes") }

func newClient(t *testing.T, srv *clienttest.Server, mutate func(*client.Config)) *client.Client {
	t.Helper()
	ks, err := client.LoadKeys(srv.KeysFile)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ks.PSK(clienttest.PSKKeyID)
	if err != nil {
		t.Fatal(err)
	}
	cfg := client.Config{Server: srv.URL, CAFile: srv.CAFile, PSKKey: key, Timeout: 10 * time.Second}
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := client.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

func TestRoundTrip(t *testing.T) {
	srv := clienttest.NewServer(t, nil)
	tests := []struct {
		name       string
		cfg        func(*client.Config)
		opts       client.OCROptions
		wantTarget string
		wantCT     string
	}{
		{"psk default", nil, client.OCROptions{}, "/v1/ocr", "image/png"},
		{"psk line", nil, client.OCROptions{Mode: client.LineMode}, "/v1/ocr?mode=line", "image/png"},
		{"psk explicit type", nil, client.OCROptions{Mode: client.DocumentMode, ContentType: "image/tiff"}, "/v1/ocr?mode=document", "image/tiff"},
		{"ohttp default", func(c *client.Config) { c.Mode = client.ModeOHTTP; c.PSKKey = nil }, client.OCROptions{Mode: "line"}, "/v1/ocr?mode=line", "image/png"},
		{"ohttp mlkem aes256", func(c *client.Config) {
			c.Mode, c.OHTTPKEM, c.OHTTPAEAD = client.ModeOHTTP, client.KEMMLKEM768X25519, client.AEADAES256GCM
		}, client.OCROptions{}, "/v1/ocr", "image/png"},
		{"ohttp chacha", func(c *client.Config) { c.Mode, c.OHTTPAEAD = client.ModeOHTTP, client.AEADChaCha20Poly1305 }, client.OCROptions{}, "/v1/ocr", "image/png"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, srv, tt.cfg)
			res, err := c.OCR(context.Background(), pngImage(), tt.opts)
			if err != nil {
				t.Fatalf("OCR: %v", err)
			}
			if res.Text != "hello\nworld" || len(res.Lines) != 2 || res.Width != len(pngImage()) {
				t.Errorf("response = %+v", res)
			}
			req, _ := srv.LastRequest()
			if req.Target != tt.wantTarget || req.ContentType != tt.wantCT || req.Method != "POST" || string(req.Body) != string(pngImage()) {
				t.Errorf("core saw %s %s %q (%d bytes)", req.Method, req.Target, req.ContentType, len(req.Body))
			}
			if want := string(c.Mode()); req.Envelope != want {
				t.Errorf("envelope = %s, want %s", req.Envelope, want)
			}
		})
	}
}

func TestOCRJSONIsVerbatim(t *testing.T) {
	const body = `{"text":"x",  "lines":[],"width":1,"height":2,"elapsed_ms":3,"extra":true}`
	srv := clienttest.NewServer(t, func(context.Context, clienttest.Request) (int, string, []byte) {
		return 200, "application/json", []byte(body)
	})
	for _, mode := range []client.Mode{client.ModePSK, client.ModeOHTTP} {
		t.Run(string(mode), func(t *testing.T) {
			c := newClient(t, srv, func(c *client.Config) { c.Mode = mode })
			got, err := c.OCRJSON(context.Background(), pngImage(), client.OCROptions{})
			if err != nil || string(got) != body {
				t.Fatalf("OCRJSON = %q, %v", got, err)
			}
		})
	}
}

func TestServerErrors(t *testing.T) {
	otherKey, err := client.NewPSKKey(clienttest.PSKKeyID, []byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		cfg   func(*client.Config)
		image []byte
		fail  func(*clienttest.Server)
		want  client.ServerError
	}{
		{"psk sealed core error", nil, []byte("not an image"), nil,
			client.ServerError{Status: 400, Code: "not_an_image", Message: "the body is not a decodable image", Sealed: true}},
		{"ohttp sealed core error", func(c *client.Config) { c.Mode = client.ModeOHTTP }, []byte("not an image"), nil,
			client.ServerError{Status: 400, Code: "not_an_image", Message: "the body is not a decodable image", Sealed: true}},
		{"psk wrong key", func(c *client.Config) { c.PSKKey = otherKey }, pngImage(), nil,
			client.ServerError{Status: 400, Code: "cannot_open", Message: "request could not be opened"}},
		{"psk plain busy", func(c *client.Config) { c.MaxRetries = -1 }, pngImage(), func(s *clienttest.Server) { s.Fail(503, "busy", "the server is busy, retry later", 7) },
			client.ServerError{Status: 503, Code: "busy", Message: "the server is busy, retry later", RetryAfter: 7 * time.Second}},
		{"ohttp plain rate limited", func(c *client.Config) { c.Mode = client.ModeOHTTP; c.MaxRetries = -1 }, pngImage(),
			func(s *clienttest.Server) { s.Fail(429, "rate_limited", "too many requests", 0) },
			client.ServerError{Status: 429, Code: "rate_limited", Message: "too many requests"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := clienttest.NewServer(t, nil)
			if tt.fail != nil {
				tt.fail(srv)
			}
			c := newClient(t, srv, tt.cfg)
			_, err := c.OCR(context.Background(), tt.image, client.OCROptions{})
			var se *client.ServerError
			if !errors.As(err, &se) {
				t.Fatalf("err = %v, want *ServerError", err)
			}
			if *se != tt.want {
				t.Errorf("ServerError = %+v, want %+v", *se, tt.want)
			}
			if strings.Contains(err.Error(), "not an image") {
				t.Errorf("error message %q contains image bytes", err)
			}
		})
	}
}

func TestTamperedResponse(t *testing.T) {
	for _, mode := range []client.Mode{client.ModePSK, client.ModeOHTTP} {
		t.Run(string(mode), func(t *testing.T) {
			srv := clienttest.NewServer(t, nil)
			srv.SetTamper(true)
			c := newClient(t, srv, func(c *client.Config) { c.Mode = mode })
			_, err := c.OCR(context.Background(), pngImage(), client.OCROptions{})
			if !errors.Is(err, client.ErrOpenResponse) {
				t.Fatalf("err = %v, want ErrOpenResponse", err)
			}
		})
	}
}

func TestKeyUnknownRefetch(t *testing.T) {
	srv := clienttest.NewServer(t, nil)
	c := newClient(t, srv, func(c *client.Config) { c.Mode = client.ModeOHTTP })
	ctx := context.Background()
	if _, err := c.OCR(ctx, pngImage(), client.OCROptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.OCR(ctx, pngImage(), client.OCROptions{}); err != nil {
		t.Fatal(err)
	}
	if n := srv.KeyListFetches(); n != 1 {
		t.Fatalf("key list fetched %d times before rotation, want 1 (cached)", n)
	}
	if _, err := srv.RotateOHTTPKeys(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.OCR(ctx, pngImage(), client.OCROptions{}); err != nil {
		t.Fatalf("after rotation: %v", err)
	}
	if n := srv.KeyListFetches(); n != 2 {
		t.Errorf("key list fetched %d times, want 2", n)
	}
}

func TestKeyUnknownRefetchesOnce(t *testing.T) {
	srv := clienttest.NewServer(t, nil)
	c := newClient(t, srv, func(c *client.Config) { c.Mode = client.ModeOHTTP; c.RelayURL = srv.URL + "/relay" })
	// The "relay" path is not the gateway, so every POST is refused in the
	// clear; the client must not loop.
	_, err := c.OCR(context.Background(), pngImage(), client.OCROptions{})
	var se *client.ServerError
	if !errors.As(err, &se) || se.Code != "encryption_required" {
		t.Fatalf("err = %v", err)
	}
	if n := srv.KeyListFetches(); n != 1 {
		t.Errorf("key list fetched %d times, want 1", n)
	}
}

func TestOHTTPKeysAndPinning(t *testing.T) {
	srv := clienttest.NewServer(t, nil)
	ctx := context.Background()
	infos, err := newClient(t, srv, nil).OHTTPKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 2 || infos[0].ID != 1 || infos[0].KEM != client.KEMX25519 || infos[1].ID != 2 || infos[1].KEM != client.KEMMLKEM768X25519 {
		t.Fatalf("keys = %+v", infos)
	}
	if got := strings.Join(infos[0].Suites, ","); got != "HKDF-SHA256/AES-256-GCM,HKDF-SHA256/ChaCha20-Poly1305,HKDF-SHA256/AES-128-GCM" {
		t.Errorf("suites = %s", got)
	}
	tests := []struct {
		name    string
		pin     string
		wantErr error
	}{
		{"x25519 pin", infos[0].Fingerprint, nil},
		{"mlkem pin upper with prefix", "SHA256:" + strings.ToUpper(infos[1].Fingerprint), nil},
		{"wrong pin", strings.Repeat("ab", 32), client.ErrKeyPinMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, srv, func(c *client.Config) { c.Mode, c.PinnedKeyFingerprint = client.ModeOHTTP, tt.pin })
			_, err := c.OCR(ctx, pngImage(), client.OCROptions{})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}
	t.Run("pin survives rotation only if it matches", func(t *testing.T) {
		c := newClient(t, srv, func(c *client.Config) { c.Mode, c.PinnedKeyFingerprint = client.ModeOHTTP, infos[0].Fingerprint })
		if _, err := c.OCR(ctx, pngImage(), client.OCROptions{}); err != nil {
			t.Fatal(err)
		}
		enc, err := srv.RotateOHTTPKeys()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.OCR(ctx, pngImage(), client.OCROptions{}); !errors.Is(err, client.ErrKeyPinMismatch) {
			t.Fatalf("err = %v, want ErrKeyPinMismatch", err)
		}
		infos, err := c.OHTTPKeys(ctx)
		sum := sha256.Sum256(enc)
		if err != nil || len(infos) != 1 || infos[0].ID != 7 || infos[0].Fingerprint != hex.EncodeToString(sum[:]) {
			t.Fatalf("keys after rotation = %+v, %v", infos, err)
		}
	})
}

func TestContextAndTimeout(t *testing.T) {
	block := func(ctx context.Context, _ clienttest.Request) (int, string, []byte) {
		<-ctx.Done()
		return 503, "application/json", []byte(`{"error":{"code":"timeout","message":"x"}}`)
	}
	tests := []struct {
		name    string
		mode    client.Mode
		timeout time.Duration
		cancel  bool
		want    error
	}{
		{"psk cancel", client.ModePSK, 0, true, context.Canceled},
		{"ohttp cancel", client.ModeOHTTP, 0, true, context.Canceled},
		{"psk timeout", client.ModePSK, 200 * time.Millisecond, false, context.DeadlineExceeded},
		{"ohttp timeout", client.ModeOHTTP, 200 * time.Millisecond, false, context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := clienttest.NewServer(t, block)
			c := newClient(t, srv, func(c *client.Config) {
				c.Mode = tt.mode
				if tt.timeout != 0 {
					c.Timeout = tt.timeout
				}
			})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.cancel {
				time.AfterFunc(200*time.Millisecond, cancel)
			}
			start := time.Now()
			_, err := c.OCR(ctx, pngImage(), client.OCROptions{})
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

func TestWrongCA(t *testing.T) {
	srv := clienttest.NewServer(t, nil)
	caFile := writeOtherCA(t)
	c := newClient(t, srv, func(c *client.Config) { c.CAFile = caFile })
	_, err := c.OCR(context.Background(), pngImage(), client.OCROptions{})
	var uae x509.UnknownAuthorityError
	if !errors.As(err, &uae) {
		t.Fatalf("err = %v, want x509.UnknownAuthorityError", err)
	}
}

// writeOtherCA writes a self-signed CA certificate unrelated to the server.
func writeOtherCA(t *testing.T) string {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "other test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "other-ca.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestResponseTooLarge(t *testing.T) {
	srv := clienttest.NewServer(t, nil)
	c := newClient(t, srv, func(c *client.Config) { c.MaxResponseBytes = 64 })
	if _, err := c.OCR(context.Background(), pngImage(), client.OCROptions{}); !errors.Is(err, client.ErrResponseTooLarge) {
		t.Fatalf("err = %v, want ErrResponseTooLarge", err)
	}
}

func TestNotJSON(t *testing.T) {
	srv := clienttest.NewServer(t, func(context.Context, clienttest.Request) (int, string, []byte) {
		return 200, "text/plain", []byte("hello")
	})
	c := newClient(t, srv, nil)
	if _, err := c.OCR(context.Background(), pngImage(), client.OCROptions{}); !errors.Is(err, client.ErrUnexpectedResponse) {
		t.Fatalf("err = %v, want ErrUnexpectedResponse", err)
	}
}

func TestBadOCRMode(t *testing.T) {
	srv := clienttest.NewServer(t, nil)
	c := newClient(t, srv, nil)
	if _, err := c.OCR(context.Background(), pngImage(), client.OCROptions{Mode: "line&x=1"}); !errors.Is(err, client.ErrInvalidConfig) {
		t.Fatalf("err = %v, want ErrInvalidConfig", err)
	}
	if _, n := srv.LastRequest(); n != 0 {
		t.Errorf("%d requests reached the core", n)
	}
}

func TestNewInvalid(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("nothing here"), 0o644); err != nil {
		t.Fatal(err)
	}
	key, err := client.NewPSKKey("k", []byte(strings.Repeat("x", 32)))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  client.Config
		want string // part of the message
	}{
		{"plain http", client.Config{Server: "http://127.0.0.1:8443", PSKKey: key}, "https"},
		{"psk without key", client.Config{}, "pre-shared key"},
		{"unknown mode", client.Config{Mode: "cbc", PSKKey: key}, "unknown mode"},
		{"bad pin", client.Config{Mode: client.ModeOHTTP, PinnedKeyFingerprint: "abc"}, "fingerprint"},
		{"bad KEM", client.Config{Mode: client.ModeOHTTP, OHTTPKEM: "P-256"}, "KEM"},
		{"bad AEAD", client.Config{Mode: client.ModeOHTTP, OHTTPAEAD: "AES-CBC"}, "AEAD"},
		{"missing CA", client.Config{PSKKey: key, CAFile: filepath.Join(dir, "missing.pem")}, "CA file"},
		{"CA not PEM", client.Config{PSKKey: key, CAFile: notPEM}, "no PEM"},
		{"CA and client", client.Config{PSKKey: key, CAFile: notPEM, HTTPClient: &http.Client{}}, "exclusive"},
		{"server with query", client.Config{Server: "https://h/?a=b", PSKKey: key}, "query"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := client.New(tt.cfg)
			if !errors.Is(err, client.ErrInvalidConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrInvalidConfig mentioning %q", err, tt.want)
			}
		})
	}
	t.Run("reports every problem", func(t *testing.T) {
		_, err := client.New(client.Config{Server: "ftp://x", Mode: client.ModePSK, PinnedKeyFingerprint: "zz"})
		for _, want := range []string{"https", "pre-shared key", "fingerprint"} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("err = %v, missing %q", err, want)
			}
		}
	})
}

func TestKeys(t *testing.T) {
	srv := clienttest.NewServer(t, nil)
	ks, err := client.LoadKeys(srv.KeysFile)
	if err != nil {
		t.Fatal(err)
	}
	if ids := ks.PSKIDs(); len(ids) != 1 || ids[0] != clienttest.PSKKeyID {
		t.Errorf("PSKIDs = %v", ids)
	}
	k, err := ks.PSK("")
	if err != nil || k.ID() != clienttest.PSKKeyID {
		t.Fatalf("PSK(\"\") = %v, %v", k, err)
	}
	if _, err := ks.PSK("nope"); !errors.Is(err, client.ErrNoUsableKey) {
		t.Errorf("PSK(nope) err = %v", err)
	}
	secret := []byte(strings.Repeat("\x07", 32))
	k2, err := client.NewPSKKey("id-1", secret)
	if err != nil {
		t.Fatal(err)
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%q"} {
		if got := fmt.Sprintf(verb, k2); got != "client.PSKKey(id-1)" {
			t.Errorf("Sprintf(%s) = %q", verb, got)
		}
	}
	if got := fmt.Sprintf("%v", ks); strings.Contains(got, "secret") || got != "client.Keys(1 psk)" {
		t.Errorf("Keys formats as %q", got)
	}
	if _, err := client.NewPSKKey("id", make([]byte, 32)); !errors.Is(err, client.ErrInvalidConfig) {
		t.Errorf("all-zero key: err = %v", err)
	}
	if _, err := client.LoadKeys(filepath.Join(t.TempDir(), "none.yaml")); err == nil {
		t.Error("LoadKeys of a missing file succeeded")
	}
}

// TestPSKBuffersLentSafely: the client seals PSK requests into pooled
// buffers; many concurrent calls of different sizes, over HTTP/1.1 and
// HTTP/2, each reach the core as exactly their own image (a buffer given
// back while the transport still read it would mix them, and -race would
// see it).
func TestPSKBuffersLentSafely(t *testing.T) {
	var mu sync.Mutex
	seen := map[int][]byte{}
	srv := clienttest.NewServer(t, func(ctx context.Context, r clienttest.Request) (int, string, []byte) {
		mu.Lock()
		seen[len(r.Body)] = r.Body
		mu.Unlock()
		return clienttest.CannedCore(ctx, r)
	})
	c := newClient(t, srv, nil)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 12 {
				n := 1000 + (g*12+i)*3001 // every size differs
				img := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{byte(g*12 + i)}, n)...)
				res, err := c.OCR(context.Background(), img, client.OCROptions{})
				if err != nil {
					t.Error(err)
					return
				}
				if res.Width != len(img) {
					t.Errorf("answer for %d bytes says %d", len(img), res.Width)
				}
				mu.Lock()
				got := seen[len(img)]
				mu.Unlock()
				if !bytes.Equal(got, img) {
					t.Errorf("the core got other bytes for the %d-byte image", len(img))
				}
			}
		}()
	}
	wg.Wait()
}
