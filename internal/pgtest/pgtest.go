// Package pgtest runs a private PostgreSQL server for integration tests.
//
// Start runs initdb into a fresh temporary directory and starts postgres in
// the foreground on 127.0.0.1 and a free port, its unix socket in that
// directory too (never the system's), and returns once it accepts a
// connection; the test's cleanup stops it and removes its data. The server
// trusts every local connection: it is reachable only from this machine, for
// the life of one test.
//
// PostgreSQL refuses to run as root: when the tests run as root, the server
// runs as the "postgres" user (the Debian package creates it), or "nobody".
//
// When PostgreSQL is not installed the test is skipped, unless the
// environment has CI=true: then it fails, pointing at
// scripts/install-test-deps.sh.
package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// startTimeout bounds how long Start waits for postgres to accept connections.
const startTimeout = 30 * time.Second

// install is the hint given when PostgreSQL is missing.
const install = "run scripts/install-test-deps.sh (installs postgresql)"

// Superuser is the role initdb creates; every test connects as it.
const Superuser = "dirsync"

// Server is a running private PostgreSQL.
type Server struct {
	dir  string
	port int
	cred *syscall.Credential // nil unless the tests run as root

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
	stopped bool
	log     *syncBuffer
	nextDB  int
}

// Start starts a private PostgreSQL for t and stops it when t ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := findBinDir()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("pgtest: %v; the PostgreSQL integration tests must run in CI: %s", err, install)
		}
		t.Skipf("pgtest: %v; %s", err, install)
	}
	s := &Server{log: &syncBuffer{}}
	if s.cred, err = runAs(); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	// Not t.TempDir(): its parent is private to root, and the server may run
	// as another user.
	if s.dir, err = os.MkdirTemp("", "pgtest-"); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(s.dir) })
	if err := os.Chmod(s.dir, 0o755); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	data := filepath.Join(s.dir, "data")
	for _, d := range []string{data, s.socketDir()} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatalf("pgtest: %v", err)
		}
		if s.cred != nil {
			if err := os.Chown(d, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
				t.Fatalf("pgtest: %v", err)
			}
		}
	}
	initdb := s.command(filepath.Join(bin, "initdb"), "-D", data, "-U", Superuser, "-A", "trust",
		"-E", "UTF8", "--no-locale", "--no-sync", "--no-instructions")
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("pgtest: initdb: %v\n%s", err, out)
	}

	t.Cleanup(s.Stop)
	var lastErr error
	for range 5 {
		if s.port, lastErr = freePort(); lastErr != nil {
			break
		}
		if lastErr = s.run(filepath.Join(bin, "postgres"), data); lastErr == nil {
			return s
		}
		if !bytes.Contains([]byte(s.log.String()), []byte("in use")) {
			break
		}
	}
	t.Fatalf("pgtest: start postgres: %v\npostgres output:\n%s", lastErr, s.log.String())
	return nil
}

// command is an exec.Cmd of the server's binaries, run as the server's user.
func (s *Server) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = s.dir
	cmd.SysProcAttr = sysProcAttr(s.cred)
	return cmd
}

// run starts postgres and waits until it accepts a connection.
func (s *Server) run(bin, data string) error {
	s.log.Reset()
	// fsync off: the data of one test need not survive a power loss.
	cmd := s.command(bin, "-D", data, "-h", "127.0.0.1", "-p", strconv.Itoa(s.port), "-k", s.socketDir(),
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=200", "-c", "log_min_messages=warning")
	cmd.Stdout = s.log
	cmd.Stderr = s.log
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	s.mu.Lock()
	s.cmd, s.exited, s.stopped = cmd, exited, false
	s.mu.Unlock()

	deadline := time.NewTimer(startTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		err := s.ping()
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("postgres exited: %s", cmd.ProcessState)
		case <-deadline.C:
			s.Stop()
			return fmt.Errorf("postgres did not accept a connection within %s: %w", startTimeout, err)
		case <-tick.C:
		}
	}
}

func (s *Server) ping() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, s.url("postgres"))
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	return c.Ping(ctx)
}

// Stop stops the server (fast shutdown: sessions are ended). It is safe to
// call more than once; the test's cleanup calls it too.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil || s.stopped {
		return
	}
	s.stopped = true
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

// socketDir holds the server's unix socket (it serves TCP clients only, but
// always creates one).
func (s *Server) socketDir() string { return filepath.Join(s.dir, "socket") }

// Addr is the server's host:port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

func (s *Server) url(db string) string {
	return fmt.Sprintf("postgres://%s@%s/%s?sslmode=disable", Superuser, s.Addr(), db)
}

// URL is the URL of the database "postgres", as the superuser.
func (s *Server) URL() string { return s.url("postgres") }

// NewDatabase creates an empty database and returns its URL. Tests that share
// a server take one each.
func (s *Server) NewDatabase(t testing.TB) string {
	t.Helper()
	s.mu.Lock()
	s.nextDB++
	name := fmt.Sprintf("test_%d", s.nextDB)
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, s.URL())
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	return s.url(name)
}

// findBinDir returns the directory holding initdb and postgres: the one of
// PATH's initdb, or the newest /usr/lib/postgresql/*/bin (Debian keeps them
// out of PATH).
func findBinDir() (string, error) {
	has := func(dir string) bool {
		for _, name := range []string{"initdb", "postgres"} {
			fi, err := os.Stat(filepath.Join(dir, name))
			if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
				return false
			}
		}
		return true
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil && has(filepath.Dir(real)) {
			return filepath.Dir(real), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
		return vb - va
	})
	for _, d := range dirs {
		if has(d) {
			return d, nil
		}
	}
	return "", errors.New("PostgreSQL is not installed (looked for initdb and postgres in PATH and /usr/lib/postgresql/*/bin)")
}

// runAs returns the credential the server runs with: nil when the tests do
// not run as root, else the postgres (or nobody) user's.
func runAs() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil {
			continue
		}
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
	}
	return nil, errors.New("running as root, and there is no postgres or nobody user to run PostgreSQL as")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// syncBuffer collects postgres's output for failure messages.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *syncBuffer) Reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Reset()
}
