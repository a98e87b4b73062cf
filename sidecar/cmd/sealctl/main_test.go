package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealocr/sealocr/sidecar/client/clienttest"
	"github.com/sealocr/sealocr/sidecar/internal/keys"
)

// pngBytes is enough of a PNG for content sniffing; n varies the size.
func pngBytes(n int) []byte {
	return append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{'x'}, n)...)
}

// env returns a getenv backed by m.
func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// runCmd runs sealctl with an empty environment rooted at a temp HOME.
func runCmd(t *testing.T, getenv func(string) string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	if getenv == nil {
		getenv = env(map[string]string{"HOME": t.TempDir()})
	}
	var out, errOut bytes.Buffer
	err = run(context.Background(), args, getenv, strings.NewReader(""), &out, &errOut)
	return out.String(), errOut.String(), err
}

func writeFile(t *testing.T, path string, data []byte) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestKeygen(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "sub", "keys.yaml")
	stdout, _, err := runCmd(t, nil, "keygen", "--out", out, "--id", "laptop")
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", fi.Mode().Perm())
	}
	set, err := keys.LoadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(set.PSKIDs) != 1 || set.PSKIDs[0] != "laptop" || len(set.Public) != 2 {
		t.Errorf("key file holds %v and %d ohttp configs", set.PSKIDs, len(set.Public))
	}
	if !strings.Contains(stdout, "psk key ID: laptop") || strings.Count(stdout, "sha256:") != 2 {
		t.Errorf("stdout = %q", stdout)
	}
	before, _ := os.ReadFile(out)

	_, _, err = runCmd(t, nil, "keygen", "--out", out)
	if err == nil || !strings.Contains(err.Error(), "refusing to overwrite") {
		t.Fatalf("second keygen: err = %v", err)
	}
	if after, _ := os.ReadFile(out); !bytes.Equal(before, after) {
		t.Error("existing key file was changed")
	}

	t.Run("default path from the state folder", func(t *testing.T) {
		state := filepath.Join(t.TempDir(), "state")
		if _, _, err := runCmd(t, env(map[string]string{"SEALOCR_STATE_DIR": state}), "keygen"); err != nil {
			t.Fatal(err)
		}
		if _, err := keys.LoadFile(filepath.Join(state, "keys.yaml")); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("bad ID", func(t *testing.T) {
		_, _, err := runCmd(t, nil, "keygen", "--out", filepath.Join(t.TempDir(), "k.yaml"), "--id", "has space")
		if err == nil {
			t.Fatal("keygen accepted a key ID with a space")
		}
	})
}

func TestOCRSingleFile(t *testing.T) {
	srv := clienttest.NewServer(t, nil)
	img := writeFile(t, filepath.Join(t.TempDir(), "scan.png"), pngBytes(10))
	base := []string{"ocr", "--server", srv.URL, "--ca", srv.CAFile, "--keys", srv.KeysFile}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"psk text", []string{img}, "hello\nworld\n"},
		{"ohttp text", []string{"--mode", "ohttp", img}, "hello\nworld\n"},
		{"ohttp x-wing", []string{"--mode", "ohttp", "--kem", "MLKEM768-X25519", img}, "hello\nworld\n"},
		{"flags after the file", []string{img, "--format", "tsv", "--doc-mode", "line"},
			img + "\t0\t0.9900\thello\n" + img + "\t1\t0.9500\tworld\n"},
		{"key ID", []string{"--key-id", clienttest.PSKKeyID, img}, "hello\nworld\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, err := runCmd(t, nil, append(base, tt.args...)...)
			if err != nil {
				t.Fatalf("err = %v, stderr = %s", err, stderr)
			}
			if stdout != tt.want {
				t.Errorf("stdout = %q, want %q", stdout, tt.want)
			}
		})
	}
	t.Run("json: one line per file, one file too", func(t *testing.T) {
		stdout, _, err := runCmd(t, nil, append(base, "--json", img)...)
		if err != nil {
			t.Fatal(err)
		}
		resp, _ := json.Marshal(clienttest.CannedResponse(18))
		want, _ := json.Marshal(struct {
			File     string          `json:"file"`
			Response json.RawMessage `json:"response"`
		}{img, resp})
		if stdout != string(want)+"\n" {
			t.Errorf("stdout = %q, want %q", stdout, want)
		}
	})
	t.Run("standard input", func(t *testing.T) {
		var out, errOut bytes.Buffer
		err := run(context.Background(), append(base, "--format", "tsv", "-"), env(map[string]string{"HOME": t.TempDir()}),
			bytes.NewReader(pngBytes(41)), &out, &errOut)
		if err != nil {
			t.Fatalf("err = %v, stderr = %s", err, errOut.String())
		}
		if out.String() != "-\t0\t0.9900\thello\n-\t1\t0.9500\tworld\n" {
			t.Errorf("stdout = %q", out.String())
		}
		if req, _ := srv.LastRequest(); len(req.Body) != len(pngBytes(41)) {
			t.Errorf("the core got %d bytes, want the %d of standard input", len(req.Body), len(pngBytes(41)))
		}
	})
	t.Run("doc mode reaches the core", func(t *testing.T) {
		if _, _, err := runCmd(t, nil, append(base, "--doc-mode", "line", img)...); err != nil {
			t.Fatal(err)
		}
		if req, _ := srv.LastRequest(); req.Target != "/v1/ocr?mode=line" || req.ContentType != "image/png" {
			t.Errorf("core saw %s %q", req.Target, req.ContentType)
		}
	})
}

