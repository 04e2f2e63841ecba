package demodir

import (
	"crypto/sha1"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// attribute is one attribute of an entry, under its canonical name.
type attribute struct {
	name string
	vals []string
}

// entry is one directory entry. Attributes keep their order and canonical
// names, so results look the same from one search to the next.
type entry struct {
	dn     string
	parsed *ldap.DN
	attrs  []attribute
}

func newEntry(dn string, attrs ...attribute) (*entry, error) {
	e := &entry{attrs: attrs}
	if err := e.setDN(dn); err != nil {
		return nil, err
	}
	return e, nil
}

func (e *entry) setDN(dn string) error {
	p, err := ldap.ParseDN(dn)
	if err != nil {
		return fmt.Errorf("%w: dn %q: %v", ErrInvalidArgument, dn, err)
	}
	e.dn, e.parsed = dn, p
	return nil
}

func (e *entry) index(name string) int {
	for i, a := range e.attrs {
		if strings.EqualFold(a.name, name) {
			return i
		}
	}
	return -1
}

func (e *entry) values(name string) []string {
	if i := e.index(name); i >= 0 {
		return e.attrs[i].vals
	}
	return nil
}

func (e *entry) first(name string) string {
	if v := e.values(name); len(v) > 0 {
		return v[0]
	}
	return ""
}

func (e *entry) has(name string) bool { return e.index(name) >= 0 }

// replace sets the values of name, keeping its position and spelling when it
// exists; no values removes it.
func (e *entry) replace(name string, vals []string) {
	if len(vals) == 0 {
		e.del(name)
		return
	}
	if i := e.index(name); i >= 0 {
		e.attrs[i].vals = slices.Clone(vals)
		return
	}
	e.attrs = append(e.attrs, attribute{name: canonicalName(name), vals: slices.Clone(vals)})
}

func (e *entry) set(name, value string) { e.replace(name, []string{value}) }

func (e *entry) add(name, value string) {
	if i := e.index(name); i >= 0 {
		e.attrs[i].vals = append(slices.Clone(e.attrs[i].vals), value)
		return
	}
	e.attrs = append(e.attrs, attribute{name: canonicalName(name), vals: []string{value}})
}

func (e *entry) del(name string) {
	if i := e.index(name); i >= 0 {
		e.attrs = slices.Delete(e.attrs, i, i+1)
	}
}

func (e *entry) hasObjectClass(oc string) bool {
	return slices.ContainsFunc(e.values("objectClass"), func(v string) bool { return strings.EqualFold(v, oc) })
}

func (e *entry) isPerson() bool { return e.hasObjectClass("inetOrgPerson") }
func (e *entry) isGroup() bool  { return e.hasObjectClass("groupOfNames") }

// hasDNValue reports whether attribute name holds a DN equal to dn.
func (e *entry) hasDNValue(name string, dn *ldap.DN) bool {
	return slices.ContainsFunc(e.values(name), func(v string) bool { return dnEqual(v, dn) })
}

func dnEqual(s string, dn *ldap.DN) bool {
	p, err := ldap.ParseDN(s)
	return err == nil && p.EqualFold(dn)
}

// operational attributes are returned only when asked for by name or by "+",
// as OpenLDAP does.
var operational = map[string]bool{
	"entryuuid":             true,
	"entrydn":               true,
	"memberof":              true,
	"createtimestamp":       true,
	"modifytimestamp":       true,
	"pwdaccountlockedtime":  true,
	"structuralobjectclass": true,
}

// dnValued attributes compare as DNs.
var dnValued = map[string]bool{
	"member":    true,
	"memberof":  true,
	"entrydn":   true,
	"manager":   true,
	"owner":     true,
	"secretary": true,
}

// canonical spells schema attributes the way OpenLDAP returns them.
var canonical = func() map[string]string {
	m := map[string]string{}
	for _, n := range []string{
		"objectClass", "uid", "cn", "sn", "givenName", "displayName", "mail", "title",
		"ou", "departmentNumber", "employeeNumber", "employeeType", "telephoneNumber",
		"mobile", "manager", "l", "o", "dc", "description", "member", "memberOf",
		"entryUUID", "entryDN", "createTimestamp", "modifyTimestamp",
		"pwdAccountLockedTime", "structuralObjectClass", "preferredLanguage",
	} {
		m[strings.ToLower(n)] = n
	}
	return m
}()

func canonicalName(name string) string {
	if c, ok := canonical[strings.ToLower(name)]; ok {
		return c
	}
	return name
}

// view is the entry as searches see it: the stored attributes plus the
// computed ones (memberOf, entryDN).
func (d *Directory) view(e *entry) []attribute {
	out := make([]attribute, 0, len(e.attrs)+2)
	out = append(out, e.attrs...)
	if e.isPerson() {
		if groups := d.memberOf(e); len(groups) > 0 {
			out = append(out, attribute{name: "memberOf", vals: groups})
		}
	}
	out = append(out, attribute{name: "entryDN", vals: []string{e.dn}})
	return out
}

// selectAttributes applies a search's attribute list to a view: none or "*"
// means every user attribute, "+" every operational one, "1.1" none, and a
// name that attribute. Names match case-insensitively; results keep the
// entry's spelling and order.
func selectAttributes(view []attribute, requested []string) []attribute {
	var all, ops bool
	names := map[string]bool{}
	for _, r := range requested {
		switch r = strings.TrimSpace(r); r {
		case "*":
			all = true
		case "+":
			ops = true
		case "1.1", "":
		default:
			names[strings.ToLower(r)] = true
		}
	}
	if len(requested) == 0 {
		all = true
	}
	var out []attribute
	for _, a := range view {
		l := strings.ToLower(a.name)
		if names[l] || all && !operational[l] || ops && operational[l] {
			out = append(out, a)
		}
	}
	return out
}

// derivedUUID returns a name-based (version 5 style) UUID for seed, so that
// entries the demo adds get the same IDs on every run.
func derivedUUID(seed string) string {
	sum := sha1.Sum([]byte("dirsync-demo:" + seed))
	b := sum[:16]
	b[6] = b[6]&0x0f | 0x50
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func newPerson(p Person, now time.Time) (*entry, error) {
	ts := generalizedTime(now)
	attrs := []attribute{
		{"objectClass", []string{"top", "person", "organizationalPerson", "inetOrgPerson"}},
	}
	put := func(name, v string) {
		if v = strings.TrimSpace(v); v != "" {
			attrs = append(attrs, attribute{name, []string{v}})
		}
	}
	put("uid", p.UID)
	put("cn", p.CommonName)
	put("sn", p.Surname)
	put("givenName", p.GivenName)
	put("displayName", p.DisplayName)
	put("mail", p.Mail)
	put("title", p.Title)
	put("ou", p.Department)
	put("departmentNumber", p.DepartmentNumber)
	put("entryUUID", p.EntryUUID)
	put("structuralObjectClass", "inetOrgPerson")
	put("createTimestamp", ts)
	put("modifyTimestamp", ts)
	if p.Disabled {
		put("pwdAccountLockedTime", lockedForever)
	}
	dn := p.DN
	if p.UID != "" {
		dn = "uid=" + ldap.EscapeDN(p.UID) + "," + PeopleDN
	}
	return newEntry(dn, attrs...)
}
