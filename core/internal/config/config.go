// Package config loads the core's configuration: defaults, then an optional
// YAML file (unknown keys rejected), then SEALOCR_* environment variables,
// then flags; Validate then reports every problem at once.
package config

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/sealocr/sealocr/models"
)

// Config is the core's configuration. YAML keys in brackets.
type Config struct {
	Listen       string        `yaml:"listen"`         // [listen] address, loopback unless unsafe_allow_non_loopback
	Models       string        `yaml:"models"`         // [models] folder of model files
	ORTLib       string        `yaml:"ort_lib"`        // [ort_lib] libonnxruntime.so.1
	Threads      int           `yaml:"threads"`        // [threads] intra-op threads per ONNX session (0: all cores)
	Workers      int           `yaml:"workers"`        // [workers] pipeline runs at once
	Queue        int           `yaml:"queue"`          // [queue] requests that may wait for a worker
	MaxBodyBytes int64         `yaml:"max_body_bytes"` // [max_body_bytes] request body limit
	MaxPixels    int64         `yaml:"max_pixels"`     // [max_pixels] width × height limit
	Timeout      time.Duration `yaml:"timeout"`        // [timeout] per-request deadline
	LogLevel     string        `yaml:"log_level"`      // [log_level] debug|info|warn|error
	LogFormat    string        `yaml:"log_format"`     // [log_format] json|console

	UnsafeAllowNonLoopback bool `yaml:"unsafe_allow_non_loopback"` // listen on a non-loopback address
}

// Default returns the defaults, with model paths in the cache.
func Default(getenv func(string) string) Config {
	cache := models.DefaultCacheDir(getenv)
	return Config{
		Listen:       "127.0.0.1:8081",
		Models:       models.ModelsDir(cache),
		ORTLib:       models.RuntimeLib(cache),
		Threads:      0,
		Workers:      1,
		Queue:        16,
		MaxBodyBytes: 20 << 20,
		MaxPixels:    40_000_000,
		Timeout:      30 * time.Second,
		LogLevel:     "info",
		LogFormat:    "json",
	}
}

// Flags are the command-line switches besides the configuration.
type Flags struct {
	CheckConfig bool
	Version     bool
}

