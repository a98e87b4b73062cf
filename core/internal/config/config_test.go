package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "core.yaml")
	if err := os.WriteFile(file, []byte("listen: 127.0.0.1:9001\nworkers: 3\ntimeout: 5s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := envOf(map[string]string{"HOME": dir, "SEALOCR_CORE_WORKERS": "4", "SEALOCR_MODELS": "/m"})
	c, _, err := Load([]string{"--config", file, "--models", "/flag"}, env)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:9001" { // file over default
		t.Errorf("listen %q", c.Listen)
	}
	if c.Workers != 4 { // env over file
		t.Errorf("workers %d", c.Workers)
	}
	if c.Models != "/flag" { // flag over env
		t.Errorf("models %q", c.Models)
	}
	if c.Timeout != 5*time.Second {
		t.Errorf("timeout %s", c.Timeout)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestDefaults(t *testing.T) {
	c, _, err := Load(nil, envOf(map[string]string{"HOME": "/home/u"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:8081" || c.Models != "/home/u/.cache/sealocr/models" ||
		c.ORTLib != "/home/u/.cache/sealocr/onnxruntime/libonnxruntime.so.1" {
		t.Fatalf("defaults %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestRejects(t *testing.T) {
	dir := t.TempDir()
	unknown := filepath.Join(dir, "u.yaml")
	if err := os.WriteFile(unknown, []byte("listen: 127.0.0.1:1\nlisten_any: true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Load([]string{"--config", unknown}, envOf(nil)); err == nil || !strings.Contains(err.Error(), "listen_any") {
		t.Fatalf("unknown key accepted: %v", err)
	}
	if _, _, err := Load(nil, envOf(map[string]string{"SEALOCR_CORE_WORKERS": "many"})); err == nil {
		t.Fatal("bad env value accepted")
	}
	c := Default(envOf(nil))
	c.Listen = "0.0.0.0:8081"
	c.Workers = 0
	c.LogFormat = "xml"
	err := c.Validate()
	if err == nil {
		t.Fatal("invalid config accepted")
	}
	for _, want := range []string{"not a loopback", "workers", "log_format"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not report %q", err, want)
		}
	}
	c.Workers, c.LogFormat = 1, "json"
	c.UnsafeAllowRemoteListen = true
	if err := c.Validate(); err != nil {
		t.Fatalf("unsafe_allow_non_loopback ignored: %v", err)
	}
	for _, tc := range []struct{ addr, want string }{
		{"0.0.0.0:9091", "metrics_listen \"0.0.0.0:9091\" is not a loopback address"},
		{"0.0.0.0:8081", "must not be on the API port"},
		{"nope", "metrics_listen \"nope\""},
	} {
		c.MetricsListen = tc.addr
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("metrics_listen %q: %v, want %q", tc.addr, err, tc.want)
		}
	}
	c.MetricsListen, c.UnsafeAllowRemoteMetrics = "0.0.0.0:9091", true
	if err := c.Validate(); err != nil {
		t.Fatalf("unsafe_allow_remote_metrics ignored: %v", err)
	}
}

func TestIsLoopback(t *testing.T) {
	for host, want := range map[string]bool{"127.0.0.1": true, "127.8.0.1": true, "::1": true, "localhost": true,
		"0.0.0.0": false, "": false, "10.0.0.1": false, "example.com": false} {
		if got := IsLoopback(host); got != want {
			t.Errorf("IsLoopback(%q) = %v", host, got)
		}
	}
}

// TestEnvWarnings: the core's own variables and SEALOCR_CACHE are settings;
// a near miss of one is named with it (issue 24, row 5).
func TestEnvWarnings(t *testing.T) {
	var environ []string
	for _, e := range append(EnvVars(), ConfigEnv, "SEALOCR_CACHE") {
		environ = append(environ, e+"=x")
	}
	if got := EnvWarnings(environ); got != nil {
		t.Errorf("settings warned about: %q", got)
	}
	got := EnvWarnings(append(environ, "SEALOCR_CORE_TIMOUT=5s", "SEALOCR_MODEL=/m"))
	want := []string{
		"config: SEALOCR_CORE_TIMOUT is not a setting (did you mean SEALOCR_CORE_TIMEOUT?)",
		"config: SEALOCR_MODEL is not a setting (did you mean SEALOCR_MODELS?)",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}