func TestOCRDir(t *testing.T) {
	srv := clienttest.NewServer(t, nil)
	dir := t.TempDir()
	a := writeFile(t, filepath.Join(dir, "a.png"), pngBytes(1))
	b := writeFile(t, filepath.Join(dir, "b.JPG"), append([]byte("\xff\xd8\xff"), make([]byte, 20)...))
	writeFile(t, filepath.Join(dir, "notes.txt"), []byte("not an image, not sent"))
	c := writeFile(t, filepath.Join(dir, "c.gif"), []byte("GIF89a......"))
	base := []string{"ocr", "--server", srv.URL, "--ca", srv.CAFile, "--keys", srv.KeysFile, "--concurrency", "2"}

	t.Run("text", func(t *testing.T) {
		stdout, stderr, err := runCmd(t, nil, append(base, dir)...)
		if err != nil {
			t.Fatalf("err = %v, stderr = %s", err, stderr)
		}
		want := "==> " + a + " <==\nhello\nworld\n\n==> " + b + " <==\nhello\nworld\n\n==> " + c + " <==\nhello\nworld\n"
		if stdout != want {
			t.Errorf("stdout = %q, want %q", stdout, want)
		}
		if _, n := srv.LastRequest(); n != 3 {
			t.Errorf("%d requests, want 3", n)
		}
	})
	t.Run("json lines", func(t *testing.T) {
		stdout, _, err := runCmd(t, nil, append(base, "--mode", "ohttp", "--format", "json", dir)...)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
		if len(lines) != 3 {
			t.Fatalf("%d lines: %q", len(lines), stdout)
		}
		for i, file := range []string{a, b, c} {
			var got struct {
				File     string `json:"file"`
				Response struct {
					Text  string `json:"text"`
					Width int    `json:"width"`
				} `json:"response"`
			}
			if err := json.Unmarshal([]byte(lines[i]), &got); err != nil {
				t.Fatal(err)
			}
			fi, _ := os.Stat(file)
			if got.File != file || got.Response.Text != "hello\nworld" || got.Response.Width != int(fi.Size()) {
				t.Errorf("line %d = %+v", i, got)
			}
		}
	})
	t.Run("tsv", func(t *testing.T) {
		stdout, _, err := runCmd(t, nil, append(base, "--format", "tsv", dir)...)
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(stdout, "\n"); n != 6 || !strings.HasPrefix(stdout, a+"\t0\t0.9900\thello\n") {
			t.Errorf("stdout = %q", stdout)
		}
	})
}

func TestOCRFailures(t *testing.T) {
	srv := clienttest.NewServer(t, nil)
	dir := t.TempDir()
	good := writeFile(t, filepath.Join(dir, "good.png"), pngBytes(3))
	writeFile(t, filepath.Join(dir, "bad.png"), []byte("SECRET-CONTENT not an image"))
	missing := filepath.Join(dir, "missing.png")
	stdout, stderr, err := runCmd(t, nil, "ocr", "--server", srv.URL, "--ca", srv.CAFile, "--keys", srv.KeysFile, dir, missing)
	if err == nil || err.Error() != "2 of 3 files failed" {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(stdout, "==> "+good+" <==\nhello\nworld\n") || strings.Contains(stdout, "bad.png") {
		t.Errorf("stdout = %q", stdout)
	}
	for _, want := range []string{"bad.png: sealocr client: core answered 400 not_an_image", "missing.png: "} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr %q lacks %q", stderr, want)
		}
	}
	if strings.Contains(stderr, "SECRET-CONTENT") {
		t.Errorf("stderr leaks file content: %q", stderr)
	}

	t.Run("sidecar refusal", func(t *testing.T) {
		srv.Fail(429, "rate_limited", "too many requests", 3)
		defer srv.Fail(0, "", "", 0)
		_, stderr, err := runCmd(t, nil, "ocr", "--server", srv.URL, "--ca", srv.CAFile, "--keys", srv.KeysFile, "--max-retries", "0", good)
		if err == nil || !strings.Contains(stderr, "server answered 429 rate_limited: too many requests (retry after 3s)") {
			t.Errorf("err = %v, stderr = %q", err, stderr)
		}
	})
	t.Run("tampered response", func(t *testing.T) {
		srv.SetTamper(true)
		defer srv.SetTamper(false)
		_, stderr, err := runCmd(t, nil, "ocr", "--server", srv.URL, "--ca", srv.CAFile, "--keys", srv.KeysFile, good)
		if err == nil || !strings.Contains(stderr, "response could not be opened") {
			t.Errorf("err = %v, stderr = %q", err, stderr)
		}
	})
	t.Run("wrong pin", func(t *testing.T) {
		_, stderr, err := runCmd(t, nil, "ocr", "--server", srv.URL, "--ca", srv.CAFile, "--mode", "ohttp", "--pin", strings.Repeat("0", 64), good)
		if err == nil || !strings.Contains(stderr, "pinned fingerprint") {
			t.Errorf("err = %v, stderr = %q", err, stderr)
		}
	})
}

