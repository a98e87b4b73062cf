package e2e

import (
	"os/exec"
	"syscall"
)

// setProcAttr makes the kernel kill the child if the test binary dies
// without cleaning up (for example on a test timeout), so no process leaks.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
