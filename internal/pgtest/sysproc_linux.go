package pgtest

import "syscall"

// sysProcAttr runs the server's binaries as cred (when not nil), and kills
// them if the test binary dies, so that no server outlives its test.
func sysProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
}
