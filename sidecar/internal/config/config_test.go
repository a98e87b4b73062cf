package config

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/sealocr/sealocr/configs"
	coreapi "github.com/sealocr/sealocr/core/api"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/psk"
	"github.com/sealocr/sealocr/sidecar/internal/redisstate"
	"github.com/sealocr/sealocr/sidecar/internal/route"
	"github.com/sealocr/sealocr/sidecar/internal/server"
	"github.com/sealocr/sealocr/sidecar/internal/tlsterm"
	"github.com/sealocr/sealocr/sidecar/internal/upstream"
)

// envMap returns a getenv over m.
func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

var home = envMap(map[string]string{"HOME": "/home/u"})

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "sidecar.yaml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func load(t *testing.T, args []string, getenv func(string) string) (Config, Flags) {
	t.Helper()
	c, fl, err := Load(args, getenv)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c, fl
}

func TestDefaultPaths(t *testing.T) {
	for _, tc := range []struct {
		name          string
		env           map[string]string
		state, keys   string
		validationErr string
	}{
		{"home", map[string]string{"HOME": "/home/u"},
			"/home/u/.local/state/sealocr", "/home/u/.local/state/sealocr/keys.yaml", ""},
		{"xdg", map[string]string{"HOME": "/home/u", "XDG_STATE_HOME": "/xdg/state"},
			"/xdg/state/sealocr", "/xdg/state/sealocr/keys.yaml", ""},
		{"relative xdg ignored", map[string]string{"HOME": "/home/u", "XDG_STATE_HOME": "rel"},
			"/home/u/.local/state/sealocr", "/home/u/.local/state/sealocr/keys.yaml", ""},
		{"state dir env", map[string]string{"HOME": "/home/u", "SEALOCR_STATE_DIR": "/var/lib/sealocr"},
			"/var/lib/sealocr", "/var/lib/sealocr/keys.yaml", ""},
		{"keys file env", map[string]string{"HOME": "/home/u", "SEALOCR_KEYS_FILE": "/etc/sealocr/keys.yaml"},
			"/home/u/.local/state/sealocr", "/etc/sealocr/keys.yaml", ""},
		{"tilde", map[string]string{"HOME": "/home/u", "SEALOCR_STATE_DIR": "~/s", "SEALOCR_KEYS_FILE": "~/k.yaml"},
			"/home/u/s", "/home/u/k.yaml", ""},
		{"no home", map[string]string{}, "", "", "state_dir is empty"},
		{"relative", map[string]string{"SEALOCR_STATE_DIR": "state"}, "state", "state/keys.yaml", "not an absolute path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := load(t, nil, envMap(tc.env))
			if c.StateDir != tc.state || c.KeysFile != tc.keys {
				t.Errorf("state_dir %q keys_file %q, want %q %q", c.StateDir, c.KeysFile, tc.state, tc.keys)
			}
			err := c.Validate()
			if tc.validationErr == "" && err != nil {
				t.Errorf("Validate: %v", err)
			}
			if tc.validationErr != "" && (err == nil || !strings.Contains(err.Error(), tc.validationErr)) {
				t.Errorf("Validate = %v, want %q", err, tc.validationErr)
			}
		})
	}
}

func TestPrecedence(t *testing.T) {
	file := writeFile(t, "listen: 127.0.0.1:1001\nstate_dir: /from/file\nlog_level: debug\nmax_concurrent: 3\n")
	other := writeFile(t, "listen: 127.0.0.1:4004\n")
	for _, tc := range []struct {
		name   string
		args   []string
		env    map[string]string
		listen string
		state  string
		keys   string
	}{
		{"default", nil, nil, "127.0.0.1:8443", "/home/u/.local/state/sealocr", "/home/u/.local/state/sealocr/keys.yaml"},
		{"file by flag", []string{"--config", file}, nil, "127.0.0.1:1001", "/from/file", "/from/file/keys.yaml"},
		{"file by env", nil, map[string]string{"SEALOCR_CONFIG": file}, "127.0.0.1:1001", "/from/file", "/from/file/keys.yaml"},
		{"config flag beats env", []string{"--config", other}, map[string]string{"SEALOCR_CONFIG": file},
			"127.0.0.1:4004", "/home/u/.local/state/sealocr", "/home/u/.local/state/sealocr/keys.yaml"},
		{"env beats file", []string{"--config", file},
			map[string]string{"SEALOCR_LISTEN": "127.0.0.1:2002", "SEALOCR_STATE_DIR": "/from/env"},
			"127.0.0.1:2002", "/from/env", "/from/env/keys.yaml"},
		{"flag beats env", []string{"--config", file, "--listen", "127.0.0.1:3003", "--state-dir", "/from/flag"},
			map[string]string{"SEALOCR_LISTEN": "127.0.0.1:2002", "SEALOCR_STATE_DIR": "/from/env"},
			"127.0.0.1:3003", "/from/flag", "/from/flag/keys.yaml"},
		{"keys flag", []string{"--keys-file", "/k.yaml"}, map[string]string{"SEALOCR_KEYS_FILE": "/env.yaml"},
			"127.0.0.1:8443", "/home/u/.local/state/sealocr", "/k.yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"HOME": "/home/u"}
			for k, v := range tc.env {
				env[k] = v
			}
			c, _ := load(t, tc.args, envMap(env))
			if c.Listen != tc.listen || c.StateDir != tc.state || c.KeysFile != tc.keys {
				t.Errorf("listen %q state_dir %q keys_file %q, want %q %q %q",
					c.Listen, c.StateDir, c.KeysFile, tc.listen, tc.state, tc.keys)
			}
		})
	}
	t.Run("untouched keys keep file values", func(t *testing.T) {
		c, _ := load(t, []string{"--config", file, "--listen", "127.0.0.1:3003"}, home)
		if c.LogLevel != "debug" || c.MaxConcurrent != 3 || c.Upstream != "http://127.0.0.1:8081" {
			t.Errorf("got %+v", c)
		}
	})
}

