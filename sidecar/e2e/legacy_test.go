package e2e

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/sealocr/sealocr/sidecar/internal/auth"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/legacycbc"
	"github.com/sealocr/sealocr/sidecar/internal/keys"
)

// legacySecret is the AES_SECRET_KEY of the legacy tests: 32 UTF-8 bytes.
const legacySecret = "e2e-legacy-key-0123456789abcdefg"

func legacyKey(t *testing.T, secret string) legacycbc.Key {
	t.Helper()
	k, err := legacycbc.NewKey([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newLegacySidecar(t *testing.T, env map[string]string) *sidecar {
	t.Helper()
	if env == nil {
		env = map[string]string{}
	}
	env["SEALOCR_LEGACY_CBC"] = "true"
	env["AES_SECRET_KEY"] = legacySecret
	if _, ok := env["SEALOCR_AUTH_API_KEYS_FILE"]; !ok {
		// The legacy mode requires credentials by default; these tests
		// exercise the envelope, TestLegacyCredentials the default.
		env["SEALOCR_UNSAFE_LEGACY_ANONYMOUS"] = "true"
	}
	return newSidecar(t, env)
}

// rawCBC encrypts data (already padded or not) with AES-256-CBC under a
// fresh IV and wraps it in the legacy JSON, as a broken client might.
func rawCBC(t *testing.T, key []byte, data []byte) []byte {
	t.Helper()
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	iv := make([]byte, aes.BlockSize)
	_, _ = rand.Read(iv)
	ct := make([]byte, len(data))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(ct, data)
	return legacyJSON(append(iv, ct...))
}

func legacyJSON(raw []byte) []byte {
	b, _ := json.Marshal(map[string]string{"data": base64.StdEncoding.EncodeToString(raw), "algorithm": legacycbc.Algorithm})
	return b
}

func TestLegacy(t *testing.T) {
	s := newLegacySidecar(t, nil)
	key := legacyKey(t, legacySecret)

	t.Run("ocr", func(t *testing.T) {
		// The legacy path forwards to /v1/ocr without a mode: document mode.
		for _, text := range docTexts {
			im := renderedImage(t, text)
			body, err := legacycbc.SealRequest(nil, key, im.read(t))
			if err != nil {
				t.Fatal(err)
			}
			res, got := s.do(t, http.MethodPost, "/ocr", legacycbc.MediaType, body)
			if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("%s: %d %q %q", im.path, res.StatusCode, res.Header.Get("Content-Type"), truncate(got))
			}
			var env struct {
				Status string `json:"status"`
				Result string `json:"result"`
			}
			if err := json.Unmarshal(got, &env); err != nil || env.Status != "success" || env.Result == "" {
				t.Fatalf("%s: answer %q is not {\"status\":\"success\",\"result\":...}", im.path, truncate(got))
			}
			plain, err := legacycbc.OpenResponse(key, got)
			if err != nil {
				t.Fatalf("%s: open response: %v", im.path, err)
			}
			checkOCR(t, im.path, plain, im.text)
		}
	})

	// Every failure answers the same status and body.
	t.Run("refused", func(t *testing.T) {
		rawKey := []byte(legacySecret)
		img := imgHello.read(t)
		wrong := legacyKey(t, "another-legacy-key-0123456789abc")
		sealedWrong, _ := legacycbc.SealRequest(nil, wrong, img)
		notImage, _ := legacycbc.SealRequest(nil, key, []byte("this is not an image at all"))
		emptyPlain, _ := legacycbc.SealRequest(nil, key, nil)
		good, _ := legacycbc.SealRequest(nil, key, img)
		var goodEnv map[string]string
		_ = json.Unmarshal(good, &goodEnv)
		badPad := make([]byte, 64)
		copy(badPad, "not padded correctly")
		badPad[63] = 0x11           // a pad length above 16
		zeroPad := make([]byte, 32) // last byte 0: not PKCS#7
		inconsistentPad := make([]byte, 32)
		inconsistentPad[31], inconsistentPad[30], inconsistentPad[29] = 3, 3, 4
		for _, tc := range []struct {
			name string
			body []byte
		}{
			{"wrong key", sealedWrong},
			{"bad padding (length 17)", rawCBC(t, rawKey, badPad)},
			{"bad padding (zero)", rawCBC(t, rawKey, zeroPad)},
			{"bad padding (inconsistent)", rawCBC(t, rawKey, inconsistentPad)},
			{"bad base64", []byte(`{"data":"not*base64!","algorithm":"AES-256-CBC"}`)},
			{"url-safe base64", []byte(`{"data":"` + base64.URLEncoding.EncodeToString(make([]byte, 32)) + `-_","algorithm":"AES-256-CBC"}`)},
			{"wrong algorithm", []byte(`{"data":"` + goodEnv["data"] + `","algorithm":"AES-128-CBC"}`)},
			{"no algorithm", []byte(`{"data":"` + goodEnv["data"] + `"}`)},
			{"length not a multiple of 16", legacyJSON(make([]byte, 16+15))},
			{"IV only", legacyJSON(make([]byte, 16))},
			{"not JSON", []byte("this is not JSON")},
			{"empty body", nil},
			{"not an image", notImage},
			{"empty image", emptyPlain},
		} {
			t.Run(tc.name, func(t *testing.T) {
				res, body := s.do(t, http.MethodPost, "/ocr", legacycbc.MediaType, tc.body)
				checkResponse(t, tc.name, res, body, ansLegacyError)
			})
		}
	})

	// The encrypted modes stay available next to the legacy one.
	checkOCR(t, "psk on a legacy sidecar", s.pskOCR(t, pskKey(t, s), "/v1/ocr?mode=line", imgP11.contentType, imgP11.read(t)), imgP11.text)
	s.checkHealthy(t)
}

// TestLegacyCredentials: by default the legacy mode requires credentials
// (no unsafe_legacy_anonymous): without them a legacy request gets 401
// before anything is decrypted; with an API key it is served.
func TestLegacyCredentials(t *testing.T) {
	const apiKey = "e2e-legacy-api-key-5f0c1d2e3a4b5c6d7e8f"
	keysFile := filepath.Join(t.TempDir(), "api-keys.yaml")
	if err := os.WriteFile(keysFile, []byte("keys:\n  - id: legacy-client\n    sha256: "+auth.HashAPIKey(apiKey)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := newLegacySidecar(t, map[string]string{"SEALOCR_AUTH_API_KEYS_FILE": keysFile})
	key := legacyKey(t, legacySecret)
	im := renderedImage(t, docTexts[0])
	body, err := legacycbc.SealRequest(nil, key, im.read(t))
	if err != nil {
		t.Fatal(err)
	}
	res, got := s.do(t, http.MethodPost, "/ocr", legacycbc.MediaType, body)
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("anonymous legacy request: %d %q, want 401", res.StatusCode, truncate(got))
	}
	req, _ := http.NewRequest(http.MethodPost, s.url+"/ocr", bytes.NewReader(body))
	req.Header.Set("Content-Type", legacycbc.MediaType)
	req.Header.Set("X-API-Key", apiKey)
	res, err = s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("legacy request with an API key: %d %q", res.StatusCode, truncate(got))
	}
	plain, err := legacycbc.OpenResponse(key, got)
	if err != nil {
		t.Fatal(err)
	}
	checkOCR(t, "legacy with credentials", plain, im.text)
}

// TestLegacyMACAndSM4: the encrypt-then-MAC field and SM4-CBC keys from the
// key file, against the real core: a key with legacy_mac: required refuses
// a request without a MAC or with a wrong one, with the one legacy answer,
// and answers a MAC'd request with a response MAC bound to it.
func TestLegacyMACAndSM4(t *testing.T) {
	dir := t.TempDir()
	base, err := keys.Generate("e2e")
	if err != nil {
		t.Fatal(err)
	}
	aesSecret := []byte("e2e-legacy-mac-key-0123456789abc")
	sm4Secret := []byte("e2e-sm4-key-0123")
	file := string(base) + "legacy:\n" +
		"  - id: mac-required\n    secret: " + base64.StdEncoding.EncodeToString(aesSecret) + "\n    legacy_mac: required\n" +
		"  - id: sm4\n    algorithm: SM4-CBC\n    secret: " + base64.StdEncoding.EncodeToString(sm4Secret) + "\n"
	keysPath := filepath.Join(dir, "keys.yaml")
	if err := os.WriteFile(keysPath, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	s := newLegacySidecar(t, map[string]string{"SEALOCR_KEYS_FILE": keysPath})
	macKey, err := legacycbc.NewKey(aesSecret)
	if err != nil {
		t.Fatal(err)
	}
	sm4Key, err := legacycbc.NewAlgorithmKey(legacycbc.AlgorithmSM4, sm4Secret)
	if err != nil {
		t.Fatal(err)
	}
	im := renderedImage(t, docTexts[1])
	img := im.read(t)

	t.Run("mac", func(t *testing.T) {
		req, err := legacycbc.SealRequestMAC(nil, macKey, img)
		if err != nil {
			t.Fatal(err)
		}
		res, got := s.do(t, http.MethodPost, "/ocr", legacycbc.MediaType, req)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("%d %q", res.StatusCode, truncate(got))
		}
		plain, err := legacycbc.OpenResponseTo(macKey, req, got)
		if err != nil {
			t.Fatalf("response MAC: %v", err)
		}
		checkOCR(t, "legacy with MAC", plain, im.text)
		// The response MAC is bound to the request: another request's MAC
		// does not verify it.
		other, _ := legacycbc.SealRequestMAC(nil, macKey, img)
		if _, err := legacycbc.OpenResponseTo(macKey, other, got); err == nil {
			t.Error("a response verified against another request")
		}
	})
	t.Run("refused", func(t *testing.T) {
		noMAC, _ := legacycbc.SealRequest(nil, macKey, img)
		var m map[string]string
		good, _ := legacycbc.SealRequestMAC(nil, macKey, img)
		_ = json.Unmarshal(good, &m)
		mac, _ := base64.StdEncoding.DecodeString(m["mac"])
		mac[0] ^= 1
		m["mac"] = base64.StdEncoding.EncodeToString(mac)
		wrongMAC, _ := json.Marshal(m)
		for name, body := range map[string][]byte{"no mac on a mac-required key": noMAC, "wrong mac": wrongMAC} {
			res, got := s.do(t, http.MethodPost, "/ocr", legacycbc.MediaType, body)
			checkResponse(t, name, res, got, ansLegacyError)
		}
	})
	t.Run("sm4-cbc", func(t *testing.T) {
		for _, seal := range []func(io.Reader, legacycbc.Key, []byte) ([]byte, error){legacycbc.SealRequest, legacycbc.SealRequestMAC} {
			req, err := seal(nil, sm4Key, img)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(req, []byte(`"algorithm":"SM4-CBC"`)) {
				t.Fatalf("request %q", truncate(req))
			}
			res, got := s.do(t, http.MethodPost, "/ocr", legacycbc.MediaType, req)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("%d %q", res.StatusCode, truncate(got))
			}
			plain, err := legacycbc.OpenResponseTo(sm4Key, req, got)
			if err != nil {
				t.Fatal(err)
			}
			checkOCR(t, "legacy SM4-CBC", plain, im.text)
		}
		// An AES request named SM4-CBC (and the other way round) is refused.
		aesReq, _ := legacycbc.SealRequest(nil, legacyKey(t, legacySecret), img)
		res, got := s.do(t, http.MethodPost, "/ocr", legacycbc.MediaType, bytes.Replace(aesReq, []byte("AES-256-CBC"), []byte("SM4-CBC"), 1))
		checkResponse(t, "AES ciphertext labelled SM4-CBC", res, got, ansLegacyError)
	})
}
