package ldapsource

import (
	"encoding/hex"
	"slices"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/dirsync/dirsync/user"
)

func TestFormatGUID_MatchesActiveDirectoryFormat(t *testing.T) {
	// The GUID {3F2504E0-4F89-11D3-9A0C-0305E82C3301} as AD stores it:
	// the first three groups little-endian.
	b, _ := hex.DecodeString("e004253f894fd3119a0c0305e82c3301")
	got, err := FormatGUID(b)
	if err != nil {
		t.Fatal(err)
	}
	if want := "3f2504e0-4f89-11d3-9a0c-0305e82c3301"; got != want {
		t.Errorf("FormatGUID = %s, want %s", got, want)
	}
	if _, err := FormatGUID(b[:15]); err == nil {
		t.Error("FormatGUID accepted 15 bytes")
	}
}

func TestFormatSID_FormatsWellKnownDomainSID(t *testing.T) {
	b, _ := hex.DecodeString("010500000000000515000000c7f7fed77c7755c8945ace01f5030000")
	got, err := FormatSID(b)
	if err != nil {
		t.Fatal(err)
	}
	if want := "S-1-5-21-3623811015-3361044348-30300820-1013"; got != want {
		t.Errorf("FormatSID = %s, want %s", got, want)
	}
	if _, err := FormatSID(b[:len(b)-1]); err == nil {
		t.Error("FormatSID accepted a truncated SID")
	}
}

func TestRangeEnd_ParsesADRangedAttributes(t *testing.T) {
	for name, want := range map[string]int{"member;range=0-1499": 1499, "member;range=1500-*": -1} {
		if got, ok := rangeEnd(name); !ok || got != want {
			t.Errorf("rangeEnd(%q) = %d, %v; want %d", name, got, ok, want)
		}
	}
	if _, ok := rangeEnd("member;range=0"); ok {
		t.Error("rangeEnd accepted a range without an end")
	}
}

func TestResolveDuplicates_SkipsEveryEntrySharingAValue(t *testing.T) {
	in := []mapped{
		{u: userWith("1", "uid=a", "alice", "a@example.com")},
		{u: userWith("2", "uid=b", "ALICE", "b@example.com")},
		{u: userWith("3", "uid=c", "carol", "shared@example.com")},
		{u: userWith("4", "uid=d", "dave", "Shared@Example.com")},
		{u: userWith("5", "uid=e", "erin", "")},
		{u: userWith("5", "uid=f", "frank", "")},
		{u: userWith("6", "uid=g", "gina", "")},
		{u: userWith("7", "uid=h", "hank", "")},
		{u: userWith("", "uid=x", "", ""), reason: "missing ID (attribute entryUUID)"},
	}
	users, skipped := resolveDuplicates(in)
	if len(users) != 2 || users[0].ID != "6" || users[1].ID != "7" {
		t.Errorf("users = %+v, want only IDs 6 and 7", users)
	}
	want := map[string]string{
		"uid=a": "duplicate username", "uid=b": "duplicate username",
		"uid=c": "duplicate email", "uid=d": "duplicate email",
		"uid=e": "duplicate ID", "uid=f": "duplicate ID",
		"uid=x": "missing ID",
	}
	if len(skipped) != len(want) {
		t.Fatalf("skipped = %+v, want %d entries", skipped, len(want))
	}
	for _, s := range skipped {
		if !strings.Contains(s.Reason, want[s.DN]) {
			t.Errorf("%s skipped for %q, want %q", s.DN, s.Reason, want[s.DN])
		}
		if s.DN != "uid=x" && s.ID == "" {
			t.Errorf("%s skipped without its ID", s.DN)
		}
	}
}

func userWith(id, dn, username, email string) (u user.User) {
	u.ID, u.DN, u.Username, u.Email, u.Active = id, dn, username, email, true
	return u
}

