package charts

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/frontend/dockerfile/dockerfile2llb"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
	digest "github.com/opencontainers/go-digest"
)

// repoRoot is the build context of both Dockerfiles.
const repoRoot = ".."

// dockerfileCase is a Dockerfile and what its image must be.
type dockerfileCase struct {
	file     string
	packages []string // Go packages built into the image
	cgo      string   // CGO_ENABLED of the build stage
	base     string   // the runtime stage's base
}

var dockerfiles = []dockerfileCase{
	{file: "Dockerfile.core", packages: []string{"./core/cmd/core"}, cgo: "1", base: "${RUNTIME_IMAGE}"},
	{file: "Dockerfile.sidecar", packages: []string{"./sidecar/cmd/sidecar", "./sidecar/cmd/sealctl"}, cgo: "0", base: "scratch"},
}

// TestDockerfileLint runs buildkit's Dockerfile checks (the rules of
// `docker build --check`) on every stage, resolving base images to a stub
// instead of a registry.
func TestDockerfileLint(t *testing.T) {
	for _, dc := range dockerfiles {
		t.Run(dc.file, func(t *testing.T) {
			dt := readFile(t, dc.file)
			sm := llb.NewSourceMap(nil, dc.file, "Dockerfile", dt)
			sm.Definition = &llb.Definition{}
			res, err := dockerfile2llb.DockerfileLint(context.Background(), dt, dockerfile2llb.ConvertOpt{
				SourceMap:    sm,
				MetaResolver: stubResolver{},
			})
			if err != nil {
				t.Fatal(err)
			}
			if res.Error != nil {
				t.Fatalf("%s does not build: %s", dc.file, res.Error.Message)
			}
			for _, w := range res.Warnings {
				line := 0
				if w.Location != nil && len(w.Location.Ranges) > 0 {
					line = int(w.Location.Ranges[0].Start.Line)
				}
				t.Errorf("%s:%d: %s: %s", dc.file, line, w.RuleName, w.Detail)
			}
		})
	}
}

// stubResolver answers every base image with a one-layer linux/amd64
// image, so the lint needs no registry.
type stubResolver struct{}

func (stubResolver) ResolveImageConfig(_ context.Context, ref string, _ sourceresolver.Opt) (string, digest.Digest, []byte, error) {
	cfg, err := json.Marshal(map[string]any{
		"architecture": "amd64",
		"os":           "linux",
		"config":       map[string]any{"Env": []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}},
		"rootfs":       map[string]any{"type": "layers", "diff_ids": []string{digest.FromString(ref).String()}},
	})
	return ref, digest.FromBytes(cfg), cfg, err
}

// TestDockerfileImages checks what each image promises: -trimpath, the cgo
// setting, a non-root numeric user, OCI labels, the runtime base, and (core)
// the checksum-verified models and an exec health check.
func TestDockerfileImages(t *testing.T) {
	for _, dc := range dockerfiles {
		t.Run(dc.file, func(t *testing.T) {
			stages, metaArgs := parseDockerfile(t, dc.file)
			final := stages[len(stages)-1]
			if final.BaseName != dc.base {
				t.Errorf("runtime stage FROM %s, want %s", final.BaseName, dc.base)
			}
			if dc.base == "${RUNTIME_IMAGE}" {
				if got := argDefault(metaArgs, "RUNTIME_IMAGE"); got != "docker.io/library/debian:bookworm-slim" {
					t.Errorf("RUNTIME_IMAGE defaults to %q: want Debian slim (glibc)", got)
				}
			}
			var user, entrypoint string
			labels := map[string]string{}
			for _, c := range final.Commands {
				switch c := c.(type) {
				case *instructions.UserCommand:
					user = c.User
				case *instructions.EntrypointCommand:
					entrypoint = strings.Join(c.CmdLine, " ")
					if c.PrependShell {
						t.Error("ENTRYPOINT in shell form")
					}
				case *instructions.LabelCommand:
					for _, kv := range c.Labels {
						labels[kv.Key] = kv.Value
					}
				case *instructions.RunCommand:
					t.Errorf("RUN in the runtime stage: %s", strings.Join(c.CmdLine, " "))
				case *instructions.AddCommand:
					t.Error("ADD in the runtime stage")
				}
			}
			if user != "65532:65532" {
				t.Errorf("USER %q: want the numeric non-root 65532:65532 (runAsNonRoot can check it)", user)
			}
			if !strings.HasPrefix(entrypoint, "/usr/local/bin/") {
				t.Errorf("ENTRYPOINT %q", entrypoint)
			}
			for _, k := range []string{"title", "description", "source", "licenses", "version", "revision"} {
				if labels["org.opencontainers.image."+k] == "" {
					t.Errorf("no OCI label org.opencontainers.image.%s", k)
				}
			}

			builds := 0
			for _, s := range stages {
				for _, c := range s.Commands {
					r, ok := c.(*instructions.RunCommand)
					if !ok || !strings.Contains(strings.Join(r.CmdLine, " "), "go build") {
						continue
					}
					builds++
					line := strings.Join(r.CmdLine, " ")
					if !strings.Contains(line, "-trimpath") || !strings.Contains(line, "-X main.version=") {
						t.Errorf("go build without -trimpath or the version: %s", line)
					}
					if got := stageEnv(s, "CGO_ENABLED"); got != dc.cgo {
						t.Errorf("build stage %s: CGO_ENABLED=%q, want %q", s.Name, got, dc.cgo)
					}
				}
			}
			if builds != 1 {
				t.Errorf("%d go build steps, want 1", builds)
			}
		})
	}

	t.Run("core models and health check", func(t *testing.T) {
		stages, _ := parseDockerfile(t, "Dockerfile.core")
		var fetch bool
		for _, s := range stages {
			for _, c := range s.Commands {
				if r, ok := c.(*instructions.RunCommand); ok {
					line := strings.Join(r.CmdLine, " ")
					fetch = fetch || (strings.Contains(line, "./models/cmd/fetchmodels") && strings.Contains(line, "--verify"))
				}
			}
		}
		if !fetch {
			t.Error("the models are not fetched and verified with ./models/cmd/fetchmodels")
		}
		final := stages[len(stages)-1]
		var copied []string
		var health string
		for _, c := range final.Commands {
			switch c := c.(type) {
			case *instructions.CopyCommand:
				copied = append(copied, c.DestPath)
			case *instructions.HealthCheckCommand:
				health = strings.Join(c.Health.Test, " ")
			}
		}
		for _, want := range []string{"/opt/sealocr/models/", "/opt/sealocr/onnxruntime/libonnxruntime.so.1", "/usr/local/bin/core"} {
			if !slices.Contains(copied, want) {
				t.Errorf("runtime stage does not copy %s (copies %v)", want, copied)
			}
		}
		if !strings.Contains(health, "/usr/local/bin/core healthcheck") {
			t.Errorf("HEALTHCHECK %q", health)
		}
	})
}

