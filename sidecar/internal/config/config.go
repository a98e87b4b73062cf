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
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sealocr/sealocr/configs"
	"github.com/sealocr/sealocr/sidecar/internal/auth"
	"github.com/sealocr/sealocr/sidecar/internal/clientip"
	"github.com/sealocr/sealocr/sidecar/internal/keys"
	"github.com/sealocr/sealocr/sidecar/internal/ratelimit"
	"github.com/sealocr/sealocr/sidecar/internal/redisstate"
	"github.com/sealocr/sealocr/sidecar/internal/replay"
	"github.com/sealocr/sealocr/sidecar/internal/route"
	"github.com/sealocr/sealocr/sidecar/internal/tlsterm"
	"github.com/sealocr/sealocr/sidecar/internal/upstream"
	"github.com/sealocr/sealocr/sidecar/logging"
)

// LegacyKeyEnv is the environment variable that holds the legacy AES-CBC key
// when legacy_cbc is on (keys.LegacyEnvVar, where its value is read). Its
// name is fixed for compatibility with existing clients' deployments; the
// configuration never holds the key itself.
const LegacyKeyEnv = keys.LegacyEnvVar

// ConfigEnv is the environment variable naming the configuration file, the
// default of --config.
const ConfigEnv = "SEALOCR_CONFIG"

// TLS modes.
const (
	// TLSModeLocal serves a certificate for localhost signed by a local CA
	// kept in state_dir (see package localtls).
	TLSModeLocal = tlsterm.ModeLocal
	// TLSModeFiles serves tls.cert_file and tls.key_file, reloaded when
	// they change.
	TLSModeFiles = tlsterm.ModeFiles
	// TLSModeACME obtains public certificates from an ACME CA (Let's
	// Encrypt by default) for tls.acme.domains.
	TLSModeACME = tlsterm.ModeACME
)

// Off is the value that turns http_listen off.
const Off = "off"

// Config is the sidecar's configuration. Each option is declared once, by
// its field's tags (see package configs): YAML key, environment variables,
// flags, default and doc line. Sections without a YAML key of their own
// (ListenSection, ...) group the top-level keys in Go only;
// configs/sidecar.yaml documents every key at its default.
type Config struct {
	ListenSection   `yaml:",inline"`
	UpstreamSection `yaml:",inline"`
	KeysSection     `yaml:",inline"`
	LegacySection   `yaml:",inline"`
	MetricsSection  `yaml:",inline"`
	LoggingSection  `yaml:",inline"`
	// TLS configures how the sidecar gets its certificate.
	TLS TLS `yaml:"tls"`
	// Auth configures client authentication.
	Auth Auth `yaml:"auth"`
	// RateLimit configures per-client rate limits.
	RateLimit RateLimit `yaml:"rate_limit"`
	// Redis is the state several replicas share; an empty URL keeps it in
	// memory (one replica).
	Redis Redis `yaml:"redis"`
}

// Redis is the redis section: the Redis that replicas share for replay
// caches, rate limits and ACME certificates and locks. The password is
// referenced (a file or the name of an environment variable), never held;
// the URL is refused when it carries one.
type Redis struct {
	URL          string        `yaml:"url" env:"SEALOCR_REDIS_URL" flag:"redis-url" redact:"url" doc:"redis://, rediss:// or unix:// URL of the Redis the replicas share (empty: state in memory, one replica); never a password in it"`
	PasswordFile string        `yaml:"password_file" env:"SEALOCR_REDIS_PASSWORD_FILE" doc:"file holding the Redis password"`
	PasswordEnv  string        `yaml:"password_env" env:"SEALOCR_REDIS_PASSWORD_ENV" doc:"name of the environment variable holding the Redis password"`
	CAFile       string        `yaml:"ca_file" env:"SEALOCR_REDIS_CA_FILE" defaultdoc:"the system roots" doc:"PEM CAs trusted for a rediss:// server"`
	Timeout      time.Duration `yaml:"timeout" env:"SEALOCR_REDIS_TIMEOUT" default:"250ms" doc:"deadline of every Redis call"`
	Prefix       string        `yaml:"prefix" env:"SEALOCR_REDIS_PREFIX" default:"sealocr:" doc:"prefix of every Redis key"`
}

// Rate-limit failure policies (rate_limit.fail): what a request gets when
// the shared rate-limit store cannot be asked.
const (
	// FailOpen serves the request unchecked, counts it and warns.
	FailOpen = "open"
	// FailClosed refuses it with 503 busy and Retry-After.
	FailClosed = "closed"
)