func TestOCRDefaultsFromEnvironment(t *testing.T) {
	srv := clienttest.NewServer(t, nil)
	xdg := t.TempDir()
	state := filepath.Join(xdg, "sealocr")
	for name, src := range map[string]string{"ca.pem": srv.CAFile, "keys.yaml": srv.KeysFile} {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(state, name), data)
	}
	img := writeFile(t, filepath.Join(t.TempDir(), "x.png"), pngBytes(2))
	tests := []struct {
		name string
		env  map[string]string
	}{
		{"SEALOCR_STATE_DIR", map[string]string{"SEALOCR_SERVER": srv.URL, "SEALOCR_STATE_DIR": state, "HOME": "/nonexistent"}},
		{"XDG_STATE_HOME", map[string]string{"SEALOCR_SERVER": srv.URL, "XDG_STATE_HOME": xdg, "HOME": "/nonexistent"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, err := runCmd(t, env(tt.env), "ocr", img)
			if err != nil || stdout != "hello\nworld\n" {
				t.Fatalf("stdout = %q, err = %v, stderr = %s", stdout, err, stderr)
			}
		})
	}
}

func TestKeysCommand(t *testing.T) {
	srv := clienttest.NewServer(t, nil)
	stdout, _, err := runCmd(t, nil, "keys", "--server", srv.URL, "--ca", srv.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "ID") ||
		!strings.HasPrefix(lines[1], "1   X25519") || !strings.HasPrefix(lines[2], "2   MLKEM768-X25519") ||
		!strings.Contains(lines[1], "HKDF-SHA256/AES-128-GCM") {
		t.Errorf("stdout = %q", stdout)
	}
}

func TestUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int // 0: success
		want string
	}{
		{"no command", nil, 2, "Usage:"},
		{"unknown command", []string{"frobnicate"}, 2, "unknown command"},
		{"ocr without input", []string{"ocr", "--mode", "ohttp"}, 2, "no IMAGE, DIR or - given"},
		{"ocr bad format", []string{"ocr", "--format", "xml", "x.png"}, 2, "unknown --format"},
		{"ocr bad doc mode", []string{"ocr", "--doc-mode", "page", "x.png"}, 2, "unknown --doc-mode"},
		{"ocr unknown flag", []string{"ocr", "--nope", "x.png"}, 2, "flag provided but not defined"},
		{"ocr help", []string{"ocr", "-h"}, 0, "Usage: sealctl ocr"},
		{"keygen extra argument", []string{"keygen", "extra"}, 2, "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, err := runCmd(t, nil, tt.args...)
			var code exitCode
			switch {
			case tt.code == 0 && err != nil:
				t.Fatalf("err = %v", err)
			case tt.code != 0 && (!errors.As(err, &code) || int(code) != tt.code):
				t.Fatalf("err = %v, want exit code %d", err, tt.code)
			}
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr = %q, want %q", stderr, tt.want)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	stdout, _, err := runCmd(t, nil, "version")
	if err != nil || !strings.HasPrefix(stdout, "sealctl ") {
		t.Fatalf("stdout = %q, err = %v", stdout, err)
	}
}

func TestEscapeTSV(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"a\tb", `a\tb`},
		{"a\nb\r", `a\nb\r`},
		{`back\slash`, `back\\slash`},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := escapeTSV(tt.in); got != tt.want {
				t.Errorf("escapeTSV(%q) = %q", tt.in, got)
			}
		})
	}
}
