package main

import (
	"io"
	"os"
	"path/filepath"
	"regexp"
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
	if err := run(t.Context(), []string{"--help"}, getenv, nil, &out, &errOut); err != nil {
		t.Fatalf("--help: %v", err)
	}
	for _, want := range []string{"Usage:", "--listen ADDR", "--upstream-timeout DURATION", "--help-config lists all"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--help lacks %q", want)
		}
	}
	out.Reset()
	if err := run(t.Context(), []string{"--help-config"}, getenv, nil, &out, &errOut); err != nil {
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
	// The flags' mistakes come first on the command line and are reported
	// with the others (issue 24, row 5: before, a bad flag was reported
	// alone).
	err := run(t.Context(), []string{"--max-body-bytes", "big", "--max-concurent", "3"}, getenv, nil, &out, &errOut)
	if err == nil {
		t.Fatal("started with six mistakes")
	}
	for _, want := range []string{
		file + ":1: unknown key rate_limt (did you mean rate_limit?)",
		file + `:3: max_concurrent: want a whole number (got "lots")`,
		"SEALOCR_MAX_CONCURRENT_PER_CLIENT=lots: want a whole number",
		`auth.mode "yes": want off, optional or required [from SEALOCR_AUTH=yes]`,
		"config: --max-body-bytes=big: want a whole number",
		"config: unknown flag --max-concurent (did you mean --max-concurrent?)",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	// Help, every setting and the version are answered whatever else is
	// wrong (the version when the configuration parses).
	for _, args := range [][]string{{"--max-body-bytes", "big", "--help"}, {"--help-config", "--max-concurent", "3"}} {
		out.Reset()
		if err := run(t.Context(), args, getenv, nil, &out, &errOut); err != nil || !strings.Contains(out.String(), "SEALOCR_MAX_BODY_BYTES") {
			t.Errorf("%q: %v\n%s", args, err, out.String())
		}
	}
	out.Reset()
	if err := run(t.Context(), []string{"--version"}, func(k string) string { return map[string]string{"HOME": env["HOME"]}[k] }, nil, &out, &errOut); err != nil || !strings.HasPrefix(out.String(), "sealocr sidecar ") {
		t.Errorf("--version: %v, %q", err, out.String())
	}
}

// TestHelpFormat: every line of --help that describes a flag reads "DOC
// (env NAME[, ALIAS]; default D)", the default left out only where there is
// none, and the doc before it says no default of its own (issue 24, row 6:
// five flags read "(default …) (env X)").
func TestHelpFormat(t *testing.T) {
	var out strings.Builder
	if err := run(t.Context(), []string{"--help"}, func(string) string { return "" }, nil, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range configs.Fields(&config.Config{}) {
		if len(f.Flags) > 0 {
			n++
		}
	}
	checkHelpFormat(t, out.String(), n)
}

// checkHelpFormat checks the flag lines of a --help text (see
// TestHelpFormat): one per option with a flag (n), --config and the four
// switches.
func checkHelpFormat(t *testing.T, help string, n int) {
	t.Helper()
	line := regexp.MustCompile(`^  (?:-h, )?--[a-z0-9-]+(?: [A-Z]+)?  +(.+)$`)
	tail := regexp.MustCompile(`^(.*) \(env [A-Z0-9_]+(?:, [A-Z0-9_]+)*(?:; default [^()]+)?\)(?:; also --[a-z0-9-]+(?:, --[a-z0-9-]+)*)?$`)
	switches := map[string]bool{"--check-config": true, "--help-config": true, "--version": true, "-h, --help": true}
	_, flags, ok := strings.Cut(help, "\nFlags:\n")
	flags, _, _ = strings.Cut(flags, "\n\n")
	if !ok {
		t.Fatalf("no Flags: section:\n%s", help)
	}
	lines := strings.Split(flags, "\n")
	if len(lines) != n+5 {
		t.Errorf("%d flag lines, want %d", len(lines), n+5)
	}
	for _, l := range lines {
		m := line.FindStringSubmatch(l)
		if m == nil {
			t.Errorf("not a flag line: %q", l)
			continue
		}
		if switches[strings.Fields(strings.TrimSpace(l))[0]] || strings.HasPrefix(strings.TrimSpace(l), "-h, --help") {
			continue
		}
		d := tail.FindStringSubmatch(m[1])
		if d == nil {
			t.Errorf("not in the format \"DOC (env NAME; default D)\": %q", l)
			continue
		}
		if strings.Contains(d[1], "default") || strings.Contains(d[1], "(env") {
			t.Errorf("the description says a default or a variable of its own: %q", l)
		}
	}
}

// TestMisspelledVariable: a SEALOCR_ variable that is nearly a setting is
// named, with the setting, on standard error (serving, or refused) and in
// --check-config's report; its value is never shown; the core's variables
// are not warned about (issue 24, row 5).
func TestMisspelledVariable(t *testing.T) {
	state := t.TempDir()
	env := map[string]string{"HOME": state, "SEALOCR_STATE_DIR": state}
	getenv := func(k string) string { return env[k] }
	environ := []string{"HOME=" + state, "SEALOCR_MAX_CONCURENT=secret-value", "SEALOCR_CORE_WORKERS=2", "SEALOCR_CORE_LISTEN=127.0.0.1:8081"}
	const warning = "config: SEALOCR_MAX_CONCURENT is not a setting (did you mean SEALOCR_MAX_CONCURRENT?)"
	var out, errOut strings.Builder
	if err := run(t.Context(), []string{"--check-config"}, getenv, environ, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "# warning: "+warning+"\n# configuration ok\n") {
		t.Errorf("--check-config does not warn:\n%s", out.String())
	}
	report := out.String()
	out.Reset()
	if err := run(t.Context(), []string{"--max-concurrent", "x"}, getenv, environ, &out, &errOut); err == nil {
		t.Fatal("a bad flag value accepted")
	}
	if !strings.Contains(errOut.String(), "sidecar: warning: "+warning+"\n") {
		t.Errorf("a refused configuration does not warn:\n%s", errOut.String())
	}
	// Serving: the warning is the first log line (the key file that does
	// not parse stops the start after it).
	refused := errOut.String()
	errOut.Reset()
	bad := filepath.Join(state, "bad-keys.yaml")
	if err := os.WriteFile(bad, []byte("keys: ["), 0o600); err != nil {
		t.Fatal(err)
	}
	env["SEALOCR_KEYS_FILE"], env["SEALOCR_LISTEN"], env["SEALOCR_METRICS_LISTEN"] = bad, "127.0.0.1:0", ""
	if err := run(t.Context(), nil, getenv, environ, &out, &errOut); err == nil {
		t.Fatal("started with a key file that does not parse")
	}
	first, _, _ := strings.Cut(errOut.String(), "\n")
	if !strings.Contains(first, `"level":"warn"`) || !strings.Contains(first, warning) {
		t.Errorf("serving does not warn first:\n%s", errOut.String())
	}
	all := report + out.String() + refused + errOut.String()
	if strings.Contains(all, "secret-value") || strings.Contains(all, "SEALOCR_CORE_") || strings.Count(all, "is not a setting") != 3 {
		t.Errorf("a value or the core's variable shown:\n%s", all)
	}
}