func TestEveryEnvAndFlag(t *testing.T) {
	env := map[string]string{
		"HOME":                                  "/home/u",
		"SEALOCR_LISTEN":                        "127.0.0.1:7000",
		"SEALOCR_STATE_DIR":                     "/s",
		"SEALOCR_KEYS_FILE":                     "/k.yaml",
		"SEALOCR_UPSTREAM":                      "unix:///run/core.sock",
		"SEALOCR_UNSAFE_ALLOW_REMOTE_UPSTREAM":  "true",
		"SEALOCR_LEGACY_CBC":                    "1",
		"SEALOCR_LEGACY_PATH":                   "/old",
		"SEALOCR_LEGACY_UPSTREAM_PATH":          "/v1/ocr2",
		"SEALOCR_LEGACY_MAC":                    "required",
		"SEALOCR_UNSAFE_LEGACY_ANONYMOUS":       "true",
		"SEALOCR_UNSAFE_PUBLIC_UNAUTHENTICATED": "true",
		"SEALOCR_OHTTP_ROTATION":                "1h",
		"SEALOCR_MAX_BODY_BYTES":                "2048",
		"SEALOCR_UPSTREAM_TIMEOUT":              "5s",
		"SEALOCR_MAX_RESPONSE_BYTES":            "2097152",
		"SEALOCR_MAX_CONCURRENT":                "7",
		"SEALOCR_REPLAY_WINDOW":                 "1m",
		"SEALOCR_REPLAY_CACHE_SIZE":             "99",
		"SEALOCR_REPLAY_MAX_FUTURE":             "7s",
		"SEALOCR_REPLAY_EXPECTED_RATE":          "2",
		"SEALOCR_OHTTP_REQUIRE_DATE":            "true",
		"SEALOCR_PLAIN_ROUTES":                  "GET /a, HEAD /b/*",
		"SEALOCR_METRICS_LISTEN":                "127.0.0.1:9555",
		"SEALOCR_UNSAFE_ALLOW_REMOTE_METRICS":   "true",
		"SEALOCR_SHUTDOWN_TIMEOUT":              "2s",
		"SEALOCR_LOG_LEVEL":                     "warn",
		"SEALOCR_LOG_FORMAT":                    "console",
		"SEALOCR_TLS_MODE":                      "local",
		"SEALOCR_HTTP_LISTEN":                   "127.0.0.1:8080",
		"SEALOCR_TRUSTED_PROXIES":               "10.0.0.0/8, 192.0.2.1",
		"SEALOCR_PROXY_PROTOCOL":                "true",
		"SEALOCR_TLS_CERT":                      "/tls/cert.pem",
		"SEALOCR_TLS_KEY":                       "/tls/key.pem",
		"SEALOCR_DOMAINS":                       "ocr.example.com,b.example.com",
		"SEALOCR_ACME_EMAIL":                    "ops@example.com",
		"SEALOCR_ACME_CA":                       "https://acme.example/dir",
		"SEALOCR_ACME_CA_ROOT":                  "/acme-root.pem",
		"SEALOCR_ACME_STAGING":                  "true",
		"SEALOCR_ACME_STORAGE_DIR":              "/certs",
		"SEALOCR_ACME_CHALLENGES":               "tls-alpn-01",
		"SEALOCR_ACME_ON_DEMAND_ALLOW":          "*.c.example.com",
		"SEALOCR_ACME_ON_DEMAND_ASK":            "http://127.0.0.1:9/ask",
		"SEALOCR_AUTH":                          "required",
		"SEALOCR_AUTH_JWT_ISSUER":               "https://idp.example",
		"SEALOCR_AUTH_JWT_AUDIENCE":             "sealocr",
		"SEALOCR_AUTH_JWT_HS256_KEY_FILE":       "/k/hs.key",
		"SEALOCR_AUTH_JWT_PUBLIC_KEY_FILES":     "/k/a.pem,/k/b.pem",
		"SEALOCR_AUTH_JWKS_FILE":                "/k/jwks.json",
		"SEALOCR_AUTH_JWKS_URL":                 "https://idp.example/jwks",
		"SEALOCR_AUTH_API_KEYS_FILE":            "/k/api.yaml",
		"SEALOCR_RATE_LIMIT":                    "120/m",
		"SEALOCR_RATE_LIMIT_BURST":              "30",
		"SEALOCR_LEGACY_RATE_LIMIT":             "5/m",
		"SEALOCR_INNER_ROUTES":                  "POST /v1/ocr",
		"SEALOCR_MAX_CONCURRENT_PER_CLIENT":     "3",
		"SEALOCR_MAX_BUFFERED_BYTES":            "4096",
		"SEALOCR_BODY_MIN_RATE":                 "100",
		"SEALOCR_BODY_GRACE":                    "2s",
		"SEALOCR_BODY_TIMEOUT":                  "30s",
		"SEALOCR_MAX_BUFFERED_BYTES_PER_CLIENT": "4096",
		"SEALOCR_ACME_ON_DEMAND_RATE":           "1/m",
		"SEALOCR_ACME_ON_DEMAND_BURST":          "2",
		"SEALOCR_ACME_ON_DEMAND_MAX":            "7",
		"SEALOCR_RATE_LIMIT_FAIL":               "closed",
		"SEALOCR_REDIS_URL":                     "redis://sealocr@redis.internal:6380/2",
		"SEALOCR_REDIS_PASSWORD_FILE":           "/run/redis/password",
		"SEALOCR_REDIS_PASSWORD_ENV":            "REDIS_PW",
		"SEALOCR_REDIS_CA_FILE":                 "/run/redis/ca.pem",
		"SEALOCR_REDIS_TIMEOUT":                 "100ms",
		"SEALOCR_REDIS_PREFIX":                  "ocr1:",
		"SEALOCR_AUTH_OIDC_ISSUER":              "https://login.example",
		"SEALOCR_AUTH_OIDC_CLIENT_ID":           "webui",
		"SEALOCR_AUTH_OIDC_AUDIENCE":            "webui,api",
		"SEALOCR_AUTH_OIDC_SCOPES":              "openid,email",
	}
	c, _ := load(t, nil, envMap(env))
	want := Default(home)
	want.Listen, want.StateDir, want.KeysFile = "127.0.0.1:7000", "/s", "/k.yaml"
	want.Upstream, want.UnsafeAllowRemoteUpstream, want.LegacyCBC = "unix:///run/core.sock", true, true
	want.LegacyPath, want.LegacyUpstreamPath, want.MaxBodyBytes = "/old", "/v1/ocr2", 2048
	want.LegacyMAC, want.UnsafeLegacyAnonymous, want.UnsafePublicUnauthenticated = "required", true, true
	want.OHTTPRotation = time.Hour
	want.UpstreamTimeout, want.MaxConcurrent, want.ReplayWindow = 5*time.Second, 7, time.Minute
	want.MaxResponseBytes = 2 << 20
	want.ReplayCacheSize, want.PlainRoutes = 99, []string{"GET /a", "HEAD /b/*"}
	want.ReplayMaxFuture, want.ReplayExpectedRate, want.OHTTPRequireDate = 7*time.Second, 2, true
	want.MetricsListen, want.UnsafeAllowRemoteMetrics, want.ShutdownTimeout = "127.0.0.1:9555", true, 2*time.Second
	want.LogLevel, want.LogFormat = "warn", "console"
	want.HTTPListen, want.TrustedProxies, want.ProxyProtocol = "127.0.0.1:8080", []string{"10.0.0.0/8", "192.0.2.1"}, true
	want.TLS = TLS{Mode: "local", CertFile: "/tls/cert.pem", KeyFile: "/tls/key.pem", ACME: ACME{
		Domains: []string{"ocr.example.com", "b.example.com"}, Email: "ops@example.com", CA: "https://acme.example/dir",
		CARoot: "/acme-root.pem", Staging: true, StorageDir: "/certs", Challenges: []string{"tls-alpn-01"},
		OnDemandAllow: []string{"*.c.example.com"}, OnDemandAsk: "http://127.0.0.1:9/ask",
	}}
	want.InnerRoutes, want.MaxConcurrentPerClient, want.MaxBufferedBytes = []string{"POST /v1/ocr"}, 3, 4096
	want.BodyMinRate, want.BodyGrace = 100, 2*time.Second
	want.BodyTimeout, want.MaxBufferedBytesPerClient = 30*time.Second, 4096
	want.TLS.ACME.OnDemandRate, want.TLS.ACME.OnDemandBurst, want.TLS.ACME.OnDemandMax = "1/m", 2, 7
	want.Auth.Mode = "required"
	want.Auth.JWT = JWT{Issuer: "https://idp.example", Audience: []string{"sealocr"}, HS256KeyFile: "/k/hs.key",
		PublicKeyFiles: []string{"/k/a.pem", "/k/b.pem"}, JWKSFile: "/k/jwks.json", JWKSURL: "https://idp.example/jwks",
		JWKSRefresh: 10 * time.Minute, ClockSkew: 30 * time.Second}
	want.Auth.APIKeysFile = "/k/api.yaml"
	want.Auth.OIDC = OIDC{Issuer: "https://login.example", ClientID: "webui", Audience: []string{"webui", "api"}, Scopes: []string{"openid", "email"}}
	want.RateLimit.Rate, want.RateLimit.Burst, want.RateLimit.LegacyRate = "120/m", 30, "5/m"
	want.RateLimit.Fail = "closed"
	want.Redis = Redis{URL: "redis://sealocr@redis.internal:6380/2", PasswordFile: "/run/redis/password", PasswordEnv: "REDIS_PW",
		CAFile: "/run/redis/ca.pem", Timeout: 100 * time.Millisecond, Prefix: "ocr1:"}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("env:\n got %+v\nwant %+v", c, want)
	}
	for _, name := range EnvVars() {
		if _, ok := env[name]; !ok {
			t.Errorf("test does not cover %s", name)
		}
	}

	c, fl := load(t, []string{
		"--upstream", "http://localhost:9", "--unsafe-allow-remote-upstream", "--legacy-cbc",
		"--max-body-bytes", "4096", "--upstream-timeout", "2s", "--max-concurrent", "5",
		"--metrics-listen", "", "--log-level", "error", "--log-format", "console",
		"--check-config", "--version",
	}, home)
	want = Default(home)
	want.Upstream, want.UnsafeAllowRemoteUpstream, want.LegacyCBC = "http://localhost:9", true, true
	want.MaxBodyBytes, want.UpstreamTimeout, want.MaxConcurrent = 4096, 2*time.Second, 5
	want.MetricsListen, want.LogLevel, want.LogFormat = "", "error", "console"
	if !reflect.DeepEqual(c, want) {
		t.Errorf("flags:\n got %+v\nwant %+v", c, want)
	}
	if !fl.CheckConfig || !fl.Version {
		t.Errorf("flags %+v", fl)
	}

	t.Run("no plain routes by env", func(t *testing.T) {
		c, _ := load(t, nil, envMap(map[string]string{"HOME": "/h", "SEALOCR_PLAIN_ROUTES": "none"}))
		if len(c.PlainRoutes) != 0 {
			t.Errorf("plain routes %q", c.PlainRoutes)
		}
	})
}

