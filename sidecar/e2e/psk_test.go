package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/sealocr/sealocr/sidecar/internal/envelope/psk"
	"github.com/sealocr/sealocr/sidecar/internal/keys"
)

// pskKey returns the first pre-shared key of the sidecar's key file.
func pskKey(t *testing.T, s *sidecar) psk.Key {
	t.Helper()
	set, err := keys.LoadFile(s.keysPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(set.PSKKeys) == 0 {
		t.Fatal("the generated key file has no pre-shared key")
	}
	return set.PSKKeys[0]
}

// newSuiteSidecar starts a sidecar whose key file, written before it
// starts, holds one pre-shared key of the given suite (for the default suite
// the sidecar generates its own, as on a fresh machine).
func newSuiteSidecar(t *testing.T, suite psk.Suite, env map[string]string) *sidecar {
	t.Helper()
	if suite == psk.DefaultSuite {
		return newSidecar(t, env)
	}
	if env == nil {
		env = map[string]string{}
	}
	dir, err := os.MkdirTemp("", "sealocr-e2e-state-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	data, err := keys.GenerateSuite("e2e-"+suite.String(), suite)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "keys.yaml"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	env["SEALOCR_STATE_DIR"] = dir
	return newSidecar(t, env)
}

// suiteKey returns the sidecar's first pre-shared key and checks that it
// has the wanted suite, so that a suite table cannot silently test AES
// three times.
func suiteKey(t *testing.T, s *sidecar, suite psk.Suite) psk.Key {
	t.Helper()
	key := pskKey(t, s)
	if key.Suite() != suite {
		t.Fatalf("the sidecar's key has suite %s, want %s", key.Suite(), suite)
	}
	return key
}

// sealedPSK is one sealed request and the means to open its answer.
type sealedPSK struct {
	target string
	body   []byte
	opener *psk.ResponseOpener
}

func sealPSK(t *testing.T, key psk.Key, target, contentType string, plaintext []byte, now time.Time) sealedPSK {
	t.Helper()
	body, opener, err := psk.SealRequest(nil, key, http.MethodPost, target, contentType, now, plaintext)
	if err != nil {
		t.Fatal(err)
	}
	return sealedPSK{target: target, body: body, opener: opener}
}

// send posts the sealed request to its target.
func (s *sidecar) sendPSK(t *testing.T, r sealedPSK) (*http.Response, []byte) {
	t.Helper()
	return s.do(t, http.MethodPost, r.target, psk.RequestMediaType, r.body)
}

// openPSK checks the outer answer of an opened request and opens the inner
// one.
func openPSK(t *testing.T, what string, r sealedPSK, res *http.Response, body []byte) (int, string, []byte) {
	t.Helper()
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != psk.ResponseMediaType {
		t.Fatalf("%s: outer answer %d %q %q, want 200 %q", what, res.StatusCode, res.Header.Get("Content-Type"), truncate(body), psk.ResponseMediaType)
	}
	status, ct, content, err := r.opener.Open(body)
	if err != nil {
		t.Fatalf("%s: open response: %v", what, err)
	}
	return status, ct, content
}

// pskOCR seals an image, sends it and returns the core's JSON.
func (s *sidecar) pskOCR(t *testing.T, key psk.Key, target, contentType string, img []byte) []byte {
	t.Helper()
	r := sealPSK(t, key, target, contentType, img, time.Now())
	res, body := s.sendPSK(t, r)
	status, ct, content := openPSK(t, "psk "+target, r, res, body)
	if status != http.StatusOK || ct != "application/json" {
		t.Fatalf("psk %s: inner answer %d %q %q", target, status, ct, truncate(content))
	}
	return content
}

// TestPSK runs the PSK envelope against the real sidecar and core once per
// suite: OCR, every refusal (one answer for all), replay, and unencrypted
// requests.
func TestPSK(t *testing.T) {
	for _, suite := range psk.Suites() {
		t.Run(suite.String(), func(t *testing.T) { testPSK(t, suite) })
	}
}

func testPSK(t *testing.T, suite psk.Suite) {
	s := newSuiteSidecar(t, suite, nil)
	key := suiteKey(t, s, suite)

	t.Run("ocr", func(t *testing.T) {
		for _, im := range []testImage{imgHello, imgP11} {
			t.Run(filepath.Base(im.path), func(t *testing.T) {
				checkOCR(t, im.path, s.pskOCR(t, key, "/v1/ocr?mode=line", im.contentType, im.read(t)), im.text)
			})
		}
	})

	// A valid request that the core answers quickly (400 not_an_image):
	// whether the sidecar opened it shows in the outer status.
	small := []byte("this is not an image")
	const target = "/v1/ocr?mode=line"
	const ct = "application/octet-stream"
	kidLen := len(key.ID())
	v2 := 0 // the suite byte of version 2 framing shifts every later field
	if suite != psk.SuiteAES256GCM {
		v2 = 1
	}
	ctOff := 40 + v2 + kidLen // inner content type length byte

	flip := func(i func(n int) int) func(b []byte) []byte {
		return func(b []byte) []byte {
			b = bytes.Clone(b)
			b[i(len(b))] ^= 0x01
			return b
		}
	}
	cut := func(n func(n int) int) func(b []byte) []byte {
		return func(b []byte) []byte { return bytes.Clone(b[:n(len(b))]) }
	}
	otherSecret := make([]byte, suite.KeySize())
	_, _ = rand.Read(otherSecret)
	unknownKey, err := psk.NewSuiteKey("nobody-has-this-key", suite, otherSecret)
	if err != nil {
		t.Fatal(err)
	}
	wrongSecret, err := psk.NewSuiteKey(key.ID(), suite, otherSecret)
	if err != nil {
		t.Fatal(err)
	}
	// The key's own bytes under every other suite (cut or repeated to size):
	// a request relabelled to another suite must not open.
	var otherSuites []psk.Key
	for _, o := range psk.Suites() {
		if o == suite {
			continue
		}
		k, err := psk.NewSuiteKey(key.ID(), o, bytes.Repeat([]byte{0x5a}, o.KeySize()))
		if err != nil {
			t.Fatal(err)
		}
		otherSuites = append(otherSuites, k)
	}

	type refusal struct {
		name   string
		key    psk.Key
		now    time.Time
		sendTo string // target on the wire, if not the sealed one
		mangle func([]byte) []byte
	}
	refusals := []refusal{
		{name: "ciphertext byte flipped", mangle: flip(func(n int) int { return n - 20 })},
		{name: "tag byte flipped", mangle: flip(func(n int) int { return n - 1 })},
		{name: "magic flipped", mangle: flip(func(int) int { return 0 })},
		{name: "version flipped", mangle: flip(func(int) int { return 2 })},
		{name: "key ID byte flipped", mangle: flip(func(int) int { return 4 + v2 })},
		{name: "timestamp byte flipped", mangle: flip(func(int) int { return 4 + v2 + kidLen + 7 })},
		{name: "salt byte flipped", mangle: flip(func(int) int { return 12 + v2 + kidLen })},
		{name: "nonce byte flipped", mangle: flip(func(int) int { return 28 + v2 + kidLen })},
		{name: "content type byte flipped", mangle: flip(func(int) int { return ctOff + 1 })},
		{name: "truncated to half", mangle: cut(func(n int) int { return n / 2 })},
		{name: "truncated tag", mangle: cut(func(n int) int { return n - 1 })},
		{name: "header only", mangle: cut(func(int) int { return ctOff + 1 + len(ct) })},
		{name: "one byte", mangle: cut(func(int) int { return 1 })},
		{name: "empty", mangle: cut(func(int) int { return 0 })},
		{name: "trailing byte", mangle: func(b []byte) []byte { return append(bytes.Clone(b), 0) }},
		{name: "unknown key ID", key: unknownKey},
		{name: "known key ID wrong secret", key: wrongSecret},
		{name: "expired timestamp", now: time.Now().Add(-10 * time.Minute)},
		{name: "future timestamp", now: time.Now().Add(10 * time.Minute)},
		{name: "other target", sendTo: "/v1/ocr?mode=document"},
		{name: "other path", sendTo: "/v1/models"},
		{name: "suite byte unknown", mangle: func(b []byte) []byte {
			// Version 2 with suite 0x7f: an AES body gains the byte, an SM4
			// body has it replaced.
			return append([]byte{'S', 'P', 2, 0x7f}, b[3+v2:]...)
		}},
		{name: "same key ID under another suite", key: otherSuites[0]},
		{name: "same key ID under the third suite", key: otherSuites[1]},
	}
	if v2 == 1 {
		refusals = append(refusals,
			refusal{name: "suite byte flipped", mangle: flip(func(int) int { return 3 })},
			refusal{name: "relabelled as version 1 (AES)", mangle: func(b []byte) []byte {
				return append([]byte{'S', 'P', 1}, b[4:]...)
			}})
	}
	t.Run("refused", func(t *testing.T) {
		for _, tc := range refusals {
			t.Run(tc.name, func(t *testing.T) {
				k := key
				if tc.key.ID() != "" {
					k = tc.key
				}
				now := tc.now
				if now.IsZero() {
					now = time.Now()
				}
				r := sealPSK(t, k, target, ct, small, now)
				if tc.mangle != nil {
					r.body = tc.mangle(r.body)
				}
				if tc.sendTo != "" {
					r.target = tc.sendTo
				}
				res, body := s.sendPSK(t, r)
				checkResponse(t, tc.name, res, body, ansCannotOpen)
			})
		}
	})

	t.Run("replay", func(t *testing.T) {
		r := sealPSK(t, key, target, ct, small, time.Now())
		res, body := s.sendPSK(t, r)
		status, _, content := openPSK(t, "first", r, res, body)
		if status != http.StatusBadRequest || !strings.Contains(string(content), `"not_an_image"`) {
			t.Errorf("first: inner answer %d %q, want the core's 400 not_an_image", status, content)
		}
		res, body = s.sendPSK(t, r)
		checkResponse(t, "replayed", res, body, ansCannotOpen)
		// The response cannot be moved onto another request either.
		r2 := sealPSK(t, key, target, ct, small, time.Now())
		if _, _, _, err := r2.opener.Open(body); err == nil {
			t.Error("a response opened for another request")
		}
	})

	t.Run("unencrypted", func(t *testing.T) {
		img := imgHello.read(t)
		for _, tc := range []struct{ method, target, ct string }{
			{http.MethodPost, "/v1/ocr", "image/jpeg"},
			{http.MethodPost, "/v1/ocr?mode=line", "application/octet-stream"},
			{http.MethodPost, "/v1/ocr", ""},
			{http.MethodPost, "/v1/ocr", "application/json"},
			{http.MethodPost, "/ocr", "application/json"}, // legacy mode is off
			{http.MethodPut, "/v1/ocr", psk.RequestMediaType},
			{http.MethodPost, "/.well-known/ohttp-gateway", "image/jpeg"},
			{http.MethodGet, "/v1/models", ""},
		} {
			body := img
			if tc.method == http.MethodGet {
				body = nil
			}
			res, got := s.do(t, tc.method, tc.target, tc.ct, body)
			checkResponse(t, tc.method+" "+tc.target+" "+tc.ct, res, got, ansEncryptionRequired)
		}
	})

	s.checkHealthy(t)
	checkOCR(t, "after the refusals", s.pskOCR(t, key, "/v1/ocr?mode=line", imgHello.contentType, imgHello.read(t)), imgHello.text)
}

func TestPSKOversized(t *testing.T) {
	const limit = 2048
	s := newSidecar(t, map[string]string{"SEALOCR_MAX_BODY_BYTES": "2048"})
	key := pskKey(t, s)
	img := imgHello.read(t)
	if len(img) <= limit {
		t.Fatalf("test image of %d bytes is not larger than the limit", len(img))
	}
	r := sealPSK(t, key, "/v1/ocr?mode=line", imgHello.contentType, img, time.Now())

	// With a Content-Length, refused before reading.
	res, body := s.sendPSK(t, r)
	checkResponse(t, "declared length", res, body, ansTooLarge)

	// Chunked: refused while reading.
	r = sealPSK(t, key, "/v1/ocr?mode=line", imgHello.contentType, img, time.Now())
	res, body = doRequest(t, s.client, http.MethodPost, s.url+r.target, psk.RequestMediaType,
		io.MultiReader(bytes.NewReader(r.body)), -1)
	checkResponse(t, "chunked", res, body, ansTooLarge)

	// Unencrypted and oversized: the size answer comes first.
	res, body = s.do(t, http.MethodPost, "/v1/ocr", "image/jpeg", img)
	checkResponse(t, "unencrypted", res, body, ansTooLarge)

	// A request under the limit still goes through.
	small := sealPSK(t, key, "/v1/ocr?mode=line", "application/octet-stream", []byte("small"), time.Now())
	res, body = s.sendPSK(t, small)
	if status, _, _ := openPSK(t, "small", small, res, body); status != http.StatusBadRequest {
		t.Errorf("small request: inner status %d, want the core's 400", status)
	}
	s.checkHealthy(t)
}

// writeKeyFile replaces the key file atomically (write, then rename), as an
// operator or a Secret mount would.
func writeKeyFile(t *testing.T, path string, f keys.File) {
	t.Helper()
	b, err := yaml.Marshal(&f)
	if err != nil {
		t.Fatal(err)
	}
	writeFileAtomic(t, path, b)
}

func writeFileAtomic(t *testing.T, path string, b []byte) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), ".e2e-keys.tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestPSKKeyRotation(t *testing.T) {
	s := newSidecar(t, nil)
	oldKey := pskKey(t, s)

	raw, err := os.ReadFile(s.keysPath)
	if err != nil {
		t.Fatal(err)
	}
	var f keys.File
	if err := yaml.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	// The new key is an SM4 key: one file may mix suites, and a reload
	// picks up a suite like any other key property.
	secret := make([]byte, psk.SuiteSM4GCM.KeySize())
	_, _ = rand.Read(secret)
	newKey, err := psk.NewSuiteKey("rotated-2", psk.SuiteSM4GCM, secret)
	if err != nil {
		t.Fatal(err)
	}
	newEntry := keys.PSKEntry{ID: "rotated-2", Suite: psk.SuiteSM4GCM.String(), Secret: base64.StdEncoding.EncodeToString(secret)}

	// accepted reports whether the sidecar opens a request sealed with k.
	accepted := func(k psk.Key) bool {
		r := sealPSK(t, k, "/v1/ocr", "application/octet-stream", []byte("x"), time.Now())
		res, body := s.sendPSK(t, r)
		if res.StatusCode == http.StatusOK {
			openPSK(t, k.ID(), r, res, body)
			return true
		}
		checkResponse(t, k.ID(), res, body, ansCannotOpen)
		return false
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 10 s of rewriting the key file\n%s", what, s.proc.tail())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	if !accepted(oldKey) || accepted(newKey) {
		t.Fatal("before the rotation: want the generated key accepted and the new one refused")
	}

	// Step 1: add the new key next to the old one.
	f.PSK = append(f.PSK, newEntry)
	writeKeyFile(t, s.keysPath, f)
	waitFor("new key accepted", func() bool { return accepted(newKey) })
	if !accepted(oldKey) {
		t.Error("step 1: the old key was refused while both are listed")
	}

	// A broken file keeps the keys in force.
	writeFileAtomic(t, s.keysPath, []byte("psk: [this is: not a key file\n"))
	time.Sleep(500 * time.Millisecond)
	if !accepted(oldKey) || !accepted(newKey) {
		t.Error("after a broken key file: a key in force was dropped")
	}

	// Step 2: remove the old key.
	f.PSK = []keys.PSKEntry{newEntry}
	writeKeyFile(t, s.keysPath, f)
	waitFor("old key refused", func() bool { return !accepted(oldKey) })
	checkOCR(t, "new key", s.pskOCR(t, newKey, "/v1/ocr?mode=line", imgP11.contentType, imgP11.read(t)), imgP11.text)
	s.checkHealthy(t)
}
