package e2e

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// signHS256 makes a compact JWS of the raw header and payload JSON, signed
// with HS256 under key: the test writes the JSON itself, so that it can
// send what a library would not produce.
func signHS256(key []byte, header, payload string) string {
	enc := base64.RawURLEncoding.EncodeToString
	in := enc([]byte(header)) + "." + enc([]byte(payload))
	m := hmac.New(sha256.New, key)
	m.Write([]byte(in))
	return in + "." + enc(m.Sum(nil))
}

// TestJWTAttacks (audit round 2, #12) against the real sidecar and core:
// with auth required and an HS256 key, a well-formed token reads the
// image; the same key's signature on a token whose exp is a JSON string
// (RFC 7519 NumericDate is a number), or whose header names a critical
// extension the sidecar does not understand (RFC 7515 section 4.1.11), is
// refused, and the core is never reached. Before the fix both were
// accepted (jwt/v5 reads "exp":"…" as a date and ignores crit).
func TestJWTAttacks(t *testing.T) {
	dir := t.TempDir()
	key := []byte("e2e-jwt-attack-hs256-key-0123456789abcdef")
	keyFile := filepath.Join(dir, "hs256.key")
	if err := os.WriteFile(keyFile, key, 0o600); err != nil {
		t.Fatal(err)
	}
	s := newSidecar(t, map[string]string{
		"SEALOCR_AUTH":                    "required",
		"SEALOCR_AUTH_JWT_HS256_KEY_FILE": keyFile,
	})
	exp := strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10)
	im := renderedImage(t, docTexts[0])
	send := func(name, tok string) (string, error) {
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, []byte(tok), 0o600); err != nil {
			t.Fatal(err)
		}
		stdout, stderr, _, err := runSealctl(t, s, time.Minute, "--token-file", f, im.abs())
		if err != nil {
			return stderr, err
		}
		return stdout, nil
	}
	if out, err := send("good", signHS256(key, `{"alg":"HS256","typ":"JWT"}`, `{"sub":"e2e","exp":`+exp+`}`)); err != nil {
		t.Fatalf("a well-formed token: %v\n%s", err, tailOf(out))
	} else if !strings.Contains(squash(out), squash(im.text)) {
		t.Fatalf("a well-formed token: OCR output %q lacks %q", out, im.text)
	}
	served := metric(t, coreMetrics, "sealocr_core_requests_total")
	for _, tc := range []struct{ name, header, payload string }{
		{"exp as a string", `{"alg":"HS256","typ":"JWT"}`, `{"sub":"e2e","exp":"` + exp + `"}`},
		{"unknown crit", `{"alg":"HS256","typ":"JWT","crit":["x-sealocr-test"],"x-sealocr-test":1}`, `{"sub":"e2e","exp":` + exp + `}`},
		{"empty crit", `{"alg":"HS256","typ":"JWT","crit":[]}`, `{"sub":"e2e","exp":` + exp + `}`},
	} {
		out, err := send(strings.ReplaceAll(tc.name, " ", "-"), signHS256(key, tc.header, tc.payload))
		if err == nil || !strings.Contains(out, "refused the credential") {
			t.Errorf("%s: err %v, output %s; want the credential refused", tc.name, err, tailOf(out))
		}
	}
	if got := metric(t, coreMetrics, "sealocr_core_requests_total"); got != served {
		t.Errorf("refused tokens reached the core: upstream requests %v, then %v", served, got)
	}
}
