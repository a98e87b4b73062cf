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
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/sealocr/sealocr/sidecar/internal/config"
	"github.com/sealocr/sealocr/sidecar/internal/envelope/psk"
	"github.com/sealocr/sealocr/sidecar/internal/gateway"
	"github.com/sealocr/sealocr/sidecar/internal/keys"
	"github.com/sealocr/sealocr/sidecar/internal/localtls"
	"github.com/sealocr/sealocr/sidecar/internal/logging"
	"github.com/sealocr/sealocr/sidecar/internal/server"
	"github.com/sealocr/sealocr/sidecar/internal/upstream"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = ""

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "sidecar:", logging.Redact(err.Error()))
		os.Exit(1)
	}
}

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "dev"
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, fl, err := config.Load(args, getenv)
	if err != nil {
		return err
	}
	if fl.Version {
		fmt.Fprintln(stdout, "sealocr sidecar", buildVersion())
		return nil
	}
	if err := errors.Join(cfg.Validate(), cfg.CheckEnvironment(getenv)); err != nil {
		return err
	}
	if fl.CheckConfig {
		fmt.Fprint(stdout, cfg.Redacted())
		fmt.Fprintln(stdout, "# configuration ok")
		return nil
	}
	log, err := logging.New(logging.Options{Level: cfg.LogLevel, Format: cfg.LogFormat, Output: stderr})
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()

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
		log.Warn("legacy AES-256-CBC mode is enabled: it is unauthenticated and kept only for existing clients",
			zap.String("path", cfg.LegacyPath))
	}
	store, err := keys.NewStore(cfg.KeysFile, legacyKey, log.Named("keys"))
	if err != nil {
		return err
	}

	tlsLocal, err := localtls.Ensure(cfg.StateDir, time.Now())
	if err != nil {
		return fmt.Errorf("local TLS: %w", err)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	up, err := upstream.New(upstream.Options{
		URL: cfg.Upstream, Timeout: cfg.UpstreamTimeout, AllowRemote: cfg.UnsafeAllowRemoteUpstream,
		Logger: log.Named("upstream"),
	})
	if err != nil {
		return err
	}
	routes := cfg.Routes()
	gw := gateway.New(gateway.Options{
		Keys:               store,
		Upstream:           up,
		Replay:             psk.NewMemoryReplayCache(cfg.ReplayCacheSize, time.Now),
		Window:             cfg.ReplayWindow,
		LegacyEnabled:      cfg.LegacyCBC,
		LegacyPath:         cfg.LegacyPath,
		LegacyUpstreamPath: cfg.LegacyUpstreamPath,
		Plain: func(method, path string) bool {
			for _, r := range routes {
				if r.Match(method, path) {
					return true
				}
			}
			return false
		},
		Logger:   log.Named("gateway"),
		Registry: reg,
	})
	h := server.Handler(server.Options{
		Gateway:       gw,
		Upstream:      up,
		KeysLoaded:    func() bool { return store.Current() != nil },
		MaxBody:       cfg.MaxBodyBytes,
		MaxConcurrent: cfg.MaxConcurrent,
		HSTS:          true,
		Logger:        log.Named("http"),
		Registry:      reg,
	})

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := server.NewHTTPServer(h, cfg.UpstreamTimeout, log)
	srv.TLSConfig = tlsLocal.TLSConfig()
	errc := make(chan error, 2)
	go func() { errc <- srv.ServeTLS(ln, "", "") }()

	var msrv *http.Server
	if cfg.MetricsListen != "" {
		mln, err := net.Listen("tcp", cfg.MetricsListen)
		if err != nil {
			return fmt.Errorf("metrics listen: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		msrv = server.NewHTTPServer(mux, 10*time.Second, log)
		go func() { errc <- msrv.Serve(mln) }()
	}

	wctx, cancelWatch := context.WithCancel(ctx)
	defer cancelWatch()
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
		zap.String("ca", tlsLocal.CAPath), zap.String("version", buildVersion()))
	fmt.Fprintf(stdout, "sealocr sidecar listening on https://%s\n  local CA (trust this): %s\n  key file: %s\n", ln.Addr(), tlsLocal.CAPath, cfg.KeysFile)

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	err = srv.Shutdown(sctx)
	if msrv != nil {
		_ = msrv.Shutdown(sctx)
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
