// Package config loads the sidecar's configuration: defaults, then an
// optional YAML file (unknown keys rejected), then SEALOCR_* environment
// variables, then flags. Validate then reports every problem at once.
//
// The configuration never holds key material. Pre-shared keys live in the
// file named by keys_file, and the legacy AES-CBC key in the environment
// variable named by LegacyKeyEnv; so Redacted, the dump printed by
// --check-config, holds no secrets.
package config

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/sealocr/sealocr/sidecar/internal/upstream"
)

// LegacyKeyEnv is the environment variable that holds the legacy AES-CBC key
// when legacy_cbc is on. Its name is fixed for compatibility with existing
// clients' deployments; the configuration never holds the key itself.
const LegacyKeyEnv = "AES_SECRET_KEY"

// ConfigEnv is the environment variable naming the configuration file, the
// default of --config.
const ConfigEnv = "SEALOCR_CONFIG"

// TLS modes.
const (
	// TLSModeLocal serves a certificate for localhost signed by a local CA
	// kept in state_dir (see package localtls).
	TLSModeLocal = "local"
)

// Config is the sidecar's configuration. The YAML key of each field is in
// its tag; configs/sidecar.yaml documents every key at its default.
type Config struct {
	// Listen is the TLS address clients connect to.
	Listen string `yaml:"listen"`
	// Upstream is the core: "http://host:port" or "unix:///path.sock".
	Upstream string `yaml:"upstream"`
	// UnsafeAllowRemoteUpstream permits an upstream host that is not
	// loopback; the hop to the core is plaintext.
	UnsafeAllowRemoteUpstream bool `yaml:"unsafe_allow_remote_upstream"`
	// StateDir holds the local CA, the TLS certificate and the default keys
	// file. Empty means $XDG_STATE_HOME/sealocr, else
	// $HOME/.local/state/sealocr. A leading "~/" is the home folder.
	StateDir string `yaml:"state_dir"`
	// KeysFile is the file of pre-shared keys. Empty means
	// <state_dir>/keys.yaml. A leading "~/" is the home folder.
	KeysFile string `yaml:"keys_file"`
	// LegacyCBC turns on the legacy AES-CBC endpoint at LegacyPath, keyed by
	// the environment variable LegacyKeyEnv.
	LegacyCBC bool `yaml:"legacy_cbc"`
	// LegacyPath is the path of the legacy endpoint on the sidecar.
	LegacyPath string `yaml:"legacy_path"`
	// LegacyUpstreamPath is the core path legacy requests are forwarded to.
	LegacyUpstreamPath string `yaml:"legacy_upstream_path"`
	// MaxBodyBytes caps a client's request body.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// UpstreamTimeout is the deadline of each call to the core.
	UpstreamTimeout time.Duration `yaml:"upstream_timeout"`
	// MaxConcurrent caps the requests handled at once; more are refused.
	MaxConcurrent int `yaml:"max_concurrent"`
	// ReplayWindow is how far a sealed request's timestamp may be from now.
	ReplayWindow time.Duration `yaml:"replay_window"`
	// ReplayCacheSize is how many request nonces are remembered to refuse
	// replays within ReplayWindow.
	ReplayCacheSize int `yaml:"replay_cache_size"`
	// PlainRoutes is the allowlist of unencrypted routes forwarded to the
	// core as they are; see Route for the syntax.
	PlainRoutes []string `yaml:"plain_routes"`
	// MetricsListen is the plain-HTTP address of /metrics; empty turns the
	// metrics listener off.
	MetricsListen string `yaml:"metrics_listen"`
	// UnsafeAllowRemoteMetrics permits a MetricsListen host that is not
	// loopback.
	UnsafeAllowRemoteMetrics bool `yaml:"unsafe_allow_remote_metrics"`
	// ShutdownTimeout is how long in-flight requests may finish after
	// SIGTERM.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `yaml:"log_level"`
	// LogFormat is json or console.
	LogFormat string `yaml:"log_format"`
	// TLS configures how the sidecar gets its certificate.
	TLS TLS `yaml:"tls"`
}

// TLS is the tls section of the configuration.
type TLS struct {
	// Mode is how the certificate is obtained. Only TLSModeLocal exists so
	// far; "acme" and "files" are reserved.
	Mode string `yaml:"mode"`
}