func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		file string // content; "" for no file
		args []string
		env  map[string]string
		want []string
	}{
		{name: "unknown key", file: "listen: 127.0.0.1:1\nlisten_addr: x\n", want: []string{"sidecar.yaml:2: unknown key listen_addr"}},
		{name: "typo of a key", file: "rate_limt:\n  rate: 5/m\n", want: []string{"sidecar.yaml:1: unknown key rate_limt (did you mean rate_limit?)"}},
		{name: "typo of a nested key", file: "tls:\n  mdoe: local\n", want: []string{"sidecar.yaml:2: unknown key tls.mdoe (did you mean tls.mode?)"}},
		{name: "unknown nested key", file: "tls:\n  mode: local\n  cert: /x\n", want: []string{"cert"}},
		{name: "wrong type", file: "max_concurrent: many\n", want: []string{`sidecar.yaml:1: max_concurrent: want a whole number (got "many")`}},
		{name: "two documents", file: "listen: a:1\n---\nlisten: b:2\n", want: []string{"one YAML document"}},
		{name: "missing file", args: []string{"--config", "/nonexistent/sidecar.yaml"}, want: []string{"/nonexistent/sidecar.yaml"}},
		{name: "bad env values", env: map[string]string{"SEALOCR_MAX_CONCURRENT": "x", "SEALOCR_LEGACY_CBC": "maybe", "SEALOCR_REPLAY_WINDOW": "5"},
			want: []string{"SEALOCR_MAX_CONCURRENT=x: want a whole number", "SEALOCR_LEGACY_CBC=maybe: want true or false",
				"SEALOCR_REPLAY_WINDOW=5: want a duration such as 500ms, 30s or 5m"}},
		{name: "unknown flag", args: []string{"--nope"}, want: []string{"unknown flag --nope"}},
		{name: "typo of a flag", args: []string{"--upstreem", "http://127.0.0.1:1"}, want: []string{"unknown flag --upstreem (did you mean --upstream?)"}},
		{name: "extra argument", args: []string{"serve"}, want: []string{"unexpected arguments"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			if tc.file != "" {
				args = append([]string{"--config", writeFile(t, tc.file)}, args...)
			}
			env := map[string]string{"HOME": "/home/u"}
			for k, v := range tc.env {
				env[k] = v
			}
			_, _, err := Load(args, envMap(env))
			if err == nil {
				t.Fatal("Load succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
	t.Run("empty file", func(t *testing.T) {
		c, _ := load(t, []string{"--config", writeFile(t, "# nothing\n")}, home)
		if !reflect.DeepEqual(c, Default(home)) {
			t.Errorf("empty file changed the defaults: %+v", c)
		}
	})
}

func TestValidateReportsEverything(t *testing.T) {
	c := Default(home)
	c.Listen = "nope"
	c.Upstream = "http://192.0.2.10:8081"
	c.StateDir = "relative"
	c.KeysFile = "keys.yaml"
	c.LegacyPath = "ocr"
	c.LegacyUpstreamPath = "/v1/../ocr"
	c.MaxBodyBytes = 1
	c.UpstreamTimeout = time.Millisecond
	c.MaxConcurrent = 0
	c.ReplayWindow = 0
	c.ReplayCacheSize = -1
	c.PlainRoutes = []string{"POST /v1/ocr", "GET /a", "GET /a", "GET /../x", "GET"}
	c.MetricsListen = "0.0.0.0:9443"
	c.ShutdownTimeout = time.Hour
	c.LogLevel = "verbose"
	c.LogFormat = "xml"
	c.TLS.Mode = "bogus"
	c.HTTPListen = "nope"
	c.TrustedProxies = []string{"proxy.example"}
	c.Auth.Mode = "on"
	c.RateLimit.Rate = "fast"
	c.RateLimit.MaxClients = 0
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate succeeded")
	}
	for _, w := range []string{
		`listen "nope"`, "upstream", "unsafe_allow_remote_upstream", `state_dir "relative"`, `keys_file "keys.yaml"`,
		"legacy_path", "legacy_upstream_path", "max_body_bytes", "upstream_timeout", "max_concurrent",
		"replay_window", "replay_cache_size", `"POST /v1/ocr"`, `"GET /a" listed twice`, `"GET /../x"`,
		`"GET"`, "metrics_listen", "unsafe_allow_remote_metrics", "shutdown_timeout", "log_level", "log_format",
		`tls.mode "bogus"`, `http_listen "nope"`, `trusted_proxies`, `auth.mode "on"`, `rate_limit.rate`, `rate_limit.max_clients`,
	} {
		t.Run(w, func(t *testing.T) {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error does not mention %s:\n%v", w, err)
			}
		})
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != 25 {
		t.Errorf("%d problems reported, want 25:\n%v", n, err)
	}
}

func TestUpstreamValidation(t *testing.T) {
	for _, tc := range []struct {
		name   string
		url    string
		unsafe bool
		ok     bool
	}{
		{"default", "http://127.0.0.1:8081", false, true},
		{"localhost", "http://localhost:8081", false, true},
		{"ipv6 loopback", "http://[::1]:8081", false, true},
		{"other loopback", "http://127.0.0.2:8081", false, true},
		{"unix", "unix:///run/sealocr/core.sock", false, true},
		{"unix relative", "unix://core.sock", false, false},
		{"remote ip", "http://10.0.0.5:8081", false, false},
		{"remote name", "http://core:8081", false, false},
		{"all interfaces", "http://0.0.0.0:8081", false, false},
		{"remote ip unsafe", "http://10.0.0.5:8081", true, true},
		{"remote name unsafe", "http://core:8081", true, true},
		{"https", "https://127.0.0.1:8081", false, false},
		{"path", "http://127.0.0.1:8081/v1", false, false},
		{"empty", "", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Default(home)
			c.Upstream, c.UnsafeAllowRemoteUpstream = tc.url, tc.unsafe
			err := c.Validate()
			if (err == nil) != tc.ok {
				t.Errorf("Validate = %v, want ok %v", err, tc.ok)
			}
		})
	}
}

// TestOIDCValidation: the auth.oidc section needs an https issuer (http
// only on loopback), a client ID and the openid scope, and turns auth on
// by itself as a credential source.
func TestOIDCValidation(t *testing.T) {
	for _, tc := range []struct {
		name, issuer, client string
		scopes, aud          []string
		want                 string // "" = valid
	}{
		{"https", "https://login.example", "webui", []string{"openid"}, nil, ""},
		{"loopback http", "http://127.0.0.1:5556", "webui", []string{"openid", "email"}, nil, ""},
		{"remote http", "http://login.example", "webui", []string{"openid"}, nil, "want https (http only on loopback)"},
		{"query", "https://login.example/?x=1", "webui", []string{"openid"}, nil, "want no query"},
		{"no client", "https://login.example", "", []string{"openid"}, nil, "auth.oidc.client_id"},
		{"no openid", "https://login.example", "webui", []string{"email"}, nil, "must include openid"},
		{"bad scope", "https://login.example", "webui", []string{"openid", "a b"}, nil, "is not a scope token"},
		{"client without issuer", "", "webui", []string{"openid"}, nil, "auth.oidc.issuer is empty"},
		{"empty audience", "https://login.example", "webui", []string{"openid"}, []string{""}, "empty value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Default(home)
			c.Auth.Mode = "required"
			c.Auth.OIDC = OIDC{Issuer: tc.issuer, ClientID: tc.client, Scopes: tc.scopes, Audience: tc.aud}
			if tc.issuer == "" {
				c.Auth.APIKeysFile = "/k/api.yaml"
			}
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Validate: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Validate = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestMetricsListen(t *testing.T) {
	for _, tc := range []struct {
		name, addr string
		unsafe, ok bool
	}{
		{"default", "127.0.0.1:9443", false, true},
		{"off", "", false, true},
		{"localhost", "localhost:9443", false, true},
		{"all interfaces", ":9443", false, false},
		{"public", "203.0.113.1:9443", false, false},
		{"public unsafe", "203.0.113.1:9443", true, true},
		{"same as listen", "127.0.0.1:8443", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Default(home)
			c.MetricsListen, c.UnsafeAllowRemoteMetrics = tc.addr, tc.unsafe
			if err := c.Validate(); (err == nil) != tc.ok {
				t.Errorf("Validate = %v, want ok %v", err, tc.ok)
			}
		})
	}
}

// yamlKeys returns the declared YAML keys, nested keys as "parent.child".
func yamlKeys() []string {
	var out []string
	for _, f := range configs.Fields(&Config{}) {
		out = append(out, f.Key)
	}
	return out
}

func mapKeys(m map[string]any, prefix string) []string {
	var out []string
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			out = append(out, mapKeys(sub, prefix+k+".")...)
			continue
		}
		out = append(out, prefix+k)
	}
	return out
}

// TestExampleFile keeps configs/sidecar.yaml in step with the code: it sets
// every key, each to its default, and validates.
func TestExampleFile(t *testing.T) {
	path := filepath.Join("..", "..", "..", "configs", "sidecar.yaml")
	for _, tc := range []struct {
		name string
		env  map[string]string
	}{
		{"home", map[string]string{"HOME": "/home/u"}},
		{"xdg", map[string]string{"HOME": "/home/u", "XDG_STATE_HOME": "/xdg"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := load(t, []string{"--config", path}, envMap(tc.env))
			if want := Default(envMap(tc.env)); !reflect.DeepEqual(c, want) {
				t.Errorf("example differs from the defaults:\n got %+v\nwant %+v", c, want)
			}
			if err := c.Validate(); err != nil {
				t.Errorf("example does not validate: %v", err)
			}
		})
	}
	t.Run("every key", func(t *testing.T) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := yaml.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		got, want := mapKeys(m, ""), yamlKeys()
		have := map[string]bool{}
		for _, k := range got {
			have[k] = true
		}
		for _, k := range want {
			if !have[k] {
				t.Errorf("configs/sidecar.yaml lacks %s", k)
			}
		}
		if len(got) != len(want) {
			t.Errorf("example has %d keys, Config %d", len(got), len(want))
		}
		// The comments name each option's variables and flags.
		for _, f := range configs.Fields(&Config{}) {
			for _, e := range f.Env {
				if !bytes.Contains(b, []byte(e)) {
					t.Errorf("configs/sidecar.yaml does not name %s (%s)", e, f.Key)
				}
			}
			for _, fl := range f.Flags {
				if !bytes.Contains(b, []byte("flag --"+fl+")")) && !bytes.Contains(b, []byte("flag --"+fl+",")) {
					t.Errorf("configs/sidecar.yaml does not name --%s (%s)", fl, f.Key)
				}
			}
		}
	})
}

func TestRedacted(t *testing.T) {
	const secret = "hunter2-s3cr3t"
	env := envMap(map[string]string{"HOME": "/home/u", LegacyKeyEnv: secret})
	c, _ := load(t, []string{"--legacy-cbc"}, env)

	t.Run("round trip", func(t *testing.T) {
		var back Config
		dec := yaml.NewDecoder(strings.NewReader(c.Redacted()))
		dec.KnownFields(true)
		if err := dec.Decode(&back); err != nil {
			t.Fatal(err)
		}
		back.resolvePaths(envMap(nil)) // normalises the empty lists
		if !reflect.DeepEqual(back, c) {
			t.Errorf("dump does not load back:\n got %+v\nwant %+v", back, c)
		}
		if c.String() != c.Redacted() {
			t.Error("String differs from Redacted")
		}
		if !strings.Contains(c.Redacted(), LegacyKeyEnv) {
			t.Error("dump does not say where the legacy key comes from")
		}
	})
	for _, up := range []string{
		"http://admin:" + secret + "@127.0.0.1:8081",
		"http://127.0.0.1:8081/?token=" + secret,
		"http://127.0.0.1:8081/#" + secret,
		"http://127.0.0.1:8081/%zz" + secret,
	} {
		t.Run("upstream "+up, func(t *testing.T) {
			c := c
			c.Upstream = up
			if out := c.Redacted(); strings.Contains(out, secret) {
				t.Errorf("dump holds the secret:\n%s", out)
			}
			if err := c.Validate(); err == nil || strings.Contains(err.Error(), secret) {
				t.Errorf("Validate = %v", err)
			}
		})
	}
}

func TestCheckEnvironment(t *testing.T) {
	c := Default(home)
	if err := c.CheckEnvironment(home); err != nil {
		t.Errorf("legacy off: %v", err)
	}
	// The legacy key may come from the key file: the environment alone
	// cannot tell that it is missing (CheckLegacyKeys does).
	c.LegacyCBC = true
	if err := c.CheckEnvironment(home); err != nil {
		t.Errorf("legacy on, no %s: %v", LegacyKeyEnv, err)
	}
}

// TestCheckLegacyKeys: the legacy mode needs at least one legacy key, from
// AES_SECRET_KEY or the key file's legacy: section; an SM4-only deployment
// (key-file keys only) needs no AES_SECRET_KEY.
func TestCheckLegacyKeys(t *testing.T) {
	const secret = "e2e-legacy-key-0123456789abcdefg"
	withKey := envMap(map[string]string{"HOME": "/home/u", LegacyKeyEnv: secret})
	for _, tc := range []struct {
		name     string
		legacy   bool
		getenv   func(string) string
		fileKeys int
		wantErr  bool
	}{
		{"legacy off", false, home, 0, false},
		{"no key anywhere", true, home, 0, true},
		{"AES_SECRET_KEY only", true, withKey, 0, false},
		{"key file only (SM4-only deployment)", true, home, 1, false},
		{"both", true, withKey, 2, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Default(home)
			c.LegacyCBC = tc.legacy
			err := c.CheckLegacyKeys(tc.getenv, tc.fileKeys)
			if (err != nil) != tc.wantErr {
				t.Fatalf("CheckLegacyKeys = %v, want error %v", err, tc.wantErr)
			}
			if err != nil && (!strings.Contains(err.Error(), LegacyKeyEnv) || !strings.Contains(err.Error(), "legacy:")) {
				t.Errorf("the error does not name both sources: %v", err)
			}
			if err != nil && strings.Contains(err.Error(), secret) {
				t.Errorf("the error holds the key: %v", err)
			}
		})
	}
}

