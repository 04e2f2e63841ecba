package ldapsource

import (
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/go-ldap/ldap/v3"

	"github.com/dirsync/dirsync/transform"
	"github.com/dirsync/dirsync/user"
)

// AD's userAccountControl flag for a disabled account (ACCOUNTDISABLE).
const uacAccountDisable = 0x2

const attrUserAccountControl = "userAccountControl"

// mapper turns entries into users, and shapes them with the transform,
// when there is one (see package transform).
type mapper struct {
	cfg Config
	// nest, when not nil, adds the groups that hold the entry, directly
	// or through groups (ldap.nested_groups).
	nest *nesting
	tr   *transform.Runner // nil: no transform
	// preview, when not nil, records the first users transformed.
	preview *transform.Preview
	// raw holds an entry's raw attributes the transform reads, reused from
	// entry to entry.
	raw map[string][]string
}

// mapped is one entry after mapping: a user, or the reason it is skipped.
// A skipped entry's user holds what could be read of it: its DN, its ID,
// and Active false when it is known to be disabled.
type mapped struct {
	key    string // dnKey of the entry
	u      user.User
	ids    []string // the values of an ID attribute that holds several
	reason string   // not empty: skipped
}

func newMapper(cfg Config) mapper {
	m := mapper{cfg: cfg}
	if cfg.transform != nil {
		m.tr = cfg.transform.NewRunner()
		m.raw = make(map[string][]string)
	}
	return m
}

// attributes is the explicit list of attributes the user search requests.
func (m mapper) attributes() []string {
	a := m.cfg.Attributes
	names := []string{m.cfg.IDAttribute, a.Username, a.Email, a.GivenName, a.FamilyName,
		a.DisplayName, a.Groups, attrUserAccountControl}
	if a.DisplayName != "" {
		names = append(names, "cn")
	}
	for _, k := range slices.Sorted(maps.Keys(a.Extra)) {
		names = append(names, a.Extra[k])
	}
	// The raw attributes the transform reads (attr.NAME).
	names = append(names, m.cfg.transform.Attributes()...)
	var out []string
	for _, n := range names {
		if n != "" && !slices.ContainsFunc(out, func(o string) bool { return strings.EqualFold(o, n) }) {
			out = append(out, n)
		}
	}
	return out
}

func (m mapper) mapEntry(e *ldap.Entry, key string, disabled bool) mapped {
	out := mapped{key: key}
	out.u.DN = e.DN
	// Whether the entry is disabled is read first: a skipped entry that is
	// disabled still loses its access (sync.Skip.Disabled).
	active, uacReason := m.active(e, disabled)
	out.u.Active = active
	// An entry whose ID cannot be read is still read in full: duplicate
	// detection counts its username and email (see dedup).
	id, idReason := m.id(e)
	out.u.ID = id
	if idReason != "" {
		out.ids = m.severalIDs(e)
	}

	var bad []string
	first := func(attr string) string {
		if attr == "" {
			return ""
		}
		v := e.GetEqualFoldAttributeValue(attr)
		if !utf8.ValidString(v) {
			bad = append(bad, attr)
			return ""
		}
		return strings.TrimSpace(v)
	}
	a := m.cfg.Attributes
	u := &out.u
	u.Username = first(a.Username)
	u.Email = first(a.Email)
	u.GivenName = first(a.GivenName)
	u.FamilyName = first(a.FamilyName)
	u.DisplayName = first(a.DisplayName)
	if u.DisplayName == "" && a.DisplayName != "" {
		u.DisplayName = first("cn")
	}
	if a.Groups != "" {
		for _, g := range e.GetEqualFoldAttributeValues(a.Groups) {
			if !utf8.ValidString(g) {
				bad = append(bad, a.Groups)
				break
			}
			u.Groups = append(u.Groups, g)
		}
	}
	if m.nest != nil {
		u.Groups = m.nest.groups(e.DN, u.Groups)
	}
	for name, attr := range a.Extra { // any order: bad is sorted below
		if v := first(attr); v != "" {
			if u.Extra == nil {
				u.Extra = make(map[string]string)
			}
			u.Extra[name] = v
		}
	}
	raw := m.raw // the raw attributes the transform reads
	if m.tr != nil {
		clear(raw)
		for _, attr := range m.cfg.transform.Attributes() {
			vs := e.GetEqualFoldAttributeValues(attr)
			if slices.ContainsFunc(vs, func(v string) bool { return !utf8.ValidString(v) }) {
				bad = append(bad, attr)
				continue
			}
			raw[attr] = vs
		}
	}
	// The transform runs on every entry it can read, skipped ones too:
	// duplicate detection then compares a skipped entry's username and
	// email with the others' as transformed.
	var trErr error
	if m.tr != nil && len(bad) == 0 {
		before := out.u.Normalize()
		out.u, trErr = m.tr.Apply(before, raw)
		if m.preview != nil {
			m.preview.Add(before, out.u.Normalize(), raw, trErr)
		}
	}
	switch {
	case idReason != "":
		out.reason = idReason
		return out
	case len(bad) > 0:
		slices.Sort(bad)
		out.reason = "invalid UTF-8 in " + strings.Join(slices.Compact(bad), ", ")
		return out
	case trErr != nil:
		out.reason = trErr.Error()
		return out
	}
	out.u = out.u.Normalize()
	switch {
	case u.Username == "" && m.cfg.transform.Has(user.FieldUsername):
		out.reason = "transform.username gave an empty username"
		return out
	case u.Username == "":
		out.reason = fmt.Sprintf("missing username (attribute %s)", a.Username)
		return out
	case u.Email == "" && m.cfg.transform.Has(user.FieldEmail):
		out.reason = "transform.email gave an empty email"
		return out
	case uacReason != "":
		out.reason = uacReason
		return out
	}
	return out
}

