// Command sidecar is sealocr's security front: it terminates TLS, opens
// encrypted requests (PSK envelope, Oblivious HTTP, optional legacy
// AES-CBC), forwards the plaintext over localhost to the OCR core and seals
// the answer. See the README and sidecar/PROTOCOL.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/sealocr/sealocr/configs"
	"github.com/sealocr/sealocr/sidecar/api"
	"github.com/sealocr/sealocr/sidecar/internal/auth"
	"github.com/sealocr/sealocr/sidecar/internal/clientip"
	"github.com/sealocr/sealocr/sidecar/internal/config"
	"github.com/sealocr/sealocr/sidecar/internal/gateway"
	"github.com/sealocr/sealocr/sidecar/internal/keys"
	"github.com/sealocr/sealocr/sidecar/internal/ratelimit"
	"github.com/sealocr/sealocr/sidecar/internal/redisstate"
	"github.com/sealocr/sealocr/sidecar/internal/replay"
	"github.com/sealocr/sealocr/sidecar/internal/route"
	"github.com/sealocr/sealocr/sidecar/internal/server"
	"github.com/sealocr/sealocr/sidecar/internal/tlsterm"
	"github.com/sealocr/sealocr/sidecar/internal/upstream"
	"github.com/sealocr/sealocr/sidecar/logging"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = ""

func main() {
	configs.Main("sidecar", logging.Redact, func(ctx context.Context) error {
		return run(ctx, os.Args[1:], os.Getenv, os.Environ(), os.Stdout, os.Stderr)
	})
}

// buildVersion is the binary's version (configs.BuildVersion).
func buildVersion() string { return configs.BuildVersion(version) }

// run is the sidecar: getenv reads the environment, environ lists it (for
// the names of misspelled variables only).
func run(ctx context.Context, args []string, getenv func(string) string, environ []string, stdout, stderr io.Writer) error {
	cfg, fl, err := config.Load(args, getenv)
	if configs.Informational(stdout, fl, err, config.Usage, config.WriteSettings, "sealocr sidecar "+buildVersion()) {
		return nil
	}
	// Variables that look like a misspelled setting: warned about on
	// standard error, or in --check-config's report.
	typos := cfg.EnvWarnings(environ)
	// Every problem at once: what did not parse and what is not valid, each
	// with where it was set.
	if err := configs.Annotate(errors.Join(err, cfg.Validate(), cfg.CheckEnvironment(getenv)), fl); err != nil {
		configs.Warn(stderr, "sidecar", typos)
		return err
	}
	if fl.CheckConfig {
		return checkConfig(cfg, getenv, typos, stdout)
	}
	log, err := logging.New(logging.Options{Level: cfg.LogLevel, Format: cfg.LogFormat, Output: stderr})
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	for _, w := range typos {
		log.Warn(w)
	}
	// Libraries that write to the standard logger (certmagic's challenge
	// listeners do) go through the redacting logger too.
	defer zap.RedirectStdLog(log.Named("stdlog"))()
	if soft := setMemoryLimit(cgroupMemoryMax, getenv); soft > 0 {
		log.Info("go soft memory limit from the container's", zap.Int64("bytes", soft))
	}
	sc, err := build(ctx, cfg, getenv, log)
	defer sc.close()
	if err != nil {
		return err
	}
	return sc.serve(ctx, stdout)
}

