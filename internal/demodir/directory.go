// Package demodir is a small in-process LDAP directory for `dirsync demo`: a
// fictional company served over LDAP on a loopback port, readable by dirsync's
// real LDAP client exactly as it reads OpenLDAP (simple bind, paged search with
// RFC 2696 cookies, proper filter evaluation, explicit attribute lists,
// entryUUID as the stable ID), and changeable in between runs so the demo can
// show creates, updates, renames, disables and removals.
//
//	d, err := demodir.New()
//	srv, err := d.Start(ctx)
//	defer srv.Close()
//	// point the LDAP config at srv.URL(), srv.BindDN(), srv.BindPassword(),
//	// srv.BaseDN(), srv.UserFilter(), srv.DisabledFilter(), id attribute entryUUID
//	d.Disable("dokafor")
//
// It is a demo and test fixture, not a directory server: it serves one
// suffix, accepts one bind identity, and answers only bind and search.
package demodir

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// Fixed names of the demo directory.
const (
	// BaseDN is the directory's only suffix.
	BaseDN = "dc=demo,dc=example"
	// PeopleDN holds the user entries.
	PeopleDN = "ou=people," + BaseDN
	// GroupsDN holds the groupOfNames entries.
	GroupsDN = "ou=groups," + BaseDN
	// BindDN is the only identity that may bind.
	BindDN = "cn=dirsync," + BaseDN
	// UserFilter selects the people entries.
	UserFilter = "(objectClass=inetOrgPerson)"
	// DisabledFilter matches the accounts Disable has locked, the way OpenLDAP's
	// ppolicy overlay marks an administratively locked account.
	DisabledFilter = "(pwdAccountLockedTime=*)"
	// IDAttribute is the stable per-entry ID attribute.
	IDAttribute = "entryUUID"
	// MailDomain is the domain of the built-in users' addresses.
	MailDomain = "demo.example"

	// lockedForever is ppolicy's value for "locked until an administrator
	// unlocks it".
	lockedForever = "000001010000Z"
)

// Errors returned by the mutation methods; match them with errors.Is.
var (
	ErrNoSuchUser      = errors.New("demodir: no such user")
	ErrNoSuchGroup     = errors.New("demodir: no such group")
	ErrUserExists      = errors.New("demodir: user already exists")
	ErrInvalidArgument = errors.New("demodir: invalid argument")
	ErrReadOnlyAttr    = errors.New("demodir: attribute cannot be set directly")
)

// Person is a user entry as the demo narrates it. Field names follow the
// inetOrgPerson attributes they come from.
type Person struct {
	DN          string // uid=<UID>,ou=people,dc=demo,dc=example
	UID         string // uid; empty only for the deliberately broken entry
	EntryUUID   string // entryUUID, stable across renames
	Mail        string // mail
	GivenName   string // givenName
	Surname     string // sn
	CommonName  string // cn
	DisplayName string // displayName
	Title       string // title
	Department  string // ou
	// DepartmentNumber is departmentNumber.
	DepartmentNumber string
	// Disabled is true when the entry carries pwdAccountLockedTime.
	Disabled bool
	// Groups are the DNs of the groups listing the entry as a member (its
	// memberOf values), in directory order.
	Groups []string
}

// Directory is the demo directory's data. It is safe for concurrent use; every
// change is visible to the next search.
type Directory struct {
	password string

	mu      sync.RWMutex
	entries []*entry // in directory order: suffix, OUs, people, groups
	added   int      // users added through Add, for deterministic entryUUIDs
	now     func() time.Time
}

// New returns the built-in company directory with a freshly generated bind
// password.
func New() (*Directory, error) {
	pw, err := randomPassword()
	if err != nil {
		return nil, fmt.Errorf("demodir: generate bind password: %w", err)
	}
	d := &Directory{password: pw, now: time.Now}
	if err := d.load(); err != nil {
		return nil, err
	}
	return d, nil
}

