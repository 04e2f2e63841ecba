package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	gosync "sync"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/dirsync/dirsync/internal/slapdtest"
)

// tb lets the benchmark use internal/slapdtest outside a test: it provides the
// few testing.TB methods slapdtest calls (any other would panic).
type tb struct {
	testing.TB
	dir      string
	mu       gosync.Mutex
	cleanups []func()
}

// fatalError is a slapdtest failure, raised as a panic and recovered by main.
type fatalError string

func (e fatalError) Error() string { return string(e) }

func (t *tb) Helper() {}
func (t *tb) TempDir() string {
	d, err := os.MkdirTemp(t.dir, "slapd-")
	if err != nil {
		panic(fatalError(err.Error()))
	}
	return d
}
func (t *tb) Cleanup(f func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cleanups = append(t.cleanups, f)
}
func (t *tb) Fatalf(format string, args ...any) { panic(fatalError(fmt.Sprintf(format, args...))) }
func (t *tb) Fatal(args ...any)                 { panic(fatalError(fmt.Sprint(args...))) }
func (t *tb) Skipf(format string, args ...any)  { panic(fatalError(fmt.Sprintf(format, args...))) }
func (t *tb) Logf(string, ...any)               {}

// close runs the cleanups, last first.
func (t *tb) close() {
	t.mu.Lock()
	cs := t.cleanups
	t.cleanups = nil
	t.mu.Unlock()
	for i := len(cs) - 1; i >= 0; i-- {
		cs[i]()
	}
}

// live holds the tbs not yet closed, so that an interrupt stops their slapd.
var live struct {
	gosync.Mutex
	tbs []*tb
}

func newTB(dir string) *tb {
	t := &tb{dir: dir}
	live.Lock()
	live.tbs = append(live.tbs, t)
	live.Unlock()
	return t
}

// closeAll runs every cleanup not yet run (on an interrupt).
func closeAll() {
	live.Lock()
	tbs := slices.Clone(live.tbs)
	live.Unlock()
	for i := len(tbs) - 1; i >= 0; i-- {
		tbs[i].close()
	}
}

const (
	peopleOU = "ou=people,dc=example,dc=com"
	groupsOU = "ou=groups,dc=example,dc=com"
)

// writeDirectoryLDIF writes n users under ou=people, each in groupsPerUser
// of m groups (groupOfNames under ou=groups, with memberOf written on the
// users since slapadd does not run the memberof overlay), with a department
// and a title. Nothing is held in memory, so a million users load as fast as
// a thousand: user i is in groups (i + 7k) mod m for k < groupsPerUser, so a
// group's members are the users whose index falls in one of a few residue
// classes mod m.
func writeDirectoryLDIF(w io.Writer, n, m int) error {
	const groupsPerUser = 3
	bw := bufio.NewWriterSize(w, 1<<20)
	fmt.Fprintf(bw, "dn: %s\nobjectClass: organizationalUnit\nou: people\n\n", peopleOU)
	fmt.Fprintf(bw, "dn: %s\nobjectClass: organizationalUnit\nou: groups\n\n", groupsOU)
	var gs []int
	for i := range n {
		uid := userUID(i)
		fmt.Fprintf(bw, "dn: uid=%s,%s\nobjectClass: inetOrgPerson\nuid: %s\ncn: User %d\nsn: Number %d\n"+
			"givenName: User\ndisplayName: User %d\nmail: %s@example.com\ndepartmentNumber: Dept %d\ntitle: Engineer\n",
			uid, peopleOU, uid, i, i, i, uid, i%20)
		gs = gs[:0]
		for k := range min(groupsPerUser, m) {
			if g := (i + k*7) % m; !slices.Contains(gs, g) {
				gs = append(gs, g)
			}
		}
		for _, g := range gs {
			fmt.Fprintf(bw, "memberOf: %s\n", groupDN(g))
		}
		bw.WriteString("\n")
	}
	var residues []int
	for g := range m {
		fmt.Fprintf(bw, "dn: %s\nobjectClass: groupOfNames\ncn: group-%d\n", groupDN(g), g)
		residues = residues[:0]
		for k := range min(groupsPerUser, m) {
			if r := ((g-k*7)%m + m) % m; !slices.Contains(residues, r) {
				residues = append(residues, r)
			}
		}
		slices.Sort(residues)
		members := 0
		for base := 0; base < n; base += m {
			for _, r := range residues {
				if i := base + r; i < n {
					fmt.Fprintf(bw, "member: uid=%s,%s\n", userUID(i), peopleOU)
					members++
				}
			}
		}
		if members == 0 {
			fmt.Fprintf(bw, "member: %s\n", peopleOU)
		}
		bw.WriteString("\n")
	}
	return bw.Flush()
}

func userUID(i int) string { return fmt.Sprintf("user-%07d", i) }
func groupDN(g int) string { return fmt.Sprintf("cn=group-%d,%s", g, groupsOU) }

// startDirectory starts a private slapd holding n users and m groups.
func startDirectory(t *tb, n, m int, opts ...slapdtest.Option) *slapdtest.Server {
	return slapdtest.Start(t, append(directoryOptions(n, m), opts...)...)
}

// directoryOptions load the benchmark directory of n users and m groups.
func directoryOptions(n, m int) []slapdtest.Option {
	return []slapdtest.Option{
		slapdtest.WithLDIFFrom(func(w io.Writer) error { return writeDirectoryLDIF(w, n, m) }),
		// A real directory service account reads the whole tree: no size limit.
		slapdtest.WithSizeLimit(1 << 30),
		// The database takes about 2 KB per user (mdb grows its file
		// as it fills; this is only the most it may take).
		slapdtest.WithMaxSize(max(1<<30, int64(n)*8<<10)),
	}
}

// adminConn binds to s as its rootdn.
func adminConn(s *slapdtest.Server) (*ldap.Conn, error) {
	c, err := ldap.DialURL(s.URL())
	if err != nil {
		return nil, fmt.Errorf("connect to slapd: %w", err)
	}
	if err := c.Bind(s.AdminDN(), s.AdminPassword()); err != nil {
		c.Close()
		return nil, fmt.Errorf("bind to slapd: %w", err)
	}
	return c, nil
}

// churn changes share of the n users (0 < share ≤ 1), round r picking
// different users each time: a third get a new mail, a third are disabled and
// a third are deleted. It returns how many entries it changed.
func churn(s *slapdtest.Server, n int, share float64, round int) (int, error) {
	c, err := adminConn(s)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	count := max(3, int(float64(n)*share))
	step := max(1, n/count)
	changed := 0
	for k := range count {
		i := (k*step + round*7 + 1) % n
		dn := "uid=" + userUID(i) + "," + peopleOU
		var err error
		switch k % 3 {
		case 0:
			req := ldap.NewModifyRequest(dn, nil)
			req.Replace("mail", []string{fmt.Sprintf("%s.r%d@example.com", userUID(i), round)})
			err = c.Modify(req)
		case 1:
			req := ldap.NewModifyRequest(dn, nil)
			if strings.Contains(s.LockedFilter(), "pwdAccountLockedTime") {
				req.Replace("pwdAccountLockedTime", []string{"000001010000Z"})
			} else {
				req.Replace("employeeType", []string{"disabled"})
			}
			err = c.Modify(req)
		case 2:
			err = c.Del(ldap.NewDelRequest(dn, nil))
		}
		if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
			continue // deleted in an earlier round
		}
		if err != nil {
			return changed, fmt.Errorf("churn %s: %w", dn, err)
		}
		changed++
	}
	return changed, nil
}
