package keys

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sealocr/sealocr/sidecar/internal/envelope/legacycbc"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/psk"
)

func TestGenerateAndParse(t *testing.T) {
	data, err := Generate("svc-1")
	if err != nil {
		t.Fatal(err)
	}
	s, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.PSKKeys) != 1 || s.PSKIDs[0] != "svc-1" || s.OHTTP == nil || len(s.Public) != 2 {
		t.Fatalf("set %+v", s)
	}
	if _, ok := s.PSK.Lookup("svc-1"); !ok {
		t.Fatal("psk key not found")
	}
	// Keys never print.
	if strings.Contains(fmt.Sprintf("%v %+v", s.PSKKeys[0], s), "secret") {
		t.Fatal("key material printed")
	}
}

func TestParseRejects(t *testing.T) {
	for name, in := range map[string]string{
		"unknown key":   "psk: []\nextra: 1\n",
		"bad base64":    "psk:\n  - id: a\n    secret: '***'\n",
		"short secret":  "psk:\n  - id: a\n    secret: AAAA\n",
		"duplicate id":  "psk:\n  - id: a\n    secret: " + strings.Repeat("A", 43) + "=\n  - id: a\n    secret: " + strings.Repeat("B", 43) + "=\n",
		"no keys":       "psk: []\n",
		"bad ohttp pem": "ohttp: |\n  -----BEGIN OHTTP PRIVATE KEY CONFIG-----\n  AAAA\n  -----END OHTTP PRIVATE KEY CONFIG-----\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(in))
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("got %v", err)
			}
			if strings.Contains(err.Error(), strings.Repeat("A", 43)) {
				t.Fatal("error quotes key material")
			}
		})
	}
}

func TestLegacyEnv(t *testing.T) {
	data, _ := Generate("a")
	s, _ := Parse(data)
	if err := s.WithLegacyEnv("too short"); !errors.Is(err, ErrInvalid) || strings.Contains(err.Error(), "too short") {
		t.Fatalf("got %v", err)
	}
	if err := s.WithLegacyEnv(strings.Repeat("x", 32)); err != nil || len(s.Legacy) != 1 {
		t.Fatalf("got %v, %d keys", err, len(s.Legacy))
	}
}

func TestEnsureDevFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "keys.yaml")
	created, err := EnsureDevFile(path)
	if err != nil || !created {
		t.Fatalf("created=%v err=%v", created, err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v %v", fi.Mode(), err)
	}
	before, _ := os.ReadFile(path)
	if created, err := EnsureDevFile(path); err != nil || created {
		t.Fatalf("second call: created=%v err=%v", created, err)
	}
	after, _ := os.ReadFile(path)
	if string(before) != string(after) {
		t.Fatal("existing key file replaced")
	}
}

// TestStoreReload covers a reload that adds a key, a broken edit that keeps
// the previous keys, and a Kubernetes-style symlink swap seen by Watch.
func TestStoreReload(t *testing.T) {
	dir := t.TempDir()
	data1, _ := Generate("one")
	data2, _ := Generate("two")
	// Kubernetes layout: keys.yaml -> ..data/keys.yaml, ..data -> ..v1
	for _, v := range []struct {
		dir  string
		data []byte
	}{{"..v1", data1}, {"..v2", data2}} {
		if err := os.MkdirAll(filepath.Join(dir, v.dir), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, v.dir, "keys.yaml"), v.data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("..v1", filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "keys.yaml")
	if err := os.Symlink("..data/keys.yaml", path); err != nil {
		t.Fatal(err)
	}
	s, err := NewStore(path, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Current().PSKIDs[0] != "one" {
		t.Fatal("initial keys")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = s.Watch(ctx) }()
	time.Sleep(200 * time.Millisecond) // let the watcher start

	// Atomic swap of the ..data link, as the kubelet does.
	tmp := filepath.Join(dir, "..data_tmp")
	if err := os.Symlink("..v2", tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.Current().PSKIDs[0] != "two" && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if s.Current().PSKIDs[0] != "two" {
		t.Fatal("symlink swap not picked up")
	}

	// A broken file keeps the keys in force.
	if err := os.WriteFile(filepath.Join(dir, "..v2", "keys.yaml"), []byte("psk: [\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.Reload(); err == nil {
		t.Fatal("broken file accepted")
	}
	if s.Current().PSKIDs[0] != "two" {
		t.Fatal("previous keys lost after a bad edit")
	}
}

// TestSuites covers the suite field: each suite's key size, the default, the
// legacy flag (AES only), and GenerateSuite.
func TestSuites(t *testing.T) {
	b16 := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("\x01", 16)))
	b32 := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("\x01", 32)))
	entry := func(suite, secret string, legacy bool) string {
		s := "psk:\n  - id: k\n    secret: " + secret + "\n"
		if suite != "" {
			s += "    suite: " + suite + "\n"
		}
		if legacy {
			s += "    legacy_cbc: true\n"
		}
		return s
	}
	for _, tt := range []struct {
		name   string
		in     string
		suite  psk.Suite
		ok     bool
		legacy int
	}{
		{"default is aes-256-gcm", entry("", b32, false), psk.SuiteAES256GCM, true, 0},
		{"aes-256-gcm", entry("aes-256-gcm", b32, false), psk.SuiteAES256GCM, true, 0},
		{"aes with legacy_cbc (a legacy key is never a PSK secret)", entry("aes-256-gcm", b32, true), 0, false, 0},
		{"sm4-gcm", entry("sm4-gcm", b16, false), psk.SuiteSM4GCM, true, 0},
		{"sm4-gcm-sm3", entry("sm4-gcm-sm3", b16, false), psk.SuiteSM4GCMSM3, true, 0},
		{"sm4 with a 32-byte secret", entry("sm4-gcm", b32, false), 0, false, 0},
		{"aes with a 16-byte secret", entry("", b16, false), 0, false, 0},
		{"sm4 with legacy_cbc", entry("sm4-gcm", b16, true), 0, false, 0},
		{"unknown suite", entry("c2VjcmV0LWluLXRoZS13cm9uZy1maWVsZA", b16, false), 0, false, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse([]byte(tt.in))
			if !tt.ok {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("got %v", err)
				}
				if strings.Contains(err.Error(), "c2VjcmV0") || strings.Contains(err.Error(), b16) {
					t.Fatalf("error quotes the file: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := s.PSKKeys[0].Suite(); got != tt.suite {
				t.Fatalf("suite %v, want %v", got, tt.suite)
			}
			if len(s.Legacy) != tt.legacy {
				t.Fatalf("%d legacy keys", len(s.Legacy))
			}
		})
	}
	for _, suite := range psk.Suites() {
		t.Run("generate "+suite.String(), func(t *testing.T) {
			data, err := GenerateSuite("g", suite)
			if err != nil {
				t.Fatal(err)
			}
			if named := strings.Contains(string(data), "suite:"); named != (suite != psk.DefaultSuite) {
				t.Fatalf("suite written: %v\n%s", named, data)
			}
			s, err := Parse(data)
			if err != nil {
				t.Fatal(err)
			}
			if s.PSKKeys[0].Suite() != suite {
				t.Fatalf("suite %v", s.PSKKeys[0].Suite())
			}
		})
	}
	if _, err := GenerateSuite("g", psk.Suite(0)); !errors.Is(err, ErrInvalid) {
		t.Fatalf("zero suite: %v", err)
	}
}

