package testkit

import (
	"io"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// ProcessOptions configure StartProcess.
type ProcessOptions struct {
	// Dir is the working folder ("" for the test's).
	Dir string
	// Env is the whole environment; nil inherits the test's.
	Env []string
	// Stdout and Stderr receive the output (nil discards it).
	Stdout, Stderr io.Writer
	// Group runs the program in a process group of its own, stopped as a
	// whole (a program that starts children).
	Group bool
}

// Process is a program a test started. It dies with the test binary
// (Pdeathsig on Linux), even when the test panics.
type Process struct {
	Name    string
	Cmd     *exec.Cmd
	group   bool
	done    chan struct{}
	err     error
	stopped atomic.Bool
	once    sync.Once
}

// StartProcess starts bin with args.
func StartProcess(name, bin string, args []string, o ProcessOptions) (*Process, error) {
	cmd := exec.Command(bin, args...)
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = o.Dir, o.Env, o.Stdout, o.Stderr
	cmd.SysProcAttr = procAttr(o.Group)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &Process{Name: name, Cmd: cmd, group: o.Group, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Err is the process's exit status once it has exited.
func (p *Process) Err() error {
	<-p.done
	return p.err
}

// Crashed reports whether the process exited without Stop.
func (p *Process) Crashed() bool { return p.Exited() && !p.stopped.Load() }

// Signal sends sig to the process (its group with Group).
func (p *Process) Signal(sig syscall.Signal) error {
	if p.group {
		return syscall.Kill(-p.Cmd.Process.Pid, sig)
	}
	return p.Cmd.Process.Signal(sig)
}

// Stop sends SIGTERM (and SIGCONT, in case it is stopped), then SIGKILL
// after grace, and waits for the exit. It is safe to call more than once.
func (p *Process) Stop(grace time.Duration) {
	p.stopped.Store(true)
	p.once.Do(func() {
		if p.Exited() {
			return
		}
		_ = p.Signal(syscall.SIGCONT)
		_ = p.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(grace):
			_ = p.Signal(syscall.SIGKILL)
			<-p.done
		}
	})
}

// Env is os.Environ's PATH with the given variables: the environment of a
// program that must see nothing else of the test's.
func Env(vars ...string) []string {
	return append([]string{"PATH=" + os.Getenv("PATH")}, vars...)
}
