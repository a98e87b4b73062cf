package main

import (
	"os"
	"strings"
	"testing"

	"github.com/sealocr/sealocr/configs"
	"github.com/sealocr/sealocr/sidecar/internal/config"
)

// TestHelpAndMistakes runs the sidecar's run as a user would: --help and
// --help-config succeed on standard output, and a file with a typo, a value
// of the wrong type, a bad variable and an invalid mode are reported at
// once, each naming what the user wrote and what is accepted.
func TestHelpAndMistakes(t *testing.T) {
	env := map[string]string{"HOME": t.TempDir()}
	getenv := func(k string) string { return env[k] }
	var out, errOut strings.Builder
	if err := run(t.Context(), []string{"--help"}, getenv, &out, &errOut); err != nil {
		t.Fatalf("--help: %v", err)
	}
	for _, want := range []string{"Usage:", "--listen ADDR", "--upstream-timeout DURATION", "--help-config lists all"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--help lacks %q", want)
		}
	}
	out.Reset()
	if err := run(t.Context(), []string{"--help-config"}, getenv, &out, &errOut); err != nil {
		t.Fatalf("--help-config: %v", err)
	}
	var c config.Config
	for _, f := range configs.Fields(&c) {
		if !strings.Contains(out.String(), f.Key+" ") {
			t.Errorf("--help-config lacks %s", f.Key)
		}
		for _, e := range f.Env {
			if !strings.Contains(out.String(), e) {
				t.Errorf("--help-config lacks %s", e)
			}
		}
	}
	if !strings.Contains(out.String(), "SEALOCR_RATE_LIMIT ") {
		t.Error("--help-config lacks SEALOCR_RATE_LIMIT")
	}

	file := t.TempDir() + "/sidecar.yaml"
	if err := os.WriteFile(file, []byte("rate_limt:\n  rate: 5/m\nmax_concurrent: lots\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env["SEALOCR_CONFIG"] = file
	env["SEALOCR_AUTH"] = "yes"
	env["SEALOCR_MAX_CONCURRENT_PER_CLIENT"] = "lots"
	err := run(t.Context(), nil, getenv, &out, &errOut)
	if err == nil {
		t.Fatal("started with four mistakes")
	}
	for _, want := range []string{
		file + ":1: unknown key rate_limt (did you mean rate_limit?)",
		file + `:3: max_concurrent: want a whole number (got "lots")`,
		"SEALOCR_MAX_CONCURRENT_PER_CLIENT=lots: want a whole number",
		`auth.mode "yes": want off, optional or required [from SEALOCR_AUTH=yes]`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}
