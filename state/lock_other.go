//go:build !unix

package state

// fileLock does nothing on systems without flock: dirsync runs on Unix (a
// systemd service or a container); elsewhere, one sync at a time is up to the
// operator.
type fileLock struct{}

func lock(string) (*fileLock, error) { return &fileLock{}, nil }

func (*fileLock) unlock() error { return nil }
