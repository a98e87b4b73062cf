package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/sealocr/sealocr/sidecar/internal/gateway"
)

const interopTimeout = 90 * time.Second

// runTool runs an interop helper and returns its stdout; a failure reports
// its stderr.
func runTool(t *testing.T, env []string, name string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), interopTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = filepath.Join(repoRoot, "sidecar", "e2e", "interop")
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %v: %v\nstdout: %s\nstderr: %s", name, args, err, truncate(stdout.Bytes()), stderr.String())
	}
	return stdout.Bytes()
}

// TestInteropNodeOHTTP runs an OHTTP client built from @hpke/core and
// bhttp-js (interop/ohttp_client.mjs) against the gateway, once per AEAD.
// The sidecar refuses inner requests without Date (ohttp_require_date), so
// the client's Date must come through bhttp-js.
func TestInteropNodeOHTTP(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is not installed: run .ci/run (it installs npm and node) — the interop test needs it")
	}
	dir := filepath.Join(repoRoot, "sidecar", "e2e", "interop")
	for _, pkg := range []string{"@hpke/core", "@hpke/chacha20poly1305", "bhttp-js"} {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", pkg, "package.json")); err != nil {
			t.Fatalf("%s is not installed in %s/node_modules: run `npm ci` there (.ci/run does it)", pkg, dir)
		}
	}
	s := newSidecar(t, map[string]string{"SEALOCR_OHTTP_REQUIRE_DATE": "true"})
	images := []testImage{renderedImage(t, docTexts[0]), renderedImage(t, docTexts[1])}
	for i, aead := range []string{"aes-128-gcm", "aes-256-gcm", "chacha20-poly1305"} {
		im := images[i%len(images)]
		t.Run(aead, func(t *testing.T) {
			out := runTool(t, nil, node, "ohttp_client.mjs", s.url+gateway.OHTTPPath, s.caPath, im.abs(), aead)
			checkOCR(t, "node "+aead, out, im.text)
		})
	}
	s.checkHealthy(t)
}

// TestInteropPythonLegacy runs a legacy client that uses only
// Crypto.Cipher.AES from python3-pycryptodome (interop/legacy_client.py).
func TestInteropPythonLegacy(t *testing.T) {
	const python = "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		t.Fatalf("%s is missing: install python3 (run .ci/run)", python)
	}
	probe := "try:\n from Cryptodome.Cipher import AES\nexcept ImportError:\n from Crypto.Cipher import AES\n"
	if out, err := exec.Command(python, "-c", probe).CombinedOutput(); err != nil {
		t.Fatalf("python3-pycryptodome is missing (%v: %s): run .ci/run, or apt-get install -y python3-pycryptodome", err, bytes.TrimSpace(out))
	}
	s := newLegacySidecar(t, nil)
	for i, text := range docTexts {
		im := renderedImage(t, text)
		// Without and with the encrypt-then-MAC member (LEGACY_MAC=1, which
		// also checks the response's MAC).
		for _, mac := range []string{"0", "1"} {
			t.Run(fmt.Sprintf("image%d mac=%s", i, mac), func(t *testing.T) {
				out := runTool(t, []string{"AES_SECRET_KEY=" + legacySecret, "LEGACY_MAC=" + mac}, python, "legacy_client.py", s.url+"/ocr", s.caPath, im.abs())
				checkOCR(t, "python legacy", out, im.text)
			})
		}
	}
	// A key that requires the MAC: the client without it gets the fixed
	// refusal, with it the answer.
	t.Run("legacy_mac required", func(t *testing.T) {
		req := newLegacySidecar(t, map[string]string{"SEALOCR_LEGACY_MAC": "required"})
		im := renderedImage(t, docTexts[0])
		out := runTool(t, []string{"AES_SECRET_KEY=" + legacySecret, "LEGACY_MAC=1"}, python, "legacy_client.py", req.url+"/ocr", req.caPath, im.abs())
		checkOCR(t, "python legacy with MAC", out, im.text)
		ctx, cancel := context.WithTimeout(context.Background(), interopTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, python, "legacy_client.py", req.url+"/ocr", req.caPath, im.abs())
		cmd.Dir = filepath.Join(repoRoot, "sidecar", "e2e", "interop")
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "AES_SECRET_KEY=" + legacySecret}
		if out, err := cmd.CombinedOutput(); err == nil || !bytes.Contains(out, []byte("HTTP 400 "+ansLegacyError.body)) {
			t.Errorf("no MAC on a MAC-required key: %v %q, want exit 1 and HTTP 400 %s", err, out, ansLegacyError.body)
		}
	})
	// The same client with the wrong key gets the fixed refusal.
	ctx, cancel := context.WithTimeout(context.Background(), interopTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, "legacy_client.py", s.url+"/ocr", s.caPath, imgHello.abs())
	cmd.Dir = filepath.Join(repoRoot, "sidecar", "e2e", "interop")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "AES_SECRET_KEY=another-legacy-key-0123456789abc"}
	out, err := cmd.CombinedOutput()
	if err == nil || !bytes.Contains(out, []byte("HTTP 400 "+ansLegacyError.body)) {
		t.Errorf("wrong key: %v %q, want exit 1 and HTTP 400 %s", err, out, ansLegacyError.body)
	}
	s.checkHealthy(t)
}
