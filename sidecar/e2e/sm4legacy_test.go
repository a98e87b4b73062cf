package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/sealocr/sealocr/core/testkit"
	"github.com/sealocr/sealocr/sidecar/internal/keys"
)

// The legacy SM4-CBC keys of these tests (16 bytes each, in hex): one with
// the default MAC policy (optional) and one with legacy_mac: required.
const (
	sm4LegacyKeyHex    = "0123456789abcdeffedcba9876543210"
	sm4LegacyMACKeyHex = "5f4dcc3b5aa765d61d8327deb882cf99"
)

// Real test images the core reads exactly in document mode, the mode of
// the legacy path (core/internal/pipeline's page bounds).
var (
	imgTEST      = testImage{"core/testdata/ocr/rapidocr/pages/issue_170.png", "image/png", "TEST"}
	imgTesseract = testImage{"core/testdata/ocr/tesseract_js/pages/simple-180.jpg", "image/jpeg", "Tesseract.js"}
)

// needProgram returns the path of an interop program; a missing one fails
// the test (README: tests fail rather than skip when a part is missing).
func needProgram(t *testing.T, name, hint string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is not installed (%s); the SM4-CBC interop test needs it", name, hint)
	}
	return p
}

// writeSM4LegacyKeys writes a key file whose only legacy keys are SM4-CBC.
func writeSM4LegacyKeys(t *testing.T) string {
	t.Helper()
	base, err := keys.Generate("e2e")
	if err != nil {
		t.Fatal(err)
	}
	b64 := func(h string) string {
		k, err := hex.DecodeString(h)
		if err != nil {
			t.Fatal(err)
		}
		return base64.StdEncoding.EncodeToString(k)
	}
	file := string(base) + "legacy:\n" +
		"  - id: sm4\n    algorithm: SM4-CBC\n    secret: " + b64(sm4LegacyKeyHex) + "\n" +
		"  - id: sm4-mac\n    algorithm: SM4-CBC\n    secret: " + b64(sm4LegacyMACKeyHex) + "\n    legacy_mac: required\n"
	p := filepath.Join(t.TempDir(), "keys.yaml")
	if err := os.WriteFile(p, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// sm4LegacyEnv is the environment of an SM4-only legacy sidecar: legacy on,
// SM4-CBC keys in the key file, and no AES_SECRET_KEY.
func sm4LegacyEnv(keysFile string) map[string]string {
	return map[string]string{
		"SEALOCR_LEGACY_CBC":              "true",
		"SEALOCR_UNSAFE_LEGACY_ANONYMOUS": "true",
		"SEALOCR_KEYS_FILE":               keysFile,
	}
}

// runWithStdin runs an interop program in sidecar/e2e/interop with stdin and
// returns its stdout, stderr and error.
func runWithStdin(t *testing.T, env []string, stdin []byte, name string, args ...string) ([]byte, []byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), interopTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = filepath.Join(repoRoot, "sidecar", "e2e", "interop")
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.Bytes(), stderr.Bytes(), err
}

// openssl runs Debian's openssl with stdin and returns its stdout.
func openssl(t *testing.T, stdin []byte, args ...string) []byte {
	t.Helper()
	out, stderr, err := runWithStdin(t, nil, stdin, "openssl", args...)
	if err != nil {
		t.Fatalf("openssl %v: %v: %s", args, err, stderr)
	}
	return out
}

// opensslHex parses openssl's hex output ("AA:97:…" or "FD7A…").
func opensslHex(t *testing.T, out []byte) []byte {
	t.Helper()
	s := strings.ReplaceAll(strings.TrimSpace(string(out)), ":", "")
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		t.Fatalf("openssl printed %q, want 32 bytes in hex", out)
	}
	return b
}