func randomPassword() (string, error) {
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// BaseDN returns the suffix to search under.
func (d *Directory) BaseDN() string { return BaseDN }

// PeopleDN returns the container of the user entries.
func (d *Directory) PeopleDN() string { return PeopleDN }

// BindDN returns the DN to bind as.
func (d *Directory) BindDN() string { return BindDN }

// BindPassword returns the password generated for BindDN by New.
func (d *Directory) BindPassword() string { return d.password }

// UserFilter returns the filter that selects every person.
func (d *Directory) UserFilter() string { return UserFilter }

// DisabledFilter returns the filter that matches disabled persons.
func (d *Directory) DisabledFilter() string { return DisabledFilter }

// IDAttribute returns the name of the stable ID attribute, entryUUID.
func (d *Directory) IDAttribute() string { return IDAttribute }

// Users returns every inetOrgPerson entry, the broken one included, in
// directory order.
func (d *Directory) Users() []Person {
	d.mu.RLock()
	defer d.mu.RUnlock()
	var out []Person
	for _, e := range d.entries {
		if e.isPerson() {
			out = append(out, d.person(e))
		}
	}
	return out
}

// User returns the person with the given uid (case-insensitive).
func (d *Directory) User(uid string) (Person, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	e, err := d.findUser(uid)
	if err != nil {
		return Person{}, err
	}
	return d.person(e), nil
}

// readOnly lists attributes SetAttr refuses, with what to use instead.
var readOnly = map[string]string{
	"uid":                  "use Rename",
	"entryuuid":            "it never changes",
	"memberof":             "use AddToGroup or RemoveFromGroup",
	"objectclass":          "the entry stays an inetOrgPerson",
	"entrydn":              "use Rename",
	"createtimestamp":      "it is maintained by the directory",
	"modifytimestamp":      "it is maintained by the directory",
	"pwdaccountlockedtime": "use Disable or Enable",
}

// SetAttr replaces the values of attribute attr of the user uid with value; an
// empty value removes the attribute.
func (d *Directory) SetAttr(uid, attr, value string) error {
	attr = strings.TrimSpace(attr)
	if attr == "" || strings.ContainsAny(attr, " ,=()*") {
		return fmt.Errorf("set %q on %s: %w: bad attribute name", attr, uid, ErrInvalidArgument)
	}
	if why, ok := readOnly[strings.ToLower(attr)]; ok {
		return fmt.Errorf("set %s on %s: %w: %s", attr, uid, ErrReadOnlyAttr, why)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	e, err := d.findUser(uid)
	if err != nil {
		return fmt.Errorf("set %s: %w", attr, err)
	}
	if value == "" {
		e.del(attr)
	} else {
		e.set(attr, value)
	}
	d.touch(e)
	return nil
}

// Disable locks the account of uid so that it matches DisabledFilter.
func (d *Directory) Disable(uid string) error {
	return d.update(uid, "disable", func(e *entry) { e.set("pwdAccountLockedTime", lockedForever) })
}

// Enable unlocks the account of uid.
func (d *Directory) Enable(uid string) error {
	return d.update(uid, "enable", func(e *entry) { e.del("pwdAccountLockedTime") })
}

func (d *Directory) update(uid, what string, f func(*entry)) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	e, err := d.findUser(uid)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	f(e)
	d.touch(e)
	return nil
}

// Remove deletes the entry of uid and its group memberships, as the refint
// overlay would.
func (d *Directory) Remove(uid string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	e, err := d.findUser(uid)
	if err != nil {
		return fmt.Errorf("remove: %w", err)
	}
	d.entries = slices.DeleteFunc(d.entries, func(x *entry) bool { return x == e })
	d.rewriteMembers(e.dn, nil)
	return nil
}

// Add creates a person under ou=people. UID is required; DN is derived from
// it; EntryUUID, when empty, is derived from the uid and the number of users
// added so far, so a scripted demo is reproducible. Groups are group DNs or
// group cns to add the person to. It returns the person as stored.
func (d *Directory) Add(p Person) (Person, error) {
	p.UID = strings.TrimSpace(p.UID)
	if p.UID == "" || strings.ContainsAny(p.UID, ",=+\"\\<>;#") {
		return Person{}, fmt.Errorf("add %q: %w: uid must be a plain non-empty name", p.UID, ErrInvalidArgument)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, err := d.findUser(p.UID); err == nil {
		return Person{}, fmt.Errorf("add %s: %w", p.UID, ErrUserExists)
	}
	groups := make([]*entry, 0, len(p.Groups))
	for _, g := range p.Groups {
		ge, err := d.findGroup(g)
		if err != nil {
			return Person{}, fmt.Errorf("add %s: %w", p.UID, err)
		}
		groups = append(groups, ge)
	}
	d.added++
	if p.EntryUUID == "" {
		p.EntryUUID = derivedUUID(fmt.Sprintf("%s#%d", strings.ToLower(p.UID), d.added))
	}
	if p.CommonName == "" {
		p.CommonName = strings.TrimSpace(p.GivenName + " " + p.Surname)
	}
	if p.CommonName == "" {
		p.CommonName = p.UID
	}
	if p.Surname == "" {
		p.Surname = p.CommonName // sn is mandatory for person
	}
	e, err := newPerson(p, d.now())
	if err != nil {
		return Person{}, fmt.Errorf("add %s: %w", p.UID, err)
	}
	// Keep people together, before the groups.
	i := len(d.entries)
	for j, x := range d.entries {
		if x.isGroup() {
			i = j
			break
		}
	}
	d.entries = slices.Insert(d.entries, i, e)
	for _, g := range groups {
		if !g.hasDNValue("member", e.parsed) {
			g.add("member", e.dn)
			d.touch(g)
		}
	}
	return d.person(e), nil
}

// Rename changes the uid (and so the DN) of a user, keeping its entryUUID:
// for dirsync a rename is an update, not a new person. Group memberships
// follow the new DN.
func (d *Directory) Rename(uid, newUID string) error {
	newUID = strings.TrimSpace(newUID)
	if newUID == "" || strings.ContainsAny(newUID, ",=+\"\\<>;#") {
		return fmt.Errorf("rename %s to %q: %w: uid must be a plain non-empty name", uid, newUID, ErrInvalidArgument)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	e, err := d.findUser(uid)
	if err != nil {
		return fmt.Errorf("rename: %w", err)
	}
	if other, err := d.findUser(newUID); err == nil && other != e {
		return fmt.Errorf("rename %s to %s: %w", uid, newUID, ErrUserExists)
	}
	oldDN := e.dn
	if err := e.setDN("uid=" + ldap.EscapeDN(newUID) + "," + PeopleDN); err != nil {
		return fmt.Errorf("rename %s: %w", uid, err)
	}
	e.set("uid", newUID)
	d.rewriteMembers(oldDN, &e.dn)
	d.touch(e)
	return nil
}

// AddToGroup makes uid a member of group (a group DN or cn).
func (d *Directory) AddToGroup(uid, group string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	e, err := d.findUser(uid)
	if err != nil {
		return fmt.Errorf("add to group %s: %w", group, err)
	}
	g, err := d.findGroup(group)
	if err != nil {
		return fmt.Errorf("add %s to group: %w", uid, err)
	}
	if !g.hasDNValue("member", e.parsed) {
		g.add("member", e.dn)
		d.touch(g)
	}
	return nil
}

// RemoveFromGroup ends the membership of uid in group (a group DN or cn).
// groupOfNames needs a member, so removing the last one is refused.
func (d *Directory) RemoveFromGroup(uid, group string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	e, err := d.findUser(uid)
	if err != nil {
		return fmt.Errorf("remove from group %s: %w", group, err)
	}
	g, err := d.findGroup(group)
	if err != nil {
		return fmt.Errorf("remove %s from group: %w", uid, err)
	}
	members := g.values("member")
	kept := slices.DeleteFunc(slices.Clone(members), func(m string) bool { return dnEqual(m, e.parsed) })
	if len(kept) == len(members) {
		return nil
	}
	if len(kept) == 0 {
		return fmt.Errorf("remove %s from %s: %w: the group would have no member", uid, g.dn, ErrInvalidArgument)
	}
	g.replace("member", kept)
	d.touch(g)
	return nil
}

// findUser returns the person entry whose uid equals uid, ignoring case.
// Callers hold d.mu.
func (d *Directory) findUser(uid string) (*entry, error) {
	uid = strings.TrimSpace(uid)
	if uid != "" {
		for _, e := range d.entries {
			if e.isPerson() && strings.EqualFold(e.first("uid"), uid) {
				return e, nil
			}
		}
	}
	return nil, fmt.Errorf("%w: uid %q", ErrNoSuchUser, uid)
}

// findGroup resolves a group DN or cn. Callers hold d.mu.
func (d *Directory) findGroup(name string) (*entry, error) {
	name = strings.TrimSpace(name)
	var dn *ldap.DN
	if strings.Contains(name, "=") {
		if p, err := ldap.ParseDN(name); err == nil {
			dn = p
		}
	}
	for _, e := range d.entries {
		if !e.isGroup() {
			continue
		}
		if dn != nil && e.parsed.EqualFold(dn) || dn == nil && strings.EqualFold(e.first("cn"), name) {
			return e, nil
		}
	}
	return nil, fmt.Errorf("%w: %q", ErrNoSuchGroup, name)
}

// rewriteMembers replaces oldDN in every group's member values by newDN, or
// drops it when newDN is nil. A group left empty keeps no member attribute
// rather than a dangling one. Callers hold d.mu.
func (d *Directory) rewriteMembers(oldDN string, newDN *string) {
	old, err := ldap.ParseDN(oldDN)
	if err != nil {
		return
	}
	for _, g := range d.entries {
		if !g.isGroup() || !g.hasDNValue("member", old) {
			continue
		}
		var vals []string
		for _, m := range g.values("member") {
			switch {
			case !dnEqual(m, old):
				vals = append(vals, m)
			case newDN != nil:
				vals = append(vals, *newDN)
			}
		}
		g.replace("member", vals)
		d.touch(g)
	}
}

// touch records a modification of e. Callers hold d.mu.
func (d *Directory) touch(e *entry) {
	e.set("modifyTimestamp", generalizedTime(d.now()))
}

// memberOf lists the DNs of the groups e belongs to. Callers hold d.mu.
func (d *Directory) memberOf(e *entry) []string {
	var out []string
	for _, g := range d.entries {
		if g.isGroup() && g.hasDNValue("member", e.parsed) {
			out = append(out, g.dn)
		}
	}
	return out
}

func (d *Directory) person(e *entry) Person {
	return Person{
		DN:               e.dn,
		UID:              e.first("uid"),
		EntryUUID:        e.first("entryUUID"),
		Mail:             e.first("mail"),
		GivenName:        e.first("givenName"),
		Surname:          e.first("sn"),
		CommonName:       e.first("cn"),
		DisplayName:      e.first("displayName"),
		Title:            e.first("title"),
		Department:       e.first("ou"),
		DepartmentNumber: e.first("departmentNumber"),
		Disabled:         e.has("pwdAccountLockedTime"),
		Groups:           d.memberOf(e),
	}
}

func generalizedTime(t time.Time) string {
	return t.UTC().Format("20060102150405Z")
}
