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
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/sealocr/sealocr/sidecar/internal/clientip"
	"github.com/sealocr/sealocr/sidecar/internal/ratelimit"
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
	// TLSModeFiles serves tls.cert_file and tls.key_file, reloaded when
	// they change.
	TLSModeFiles = "files"
	// TLSModeACME obtains public certificates from an ACME CA (Let's
	// Encrypt by default) for tls.acme.domains.
	TLSModeACME = "acme"
)

// Off is the value that turns http_listen off.
const Off = "off"

// Config is the sidecar's configuration. The YAML key of each field is in
// its tag; configs/sidecar.yaml documents every key at its default.
type Config struct {
	// Listen is the TLS address clients connect to. Empty means
	// 127.0.0.1:8443 in local mode and :443 in the acme and files modes.
	Listen string `yaml:"listen"`
	// HTTPListen is the plain-HTTP address that answers ACME HTTP-01
	// challenges and redirects everything else to HTTPS; "off" turns it
	// off. Empty means :80 in acme mode and off otherwise.
	HTTPListen string `yaml:"http_listen"`
	// TrustedProxies are the addresses or CIDR prefixes of proxies (load
	// balancers) whose X-Forwarded-For and PROXY protocol headers are
	// believed.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// ProxyProtocol requires a PROXY protocol header (v1 or v2) on every
	// connection from a trusted proxy.
	ProxyProtocol bool `yaml:"proxy_protocol"`
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
	// Auth configures client authentication.
	Auth Auth `yaml:"auth"`
	// RateLimit configures per-client rate limits.
	RateLimit RateLimit `yaml:"rate_limit"`
}

// TLS is the tls section of the configuration.
type TLS struct {
	// Mode is how the certificate is obtained: TLSModeLocal, TLSModeFiles
	// or TLSModeACME. Empty means acme when acme domains or on-demand
	// names are set, files when cert_file is set, else local.
	Mode string `yaml:"mode"`
	// CertFile and KeyFile are the PEM certificate chain and key of files
	// mode.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ACME configures acme mode.
	ACME ACME `yaml:"acme"`
}

// ACME is the tls.acme section.
type ACME struct {
	// Domains are the names certificates are obtained for.
	Domains []string `yaml:"domains"`
	// Email is the ACME account contact; optional.
	Email string `yaml:"email"`
	// CA is the ACME directory URL; empty means Let's Encrypt.
	CA string `yaml:"ca"`
	// CARoot is a PEM file of roots trusted for the ACME server itself.
	CARoot string `yaml:"ca_root"`
	// Staging selects Let's Encrypt's staging directory when CA is empty.
	Staging bool `yaml:"staging"`
	// StorageDir keeps the account and certificates; empty means
	// <state_dir>/acme.
	StorageDir string `yaml:"storage_dir"`
	// Challenges are the enabled challenge types: http-01, tls-alpn-01.
	Challenges []string `yaml:"challenges"`
	// OnDemandAllow lists names and "*.domain" patterns that may get a
	// certificate on demand, during their first handshake.
	OnDemandAllow []string `yaml:"on_demand_allow"`
	// OnDemandAsk is a URL asked about other names (GET ?domain=NAME; 200
	// approves).
	OnDemandAsk string `yaml:"on_demand_ask"`
}

// Auth is the auth section.
type Auth struct {
	// Mode is how encrypted requests (PSK, OHTTP, legacy) treat
	// credentials: off, optional or required.
	Mode string `yaml:"mode"`
	// PSK, OHTTP and Legacy override Mode for one envelope; empty
	// inherits it.
	PSK    string `yaml:"psk"`
	OHTTP  string `yaml:"ohttp"`
	Legacy string `yaml:"legacy"`
	// Plain is the mode of the plain routes and the OHTTP key
	// configuration.
	Plain string `yaml:"plain"`
	// Realm is the WWW-Authenticate realm.
	Realm string `yaml:"realm"`
	// JWT configures bearer JWTs.
	JWT JWT `yaml:"jwt"`
	// APIKeysFile is a YAML file of API key hashes.
	APIKeysFile string `yaml:"api_keys_file"`
}