// TestMapEntry_SkippedEntryKeepsItsIDAndWhetherItIsDisabled: whatever makes
// an entry be skipped after its ID was read, the skip keeps the ID and says
// whether the entry is disabled (by the disabled filter or AD's
// userAccountControl), so that a leaver's account is still archived; an ID
// attribute with several values gives each of them.
func TestMapEntry_SkippedEntryKeepsItsIDAndWhetherItIsDisabled(t *testing.T) {
	c := Default()
	c.IDAttribute = "uid"
	c.Attributes.Username = "cn"
	c.Attributes.Extra = map[string]string{"title": "title"}
	m := newMapper(c)
	tests := []struct {
		name         string
		attrs        map[string][]string
		filtered     bool // matched by the disabled filter
		wantReason   string
		wantID       string
		wantIDs      []string
		wantDisabled bool
	}{
		{"invalid data, disabled by the filter", map[string][]string{"uid": {"u1"}, "cn": {"a"}, "title": {"\xff"}}, true,
			"invalid UTF-8 in title", "u1", nil, true},
		{"missing username, disabled by userAccountControl", map[string][]string{"uid": {"u2"}, "userAccountControl": {"514"}}, false,
			"missing username", "u2", nil, true},
		{"missing username, active", map[string][]string{"uid": {"u3"}}, false,
			"missing username", "u3", nil, false},
		{"unreadable userAccountControl, disabled by the filter", map[string][]string{"uid": {"u4"}, "cn": {"d"}, "userAccountControl": {"x"}}, true,
			"is not a number", "u4", nil, true},
		{"unreadable userAccountControl", map[string][]string{"uid": {"u5"}, "cn": {"e"}, "userAccountControl": {"x"}}, false,
			"is not a number", "u5", nil, false},
		{"several ID values", map[string][]string{"uid": {"u6", " u7 ", "u6"}, "cn": {"f"}, "userAccountControl": {"514"}}, false,
			"has 3 values", "", []string{"u6", "u7"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := m.mapEntry(ldap.NewEntry("cn=x,dc=example", tt.attrs), "cn=x,dc=example", tt.filtered)
			if !strings.Contains(got.reason, tt.wantReason) {
				t.Fatalf("reason %q, want %q", got.reason, tt.wantReason)
			}
			if got.u.ID != tt.wantID || !slices.Equal(got.ids, tt.wantIDs) {
				t.Errorf("ID %q, IDs %q; want %q, %q", got.u.ID, got.ids, tt.wantID, tt.wantIDs)
			}
			d := newDedup(func(user.User) error { return nil })
			if err := d.add(got); err != nil {
				t.Fatal(err)
			}
			s := d.result()[0]
			if s.Disabled != tt.wantDisabled || s.ID != tt.wantID || !slices.Equal(s.IDs, tt.wantIDs) {
				t.Errorf("skip %+v, want ID %q, IDs %q, disabled %v", s, tt.wantID, tt.wantIDs, tt.wantDisabled)
			}
		})
	}
}

// TestMapEntry_EntryWithoutReadableIDKeepsItsUsernameAndEmail: an entry
// skipped because its ID cannot be read is still read for its username and
// email, which duplicate detection counts.
func TestMapEntry_EntryWithoutReadableIDKeepsItsUsernameAndEmail(t *testing.T) {
	m := newMapper(Default())
	for name, attrs := range map[string]map[string][]string{
		"no ID":             {"uid": {"bob"}, "mail": {" Bob@Example.com "}},
		"several ID values": {"entryUUID": {"x1", "x2"}, "uid": {"bob"}, "mail": {" Bob@Example.com "}},
	} {
		got := m.mapEntry(ldap.NewEntry("uid=bob,dc=example", attrs), "uid=bob,dc=example", false)
		if got.reason == "" || got.u.Username != "bob" || got.u.Email != "Bob@Example.com" {
			t.Errorf("%s: reason %q, username %q, email %q; want skipped with bob and Bob@Example.com", name, got.reason, got.u.Username, got.u.Email)
		}
	}
}
