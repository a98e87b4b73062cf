package main

import (
	"bytes"
	"context"
	"io"
	"math"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/sealocr/sealocr/configs"
	"github.com/sealocr/sealocr/core/internal/config"
)

func TestRunFlags(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantOut string
		wantErr string
	}{
		{"version", []string{"--version"}, nil, "sealocr core", ""},
		{"check config", []string{"--check-config"}, map[string]string{"HOME": "/h"}, "configuration ok", ""},
		{"non-loopback refused", []string{"--check-config", "--listen", "0.0.0.0:8081"}, nil, "", "not a loopback address"},
		{"every problem at once", []string{"--check-config", "--workers", "0", "--timeout", "1ms"}, nil, "", "timeout"},
		{"bad env", []string{"--check-config"}, map[string]string{"SEALOCR_CORE_THREADS": "x"}, "", "SEALOCR_CORE_THREADS=x: want a whole number"},
		// A variable that does not parse and one that is out of range: both
		// reported, each naming the variable the user set.
		{"two bad variables", []string{"--check-config"}, map[string]string{"SEALOCR_CORE_WORKERS": "x", "SEALOCR_CORE_QUEUE": "-5"}, "",
			"config: SEALOCR_CORE_WORKERS=x: want a whole number\nconfig: queue -5 out of range 0..10000 [from SEALOCR_CORE_QUEUE=-5]"},
		{"flag typo", []string{"--workres", "2"}, nil, "", "unknown flag --workres (did you mean --workers?)"},
		// Issue 24, row 5: a flag's problem is reported with the file's
		// and the environment's (before, alone).
		{"every source at once", []string{"--queue", "x", "--workres", "2", "--config", "/nonexistent/core.yaml"},
			map[string]string{"SEALOCR_CORE_THREADS": "many"}, "",
			"config: open /nonexistent/core.yaml: no such file or directory\nconfig: SEALOCR_CORE_THREADS=many: want a whole number\n" +
				"config: --queue=x: want a whole number\nconfig: unknown flag --workres (did you mean --workers?); --help lists the flags, --help-config every setting"},
		{"help after a bad flag", []string{"--queue", "x", "--help"}, nil, "--queue N", ""},
		{"help", []string{"--help"}, nil, "core healthcheck [flags]", ""},
		{"short help", []string{"-h"}, nil, "--max-body-bytes N", ""},
		{"every setting", []string{"--help-config"}, nil, "SEALOCR_CORE_UNSAFE_ALLOW_REMOTE_METRICS", ""},
		{"healthcheck without server", []string{"healthcheck", "--listen", "127.0.0.1:1"}, nil, "", "healthcheck"},
		{"missing runtime", []string{"--ort-lib", "/nonexistent/libonnxruntime.so.1", "--listen", "127.0.0.1:0"}, nil, "", "make models"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(context.Background(), tc.args, env(tc.env), nil, &out, &errOut)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !strings.Contains(out.String(), tc.wantOut) {
				t.Fatalf("out %q err %v", out.String(), err)
			}
		})
	}
}

// TestLoggerRedacts checks that the core's logger is the redacting one: a
// payload field, a bearer token and an ID number written through it do not
// reach the output, while the message does.
func TestLoggerRedacts(t *testing.T) {
	const (
		token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjYW5hcnkifQ.c2lnbmF0dXJlLWNhbmFyeQ"
		idNum = "11010519491231002X" // a checksum-valid PRC ID number
		text  = "canary recognized text"
	)
	var buf bytes.Buffer
	log, err := newLogger(config.Default(func(string) string { return "" }), &buf)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("request done", zap.String("text", text), zap.String("authorization", "Bearer "+token),
		zap.String("note", "holder "+idNum))
	_ = log.Sync()
	out := buf.String()
	if !strings.Contains(out, "request done") {
		t.Fatalf("the message is missing: %s", out)
	}
	for _, secret := range []string{token, idNum, text} {
		if strings.Contains(out, secret) {
			t.Errorf("the core's log carries %q: %s", secret, out)
		}
	}
}