// ListenSection is where and how clients are served.
type ListenSection struct {
	// Listen is the TLS address; empty means 127.0.0.1:8443 in local mode
	// and :443 in the acme and files modes.
	Listen string `yaml:"listen" env:"SEALOCR_LISTEN" flag:"listen" defaultdoc:"127.0.0.1:8443 in local mode, :443 otherwise" doc:"TLS listen address"`
	// HTTPListen answers ACME HTTP-01 and redirects to HTTPS; Off turns
	// it off; empty means :80 in acme mode and off otherwise.
	HTTPListen     string   `yaml:"http_listen" env:"SEALOCR_HTTP_LISTEN" flag:"http-listen" defaultdoc:":80 in acme mode, off otherwise" doc:"plain-HTTP address for ACME HTTP-01 and redirects, \"off\" for none"`
	TrustedProxies []string `yaml:"trusted_proxies" env:"SEALOCR_TRUSTED_PROXIES" doc:"addresses or CIDR prefixes of proxies whose X-Forwarded-For and PROXY headers are believed"`
	ProxyProtocol  bool     `yaml:"proxy_protocol" env:"SEALOCR_PROXY_PROTOCOL" doc:"require a PROXY protocol header from trusted proxies"`
	// MaxBodyBytes caps a client's request body.
	MaxBodyBytes    int64         `yaml:"max_body_bytes" env:"SEALOCR_MAX_BODY_BYTES" flag:"max-body-bytes" default:"20971520" doc:"request body limit in bytes"`
	MaxConcurrent   int           `yaml:"max_concurrent" env:"SEALOCR_MAX_CONCURRENT" flag:"max-concurrent" default:"64" doc:"requests handled at once"`
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout" env:"SEALOCR_SHUTDOWN_TIMEOUT" default:"15s" doc:"how long in-flight requests may finish after SIGTERM"`
	// MaxConcurrentPerClient bounds one client's requests in progress
	// (client: identity, or address with IPv6 by /64, as the rate limiter).
	MaxConcurrentPerClient int `yaml:"max_concurrent_per_client" env:"SEALOCR_MAX_CONCURRENT_PER_CLIENT" default:"8" doc:"requests in progress per client, body reading included (capped at max_concurrent)"`
	// MaxBufferedBytes bounds the request bodies held in memory at once,
	// across all requests; beyond it 503 busy with Retry-After.
	MaxBufferedBytes int64 `yaml:"max_buffered_bytes" env:"SEALOCR_MAX_BUFFERED_BYTES" default:"67108864" doc:"bytes of request bodies buffered at once, all requests together"`
	// BodyMinRate and BodyGrace: a body must arrive at BodyMinRate bytes a
	// second on average after the first BodyGrace, or the request is
	// dropped; no slot is held while it arrives.
	BodyMinRate int64         `yaml:"body_min_rate" env:"SEALOCR_BODY_MIN_RATE" default:"16384" doc:"slowest accepted request body upload, bytes per second after body_grace"`
	BodyGrace   time.Duration `yaml:"body_grace" env:"SEALOCR_BODY_GRACE" default:"5s" doc:"time a request body may take before body_min_rate applies"`
	// BodyTimeout bounds a whole request body, whatever its rate.
	BodyTimeout time.Duration `yaml:"body_timeout" env:"SEALOCR_BODY_TIMEOUT" default:"2m" doc:"longest a whole request body may take to arrive"`
	// MaxBufferedBytesPerClient bounds the bytes of arriving bodies one
	// client holds (0: a quarter of max_buffered_bytes, at least
	// max_body_bytes).
	MaxBufferedBytesPerClient int64 `yaml:"max_buffered_bytes_per_client" env:"SEALOCR_MAX_BUFFERED_BYTES_PER_CLIENT" default:"0" doc:"bytes of arriving request bodies one client holds at once (0: max_buffered_bytes/4, at least max_body_bytes)"`
}

// UpstreamSection is the core the sidecar forwards to.
type UpstreamSection struct {
	Upstream string `yaml:"upstream" env:"SEALOCR_UPSTREAM" flag:"upstream" default:"http://127.0.0.1:8081" redact:"url" doc:"core URL, http://host:port or unix:///path.sock"`
	// UnsafeAllowRemoteUpstream permits an upstream host that is not
	// loopback; the hop to the core is plaintext.
	UnsafeAllowRemoteUpstream bool          `yaml:"unsafe_allow_remote_upstream" env:"SEALOCR_UNSAFE_ALLOW_REMOTE_UPSTREAM" flag:"unsafe-allow-remote-upstream" doc:"allow an upstream that is not loopback"`
	UpstreamTimeout           time.Duration `yaml:"upstream_timeout" env:"SEALOCR_UPSTREAM_TIMEOUT" flag:"upstream-timeout" default:"60s" doc:"deadline of each call to the core"`
	// MaxResponseBytes caps the core's answer (a searchable PDF of a long
	// document is the largest).
	MaxResponseBytes int64 `yaml:"max_response_bytes" env:"SEALOCR_MAX_RESPONSE_BYTES" default:"33554432" doc:"largest answer of the core passed on, in bytes (a searchable PDF is the largest)"`
	// PlainRoutes is the allowlist of unencrypted routes forwarded to the
	// core as they are; see Route for the syntax.
	PlainRoutes []string `yaml:"plain_routes" env:"SEALOCR_PLAIN_ROUTES" empty:"none" default:"GET /,GET /static/*,GET /healthz" doc:"unencrypted routes forwarded as they are (\"none\" for none)"`
	// InnerRoutes is the allowlist of (method, path) that the inner request
	// of a PSK or OHTTP request may reach; anything else is refused inside
	// the sealed answer. Same syntax as PlainRoutes, with any method.
	InnerRoutes []string `yaml:"inner_routes" env:"SEALOCR_INNER_ROUTES" empty:"none" default:"POST /v1/ocr,GET /v1/models" doc:"method and path that PSK and OHTTP inner requests may reach (\"none\" for none)"`
}

// KeysSection is the state folder, the pre-shared keys and replay
// protection.
type KeysSection struct {
	// StateDir holds the local CA, the TLS certificate and the default keys
	// file; empty means $XDG_STATE_HOME/sealocr, else
	// $HOME/.local/state/sealocr. A leading "~/" is the home folder.
	StateDir string `yaml:"state_dir" env:"SEALOCR_STATE_DIR" flag:"state-dir" defaultdoc:"$XDG_STATE_HOME/sealocr or ~/.local/state/sealocr" doc:"state folder"`
	// KeysFile is the file of pre-shared keys; empty means
	// <state_dir>/keys.yaml.
	KeysFile        string        `yaml:"keys_file" env:"SEALOCR_KEYS_FILE" flag:"keys-file" defaultdoc:"<state_dir>/keys.yaml" doc:"pre-shared keys file"`
	ReplayWindow    time.Duration `yaml:"replay_window" env:"SEALOCR_REPLAY_WINDOW" default:"5m" doc:"how far a sealed request's timestamp may be from now"`
	ReplayCacheSize int           `yaml:"replay_cache_size" env:"SEALOCR_REPLAY_CACHE_SIZE" default:"100000" doc:"requests remembered to refuse replays, shared equally by the PSK key IDs and OHTTP"`
	// ReplayMaxFuture is how far ahead of the clock a PSK timestamp or an
	// OHTTP Date may be (at most ReplayWindow).
	ReplayMaxFuture time.Duration `yaml:"replay_max_future" env:"SEALOCR_REPLAY_MAX_FUTURE" default:"30s" doc:"how far ahead of the clock a PSK timestamp or an OHTTP Date may be"`
	// ReplayExpectedRate is the sustained rate of accepted encrypted
	// requests per second the replay cache must hold for a whole retention
	// (ReplayRetention): the start is refused when ReplayCacheSize is
	// smaller.
	ReplayExpectedRate int `yaml:"replay_expected_rate" env:"SEALOCR_REPLAY_EXPECTED_RATE" default:"300" doc:"accepted encrypted requests per second the replay cache must hold; start refused when replay_cache_size is smaller"`
	// OHTTPRequireDate refuses OHTTP inner requests without a Date field.
	OHTTPRequireDate bool `yaml:"ohttp_require_date" env:"SEALOCR_OHTTP_REQUIRE_DATE" doc:"refuse OHTTP inner requests without a Date field"`
	// OHTTPRotation rotates the OHTTP key configurations a key file's seed
	// derives: a new pair per period (keys.Set.At); 0 is off.
	OHTTPRotation time.Duration `yaml:"ohttp_rotation" env:"SEALOCR_OHTTP_ROTATION" default:"0s" doc:"rotate the seed's OHTTP key configurations every period (periods start at whole multiples since the Unix epoch, so replicas agree by the clock); 0 is off; at least 10s"`
}