// env lists each environment variable and how it sets the config.
var env = []struct {
	name string
	set  func(c *Config, v string) error
}{
	{"SEALOCR_CORE_LISTEN", func(c *Config, v string) error { c.Listen = v; return nil }},
	{"SEALOCR_MODELS", func(c *Config, v string) error { c.Models = v; return nil }},
	{"SEALOCR_ORT_LIB", func(c *Config, v string) error { c.ORTLib = v; return nil }},
	{"SEALOCR_CORE_THREADS", func(c *Config, v string) error { return setInt(&c.Threads, v) }},
	{"SEALOCR_CORE_WORKERS", func(c *Config, v string) error { return setInt(&c.Workers, v) }},
	{"SEALOCR_CORE_QUEUE", func(c *Config, v string) error { return setInt(&c.Queue, v) }},
	{"SEALOCR_CORE_MAX_BODY_BYTES", func(c *Config, v string) error { return setInt64(&c.MaxBodyBytes, v) }},
	{"SEALOCR_CORE_MAX_PIXELS", func(c *Config, v string) error { return setInt64(&c.MaxPixels, v) }},
	{"SEALOCR_CORE_TIMEOUT", func(c *Config, v string) error { return setDuration(&c.Timeout, v) }},
	{"SEALOCR_LOG_LEVEL", func(c *Config, v string) error { c.LogLevel = v; return nil }},
	{"SEALOCR_LOG_FORMAT", func(c *Config, v string) error { c.LogFormat = v; return nil }},
	{"SEALOCR_CORE_UNSAFE_ALLOW_NON_LOOPBACK", func(c *Config, v string) error { return setBool(&c.UnsafeAllowNonLoopback, v) }},
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

// Load builds the configuration from args (without the program name) and the
// environment. It returns the configuration unvalidated.
func Load(args []string, getenv func(string) string) (Config, Flags, error) {
	c := Default(getenv)
	var fl Flags
	fs := flag.NewFlagSet("core", flag.ContinueOnError)
	file := fs.String("config", getenv("SEALOCR_CORE_CONFIG"), "YAML configuration file (env SEALOCR_CORE_CONFIG)")
	var fc Config // flag values; only the flags that were set are applied
	fs.StringVar(&fc.Listen, "listen", "", "listen address (env SEALOCR_CORE_LISTEN, default "+c.Listen+")")
	fs.StringVar(&fc.Models, "models", "", "model folder (env SEALOCR_MODELS, default "+c.Models+")")
	fs.StringVar(&fc.ORTLib, "ort-lib", "", "ONNX Runtime library (env SEALOCR_ORT_LIB, default "+c.ORTLib+")")
	fs.IntVar(&fc.Threads, "threads", 0, "intra-op threads per ONNX session, 0 = all cores (env SEALOCR_CORE_THREADS)")
	fs.IntVar(&fc.Workers, "workers", 0, "pipeline runs at once (env SEALOCR_CORE_WORKERS, default 1)")
	fs.IntVar(&fc.Queue, "queue", 0, "requests that may wait for a worker (env SEALOCR_CORE_QUEUE, default 16)")
	fs.Int64Var(&fc.MaxBodyBytes, "max-body-bytes", 0, "request body limit (env SEALOCR_CORE_MAX_BODY_BYTES, default 20 MiB)")
	fs.Int64Var(&fc.MaxPixels, "max-pixels", 0, "image pixel limit (env SEALOCR_CORE_MAX_PIXELS, default 40000000)")
	fs.DurationVar(&fc.Timeout, "timeout", 0, "per-request deadline (env SEALOCR_CORE_TIMEOUT, default 30s)")
	fs.StringVar(&fc.LogLevel, "log-level", "", "debug|info|warn|error (env SEALOCR_LOG_LEVEL)")
	fs.StringVar(&fc.LogFormat, "log-format", "", "json|console (env SEALOCR_LOG_FORMAT)")
	fs.BoolVar(&fc.UnsafeAllowNonLoopback, "unsafe-allow-non-loopback", false, "allow a non-loopback listen address (env SEALOCR_CORE_UNSAFE_ALLOW_NON_LOOPBACK)")
	fs.BoolVar(&fl.CheckConfig, "check-config", false, "validate the configuration and exit")
	fs.BoolVar(&fl.Version, "version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		return c, fl, err
	}
	if fs.NArg() > 0 {
		return c, fl, fmt.Errorf("config: unexpected arguments %q", fs.Args())
	}
	var errs []error
	if *file != "" {
		if err := loadFile(*file, &c); err != nil {
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
		case "models":
			c.Models = fc.Models
		case "ort-lib":
			c.ORTLib = fc.ORTLib
		case "threads":
			c.Threads = fc.Threads
		case "workers":
			c.Workers = fc.Workers
		case "queue":
			c.Queue = fc.Queue
		case "max-body-bytes":
			c.MaxBodyBytes = fc.MaxBodyBytes
		case "max-pixels":
			c.MaxPixels = fc.MaxPixels
		case "timeout":
			c.Timeout = fc.Timeout
		case "log-level":
			c.LogLevel = fc.LogLevel
		case "log-format":
			c.LogFormat = fc.LogFormat
		case "unsafe-allow-non-loopback":
			c.UnsafeAllowNonLoopback = fc.UnsafeAllowNonLoopback
		}
	})
	return c, fl, errors.Join(errs...)
}

func loadFile(path string, c *Config) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) { // an empty file is fine
		return fmt.Errorf("config: %s: %w", path, err)
	}
	return nil
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
		if !IsLoopback(host) && !c.UnsafeAllowNonLoopback {
			add("listen %q is not a loopback address; the core serves plaintext and belongs behind the sidecar (set unsafe_allow_non_loopback to override)", c.Listen)
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
	if c.Timeout < 100*time.Millisecond || c.Timeout > 10*time.Minute {
		add("timeout %s out of range 100ms..10m", c.Timeout)
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
	return errors.Join(errs...)
}

// IsLoopback reports whether host (a name or an IP) is a loopback address.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
