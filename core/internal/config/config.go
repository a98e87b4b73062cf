// Package config loads the core's configuration through the shared loader
// of package configs: defaults, then an optional YAML file (one document,
// unknown keys rejected), then SEALOCR_* environment variables, then flags;
// Validate then reports every problem at once. configs/core.yaml documents
// every key.
package config

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/sealocr/sealocr/configs"
	"github.com/sealocr/sealocr/models"
	"github.com/sealocr/sealocr/sidecar/logging"
)

// ConfigEnv is the environment variable naming the configuration file, the
// default of --config.
const ConfigEnv = "SEALOCR_CORE_CONFIG"

// Config is the core's configuration. Each option is declared once, by its
// field's tags (see package configs).
type Config struct {
	Listen string `yaml:"listen" env:"SEALOCR_CORE_LISTEN" flag:"listen" default:"127.0.0.1:8081" doc:"listen address, loopback unless unsafe_allow_remote_listen"`
	// MetricsListen is the address of /metrics, on a listener of its own:
	// the API port the sidecar forwards to never serves it. "" turns it off.
	MetricsListen string        `yaml:"metrics_listen" env:"SEALOCR_CORE_METRICS_LISTEN" flag:"metrics-listen" default:"127.0.0.1:9091" doc:"Prometheus /metrics address, loopback unless unsafe_allow_remote_metrics; \"\" for none"`
	Models        string        `yaml:"models" env:"SEALOCR_MODELS" flag:"models" defaultdoc:"~/.cache/sealocr/models" doc:"model folder"`
	ORTLib        string        `yaml:"ort_lib" env:"SEALOCR_ORT_LIB" flag:"ort-lib" defaultdoc:"~/.cache/sealocr/onnxruntime/libonnxruntime.so.1" doc:"ONNX Runtime library"`
	Threads       int           `yaml:"threads" env:"SEALOCR_CORE_THREADS" flag:"threads" default:"0" doc:"intra-op threads per ONNX session, 0 = all cores"`
	Workers       int           `yaml:"workers" env:"SEALOCR_CORE_WORKERS" flag:"workers" default:"1" doc:"pages recognised at once (requests, and the pages of one document on idle workers)"`
	Queue         int           `yaml:"queue" env:"SEALOCR_CORE_QUEUE" flag:"queue" default:"16" doc:"requests that may wait for a worker"`
	MaxBodyBytes  int64         `yaml:"max_body_bytes" env:"SEALOCR_CORE_MAX_BODY_BYTES" flag:"max-body-bytes" default:"20971520" doc:"request body limit in bytes"`
	MaxPixels     int64         `yaml:"max_pixels" env:"SEALOCR_CORE_MAX_PIXELS" flag:"max-pixels" default:"40000000" doc:"image width × height limit"`
	MaxPages      int           `yaml:"max_pages" env:"SEALOCR_CORE_MAX_PAGES" flag:"max-pages" default:"50" doc:"pages per request (PDF, multi-page TIFF)"`
	MemoryBudget  int64         `yaml:"memory_budget" env:"SEALOCR_CORE_MEMORY_BUDGET" flag:"memory-budget" default:"0" doc:"bytes that request bodies, decoded images and pipeline copies may hold at once (README, Memory); 0 = derived from GOMEMLIMIT, else from the other limits"`
	Timeout       time.Duration `yaml:"timeout" env:"SEALOCR_CORE_TIMEOUT" flag:"timeout" default:"30s" doc:"per-request deadline"`
	LogLevel      string        `yaml:"log_level" env:"SEALOCR_LOG_LEVEL" flag:"log-level" default:"info" doc:"debug|info|warn|error"`
	LogFormat     string        `yaml:"log_format" env:"SEALOCR_LOG_FORMAT" flag:"log-format" default:"json" doc:"json|console"`

	// UnsafeAllowRemoteListen permits a listen address that is not
	// loopback. It is spelled like the sidecar's unsafe_allow_remote_*
	// options; the older unsafe_allow_non_loopback names still work.
	UnsafeAllowRemoteListen bool `yaml:"unsafe_allow_remote_listen" alias:"unsafe_allow_non_loopback" env:"SEALOCR_CORE_UNSAFE_ALLOW_REMOTE_LISTEN,SEALOCR_CORE_UNSAFE_ALLOW_NON_LOOPBACK" flag:"unsafe-allow-remote-listen,unsafe-allow-non-loopback" doc:"allow a listen address that is not loopback"`
	// UnsafeAllowRemoteMetrics permits a metrics address that is not
	// loopback (the chart sets it when a ServiceMonitor scrapes the pod).
	UnsafeAllowRemoteMetrics bool `yaml:"unsafe_allow_remote_metrics" env:"SEALOCR_CORE_UNSAFE_ALLOW_REMOTE_METRICS" flag:"unsafe-allow-remote-metrics" doc:"allow a metrics address that is not loopback"`
}

// Default returns the defaults, with model paths in the cache.
func Default(getenv func(string) string) Config {
	var c Config
	configs.SetDefaults(&c)
	cache := models.DefaultCacheDir(getenv)
	c.Models = models.ModelsDir(cache)
	c.ORTLib = models.RuntimeLib(cache)
	return c
}

// Flags are the command-line switches besides the configuration.
type Flags = configs.Flags