// LegacySection is the legacy CBC endpoint (AES-256-CBC, SM4-CBC), keyed by
// the environment variable LegacyKeyEnv and/or the key file's legacy:
// section (see CheckLegacyKeys).
type LegacySection struct {
	LegacyCBC          bool   `yaml:"legacy_cbc" env:"SEALOCR_LEGACY_CBC" flag:"legacy-cbc" doc:"serve the legacy CBC endpoint, keys from env AES_SECRET_KEY and/or the key file's legacy: section"`
	LegacyPath         string `yaml:"legacy_path" env:"SEALOCR_LEGACY_PATH" default:"/ocr" doc:"path of the legacy endpoint"`
	LegacyUpstreamPath string `yaml:"legacy_upstream_path" env:"SEALOCR_LEGACY_UPSTREAM_PATH" default:"/v1/ocr" doc:"core path legacy requests are forwarded to"`
	// LegacyMAC is the MAC policy of the AES_SECRET_KEY key: "optional"
	// (a request's "mac" member is checked when present) or "required".
	// Key-file legacy keys carry their own legacy_mac.
	LegacyMAC string `yaml:"legacy_mac" env:"SEALOCR_LEGACY_MAC" default:"optional" doc:"MAC policy of the AES_SECRET_KEY key: optional or required"`
	// UnsafeLegacyAnonymous admits legacy requests without credentials.
	// Without it the legacy mode requires credentials (auth.legacy, when
	// empty, is required rather than auth.mode).
	UnsafeLegacyAnonymous bool `yaml:"unsafe_legacy_anonymous" env:"SEALOCR_UNSAFE_LEGACY_ANONYMOUS" doc:"admit legacy requests without credentials"`
	// UnsafePublicUnauthenticated lets a sidecar with public certificates
	// (tls.mode acme) serve OHTTP requests without requiring credentials:
	// anyone can fetch the gateway's public key and OCR through it.
	UnsafePublicUnauthenticated bool `yaml:"unsafe_public_unauthenticated" env:"SEALOCR_UNSAFE_PUBLIC_UNAUTHENTICATED" doc:"with public certificates (tls.mode acme), serve OHTTP requests without required authentication"`
}

// OHTTPAuthMode is the auth mode of OHTTP requests: auth.ohttp when set,
// else auth.mode.
func (c Config) OHTTPAuthMode() string {
	if c.Auth.OHTTP != "" {
		return c.Auth.OHTTP
	}
	return c.Auth.Mode
}

// validatePublic refuses a public server that serves strangers: with
// certificates from an ACME CA the sidecar is on the internet, and an
// OHTTP gateway without required authentication OCRs for whoever fetches
// its public key (a PSK request needs the key, a legacy one credentials
// unless unsafe_legacy_anonymous).
func (c Config) validatePublic(add func(string, ...any)) {
	if c.TLS.Mode != TLSModeACME || c.UnsafePublicUnauthenticated {
		return
	}
	if m, err := auth.ParseMode(c.OHTTPAuthMode()); err != nil || m == auth.Required {
		return
	}
	add("tls.mode acme (public certificates) with authentication %s for OHTTP requests: anyone on the internet could OCR "+
		"through this sidecar. Require it: make a key with the `new` subcommand of `sealctl apikey` (it prints the key and the entry to add to an "+
		"API key file: auth.api_keys_file, SEALOCR_AUTH_API_KEYS_FILE) and set auth.mode required (SEALOCR_AUTH=required); "+
		"or set unsafe_public_unauthenticated (SEALOCR_UNSAFE_PUBLIC_UNAUTHENTICATED=true) to serve everyone", c.OHTTPAuthMode())
}

// LegacyAuthMode is the auth mode of legacy requests: auth.legacy when
// set; else, with legacy_cbc on, "required" unless unsafe_legacy_anonymous;
// else auth.mode.
func (c Config) LegacyAuthMode() string {
	switch {
	case c.Auth.Legacy != "":
		return c.Auth.Legacy
	case c.LegacyCBC && !c.UnsafeLegacyAnonymous:
		return "required"
	}
	return c.Auth.Mode
}

// MetricsSection is the Prometheus listener.
type MetricsSection struct {
	MetricsListen string `yaml:"metrics_listen" env:"SEALOCR_METRICS_LISTEN" flag:"metrics-listen" default:"127.0.0.1:9443" doc:"metrics address, \"\" for none"`
	// UnsafeAllowRemoteMetrics permits a MetricsListen host that is not
	// loopback.
	UnsafeAllowRemoteMetrics bool `yaml:"unsafe_allow_remote_metrics" env:"SEALOCR_UNSAFE_ALLOW_REMOTE_METRICS" doc:"allow a metrics address that is not loopback"`
}