// Flags are the command-line switches besides the configuration.
type Flags struct {
	// ConfigFile is the configuration file that was read, if any.
	ConfigFile string
	// CheckConfig asks to validate the configuration, print it and exit.
	CheckConfig bool
	// Version asks to print the version and exit.
	Version bool
}

// Default returns the defaults, with the paths derived from getenv.
func Default(getenv func(string) string) Config {
	c := defaults()
	c.resolvePaths(getenv)
	return c
}

// defaults returns the defaults with the paths left empty.
func defaults() Config {
	return Config{
		Listen:             "127.0.0.1:8443",
		Upstream:           "http://127.0.0.1:8081",
		LegacyPath:         "/ocr",
		LegacyUpstreamPath: "/v1/ocr",
		MaxBodyBytes:       20 << 20,
		UpstreamTimeout:    60 * time.Second,
		MaxConcurrent:      64,
		ReplayWindow:       5 * time.Minute,
		ReplayCacheSize:    100_000,
		PlainRoutes:        []string{"GET /", "GET /static/*", "GET /healthz"},
		MetricsListen:      "127.0.0.1:9443",
		ShutdownTimeout:    15 * time.Second,
		LogLevel:           "info",
		LogFormat:          "json",
		TLS:                TLS{Mode: TLSModeLocal},
	}
}

// DefaultStateDir returns $XDG_STATE_HOME/sealocr when XDG_STATE_HOME is an
// absolute path, else $HOME/.local/state/sealocr, else "".
func DefaultStateDir(getenv func(string) string) string {
	if x := getenv("XDG_STATE_HOME"); filepath.IsAbs(x) {
		return filepath.Join(x, "sealocr")
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".local", "state", "sealocr")
	}
	return ""
}

// resolvePaths expands "~/" and fills the empty paths with their defaults.
func (c *Config) resolvePaths(getenv func(string) string) {
	c.StateDir = expandHome(c.StateDir, getenv)
	if c.StateDir == "" {
		c.StateDir = DefaultStateDir(getenv)
	}
	c.KeysFile = expandHome(c.KeysFile, getenv)
	if c.KeysFile == "" && c.StateDir != "" {
		c.KeysFile = filepath.Join(c.StateDir, "keys.yaml")
	}
}

func expandHome(p string, getenv func(string) string) string {
	h := getenv("HOME")
	if h == "" {
		return p
	}
	if p == "~" {
		return h
	}
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		return filepath.Join(h, rest)
	}
	return p
}

// env lists each environment variable and how it sets the config.
var env = []struct {
	name string
	set  func(c *Config, v string) error
}{
	{"SEALOCR_LISTEN", func(c *Config, v string) error { c.Listen = v; return nil }},
	{"SEALOCR_UPSTREAM", func(c *Config, v string) error { c.Upstream = v; return nil }},
	{"SEALOCR_UNSAFE_ALLOW_REMOTE_UPSTREAM", func(c *Config, v string) error { return setBool(&c.UnsafeAllowRemoteUpstream, v) }},
	{"SEALOCR_STATE_DIR", func(c *Config, v string) error { c.StateDir = v; return nil }},
	{"SEALOCR_KEYS_FILE", func(c *Config, v string) error { c.KeysFile = v; return nil }},
	{"SEALOCR_LEGACY_CBC", func(c *Config, v string) error { return setBool(&c.LegacyCBC, v) }},
	{"SEALOCR_LEGACY_PATH", func(c *Config, v string) error { c.LegacyPath = v; return nil }},
	{"SEALOCR_LEGACY_UPSTREAM_PATH", func(c *Config, v string) error { c.LegacyUpstreamPath = v; return nil }},
	{"SEALOCR_MAX_BODY_BYTES", func(c *Config, v string) error { return setInt64(&c.MaxBodyBytes, v) }},
	{"SEALOCR_UPSTREAM_TIMEOUT", func(c *Config, v string) error { return setDuration(&c.UpstreamTimeout, v) }},
	{"SEALOCR_MAX_CONCURRENT", func(c *Config, v string) error { return setInt(&c.MaxConcurrent, v) }},
	{"SEALOCR_REPLAY_WINDOW", func(c *Config, v string) error { return setDuration(&c.ReplayWindow, v) }},
	{"SEALOCR_REPLAY_CACHE_SIZE", func(c *Config, v string) error { return setInt(&c.ReplayCacheSize, v) }},
	{"SEALOCR_PLAIN_ROUTES", func(c *Config, v string) error { c.PlainRoutes = splitRoutes(v); return nil }},
	{"SEALOCR_METRICS_LISTEN", func(c *Config, v string) error { c.MetricsListen = v; return nil }},
	{"SEALOCR_UNSAFE_ALLOW_REMOTE_METRICS", func(c *Config, v string) error { return setBool(&c.UnsafeAllowRemoteMetrics, v) }},
	{"SEALOCR_SHUTDOWN_TIMEOUT", func(c *Config, v string) error { return setDuration(&c.ShutdownTimeout, v) }},
	{"SEALOCR_LOG_LEVEL", func(c *Config, v string) error { c.LogLevel = v; return nil }},
	{"SEALOCR_LOG_FORMAT", func(c *Config, v string) error { c.LogFormat = v; return nil }},
	{"SEALOCR_TLS_MODE", func(c *Config, v string) error { c.TLS.Mode = v; return nil }},
}

