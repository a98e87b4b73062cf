package testkit

import "syscall"

// procAttr makes a child die with the test binary (Pdeathsig), in a group
// of its own when group is set.
func procAttr(group bool) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: group}
}
