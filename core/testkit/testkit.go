// Package testkit is the one home of what the test suites of both binaries
// and of the chart need around real outside parts: free loopback ports, a
// buffer safe for concurrent writers, the outside tools a test needs
// (missing ones fail the test, everywhere: the suite never skips silently),
// building a binary of the module, and reading a JSON vector file.
//
// It uses the standard library only and is imported from tests alone.
package testkit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// handedOut holds the ports Port and FreeUDPAndTCPPort have returned in
// this process: a port is free only until someone listens on it, so one
// handed out but not yet taken (pebble's validation ports, a process still
// starting) could otherwise come back from the next call.
var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// claim records port as handed out; false if it already was.
func claim(port int) bool {
	handedOut.Lock()
	defer handedOut.Unlock()
	if handedOut.ports[port] {
		return false
	}
	handedOut.ports[port] = true
	return true
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago and
// that no earlier call in this process returned.
func FreePort(tb testing.TB) int {
	tb.Helper()
	port, err := Port()
	if err != nil {
		tb.Fatal(err)
	}
	return port
}

// FreeAddr is "127.0.0.1:" and FreePort.
func FreeAddr(tb testing.TB) string {
	tb.Helper()
	return "127.0.0.1:" + strconv.Itoa(FreePort(tb))
}

// Port is FreePort for callers without a testing.TB.
func Port() (int, error) {
	for range 100 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := ln.Addr().(*net.TCPAddr).Port
		_ = ln.Close()
		if claim(port) {
			return port, nil
		}
	}
	return 0, errors.New("testkit: no free port that was not handed out before")
}

// FreeUDPAndTCPPort returns a port free for both UDP and TCP on 127.0.0.1,
// not returned before in this process.
func FreeUDPAndTCPPort(tb testing.TB) int {
	tb.Helper()
	for range 50 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		_ = pc.Close()
		if err == nil {
			_ = ln.Close()
			if claim(port) {
				return port
			}
		}
	}
	tb.Fatal("no port free for both UDP and TCP")
	return 0
}

// SyncBuffer is a bytes.Buffer safe for concurrent writers, for collecting
// the output of processes and loggers in tests.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write implements io.Writer.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Bytes returns a copy of everything written so far.
func (s *SyncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b.Bytes())
}

// NeedTool returns the path of the outside program name, or fails the test
// with what installs it (install: the Debian package or command). The
// policy is the same on every machine: a test that needs a real part
// fails without it rather than skip, so a green run means it ran.
func NeedTool(tb testing.TB, name, install string) string {
	tb.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		tb.Fatalf("%s is needed by this test and is not installed (%s; .ci/testdeps.sh and make testdeps install it): %v", name, install, err)
	}
	return p
}

// NeedFile fails the test unless path exists, saying what provides it.
func NeedFile(tb testing.TB, path, install string) {
	tb.Helper()
	if _, err := os.Stat(path); err != nil {
		tb.Fatalf("%s is needed by this test and is missing (%s; make testdeps installs it): %v", path, install, err)
	}
}

// Vector reads the JSON file path into a T, failing the test when it
// cannot.
func Vector[T any](tb testing.TB, path string) T {
	tb.Helper()
	var v T
	raw, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	return v
}

// RepoRoot returns the module's root folder, found upward from the
// working folder.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.Contains(b, []byte("module github.com/sealocr/sealocr\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("testkit: not inside the sealocr module")
		}
		dir = parent
	}
}

// GoBuild builds the module's package pkg (such as "./sidecar/cmd/sidecar")
// into out with the go command of the test's toolchain (go test puts it
// first on PATH); env adds variables such as "CGO_ENABLED=0".
func GoBuild(out, pkg string, env ...string) error {
	root, err := RepoRoot()
	if err != nil {
		return err
	}
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
	}
	return nil
}

// LoadAverage is the machine's load average over 1, 5 and 15 minutes as
// /proc/loadavg gives it ("unknown" elsewhere): benchmarks print it beside
// their figures, since a figure from a loaded machine is noise.
func LoadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
