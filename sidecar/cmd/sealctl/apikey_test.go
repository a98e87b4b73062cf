package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealocr/sealocr/sidecar/internal/auth"
)

// TestAPIKeyNew: the key `sealctl apikey new` prints, and the entry it
// prints saved as the API key file, authenticate that key under its ID in
// the sidecar's own authenticator; a second call makes another key.
func TestAPIKeyNew(t *testing.T) {
	stdout, _, err := runCmd(t, nil, "apikey", "new", "--id", "partner-a")
	if err != nil {
		t.Fatal(err)
	}
	var key string
	for _, l := range strings.Split(stdout, "\n") {
		if f := strings.TrimSpace(l); strings.HasPrefix(f, apiKeyPrefix) {
			key = f
		}
	}
	i := strings.Index(stdout, "keys:\n")
	if key == "" || i < 0 {
		t.Fatalf("no key or entry in %q", stdout)
	}
	if len(key) < len(apiKeyPrefix)+43 {
		t.Errorf("key %d characters, want 256 bits", len(key))
	}
	file := filepath.Join(t.TempDir(), "api-keys.yaml")
	if err := os.WriteFile(file, []byte(stdout[i:]), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := auth.New(context.Background(), auth.Options{APIKeysFile: file})
	if err != nil {
		t.Fatal(err)
	}
	id, err := a.Authenticate(context.Background(), http.Header{"Authorization": {"Bearer " + key}})
	if err != nil || id.Subject != "partner-a" {
		t.Errorf("the printed key authenticates as %+v, %v; want partner-a", id, err)
	}
	if _, err := a.Authenticate(context.Background(), http.Header{"Authorization": {"Bearer " + key + "x"}}); err == nil {
		t.Error("another key authenticated")
	}
	if strings.Contains(stdout[i:], key) {
		t.Error("the key-file entry holds the key itself")
	}
	again, _, err := runCmd(t, nil, "apikey", "new")
	if err != nil || strings.Contains(again, key) || !strings.Contains(again, "id: key-") {
		t.Errorf("second key: %v %q", err, again)
	}
	if _, _, err := runCmd(t, nil, "apikey", "new", "--id", "has space"); err == nil {
		t.Error("an ID with a space was accepted")
	}
	if _, _, err := runCmd(t, nil, "apikey"); err == nil {
		t.Error("apikey without a subcommand succeeded")
	}
}