// opensslLegacy is a legacy SM4-CBC client whose cryptography is all
// Debian's OpenSSL 3: `openssl enc -sm4-cbc` encrypts the image and
// decrypts the answer, `openssl kdf HKDF` derives k_mac and `openssl mac
// HMAC` computes and checks the MACs (PROTOCOL.md §3.2). Go only moves
// bytes: base64, JSON and HTTPS. It returns the decrypted answer, or the
// refusal as "HTTP status body".
func opensslLegacy(t *testing.T, s *sidecar, keyHex string, withMAC bool, im testImage) ([]byte, string) {
	t.Helper()
	iv := make([]byte, 16)
	_, _ = rand.Read(iv)
	ct := openssl(t, nil, "enc", "-sm4-cbc", "-K", keyHex, "-iv", hex.EncodeToString(iv), "-in", im.abs())
	raw := append(bytes.Clone(iv), ct...)
	msg := map[string]string{"data": base64.StdEncoding.EncodeToString(raw), "algorithm": "SM4-CBC"}
	var kmac, reqMAC []byte
	hmac := func(parts ...[]byte) []byte {
		return opensslHex(t, openssl(t, bytes.Join(parts, nil), "mac", "-digest", "SHA256", "-macopt", "hexkey:"+hex.EncodeToString(kmac), "HMAC"))
	}
	if withMAC {
		// HKDF-SHA256 with no salt option is the empty salt of §3.2.
		kmac = opensslHex(t, openssl(t, nil, "kdf", "-keylen", "32", "-kdfopt", "digest:SHA256",
			"-kdfopt", "hexkey:"+keyHex, "-kdfopt", "info:sealocr legacy-cbc mac v1", "HKDF"))
		reqMAC = hmac([]byte("SM4-CBC"), raw)
		msg["mac"] = base64.StdEncoding.EncodeToString(reqMAC)
	}
	body, _ := json.Marshal(msg)
	res, got := s.do(t, http.MethodPost, "/ocr", "application/json", body)
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Sprintf("HTTP %d %s", res.StatusCode, got)
	}
	var ans struct {
		Status string  `json:"status"`
		Result string  `json:"result"`
		MAC    *string `json:"mac"`
	}
	if err := json.Unmarshal(got, &ans); err != nil || ans.Status != "success" {
		t.Fatalf("answer %q is not {\"status\":\"success\",...}", truncate(got))
	}
	out, err := base64.StdEncoding.DecodeString(ans.Result)
	if err != nil || len(out) < 32 || len(out)%16 != 0 {
		t.Fatalf("result %q: %v", truncate([]byte(ans.Result)), err)
	}
	switch {
	case withMAC && ans.MAC == nil:
		t.Fatal("the answer to a MAC'd request has no mac")
	case withMAC:
		want := hmac([]byte("response"), reqMAC, []byte("SM4-CBC"), out)
		if *ans.MAC != base64.StdEncoding.EncodeToString(want) {
			t.Fatalf("response mac %q, openssl computes %x", *ans.MAC, want)
		}
	case ans.MAC != nil:
		t.Fatal("the answer to a request without a mac has one")
	}
	return openssl(t, out[16:], "enc", "-d", "-sm4-cbc", "-K", keyHex, "-iv", hex.EncodeToString(out[:16])), ""
}

// nodeLegacy runs interop/sm4_legacy_client.mjs (sm-crypto SM4, node:crypto
// HKDF and HMAC).
func nodeLegacy(t *testing.T, s *sidecar, keyHex string, withMAC bool, im testImage) ([]byte, string) {
	t.Helper()
	mac := "0"
	if withMAC {
		mac = "1"
	}
	out, stderr, err := runWithStdin(t, []string{"LEGACY_SM4_KEY=" + keyHex, "LEGACY_MAC=" + mac}, nil,
		"node", "sm4_legacy_client.mjs", s.url+"/ocr", s.caPath, im.abs())
	if err != nil {
		if msg := strings.TrimSpace(string(stderr)); strings.HasPrefix(msg, "HTTP ") {
			return nil, msg
		}
		t.Fatalf("sm4_legacy_client.mjs: %v\nstdout: %s\nstderr: %s", err, truncate(out), stderr)
	}
	return out, ""
}

