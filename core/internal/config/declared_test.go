package config

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/sealocr/sealocr/configs"
)

// TestExampleFile keeps configs/core.yaml in step with the declarations: it
// loads to the defaults, and names every declared key (commented out where
// the default depends on the environment).
func TestExampleFile(t *testing.T) {
	path := filepath.Join("..", "..", "..", "configs", "core.yaml")
	env := envOf(map[string]string{"HOME": "/home/u"})
	c, _, err := Load([]string{"--config", path}, env)
	if err != nil {
		t.Fatal(err)
	}
	if want := Default(env); !reflect.DeepEqual(c, want) {
		t.Errorf("example differs from the defaults:\n got %+v\nwant %+v", c, want)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range configs.Fields(&c) {
		if !regexp.MustCompile(`(?m)^(# )?` + f.Key + `:`).Match(b) {
			t.Errorf("configs/core.yaml lacks %s", f.Key)
		}
		for _, e := range f.Env {
			if !strings.Contains(string(b), e) {
				t.Errorf("configs/core.yaml does not name %s", e)
			}
		}
	}
}

// TestREADMETable checks the README's table of core flags against the
// declarations: every declared flag and variable is listed, every listed one
// is declared for the same option, and setting a variable to the default
// the README gives changes nothing.
func TestREADMETable(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	tick := regexp.MustCompile("`([^`]*)`")
	home := map[string]string{"HOME": "/home/u"}
	listed := map[string]bool{}
	fields := configs.Fields(&Config{})
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "| `--") {
			continue
		}
		cells := strings.Split(line, "|")
		var flags, envs []string
		for _, m := range tick.FindAllStringSubmatch(cells[1], -1) {
			flags = append(flags, strings.Fields(strings.TrimPrefix(m[1], "--"))[0])
		}
		for _, m := range tick.FindAllStringSubmatch(cells[2], -1) {
			envs = append(envs, m[1])
		}
		if slices.Contains([]string{"config", "check-config", "help-config", "version"}, flags[0]) {
			continue
		}
		i := slices.IndexFunc(fields, func(f configs.Field) bool { return slices.Contains(f.Flags, flags[0]) })
		if i < 0 {
			t.Errorf("README lists --%s, which is not declared", flags[0])
			continue
		}
		f := fields[i]
		for _, fl := range flags {
			listed["--"+fl] = true
			if !slices.Contains(f.Flags, fl) {
				t.Errorf("README lists --%s for %s", fl, f.Key)
			}
		}
		for _, e := range envs {
			listed[e] = true
			if !slices.Contains(f.Env, e) {
				t.Errorf("README lists %s for %s", e, f.Key)
			}
		}
		if m := tick.FindStringSubmatch(cells[3]); m != nil && len(envs) > 0 {
			def := strings.Replace(m[1], "~", "/home/u", 1)
			env := map[string]string{"HOME": "/home/u", envs[0]: def}
			c, _, err := Load(nil, envOf(env))
			if err != nil || !reflect.DeepEqual(c, Default(envOf(home))) {
				t.Errorf("README default %s=%s is not the default (%v)", envs[0], m[1], err)
			}
		}
	}
	for _, f := range fields {
		for _, fl := range f.Flags {
			if !listed["--"+fl] {
				t.Errorf("README does not list --%s", fl)
			}
		}
		for _, e := range f.Env {
			if !listed[e] {
				t.Errorf("README does not list %s", e)
			}
		}
	}
}

