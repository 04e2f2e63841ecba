package sambatest

import (
	"crypto/tls"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/go-ldap/ldap/v3"
)

// Active Directory userAccountControl flags.
const (
	UACAccountDisable   = 0x2
	UACPasswdNotReqd    = 0x20
	UACNormalAccount    = 0x200
	uacActiveNoPassword = UACNormalAccount | UACPasswdNotReqd // 544
)

// Conn returns a connection bound as Administrator, closed when t ends.
func (s *Server) Conn(t testing.TB) *ldap.Conn {
	t.Helper()
	c, err := s.dial()
	if err != nil {
		t.Fatalf("sambatest: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func (s *Server) dial() (*ldap.Conn, error) {
	c, err := ldap.DialURL(url)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", url, err)
	}
	c.SetTimeout(2 * time.Minute) // a hung server fails the test instead of stalling it
	if err := c.Bind(adminDN, adminPassword); err != nil {
		c.Close()
		return nil, fmt.Errorf("bind as %s: %w", adminDN, err)
	}
	return c, nil
}

// AddOU creates OU=name under the domain and returns its DN.
func (s *Server) AddOU(t testing.TB, name string) string {
	t.Helper()
	dn := "OU=" + ldap.EscapeDN(name) + "," + baseDN
	s.Add(t, dn, map[string][]string{"objectClass": {"organizationalUnit"}, "ou": {name}})
	return dn
}

// Add adds an entry as Administrator.
func (s *Server) Add(t testing.TB, dn string, attrs map[string][]string) {
	t.Helper()
	if err := add(s.Conn(t), dn, attrs); err != nil {
		t.Fatalf("sambatest: %v", err)
	}
}

func add(c *ldap.Conn, dn string, attrs map[string][]string) error {
	req := ldap.NewAddRequest(dn, nil)
	for _, k := range sortedKeys(attrs) {
		req.Attribute(k, attrs[k])
	}
	if err := c.Add(req); err != nil {
		return fmt.Errorf("add %s: %w", dn, err)
	}
	return nil
}

// UserSpec describes a user account. SAM is required; the entry is
// CN=<SAM>,<ou>. Accounts have no password (PASSWD_NOTREQD), which lets them
// be enabled without one.
type UserSpec struct {
	SAM, UPN, Mail, GivenName, SN string
	Disabled                      bool
}

// AddUser creates a user (objectClass user) under ou and returns its DN.
func (s *Server) AddUser(t testing.TB, ou string, u UserSpec) string {
	t.Helper()
	dn, attrs := userEntry(ou, u)
	s.Add(t, dn, attrs)
	return dn
}

func userEntry(ou string, u UserSpec) (string, map[string][]string) {
	uac := uacActiveNoPassword
	if u.Disabled {
		uac |= UACAccountDisable
	}
	attrs := map[string][]string{
		"objectClass":        {"user"},
		"sAMAccountName":     {u.SAM},
		"userAccountControl": {strconv.Itoa(uac)},
	}
	for k, v := range map[string]string{"userPrincipalName": u.UPN, "mail": u.Mail, "givenName": u.GivenName, "sn": u.SN} {
		if v != "" {
			attrs[k] = []string{v}
		}
	}
	return "CN=" + ldap.EscapeDN(u.SAM) + "," + ou, attrs
}

// AddUsers creates n users <prefix>0 ... <prefix>n-1 under ou over several
// connections and returns their DNs in order. Each has a UPN and a mail in
// dirsync.test.
func (s *Server) AddUsers(t testing.TB, ou, prefix string, n int) []string {
	t.Helper()
	dns := make([]string, n)
	const workers = 4
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			c, err := s.dial()
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			for i := w; i < n; i += workers {
				sam := fmt.Sprintf("%s%d", prefix, i)
				dn, attrs := userEntry(ou, UserSpec{SAM: sam, UPN: sam + "@dirsync.test", Mail: sam + "@dirsync.test", SN: "Bulk"})
				if err := add(c, dn, attrs); err != nil {
					errs <- err
					return
				}
				dns[i] = dn
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		t.Fatalf("sambatest: %v", err)
	}
	return dns
}

// UsersLDIF returns the LDIF of OU=ou under the domain holding n users
// <prefix>0 ... <prefix>n-1 (as AddUsers makes them), for WithLDIF, and the
// OU's and the users' DNs.
func UsersLDIF(ou, prefix string, n int) (ldif, ouDN string, dns []string) {
	var b strings.Builder
	ouDN = "OU=" + ldap.EscapeDN(ou) + "," + baseDN
	fmt.Fprintf(&b, "dn: %s\nobjectClass: organizationalUnit\n\n", ouDN)
	for i := range n {
		sam := fmt.Sprintf("%s%d", prefix, i)
		dn, attrs := userEntry(ouDN, UserSpec{SAM: sam, UPN: sam + "@dirsync.test", Mail: sam + "@dirsync.test", SN: "Bulk"})
		fmt.Fprintf(&b, "dn: %s\n", dn)
		for _, k := range sortedKeys(attrs) {
			for _, v := range attrs[k] {
				fmt.Fprintf(&b, "%s: %s\n", k, v)
			}
		}
		b.WriteString("\n")
		dns = append(dns, dn)
	}
	return b.String(), ouDN, dns
}

// AddGroup creates a global security group CN=name under ou with the given
// members (users or groups) and returns its DN.
func (s *Server) AddGroup(t testing.TB, ou, name string, members ...string) string {
	t.Helper()
	dn := "CN=" + ldap.EscapeDN(name) + "," + ou
	s.Add(t, dn, map[string][]string{"objectClass": {"group"}, "sAMAccountName": {name}})
	s.AddMembers(t, dn, members...)
	return dn
}

// AddMembers adds members to group, 1,000 values per modify request.
func (s *Server) AddMembers(t testing.TB, group string, members ...string) {
	t.Helper()
	c := s.Conn(t)
	for len(members) > 0 {
		n := min(len(members), 1000)
		req := ldap.NewModifyRequest(group, nil)
		req.Add("member", members[:n])
		if err := c.Modify(req); err != nil {
			t.Fatalf("sambatest: add %d members to %s: %v", n, group, err)
		}
		members = members[n:]
	}
}

// Replace sets attributes of dn, e.g. {"mail": {"new@dirsync.test"}}.
func (s *Server) Replace(t testing.TB, dn string, attrs map[string][]string) {
	t.Helper()
	req := ldap.NewModifyRequest(dn, nil)
	for _, k := range sortedKeys(attrs) {
		req.Replace(k, attrs[k])
	}
	if err := s.Conn(t).Modify(req); err != nil {
		t.Fatalf("sambatest: modify %s: %v", dn, err)
	}
}

// Disable sets the ACCOUNTDISABLE bit of the user's userAccountControl.
func (s *Server) Disable(t testing.TB, dn string) {
	t.Helper()
	s.Replace(t, dn, map[string][]string{"userAccountControl": {strconv.Itoa(s.uac(t, dn) | UACAccountDisable)}})
}

// Enable clears the ACCOUNTDISABLE bit of the user's userAccountControl.
func (s *Server) Enable(t testing.TB, dn string) {
	t.Helper()
	s.Replace(t, dn, map[string][]string{"userAccountControl": {strconv.Itoa(s.uac(t, dn) &^ UACAccountDisable)}})
}

func (s *Server) uac(t testing.TB, dn string) int {
	t.Helper()
	v, err := strconv.Atoi(s.Get(t, dn, "userAccountControl"))
	if err != nil {
		t.Fatalf("sambatest: userAccountControl of %s: %v", dn, err)
	}
	return v
}

// Get reads the first value of attr of dn.
func (s *Server) Get(t testing.TB, dn, attr string) string {
	t.Helper()
	return string(s.GetRaw(t, dn, attr))
}

// GetRaw reads the first value of attr of dn as bytes (objectGUID...).
func (s *Server) GetRaw(t testing.TB, dn, attr string) []byte {
	t.Helper()
	req := ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{attr}, nil)
	res, err := s.Conn(t).Search(req)
	if err != nil {
		t.Fatalf("sambatest: read %s of %s: %v", attr, dn, err)
	}
	if len(res.Entries) != 1 {
		t.Fatalf("sambatest: read %s: %d entries", dn, len(res.Entries))
	}
	return res.Entries[0].GetRawAttributeValue(attr)
}

