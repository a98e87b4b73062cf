package main

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sealocr/sealocr/sidecar/internal/envelope/psk"
	"github.com/sealocr/sealocr/sidecar/internal/keys"
)

// TestKeygenAdd: `sealctl keygen --add FILE` appends one pre-shared key and
// leaves the rest of the file as it was: the old key still opens what it
// sealed, the OHTTP configurations and the operator's comment stay; an ID
// the file holds is refused without touching it.
func TestKeygenAdd(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "keys.yaml")
	if _, _, err := runCmd(t, nil, "keygen", "--out", file, "--id", "old"); err != nil {
		t.Fatal(err)
	}
	orig, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	edited := append([]byte("# owner: ocr team, ticket 42\n"), orig...)
	if err := os.WriteFile(file, edited, 0o600); err != nil {
		t.Fatal(err)
	}
	before, err := keys.LoadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	stdout, _, err := runCmd(t, nil, "keygen", "--add", file, "--id", "new", "--suite", "sm4-gcm")
	if err != nil || !strings.Contains(stdout, "added pre-shared key new") {
		t.Fatalf("--add: %v %q", err, stdout)
	}
	after, err := keys.LoadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(after.PSKIDs, ",") != "old,new" {
		t.Errorf("PSK IDs %v, want old,new", after.PSKIDs)
	}
	now := time.Now()
	body, _, err := psk.SealRequest(nil, before.PSKKeys[0], http.MethodPost, "/v1/ocr", "image/png", now, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := psk.OpenRequest(after.PSK, http.MethodPost, "/v1/ocr", body, now, 0, psk.NewMemoryReplayCache(4, nil)); err != nil {
		t.Errorf("the old key changed: %v", err)
	}
	if len(after.Public) != len(before.Public) {
		t.Errorf("OHTTP configurations %d, want %d", len(after.Public), len(before.Public))
	}
	data, _ := os.ReadFile(file)
	// Every line of the file stays, in order: the new entry is added.
	rest := strings.Split(string(data), "\n")
	for _, line := range strings.Split(string(edited), "\n") {
		i := slices.Index(rest, line)
		if i < 0 {
			t.Errorf("line %q of the file is gone or moved", line)
			break
		}
		rest = rest[i+1:]
	}
	if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode().Perm())
	}

	if _, _, err := runCmd(t, nil, "keygen", "--add", file, "--id", "old"); err == nil || !strings.Contains(err.Error(), `already holds a pre-shared key with ID "old"`) {
		t.Errorf("duplicate ID: %v", err)
	}
	if again, _ := os.ReadFile(file); !bytes.Equal(again, data) {
		t.Error("a refused --add changed the file")
	}

	seedFile := filepath.Join(dir, "seed.yaml")
	if err := os.WriteFile(seedFile, []byte("seed: "+base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32))+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runCmd(t, nil, "keygen", "--add", seedFile, "--id", "first"); err != nil {
		t.Fatal(err)
	}
	s, err := keys.LoadFile(seedFile)
	if err != nil || len(s.PSKIDs) != 2 || s.PSKIDs[1] != "first" {
		t.Errorf("seed file after --add: %v %v", s, err)
	}
}
