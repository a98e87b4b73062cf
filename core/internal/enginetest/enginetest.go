// Package enginetest loads the real models once per test binary, for tests
// and benchmarks that run the whole pipeline or one model stage. It fails (never skips) when
// the models are missing: `make test` fetches them first.
package enginetest

import (
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/sealocr/sealocr/core/internal/decode"
	"github.com/sealocr/sealocr/core/internal/onnx"
	"github.com/sealocr/sealocr/core/internal/pipeline"
	"github.com/sealocr/sealocr/core/internal/raster"
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

// Session loads the model file of the given role (models.RoleDet,
// RoleCls or RoleRec) from the test model folder, checked against the
// pinned manifest, for a test of one stage; it is closed when the test
// ends.
func Session(tb testing.TB, role string) *onnx.Session {
	tb.Helper()
	dir, lib := Paths()
	if err := onnx.Init(lib); err != nil {
		tb.Fatalf("load ONNX Runtime (run `make models` first): %v", err)
	}
	man, err := models.Load()
	if err != nil {
		tb.Fatal(err)
	}
	f, ok := man.ByRole(role)
	if !ok {
		tb.Fatalf("manifest has no %s file", role)
	}
	p := filepath.Join(dir, filepath.Base(f.Dest))
	if err := models.VerifyFile(p, f.SHA256); err != nil {
		tb.Fatalf("model %s (run `make models` first): %v", role, err)
	}
	s, err := onnx.NewSession(p, onnx.Options{IntraOpThreads: runtime.NumCPU()})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// Raster decodes the test image at rel (relative to Testdata) into the
// pipeline's image type.
func Raster(tb testing.TB, rel string) *raster.Image {
	tb.Helper()
	data, err := os.ReadFile(Testdata(tb, rel))
	if err != nil {
		tb.Fatal(err)
	}
	img, _, err := decode.Decode(data, decode.Limits{})
	if err != nil {
		tb.Fatalf("%s: %v", rel, err)
	}
	return raster.FromImage(img)
}

// Testdata returns the path of the core's shared OCR test images.
func Testdata(tb testing.TB, rel string) string {
	tb.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata", "ocr", rel)
}