// TestLegacySection: legacy keys have their own section, per-key algorithm
// and MAC policy, and are never also a PSK secret (from the file or from
// AES_SECRET_KEY).
func TestLegacySection(t *testing.T) {
	pskSecret := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("p", 32)))
	head := "psk:\n  - id: k\n    secret: " + pskSecret + "\n"
	legacy := func(fields string) string { return head + "legacy:\n  - id: old\n" + fields }
	b32 := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("L", 32)))
	b16 := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("S", 16)))
	for _, tt := range []struct {
		name, in string
		ok       bool
		alg      string
		mac      bool
	}{
		{"aes default", legacy("    secret: " + b32 + "\n"), true, legacycbc.Algorithm, false},
		{"aes mac required", legacy("    secret: " + b32 + "\n    legacy_mac: required\n"), true, legacycbc.Algorithm, true},
		{"aes mac optional", legacy("    secret: " + b32 + "\n    legacy_mac: optional\n"), true, legacycbc.Algorithm, false},
		{"sm4", legacy("    secret: " + b16 + "\n    algorithm: SM4-CBC\n"), true, legacycbc.AlgorithmSM4, false},
		{"sm4 with 32 bytes", legacy("    secret: " + b32 + "\n    algorithm: SM4-CBC\n"), false, "", false},
		{"aes with 16 bytes", legacy("    secret: " + b16 + "\n"), false, "", false},
		{"unknown algorithm", legacy("    secret: " + b32 + "\n    algorithm: DES-CBC\n"), false, "", false},
		{"unknown mac policy", legacy("    secret: " + b32 + "\n    legacy_mac: sometimes\n"), false, "", false},
		{"same as a PSK secret", legacy("    secret: " + pskSecret + "\n"), false, "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse([]byte(tt.in))
			if !tt.ok {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("got %v, want ErrInvalid", err)
				}
				for _, secret := range []string{b32, b16, pskSecret} {
					if strings.Contains(err.Error(), secret) {
						t.Fatalf("error quotes a secret: %v", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Legacy) != 1 || s.Legacy[0].Algorithm() != tt.alg || s.Legacy[0].MACRequired() != tt.mac {
				t.Fatalf("got %d keys %v", len(s.Legacy), s.Legacy)
			}
		})
	}
	t.Run("AES_SECRET_KEY equal to a PSK secret", func(t *testing.T) {
		s, err := Parse([]byte(head))
		if err != nil {
			t.Fatal(err)
		}
		err = s.WithLegacyEnv(strings.Repeat("p", 32))
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "PSK secret") || strings.Contains(err.Error(), "pppp") {
			t.Fatalf("got %v", err)
		}
		if err := s.WithLegacyEnvMAC(strings.Repeat("q", 32), true); err != nil || !s.Legacy[0].MACRequired() {
			t.Fatalf("got %v", err)
		}
	})
}
