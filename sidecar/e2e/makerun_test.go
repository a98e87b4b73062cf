package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sealocr/sealocr/core/testkit"
)

// makeRun starts `make run` from the repository root in its own process
// group with a state folder of the test's, and returns it with its output.
// The group is killed when the test ends.
func makeRun(t *testing.T, state string, ports runPorts) (*exec.Cmd, *testkit.SyncBuffer) {
	t.Helper()
	cmd := exec.Command("make", "--no-print-directory", "run")
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "SEALOCR_STATE_DIR="+state,
		"SEALOCR_CORE_LISTEN="+ports.core, "SEALOCR_CORE_METRICS_LISTEN="+ports.coreMetrics,
		"SEALOCR_LISTEN="+ports.sidecar, "SEALOCR_METRICS_LISTEN="+ports.sidecarMetrics)
	out := &testkit.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
	})
	return cmd, out
}

// waitExit waits for cmd to exit and returns its exit code, failing the
// test after within.
func waitExit(t *testing.T, cmd *exec.Cmd, out *testkit.SyncBuffer, within time.Duration) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
		return cmd.ProcessState.ExitCode()
	case <-time.After(within):
		t.Fatalf("make run still running after %s:\n%s", within, out.String())
		return 0
	}
}

// runPorts are the four addresses of one `make run`: the defaults
// (127.0.0.1:8081, 9091, 8443, 9443) through the variables the Makefile and
// both binaries read, moved to free ports so that tests running beside this
// one (a core on the default metrics port) cannot collide with it.
type runPorts struct{ core, coreMetrics, sidecar, sidecarMetrics string }

func freeRunPorts(t *testing.T) runPorts {
	t.Helper()
	addr := func() string {
		p, err := testkit.Port()
		if err != nil {
			t.Fatal(err)
		}
		return "127.0.0.1:" + strconv.Itoa(p)
	}
	return runPorts{addr(), addr(), addr(), addr()}
}

// TestMakeRun plays a user's mistakes against the real `make run` (issue 24,
// row 1): a port of the sidecar or of the core already taken by another
// program, and a second `make run` beside a running one. Each ends non-zero
// and says which port or what runs there, leaving nothing running; before,
// the second printed both binds' errors, then "sealocr is running", and
// exited 0. The running one prints the WebUI's address and the local
// profile, and serves a batch of files without a retry (row 9).
func TestMakeRun(t *testing.T) {
	t.Run("sidecar port taken", func(t *testing.T) {
		ports := freeRunPorts(t)
		// A listener that never accepts: the kernel completes the TCP
		// handshake, and nothing ever speaks TLS, like a program that
		// accepts and never answers. make run's probe of its sidecar
		// must not wait out the TLS handshake's timeout (10 s) on it.
		l, err := net.Listen("tcp", ports.sidecar)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		cmd, out := makeRun(t, t.TempDir(), ports)
		failed := waitOutput(t, out, "address already in use", 5*time.Minute)
		code := waitExit(t, cmd, out, 2*time.Minute)
		took := time.Since(failed)
		if code == 0 || !strings.Contains(out.String(), ports.sidecar) ||
			!strings.Contains(out.String(), "make run: the sidecar exited") || strings.Contains(out.String(), "sealocr is running") {
			t.Errorf("exit %d, output:\n%s", code, out.String())
		}
		if took > 7*time.Second {
			t.Errorf("make run took %s after the sidecar's bind failed to say so (want < 7 s)", took.Round(time.Millisecond))
		}
		t.Logf("make run ended %s after the sidecar's bind failed", took.Round(time.Millisecond))
		if !portFree(ports.core) {
			t.Error("the core of the failed make run is still listening")
		}
	})

	t.Run("core port taken", func(t *testing.T) {
		ports := freeRunPorts(t)
		l, err := net.Listen("tcp", ports.core)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		cmd, out := makeRun(t, t.TempDir(), ports)
		code := waitExit(t, cmd, out, 5*time.Minute)
		if code == 0 || !strings.Contains(out.String(), "make run: the core exited") ||
			!strings.Contains(out.String(), "is "+ports.core+" or its metrics port") || strings.Contains(out.String(), "sealocr is running") {
			t.Errorf("exit %d, output:\n%s", code, out.String())
		}
		for _, p := range []string{ports.sidecar, ports.sidecarMetrics, ports.coreMetrics} {
			if !portFree(p) {
				t.Errorf("%s is still taken after the failed make run: a sidecar or core left running", p)
			}
		}
	})

	t.Run("second make run", func(t *testing.T) {
		state := t.TempDir()
		ports := freeRunPorts(t)
		first, out1 := makeRun(t, state, ports)
		deadline := time.Now().Add(5 * time.Minute)
		for !strings.Contains(out1.String(), "Press Ctrl-C to stop.") {
			if first.ProcessState != nil || time.Now().After(deadline) || strings.Contains(out1.String(), "make run:") {
				t.Fatalf("the first make run did not start:\n%s", out1.String())
			}
			time.Sleep(200 * time.Millisecond)
		}
		for _, want := range []string{"open the WebUI: https://" + ports.sidecar + "/", "Local profile: rate limit 6000/m"} {
			if !strings.Contains(out1.String(), want) {
				t.Errorf("make run does not print %q:\n%s", want, out1.String())
			}
		}
		if strings.Contains(out1.String(), "is not a setting") {
			t.Errorf("make run's variables of one binary are warned about by the other:\n%s", out1.String())
		}
		batch(t, state, ports.sidecar)
		second, out2 := makeRun(t, state, ports)
		code := waitExit(t, second, out2, 2*time.Minute)
		if code == 0 || !strings.Contains(out2.String(), "another 'make run' is running") || strings.Contains(out2.String(), "sealocr is running") {
			t.Errorf("second make run: exit %d, output:\n%s", code, out2.String())
		}
	})
}