// EnvVars returns the names of the environment variables Load reads, besides
// ConfigEnv, HOME and XDG_STATE_HOME.
func EnvVars() []string {
	out := make([]string, len(env))
	for i, e := range env {
		out[i] = e.name
	}
	return out
}

// splitRoutes splits a comma-separated route list; "none" is the empty list.
func splitRoutes(v string) []string {
	if strings.TrimSpace(v) == "none" {
		return []string{}
	}
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func setInt(p *int, v string) error {
	n, err := strconv.Atoi(v)
	if err == nil {
		*p = n
	}
	return err
}

func setInt64(p *int64, v string) error {
	n, err := strconv.ParseInt(v, 10, 64)
	if err == nil {
		*p = n
	}
	return err
}

func setDuration(p *time.Duration, v string) error {
	d, err := time.ParseDuration(v)
	if err == nil {
		*p = d
	}
	return err
}

func setBool(p *bool, v string) error {
	b, err := strconv.ParseBool(v)
	if err == nil {
		*p = b
	}
	return err
}

// Load builds the configuration from args (without the program name) and
// getenv: defaults, then the file named by --config or SEALOCR_CONFIG, then
// the environment, then flags; empty paths get their defaults last, so
// keys_file follows a state_dir set at any level. It returns the
// configuration unvalidated; a parse error of any source is returned, joined
// with the others.
func Load(args []string, getenv func(string) string) (Config, Flags, error) {
	c := defaults()
	var fl Flags
	fs := flag.NewFlagSet("sidecar", flag.ContinueOnError)
	fs.StringVar(&fl.ConfigFile, "config", getenv(ConfigEnv), "YAML configuration file (env "+ConfigEnv+")")
	var fc Config // flag values; only the flags that were set are applied
	fs.StringVar(&fc.Listen, "listen", "", "TLS listen address (env SEALOCR_LISTEN, default "+c.Listen+")")
	fs.StringVar(&fc.Upstream, "upstream", "", "core URL, http://host:port or unix:///path.sock (env SEALOCR_UPSTREAM, default "+c.Upstream+")")
	fs.BoolVar(&fc.UnsafeAllowRemoteUpstream, "unsafe-allow-remote-upstream", false, "allow an upstream that is not loopback (env SEALOCR_UNSAFE_ALLOW_REMOTE_UPSTREAM)")
	fs.StringVar(&fc.StateDir, "state-dir", "", "state folder (env SEALOCR_STATE_DIR, default $XDG_STATE_HOME/sealocr or ~/.local/state/sealocr)")
	fs.StringVar(&fc.KeysFile, "keys-file", "", "pre-shared keys file (env SEALOCR_KEYS_FILE, default <state-dir>/keys.yaml)")
	fs.BoolVar(&fc.LegacyCBC, "legacy-cbc", false, "serve the legacy AES-CBC endpoint, key from env "+LegacyKeyEnv+" (env SEALOCR_LEGACY_CBC)")
	fs.Int64Var(&fc.MaxBodyBytes, "max-body-bytes", 0, "request body limit (env SEALOCR_MAX_BODY_BYTES, default 20 MiB)")
	fs.DurationVar(&fc.UpstreamTimeout, "upstream-timeout", 0, "deadline of each call to the core (env SEALOCR_UPSTREAM_TIMEOUT, default 60s)")
	fs.IntVar(&fc.MaxConcurrent, "max-concurrent", 0, "requests handled at once (env SEALOCR_MAX_CONCURRENT, default 64)")
	fs.StringVar(&fc.MetricsListen, "metrics-listen", "", "metrics address, \"\" for none (env SEALOCR_METRICS_LISTEN, default "+c.MetricsListen+")")
	fs.StringVar(&fc.LogLevel, "log-level", "", "debug|info|warn|error (env SEALOCR_LOG_LEVEL, default info)")
	fs.StringVar(&fc.LogFormat, "log-format", "", "json|console (env SEALOCR_LOG_FORMAT, default json)")
	fs.BoolVar(&fl.CheckConfig, "check-config", false, "validate the configuration, print it and exit")
	fs.BoolVar(&fl.Version, "version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		return c, fl, err
	}
	if fs.NArg() > 0 {
		return c, fl, fmt.Errorf("config: unexpected arguments %q", fs.Args())
	}
	var errs []error
	if fl.ConfigFile != "" {
		if err := loadFile(fl.ConfigFile, &c); err != nil {
			errs = append(errs, err)
		}
	}
	for _, e := range env {
		if v := getenv(e.name); v != "" {
			if err := e.set(&c, v); err != nil {
				errs = append(errs, fmt.Errorf("config: %s: %w", e.name, err))
			}
		}
	}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "listen":
			c.Listen = fc.Listen
		case "upstream":
			c.Upstream = fc.Upstream
		case "unsafe-allow-remote-upstream":
			c.UnsafeAllowRemoteUpstream = fc.UnsafeAllowRemoteUpstream
		case "state-dir":
			c.StateDir = fc.StateDir
		case "keys-file":
			c.KeysFile = fc.KeysFile
		case "legacy-cbc":
			c.LegacyCBC = fc.LegacyCBC
		case "max-body-bytes":
			c.MaxBodyBytes = fc.MaxBodyBytes
		case "upstream-timeout":
			c.UpstreamTimeout = fc.UpstreamTimeout
		case "max-concurrent":
			c.MaxConcurrent = fc.MaxConcurrent
		case "metrics-listen":
			c.MetricsListen = fc.MetricsListen
		case "log-level":
			c.LogLevel = fc.LogLevel
		case "log-format":
			c.LogFormat = fc.LogFormat
		}
	})
	c.resolvePaths(getenv)
	return c, fl, errors.Join(errs...)
}

