package e2e

import (
	"net"
	"os"
	"os/exec"
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

// TestMakeRun plays a user's two mistakes against the real `make run`
// (issue 24, row 1): a port of the sidecar already taken by another program,
// and a second `make run` beside a running one. Both end non-zero and say
// which port or what runs there; before, the second printed both binds'
// errors, then "sealocr is running", and exited 0. The running one prints
// the WebUI's address and the local profile.
func TestMakeRun(t *testing.T) {
	t.Run("sidecar port taken", func(t *testing.T) {
		ports := freeRunPorts(t)
		l, err := net.Listen("tcp", ports.sidecar)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		cmd, out := makeRun(t, t.TempDir(), ports)
		code := waitExit(t, cmd, out, 5*time.Minute)
		if code == 0 || !strings.Contains(out.String(), ports.sidecar) ||
			!strings.Contains(out.String(), "make run: the sidecar exited") || strings.Contains(out.String(), "sealocr is running") {
			t.Errorf("exit %d, output:\n%s", code, out.String())
		}
		if !portFree(ports.core) {
			t.Error("the core of the failed make run is still listening")
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
		second, out2 := makeRun(t, state, ports)
		code := waitExit(t, second, out2, 2*time.Minute)
		if code == 0 || !strings.Contains(out2.String(), "another 'make run' is running") || strings.Contains(out2.String(), "sealocr is running") {
			t.Errorf("second make run: exit %d, output:\n%s", code, out2.String())
		}
	})
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