// checkConfig is --check-config: the legacy keys' sources, the effective
// configuration, when each key was last used and the warnings.
func checkConfig(cfg config.Config, getenv func(string) string, warnings []string, stdout io.Writer) error {
	if cfg.LegacyCBC {
		// The legacy keys may come from the key file alone.
		n := 0
		if set, err := keys.LoadFile(cfg.KeysFile); err == nil {
			n = len(set.Legacy)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if err := cfg.CheckLegacyKeys(getenv, n); err != nil {
			return err
		}
	}
	fmt.Fprint(stdout, cfg.Redacted())
	// When each key was last used here, for a rotation (README: Key rotation).
	if set, err := keys.LoadFile(cfg.KeysFile); err == nil {
		if report, err := keys.UsageReport(set, filepath.Join(cfg.StateDir, keys.UsageFile)); err == nil {
			for _, l := range report {
				fmt.Fprintln(stdout, "# "+l)
			}
		}
	}
	for _, w := range warnings {
		fmt.Fprintln(stdout, "# warning: "+w)
	}
	fmt.Fprintln(stdout, "# configuration ok")
	return nil
}

// sidecar is a built sidecar: everything serve needs, and what close
// releases.
type sidecar struct {
	cfg     config.Config
	log     *zap.Logger
	reg     *prometheus.Registry
	store   *keys.Store
	sh      *sharedState
	term    *tlsterm.Terminator
	ips     *clientip.Resolver
	handler http.Handler
	// certStorage keeps ACME data in the shared state (nil: files).
	certStorage certmagic.Storage
	wctx        context.Context // ends at close: background work
	closers     []func()        // run in reverse order by close
}

// onClose adds f to what close runs.
func (sc *sidecar) onClose(f func()) { sc.closers = append(sc.closers, f) }

// close releases what build made, last first.
func (sc *sidecar) close() {
	for i := len(sc.closers) - 1; i >= 0; i-- {
		sc.closers[i]()
	}
}

// build makes the sidecar of a valid configuration: keys, shared state,
// TLS, then the request path. The caller closes what it returns, error or
// not.
func build(ctx context.Context, cfg config.Config, getenv func(string) string, log *zap.Logger) (*sidecar, error) {
	sc := &sidecar{cfg: cfg, log: log, reg: prometheus.NewRegistry()}
	wctx, cancelWatch := context.WithCancel(ctx)
	sc.wctx = wctx
	sc.onClose(cancelWatch)
	for _, step := range []func() error{
		func() error { return sc.buildKeys(getenv) },
		func() error { return sc.buildShared(ctx, getenv) },
		sc.buildTLS,
		func() error { return sc.buildHandler(ctx) },
	} {
		if err := step(); err != nil {
			return sc, err
		}
	}
	return sc, nil
}

// buildKeys loads the key file (a development one is generated on first
// run only at the default location in the state folder) and the legacy
// key, and sets the OHTTP rotation.
func (sc *sidecar) buildKeys(getenv func(string) string) error {
	cfg, log := sc.cfg, sc.log
	// Keys: a development key file is generated on first run only at the
	// default location in the state directory.
	if cfg.KeysFile == filepath.Join(cfg.StateDir, "keys.yaml") {
		if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
			return err
		}
		created, err := keys.EnsureDevFile(cfg.KeysFile)
		if err != nil {
			return fmt.Errorf("generate development keys: %w", err)
		}
		if created {
			log.Warn("generated development keys; use a real key file in production", zap.String("keys_file", cfg.KeysFile))
		}
	}
	legacyKey := ""
	if cfg.LegacyCBC {
		legacyKey = getenv(config.LegacyKeyEnv)
		log.Warn("legacy CBC mode is enabled: it is unauthenticated and kept only for existing clients",
			zap.String("path", cfg.LegacyPath))
	}
	store, err := keys.NewStoreLegacyMAC(cfg.KeysFile, legacyKey, cfg.LegacyMAC == keys.LegacyMACRequired, log.Named("keys"))
	if err != nil {
		return err
	}
	sc.store = store
	if err := cfg.CheckLegacyKeys(getenv, len(store.Current().Legacy)); err != nil {
		return err
	}
	if cfg.OHTTPRotation > 0 {
		if err := store.SetRotation(cfg.OHTTPRotation, nil); err != nil {
			return fmt.Errorf("ohttp_rotation: %w", err)
		}
		log.Info("OHTTP key configurations rotate", zap.Duration("period", cfg.OHTTPRotation))
	}
	if cfg.LegacyCBC && cfg.UnsafeLegacyAnonymous {
		log.Warn("unsafe_legacy_anonymous: legacy requests are admitted without credentials")
	}

	return nil
}

// buildShared opens the shared state (redis.url): replay cache, rate
// limits, ACME storage. Without it, nothing is done.
func (sc *sidecar) buildShared(ctx context.Context, getenv func(string) string) error {
	cfg, log, store, reg, wctx := sc.cfg, sc.log, sc.store, sc.reg, sc.wctx
	if cfg.Redis.URL == "" {
		return nil
	}
	// The key that hashes client addresses in Redis derives from the
	// parsed key material (or the seed), so replicas whose key files
	// hold the same keys share rate-limit buckets whatever the files'
	// comments or layout; whoever reads Redis cannot recover an address
	// by trying them all.
	hashKey, err := store.Current().DeriveKey("sealocr redis key hash v1", 32)
	if err != nil {
		return fmt.Errorf("redis: hash key: %w", err)
	}
	sh, err := openShared(cfg, getenv, hashKey, log, reg)
	if err != nil {
		return err
	}
	sc.sh = sh
	sc.onClose(func() { sh.client.Close() })
	// Prove that this user may write under the prefix; a refusal (an ACL
	// key pattern that does not cover it) stops the start, an outage
	// only warns.
	if err := sh.client.CheckAccess(ctx, cfg.Redis.Prefix); redisstate.IsReply(err) {
		return fmt.Errorf("redis: cannot write under the key prefix %q (give the ACL user ~%s* or change redis.prefix): %w",
			cfg.Redis.Prefix, cfg.Redis.Prefix, err)
	} else if err != nil {
		log.Warn("redis does not answer yet; serving per the failure policy until it does",
			zap.String("redis", sh.client.Redacted()), zap.Error(err))
	}
	go sh.watch(wctx, 5*time.Second)
	if cfg.TLS.Mode == tlsterm.ModeACME {
		owner, _ := os.Hostname()
		if sc.certStorage, err = sh.certStorage(owner); err != nil {
			return err
		}
	}
	return nil
}