// loadFile decodes the YAML file at path over c, rejecting unknown keys and
// more than one document. An empty file changes nothing.
func loadFile(path string, c *Config) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		return fmt.Errorf("config: %s: %w", path, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return fmt.Errorf("config: %s: want one YAML document", path)
	}
	return nil
}

// Validate reports every problem at once. It is pure: it reads no file and
// no environment variable.
func (c Config) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf("config: "+format, a...)) }

	if err := checkAddr(c.Listen); err != nil {
		add("listen %q: %v", c.Listen, err)
	}
	if _, err := upstream.ParseTarget(c.Upstream, c.UnsafeAllowRemoteUpstream); err != nil {
		add("upstream: %v", err)
	}
	if c.StateDir == "" {
		add("state_dir is empty and neither XDG_STATE_HOME nor HOME is set")
	} else if !filepath.IsAbs(c.StateDir) {
		add("state_dir %q is not an absolute path", c.StateDir)
	}
	if c.KeysFile != "" && !filepath.IsAbs(c.KeysFile) {
		add("keys_file %q is not an absolute path", c.KeysFile)
	}
	if !cleanPath(c.LegacyPath) || strings.HasSuffix(c.LegacyPath, "/") {
		add("legacy_path %q: want a clean absolute path such as /ocr", c.LegacyPath)
	}
	if !cleanPath(c.LegacyUpstreamPath) || strings.HasSuffix(c.LegacyUpstreamPath, "/") {
		add("legacy_upstream_path %q: want a clean absolute path such as /v1/ocr", c.LegacyUpstreamPath)
	}
	if c.MaxBodyBytes < 1<<10 || c.MaxBodyBytes > 1<<30 {
		add("max_body_bytes %d out of range 1 KiB..1 GiB", c.MaxBodyBytes)
	}
	if c.UpstreamTimeout < 100*time.Millisecond || c.UpstreamTimeout > time.Hour {
		add("upstream_timeout %s out of range 100ms..1h", c.UpstreamTimeout)
	}
	if c.MaxConcurrent < 1 || c.MaxConcurrent > 65536 {
		add("max_concurrent %d out of range 1..65536", c.MaxConcurrent)
	}
	if c.ReplayWindow < time.Second || c.ReplayWindow > 24*time.Hour {
		add("replay_window %s out of range 1s..24h", c.ReplayWindow)
	}
	if c.ReplayCacheSize < 1 || c.ReplayCacheSize > 100_000_000 {
		add("replay_cache_size %d out of range 1..100000000", c.ReplayCacheSize)
	}
	if _, err := ParseRoutes(c.PlainRoutes); err != nil {
		for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
			add("plain_routes: %v", e)
		}
	}
	if c.MetricsListen != "" {
		if err := checkAddr(c.MetricsListen); err != nil {
			add("metrics_listen %q: %v", c.MetricsListen, err)
		} else if host, _, _ := net.SplitHostPort(c.MetricsListen); !upstream.IsLoopback(host) && !c.UnsafeAllowRemoteMetrics {
			add("metrics_listen %q is not a loopback address; metrics are served without TLS or authentication (set unsafe_allow_remote_metrics to override)", c.MetricsListen)
		}
		if c.MetricsListen == c.Listen {
			add("metrics_listen and listen are both %q", c.Listen)
		}
	}
	if c.ShutdownTimeout < 0 || c.ShutdownTimeout > 10*time.Minute {
		add("shutdown_timeout %s out of range 0..10m", c.ShutdownTimeout)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		add("log_level %q: want debug, info, warn or error", c.LogLevel)
	}
	switch c.LogFormat {
	case "json", "console":
	default:
		add("log_format %q: want json or console", c.LogFormat)
	}
	switch c.TLS.Mode {
	case TLSModeLocal:
	case "acme", "files":
		add("tls.mode %q is not implemented yet; want %q", c.TLS.Mode, TLSModeLocal)
	default:
		add("tls.mode %q: want %q", c.TLS.Mode, TLSModeLocal)
	}
	return errors.Join(errs...)
}

