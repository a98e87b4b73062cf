// Command core is sealocr's OCR server: plain HTTP on loopback, meant to sit
// behind the sidecar. See the README for flags and the API.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/sealocr/sealocr/configs"
	"github.com/sealocr/sealocr/core/api"
	"github.com/sealocr/sealocr/core/internal/config"
	"github.com/sealocr/sealocr/core/internal/decode"
	"github.com/sealocr/sealocr/core/internal/document"
	"github.com/sealocr/sealocr/core/internal/httpapi"
	"github.com/sealocr/sealocr/core/internal/onnx"
	"github.com/sealocr/sealocr/core/internal/pipeline"
	"github.com/sealocr/sealocr/core/internal/web"
	"github.com/sealocr/sealocr/sidecar/logging"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = ""

func main() {
	configs.Main("core", logging.Redact, func(ctx context.Context) error {
		return run(ctx, os.Args[1:], os.Getenv, os.Environ(), os.Stdout, os.Stderr)
	})
}

// buildVersion is the binary's version (configs.BuildVersion).
func buildVersion() string { return configs.BuildVersion(version) }

// run is the core: getenv reads the environment, environ lists it (for the
// names of misspelled variables only).
func run(ctx context.Context, args []string, getenv func(string) string, environ []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "healthcheck" {
		return healthcheck(ctx, args[1:], getenv, stdout)
	}
	cfg, fl, err := config.Load(args, getenv)
	if configs.Informational(stdout, fl, err, config.Usage, config.WriteSettings, "sealocr core "+buildVersion()) {
		return nil
	}
	// Variables that look like a misspelled setting: warned about on
	// standard error, or in --check-config's report.
	typos := config.EnvWarnings(environ)
	// Every problem at once: what did not parse and what is not valid, each
	// with where it was set.
	if err := configs.Annotate(errors.Join(err, cfg.Validate()), fl); err != nil {
		configs.Warn(stderr, "core", typos)
		return err
	}
	if fl.CheckConfig {
		fmt.Fprint(stdout, cfg.Dump())
		for _, w := range typos {
			fmt.Fprintln(stdout, "# warning: "+w)
		}
		fmt.Fprintln(stdout, "# configuration ok")
		return nil
	}
	log, err := newLogger(cfg, stderr)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	for _, w := range typos {
		log.Warn(w)
	}

	if err := onnx.Init(cfg.ORTLib); err != nil {
		return fmt.Errorf("%w (run `make models`, or set --ort-lib / SEALOCR_ORT_LIB)", err)
	}
	eng, err := pipeline.Load(pipeline.Config{ModelsDir: cfg.Models, Threads: cfg.Threads})
	if err != nil {
		return err
	}
	defer eng.Close()

	budget, goLimit, err := memoryPlan(cfg.MemoryBudget, getenv("GOMEMLIMIT") != "")
	if err != nil {
		return err
	}
	var ready atomic.Bool
	// PDF pages are rendered by PDFium in WebAssembly, one instance per
	// worker. Its module is compiled on the first PDF (seconds of CPU that
	// a core which is never sent a PDF does not spend).
	pdf := document.NewPDFium(document.PDFiumOptions{Instances: cfg.Workers,
		MemoryLimit: document.MemoryLimitFor(cfg.MaxPixels, cfg.MaxBodyBytes)})
	defer func() { _ = pdf.Close() }()
	h := httpapi.New(eng, httpapi.Options{
		MaxBody:      cfg.MaxBodyBytes,
		Limits:       decode.Limits{MaxPixels: cfg.MaxPixels},
		Timeout:      cfg.Timeout,
		Workers:      cfg.Workers,
		Queue:        cfg.Queue,
		Logger:       log,
		Ready:        ready.Load,
		MemoryBudget: budget,
		MaxPages:     cfg.MaxPages,
		PDF:          pdf,

		ExtraRoutes: web.Routes,
	})
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := configs.HTTPServer(h, 60*time.Second, cfg.Timeout+30*time.Second, zap.NewStdLog(log.Named("http")))
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	// /metrics on a listener of its own, never on the API port that the
	// sidecar forwards to.
	var msrv *http.Server
	if cfg.MetricsListen != "" {
		mln, err := net.Listen("tcp", cfg.MetricsListen)
		if err != nil {
			_ = srv.Close()
			return fmt.Errorf("metrics listen: %w", err)
		}
		msrv = configs.HTTPServer(h.Metrics(), 30*time.Second, 30*time.Second, zap.NewStdLog(log.Named("metrics")))
		go func() { errc <- msrv.Serve(mln) }()
		log.Info("metrics listening", zap.String("addr", mln.Addr().String()))
	}
	log.Info("core listening", zap.String("addr", ln.Addr().String()), zap.String("version", buildVersion()),
		zap.String("onnxruntime", onnx.Version()), zap.Int("workers", cfg.Workers), zap.Int("threads", cfg.Threads),
		zap.Int64("memory_budget", h.MemoryBudget()), zap.Int64("go_memory_limit", goLimit))
	fmt.Fprintf(stdout, "sealocr core listening on http://%s\n", ln.Addr())

	go func() {
		wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		t := time.Now()
		if err := eng.WarmUp(wctx); err != nil {
			log.Error("warm-up failed; staying not ready", zap.Error(err))
			return
		}
		ready.Store(true)
		log.Info("core ready", zap.Duration("warmup", time.Since(t)))
	}()

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.Timeout+5*time.Second)
	defer cancel()
	if msrv != nil {
		_ = msrv.Shutdown(sctx)
	}
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// What the core holds besides its memory budget, when GOMEMLIMIT tells it
// the memory it has in all (README, Memory).
const (
	// nativeReserve is memory outside the Go heap: ONNX Runtime's sessions,
	// model weights and its shared arena (detection at 960 pixels and
	// recognition of long lines peak at about 350 MiB with the weights,
	// measured), C stacks. The Go runtime's soft limit is GOMEMLIMIT minus
	// this.
	nativeReserve = 416 << 20
	// goReserve is Go heap outside the budget: HTTP connections, runtime
	// metadata, the collector's headroom.
	goReserve = 64 << 20
)

