package e2e

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"net/http"
	"testing"

	"github.com/sealocr/sealocr/sidecar/api"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/bhttp"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/ohttp"
	"github.com/sealocr/sealocr/sidecar/internal/gateway"
	"github.com/sealocr/sealocr/sidecar/internal/keys"
)

// ohttpKeys fetches and parses the gateway's key list.
func ohttpKeys(t *testing.T, s *sidecar) []ohttp.PublicKeyConfig {
	t.Helper()
	res, body := s.do(t, http.MethodGet, gateway.OHTTPPath, "", nil)
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != ohttp.KeysMediaType {
		t.Fatalf("GET %s: %d %q", gateway.OHTTPPath, res.StatusCode, res.Header.Get("Content-Type"))
	}
	cfgs, err := ohttp.ParseKeyList(body)
	if err != nil {
		t.Fatalf("parse key list: %v", err)
	}
	return cfgs
}

// innerRequest is the Binary HTTP request carried in an OHTTP request.
func innerRequest(t *testing.T, s *sidecar, path, contentType string, content []byte) []byte {
	t.Helper()
	req := &bhttp.Request{Method: http.MethodPost, Scheme: "https", Authority: s.addr, Path: path, Content: content}
	if contentType != "" {
		req.Header = []bhttp.Field{{Name: "content-type", Value: contentType}}
	}
	b, err := req.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// ohttpExchange encapsulates inner, posts it and returns the inner response.
func (s *sidecar) ohttpExchange(t *testing.T, cfg ohttp.PublicKeyConfig, suite ohttp.SymmetricSuite, inner []byte) *bhttp.Response {
	t.Helper()
	enc, cc, err := ohttp.EncapsulateRequest(cfg, suite, inner)
	if err != nil {
		t.Fatal(err)
	}
	res, body := s.do(t, http.MethodPost, gateway.OHTTPPath, ohttp.RequestMediaType, enc)
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != ohttp.ResponseMediaType {
		t.Fatalf("outer answer %d %q %q, want 200 %q", res.StatusCode, res.Header.Get("Content-Type"), truncate(body), ohttp.ResponseMediaType)
	}
	out, err := cc.DecapsulateResponse(body)
	if err != nil {
		t.Fatalf("decapsulate response: %v", err)
	}
	bres, err := bhttp.ParseResponse(out, bhttp.Limits{})
	if err != nil {
		t.Fatalf("parse inner response: %v", err)
	}
	return bres
}

func field(fs []bhttp.Field, name string) string {
	for _, f := range fs {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}

func kemName(k ohttp.KEM) string {
	switch k {
	case ohttp.KEMX25519HKDFSHA256:
		return "X25519"
	case ohttp.KEMMLKEM768X25519:
		return "MLKEM768-X25519"
	}
	return fmt.Sprintf("KEM-%04x", uint16(k))
}

func aeadName(a ohttp.AEAD) string {
	switch a {
	case ohttp.AEADAES128GCM:
		return "AES-128-GCM"
	case ohttp.AEADAES256GCM:
		return "AES-256-GCM"
	case ohttp.AEADChaCha20Poly1305:
		return "ChaCha20-Poly1305"
	}
	return fmt.Sprintf("AEAD-%04x", uint16(a))
}

func TestOHTTP(t *testing.T) {
	s := newSidecar(t, nil)
	cfgs := ohttpKeys(t, s)

	// The published list is the public half of the generated key file:
	// X25519 as key ID 1, the ML-KEM hybrid as key ID 2.
	set, err := keys.LoadFile(s.keysPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfgs) != 2 || len(set.Public) != 2 {
		t.Fatalf("key list has %d configurations, key file %d; want 2", len(cfgs), len(set.Public))
	}
	for i, c := range cfgs {
		got, _ := c.MarshalBinary()
		want, _ := set.Public[i].MarshalBinary()
		if !bytes.Equal(got, want) {
			t.Errorf("configuration %d differs from the key file", i)
		}
	}
	if cfgs[0].KeyID() != 1 || cfgs[0].KEM() != ohttp.KEMX25519HKDFSHA256 ||
		cfgs[1].KeyID() != 2 || cfgs[1].KEM() != ohttp.KEMMLKEM768X25519 {
		t.Errorf("configurations (%d, %s), (%d, %s); want (1, X25519), (2, MLKEM768-X25519)",
			cfgs[0].KeyID(), kemName(cfgs[0].KEM()), cfgs[1].KeyID(), kemName(cfgs[1].KEM()))
	}

	res, body := s.do(t, http.MethodHead, gateway.OHTTPPath, "", nil)
	if res.StatusCode != http.StatusOK || len(body) != 0 || res.Header.Get("Content-Type") != ohttp.KeysMediaType {
		t.Errorf("HEAD key list: %d %q %d bytes", res.StatusCode, res.Header.Get("Content-Type"), len(body))
	}

	t.Run("ocr", func(t *testing.T) {
		images := []testImage{imgHello, imgP11}
		n := 0
		for _, c := range cfgs {
			for _, suite := range c.Suites() {
				im := images[n%len(images)]
				n++
				t.Run(fmt.Sprintf("key%d-%s-%s", c.KeyID(), kemName(c.KEM()), aeadName(suite.AEAD)), func(t *testing.T) {
					br := s.ohttpExchange(t, c, suite, innerRequest(t, s, "/v1/ocr?mode=line", im.contentType, im.read(t)))
					if br.Status != http.StatusOK || field(br.Header, "content-type") != "application/json" {
						t.Fatalf("inner answer %d %q %q", br.Status, field(br.Header, "content-type"), truncate(br.Content))
					}
					checkOCR(t, im.path, br.Content, im.text)
				})
			}
		}
		if n != 6 {
			t.Errorf("%d key/suite combinations, want 2 KEMs × 3 AEADs", n)
		}
	})

	x25519, hybrid := cfgs[0], cfgs[1]
	suite := x25519.Suites()[0]
	small := innerRequest(t, s, "/v1/ocr", "application/octet-stream", []byte("not an image"))
	encapsulate := func(c ohttp.PublicKeyConfig) []byte {
		enc, _, err := ohttp.EncapsulateRequest(c, c.Suites()[0], small)
		if err != nil {
			t.Fatal(err)
		}
		return enc
	}
	mangled := func(c ohttp.PublicKeyConfig, f func([]byte) []byte) func() []byte {
		return func() []byte { return f(encapsulate(c)) }
	}
	setBytes := func(off int, v ...byte) func([]byte) []byte {
		return func(b []byte) []byte { copy(b[off:], v); return b }
	}

	t.Run("refused", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			body func() []byte
			want fixedAnswer
		}{
			{"unknown key ID", mangled(x25519, setBytes(0, 99)), ansOHTTPKeyUnknown},
			{"key ID of the other KEM", mangled(x25519, setBytes(0, hybrid.KeyID())), ansOHTTPKeyUnknown},
			{"unknown KEM", mangled(x25519, setBytes(1, 0x00, 0x10)), ansOHTTPKeyUnknown},
			{"AEAD not offered", mangled(x25519, setBytes(5, 0x00, 0x07)), ansOHTTPKeyUnknown},
			{"KDF not offered", mangled(hybrid, setBytes(3, 0x00, 0x03)), ansOHTTPKeyUnknown},
			// Garbage whose first bytes happen to name no key is an unknown key.
			{"garbage", func() []byte { return []byte("this is not an encapsulated request") }, ansOHTTPKeyUnknown},
			{"garbage after a valid header", mangled(x25519, func(b []byte) []byte {
				_, _ = rand.Read(b[7:])
				return b
			}), ansCannotOpen},
			{"too short", func() []byte { return []byte("junk") }, ansCannotOpen},
			{"empty", func() []byte { return nil }, ansCannotOpen},
			{"header only", mangled(x25519, func(b []byte) []byte { return b[:7] }), ansCannotOpen},
			{"truncated enc", mangled(x25519, func(b []byte) []byte { return b[:7+16] }), ansCannotOpen},
			{"truncated", mangled(x25519, func(b []byte) []byte { return b[:len(b)-1] }), ansCannotOpen},
			{"ciphertext flipped", mangled(x25519, func(b []byte) []byte { b[len(b)-5] ^= 1; return b }), ansCannotOpen},
			{"enc flipped (X25519)", mangled(x25519, func(b []byte) []byte { b[7+3] ^= 1; return b }), ansCannotOpen},
			{"enc flipped (hybrid)", mangled(hybrid, func(b []byte) []byte { b[7+3] ^= 1; return b }), ansCannotOpen},
		} {
			t.Run(tc.name, func(t *testing.T) {
				res, body := s.do(t, http.MethodPost, gateway.OHTTPPath, ohttp.RequestMediaType, tc.body())
				checkResponse(t, tc.name, res, body, tc.want)
			})
		}
		res, body := s.do(t, http.MethodDelete, gateway.OHTTPPath, "", nil)
		checkResponse(t, "DELETE", res, body, answer(api.MethodNotAllowed))
	})

	// Failures after decapsulation come back encapsulated.
	t.Run("inner refused", func(t *testing.T) {
		for _, tc := range []struct {
			name  string
			inner []byte
		}{
			{"not binary HTTP", []byte("GET / HTTP/1.1\r\n\r\n")},
			{"absolute target", innerRequest(t, s, "https://example.com/v1/ocr", "image/png", []byte("x"))},
			{"asterisk target", innerRequest(t, s, "*", "", nil)},
		} {
			t.Run(tc.name, func(t *testing.T) {
				br := s.ohttpExchange(t, x25519, suite, tc.inner)
				checkAnswer(t, tc.name, br.Status, field(br.Header, "content-type"), br.Content, ansCannotOpen)
			})
		}
	})

	s.checkHealthy(t)
}