func TestRoutes(t *testing.T) {
	if got := Default(home).Routes(); len(got) != 3 || got[1] != (route.Route{Method: "GET", Path: "/static/", Prefix: true}) {
		t.Errorf("Routes = %+v", got)
	}
}

// TestDumpIsYAML makes sure durations are written in their text form, which
// the example file and humans use.
func TestDumpIsYAML(t *testing.T) {
	out := Default(home).Redacted()
	for _, w := range []string{"upstream_timeout: 1m0s", "replay_window: 5m0s", "- GET /static/*", "mode: local"} {
		if !strings.Contains(out, w) {
			t.Errorf("dump lacks %q:\n%s", w, out)
		}
	}
	if bytes.Contains([]byte(out), []byte("null")) {
		t.Errorf("dump holds null:\n%s", out)
	}
}

func TestTLSModeResolution(t *testing.T) {
	for _, tc := range []struct {
		name                     string
		env                      map[string]string
		mode, listen, httpListen string
		problem                  string
	}{
		{"default", nil, "local", "127.0.0.1:8443", "off", ""},
		{"domains alone mean acme", map[string]string{"SEALOCR_DOMAINS": "ocr.example.com"}, "acme", ":443", ":80", ""},
		{"on-demand alone means acme", map[string]string{"SEALOCR_ACME_ON_DEMAND_ALLOW": "*.example.com"}, "acme", ":443", ":80", ""},
		{"certificate file means files", map[string]string{"SEALOCR_TLS_CERT": "/c.pem", "SEALOCR_TLS_KEY": "/k.pem"}, "files", ":443", "off", ""},
		{"explicit listen kept", map[string]string{"SEALOCR_DOMAINS": "ocr.example.com", "SEALOCR_LISTEN": ":8443", "SEALOCR_HTTP_LISTEN": ":8080"}, "acme", ":8443", ":8080", ""},
		{"explicit mode wins", map[string]string{"SEALOCR_TLS_MODE": "local", "SEALOCR_DOMAINS": "ocr.example.com"}, "local", "127.0.0.1:8443", "off", ""},
		{"acme without domains", map[string]string{"SEALOCR_TLS_MODE": "acme"}, "acme", ":443", ":80", "needs tls.acme.domains"},
		{"files without key", map[string]string{"SEALOCR_TLS_CERT": "/c.pem"}, "files", ":443", "off", "needs tls.cert_file and tls.key_file"},
		{"bad domain", map[string]string{"SEALOCR_DOMAINS": "localhost"}, "acme", ":443", ":80", `"localhost" is not a DNS name`},
		{"http-01 without listener", map[string]string{"SEALOCR_DOMAINS": "a.example.com", "SEALOCR_HTTP_LISTEN": "off"}, "acme", ":443", "off", "http_listen is off"},
		{"tls-alpn-01 only", map[string]string{"SEALOCR_DOMAINS": "a.example.com", "SEALOCR_HTTP_LISTEN": "off", "SEALOCR_ACME_CHALLENGES": "tls-alpn-01"}, "acme", ":443", "off", ""},
		{"staging and ca", map[string]string{"SEALOCR_DOMAINS": "a.example.com", "SEALOCR_ACME_STAGING": "1", "SEALOCR_ACME_CA": "https://ca.example/dir"}, "acme", ":443", ":80", "cannot be combined"},
		{"relative root", map[string]string{"SEALOCR_DOMAINS": "a.example.com", "SEALOCR_ACME_CA_ROOT": "root.pem"}, "acme", ":443", ":80", "ca_root"},
		// Public certificates serve the internet: OHTTP must require credentials.
		{"public without auth", map[string]string{"SEALOCR_DOMAINS": "a.example.com", "SEALOCR_UNSAFE_PUBLIC_UNAUTHENTICATED": ""}, "acme", ":443", ":80",
			"anyone on the internet could OCR through this sidecar. Require it: make a key with the `new` subcommand of `sealctl apikey`"},
		{"public with optional auth", map[string]string{"SEALOCR_DOMAINS": "a.example.com", "SEALOCR_UNSAFE_PUBLIC_UNAUTHENTICATED": "",
			"SEALOCR_AUTH": "optional", "SEALOCR_AUTH_API_KEYS_FILE": "/etc/sealocr/api-keys.yaml"}, "acme", ":443", ":80", "with authentication optional for OHTTP requests"},
		{"public with auth required", map[string]string{"SEALOCR_DOMAINS": "a.example.com", "SEALOCR_UNSAFE_PUBLIC_UNAUTHENTICATED": "",
			"SEALOCR_AUTH": "required", "SEALOCR_AUTH_API_KEYS_FILE": "/etc/sealocr/api-keys.yaml"}, "acme", ":443", ":80", ""},
		{"local without auth", map[string]string{"SEALOCR_UNSAFE_PUBLIC_UNAUTHENTICATED": ""}, "local", "127.0.0.1:8443", "off", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"HOME": "/home/u", "SEALOCR_UNSAFE_PUBLIC_UNAUTHENTICATED": "true"}
			for k, v := range tc.env {
				env[k] = v
			}
			c, _ := load(t, nil, envMap(env))
			if c.TLS.Mode != tc.mode || c.Listen != tc.listen || c.HTTPListen != tc.httpListen {
				t.Errorf("mode %q listen %q http_listen %q", c.TLS.Mode, c.Listen, c.HTTPListen)
			}
			err := c.Validate()
			if tc.problem == "" && err != nil {
				t.Errorf("Validate: %v", err)
			}
			if tc.problem != "" && (err == nil || !strings.Contains(err.Error(), tc.problem)) {
				t.Errorf("Validate = %v, want %q", err, tc.problem)
			}
		})
	}
	c := Default(home)
	if c.TLS.ACME.StorageDir != "/home/u/.local/state/sealocr/acme" {
		t.Errorf("storage dir %q", c.TLS.ACME.StorageDir)
	}
}