// active reads whether the entry is active: not matched by the disabled
// filter (disabled) and, on AD, without the ACCOUNTDISABLE flag. reason,
// when userAccountControl cannot be read, says so; active is then false
// only if the disabled filter matched.
func (m mapper) active(e *ldap.Entry, disabled bool) (active bool, reason string) {
	active = !disabled
	if v := e.GetEqualFoldAttributeValue(attrUserAccountControl); v != "" {
		uac, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return active, fmt.Sprintf("userAccountControl %q is not a number", v)
		}
		if uac&uacAccountDisable != 0 {
			active = false
		}
	}
	return active, ""
}

// id reads the entry's stable ID, or says why it cannot.
func (m mapper) id(e *ldap.Entry) (id, reason string) {
	attr := m.cfg.IDAttribute
	raw := e.GetEqualFoldRawAttributeValues(attr)
	switch {
	case len(raw) == 0:
		return "", fmt.Sprintf("missing ID (attribute %s)", attr)
	case len(raw) > 1:
		return "", fmt.Sprintf("ID attribute %s has %d values, want one", attr, len(raw))
	}
	return m.idValue(raw[0])
}

// severalIDs returns, when the ID attribute holds several values, those
// that read as IDs: one of them is the entry's ID, which one cannot be
// known.
func (m mapper) severalIDs(e *ldap.Entry) []string {
	raw := e.GetEqualFoldRawAttributeValues(m.cfg.IDAttribute)
	if len(raw) < 2 {
		return nil
	}
	var ids []string
	for _, r := range raw {
		if v, bad := m.idValue(r); bad == "" && !slices.Contains(ids, v) {
			ids = append(ids, v)
		}
	}
	return ids
}

// idValue reads one value of the ID attribute, or says why it cannot.
func (m mapper) idValue(raw []byte) (id, reason string) {
	attr := m.cfg.IDAttribute
	switch {
	case strings.EqualFold(attr, "objectGUID"):
		id, err := FormatGUID(raw)
		if err != nil {
			return "", err.Error()
		}
		return id, ""
	case strings.EqualFold(attr, "objectSid"):
		id, err := FormatSID(raw)
		if err != nil {
			return "", err.Error()
		}
		return id, ""
	}
	v := string(raw)
	if !utf8.ValidString(v) {
		return "", "invalid UTF-8 in " + attr
	}
	if v = strings.TrimSpace(v); v == "" {
		return "", fmt.Sprintf("missing ID (attribute %s is empty)", attr)
	}
	return v, ""
}

// FormatGUID formats a 16-byte objectGUID the way Active Directory shows it:
// the first three groups little-endian, lower-case hex,
// xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx.
func FormatGUID(b []byte) (string, error) {
	if len(b) != 16 {
		return "", fmt.Errorf("objectGUID is %d bytes, want 16", len(b))
	}
	return fmt.Sprintf("%08x-%04x-%04x-%x-%x",
		binary.LittleEndian.Uint32(b[0:4]),
		binary.LittleEndian.Uint16(b[4:6]),
		binary.LittleEndian.Uint16(b[6:8]),
		b[8:10], b[10:16]), nil
}

// FormatSID formats a binary objectSid as S-R-A-S1-S2-..., e.g.
// S-1-5-21-3623811015-3361044348-30300820-1013.
func FormatSID(b []byte) (string, error) {
	if len(b) < 8 || len(b) != 8+4*int(b[1]) {
		return "", fmt.Errorf("objectSid of %d bytes is malformed", len(b))
	}
	var auth uint64
	for _, c := range b[2:8] {
		auth = auth<<8 | uint64(c)
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "S-%d-%d", b[0], auth)
	for i := 8; i < len(b); i += 4 {
		fmt.Fprintf(&sb, "-%d", binary.LittleEndian.Uint32(b[i:i+4]))
	}
	return sb.String(), nil
}