// JWT is the auth.jwt section.
type JWT struct {
	// Issuer, when set, must equal the iss claim.
	Issuer string `yaml:"issuer"`
	// Audience, when set, must contain one of the aud values.
	Audience []string `yaml:"audience"`
	// HS256KeyFile is a file holding the raw HS256 key (32 bytes or more).
	HS256KeyFile string `yaml:"hs256_key_file"`
	// PublicKeyFiles are PEM public keys: RSA (RS256), P-256 (ES256),
	// Ed25519 (EdDSA); the kid is the file's base name without extension.
	PublicKeyFiles []string `yaml:"public_key_files"`
	// JWKSFile is a JSON Web Key Set file.
	JWKSFile string `yaml:"jwks_file"`
	// JWKSURL is a JSON Web Key Set URL, cached and refreshed.
	JWKSURL string `yaml:"jwks_url"`
	// JWKSRefresh is how often JWKSURL is refetched.
	JWKSRefresh time.Duration `yaml:"jwks_refresh"`
	// ClockSkew is the leeway on exp and nbf.
	ClockSkew time.Duration `yaml:"clock_skew"`
}

// RateLimit is the rate_limit section.
type RateLimit struct {
	// Enabled turns rate limiting on.
	Enabled bool `yaml:"enabled"`
	// Rate and Burst are the bucket of PSK and OHTTP requests per client
	// ("60/m": 60 per minute; s, m or h).
	Rate  string `yaml:"rate"`
	Burst int    `yaml:"burst"`
	// LegacyRate and LegacyBurst are the bucket of legacy CBC requests.
	LegacyRate  string `yaml:"legacy_rate"`
	LegacyBurst int    `yaml:"legacy_burst"`
	// PlainRate and PlainBurst are the bucket of plain routes.
	PlainRate  string `yaml:"plain_rate"`
	PlainBurst int    `yaml:"plain_burst"`
	// MaxClients bounds the buckets kept in memory.
	MaxClients int `yaml:"max_clients"`
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
		TLS: TLS{ACME: ACME{
			Challenges: []string{"http-01", "tls-alpn-01"},
		}},
		Auth: Auth{
			Mode:  "off",
			Plain: "off",
			Realm: "sealocr",
			JWT:   JWT{JWKSRefresh: 10 * time.Minute, ClockSkew: 30 * time.Second},
		},
		RateLimit: RateLimit{
			Enabled: true,
			Rate:    "60/m", Burst: 60,
			LegacyRate: "10/m", LegacyBurst: 10,
			PlainRate: "600/m", PlainBurst: 200,
			MaxClients: 100_000,
		},
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

// resolvePaths expands "~/" and fills the empty paths, the TLS mode and the
// listen addresses with their defaults.
func (c *Config) resolvePaths(getenv func(string) string) {
	if c.TLS.Mode == "" {
		switch {
		case len(c.TLS.ACME.Domains) > 0 || len(c.TLS.ACME.OnDemandAllow) > 0 || c.TLS.ACME.OnDemandAsk != "":
			c.TLS.Mode = TLSModeACME
		case c.TLS.CertFile != "":
			c.TLS.Mode = TLSModeFiles
		default:
			c.TLS.Mode = TLSModeLocal
		}
	}
	if c.Listen == "" {
		c.Listen = "127.0.0.1:8443"
		if c.TLS.Mode != TLSModeLocal {
			c.Listen = ":443"
		}
	}
	if c.HTTPListen == "" {
		c.HTTPListen = Off
		if c.TLS.Mode == TLSModeACME {
			c.HTTPListen = ":80"
		}
	}
	for _, p := range []*string{&c.TLS.CertFile, &c.TLS.KeyFile, &c.TLS.ACME.CARoot, &c.Auth.JWT.HS256KeyFile, &c.Auth.JWT.JWKSFile, &c.Auth.APIKeysFile} {
		*p = expandHome(*p, getenv)
	}
	for i := range c.Auth.JWT.PublicKeyFiles {
		c.Auth.JWT.PublicKeyFiles[i] = expandHome(c.Auth.JWT.PublicKeyFiles[i], getenv)
	}
	c.StateDir = expandHome(c.StateDir, getenv)
	if c.StateDir == "" {
		c.StateDir = DefaultStateDir(getenv)
	}
	c.KeysFile = expandHome(c.KeysFile, getenv)
	if c.KeysFile == "" && c.StateDir != "" {
		c.KeysFile = filepath.Join(c.StateDir, "keys.yaml")
	}
	// An empty list is the same as none: keep one form so configurations
	// compare equal whichever way they were written.
	for _, l := range []*[]string{&c.TrustedProxies, &c.TLS.ACME.Domains, &c.TLS.ACME.Challenges,
		&c.TLS.ACME.OnDemandAllow, &c.Auth.JWT.Audience, &c.Auth.JWT.PublicKeyFiles} {
		if len(*l) == 0 {
			*l = nil
		}
	}
	c.TLS.ACME.StorageDir = expandHome(c.TLS.ACME.StorageDir, getenv)
	if c.TLS.ACME.StorageDir == "" && c.StateDir != "" {
		c.TLS.ACME.StorageDir = filepath.Join(c.StateDir, "acme")
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
	{"SEALOCR_HTTP_LISTEN", func(c *Config, v string) error { c.HTTPListen = v; return nil }},
	{"SEALOCR_TRUSTED_PROXIES", func(c *Config, v string) error { c.TrustedProxies = splitList(v); return nil }},
	{"SEALOCR_PROXY_PROTOCOL", func(c *Config, v string) error { return setBool(&c.ProxyProtocol, v) }},
	{"SEALOCR_TLS_CERT", func(c *Config, v string) error { c.TLS.CertFile = v; return nil }},
	{"SEALOCR_TLS_KEY", func(c *Config, v string) error { c.TLS.KeyFile = v; return nil }},
	{"SEALOCR_DOMAINS", func(c *Config, v string) error { c.TLS.ACME.Domains = splitList(v); return nil }},
	{"SEALOCR_ACME_EMAIL", func(c *Config, v string) error { c.TLS.ACME.Email = v; return nil }},
	{"SEALOCR_ACME_CA", func(c *Config, v string) error { c.TLS.ACME.CA = v; return nil }},
	{"SEALOCR_ACME_CA_ROOT", func(c *Config, v string) error { c.TLS.ACME.CARoot = v; return nil }},
	{"SEALOCR_ACME_STAGING", func(c *Config, v string) error { return setBool(&c.TLS.ACME.Staging, v) }},
	{"SEALOCR_ACME_STORAGE_DIR", func(c *Config, v string) error { c.TLS.ACME.StorageDir = v; return nil }},
	{"SEALOCR_ACME_CHALLENGES", func(c *Config, v string) error { c.TLS.ACME.Challenges = splitList(v); return nil }},
	{"SEALOCR_ACME_ON_DEMAND_ALLOW", func(c *Config, v string) error { c.TLS.ACME.OnDemandAllow = splitList(v); return nil }},
	{"SEALOCR_ACME_ON_DEMAND_ASK", func(c *Config, v string) error { c.TLS.ACME.OnDemandAsk = v; return nil }},
	{"SEALOCR_AUTH", func(c *Config, v string) error { c.Auth.Mode = v; return nil }},
	{"SEALOCR_AUTH_JWT_ISSUER", func(c *Config, v string) error { c.Auth.JWT.Issuer = v; return nil }},
	{"SEALOCR_AUTH_JWT_AUDIENCE", func(c *Config, v string) error { c.Auth.JWT.Audience = splitList(v); return nil }},
	{"SEALOCR_AUTH_JWT_HS256_KEY_FILE", func(c *Config, v string) error { c.Auth.JWT.HS256KeyFile = v; return nil }},
	{"SEALOCR_AUTH_JWT_PUBLIC_KEY_FILES", func(c *Config, v string) error { c.Auth.JWT.PublicKeyFiles = splitList(v); return nil }},
	{"SEALOCR_AUTH_JWKS_FILE", func(c *Config, v string) error { c.Auth.JWT.JWKSFile = v; return nil }},
	{"SEALOCR_AUTH_JWKS_URL", func(c *Config, v string) error { c.Auth.JWT.JWKSURL = v; return nil }},
	{"SEALOCR_AUTH_API_KEYS_FILE", func(c *Config, v string) error { c.Auth.APIKeysFile = v; return nil }},
	{"SEALOCR_RATE_LIMIT", func(c *Config, v string) error {
		// "off" turns rate limiting off; a rate ("120/m") sets the PSK and
		// OHTTP rate and turns it on.
		if strings.TrimSpace(v) == Off {
			c.RateLimit.Enabled = false
			return nil
		}
		c.RateLimit.Enabled, c.RateLimit.Rate = true, strings.TrimSpace(v)
		return nil
	}},
	{"SEALOCR_RATE_LIMIT_BURST", func(c *Config, v string) error { return setInt(&c.RateLimit.Burst, v) }},
	{"SEALOCR_LEGACY_RATE_LIMIT", func(c *Config, v string) error { c.RateLimit.LegacyRate = v; return nil }},
}

// splitList splits a comma-separated list, dropping empty entries.
func splitList(v string) []string {
	out := []string{}
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
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
	fs.StringVar(&fc.Listen, "listen", "", "TLS listen address (env SEALOCR_LISTEN, default 127.0.0.1:8443 in local mode, :443 otherwise)")
	fs.StringVar(&fc.HTTPListen, "http-listen", "", "plain-HTTP address for ACME HTTP-01 and redirects, \"off\" for none (env SEALOCR_HTTP_LISTEN, default :80 in acme mode, off otherwise)")
	fs.StringVar(&fc.TLS.Mode, "tls-mode", "", "local|files|acme (env SEALOCR_TLS_MODE, default acme when domains are set, files when a certificate file is set, else local)")
	var domains string
	fs.StringVar(&domains, "domains", "", "comma-separated names for ACME certificates (env SEALOCR_DOMAINS)")
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
		case "http-listen":
			c.HTTPListen = fc.HTTPListen
		case "tls-mode":
			c.TLS.Mode = fc.TLS.Mode
		case "domains":
			c.TLS.ACME.Domains = splitList(domains)
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
	c.validateTLS(add)
	c.validateAuth(add)
	c.validateRateLimit(add)
	if _, err := clientip.New(c.TrustedProxies); err != nil {
		for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
			add("trusted_proxies: %v", e)
		}
	}
	if c.ProxyProtocol && len(c.TrustedProxies) == 0 {
		add("proxy_protocol is on but trusted_proxies is empty: PROXY headers are read only from trusted proxies")
	}
	return errors.Join(errs...)
}

func (c Config) validateTLS(add func(string, ...any)) {
	if c.HTTPListen != Off {
		if err := checkAddr(c.HTTPListen); err != nil {
			add("http_listen %q: %v (or %q)", c.HTTPListen, err, Off)
		} else if c.HTTPListen == c.Listen || c.HTTPListen == c.MetricsListen {
			add("http_listen %q is also used by listen or metrics_listen", c.HTTPListen)
		}
	}
	a := c.TLS.ACME
	switch c.TLS.Mode {
	case TLSModeLocal:
	case TLSModeFiles:
		if c.TLS.CertFile == "" || c.TLS.KeyFile == "" {
			add("tls.mode files needs tls.cert_file and tls.key_file (env SEALOCR_TLS_CERT, SEALOCR_TLS_KEY)")
		}
	case TLSModeACME:
		if len(a.Domains) == 0 && len(a.OnDemandAllow) == 0 && a.OnDemandAsk == "" {
			add("tls.mode acme needs tls.acme.domains (env SEALOCR_DOMAINS) or an on-demand decision")
		}
		for _, d := range a.Domains {
			if !validDomain(d) {
				add("tls.acme.domains: %q is not a DNS name", d)
			}
		}
		for _, d := range a.OnDemandAllow {
			if !validDomain(strings.TrimPrefix(d, "*.")) {
				add("tls.acme.on_demand_allow: %q is not a DNS name or *.name pattern", d)
			}
		}
		if a.OnDemandAsk != "" && !httpURL(a.OnDemandAsk) {
			add("tls.acme.on_demand_ask %q: want an http(s) URL", a.OnDemandAsk)
		}
		if a.CA != "" && !httpURL(a.CA) {
			add("tls.acme.ca %q: want an http(s) directory URL", a.CA)
		}
		if a.CA != "" && a.Staging {
			add("tls.acme.staging selects Let's Encrypt staging and cannot be combined with tls.acme.ca")
		}
		if !filepath.IsAbs(a.StorageDir) {
			add("tls.acme.storage_dir %q is not an absolute path", a.StorageDir)
		}
		if len(a.Challenges) == 0 {
			add("tls.acme.challenges is empty: want http-01, tls-alpn-01 or both")
		}
		for _, ch := range a.Challenges {
			switch ch {
			case "http-01":
				if c.HTTPListen == Off {
					add("tls.acme.challenges has http-01 but http_listen is off")
				}
			case "tls-alpn-01":
			default:
				add("tls.acme.challenges: %q: want http-01 or tls-alpn-01", ch)
			}
		}
	default:
		add("tls.mode %q: want %s, %s or %s", c.TLS.Mode, TLSModeLocal, TLSModeFiles, TLSModeACME)
	}
	for name, p := range map[string]string{"tls.cert_file": c.TLS.CertFile, "tls.key_file": c.TLS.KeyFile, "tls.acme.ca_root": a.CARoot} {
		if p != "" && !filepath.IsAbs(p) {
			add("%s %q is not an absolute path", name, p)
		}
	}
}

func (c Config) validateAuth(add func(string, ...any)) {
	a := c.Auth
	anyOn := false
	for _, m := range []struct{ key, v string }{{"auth.mode", a.Mode}, {"auth.psk", a.PSK}, {"auth.ohttp", a.OHTTP}, {"auth.legacy", a.Legacy}, {"auth.plain", a.Plain}} {
		switch m.v {
		case "":
			if m.key == "auth.mode" || m.key == "auth.plain" {
				add("%s is empty: want off, optional or required", m.key)
			}
		case "off":
		case "optional", "required":
			anyOn = true
		default:
			add("%s %q: want off, optional or required", m.key, m.v)
		}
	}
	j := a.JWT
	sources := j.HS256KeyFile != "" || len(j.PublicKeyFiles) > 0 || j.JWKSFile != "" || j.JWKSURL != "" || a.APIKeysFile != ""
	if anyOn && !sources {
		add("auth is on but no credential source is set: set auth.jwt (a key file, public keys or a JWKS) or auth.api_keys_file")
	}
	for _, p := range append([]string{j.HS256KeyFile, j.JWKSFile, a.APIKeysFile}, j.PublicKeyFiles...) {
		if p != "" && !filepath.IsAbs(p) {
			add("auth: key file %q is not an absolute path", p)
		}
	}
	if j.JWKSURL != "" {
		u, err := url.Parse(j.JWKSURL)
		if err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && upstream.IsLoopback(u.Hostname()))) {
			add("auth.jwt.jwks_url %q: want an https URL (http only on loopback)", j.JWKSURL)
		}
	}
	if j.JWKSRefresh < time.Minute || j.JWKSRefresh > 24*time.Hour {
		add("auth.jwt.jwks_refresh %s out of range 1m..24h", j.JWKSRefresh)
	}
	if j.ClockSkew < 0 || j.ClockSkew > 5*time.Minute {
		add("auth.jwt.clock_skew %s out of range 0..5m", j.ClockSkew)
	}
	if a.Realm == "" || strings.ContainsAny(a.Realm, "\"\\\r\n") {
		add("auth.realm %q: want a non-empty name without quotes or backslashes", a.Realm)
	}
}