func TestAuthAndRateLimitValidation(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     map[string]string
		problem string
	}{
		{"auth required without sources", map[string]string{"SEALOCR_AUTH": "required"}, "no credential source"},
		{"auth required with api keys", map[string]string{"SEALOCR_AUTH": "required", "SEALOCR_AUTH_API_KEYS_FILE": "/k.yaml"}, ""},
		{"auth relative key file", map[string]string{"SEALOCR_AUTH": "optional", "SEALOCR_AUTH_API_KEYS_FILE": "k.yaml"}, "not an absolute path"},
		{"jwks over http", map[string]string{"SEALOCR_AUTH": "required", "SEALOCR_AUTH_JWKS_URL": "http://idp.example/jwks"}, "want an https URL"},
		{"jwks over http on loopback", map[string]string{"SEALOCR_AUTH": "required", "SEALOCR_AUTH_JWKS_URL": "http://127.0.0.1:9/jwks"}, ""},
		{"rate off", map[string]string{"SEALOCR_RATE_LIMIT": "off"}, ""},
		{"rate set", map[string]string{"SEALOCR_RATE_LIMIT": "10/s", "SEALOCR_RATE_LIMIT_BURST": "100"}, ""},
		{"rate bad", map[string]string{"SEALOCR_RATE_LIMIT": "lots"}, "rate_limit.rate"},
		{"burst bad", map[string]string{"SEALOCR_RATE_LIMIT_BURST": "0"}, "burst 0"},
		{"legacy rate bad", map[string]string{"SEALOCR_LEGACY_RATE_LIMIT": "1/d"}, "rate_limit.legacy_rate"},
		{"trusted proxies", map[string]string{"SEALOCR_TRUSTED_PROXIES": "10.0.0.0/8,fd00::/8", "SEALOCR_PROXY_PROTOCOL": "true"}, ""},
		{"proxy protocol without proxies", map[string]string{"SEALOCR_PROXY_PROTOCOL": "true"}, "trusted_proxies is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"HOME": "/home/u"}
			for k, v := range tc.env {
				env[k] = v
			}
			c, _ := load(t, nil, envMap(env))
			err := c.Validate()
			if tc.problem == "" && err != nil {
				t.Errorf("Validate: %v", err)
			}
			if tc.problem != "" && (err == nil || !strings.Contains(err.Error(), tc.problem)) {
				t.Errorf("Validate = %v, want %q", err, tc.problem)
			}
		})
	}
	c, _ := load(t, nil, envMap(map[string]string{"HOME": "/h", "SEALOCR_RATE_LIMIT": "off"}))
	if c.RateLimit.Enabled {
		t.Error("SEALOCR_RATE_LIMIT=off left rate limiting on")
	}
	c, _ = load(t, []string{"--tls-mode", "acme", "--domains", "a.example.com,b.example.com", "--http-listen", ":8080"}, home)
	if c.TLS.Mode != "acme" || len(c.TLS.ACME.Domains) != 2 || c.HTTPListen != ":8080" || c.Listen != ":443" {
		t.Errorf("flags: %+v", c)
	}
}

