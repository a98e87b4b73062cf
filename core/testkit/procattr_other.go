//go:build !linux

package testkit

import "syscall"

// procAttr puts a child in a group of its own when group is set; only
// Linux can also make it die with the test binary.
func procAttr(group bool) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: group}
}