// TestDocumentedNames: every documented name, the older ones included,
// still sets its option.
func TestDocumentedNames(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		file string
		want func(*Config)
	}{
		{"listen flag", []string{"--listen", "127.0.0.1:1"}, nil, "", func(c *Config) { c.Listen = "127.0.0.1:1" }},
		{"listen env", nil, map[string]string{"SEALOCR_CORE_LISTEN": "127.0.0.1:2"}, "", func(c *Config) { c.Listen = "127.0.0.1:2" }},
		{"listen key", nil, nil, "listen: 127.0.0.1:3", func(c *Config) { c.Listen = "127.0.0.1:3" }},
		{"metrics listen flag", []string{"--metrics-listen", "127.0.0.1:4"}, nil, "", func(c *Config) { c.MetricsListen = "127.0.0.1:4" }},
		{"metrics listen env", nil, map[string]string{"SEALOCR_CORE_METRICS_LISTEN": "127.0.0.1:5"}, "", func(c *Config) { c.MetricsListen = "127.0.0.1:5" }},
		{"metrics listen key", nil, nil, "metrics_listen: \"\"", func(c *Config) { c.MetricsListen = "" }},
		{"remote metrics env", nil, map[string]string{"SEALOCR_CORE_UNSAFE_ALLOW_REMOTE_METRICS": "true"}, "", func(c *Config) { c.UnsafeAllowRemoteMetrics = true }},
		{"remote metrics key", nil, nil, "unsafe_allow_remote_metrics: true", func(c *Config) { c.UnsafeAllowRemoteMetrics = true }},
		{"models", []string{"--models", "/m"}, map[string]string{"SEALOCR_ORT_LIB": "/o.so"}, "", func(c *Config) { c.Models, c.ORTLib = "/m", "/o.so" }},
		{"models keys", nil, nil, "models: /m\nort_lib: /o.so", func(c *Config) { c.Models, c.ORTLib = "/m", "/o.so" }},
		{"models env, ort flag", []string{"--ort-lib", "/f.so"}, map[string]string{"SEALOCR_MODELS": "/e"}, "", func(c *Config) { c.Models, c.ORTLib = "/e", "/f.so" }},
		{"numbers by flag", []string{"--threads", "2", "--workers", "3", "--queue", "4", "--max-body-bytes", "5000", "--max-pixels", "6", "--timeout", "7s"}, nil, "",
			func(c *Config) {
				c.Threads, c.Workers, c.Queue, c.MaxBodyBytes, c.MaxPixels, c.Timeout = 2, 3, 4, 5000, 6, 7e9
			}},
		{"numbers by env", nil, map[string]string{"SEALOCR_CORE_THREADS": "2", "SEALOCR_CORE_WORKERS": "3", "SEALOCR_CORE_QUEUE": "4",
			"SEALOCR_CORE_MAX_BODY_BYTES": "5000", "SEALOCR_CORE_MAX_PIXELS": "6", "SEALOCR_CORE_TIMEOUT": "7s"}, "",
			func(c *Config) {
				c.Threads, c.Workers, c.Queue, c.MaxBodyBytes, c.MaxPixels, c.Timeout = 2, 3, 4, 5000, 6, 7e9
			}},
		{"numbers by key", nil, nil, "threads: 2\nworkers: 3\nqueue: 4\nmax_body_bytes: 5000\nmax_pixels: 6\ntimeout: 7s",
			func(c *Config) {
				c.Threads, c.Workers, c.Queue, c.MaxBodyBytes, c.MaxPixels, c.Timeout = 2, 3, 4, 5000, 6, 7e9
			}},
		{"logs by flag", []string{"--log-level", "debug", "--log-format", "console"}, nil, "", func(c *Config) { c.LogLevel, c.LogFormat = "debug", "console" }},
		{"logs by env", nil, map[string]string{"SEALOCR_LOG_LEVEL": "warn", "SEALOCR_LOG_FORMAT": "console"}, "", func(c *Config) { c.LogLevel, c.LogFormat = "warn", "console" }},
		{"logs by key", nil, nil, "log_level: error\nlog_format: console", func(c *Config) { c.LogLevel, c.LogFormat = "error", "console" }},
		{"config env", nil, map[string]string{"SEALOCR_CORE_CONFIG": "FILE"}, "workers: 9", func(c *Config) { c.Workers = 9 }},
		{"remote listen flag", []string{"--unsafe-allow-remote-listen"}, nil, "", func(c *Config) { c.UnsafeAllowRemoteListen = true }},
		{"non-loopback flag", []string{"--unsafe-allow-non-loopback"}, nil, "", func(c *Config) { c.UnsafeAllowRemoteListen = true }},
		{"remote listen env", nil, map[string]string{"SEALOCR_CORE_UNSAFE_ALLOW_REMOTE_LISTEN": "true"}, "", func(c *Config) { c.UnsafeAllowRemoteListen = true }},
		{"non-loopback env", nil, map[string]string{"SEALOCR_CORE_UNSAFE_ALLOW_NON_LOOPBACK": "true"}, "", func(c *Config) { c.UnsafeAllowRemoteListen = true }},
		{"remote listen key", nil, nil, "unsafe_allow_remote_listen: true", func(c *Config) { c.UnsafeAllowRemoteListen = true }},
		{"non-loopback key", nil, nil, "unsafe_allow_non_loopback: true", func(c *Config) { c.UnsafeAllowRemoteListen = true }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"HOME": "/home/u"}
			for k, v := range tc.env {
				env[k] = v
			}
			args := tc.args
			if tc.file != "" {
				p := filepath.Join(t.TempDir(), "core.yaml")
				if err := os.WriteFile(p, []byte(tc.file+"\n"), 0o600); err != nil {
					t.Fatal(err)
				}
				if env["SEALOCR_CORE_CONFIG"] == "FILE" {
					env["SEALOCR_CORE_CONFIG"] = p
				} else {
					args = append([]string{"--config", p}, args...)
				}
			}
			c, _, err := Load(args, envOf(env))
			if err != nil {
				t.Fatal(err)
			}
			want := Default(envOf(env))
			tc.want(&want)
			if !reflect.DeepEqual(c, want) {
				t.Errorf("got %+v\nwant %+v", c, want)
			}
		})
	}
}

// TestCheckConfigDump: the dump holds every key and loads back.
func TestCheckConfigDump(t *testing.T) {
	c := Default(envOf(map[string]string{"HOME": "/home/u"}))
	c.Workers = 5
	var m map[string]any
	if err := yaml.Unmarshal([]byte(c.Dump()), &m); err != nil {
		t.Fatal(err)
	}
	if len(m) != len(configs.Fields(&c)) || m["workers"] != 5 || m["timeout"] != "30s" {
		t.Errorf("dump %v", m)
	}
	p := filepath.Join(t.TempDir(), "dump.yaml")
	if err := os.WriteFile(p, []byte(c.Dump()), 0o600); err != nil {
		t.Fatal(err)
	}
	back, _, err := Load([]string{"--config", p}, envOf(nil))
	if err != nil || !reflect.DeepEqual(back, c) {
		t.Errorf("round trip %+v, %v", back, err)
	}
}

// TestOneDocument: the core, like the sidecar, refuses a file of more than
// one YAML document (it used to read the first and ignore the rest).
func TestOneDocument(t *testing.T) {
	p := filepath.Join(t.TempDir(), "core.yaml")
	if err := os.WriteFile(p, []byte("workers: 2\n---\nworkers: 3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Load([]string{"--config", p}, envOf(nil)); err == nil || !strings.Contains(err.Error(), "want one YAML document") {
		t.Errorf("Load = %v", err)
	}
}
