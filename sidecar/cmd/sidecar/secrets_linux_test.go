package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// canarySecret stands for a secret or password an operator put in the wrong
// place. Every 4-character window of it holds one of !$&*;~, so finding one
// in a process's output is the secret leaking, not a coincidence of hex IDs.
const canarySecret = "Qz!Kx$Vm&Rp*Tw;Jb!Ln~Hy$"

// leaked returns the first 4-character piece of secret found in out, or "".
func leaked(out, secret string) string {
	for i := 0; i+4 <= len(secret); i++ {
		if strings.Contains(out, secret[i:i+4]) {
			return secret[i : i+4]
		}
	}
	return ""
}

// runToExit starts a sidecar process with env and waits for it to exit,
// returning its output; it fails the test when the process keeps running.
func runToExit(t *testing.T, env map[string]string) string {
	t.Helper()
	r := newReplica(t, "sidecar", env, nil)
	r.env["SEALOCR_STATE_DIR"] = t.TempDir()
	r.start(t)
	select {
	case <-r.done:
	case <-time.After(30 * time.Second):
		r.stop(t)
		t.Fatalf("the sidecar did not exit\n%s", tail(r.log()))
	}
	if r.proc.Cmd.ProcessState.Success() {
		t.Errorf("the sidecar exited 0\n%s", tail(r.out.String()))
	}
	return r.out.String()
}

// TestSecretsNeverEchoed plays an operator's mistakes against real sidecar
// processes (audit findings #9 and #11): a secret pasted into a key-file
// field of another type, at start and at a hot reload, and passwords in the
// URLs the configuration validates (tls.acme.on_demand_ask, tls.acme.ca,
// auth.jwt.jwks_url). The errors say where (line and column, the setting),
// and no 4-character piece of the secret appears in any output. Before,
// yaml.v3's type error quoted the value ("cannot unmarshal !!str `Qz!Kx$V...`")
// and the URLs were printed as given.
func TestSecretsNeverEchoed(t *testing.T) {
	_, _, env, client := sharedSetup(t)
	bad := map[string]string{
		"psk is a string":      "psk: \"" + canarySecret + "\"\n",
		"seed is a list":       "seed:\n  - " + canarySecret + "\n",
		"secret is a mapping":  "psk:\n  - id: a\n    secret:\n      value: \"" + canarySecret + "\"\n",
		"the whole file":       "\"" + canarySecret + "\"\n",
		"unknown key":          "psk:\n  - id: a\n    " + canarySecret + ": x\n",
		"not yaml":             "psk: [\"" + canarySecret + "\"\n",
		"ohttp is a list":      "ohttp:\n  - \"" + canarySecret + "\"\n",
		"secret is not base64": "psk:\n  - id: a\n    secret: \"" + canarySecret + "\"\n",
	}
	for name, content := range bad {
		t.Run("start, "+name, func(t *testing.T) {
			f := filepath.Join(t.TempDir(), "keys.yaml")
			if err := os.WriteFile(f, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			e := map[string]string{"SEALOCR_KEYS_FILE": f}
			for k, v := range env {
				if k != "SEALOCR_KEYS_FILE" {
					e[k] = v
				}
			}
			out := runToExit(t, e)
			if p := leaked(out, canarySecret); p != "" {
				t.Errorf("output holds %q of the secret:\n%s", p, out)
			}
			if !strings.Contains(out, "keys.yaml") || !strings.Contains(out, "invalid key file") {
				t.Errorf("the error does not name the key file:\n%s", out)
			}
			if name != "secret is not base64" && !strings.Contains(out, "line ") {
				t.Errorf("the error gives no line:\n%s", out)
			}
		})
	}

	t.Run("reload", func(t *testing.T) {
		keyFile := env["SEALOCR_KEYS_FILE"]
		good, err := os.ReadFile(keyFile)
		if err != nil {
			t.Fatal(err)
		}
		r := startReplica(t, "reload", env, client)
		r.waitHealthy(t, 60*time.Second)
		if err := os.WriteFile(keyFile, []byte(bad["psk is a string"]), 0o600); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(20 * time.Second)
		for !strings.Contains(r.log(), "reload failed") {
			if time.Now().After(deadline) {
				t.Fatalf("no reload failure logged:\n%s", tail(r.log()))
			}
			time.Sleep(100 * time.Millisecond)
		}
		if p := leaked(r.log(), canarySecret); p != "" {
			t.Errorf("the reload log holds %q of the secret:\n%s", p, tail(r.log()))
		}
		if !strings.Contains(r.log(), "line 1, column 6") {
			t.Errorf("the reload log does not say where:\n%s", tail(r.log()))
		}
		_ = os.WriteFile(keyFile, good, 0o600)
	})

	t.Run("URLs with passwords", func(t *testing.T) {
		e := map[string]string{}
		for k, v := range env {
			e[k] = v
		}
		e["SEALOCR_TLS_MODE"] = "acme"
		e["SEALOCR_DOMAINS"] = "ocr.example.com"
		e["SEALOCR_ACME_ON_DEMAND_ASK"] = "ftp://ask:" + canarySecret + "@ask.example/check"
		e["SEALOCR_ACME_CA"] = "ldap://acme:" + canarySecret + "@ca.example/dir"
		e["SEALOCR_AUTH_JWKS_URL"] = "http://jwks:" + canarySecret + "@idp.example/jwks?token=" + canarySecret
		out := runToExit(t, e)
		if p := leaked(out, canarySecret); p != "" {
			t.Errorf("output holds %q of the password:\n%s", p, out)
		}
		for _, want := range []string{"tls.acme.on_demand_ask", "tls.acme.ca", "auth.jwt.jwks_url"} {
			if !strings.Contains(out, want) {
				t.Errorf("no error about %s:\n%s", want, out)
			}
		}
	})
}

// TestKeyFileWritableByOthers (audit finding #14): a key file that group or
// others may write is refused at start and at a hot reload, as a TLS key
// readable by them is; before, it was loaded and reloaded without a word,
// so a local user could add a key of their own. Read bits stay allowed (a
// Kubernetes Secret is mounted 0644).
func TestKeyFileWritableByOthers(t *testing.T) {
	keyFile, _, env, client := sharedSetup(t)
	for _, mode := range []os.FileMode{0o666, 0o620, 0o602} {
		t.Run("start "+mode.String(), func(t *testing.T) {
			if err := os.Chmod(keyFile, mode); err != nil {
				t.Fatal(err)
			}
			out := runToExit(t, env)
			if !strings.Contains(out, "group or others may write it; chmod 600 it") {
				t.Errorf("the refusal does not say what to do:\n%s", tail(out))
			}
		})
	}
	if err := os.Chmod(keyFile, 0o644); err != nil {
		t.Fatal(err)
	}
	r := startReplica(t, "modes", env, client)
	r.waitHealthy(t, 60*time.Second)
	// A reload of a file made writable by others is refused; the keys in
	// force stay.
	b, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	tmp := keyFile + ".new"
	if err := os.WriteFile(tmp, append([]byte("# swapped\n"), b...), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(tmp, 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, keyFile); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(r.log(), "reload failed") {
		if time.Now().After(deadline) {
			t.Fatalf("a key file writable by others was reloaded without a word:\n%s", tail(r.log()))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(r.log(), "group or others may write it") {
		t.Errorf("the reload failure does not say why:\n%s", tail(r.log()))
	}
}
