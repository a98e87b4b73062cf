package testkit

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func TestPortsNotHandedOutTwice(t *testing.T) {
	seen := map[int]bool{}
	for range 50 {
		p := FreePort(t)
		if seen[p] {
			t.Fatalf("port %d handed out twice", p)
		}
		seen[p] = true
	}
	if p := FreeUDPAndTCPPort(t); seen[p] {
		t.Fatalf("port %d handed out twice", p)
	}
}

func TestSyncBufferConcurrentWriters(t *testing.T) {
	var b SyncBuffer
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				_, _ = b.Write([]byte("ab"))
			}
		}()
	}
	wg.Wait()
	if len(b.String()) != 1600 || len(b.Bytes()) != 1600 {
		t.Fatalf("%d bytes, want 1600", len(b.String()))
	}
}

func TestVectorAndRepoRoot(t *testing.T) {
	p := filepath.Join(t.TempDir(), "v.json")
	if err := os.WriteFile(p, []byte(`{"a":[1,2]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if v := Vector[map[string][]int](t, p); len(v["a"]) != 2 || v["a"][1] != 2 {
		t.Fatalf("Vector = %v", v)
	}
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "core", "testkit", "testkit.go")); err != nil {
		t.Fatalf("RepoRoot = %s: %v", root, err)
	}
	if got := NeedTool(t, "go", "the Go toolchain"); got == "" {
		t.Fatal("NeedTool found no go")
	}
}
