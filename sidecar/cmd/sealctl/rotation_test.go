package main

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/sealocr/sealocr/sidecar/client/clienttest"
)

// TestOCRAcrossKeyRotation: sealctl in OHTTP mode reads a folder while the
// gateway's key configuration changes under it (after the first file):
// the next file is refused as sealed for an unknown key, sealctl fetches
// the key list once more, seals that file afresh and goes on; every file
// is answered and nothing is reported as failed.
func TestOCRAcrossKeyRotation(t *testing.T) {
	var (
		srv  *clienttest.Server
		once sync.Once
	)
	srv = clienttest.NewServer(t, func(ctx context.Context, r clienttest.Request) (int, string, []byte) {
		once.Do(func() {
			if _, err := srv.RotateOHTTPKeys(); err != nil {
				t.Error(err)
			}
		})
		return clienttest.CannedCore(ctx, r)
	})
	dir := t.TempDir()
	var files []string
	for _, name := range []string{"a.png", "b.png", "c.png"} {
		files = append(files, writeFile(t, filepath.Join(dir, name), pngBytes(len(name))))
	}
	stdout, stderr, err := runCmd(t, nil, "ocr", "--server", srv.URL, "--ca", srv.CAFile, "--keys", srv.KeysFile,
		"--mode", "ohttp", "--concurrency", "1", dir)
	if err != nil {
		t.Fatalf("err = %v, stderr = %s", err, stderr)
	}
	for _, f := range files {
		if !strings.Contains(stdout, "==> "+f+" <==\nhello\nworld\n") {
			t.Errorf("no answer for %s in %q", f, stdout)
		}
	}
	if _, n := srv.LastRequest(); n != 3 {
		t.Errorf("%d requests reached the core, want 3", n)
	}
	if n := srv.KeyListFetches(); n != 2 {
		t.Errorf("the key list was fetched %d times, want 2 (at start, and once after the refusal)", n)
	}
}