// buildTLS makes the TLS terminator of the configured mode.
func (sc *sidecar) buildTLS() error {
	cfg, log := sc.cfg, sc.log
	tlsOpts := cfg.TLSOptions()
	tlsOpts.ACME.Storage, tlsOpts.Logger, tlsOpts.Registry = sc.certStorage, log.Named("tls"), sc.reg
	term, err := tlsterm.New(tlsOpts)
	if err != nil {
		return fmt.Errorf("TLS: %w", err)
	}
	sc.term = term
	sc.onClose(term.Stop)
	if sc.certStorage != nil {
		// Locks this replica holds (an order in progress) are released at
		// once rather than after their expiry.
		sc.onClose(func() { certmagic.CleanUpOwnLocks(context.Background(), log.Named("tls")) })
	}

	return nil
}

// buildHandler makes the request path: client addresses, authentication,
// rate limits, replay store, upstream, key usage, gateway and the
// server's middleware chain.
func (sc *sidecar) buildHandler(ctx context.Context) error {
	cfg, log, reg, store, sh, wctx := sc.cfg, sc.log, sc.reg, sc.store, sc.sh, sc.wctx
	ips, err := clientip.New(cfg.TrustedProxies)
	if err != nil {
		return err
	}
	sc.ips = ips
	authModes, authn, err := buildAuth(ctx, cfg, log)
	if err != nil {
		return err
	}
	var rateStore ratelimit.Store
	var shared ratelimit.Policy
	var policies map[route.Kind]ratelimit.Policy
	if cfg.RateLimit.Enabled {
		rateStore = ratelimit.NewMemory(cfg.RateLimit.MaxClients)
		shared, policies = ratePolicies(cfg.RateLimit)
		if sh != nil {
			if rateStore, err = sh.rateStore(cfg.RateLimit.Fail == config.FailClosed); err != nil {
				return err
			}
		}
	}
	var replays replay.Store = replayStore(&cfg, store)
	if sh != nil {
		replays = sh.replay()
	}
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	up, err := upstream.New(upstream.Options{
		URL: cfg.Upstream, Timeout: cfg.UpstreamTimeout, AllowRemote: cfg.UnsafeAllowRemoteUpstream,
		MaxResponseBytes: cfg.MaxResponseBytes,
		Logger:           log.Named("upstream"),
	})
	if err != nil {
		return err
	}
	routes, innerRoutes := cfg.Routes(), cfg.InnerRoutesList()
	// When each key was last used: a gauge, and a file in the state folder
	// for --check-config, written once a minute when it changed and at exit.
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return err
	}
	usage := keys.NewUsage(filepath.Join(cfg.StateDir, keys.UsageFile), reg)
	usage.Track(func() []string { return store.Current().PSKIDs })
	go func() {
		t := time.NewTicker(time.Minute)
		defer t.Stop()
		for {
			select {
			case <-wctx.Done():
				return
			case <-t.C:
				if err := usage.Flush(); err != nil {
					log.Warn("key usage file not written", zap.Error(err))
				}
			}
		}
	}()
	sc.onClose(func() {
		if err := usage.Flush(); err != nil {
			log.Warn("key usage file not written", zap.Error(err))
		}
	})
	gw := gateway.New(gateway.Options{
		KeyUsage:           usage,
		Keys:               store,
		Upstream:           up,
		Replay:             replays,
		Window:             cfg.ReplayWindow,
		MaxFuture:          cfg.ReplayMaxFuture,
		OHTTPRequireDate:   cfg.OHTTPRequireDate,
		LegacyEnabled:      cfg.LegacyCBC,
		LegacyPath:         cfg.LegacyPath,
		LegacyUpstreamPath: cfg.LegacyUpstreamPath,
		Plain:              routes.Match,
		Inner:              innerRoutes.Match,
		Authorize:          server.OHTTPAuthorizer(authn, authModes[route.OHTTP]),
		Logger:             log.Named("gateway"),
		Registry:           reg,
	})
	sc.handler = server.Handler(server.Options{
		ClientIP:      ips,
		Auth:          authn,
		AuthModes:     authModes,
		AuthInfo:      authInfo(authn, authModes[route.OHTTP]),
		OIDC:          authn.OIDC,
		RateStore:     rateStore,
		RateShared:    shared,
		RatePolicies:  policies,
		Gateway:       gw,
		Upstream:      up,
		KeysLoaded:    func() bool { return store.Current() != nil },
		MaxBodyBytes:  cfg.MaxBodyBytes,
		MaxConcurrent: cfg.MaxConcurrent,

		MaxConcurrentPerClient:    cfg.MaxConcurrentPerClient,
		MaxBufferedBytes:          cfg.MaxBufferedBytes,
		BodyMinRate:               cfg.BodyMinRate,
		BodyGrace:                 cfg.BodyGrace,
		BodyTimeout:               cfg.BodyTimeout,
		MaxBufferedBytesPerClient: cfg.MaxBufferedBytesPerClient,
		HSTS:                      true,
		Logger:                    log.Named("http"),
		Registry:                  reg,
	})
	return nil
}

