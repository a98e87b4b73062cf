package main

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	wire "github.com/sealocr/sealocr/sidecar/api"
	"github.com/sealocr/sealocr/sidecar/client/clienttest"
	"github.com/sealocr/sealocr/sidecar/internal/keys"
)

// TestFailureHints: the failures a user can fix say what to check, as a
// user of the command sees them (audit of issue 24, rows 2 and 3).
func TestFailureHints(t *testing.T) {
	srv := clienttest.NewServer(t, nil)
	img := writeFile(t, filepath.Join(t.TempDir(), "scan.png"), pngBytes(10))

	t.Run("nothing listening", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := "https://" + l.Addr().String()
		l.Close() // a port that refuses connections
		start := time.Now()
		_, stderr, err := runCmd(t, nil, "ocr", "--server", addr, "--ca", srv.CAFile, "--keys", srv.KeysFile, img, img)
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("a refused connection took %s to report (27.8 s before)", d)
		}
		if err == nil || !strings.Contains(stderr, "cannot connect to "+addr) || !strings.Contains(stderr, "connection refused") ||
			!strings.Contains(stderr, "is the sidecar running? start it with `make run`") {
			t.Errorf("err = %v, stderr = %q", err, stderr)
		}
		if strings.Contains(stderr, "retries") {
			t.Errorf("a refused connection was retried: %q", stderr)
		}
	})
	t.Run("wrong key file", func(t *testing.T) {
		other := filepath.Join(t.TempDir(), "keys.yaml")
		b, err := keys.Generate(clienttest.PSKKeyID)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(other, b, 0o600); err != nil {
			t.Fatal(err)
		}
		_, stderr, err := runCmd(t, nil, "ocr", "--server", srv.URL, "--ca", srv.CAFile, "--keys", other, img)
		if err == nil || !strings.Contains(stderr, "cannot_open") ||
			!strings.Contains(stderr, `key ID "`+clienttest.PSKKeyID+`" from `+other+"; check --keys and --key-id") {
			t.Errorf("err = %v, stderr = %q", err, stderr)
		}
	})
	t.Run("core unreachable behind the sidecar", func(t *testing.T) {
		// What the sidecar's gateway seals when the core does not answer.
		down := clienttest.NewServer(t, func(context.Context, clienttest.Request) (int, string, []byte) {
			a := wire.Lookup(wire.UpstreamUnavailable)
			return a.Status, a.ContentType, a.Body
		})
		for _, mode := range []string{"psk", "ohttp"} {
			_, stderr, err := runCmd(t, nil, "ocr", "--mode", mode, "--server", down.URL, "--ca", down.CAFile, "--keys", down.KeysFile, img)
			if err == nil || !strings.Contains(stderr, "sidecar answered (sealed) 502 upstream_unavailable") ||
				!strings.Contains(stderr, "the sidecar could not reach the OCR server behind it") || strings.Contains(stderr, "core answered") {
				t.Errorf("%s: err = %v, stderr = %q", mode, err, stderr)
			}
		}
	})
	for _, c := range []struct {
		name, code string
		status     int
		token      bool
		want       string
	}{
		{"no token", "unauthorized", 401, false, "pass --token-file FILE with a JWT or API key, or set SEALOCR_TOKEN"},
		{"bad token", "unauthorized", 401, true, "the sidecar refused the credential"},
		{"too large", "too_large", 413, false, "max_body_bytes, SEALOCR_MAX_BODY_BYTES"},
		{"rate limited", "rate_limited", 429, false, "lower --concurrency"},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv.Fail(c.status, c.code, "refused", 0)
			defer srv.Fail(0, "", "", 0)
			getenv := env(map[string]string{"HOME": t.TempDir()})
			if c.token {
				getenv = env(map[string]string{"HOME": t.TempDir(), "SEALOCR_TOKEN": "not-a-valid-token"})
			}
			_, stderr, err := runCmd(t, getenv, "ocr", "--server", srv.URL, "--ca", srv.CAFile, "--keys", srv.KeysFile,
				"--max-retries", "0", img)
			if err == nil || !strings.Contains(stderr, strconv.Itoa(c.status)+" "+c.code) || !strings.Contains(stderr, c.want) {
				t.Errorf("err = %v, stderr = %q", err, stderr)
			}
			if strings.Contains(stderr, "not-a-valid-token") {
				t.Errorf("stderr shows the token: %q", stderr)
			}
		})
	}
}

// TestOCRDirRecursiveAndSkips: folders are walked with --recursive, and
// every entry not sent is named on stderr with the reason; the JSON output
// has one line per file, failures included.
func TestOCRDirRecursiveAndSkips(t *testing.T) {
	srv := clienttest.NewServer(t, nil)
	dir := t.TempDir()
	a := writeFile(t, filepath.Join(dir, "a.png"), pngBytes(1))
	notes := writeFile(t, filepath.Join(dir, "notes.txt"), []byte("not an image"))
	deep := writeFile(t, filepath.Join(dir, "sub", "deep", "d.jpg"), append([]byte("\xff\xd8\xff"), make([]byte, 20)...))
	base := []string{"ocr", "--server", srv.URL, "--ca", srv.CAFile, "--keys", srv.KeysFile}

	stdout, stderr, err := runCmd(t, nil, append(base, dir)...)
	if err != nil {
		t.Fatalf("err = %v, stderr = %s", err, stderr)
	}
	if !strings.Contains(stdout, "==> "+a+" <==") || strings.Contains(stdout, deep) {
		t.Errorf("stdout = %q", stdout)
	}
	for _, want := range []string{
		"skipping " + notes + ": not an image or PDF file by its name",
		"skipping " + filepath.Join(dir, "sub") + ": a folder (--recursive takes subfolders too)",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr %q lacks %q", stderr, want)
		}
	}

	stdout, stderr, err = runCmd(t, nil, append(base, "--recursive", "--json", dir)...)
	if err != nil {
		t.Fatalf("err = %v, stderr = %s", err, stderr)
	}
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"file":"`+a+`"`) || !strings.Contains(lines[1], `"file":"`+deep+`"`) {
		t.Errorf("stdout = %q", stdout)
	}

	missing := filepath.Join(dir, "missing.png")
	stdout, _, err = runCmd(t, nil, append(base, "--json", a, missing)...)
	if err == nil {
		t.Fatal("a missing file did not fail the run")
	}
	lines = strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if len(lines) != 2 || !strings.Contains(lines[1], `{"file":"`+missing+`","error":`) {
		t.Errorf("stdout = %q", stdout)
	}
}
