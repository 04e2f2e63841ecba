// Package sambatest runs a private Samba Active Directory domain controller
// for integration tests of dirsync's Active Directory support.
//
// The tests are opt-in: they run only when the environment has
// DIRSYNC_AD_TESTS=1 (scripts/test.sh and scripts/test-ad.sh set it);
// otherwise Start skips the test, or fails it under CI=true. With
// DIRSYNC_AD_TESTS=1, a missing samba or a non-root user fails the
// test, pointing at scripts/install-ad-test-deps.sh.
//
// The first Start in a process provisions a throwaway domain, DIRSYNC.TEST
// (samba-tool domain provision, RFC 2307 schema, no DNS), into a template
// directory under os.TempDir() that later runs reuse; each Start copies the
// template into t.TempDir() and runs samba in the foreground with only its
// LDAP service, bound to 127.0.0.1. Samba has no setting for the LDAP port:
// the server listens on 127.0.0.1:389 (LDAPS on 636), so binding needs root
// and only one server can run at a time on a machine; Start fails when the
// port is taken. Start returns once a simple bind as Administrator works; the
// test's cleanup stops samba and removes its copy.
//
// Simple binds over plain LDAP are allowed on this server ("ldap server
// require strong auth = no"); a production DC requires TLS or signing.
//
// Measured on 2 cores (loaded): provisioning the template and its first start
// (which generates the TLS keys) take 8-20 s, once; each Start after it takes
// 1-3 s.
package sambatest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// The fixed names of every test domain.
const (
	Realm         = "DIRSYNC.TEST"
	Domain        = "DIRSYNC"
	baseDN        = "DC=dirsync,DC=test"
	adminDN       = "CN=Administrator,CN=Users," + baseDN
	adminPassword = "Dirsync-Adm1n!"
	url           = "ldap://127.0.0.1:389"
	ldapsURL      = "ldaps://127.0.0.1:636"
)

// EnvVar opts in to the Active Directory tests.
const EnvVar = "DIRSYNC_AD_TESTS"

// startTimeout bounds how long Start waits for samba to answer a bind.
const startTimeout = 60 * time.Second

const install = "run scripts/install-ad-test-deps.sh as root (installs samba and ldb-tools)"

// Server is a running Samba AD DC.
type Server struct {
	dir string

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
	stopped bool
	log     *syncBuffer
	unlock  func()

	// StartupTime is how long Start took, provisioning included when this
	// Start provisioned the template.
	StartupTime time.Duration
}

// Start starts a private Samba AD DC for t and stops it when t ends. It
// skips t unless DIRSYNC_AD_TESTS=1.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if os.Getenv(EnvVar) != "1" {
		if os.Getenv("CI") == "true" {
			// In CI the AD tests must run: scripts/test.sh sets the opt-in.
			t.Fatalf("sambatest: the Active Directory tests must run in CI: set %s=1 (scripts/test.sh does), as root", EnvVar)
		}
		t.Skipf("sambatest: Active Directory tests are opt-in: set %s=1 or run scripts/test-ad.sh", EnvVar)
	}
	begin := time.Now()
	// Port 389 is shared by every test binary on the machine (go test
	// runs packages in parallel): wait for the others' servers to stop.
	unlock, err := lockPort()
	if err != nil {
		t.Fatalf("sambatest: %v", err)
	}
	t.Cleanup(unlock) // after Stop, also when Start fails
	tmpl, err := template()
	if err != nil {
		t.Fatalf("sambatest: %v", err)
	}
	dir := t.TempDir()
	if out, err := exec.Command("cp", "-a", tmpl+"/.", dir).CombinedOutput(); err != nil {
		t.Fatalf("sambatest: copy the provisioned domain: %v: %s", err, out)
	}
	conf := filepath.Join(dir, "etc", "smb.conf")
	b, err := os.ReadFile(conf)
	if err != nil {
		t.Fatalf("sambatest: %v", err)
	}
	if err := os.WriteFile(conf, bytes.ReplaceAll(b, []byte(tmpl), []byte(dir)), 0o600); err != nil {
		t.Fatalf("sambatest: %v", err)
	}
	if len(o.ldif) > 0 {
		if err := loadLDIF(dir, conf, strings.Join(o.ldif, "\n")); err != nil {
			t.Fatalf("sambatest: %v", err)
		}
	}
	s := &Server{dir: dir, log: &syncBuffer{}, unlock: unlock}
	if err := s.start(conf); err != nil {
		t.Fatalf("sambatest: %v\nsamba output:\n%s", err, s.log.String())
	}
	t.Cleanup(s.Stop)
	s.StartupTime = time.Since(begin)
	t.Logf("sambatest: Samba AD DC ready in %s", s.StartupTime.Round(10*time.Millisecond))
	return s
}