// LoggingSection is the log output.
type LoggingSection struct {
	LogLevel  string `yaml:"log_level" env:"SEALOCR_LOG_LEVEL" flag:"log-level" default:"info" doc:"debug|info|warn|error"`
	LogFormat string `yaml:"log_format" env:"SEALOCR_LOG_FORMAT" flag:"log-format" default:"json" doc:"json|console"`
}

// TLS is the tls section of the configuration.
type TLS struct {
	// Mode is how the certificate is obtained: TLSModeLocal, TLSModeFiles
	// or TLSModeACME. Empty means acme when acme domains or on-demand
	// names are set, files when cert_file is set, else local.
	Mode     string `yaml:"mode" env:"SEALOCR_TLS_MODE" flag:"tls-mode" defaultdoc:"acme with domains, files with cert_file, else local" doc:"local|files|acme"`
	CertFile string `yaml:"cert_file" env:"SEALOCR_TLS_CERT" doc:"PEM certificate chain of files mode"`
	KeyFile  string `yaml:"key_file" env:"SEALOCR_TLS_KEY" doc:"PEM private key of files mode"`
	// ACME configures acme mode.
	ACME ACME `yaml:"acme"`
}

// ACME is the tls.acme section.
type ACME struct {
	Domains []string `yaml:"domains" env:"SEALOCR_DOMAINS" flag:"domains" doc:"comma-separated names for ACME certificates"`
	Email   string   `yaml:"email" env:"SEALOCR_ACME_EMAIL" doc:"ACME account contact"`
	CA      string   `yaml:"ca" env:"SEALOCR_ACME_CA" defaultdoc:"Let's Encrypt" doc:"ACME directory URL"`
	CARoot  string   `yaml:"ca_root" env:"SEALOCR_ACME_CA_ROOT" doc:"PEM roots trusted for the ACME server"`
	Staging bool     `yaml:"staging" env:"SEALOCR_ACME_STAGING" doc:"use Let's Encrypt staging"`
	// StorageDir keeps the account and certificates; empty means
	// <state_dir>/acme.
	StorageDir    string   `yaml:"storage_dir" env:"SEALOCR_ACME_STORAGE_DIR" defaultdoc:"<state_dir>/acme" doc:"ACME account and certificates"`
	Challenges    []string `yaml:"challenges" env:"SEALOCR_ACME_CHALLENGES" default:"http-01,tls-alpn-01" doc:"enabled challenge types"`
	OnDemandAllow []string `yaml:"on_demand_allow" env:"SEALOCR_ACME_ON_DEMAND_ALLOW" doc:"names and *.domain patterns that may get a certificate on demand"`
	OnDemandAsk   string   `yaml:"on_demand_ask" env:"SEALOCR_ACME_ON_DEMAND_ASK" redact:"url" doc:"URL asked about other names (GET ?domain=NAME; 200 approves)"`
	// OnDemandRate, OnDemandBurst and OnDemandMax bound on-demand issuance:
	// approved names beyond them get no certificate (the handshake fails).
	OnDemandRate  string `yaml:"on_demand_rate" env:"SEALOCR_ACME_ON_DEMAND_RATE" default:"10/h" doc:"on-demand certificate issuances allowed (N/s, N/m or N/h)"`
	OnDemandBurst int    `yaml:"on_demand_burst" env:"SEALOCR_ACME_ON_DEMAND_BURST" default:"5" doc:"issuances allowed at once above on_demand_rate"`
	OnDemandMax   int    `yaml:"on_demand_max" env:"SEALOCR_ACME_ON_DEMAND_MAX" default:"100" doc:"on-demand certificates issued in the process's life"`
}

// Auth is the auth section. Modes are parsed by auth.ParseMode.
type Auth struct {
	// Mode is how encrypted requests (PSK, OHTTP, legacy) treat
	// credentials; PSK, OHTTP and Legacy override it for one envelope
	// (empty inherits it); Plain is the mode of the plain routes and the
	// OHTTP key configuration.
	Mode        string `yaml:"mode" env:"SEALOCR_AUTH" default:"off" doc:"off|optional|required for encrypted requests"`
	PSK         string `yaml:"psk" doc:"mode of PSK requests (empty: auth.mode)"`
	OHTTP       string `yaml:"ohttp" doc:"mode of OHTTP requests (empty: auth.mode)"`
	Legacy      string `yaml:"legacy" doc:"mode of legacy requests (empty: required with legacy_cbc on unless unsafe_legacy_anonymous, else auth.mode)"`
	Plain       string `yaml:"plain" default:"off" doc:"mode of the plain routes and the OHTTP key configuration"`
	Realm       string `yaml:"realm" default:"sealocr" doc:"WWW-Authenticate realm"`
	JWT         JWT    `yaml:"jwt"`
	OIDC        OIDC   `yaml:"oidc"`
	APIKeysFile string `yaml:"api_keys_file" env:"SEALOCR_AUTH_API_KEYS_FILE" doc:"YAML file of API key hashes"`
}

// OIDC is the auth.oidc section: an OpenID Provider whose ID tokens the
// sidecar accepts as bearer JWTs (keys from the issuer's discovery
// document and JWKS, refreshed as auth.jwt's jwks_url) and with which the
// WebUI signs users in (authorization code flow with PKCE, a public
// client: no secret). Setting issuer turns it on.
type OIDC struct {
	Issuer   string   `yaml:"issuer" env:"SEALOCR_AUTH_OIDC_ISSUER" redact:"url" doc:"OpenID Provider issuer URL (https; http only on loopback); its discovery document must name the same issuer"`
	ClientID string   `yaml:"client_id" env:"SEALOCR_AUTH_OIDC_CLIENT_ID" doc:"client ID of the WebUI at the provider (a public client with PKCE; no secret)"`
	Audience []string `yaml:"audience" env:"SEALOCR_AUTH_OIDC_AUDIENCE" doc:"accepted aud values of the provider's tokens (empty: the client ID)"`
	Scopes   []string `yaml:"scopes" env:"SEALOCR_AUTH_OIDC_SCOPES" default:"openid" doc:"scopes the WebUI asks for (must include openid)"`
}