// checkAddr checks a host:port listen address; the host may be empty (all
// interfaces).
func checkAddr(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return errors.New("bad port")
	}
	return nil
}

// CheckEnvironment reports what the configuration needs from the environment
// and does not find there: the legacy key variable when legacy_cbc is on. It
// reports only presence, never a value.
func (c Config) CheckEnvironment(getenv func(string) string) error {
	if c.LegacyCBC && getenv(LegacyKeyEnv) == "" {
		return fmt.Errorf("config: legacy_cbc is on but environment variable %s is not set", LegacyKeyEnv)
	}
	return nil
}

// Routes returns the parsed plain-route allowlist. Call it on a validated
// configuration; invalid entries are left out.
func (c Config) Routes() []Route {
	var out []Route
	for _, s := range c.PlainRoutes {
		if r, err := ParseRoute(s); err == nil {
			out = append(out, r)
		}
	}
	return out
}

// Redacted returns the configuration as YAML for --check-config and logs.
// The configuration holds no secrets; as a further guard the upstream URL is
// shown without user information or query, since an invalid configuration
// might carry them.
func (c Config) Redacted() string {
	c.Upstream = upstream.RedactURL(c.Upstream)
	c.PlainRoutes = append([]string{}, c.PlainRoutes...) // "[]" rather than "null"
	b, err := yaml.Marshal(c)
	if err != nil { // cannot happen for this type
		return "# configuration could not be shown\n"
	}
	var hdr strings.Builder
	hdr.WriteString("# sealocr sidecar configuration (effective values; no secrets: keys are referenced, never held)\n")
	if c.LegacyCBC {
		fmt.Fprintf(&hdr, "# legacy_cbc key: environment variable %s\n", LegacyKeyEnv)
	}
	return hdr.String() + string(b)
}

// String returns Redacted.
func (c Config) String() string { return c.Redacted() }