// documented lists every environment variable, flag and YAML key that
// README.md, configs/sidecar.yaml and the chart document, with a value and
// the effective value it must produce at a YAML key. Names are an interface:
// a rename in the declarations fails here.
var documented = []struct{ src, name, value, key, want string }{
	{"env", "SEALOCR_LISTEN", "127.0.0.1:7000", "listen", "127.0.0.1:7000"},
	{"env", "SEALOCR_HTTP_LISTEN", ":8080", "http_listen", ":8080"},
	{"env", "SEALOCR_TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.1", "trusted_proxies", "[10.0.0.0/8 192.0.2.1]"},
	{"env", "SEALOCR_PROXY_PROTOCOL", "true", "proxy_protocol", "true"},
	{"env", "SEALOCR_MAX_BODY_BYTES", "2048", "max_body_bytes", "2048"},
	{"env", "SEALOCR_MAX_CONCURRENT", "7", "max_concurrent", "7"},
	{"env", "SEALOCR_SHUTDOWN_TIMEOUT", "2s", "shutdown_timeout", "2s"},
	{"env", "SEALOCR_UPSTREAM", "unix:///run/core.sock", "upstream", "unix:///run/core.sock"},
	{"env", "SEALOCR_UNSAFE_ALLOW_REMOTE_UPSTREAM", "true", "unsafe_allow_remote_upstream", "true"},
	{"env", "SEALOCR_UPSTREAM_TIMEOUT", "5s", "upstream_timeout", "5s"},
	{"env", "SEALOCR_MAX_RESPONSE_BYTES", "2097152", "max_response_bytes", "2097152"},
	{"env", "SEALOCR_PLAIN_ROUTES", "GET /a, HEAD /b/*", "plain_routes", "[GET /a HEAD /b/*]"},
	{"env", "SEALOCR_PLAIN_ROUTES", "none", "plain_routes", "[]"},
	{"env", "SEALOCR_INNER_ROUTES", "POST /v1/ocr, PUT /v2/*", "inner_routes", "[POST /v1/ocr PUT /v2/*]"},
	{"env", "SEALOCR_INNER_ROUTES", "none", "inner_routes", "[]"},
	{"env", "SEALOCR_STATE_DIR", "/s", "state_dir", "/s"},
	{"env", "SEALOCR_KEYS_FILE", "/k.yaml", "keys_file", "/k.yaml"},
	{"env", "SEALOCR_REPLAY_WINDOW", "1m", "replay_window", "1m0s"},
	{"env", "SEALOCR_REPLAY_CACHE_SIZE", "99", "replay_cache_size", "99"},
	{"env", "SEALOCR_REPLAY_MAX_FUTURE", "7s", "replay_max_future", "7s"},
	{"env", "SEALOCR_REPLAY_EXPECTED_RATE", "2", "replay_expected_rate", "2"},
	{"env", "SEALOCR_OHTTP_REQUIRE_DATE", "true", "ohttp_require_date", "true"},
	{"env", "SEALOCR_LEGACY_CBC", "1", "legacy_cbc", "true"},
	{"env", "SEALOCR_LEGACY_PATH", "/old", "legacy_path", "/old"},
	{"env", "SEALOCR_LEGACY_UPSTREAM_PATH", "/v1/ocr2", "legacy_upstream_path", "/v1/ocr2"},
	{"env", "SEALOCR_LEGACY_MAC", "required", "legacy_mac", "required"},
	{"env", "SEALOCR_UNSAFE_LEGACY_ANONYMOUS", "true", "unsafe_legacy_anonymous", "true"},
	{"key", "legacy_mac", "required", "legacy_mac", "required"},
	{"key", "unsafe_legacy_anonymous", "true", "unsafe_legacy_anonymous", "true"},
	{"env", "SEALOCR_UNSAFE_PUBLIC_UNAUTHENTICATED", "true", "unsafe_public_unauthenticated", "true"},
	{"env", "SEALOCR_OHTTP_ROTATION", "24h", "ohttp_rotation", "24h0m0s"},
	{"key", "ohttp_rotation", "10s", "ohttp_rotation", "10s"},
	{"key", "unsafe_public_unauthenticated", "true", "unsafe_public_unauthenticated", "true"},
	{"env", "SEALOCR_METRICS_LISTEN", "127.0.0.1:9555", "metrics_listen", "127.0.0.1:9555"},
	{"env", "SEALOCR_UNSAFE_ALLOW_REMOTE_METRICS", "true", "unsafe_allow_remote_metrics", "true"},
	{"env", "SEALOCR_LOG_LEVEL", "warn", "log_level", "warn"},
	{"env", "SEALOCR_LOG_FORMAT", "console", "log_format", "console"},
	{"env", "SEALOCR_TLS_MODE", "files", "tls.mode", "files"},
	{"env", "SEALOCR_TLS_CERT", "/tls/cert.pem", "tls.cert_file", "/tls/cert.pem"},
	{"env", "SEALOCR_TLS_KEY", "/tls/key.pem", "tls.key_file", "/tls/key.pem"},
	{"env", "SEALOCR_DOMAINS", "ocr.example.com,b.example.com", "tls.acme.domains", "[ocr.example.com b.example.com]"},
	{"env", "SEALOCR_ACME_EMAIL", "ops@example.com", "tls.acme.email", "ops@example.com"},
	{"env", "SEALOCR_ACME_CA", "https://acme.example/dir", "tls.acme.ca", "https://acme.example/dir"},
	{"env", "SEALOCR_ACME_CA_ROOT", "/root.pem", "tls.acme.ca_root", "/root.pem"},
	{"env", "SEALOCR_ACME_STAGING", "true", "tls.acme.staging", "true"},
	{"env", "SEALOCR_ACME_STORAGE_DIR", "/certs", "tls.acme.storage_dir", "/certs"},
	{"env", "SEALOCR_ACME_CHALLENGES", "tls-alpn-01", "tls.acme.challenges", "[tls-alpn-01]"},
	{"env", "SEALOCR_ACME_ON_DEMAND_ALLOW", "*.c.example.com", "tls.acme.on_demand_allow", "[*.c.example.com]"},
	{"env", "SEALOCR_ACME_ON_DEMAND_ASK", "http://127.0.0.1:9/ask", "tls.acme.on_demand_ask", "http://127.0.0.1:9/ask"},
	{"env", "SEALOCR_AUTH", "required", "auth.mode", "required"},
	{"env", "SEALOCR_AUTH_API_KEYS_FILE", "/k/api.yaml", "auth.api_keys_file", "/k/api.yaml"},
	{"env", "SEALOCR_AUTH_JWT_ISSUER", "https://idp.example", "auth.jwt.issuer", "https://idp.example"},
	{"env", "SEALOCR_AUTH_JWT_AUDIENCE", "a,b", "auth.jwt.audience", "[a b]"},
	{"env", "SEALOCR_AUTH_JWT_HS256_KEY_FILE", "/k/hs.key", "auth.jwt.hs256_key_file", "/k/hs.key"},
	{"env", "SEALOCR_AUTH_JWT_PUBLIC_KEY_FILES", "/k/a.pem,/k/b.pem", "auth.jwt.public_key_files", "[/k/a.pem /k/b.pem]"},
	{"env", "SEALOCR_AUTH_JWKS_FILE", "/k/jwks.json", "auth.jwt.jwks_file", "/k/jwks.json"},
	{"env", "SEALOCR_AUTH_JWKS_URL", "https://idp.example/jwks", "auth.jwt.jwks_url", "https://idp.example/jwks"},
	{"env", "SEALOCR_AUTH_OIDC_ISSUER", "https://login.example", "auth.oidc.issuer", "https://login.example"},
	{"env", "SEALOCR_AUTH_OIDC_CLIENT_ID", "webui", "auth.oidc.client_id", "webui"},
	{"env", "SEALOCR_AUTH_OIDC_AUDIENCE", "a,b", "auth.oidc.audience", "[a b]"},
	{"env", "SEALOCR_AUTH_OIDC_SCOPES", "openid,email", "auth.oidc.scopes", "[openid email]"},
	{"env", "SEALOCR_RATE_LIMIT", "120/m", "rate_limit.rate", "120/m"},
	{"env", "SEALOCR_RATE_LIMIT", "off", "rate_limit.enabled", "false"},
	{"env", "SEALOCR_RATE_LIMIT_BURST", "30", "rate_limit.burst", "30"},
	{"env", "SEALOCR_LEGACY_RATE_LIMIT", "5/m", "rate_limit.legacy_rate", "5/m"},
	{"env", "SEALOCR_RATE_LIMIT_FAIL", "closed", "rate_limit.fail", "closed"},
	{"env", "SEALOCR_REDIS_URL", "redis://redis.internal:6379/0", "redis.url", "redis://redis.internal:6379/0"},
	{"env", "SEALOCR_REDIS_PASSWORD_FILE", "/run/redis/password", "redis.password_file", "/run/redis/password"},
	{"env", "SEALOCR_REDIS_PASSWORD_ENV", "REDIS_PASSWORD", "redis.password_env", "REDIS_PASSWORD"},
	{"env", "SEALOCR_REDIS_CA_FILE", "/run/redis/ca.pem", "redis.ca_file", "/run/redis/ca.pem"},
	{"env", "SEALOCR_REDIS_TIMEOUT", "100ms", "redis.timeout", "100ms"},
	{"env", "SEALOCR_REDIS_PREFIX", "ocr1:", "redis.prefix", "ocr1:"},
	{"env", ConfigEnv, "", "", ""}, // TestPrecedence
	{"flag", "listen", "127.0.0.1:7001", "listen", "127.0.0.1:7001"},
	{"flag", "redis-url", "unix:///run/redis.sock", "redis.url", "unix:///run/redis.sock"},
	{"flag", "http-listen", "off", "http_listen", "off"},
	{"flag", "tls-mode", "acme", "tls.mode", "acme"},
	{"flag", "domains", "a.example.com,b.example.com", "tls.acme.domains", "[a.example.com b.example.com]"},
	{"flag", "upstream", "http://localhost:9", "upstream", "http://localhost:9"},
	{"flag", "unsafe-allow-remote-upstream", "true", "unsafe_allow_remote_upstream", "true"},
	{"flag", "state-dir", "/f", "state_dir", "/f"},
	{"flag", "keys-file", "/f/k.yaml", "keys_file", "/f/k.yaml"},
	{"flag", "legacy-cbc", "true", "legacy_cbc", "true"},
	{"flag", "max-body-bytes", "4096", "max_body_bytes", "4096"},
	{"flag", "upstream-timeout", "2s", "upstream_timeout", "2s"},
	{"flag", "max-concurrent", "5", "max_concurrent", "5"},
	{"flag", "metrics-listen", "", "metrics_listen", ""},
	{"flag", "log-level", "error", "log_level", "error"},
	{"flag", "log-format", "console", "log_format", "console"},
	{"key", "listen", "127.0.0.1:7002", "listen", "127.0.0.1:7002"},
	{"key", "http_listen", ":8081", "http_listen", ":8081"},
	{"key", "trusted_proxies", "[192.0.2.0/24]", "trusted_proxies", "[192.0.2.0/24]"},
	{"key", "proxy_protocol", "true", "proxy_protocol", "true"},
	{"key", "upstream", "http://127.0.0.2:1", "upstream", "http://127.0.0.2:1"},
	{"key", "unsafe_allow_remote_upstream", "true", "unsafe_allow_remote_upstream", "true"},
	{"key", "state_dir", "/y", "state_dir", "/y"},
	{"key", "keys_file", "/y/k.yaml", "keys_file", "/y/k.yaml"},
	{"key", "legacy_cbc", "true", "legacy_cbc", "true"},
	{"key", "legacy_path", "/l", "legacy_path", "/l"},
	{"key", "legacy_upstream_path", "/v1/l", "legacy_upstream_path", "/v1/l"},
	{"key", "max_body_bytes", "1024", "max_body_bytes", "1024"},
	{"key", "upstream_timeout", "3s", "upstream_timeout", "3s"},
	{"key", "max_response_bytes", "4194304", "max_response_bytes", "4194304"},
	{"key", "max_concurrent", "9", "max_concurrent", "9"},
	{"key", "replay_window", "10s", "replay_window", "10s"},
	{"key", "replay_cache_size", "5", "replay_cache_size", "5"},
	{"key", "replay_max_future", "9s", "replay_max_future", "9s"},
	{"key", "replay_expected_rate", "3", "replay_expected_rate", "3"},
	{"key", "ohttp_require_date", "true", "ohttp_require_date", "true"},
	{"key", "plain_routes", "[GET /x]", "plain_routes", "[GET /x]"},
	{"key", "inner_routes", "[DELETE /x]", "inner_routes", "[DELETE /x]"},
	{"env", "SEALOCR_MAX_CONCURRENT_PER_CLIENT", "4", "max_concurrent_per_client", "4"},
	{"env", "SEALOCR_MAX_BUFFERED_BYTES", "33554432", "max_buffered_bytes", "33554432"},
	{"env", "SEALOCR_BODY_MIN_RATE", "1000", "body_min_rate", "1000"},
	{"env", "SEALOCR_BODY_GRACE", "3s", "body_grace", "3s"},
	{"env", "SEALOCR_ACME_ON_DEMAND_RATE", "2/h", "tls.acme.on_demand_rate", "2/h"},
	{"env", "SEALOCR_ACME_ON_DEMAND_BURST", "3", "tls.acme.on_demand_burst", "3"},
	{"env", "SEALOCR_ACME_ON_DEMAND_MAX", "9", "tls.acme.on_demand_max", "9"},
	{"key", "max_concurrent_per_client", "5", "max_concurrent_per_client", "5"},
	{"key", "max_buffered_bytes", "30000000", "max_buffered_bytes", "30000000"},
	{"key", "body_min_rate", "2000", "body_min_rate", "2000"},
	{"key", "body_grace", "4s", "body_grace", "4s"},
	{"env", "SEALOCR_BODY_TIMEOUT", "90s", "body_timeout", "1m30s"},
	{"key", "body_timeout", "3m", "body_timeout", "3m0s"},
	{"env", "SEALOCR_MAX_BUFFERED_BYTES_PER_CLIENT", "30000000", "max_buffered_bytes_per_client", "30000000"},
	{"key", "max_buffered_bytes_per_client", "25000000", "max_buffered_bytes_per_client", "25000000"},
	{"key", "tls.acme.on_demand_rate", "3/h", "tls.acme.on_demand_rate", "3/h"},
	{"key", "tls.acme.on_demand_burst", "4", "tls.acme.on_demand_burst", "4"},
	{"key", "tls.acme.on_demand_max", "11", "tls.acme.on_demand_max", "11"},
	{"key", "metrics_listen", "127.0.0.1:1", "metrics_listen", "127.0.0.1:1"},
	{"key", "unsafe_allow_remote_metrics", "true", "unsafe_allow_remote_metrics", "true"},
	{"key", "shutdown_timeout", "1s", "shutdown_timeout", "1s"},
	{"key", "log_level", "debug", "log_level", "debug"},
	{"key", "log_format", "console", "log_format", "console"},
	{"key", "tls.mode", "files", "tls.mode", "files"},
	{"key", "tls.cert_file", "/c.pem", "tls.cert_file", "/c.pem"},
	{"key", "tls.key_file", "/k.pem", "tls.key_file", "/k.pem"},
	{"key", "tls.acme.domains", "[a.example.com]", "tls.acme.domains", "[a.example.com]"},
	{"key", "tls.acme.email", "a@example.com", "tls.acme.email", "a@example.com"},
	{"key", "tls.acme.ca", "https://ca.example/d", "tls.acme.ca", "https://ca.example/d"},
	{"key", "tls.acme.ca_root", "/r.pem", "tls.acme.ca_root", "/r.pem"},
	{"key", "tls.acme.staging", "true", "tls.acme.staging", "true"},
	{"key", "tls.acme.storage_dir", "/st", "tls.acme.storage_dir", "/st"},
	{"key", "tls.acme.challenges", "[http-01]", "tls.acme.challenges", "[http-01]"},
	{"key", "tls.acme.on_demand_allow", "['*.a.example.com']", "tls.acme.on_demand_allow", "[*.a.example.com]"},
	{"key", "tls.acme.on_demand_ask", "https://ask.example/", "tls.acme.on_demand_ask", "https://ask.example/"},
	{"key", "auth.mode", "optional", "auth.mode", "optional"},
	{"key", "auth.psk", "required", "auth.psk", "required"},
	{"key", "auth.ohttp", "required", "auth.ohttp", "required"},
	{"key", "auth.legacy", "optional", "auth.legacy", "optional"},
	{"key", "auth.plain", "required", "auth.plain", "required"},
	{"key", "auth.realm", "r", "auth.realm", "r"},
	{"key", "auth.api_keys_file", "/a.yaml", "auth.api_keys_file", "/a.yaml"},
	{"key", "auth.jwt.issuer", "i", "auth.jwt.issuer", "i"},
	{"key", "auth.jwt.audience", "[x]", "auth.jwt.audience", "[x]"},
	{"key", "auth.jwt.hs256_key_file", "/h", "auth.jwt.hs256_key_file", "/h"},
	{"key", "auth.jwt.public_key_files", "[/p.pem]", "auth.jwt.public_key_files", "[/p.pem]"},
	{"key", "auth.jwt.jwks_file", "/j.json", "auth.jwt.jwks_file", "/j.json"},
	{"key", "auth.jwt.jwks_url", "https://j.example/", "auth.jwt.jwks_url", "https://j.example/"},
	{"key", "auth.jwt.jwks_refresh", "2m", "auth.jwt.jwks_refresh", "2m0s"},
	{"key", "auth.jwt.clock_skew", "1s", "auth.jwt.clock_skew", "1s"},
	{"key", "auth.oidc.issuer", "https://o.example", "auth.oidc.issuer", "https://o.example"},
	{"key", "auth.oidc.client_id", "c", "auth.oidc.client_id", "c"},
	{"key", "auth.oidc.audience", "[c, d]", "auth.oidc.audience", "[c d]"},
	{"key", "auth.oidc.scopes", "[openid, profile]", "auth.oidc.scopes", "[openid profile]"},
	{"key", "rate_limit.enabled", "false", "rate_limit.enabled", "false"},
	{"key", "rate_limit.rate", "1/s", "rate_limit.rate", "1/s"},
	{"key", "rate_limit.burst", "2", "rate_limit.burst", "2"},
	{"key", "rate_limit.legacy_rate", "3/s", "rate_limit.legacy_rate", "3/s"},
	{"key", "rate_limit.legacy_burst", "4", "rate_limit.legacy_burst", "4"},
	{"key", "rate_limit.plain_rate", "5/s", "rate_limit.plain_rate", "5/s"},
	{"key", "rate_limit.plain_burst", "6", "rate_limit.plain_burst", "6"},
	{"key", "rate_limit.max_clients", "7", "rate_limit.max_clients", "7"},
	{"key", "rate_limit.fail", "closed", "rate_limit.fail", "closed"},
	{"key", "redis.url", "rediss://redis.internal", "redis.url", "rediss://redis.internal"},
	{"key", "redis.password_file", "/p", "redis.password_file", "/p"},
	{"key", "redis.password_env", "PW", "redis.password_env", "PW"},
	{"key", "redis.ca_file", "/ca.pem", "redis.ca_file", "/ca.pem"},
	{"key", "redis.timeout", "1s", "redis.timeout", "1s"},
	{"key", "redis.prefix", `"x:"`, "redis.prefix", "x:"},
}