// Option configures Start.
type Option func(*options)

type options struct{ ldif []string }

// WithLDIF adds entries with ldbadd into the domain's database before samba
// starts, through Samba's own modules (objectGUID, objectSid... are
// assigned): for 3,000 users about three times faster than LDAP adds. See
// UsersLDIF.
func WithLDIF(ldif string) Option {
	return func(o *options) { o.ldif = append(o.ldif, ldif) }
}

// loadLDIF adds ldif to the stopped domain in dir.
func loadLDIF(dir, conf, ldif string) error {
	ldbadd := findBinary("ldbadd")
	if ldbadd == "" {
		return fmt.Errorf("ldbadd not found: %s", install)
	}
	file := filepath.Join(dir, "load.ldif")
	if err := os.WriteFile(file, []byte(ldif), 0o600); err != nil {
		return err
	}
	out, err := exec.Command(ldbadd, "-H", filepath.Join(dir, "private", "sam.ldb"), "--configfile="+conf, file).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ldbadd: %w: %s", err, out)
	}
	return nil
}

// tools are the installed samba binaries.
type tools struct{ samba, sambaTool string }

var (
	tmplOnce sync.Once
	tmplDir  string
	tmplErr  error
)

func findBinary(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, d := range []string{"/usr/sbin", "/usr/local/sbin", "/usr/local/samba/sbin", "/usr/local/samba/bin"} {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	return ""
}

func lookupTools() (tools, error) {
	t := tools{samba: findBinary("samba"), sambaTool: findBinary("samba-tool")}
	if t.samba == "" || t.sambaTool == "" {
		return t, fmt.Errorf("samba or samba-tool not found in PATH or /usr/sbin: %s", install)
	}
	if os.Geteuid() != 0 {
		return t, errors.New("the Samba AD DC listens on port 389, which needs root: run the tests as root")
	}
	return t, nil
}

// template returns the directory of a provisioned domain, provisioning it
// on first use. It is kept under os.TempDir() per samba version, so that
// later test runs skip the provisioning.
func template() (string, error) {
	tmplOnce.Do(func() { tmplDir, tmplErr = provisionTemplate() })
	return tmplDir, tmplErr
}

func provisionTemplate() (string, error) {
	tl, err := lookupTools()
	if err != nil {
		return "", err
	}
	ver, err := exec.Command(tl.samba, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("samba --version: %w", err)
	}
	name := "dirsync-sambatest-" + strings.NewReplacer(" ", "_", "/", "_").Replace(strings.TrimSpace(string(ver)))
	final := filepath.Join(os.TempDir(), name)
	if _, err := os.Stat(filepath.Join(final, "etc", "smb.conf")); err == nil {
		return final, nil
	}
	work, err := os.MkdirTemp("", name+"-provisioning-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(work)
	cmd := exec.Command(tl.sambaTool, "domain", "provision",
		"--realm="+Realm, "--domain="+Domain, "--server-role=dc", "--dns-backend=NONE",
		"--use-rfc2307", "--adminpass="+adminPassword, "--targetdir="+work,
		"--option=interfaces=127.0.0.1", "--option=bind interfaces only=yes")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("samba-tool domain provision: %w\n%s", err, out)
	}
	conf := filepath.Join(work, "etc", "smb.conf")
	b, err := os.ReadFile(conf)
	if err != nil {
		return "", err
	}
	// Only the LDAP service; plain simple binds on loopback; logs and pid
	// files inside the directory.
	extra := strings.Join([]string{
		"\tserver services = ldap",
		"\tldap server require strong auth = no",
		"\tlog file = " + filepath.Join(work, "log.%m"),
		"\tpid directory = " + filepath.Join(work, "run"),
		"\tlog level = 1",
		"",
	}, "\n")
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		l := strings.TrimSpace(line)
		if strings.HasPrefix(l, "server services") || strings.HasPrefix(l, "log file") {
			continue
		}
		out = append(out, line)
		if l == "[global]" {
			out = append(out, strings.TrimSuffix(extra, "\n"))
		}
	}
	if err := os.WriteFile(conf, []byte(strings.Join(out, "\n")), 0o600); err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Join(work, "run"), 0o700); err != nil {
		return "", err
	}
	// Start it once, so that samba generates its TLS keys into the
	// template rather than at every Start.
	warm := &Server{dir: work, log: &syncBuffer{}}
	if err := warm.start(conf); err != nil {
		return "", fmt.Errorf("first start of the provisioned domain: %w\n%s", err, warm.log.String())
	}
	warm.Stop()
	// Rewrite paths to the final directory, then move it there.
	b, err = os.ReadFile(conf)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(conf, bytes.ReplaceAll(b, []byte(work), []byte(final)), 0o600); err != nil {
		return "", err
	}
	if err := os.Rename(work, final); err != nil {
		if _, statErr := os.Stat(filepath.Join(final, "etc", "smb.conf")); statErr == nil {
			return final, nil // provisioned concurrently by another process
		}
		return "", fmt.Errorf("keep the provisioned domain: %w", err)
	}
	return final, nil
}

