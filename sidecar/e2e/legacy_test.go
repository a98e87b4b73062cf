package e2e

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/sealocr/sealocr/sidecar/internal/envelope/legacycbc"
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
