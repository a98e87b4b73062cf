// Package enginetest loads the real models once per test binary, for tests
// and benchmarks that run the whole pipeline. It fails (never skips) when
// the models are missing: `make test` fetches them first.
package enginetest

import (
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/sealocr/sealocr/core/internal/onnx"
	"github.com/sealocr/sealocr/core/internal/pipeline"
	"github.com/sealocr/sealocr/models"
)

var (
	once   sync.Once
	engine *pipeline.Engine
	err    error
)

// Paths returns the model folder and runtime library the tests use:
// SEALOCR_MODELS and SEALOCR_ORT_LIB, else the cache.
func Paths() (modelsDir, lib string) {
	cache := models.DefaultCacheDir(os.Getenv)
	modelsDir, lib = models.ModelsDir(cache), models.RuntimeLib(cache)
	if v := os.Getenv("SEALOCR_MODELS"); v != "" {
		modelsDir = v
	}
	if v := os.Getenv("SEALOCR_ORT_LIB"); v != "" {
		lib = v
	}
	return modelsDir, lib
}

// Engine returns the shared engine, loading it on first use.
func Engine(tb testing.TB) *pipeline.Engine {
	tb.Helper()
	once.Do(func() {
		dir, lib := Paths()
		if err = onnx.Init(lib); err != nil {
			return
		}
		engine, err = pipeline.Load(pipeline.Config{ModelsDir: dir, Threads: runtime.NumCPU()})
	})
	if err != nil {
		tb.Fatalf("load models (run `make models` first): %v", err)
	}
	return engine
}

// Testdata returns the path of the core's shared OCR test images.
func Testdata(tb testing.TB, rel string) string {
	tb.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata", "ocr", rel)
}