func (c Config) validateRateLimit(add func(string, ...any)) {
	r := c.RateLimit
	for _, b := range []struct {
		key, rate string
		burst     int
	}{{"rate_limit.rate", r.Rate, r.Burst}, {"rate_limit.legacy_rate", r.LegacyRate, r.LegacyBurst}, {"rate_limit.plain_rate", r.PlainRate, r.PlainBurst}} {
		if _, err := ratelimit.ParseRate(b.rate); err != nil {
			add("%s: %v", b.key, err)
		}
		if b.burst < 1 || b.burst > 1_000_000 {
			add("%s burst %d out of range 1..1000000", b.key, b.burst)
		}
	}
	if r.MaxClients < 1 || r.MaxClients > 10_000_000 {
		add("rate_limit.max_clients %d out of range 1..10000000", r.MaxClients)
	}
}

// validDomain reports whether d is a DNS name of two or more labels (an
// ACME CA issues nothing for a single label).
func validDomain(d string) bool {
	if len(d) > 253 || !strings.Contains(d, ".") {
		return false
	}
	for _, l := range strings.Split(d, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			ch := l[i]
			if !('a' <= ch && ch <= 'z' || 'A' <= ch && ch <= 'Z' || '0' <= ch && ch <= '9' || ch == '-') {
				return false
			}
		}
	}
	return true
}

func httpURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
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
	// "[]" rather than "null" for every list.
	for _, l := range []*[]string{&c.PlainRoutes, &c.TrustedProxies, &c.TLS.ACME.Domains, &c.TLS.ACME.Challenges,
		&c.TLS.ACME.OnDemandAllow, &c.Auth.JWT.Audience, &c.Auth.JWT.PublicKeyFiles} {
		*l = append([]string{}, (*l)...)
	}
	c.Auth.JWT.JWKSURL = upstream.RedactURL(c.Auth.JWT.JWKSURL)
	c.TLS.ACME.OnDemandAsk = upstream.RedactURL(c.TLS.ACME.OnDemandAsk)
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