// TestMemoryPlan checks the budget derived from GOMEMLIMIT: the Go
// runtime's soft limit lowered by the native reserve, the budget below it,
// a configured budget kept, and a limit too small for the core refused.
func TestMemoryPlan(t *testing.T) {
	old := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(old) })
	tests := []struct {
		name       string
		limit      int64 // GOMEMLIMIT as the runtime read it; 0: unset
		configured int64
		budget     int64
		goLimit    int64
		wantErr    bool
	}{
		{"unset", 0, 0, 0, math.MaxInt64, false},
		{"unset, configured", 0, 300 << 20, 300 << 20, math.MaxInt64, false},
		{"chart's 1 GiB", 1 << 30, 0, 544 << 20, 608 << 20, false},
		{"1 GiB, configured", 1 << 30, 200 << 20, 200 << 20, 608 << 20, false},
		{"too small", 400 << 20, 0, 0, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lim := int64(math.MaxInt64)
			if tc.limit > 0 {
				lim = tc.limit
			}
			debug.SetMemoryLimit(lim)
			budget, goLimit, err := memoryPlan(tc.configured, tc.limit > 0)
			if tc.wantErr {
				if err == nil {
					t.Fatal("accepted a limit below the native reserve")
				}
				return
			}
			if err != nil || budget != tc.budget || goLimit != tc.goLimit || debug.SetMemoryLimit(-1) != tc.goLimit {
				t.Fatalf("got budget %d, Go limit %d (runtime %d), err %v; want %d, %d",
					budget, goLimit, debug.SetMemoryLimit(-1), err, tc.budget, tc.goLimit)
			}
		})
	}
}

// TestHelpFormat: every flag line of --help reads "DOC (env NAME; default
// D)" (issue 24, row 6: --models and --ort-lib read "(default …) (env X)").
func TestHelpFormat(t *testing.T) {
	var out strings.Builder
	if err := run(t.Context(), []string{"--help"}, func(string) string { return "" }, nil, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile(`^  (?:-h, )?--[a-z0-9-]+(?: [A-Z]+)?  +(.+)$`)
	tail := regexp.MustCompile(`^(.*) \(env [A-Z0-9_]+(?:, [A-Z0-9_]+)*(?:; default [^()]+)?\)(?:; also --[a-z0-9-]+(?:, --[a-z0-9-]+)*)?$`)
	_, flags, _ := strings.Cut(out.String(), "\nFlags:\n")
	flags, _, _ = strings.Cut(flags, "\n\n")
	lines := strings.Split(flags, "\n")
	if want := len(configs.Fields(&config.Config{})) + 5; len(lines) != want { // every option has a flag
		t.Errorf("%d flag lines, want %d:\n%s", len(lines), want, out.String())
	}
	for _, l := range lines {
		m := line.FindStringSubmatch(l)
		if m == nil {
			t.Errorf("not a flag line: %q", l)
			continue
		}
		switch strings.Fields(l)[0] {
		case "--check-config", "--help-config", "--version", "-h,":
			continue
		}
		d := tail.FindStringSubmatch(m[1])
		if d == nil {
			t.Errorf("not in the format \"DOC (env NAME; default D)\": %q", l)
		} else if strings.Contains(d[1], "default") || strings.Contains(d[1], "(env") {
			t.Errorf("the description says a default or a variable of its own: %q", l)
		}
	}
}

// TestMisspelledVariable: a SEALOCR_ variable that is nearly one of the
// core's is named with it, never with its value, in --check-config's report
// and on standard error (serving, or refused); the sidecar's variables are
// not warned about (issue 24, row 5).
func TestMisspelledVariable(t *testing.T) {
	getenv := func(k string) string { return map[string]string{"HOME": "/h"}[k] }
	environ := []string{"HOME=/h", "SEALOCR_CORE_WORKRS=secret-value", "SEALOCR_MAX_CONCURRENT=3", "SEALOCR_UPSTREAM=http://127.0.0.1:8081", "SEALOCR_CACHE=/c"}
	const warning = "config: SEALOCR_CORE_WORKRS is not a setting (did you mean SEALOCR_CORE_WORKERS?)"
	var out, errOut strings.Builder
	if err := run(t.Context(), []string{"--check-config"}, getenv, environ, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "# warning: "+warning+"\n# configuration ok\n") {
		t.Errorf("--check-config does not warn:\n%s", out.String())
	}
	if err := run(t.Context(), []string{"--queue", "x"}, getenv, environ, &out, &errOut); err == nil {
		t.Fatal("a bad flag value accepted")
	}
	if !strings.Contains(errOut.String(), "core: warning: "+warning+"\n") {
		t.Errorf("a refused configuration does not warn:\n%s", errOut.String())
	}
	// Serving: the warning is logged before the runtime is loaded.
	refused := errOut.String()
	errOut.Reset()
	if err := run(t.Context(), []string{"--ort-lib", "/nonexistent/libonnxruntime.so.1", "--listen", "127.0.0.1:0"}, getenv, environ, &out, &errOut); err == nil {
		t.Fatal("started without a runtime")
	}
	first, _, _ := strings.Cut(errOut.String(), "\n")
	if !strings.Contains(first, `"level":"warn"`) || !strings.Contains(first, warning) {
		t.Errorf("serving does not warn first:\n%s", errOut.String())
	}
	all := out.String() + refused + errOut.String()
	if strings.Contains(all, "secret-value") || strings.Count(all, "is not a setting") != 3 {
		t.Errorf("a value shown, or another variable warned about:\n%s", all)
	}
}