// Move renames dn to CN=newCN under newParent (the same OU when empty) and
// returns the new DN.
func (s *Server) Move(t testing.TB, dn, newCN, newParent string) string {
	t.Helper()
	parsed, err := ldap.ParseDN(dn)
	if err != nil {
		t.Fatalf("sambatest: %v", err)
	}
	parent := newParent
	if parent == "" {
		parent = (&ldap.DN{RDNs: parsed.RDNs[1:]}).String()
	}
	req := ldap.NewModifyDNRequest(dn, "CN="+ldap.EscapeDN(newCN), true, newParent)
	if err := s.Conn(t).ModifyDN(req); err != nil {
		t.Fatalf("sambatest: move %s: %v", dn, err)
	}
	return "CN=" + ldap.EscapeDN(newCN) + "," + parent
}

// Delete deletes dn; Active Directory keeps a tombstone, invisible to
// ordinary searches.
func (s *Server) Delete(t testing.TB, dn string) {
	t.Helper()
	if err := s.Conn(t).Del(ldap.NewDelRequest(dn, nil)); err != nil {
		t.Fatalf("sambatest: delete %s: %v", dn, err)
	}
}

// AddServiceAccount creates an enabled user sam under ou with the given
// password and the UPN sam@dirsync.test, a plain domain user (member of
// Domain Users only) as the README recommends for dirsync, and returns its
// DN. Active Directory takes a password over an encrypted connection only,
// so the account is added over LDAPS; the test binary must accept Samba's
// certificate (see the x509negativeserial note in the ldapsource AD tests).
func (s *Server) AddServiceAccount(t testing.TB, ou, sam, password string) string {
	t.Helper()
	c, err := ldap.DialURL(ldapsURL, ldap.DialWithTLSConfig(&tls.Config{InsecureSkipVerify: true})) //nolint:gosec // the test DC's own loopback certificate
	if err != nil {
		t.Fatalf("sambatest: dial %s: %v", ldapsURL, err)
	}
	defer c.Close()
	c.SetTimeout(2 * time.Minute)
	if err := c.Bind(adminDN, adminPassword); err != nil {
		t.Fatalf("sambatest: bind as %s: %v", adminDN, err)
	}
	dn := "CN=" + ldap.EscapeDN(sam) + "," + ou
	if err := add(c, dn, map[string][]string{
		"objectClass":        {"user"},
		"sAMAccountName":     {sam},
		"userPrincipalName":  {sam + "@" + strings.ToLower(Realm)},
		"userAccountControl": {strconv.Itoa(UACNormalAccount)},
		"unicodePwd":         {unicodePwd(password)},
	}); err != nil {
		t.Fatalf("sambatest: %v", err)
	}
	return dn
}

// unicodePwd encodes a password as AD's unicodePwd wants it: quoted,
// UTF-16LE.
func unicodePwd(password string) string {
	var b strings.Builder
	for _, r := range utf16.Encode([]rune(`"` + password + `"`)) {
		b.WriteByte(byte(r))
		b.WriteByte(byte(r >> 8))
	}
	return b.String()
}