// JWT is the auth.jwt section.
type JWT struct {
	Issuer         string        `yaml:"issuer" env:"SEALOCR_AUTH_JWT_ISSUER" doc:"required iss claim"`
	Audience       []string      `yaml:"audience" env:"SEALOCR_AUTH_JWT_AUDIENCE" doc:"accepted aud values"`
	HS256KeyFile   string        `yaml:"hs256_key_file" env:"SEALOCR_AUTH_JWT_HS256_KEY_FILE" doc:"file of the raw HS256 key (32 bytes or more)"`
	PublicKeyFiles []string      `yaml:"public_key_files" env:"SEALOCR_AUTH_JWT_PUBLIC_KEY_FILES" doc:"PEM public keys (RS256, ES256, EdDSA); kid is the base name"`
	JWKSFile       string        `yaml:"jwks_file" env:"SEALOCR_AUTH_JWKS_FILE" doc:"JSON Web Key Set file"`
	JWKSURL        string        `yaml:"jwks_url" env:"SEALOCR_AUTH_JWKS_URL" redact:"url" doc:"JSON Web Key Set URL, cached and refreshed"`
	JWKSRefresh    time.Duration `yaml:"jwks_refresh" default:"10m" doc:"how often jwks_url is refetched"`
	ClockSkew      time.Duration `yaml:"clock_skew" default:"30s" doc:"leeway on exp and nbf"`
}

// RateLimit is the rate_limit section. SEALOCR_RATE_LIMIT sets Enabled and
// Rate together (see Load).
type RateLimit struct {
	Enabled     bool   `yaml:"enabled" default:"true" doc:"turn rate limiting on"`
	Rate        string `yaml:"rate" default:"60/m" doc:"PSK and OHTTP requests per client (60/m: 60 a minute; s, m or h)"`
	Burst       int    `yaml:"burst" env:"SEALOCR_RATE_LIMIT_BURST" default:"60" doc:"burst of rate"`
	LegacyRate  string `yaml:"legacy_rate" env:"SEALOCR_LEGACY_RATE_LIMIT" default:"10/m" doc:"legacy CBC requests per client"`
	LegacyBurst int    `yaml:"legacy_burst" default:"10" doc:"burst of legacy_rate"`
	PlainRate   string `yaml:"plain_rate" default:"600/m" doc:"plain-route requests per client"`
	PlainBurst  int    `yaml:"plain_burst" default:"200" doc:"burst of plain_rate"`
	MaxClients  int    `yaml:"max_clients" default:"100000" doc:"buckets kept in memory"`
	// Fail is the policy when the shared store (Redis) cannot be asked:
	// FailOpen or FailClosed. Replay checks never fail open.
	Fail string `yaml:"fail" env:"SEALOCR_RATE_LIMIT_FAIL" default:"open" doc:"open|closed: when Redis cannot be asked, serve unchecked (with a metric and a warning) or refuse with 503 busy"`
}

// Flags are the command-line switches besides the configuration.
type Flags = configs.Flags

// Default returns the defaults, with the paths derived from getenv.
func Default(getenv func(string) string) Config {
	c := defaults()
	c.resolvePaths(getenv)
	return c
}

