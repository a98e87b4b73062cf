package sidecar

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// goList runs `go list` with the given environment and arguments.
func goList(t *testing.T, env []string, args ...string) []string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir = ".."
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list %v: %v\n%s", args, err, out)
	}
	return strings.Fields(string(out))
}

// TestSidecarBoundary keeps the sidecar free of cgo and of the core's
// internals: it must build with CGO_ENABLED=0 and never pull in the
// inference stack.
func TestSidecarBoundary(t *testing.T) {
	deps := goList(t, []string{"CGO_ENABLED=0"}, "-deps", "./sidecar/...")
	for _, d := range deps {
		if strings.HasPrefix(d, "github.com/sealocr/sealocr/core/internal") || strings.Contains(d, "onnxruntime") {
			t.Errorf("sidecar depends on %s", d)
		}
	}
	if len(deps) < 10 {
		t.Fatalf("implausibly few dependencies: %v", deps)
	}
}

// TestOnlyOnnxLinksCgo keeps onnxruntime_go behind core/internal/onnx.
func TestOnlyOnnxLinksCgo(t *testing.T) {
	for _, line := range goList(t, nil, "-f", `{{.ImportPath}}:{{join .Imports ","}}`, "./...") {
		pkg, imports, _ := strings.Cut(line, ":")
		if strings.Contains(imports, "github.com/yalue/onnxruntime_go") && pkg != "github.com/sealocr/sealocr/core/internal/onnx" {
			t.Errorf("%s imports onnxruntime_go; only core/internal/onnx may", pkg)
		}
	}
}

// TestCoreSharesOnlyTheLogger keeps the one edge from the core into the
// sidecar's tree: the core logs through the redacting logger
// (sidecar/logging) and imports nothing else of the sidecar, and that
// logger depends on zap and the standard library alone.
func TestCoreSharesOnlyTheLogger(t *testing.T) {
	const logger = "github.com/sealocr/sealocr/sidecar/logging"
	usesLogger := false
	for _, d := range goList(t, nil, "-deps", "./core/...") {
		if !strings.HasPrefix(d, "github.com/sealocr/sealocr/sidecar") {
			continue
		}
		if d != logger {
			t.Errorf("the core depends on %s; it may import only %s", d, logger)
		}
		usesLogger = true
	}
	if !usesLogger {
		t.Errorf("the core does not log through %s", logger)
	}
	for _, d := range goList(t, []string{"CGO_ENABLED=0"}, "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", logger) {
		if !strings.HasPrefix(d, "go.uber.org/") && d != logger {
			t.Errorf("%s depends on %s; it must stay zap and the standard library", logger, d)
		}
	}
}