// effective returns the value at a dotted key of the configuration's dump.
func effective(t *testing.T, c Config, key string) string {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(c.Redacted()), &m); err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(key, ".")
	for _, p := range parts[:len(parts)-1] {
		m, _ = m[p].(map[string]any)
	}
	v, ok := m[parts[len(parts)-1]]
	if !ok {
		t.Fatalf("dump has no key %s", key)
	}
	return strings.TrimSpace(strings.ReplaceAll(fmt.Sprint(v), "\n", " "))
}

func TestDocumentedNames(t *testing.T) {
	covered := map[string]bool{}
	for _, d := range documented {
		covered[d.src+" "+d.name] = true
		if d.key == "" {
			continue
		}
		t.Run(d.src+" "+d.name+"="+d.value, func(t *testing.T) {
			env := map[string]string{"HOME": "/home/u"}
			var args []string
			switch d.src {
			case "env":
				env[d.name] = d.value
			case "flag":
				args = []string{"--" + d.name + "=" + d.value}
			case "key":
				parts := strings.Split(d.name, ".")
				var b strings.Builder
				for i, p := range parts {
					b.WriteString(strings.Repeat("  ", i) + p + ":")
					if i < len(parts)-1 {
						b.WriteString("\n")
					}
				}
				b.WriteString(" " + d.value + "\n")
				args = []string{"--config", writeFile(t, b.String())}
			}
			c, _ := load(t, args, envMap(env))
			if got := effective(t, c, d.key); got != d.want {
				t.Errorf("%s = %q, want %q", d.key, got, d.want)
			}
		})
	}
	var c Config
	for _, f := range configs.Fields(&c) {
		if !covered["key "+f.Key] {
			t.Errorf("documented names do not cover key %s", f.Key)
		}
		for _, fl := range f.Flags {
			if !covered["flag "+fl] {
				t.Errorf("documented names do not cover flag --%s", fl)
			}
		}
	}
	for _, e := range append(EnvVars(), ConfigEnv) {
		if !covered["env "+e] {
			t.Errorf("documented names do not cover %s", e)
		}
	}
}

// TestREADMETable checks the README's table of sidecar variables against
// the declarations: every listed variable is declared, and setting one to
// the default the README gives changes nothing.
func TestREADMETable(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	tick := regexp.MustCompile("`([^`]*)`")
	declared := map[string]bool{LegacyKeyEnv: true}
	for _, e := range EnvVars() {
		declared[e] = true
	}
	rows := 0
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "| `SEALOCR_") && !strings.HasPrefix(line, "| `"+LegacyKeyEnv) {
			continue
		}
		rows++
		cells := strings.Split(line, "|")
		var names []string
		for _, m := range tick.FindAllStringSubmatch(cells[1], -1) {
			name, _, _ := strings.Cut(m[1], "=")
			names = append(names, name)
			if !declared[name] {
				t.Errorf("README lists %s, which is not declared", name)
			}
		}
		defs := tick.FindAllStringSubmatch(cells[2], -1)
		if len(names) != 1 || len(defs) != 1 || strings.HasPrefix(defs[0][1], "<") {
			continue
		}
		def := strings.Replace(defs[0][1], "~", "/home/u", 1)
		c, _ := load(t, nil, envMap(map[string]string{"HOME": "/home/u", names[0]: def}))
		if !reflect.DeepEqual(c, Default(home)) {
			t.Errorf("README default %s=%s is not the default", names[0], defs[0][1])
		}
	}
	if rows < 10 {
		t.Errorf("found %d rows of the README's sidecar table", rows)
	}
}

