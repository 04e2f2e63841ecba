//go:build !linux

package pgtest

import "syscall"

// sysProcAttr runs the server's binaries as cred (when not nil).
func sysProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred}
}
