//go:build !linux

package redistest

import "syscall"

// sysProcAttr: outside Linux, t.Cleanup alone stops redis-server.
func sysProcAttr() *syscall.SysProcAttr { return nil }