// TestInteropSM4LegacyCBC sends the legacy format {"data":
// base64(iv‖ciphertext), "algorithm": "SM4-CBC"} through the real sidecar
// and core from two clients that share no code with the sidecar: one whose
// cryptography is Debian's OpenSSL 3, one in JavaScript (sm-crypto and
// node:crypto). Each encrypts a real test image, with and without the
// "mac" member, also under a key that requires the MAC, and decrypts the
// answer to the core's JSON with the expected text. The sidecar has only
// SM4-CBC legacy keys (from the key file) and no AES_SECRET_KEY.
func TestInteropSM4LegacyCBC(t *testing.T) {
	needProgram(t, "openssl", "apt-get install -y openssl")
	needProgram(t, "node", "run .ci/testdeps.sh, which installs nodejs and npm")
	if _, err := os.Stat(filepath.Join(repoRoot, "sidecar", "e2e", "interop", "node_modules", "sm-crypto", "package.json")); err != nil {
		t.Fatal("sm-crypto is not installed in sidecar/e2e/interop/node_modules: run make testdeps (npm ci there)")
	}
	s := newSidecar(t, sm4LegacyEnv(writeSM4LegacyKeys(t)))
	refused := fmt.Sprintf("HTTP %d %s", ansLegacyError.status, ansLegacyError.body)
	for _, client := range []struct {
		name string
		run  func(*testing.T, *sidecar, string, bool, testImage) ([]byte, string)
	}{
		{"openssl", opensslLegacy},
		{"node sm-crypto", nodeLegacy},
	} {
		for _, tc := range []struct {
			name    string
			keyHex  string
			mac     bool
			im      testImage
			refused bool
		}{
			{"no mac", sm4LegacyKeyHex, false, imgTEST, false},
			{"mac", sm4LegacyKeyHex, true, imgTesseract, false},
			{"mac required, mac", sm4LegacyMACKeyHex, true, imgTEST, false},
			{"mac required, no mac", sm4LegacyMACKeyHex, false, imgTEST, true},
		} {
			t.Run(client.name+"/"+tc.name, func(t *testing.T) {
				out, refusal := client.run(t, s, tc.keyHex, tc.mac, tc.im)
				if tc.refused {
					if refusal != refused {
						t.Fatalf("got %q %q, want the refusal %q", truncate(out), refusal, refused)
					}
					return
				}
				if refusal != "" {
					t.Fatalf("refused: %s", refusal)
				}
				checkOCR(t, client.name+" "+tc.name, out, tc.im.text)
			})
		}
	}
	s.checkHealthy(t)
}

// TestLegacySM4OnlyDeployment: the legacy mode needs at least one legacy
// key, from AES_SECRET_KEY or the key file; SM4-CBC keys in the key file
// alone are enough (TestInteropSM4LegacyCBC serves requests with them), and
// with no legacy key anywhere the sidecar refuses to start, in
// --check-config and for real.
func TestLegacySM4OnlyDeployment(t *testing.T) {
	base, err := keys.Generate("e2e")
	if err != nil {
		t.Fatal(err)
	}
	pskOnly := filepath.Join(t.TempDir(), "keys.yaml")
	if err := os.WriteFile(pskOnly, base, 0o600); err != nil {
		t.Fatal(err)
	}
	sm4Only := writeSM4LegacyKeys(t)
	for _, tc := range []struct {
		name     string
		keysFile string
		aesKey   bool
		args     []string
		wantOK   bool
	}{
		{"sm4 keys only, check-config", sm4Only, false, []string{"--check-config"}, true},
		{"AES_SECRET_KEY only, check-config", pskOnly, true, []string{"--check-config"}, true},
		{"no legacy key, check-config", pskOnly, false, []string{"--check-config"}, false},
		{"no legacy key, start", pskOnly, false, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			home := t.TempDir()
			port, err := testkit.Port()
			if err != nil {
				t.Fatal(err)
			}
			mport, err := testkit.Port()
			if err != nil {
				t.Fatal(err)
			}
			env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "SEALOCR_STATE_DIR=" + filepath.Join(home, "state"),
				"SEALOCR_LISTEN=127.0.0.1:" + strconv.Itoa(port), "SEALOCR_METRICS_LISTEN=127.0.0.1:" + strconv.Itoa(mport),
				"SEALOCR_HTTP_LISTEN=off", "SEALOCR_AUTH=off", "SEALOCR_UPSTREAM=" + coreURL}
			for k, v := range sm4LegacyEnv(tc.keysFile) {
				env = append(env, k+"="+v)
			}
			if tc.aesKey {
				env = append(env, "AES_SECRET_KEY="+legacySecret)
			}
			ctx, cancel := context.WithTimeout(context.Background(), sidecarReadyTimeout)
			defer cancel()
			cmd := exec.CommandContext(ctx, sidecarBin, tc.args...)
			cmd.Env = env
			out, err := cmd.CombinedOutput()
			if ctx.Err() != nil {
				t.Fatalf("the sidecar did not exit within %s: %s", sidecarReadyTimeout, truncate(out))
			}
			if tc.wantOK {
				if err != nil || !bytes.Contains(out, []byte("configuration ok")) {
					t.Fatalf("%v: %s", err, out)
				}
				return
			}
			if err == nil || !bytes.Contains(out, []byte("no legacy key")) || !bytes.Contains(out, []byte("AES_SECRET_KEY")) {
				t.Fatalf("%v: %s, want a refusal naming AES_SECRET_KEY and the key file", err, out)
			}
		})
	}
}