// Load builds the configuration from args (without the program name) and the
// environment. It returns the configuration unvalidated.
func Load(args []string, getenv func(string) string) (Config, Flags, error) {
	c := Default(getenv)
	fl, err := configs.Load(&c, args, options(getenv))
	return c, fl, err
}

// options configure the shared loader.
func options(getenv func(string) string) configs.Options {
	return configs.Options{Program: "core", ConfigEnv: ConfigEnv, Getenv: getenv}
}

// usageHead starts the core's --help.
const usageHead = `core is sealocr's OCR server: plain HTTP on loopback, behind the sidecar.

Usage:
  core [flags]                   serve (see README.md: The core)
  core healthcheck [flags]       exit 0 when the core at --listen is ready (for probes and scripts)
  core --check-config            validate, print the effective configuration and exit
  core --help-config             print every setting and exit
`

// Usage writes the core's --help to w.
func Usage(w io.Writer) {
	configs.Usage(w, usageHead, &Config{}, options(nil))
}

// WriteSettings writes every setting of the core (--help-config) to w.
func WriteSettings(w io.Writer) {
	configs.WriteSettings(w, &Config{}, options(nil))
}

// EnvVars returns the names of the environment variables Load reads, besides
// ConfigEnv, HOME and SEALOCR_CACHE.
func EnvVars() []string { return configs.EnvVars(&Config{}, configs.Options{}) }

// EnvWarnings returns a warning for each SEALOCR_ variable of environ
// (os.Environ's form) that is not one the core reads but looks like a typo
// of one (configs.MisspelledEnv). The sidecar's variables, which share the
// prefix, are none of them. Only names are compared and shown, never values.
func EnvWarnings(environ []string) []string {
	return configs.MisspelledEnv(environ, "SEALOCR_", append(EnvVars(), ConfigEnv, models.CacheEnv))
}

// Dump returns the configuration as YAML for --check-config. The core's
// configuration holds no secrets.
func (c Config) Dump() string {
	return "# sealocr core configuration (effective values)\n" + configs.Dump(c, nil)
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf("config: "+format, a...)) }
	host, port, err := net.SplitHostPort(c.Listen)
	if err != nil {
		add("listen %q: %v", c.Listen, err)
	} else {
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			add("listen %q: bad port", c.Listen)
		}
		if !IsLoopback(host) && !c.UnsafeAllowRemoteListen {
			add("listen %q is not a loopback address; the core serves plaintext and belongs behind the sidecar (set unsafe_allow_remote_listen to override)", c.Listen)
		}
	}
	if c.MetricsListen != "" {
		host, port, err := net.SplitHostPort(c.MetricsListen)
		switch {
		case err != nil:
			add("metrics_listen %q: %v", c.MetricsListen, err)
		case c.MetricsListen == c.Listen:
			add("metrics_listen and listen are both %q: /metrics must not be on the API port", c.Listen)
		case !IsLoopback(host) && !c.UnsafeAllowRemoteMetrics:
			add("metrics_listen %q is not a loopback address (set unsafe_allow_remote_metrics to override)", c.MetricsListen)
		default:
			if _, err := strconv.ParseUint(port, 10, 16); err != nil {
				add("metrics_listen %q: bad port", c.MetricsListen)
			}
		}
	}
	if c.Models == "" {
		add("models folder is empty")
	}
	if c.ORTLib == "" {
		add("ort_lib is empty")
	}
	if c.Threads < 0 || c.Threads > 256 {
		add("threads %d out of range 0..256", c.Threads)
	}
	if c.Workers < 1 || c.Workers > 64 {
		add("workers %d out of range 1..64", c.Workers)
	}
	if c.Queue < 0 || c.Queue > 10000 {
		add("queue %d out of range 0..10000", c.Queue)
	}
	if c.MaxBodyBytes < 1024 || c.MaxBodyBytes > 1<<30 {
		add("max_body_bytes %d out of range 1 KiB..1 GiB", c.MaxBodyBytes)
	}
	if c.MaxPixels < 1 || c.MaxPixels > 400_000_000 {
		add("max_pixels %d out of range 1..400000000", c.MaxPixels)
	}
	if c.MaxPages < 1 || c.MaxPages > 10000 {
		add("max_pages %d out of range 1..10000", c.MaxPages)
	}
	if c.MemoryBudget < 0 || c.MemoryBudget > 1<<40 {
		add("memory_budget %d out of range 0..1 TiB", c.MemoryBudget)
	} else if c.MemoryBudget > 0 && c.MemoryBudget < 16<<20 {
		add("memory_budget %d below 16 MiB", c.MemoryBudget)
	}
	if c.Timeout < 100*time.Millisecond || c.Timeout > 10*time.Minute {
		add("timeout %s out of range 100ms..10m", c.Timeout)
	}
	if err := logging.CheckLevel(c.LogLevel); err != nil {
		add("log_level: %v", err)
	}
	if err := logging.CheckFormat(c.LogFormat); err != nil {
		add("log_format: %v", err)
	}
	return errors.Join(errs...)
}

// IsLoopback reports whether host (a name or an IP) is a loopback address
// (configs.IsLoopback).
func IsLoopback(host string) bool { return configs.IsLoopback(host) }