// defaults returns the declared defaults with the paths left empty.
func defaults() Config {
	var c Config
	configs.SetDefaults(&c)
	return c
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
	for _, p := range []*string{&c.TLS.CertFile, &c.TLS.KeyFile, &c.TLS.ACME.CARoot, &c.Auth.JWT.HS256KeyFile, &c.Auth.JWT.JWKSFile, &c.Auth.APIKeysFile,
		&c.Redis.PasswordFile, &c.Redis.CAFile} {
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
		&c.TLS.ACME.OnDemandAllow, &c.Auth.JWT.Audience, &c.Auth.JWT.PublicKeyFiles, &c.Auth.OIDC.Audience} {
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

// usageHead starts the sidecar's --help.
const usageHead = `sidecar terminates TLS, opens the encrypted payload (PSK envelope, Oblivious HTTP,
legacy CBC), authenticates, rate-limits and forwards plaintext to the OCR core on loopback.

Usage:
  sidecar [flags]           serve (see README.md: Configuration)
  sidecar --check-config    validate, print the effective configuration and exit
  sidecar --help-config     print every setting and exit
`

// Usage writes the sidecar's --help to w.
func Usage(w io.Writer) {
	var c Config
	configs.Usage(w, usageHead, &c, options(&c, func(string) string { return "" }))
}

// WriteSettings writes every setting of the sidecar (--help-config) to w.
func WriteSettings(w io.Writer) {
	var c Config
	configs.WriteSettings(w, &c, options(&c, func(string) string { return "" }))
}

// options configure the shared loader; SEALOCR_RATE_LIMIT is the one
// variable that sets two fields.
func options(c *Config, getenv func(string) string) configs.Options {
	return configs.Options{Program: "sidecar", ConfigEnv: ConfigEnv, Getenv: getenv, Vars: []configs.Var{{
		Name: "SEALOCR_RATE_LIMIT",
		Doc:  `"off" turns rate limiting off; a rate ("120/m") sets rate_limit.rate and turns it on`,
		Keys: []string{"rate_limit.enabled", "rate_limit.rate"},
		Set: func(v string) error {
			if strings.TrimSpace(v) == Off {
				c.RateLimit.Enabled = false
				return nil
			}
			c.RateLimit.Enabled, c.RateLimit.Rate = true, strings.TrimSpace(v)
			return nil
		},
	}}}
}

// EnvVars returns the names of the environment variables Load reads, besides
// ConfigEnv, HOME and XDG_STATE_HOME.
func EnvVars() []string {
	var c Config
	return configs.EnvVars(&c, options(&c, nil))
}

// EnvWarnings returns a warning for each SEALOCR_ variable of environ
// (os.Environ's form) that is not one the sidecar reads but looks like a
// typo of one (configs.MisspelledEnv). The core's variables, which share the
// prefix, are none of them. Only names are compared and shown, never values.
func (c Config) EnvWarnings(environ []string) []string {
	known := append(EnvVars(), ConfigEnv)
	if c.Redis.PasswordEnv != "" {
		known = append(known, c.Redis.PasswordEnv)
	}
	return configs.MisspelledEnv(environ, "SEALOCR_", known)
}

// Load builds the configuration from args (without the program name) and
// getenv: defaults, then the file named by --config or SEALOCR_CONFIG, then
// the environment, then flags; empty paths get their defaults last, so
// keys_file follows a state_dir set at any level. It returns the
// configuration unvalidated; a parse error of any source is returned, joined
// with the others.
func Load(args []string, getenv func(string) string) (Config, Flags, error) {
	c := defaults()
	fl, err := configs.Load(&c, args, options(&c, getenv))
	c.resolvePaths(getenv)
	return c, fl, err
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
	if !route.CleanPath(c.LegacyPath) || strings.HasSuffix(c.LegacyPath, "/") {
		add("legacy_path %q: want a clean absolute path such as /ocr", c.LegacyPath)
	}
	if !route.CleanPath(c.LegacyUpstreamPath) || strings.HasSuffix(c.LegacyUpstreamPath, "/") {
		add("legacy_upstream_path %q: want a clean absolute path such as /v1/ocr", c.LegacyUpstreamPath)
	}
	if c.LegacyMAC != "optional" && c.LegacyMAC != "required" {
		add("legacy_mac %q: want optional or required", c.LegacyMAC)
	}
	if c.LegacyCBC && !c.UnsafeLegacyAnonymous {
		j := c.Auth.JWT
		sources := j.HS256KeyFile != "" || len(j.PublicKeyFiles) > 0 || j.JWKSFile != "" || j.JWKSURL != "" || c.Auth.APIKeysFile != "" || c.Auth.OIDC.Issuer != ""
		if m := c.LegacyAuthMode(); m != "required" {
			add("legacy_cbc: auth.legacy is %q, but the legacy mode requires credentials: set auth.legacy to required, "+
				"or set unsafe_legacy_anonymous (env SEALOCR_UNSAFE_LEGACY_ANONYMOUS) to admit anonymous legacy clients", m)
		} else if !sources {
			add("legacy_cbc: the legacy mode requires credentials, but no credential source is set: set auth.api_keys_file or auth.jwt, " +
				"or set unsafe_legacy_anonymous (env SEALOCR_UNSAFE_LEGACY_ANONYMOUS) to admit anonymous legacy clients")
		}
	}
	if c.MaxBodyBytes < 1<<10 || c.MaxBodyBytes > 1<<30 {
		add("max_body_bytes %d out of range 1 KiB..1 GiB", c.MaxBodyBytes)
	}
	if c.MaxResponseBytes < 1<<20 || c.MaxResponseBytes > 1<<30 {
		add("max_response_bytes %d out of range 1 MiB..1 GiB", c.MaxResponseBytes)
	}
	if c.UpstreamTimeout < 100*time.Millisecond || c.UpstreamTimeout > time.Hour {
		add("upstream_timeout %s out of range 100ms..1h", c.UpstreamTimeout)
	}
	if c.MaxConcurrent < 1 || c.MaxConcurrent > 65536 {
		add("max_concurrent %d out of range 1..65536", c.MaxConcurrent)
	}
	if c.MaxConcurrentPerClient < 1 {
		add("max_concurrent_per_client %d: want at least 1 (it is capped at max_concurrent)", c.MaxConcurrentPerClient)
	}
	if c.MaxBufferedBytes < c.MaxBodyBytes || c.MaxBufferedBytes > 1<<34 {
		add("max_buffered_bytes %d out of range max_body_bytes..16 GiB (one largest body must fit)", c.MaxBufferedBytes)
	}
	if c.BodyMinRate < 1 || c.BodyMinRate > 1<<30 {
		add("body_min_rate %d out of range 1..1 GiB/s", c.BodyMinRate)
	}
	if c.BodyGrace < 100*time.Millisecond || c.BodyGrace > 10*time.Minute {
		add("body_grace %s out of range 100ms..10m", c.BodyGrace)
	}
	if c.BodyTimeout < time.Second || c.BodyTimeout > time.Hour {
		add("body_timeout %s out of range 1s..1h", c.BodyTimeout)
	}
	if c.MaxBufferedBytesPerClient != 0 && (c.MaxBufferedBytesPerClient < c.MaxBodyBytes || c.MaxBufferedBytesPerClient > c.MaxBufferedBytes) {
		add("max_buffered_bytes_per_client %d out of range max_body_bytes..max_buffered_bytes (or 0)", c.MaxBufferedBytesPerClient)
	}
	if c.ReplayWindow < time.Second || c.ReplayWindow > 24*time.Hour {
		add("replay_window %s out of range 1s..24h", c.ReplayWindow)
	}
	if c.ReplayCacheSize < 1 || c.ReplayCacheSize > 100_000_000 {
		add("replay_cache_size %d out of range 1..100000000", c.ReplayCacheSize)
	}
	if c.ReplayMaxFuture < time.Second || c.ReplayWindow >= time.Second && c.ReplayMaxFuture > c.ReplayWindow {
		add("replay_max_future %s out of range 1s..replay_window", c.ReplayMaxFuture)
	}
	if c.ReplayExpectedRate < 1 || c.ReplayExpectedRate > 1_000_000 {
		add("replay_expected_rate %d out of range 1..1000000", c.ReplayExpectedRate)
	} else if need := replay.Needed(float64(c.ReplayExpectedRate), c.ReplayRetention()); c.ReplayCacheSize < need && c.ReplayCacheSize >= 1 {
		add("replay_cache_size %d is too small for replay_expected_rate %d/s over a retention of %s (replay_window + replay_max_future + 1s): "+
			"it needs %d; raise replay_cache_size or lower replay_expected_rate (a full cache refuses requests with 503 busy)",
			c.ReplayCacheSize, c.ReplayExpectedRate, c.ReplayRetention(), need)
	}
	if _, err := route.ParseRoutes(c.PlainRoutes); err != nil {
		for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
			add("plain_routes: %v", e)
		}
	}
	if _, err := route.ParseInnerRoutes(c.InnerRoutes); err != nil {
		for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
			add("inner_routes: %v", e)
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
	if err := logging.CheckLevel(c.LogLevel); err != nil {
		add("log_level: %v", err)
	}
	if err := logging.CheckFormat(c.LogFormat); err != nil {
		add("log_format: %v", err)
	}
	c.validateTLS(add)
	if c.OHTTPRotation != 0 && (c.OHTTPRotation < keys.MinRotation || c.OHTTPRotation > 366*24*time.Hour || c.OHTTPRotation%time.Second != 0) {
		add("ohttp_rotation %s: want 0 (off) or whole seconds from %s to 366 days", c.OHTTPRotation, keys.MinRotation)
	}
	c.validateAuth(add)
	c.validatePublic(add)
	c.validateRateLimit(add)
	c.validateRedis(add)
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
		// tlsterm owns the ACME settings' rules; what is left here is how
		// they meet the rest of the configuration.
		if len(a.Domains) == 0 && len(a.OnDemandAllow) == 0 && a.OnDemandAsk == "" {
			add("tls.mode acme needs tls.acme.domains (env SEALOCR_DOMAINS) or an on-demand decision")
		} else if err := c.TLSOptions().ACME.Validate(); err != nil {
			for _, e := range unjoin(err) { // ErrConfig and the joined problems
				if e == tlsterm.ErrConfig {
					continue
				}
				for _, p := range unjoin(e) {
					add("tls.acme.%v", p)
				}
			}
		}
		if v, err := ratelimit.ParseRate(a.OnDemandRate); err != nil || v <= 0 {
			add("tls.acme.on_demand_rate %q: want N/s, N/m or N/h (not off)", a.OnDemandRate)
		}
		if len(a.Challenges) == 0 {
			add("tls.acme.challenges is empty: want http-01, tls-alpn-01 or both")
		}
		if slices.Contains(a.Challenges, tlsterm.ChallengeHTTP01) && c.HTTPListen == Off {
			add("tls.acme.challenges has http-01 but http_listen is off")
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
		if m.v == "" {
			if m.key == "auth.mode" || m.key == "auth.plain" {
				add("%s is empty: want off, optional or required", m.key)
			}
			continue
		}
		mode, err := auth.ParseMode(m.v)
		if err != nil {
			add("%s %q: want off, optional or required", m.key, m.v)
		}
		anyOn = anyOn || mode != auth.Off
	}
	j := a.JWT
	sources := j.HS256KeyFile != "" || len(j.PublicKeyFiles) > 0 || j.JWKSFile != "" || j.JWKSURL != "" || a.APIKeysFile != "" || a.OIDC.Issuer != ""
	if anyOn && !sources {
		add("auth is on but no credential source is set: set auth.jwt (a key file, public keys or a JWKS), auth.oidc or auth.api_keys_file")
	}
	c.validateOIDC(add)
	for _, p := range append([]string{j.HS256KeyFile, j.JWKSFile, a.APIKeysFile}, j.PublicKeyFiles...) {
		if p != "" && !filepath.IsAbs(p) {
			add("auth: key file %q is not an absolute path", p)
		}
	}
	if j.JWKSURL != "" {
		u, err := url.Parse(j.JWKSURL)
		if err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && upstream.IsLoopback(u.Hostname()))) {
			add("auth.jwt.jwks_url %q: want an https URL (http only on loopback)", upstream.RedactURL(j.JWKSURL))
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

// validateOIDC checks the auth.oidc section: an issuer URL the discovery
// document can be fetched from safely, a client ID, and scopes with openid.
func (c Config) validateOIDC(add func(string, ...any)) {
	o := c.Auth.OIDC
	if o.Issuer == "" {
		if o.ClientID != "" || len(o.Audience) > 0 {
			add("auth.oidc.client_id or auth.oidc.audience is set but auth.oidc.issuer is empty (env SEALOCR_AUTH_OIDC_ISSUER)")
		}
		return
	}
	if err := auth.CheckIssuer(o.Issuer); err != nil {
		add("auth.oidc.issuer %q: %v", upstream.RedactURL(o.Issuer), err)
	}
	if o.ClientID == "" || strings.ContainsAny(o.ClientID, " \t\r\n") {
		add("auth.oidc.client_id %q: want the WebUI's client ID at the provider, without spaces (env SEALOCR_AUTH_OIDC_CLIENT_ID)", o.ClientID)
	}
	hasOpenID := false
	for _, s := range o.Scopes {
		if s == "" || strings.ContainsAny(s, " \t\r\n\"\\") {
			add("auth.oidc.scopes: %q is not a scope token", s)
		}
		hasOpenID = hasOpenID || s == "openid"
	}
	if !hasOpenID {
		add("auth.oidc.scopes %v: must include openid (the provider issues an ID token only then)", o.Scopes)
	}
	for _, a := range o.Audience {
		if a == "" {
			add("auth.oidc.audience holds an empty value")
		}
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
	if r.Fail != FailOpen && r.Fail != FailClosed {
		add("rate_limit.fail %q: want %s or %s", r.Fail, FailOpen, FailClosed)
	}
}

// validateRedis checks the redis section without reading the password or
// CA file (CheckEnvironment does): redisstate.Open, which does no network
// I/O, parses the URL with a stand-in password source.
func (c Config) validateRedis(add func(string, ...any)) {
	r := c.Redis
	if r.URL == "" {
		for _, o := range []struct{ key, v string }{{"redis.password_file", r.PasswordFile}, {"redis.password_env", r.PasswordEnv}, {"redis.ca_file", r.CAFile}} {
			if o.v != "" {
				add("%s is set but redis.url is empty", o.key)
			}
		}
		return
	}
	if r.Timeout < 10*time.Millisecond || r.Timeout > 5*time.Second {
		add("redis.timeout %s out of range 10ms..5s", r.Timeout)
	}
	if r.Prefix == "" || strings.ContainsAny(r.Prefix, " \t\r\n{}") {
		add("redis.prefix %q: want a non-empty prefix without spaces or braces", r.Prefix)
	}
	if r.PasswordFile != "" && r.PasswordEnv != "" {
		add("redis: set one of redis.password_file and redis.password_env, not both")
	}
	for name, p := range map[string]string{"redis.password_file": r.PasswordFile, "redis.ca_file": r.CAFile} {
		if p != "" && !filepath.IsAbs(p) {
			add("%s %q is not an absolute path", name, p)
		}
	}
	o := redisstate.Options{URL: r.URL, Timeout: max(r.Timeout, 0), Getenv: func(string) string { return "stand-in" }}
	if r.PasswordFile != "" || r.PasswordEnv != "" {
		o.PasswordEnv = "SEALOCR_REDIS_PASSWORD"
	}
	if r.CAFile != "" && !strings.HasPrefix(r.URL, "rediss://") {
		add("redis.ca_file needs a rediss:// URL")
	}
	cl, err := redisstate.Open(o)
	if err != nil {
		for _, e := range unjoin(err) {
			add("redis.url: %v", e)
		}
		return
	}
	_ = cl.Close()
}

// RedisOptions returns the options of redisstate.Open for the redis
// section, reading the password and the CA file, with getenv reading
// redis.password_env.
func (c Config) RedisOptions(getenv func(string) string) redisstate.Options {
	r := c.Redis
	return redisstate.Options{URL: r.URL, PasswordFile: r.PasswordFile, PasswordEnv: r.PasswordEnv, CAFile: r.CAFile,
		Timeout: r.Timeout, Getenv: getenv}
}

// unjoin returns the errors err joins, or err alone.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
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
// and does not find there: the Redis password (file or variable) and CA
// file when redis.url is set. It reports only presence and validity, never
// a value. The legacy key is not among them: it may come from the key file
// instead, so CheckLegacyKeys checks it once the key file is read.
func (c Config) CheckEnvironment(getenv func(string) string) error {
	var errs []error
	if c.Redis.URL != "" {
		// The password file or variable and the CA file: read here, never
		// printed (the errors name the file or variable, not its content).
		if cl, err := redisstate.Open(c.RedisOptions(getenv)); err != nil {
			for _, e := range unjoin(err) {
				errs = append(errs, fmt.Errorf("config: redis: %w", e))
			}
		} else {
			_ = cl.Close()
		}
	}
	return errors.Join(errs...)
}

// CheckLegacyKeys reports a legacy mode with no key: with legacy_cbc on, at
// least one legacy key must come from the LegacyKeyEnv variable
// (AES-256-CBC) or from the key file's legacy: section (AES-256-CBC or
// SM4-CBC); fileKeys is how many the key file holds. An SM4-only deployment
// needs no AES key. It reports only presence, never a value.
func (c Config) CheckLegacyKeys(getenv func(string) string, fileKeys int) error {
	if c.LegacyCBC && fileKeys == 0 && getenv(LegacyKeyEnv) == "" {
		return fmt.Errorf("config: legacy_cbc is on but there is no legacy key: set environment variable %s "+
			"(AES-256-CBC) or add a legacy: entry to the key file (keys_file)", LegacyKeyEnv)
	}
	return nil
}

// Routes returns the parsed plain-route allowlist. Call it on a validated
// configuration; invalid entries are left out.
func (c Config) Routes() route.List {
	var out route.List
	for _, s := range c.PlainRoutes {
		if r, err := route.ParseRoute(s); err == nil {
			out = append(out, r)
		}
	}
	return out
}

// TLSOptions returns the tlsterm options of the configuration (the
// certificate storage, logger and registry are the caller's to add).
func (c Config) TLSOptions() tlsterm.Options {
	a := c.TLS.ACME
	rate, _ := ratelimit.ParseRate(a.OnDemandRate) // validated
	return tlsterm.Options{
		Mode:     c.TLS.Mode,
		StateDir: c.StateDir,
		CertFile: c.TLS.CertFile,
		KeyFile:  c.TLS.KeyFile,
		ACME: tlsterm.ACME{
			Domains:    a.Domains,
			Email:      a.Email,
			CA:         a.CA,
			CARoot:     a.CARoot,
			Staging:    a.Staging,
			StorageDir: a.StorageDir,
			Challenges: a.Challenges,
			ListenHost: tlsterm.HostOf(c.Listen),
			HTTPPort:   tlsterm.PortOf(c.HTTPListen),
			TLSPort:    tlsterm.PortOf(c.Listen),
			OnDemand: tlsterm.OnDemand{Allow: a.OnDemandAllow, Ask: a.OnDemandAsk,
				Rate: rate, Burst: a.OnDemandBurst, Max: a.OnDemandMax},
		},
	}
}

// InnerRoutesList returns the parsed inner-route allowlist (the
// configuration is validated).
func (c Config) InnerRoutesList() route.List {
	out, _ := route.ParseInnerRoutes(c.InnerRoutes)
	return out
}

// Redacted returns the configuration as YAML for --check-config and logs.
// The configuration holds no secrets; as a further guard the upstream URL is
// shown without user information or query, since an invalid configuration
// might carry them.
func (c Config) Redacted() string {
	var hdr strings.Builder
	hdr.WriteString("# sealocr sidecar configuration (effective values; no secrets: keys are referenced, never held)\n")
	if c.LegacyCBC {
		fmt.Fprintf(&hdr, "# legacy_cbc keys: environment variable %s and the key file's legacy: section\n", LegacyKeyEnv)
	}
	return hdr.String() + configs.Dump(c, upstream.RedactURL)
}

// String returns Redacted.
func (c Config) String() string { return c.Redacted() }

// ReplayRetention is the longest time a request stays in the replay cache:
// a timestamp (or Date) up to replay_max_future ahead is remembered until it
// is replay_window old, plus one second.
func (c Config) ReplayRetention() time.Duration {
	return c.ReplayWindow + c.ReplayMaxFuture + time.Second
}