// TestDockerContext checks that the build stages copy, and .dockerignore
// keeps, every file the Go packages of each image are built from: a new
// import from another folder fails here rather than in an image build.
func TestDockerContext(t *testing.T) {
	ignore, err := ignorefile.ReadAll(bytes.NewReader(readFile(t, ".dockerignore")))
	if err != nil {
		t.Fatal(err)
	}
	pm, err := patternmatcher.New(ignore)
	if err != nil {
		t.Fatal(err)
	}
	for _, dc := range dockerfiles {
		t.Run(dc.file, func(t *testing.T) {
			stages, _ := parseDockerfile(t, dc.file)
			var sources []string
			for _, s := range stages {
				for _, c := range s.Commands {
					if cp, ok := c.(*instructions.CopyCommand); ok && cp.From == "" {
						sources = append(sources, cp.SourcePaths...)
					}
				}
			}
			for _, f := range append(goFiles(t, dc.packages), "go.mod", "go.sum") {
				covered := slices.ContainsFunc(sources, func(src string) bool {
					src = strings.TrimPrefix(src, "./")
					return f == src || strings.HasPrefix(f, strings.TrimSuffix(src, "/")+"/")
				})
				if !covered {
					t.Errorf("%s is needed but not copied (COPY sources %v)", f, sources)
				}
				if ignored, err := pm.MatchesOrParentMatches(f); err != nil || ignored {
					t.Errorf("%s is needed but excluded by .dockerignore (%v)", f, err)
				}
			}
		})
	}
}

// goFiles lists the repository files (relative paths) that the packages
// and their in-module dependencies are compiled from, embedded files
// included.
func goFiles(t *testing.T, pkgs []string) []string {
	t.Helper()
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{"list", "-deps", "-f", `{{if not .Standard}}{{if .Module}}{{if .Module.Main}}{{.Dir}}{{range .GoFiles}} {{.}}{{end}}{{range .CgoFiles}} {{.}}{{end}}{{range .EmbedFiles}} {{.}}{{end}}{{end}}{{end}}{{end}}`}, pkgs...)
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var files []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		dir, err := filepath.Rel(root, f[0])
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range f[1:] {
			files = append(files, filepath.ToSlash(filepath.Join(dir, name)))
		}
	}
	if len(files) == 0 {
		t.Fatal("go list found no files")
	}
	return files
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func parseDockerfile(t *testing.T, name string) ([]instructions.Stage, []instructions.ArgCommand) {
	t.Helper()
	res, err := parser.Parse(bytes.NewReader(readFile(t, name)))
	if err != nil {
		t.Fatal(err)
	}
	stages, metaArgs, err := instructions.Parse(res.AST, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(stages) == 0 {
		t.Fatalf("%s has no stages", name)
	}
	return stages, metaArgs
}

func argDefault(args []instructions.ArgCommand, name string) string {
	for _, a := range args {
		for _, kv := range a.Args {
			if kv.Key == name && kv.Value != nil {
				return *kv.Value
			}
		}
	}
	return ""
}

// stageEnv is the last value ENV gives name in the stage.
func stageEnv(s instructions.Stage, name string) string {
	v := ""
	for _, c := range s.Commands {
		if e, ok := c.(*instructions.EnvCommand); ok {
			for _, kv := range e.Env {
				if kv.Key == name {
					v = kv.Value
				}
			}
		}
	}
	return v
}
