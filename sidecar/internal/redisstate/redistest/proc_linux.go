//go:build linux

package redistest

import "syscall"

// sysProcAttr has the kernel kill redis-server when the test process dies.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} }