// start runs samba in the foreground and waits for it to answer a bind.
func (s *Server) start(conf string) error {
	tl, err := lookupTools()
	if err != nil {
		return err
	}
	if c, err := net.DialTimeout("tcp", "127.0.0.1:389", time.Second); err == nil {
		c.Close()
		return errors.New("127.0.0.1:389 is already in use (another samba or LDAP server?): only one test DC can run at a time; stop it first")
	}
	_ = os.MkdirAll(filepath.Join(s.dir, "run"), 0o700)
	cmd := exec.Command(tl.samba, "--interactive", "--debug-stdout", "-s", conf)
	cmd.Stdout = s.log
	cmd.Stderr = s.log
	// Its own process group, stopped as a whole; killed if the test binary
	// dies first, so that no stale DC holds port 389.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
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
		err := ping()
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("samba exited: %s", cmd.ProcessState)
		case <-deadline.C:
			s.Stop()
			return fmt.Errorf("samba did not accept a bind within %s: %w", startTimeout, err)
		case <-tick.C:
		}
	}
}

func ping() error {
	c, err := ldap.DialURL(url, ldap.DialWithDialer(&net.Dialer{Timeout: time.Second}))
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetTimeout(2 * time.Second)
	return c.Bind(adminDN, adminPassword)
}

// Stop stops samba. It is safe to call more than once; the test's cleanup
// calls it too.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil || s.stopped {
		return
	}
	s.stopped = true
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.exited
	}
	// Wait for the port to be released, so that the next Start can bind it.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		c, err := net.DialTimeout("tcp", "127.0.0.1:389", 200*time.Millisecond)
		if err != nil {
			break
		}
		c.Close()
		time.Sleep(20 * time.Millisecond)
	}
	if s.unlock != nil {
		s.unlock()
		s.unlock = nil
	}
}

// lockPort takes a machine-wide lock on running a test DC, waiting for it.
func lockPort() (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "dirsync-sambatest.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock port 389: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock port 389: %w", err)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
			f.Close()
		})
	}, nil
}

// URL is the plain ldap:// URL of the server (simple binds allowed).
func (s *Server) URL() string { return url }

// LDAPSURL is the ldaps:// URL; its certificate is self-signed (CAFile).
func (s *Server) LDAPSURL() string { return ldapsURL }

// CAFile is the PEM file of the CA that signed the LDAPS certificate.
func (s *Server) CAFile() string { return filepath.Join(s.dir, "private", "tls", "ca.pem") }

// BaseDN is the domain's naming context, DC=dirsync,DC=test.
func (s *Server) BaseDN() string { return baseDN }

// AdminDN is the domain Administrator's DN.
func (s *Server) AdminDN() string { return adminDN }

// AdminPassword is the domain Administrator's password.
func (s *Server) AdminPassword() string { return adminPassword }

// Log is samba's output so far.
func (s *Server) Log() string { return s.log.String() }

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