// memoryPlan returns the memory budget and the Go runtime's soft memory
// limit (math.MaxInt64 for none). With GOMEMLIMIT set (fromEnv; the chart
// sets it to the container's memory limit), the core takes it as all the
// memory it may use, native memory included: it lowers the Go runtime's
// soft limit by nativeReserve, and, unless configured, derives the budget
// as what remains after goReserve. Without GOMEMLIMIT the configured budget
// is used, or (0) httpapi's default.
func memoryPlan(configured int64, fromEnv bool) (budget, goLimit int64, err error) {
	goLimit = debug.SetMemoryLimit(-1)
	if !fromEnv || goLimit == math.MaxInt64 {
		return configured, goLimit, nil
	}
	if goLimit < nativeReserve+goReserve+16<<20 {
		return 0, 0, fmt.Errorf("GOMEMLIMIT %d is below the %d bytes the core needs (%d outside the Go heap, %d of Go heap, 16 MiB of budget)",
			goLimit, nativeReserve+goReserve+16<<20, nativeReserve, goReserve)
	}
	all := goLimit
	goLimit = all - nativeReserve
	debug.SetMemoryLimit(goLimit)
	if configured > 0 {
		return configured, goLimit, nil
	}
	return goLimit - goReserve, goLimit, nil
}

// newLogger builds the core's logger through the same redacting encoder as
// the sidecar's: the core holds images and recognized text, so nothing it
// logs may carry them.
func newLogger(cfg config.Config, w io.Writer) (*zap.Logger, error) {
	log, err := logging.New(logging.Options{Level: cfg.LogLevel, Format: cfg.LogFormat, Output: w})
	if err != nil {
		return nil, err
	}
	return log.Named("core"), nil
}

// healthcheck probes a running core's /readyz (for exec probes and scripts:
// the core listens on loopback, which kubelet HTTP probes cannot reach). It
// takes the same --listen/SEALOCR_CORE_LISTEN as the server.
func healthcheck(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	cfg, _, err := config.Load(args, getenv)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+cfg.Listen+api.ReadyPath, nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: not ready (HTTP %d)", res.StatusCode)
	}
	fmt.Fprintln(stdout, "ready")
	return nil
}