// TestLegacyRequiresCredentials: with legacy_cbc on, the legacy mode
// requires credentials unless unsafe_legacy_anonymous says otherwise.
func TestLegacyRequiresCredentials(t *testing.T) {
	base := map[string]string{"HOME": "/home/u", "SEALOCR_LEGACY_CBC": "true"}
	with := func(kv ...string) map[string]string {
		m := maps.Clone(base)
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, tc := range []struct {
		name    string
		env     map[string]string
		yaml    string
		mode    string
		problem string // "" when valid
	}{
		{"default: required, no credential source", base, "", "required", "no credential source"},
		{"default with api keys", with("SEALOCR_AUTH_API_KEYS_FILE", "/k.yaml"), "", "required", ""},
		{"auth.legacy off", with("SEALOCR_AUTH_API_KEYS_FILE", "/k.yaml"), "auth:\n  legacy: \"off\"\n", "off", "requires credentials"},
		{"auth.legacy optional", with("SEALOCR_AUTH_API_KEYS_FILE", "/k.yaml"), "auth:\n  legacy: optional\n", "optional", "requires credentials"},
		{"unsafe anonymous", with("SEALOCR_UNSAFE_LEGACY_ANONYMOUS", "true"), "", "off", ""},
		{"unsafe anonymous, auth.legacy optional", with("SEALOCR_UNSAFE_LEGACY_ANONYMOUS", "true", "SEALOCR_AUTH_API_KEYS_FILE", "/k.yaml"), "auth:\n  legacy: optional\n", "optional", ""},
		{"legacy off: auth.mode", map[string]string{"HOME": "/home/u"}, "", "off", ""},
		{"bad legacy_mac", with("SEALOCR_UNSAFE_LEGACY_ANONYMOUS", "true", "SEALOCR_LEGACY_MAC", "sometimes"), "", "off", "legacy_mac"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var args []string
			if tc.yaml != "" {
				args = []string{"--config", writeFile(t, tc.yaml)}
			}
			c, _ := load(t, args, envMap(tc.env))
			if got := c.LegacyAuthMode(); got != tc.mode {
				t.Errorf("LegacyAuthMode = %q, want %q", got, tc.mode)
			}
			err := c.Validate()
			switch {
			case tc.problem == "" && err != nil:
				t.Errorf("unexpected: %v", err)
			case tc.problem != "" && (err == nil || !strings.Contains(err.Error(), tc.problem)):
				t.Errorf("got %v, want a problem with %q", err, tc.problem)
			}
		})
	}
}

// TestReplaySizing checks the start-time check of the replay cache's size
// against replay_expected_rate over the retention.
func TestReplaySizing(t *testing.T) {
	for _, c := range []struct {
		name   string
		edit   func(*Config)
		refuse string
	}{
		{"defaults fit", func(*Config) {}, ""},
		{"rate too high for the size", func(c *Config) { c.ReplayExpectedRate = 303 },
			"replay_cache_size 100000 is too small for replay_expected_rate 303/s over a retention of 5m31s (replay_window + replay_max_future + 1s): it needs 100293"},
		{"small cache, short window, low rate", func(c *Config) {
			c.ReplayCacheSize, c.ReplayExpectedRate, c.ReplayWindow, c.ReplayMaxFuture = 80, 1, time.Minute, 5*time.Second
		}, ""},
		{"small cache, default rate", func(c *Config) { c.ReplayCacheSize = 40 }, "replay_cache_size 40 is too small"},
		{"longer window", func(c *Config) { c.ReplayWindow = time.Hour }, "it needs 1089300"},
		{"zero rate", func(c *Config) { c.ReplayExpectedRate = 0 }, "replay_expected_rate 0 out of range"},
		{"future beyond the window", func(c *Config) { c.ReplayWindow, c.ReplayMaxFuture = 10*time.Second, 20*time.Second },
			"replay_max_future 20s out of range 1s..replay_window"},
		{"no future", func(c *Config) { c.ReplayMaxFuture = 0 }, "replay_max_future 0s out of range"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := Default(home)
			c.edit(&cfg)
			err := cfg.Validate()
			if c.refuse == "" && err != nil || c.refuse != "" && (err == nil || !strings.Contains(err.Error(), c.refuse)) {
				t.Fatalf("got %v, want %q", err, c.refuse)
			}
		})
	}
}

// TestDefaultsAgreeWithPackages: a default that a package also applies
// when its option is left empty is declared in the config's tags and must
// be the package's.
func TestDefaultsAgreeWithPackages(t *testing.T) {
	c := Default(home)
	if c.LegacyPath != route.LegacyPath {
		t.Errorf("legacy_path default %q, route.LegacyPath %q", c.LegacyPath, route.LegacyPath)
	}
	if c.LegacyUpstreamPath != coreapi.OCRPath {
		t.Errorf("legacy_upstream_path default %q, core/api.OCRPath %q", c.LegacyUpstreamPath, coreapi.OCRPath)
	}
	if !slices.Equal(c.InnerRoutes, route.DefaultInnerRoutes) {
		t.Errorf("inner_routes default %q, route.DefaultInnerRoutes %q", c.InnerRoutes, route.DefaultInnerRoutes)
	}
	for _, d := range []struct {
		key           string
		config, owner any
	}{
		{"max_concurrent", c.MaxConcurrent, server.DefaultMaxConcurrent},
		{"max_body_bytes", c.MaxBodyBytes, int64(server.DefaultMaxBodyBytes)},
		{"max_concurrent_per_client", c.MaxConcurrentPerClient, server.DefaultMaxConcurrentPerClient},
		{"max_buffered_bytes", c.MaxBufferedBytes, int64(server.DefaultMaxBufferedBytes)},
		{"body_min_rate", c.BodyMinRate, int64(server.DefaultBodyMinRate)},
		{"body_grace", c.BodyGrace, server.DefaultBodyGrace},
		{"body_timeout", c.BodyTimeout, server.DefaultBodyTimeout},
		{"upstream_timeout", c.UpstreamTimeout, upstream.DefaultTimeout},
		{"max_response_bytes", c.MaxResponseBytes, int64(upstream.DefaultMaxResponseBytes)},
		{"replay_window", c.ReplayWindow, psk.DefaultWindow},
		{"replay_max_future", c.ReplayMaxFuture, psk.DefaultMaxFuture},
		{"redis.timeout", c.Redis.Timeout, redisstate.DefaultTimeout},
		{"redis.prefix", c.Redis.Prefix, redisstate.DefaultPrefix},
	} {
		if d.config != d.owner {
			t.Errorf("%s: the config's default %v, the package's %v", d.key, d.config, d.owner)
		}
	}
}

// TestACMEDefaultsAgreeWithTLSTerm: the on-demand bound's defaults are
// declared in the config's tags and must be tlsterm's.
func TestACMEDefaultsAgreeWithTLSTerm(t *testing.T) {
	o := Default(home).TLSOptions().ACME.OnDemand
	if o.Rate != tlsterm.DefaultOnDemandRate || o.Burst != tlsterm.DefaultOnDemandBurst || o.Max != tlsterm.DefaultOnDemandMax {
		t.Errorf("config on-demand defaults %v/s, burst %d, max %d; tlsterm's %v/s, %d, %d", o.Rate, o.Burst, o.Max,
			tlsterm.DefaultOnDemandRate, tlsterm.DefaultOnDemandBurst, tlsterm.DefaultOnDemandMax)
	}
}

// TestEnvWarnings: the sidecar's own variables, its configuration file's
// and the one redis.password_env names are settings; a near miss of one is
// named with it (issue 24, row 5).
func TestEnvWarnings(t *testing.T) {
	var environ []string
	for _, e := range append(EnvVars(), ConfigEnv) {
		environ = append(environ, e+"=x")
	}
	c := Default(home)
	c.Redis.PasswordEnv = "SEALOCR_REDIS_PASSWORD_EN" // a name of the user's, one letter from a setting
	environ = append(environ, "SEALOCR_REDIS_PASSWORD_EN=x")
	if got := c.EnvWarnings(environ); got != nil {
		t.Errorf("settings warned about: %q", got)
	}
	got := c.EnvWarnings(append(environ, "SEALOCR_UPSTREAM_TIMEOT=5s", "SEALOCR_RATELIMIT=off"))
	want := []string{
		"config: SEALOCR_UPSTREAM_TIMEOT is not a setting (did you mean SEALOCR_UPSTREAM_TIMEOUT?)",
		"config: SEALOCR_RATELIMIT is not a setting (did you mean SEALOCR_RATE_LIMIT?)",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}