// serve listens, serves until ctx ends, and shuts the servers down.
func (sc *sidecar) serve(ctx context.Context, stdout io.Writer) error {
	cfg, log, reg, store, sh, term, ips, h, wctx := sc.cfg, sc.log, sc.reg, sc.store, sc.sh, sc.term, sc.ips, sc.handler, sc.wctx
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	if cfg.ProxyProtocol {
		ln = ips.ProxyListener(ln, 5*time.Second)
	}
	// A whole request may take 2 minutes to arrive (body_timeout bounds it
	// further); an answer may take the core's time and 30 s more.
	srv := configs.HTTPServer(h, 2*time.Minute, cfg.UpstreamTimeout+30*time.Second, zap.NewStdLog(log.Named("http")))
	srv.TLSConfig = term.TLSConfig()
	errc := make(chan error, 3)
	go func() { errc <- srv.ServeTLS(ln, "", "") }()

	// The plain-HTTP listener: ACME HTTP-01 challenges and redirects.
	var hsrv *http.Server
	if cfg.HTTPListen != config.Off {
		hln, err := net.Listen("tcp", cfg.HTTPListen)
		if err != nil {
			return fmt.Errorf("http listen: %w", err)
		}
		if cfg.ProxyProtocol {
			hln = ips.ProxyListener(hln, 5*time.Second)
		}
		hsrv = configs.HTTPServer(term.HTTPHandler(), 30*time.Second, 30*time.Second, zap.NewStdLog(log.Named("http")))
		go func() { errc <- hsrv.Serve(hln) }()
	}
	if err := term.Start(ctx); err != nil {
		return err
	}

	var msrv *http.Server
	if cfg.MetricsListen != "" {
		mln, err := net.Listen("tcp", cfg.MetricsListen)
		if err != nil {
			return fmt.Errorf("metrics listen: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		msrv = configs.HTTPServer(mux, 30*time.Second, 30*time.Second, zap.NewStdLog(log.Named("metrics")))
		go func() { errc <- msrv.Serve(mln) }()
	}

	go func() {
		if err := store.Watch(wctx); err != nil {
			log.Warn("key file watch unavailable; reload with SIGHUP", zap.Error(err))
		}
	}()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-wctx.Done():
				return
			case <-hup:
				_ = store.Reload()
			}
		}
	}()

	log.Info("sidecar listening", zap.String("addr", ln.Addr().String()), zap.String("upstream", upstream.RedactURL(cfg.Upstream)),
		zap.String("tls_mode", term.Mode()), zap.String("ca", term.CAPath()), zap.Strings("domains", cfg.TLS.ACME.Domains),
		zap.String("http_listen", cfg.HTTPListen), zap.Bool("rate_limit", cfg.RateLimit.Enabled),
		zap.String("auth", cfg.Auth.Mode), zap.String("redis", redisState(sh)), zap.String("version", buildVersion()))
	switch term.Mode() {
	case tlsterm.ModeLocal:
		fmt.Fprintf(stdout, "sealocr sidecar listening on https://%s\n  local CA (trust this): %s\n  key file: %s\n", ln.Addr(), term.CAPath(), cfg.KeysFile)
	case tlsterm.ModeACME:
		fmt.Fprintf(stdout, "sealocr sidecar listening on https://%s (ACME certificates for %s)\n  key file: %s\n", ln.Addr(), strings.Join(cfg.TLS.ACME.Domains, ", "), cfg.KeysFile)
	default:
		fmt.Fprintf(stdout, "sealocr sidecar listening on https://%s (certificate %s)\n  key file: %s\n", ln.Addr(), cfg.TLS.CertFile, cfg.KeysFile)
	}

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	err = srv.Shutdown(sctx)
	if hsrv != nil {
		_ = hsrv.Shutdown(sctx)
	}
	if msrv != nil {
		_ = msrv.Shutdown(sctx)
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// redisState names the shared state for the start log line: the redacted
// Redis URL, or "off".
func redisState(sh *sharedState) string {
	if sh == nil {
		return "off"
	}
	return sh.client.Redacted()
}

// buildAuth returns the auth mode of each request class and the
// authenticator; the authenticator is nil when every mode is off.
func buildAuth(ctx context.Context, cfg config.Config, log *zap.Logger) (map[route.Kind]auth.Mode, *auth.Authenticator, error) {
	a := cfg.Auth
	modes := map[route.Kind]auth.Mode{}
	anyOn := false
	for class, v := range map[route.Kind]string{
		route.PSK: a.PSK, route.OHTTP: a.OHTTP, route.Legacy: cfg.LegacyAuthMode(), route.Plain: a.Plain,
	} {
		if v == "" {
			v = a.Mode
		}
		m, err := auth.ParseMode(v) // validated already
		if err != nil {
			return nil, nil, err
		}
		modes[class] = m
		anyOn = anyOn || m != auth.Off
	}
	if !anyOn {
		return modes, nil, nil
	}
	authn, err := auth.New(ctx, auth.Options{
		JWT: auth.JWTOptions{
			Issuer:         a.JWT.Issuer,
			Audience:       a.JWT.Audience,
			HS256KeyFile:   a.JWT.HS256KeyFile,
			PublicKeyFiles: a.JWT.PublicKeyFiles,
			JWKSFile:       a.JWT.JWKSFile,
			JWKSURL:        a.JWT.JWKSURL,
			JWKSRefresh:    a.JWT.JWKSRefresh,
			ClockSkew:      a.JWT.ClockSkew,
		},
		OIDC: auth.OIDCOptions{
			Issuer:   a.OIDC.Issuer,
			ClientID: a.OIDC.ClientID,
			Audience: a.OIDC.Audience,
			Scopes:   a.OIDC.Scopes,
		},
		APIKeysFile: a.APIKeysFile,
		Realm:       a.Realm,
		Logger:      log.Named("auth"),
	})
	if err != nil {
		return nil, nil, err
	}
	return modes, authn, nil
}

// authInfo is what GET /v1/auth-info tells clients about OHTTP requests:
// their auth mode and, unless it is off, the credential kinds accepted.
func authInfo(a *auth.Authenticator, mode auth.Mode) *api.AuthInfo {
	info := &api.AuthInfo{Auth: api.AuthInfoAuth{Mode: mode.String(), Methods: []string{}}}
	if mode != auth.Off {
		info.Auth.Methods = a.Methods()
	}
	return info
}

// ratePolicies turns the validated rate_limit section into the one bucket
// per client shared by the PSK, OHTTP and legacy modes (rate, burst) and the
// further buckets of legacy and plain requests; health checks are never
// limited.
func ratePolicies(r config.RateLimit) (ratelimit.Policy, map[route.Kind]ratelimit.Policy) {
	rate := func(s string) float64 { v, _ := ratelimit.ParseRate(s); return v } // validated already
	return ratelimit.Policy{Name: "requests", Rate: rate(r.Rate), Burst: r.Burst},
		map[route.Kind]ratelimit.Policy{
			route.Legacy: {Name: route.Legacy.String(), Rate: rate(r.LegacyRate), Burst: r.LegacyBurst},
			route.Plain:  {Name: route.Plain.String(), Rate: rate(r.PlainRate), Burst: r.PlainBurst},
		}
}

// replayStore is the in-process replay store, shared fairly between the
// PSK key IDs in force and OHTTP: each gets an equal share of
// replay_cache_size, so a tenant that floods it is refused on its own.
func replayStore(cfg *config.Config, store *keys.Store) *replay.Memory {
	return replay.NewMemory(replay.MemoryOptions{
		Capacity: cfg.ReplayCacheSize,
		Partitions: func() int {
			set := store.Current()
			if set == nil {
				return 1
			}
			return len(set.PSKIDs) + 1
		},
	})
}