// batchFiles is the size of the batch that make run's local profile must
// serve without a retry: more than the production default's burst (60).
const batchFiles = 80

// batch OCRs batchFiles tiny PNGs through the sidecar of a running make run
// with sealctl, as a user would (issue 24, row 9: with the production rate
// limit, 80 files took 31 retries): every file is answered, and sealctl
// reports no retry (its summary on standard error: "N retries after busy,
// rate-limited or unanswered requests").
func batch(t *testing.T, state, sidecar string) {
	t.Helper()
	dir := t.TempDir()
	img := image.NewGray(image.Rect(0, 0, 48, 16))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	for x := 8; x < 40; x++ {
		img.Pix[8*img.Stride+x] = 0
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	for i := range batchFiles {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%02d.png", i)), b.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(repoRoot, "bin", "sealctl"), "ocr", "--json",
		"--server", "https://"+sidecar, "--ca", filepath.Join(state, "ca.pem"), "--keys", filepath.Join(state, "keys.yaml"), dir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	answered := 0
	for _, l := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		var r struct {
			File     string          `json:"file"`
			Response json.RawMessage `json:"response"`
			Error    string          `json:"error"`
		}
		if json.Unmarshal([]byte(l), &r) == nil && r.File != "" && len(r.Response) > 0 && r.Error == "" {
			answered++
		}
	}
	if err != nil || answered != batchFiles || strings.Contains(stderr.String(), "retries") {
		t.Errorf("sealctl ocr of %d files: %v after %s; %d answered; stderr:\n%s", batchFiles, err, took.Round(time.Millisecond), answered, stderr.String())
		return
	}
	t.Logf("%d files through make run's sidecar in %s, no retry", answered, took.Round(time.Millisecond))
}

// waitOutput waits until out holds want and returns when it first saw it,
// failing the test if make run gives up first or after within.
func waitOutput(t *testing.T, out *testkit.SyncBuffer, want string, within time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(within)
	for !strings.Contains(out.String(), want) {
		if strings.Contains(out.String(), "make run: ") || time.Now().After(deadline) {
			t.Fatalf("make run did not print %q:\n%s", want, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Now()
}

// portFree reports whether addr can be listened on.
func portFree(addr string) bool {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	l.Close()
	return true
}
