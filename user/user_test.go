package user_test

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/dirsync/dirsync/user"
)

func full() user.User {
	return user.User{
		ID:          "0f6c2a1e-1",
		DN:          "CN=Alice Smith,OU=Staff,DC=corp,DC=example,DC=com",
		Username:    "asmith",
		Email:       "alice@example.com",
		GivenName:   "Alice",
		FamilyName:  "Smith",
		DisplayName: "Alice Smith",
		Active:      true,
		Groups:      []string{"cn=eng,ou=groups", "cn=staff,ou=groups"},
		Extra:       map[string]string{"department": "R&D", "title": "Engineer"},
	}
}

func TestNormalize_TrimsSurroundingWhiteSpace(t *testing.T) {
	in := user.User{
		ID:          " id-1\t",
		DN:          "CN=x",
		Username:    "\n asmith ",
		Email:       " alice@example.com ",
		GivenName:   " Alice",
		FamilyName:  "Smith ",
		DisplayName: "  Alice  Smith  ",
		Extra:       map[string]string{"title": "  Engineer "},
	}
	got := in.Normalize()
	want := user.User{
		ID:          "id-1",
		DN:          "CN=x",
		Username:    "asmith",
		Email:       "alice@example.com",
		GivenName:   "Alice",
		FamilyName:  "Smith",
		DisplayName: "Alice  Smith", // inner white space is data
		Extra:       map[string]string{"title": "Engineer"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Normalize:\n got %#v\nwant %#v", got, want)
	}
}

func TestNormalize_GroupsLowerCasedSortedDeduplicated(t *testing.T) {
	in := user.User{Groups: []string{"CN=Staff,OU=Groups", " cn=eng,ou=groups", "cn=staff,ou=groups", "", "  ", "CN=ENG,OU=GROUPS "}}
	got := in.Normalize().Groups
	want := []string{"cn=eng,ou=groups", "cn=staff,ou=groups"}
	if !slices.Equal(got, want) {
		t.Fatalf("groups = %q, want %q", got, want)
	}
	if in.Groups[0] != "CN=Staff,OU=Groups" {
		t.Errorf("Normalize modified its receiver's groups: %q", in.Groups)
	}
}

func TestNormalize_EmptyValuesBecomeNil(t *testing.T) {
	tests := []struct {
		name string
		in   user.User
	}{
		{"empty slices and maps", user.User{Groups: []string{}, Extra: map[string]string{}}},
		{"only blank groups and extra values", user.User{Groups: []string{"", " "}, Extra: map[string]string{"a": "", "b": "  "}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.in.Normalize()
			if got.Groups != nil || got.Extra != nil {
				t.Fatalf("Normalize = groups %#v, extra %#v; want both nil", got.Groups, got.Extra)
			}
		})
	}
}

func TestNormalize_DropsEmptyExtraValuesOnly(t *testing.T) {
	in := user.User{Extra: map[string]string{"department": " ", "title": "Engineer", "cost_center": ""}}
	got := in.Normalize().Extra
	want := map[string]string{"title": "Engineer"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("extra = %v, want %v", got, want)
	}
	if len(in.Extra) != 3 {
		t.Errorf("Normalize modified its receiver's extra map: %v", in.Extra)
	}
}

func TestNormalize_IsIdempotent(t *testing.T) {
	u := full()
	u.Groups = []string{"B", "a", "b"}
	once := u.Normalize()
	twice := once.Normalize()
	if !reflect.DeepEqual(once, twice) {
		t.Fatalf("Normalize is not idempotent:\n once %#v\ntwice %#v", once, twice)
	}
}

func TestHash_StableForEquivalentUsers(t *testing.T) {
	a := full().Normalize()
	b := full()
	b.Groups = []string{" CN=Staff,OU=Groups", "cn=eng,ou=groups", "CN=ENG,OU=GROUPS"}
	b.Extra = map[string]string{"title": "Engineer ", "department": "R&D", "empty": ""}
	b.Username = " asmith"
	b = b.Normalize()
	if h1, h2 := a.Hash(), a.Hash(); h1 != h2 {
		t.Fatal("Hash differs between two calls on the same user")
	}
	if a.Hash() != b.Hash() {
		t.Fatalf("users that normalize to the same data hash differently: %s vs %s", a.Hash(), b.Hash())
	}
	if len(a.Hash()) != 32 {
		t.Errorf("Hash length = %d, want 32 hex digits", len(a.Hash()))
	}
}

func TestHash_IgnoresDN(t *testing.T) {
	a := full()
	b := full()
	b.DN = "CN=Alice Jones,OU=Moved,DC=corp,DC=example,DC=com"
	if a.Hash() != b.Hash() {
		t.Fatal("a DN change changed the hash")
	}
	b.DN = ""
	if a.Hash() != b.Hash() {
		t.Fatal("an empty DN changed the hash")
	}
}

// mutations change exactly one pushed field of a normalized user.
var mutations = []struct {
	name string
	fn   func(*user.User)
}{
	{"id", func(u *user.User) { u.ID += "x" }},
	{"username", func(u *user.User) { u.Username = "asmith2" }},
	{"email", func(u *user.User) { u.Email = "alice.smith@example.com" }},
	{"given name", func(u *user.User) { u.GivenName = "Alicia" }},
	{"family name", func(u *user.User) { u.FamilyName = "Jones" }},
	{"display name", func(u *user.User) { u.DisplayName = "Alicia Jones" }},
	{"active", func(u *user.User) { u.Active = !u.Active }},
	{"group added", func(u *user.User) { u.Groups = append(slices.Clone(u.Groups), "cn=ops,ou=groups") }},
	{"group removed", func(u *user.User) { u.Groups = u.Groups[:1] }},
	{"group renamed", func(u *user.User) { u.Groups = []string{"cn=eng,ou=groups", "cn=sales,ou=groups"} }},
	{"groups cleared", func(u *user.User) { u.Groups = nil }},
	{"extra added", func(u *user.User) {
		u.Extra = map[string]string{"department": "R&D", "title": "Engineer", "office": "Paris"}
	}},
	{"extra changed", func(u *user.User) { u.Extra = map[string]string{"department": "Sales", "title": "Engineer"} }},
	{"extra removed", func(u *user.User) { u.Extra = map[string]string{"title": "Engineer"} }},
	{"extra renamed", func(u *user.User) { u.Extra = map[string]string{"dept": "R&D", "title": "Engineer"} }},
	{"extra cleared", func(u *user.User) { u.Extra = nil }},
	{"value moved between fields", func(u *user.User) { u.GivenName, u.FamilyName = u.FamilyName, u.GivenName }},
}

func TestHash_ChangesWithEveryPushedField(t *testing.T) {
	base := full().Normalize()
	for _, m := range mutations {
		t.Run(m.name, func(t *testing.T) {
			u := full().Normalize()
			m.fn(&u)
			if u.Hash() == base.Hash() {
				t.Fatalf("changing %s did not change the hash", m.name)
			}
			if user.Equal(base, u) || user.Equal(u, base) {
				t.Fatalf("Equal reports users differing in %s as equal", m.name)
			}
		})
	}
}

func TestHash_SeparatesFieldBoundaries(t *testing.T) {
	pairs := []struct {
		name string
		a, b user.User
	}{
		{"username/email", user.User{Username: "ab"}, user.User{Username: "a", Email: "b"}},
		{"groups", user.User{Groups: []string{"a", "b"}}, user.User{Groups: []string{"ab"}}},
		{"extra key/value", user.User{Extra: map[string]string{"ab": "c"}}, user.User{Extra: map[string]string{"a": "bc"}}},
		{"invalid UTF-8", user.User{Username: "\xff"}, user.User{Username: "\xfe"}},
		{"invalid UTF-8 vs replacement char", user.User{Username: "\xff"}, user.User{Username: "\uFFFD"}},
	}
	for _, p := range pairs {
		t.Run(p.name, func(t *testing.T) {
			if p.a.Hash() == p.b.Hash() {
				t.Fatalf("%#v and %#v hash the same", p.a, p.b)
			}
		})
	}
}

func TestEqual_IgnoresDN(t *testing.T) {
	a, b := full(), full()
	b.DN = "CN=other"
	if !user.Equal(a, b) {
		t.Fatal("Equal compares DN")
	}
}

// randomUser draws from small alphabets so that two independent draws are
// sometimes equal, and includes bytes that are not valid UTF-8: directory data is
// not guaranteed to be.
func randomUser(r *rand.Rand) user.User {
	pick := func(vals ...string) string { return vals[r.IntN(len(vals))] }
	str := func() string { return pick("", "a", "b", "A", "a b", "\xff", "\xfe", "\uFFFD", "é", "<&>") }
	u := user.User{
		ID:          pick("1", "2"),
		DN:          str(),
		Username:    str(),
		Email:       str(),
		GivenName:   str(),
		FamilyName:  str(),
		DisplayName: str(),
		Active:      r.IntN(2) == 0,
	}
	for range r.IntN(3) {
		u.Groups = append(u.Groups, str())
	}
	if n := r.IntN(3); n > 0 {
		u.Extra = map[string]string{}
		for range n {
			u.Extra[pick("k", "l", "")] = str()
		}
	}
	return u.Normalize()
}

func TestEqual_AgreesWithHashEquality(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 0))
	var equal, different int
	for range 20000 {
		a := randomUser(r)
		var b user.User
		if r.IntN(2) == 0 {
			b = randomUser(r)
		} else {
			// A near copy: one field re-drawn.
			b = a
			c := randomUser(r)
			switch r.IntN(9) {
			case 0:
				b.Username = c.Username
			case 1:
				b.Email = c.Email
			case 2:
				b.GivenName = c.GivenName
			case 3:
				b.FamilyName = c.FamilyName
			case 4:
				b.DisplayName = c.DisplayName
			case 5:
				b.Active = c.Active
			case 6:
				b.Groups = c.Groups
			case 7:
				b.Extra = c.Extra
			case 8:
				b.DN = c.DN
			}
		}
		eq := user.Equal(a, b)
		if eq != user.Equal(b, a) {
			t.Fatalf("Equal is not symmetric for\n%#v\n%#v", a, b)
		}
		if hashEq := a.Hash() == b.Hash(); eq != hashEq {
			t.Fatalf("Equal = %v but hash equality = %v for\n%#v\n%#v", eq, hashEq, a, b)
		}
		if eq {
			equal++
		} else {
			different++
		}
	}
	// Both branches must have been exercised for the property to mean anything.
	if equal < 100 || different < 100 {
		t.Fatalf("weak sample: %d equal pairs, %d different pairs", equal, different)
	}
}

func TestCompare_ListsChangedFieldsInFixedOrder(t *testing.T) {
	old := full()
	new := user.User{
		ID:          old.ID,
		DN:          "CN=moved",
		Username:    "ajones",
		Email:       "alice.jones@example.com",
		GivenName:   "Alicia",
		FamilyName:  "Jones",
		DisplayName: "Alicia Jones",
		Active:      false,
		Groups:      []string{"cn=eng,ou=groups"},
		Extra:       map[string]string{"title": "Manager", "office": "Paris"},
	}
	got := user.Compare(old, new)
	want := []user.FieldChange{
		{Field: user.FieldUsername, Old: "asmith", New: "ajones"},
		{Field: user.FieldEmail, Old: "alice@example.com", New: "alice.jones@example.com"},
		{Field: user.FieldGivenName, Old: "Alice", New: "Alicia"},
		{Field: user.FieldFamilyName, Old: "Smith", New: "Jones"},
		{Field: user.FieldDisplayName, Old: "Alice Smith", New: "Alicia Jones"},
		{Field: user.FieldActive, Old: "true", New: "false"},
		{Field: user.FieldGroups, Old: "cn=eng,ou=groups; cn=staff,ou=groups", New: "cn=eng,ou=groups"},
		{Field: "extra.department", Old: "R&D", New: ""},
		{Field: "extra.office", Old: "", New: "Paris"},
		{Field: "extra.title", Old: "Engineer", New: "Manager"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Compare:\n got %+v\nwant %+v", got, want)
	}
}

func TestCompare_EachFieldAlone(t *testing.T) {
	tests := []struct {
		field string
		fn    func(*user.User)
	}{
		{user.FieldUsername, func(u *user.User) { u.Username = "x" }},
		{user.FieldEmail, func(u *user.User) { u.Email = "x@example.com" }},
		{user.FieldGivenName, func(u *user.User) { u.GivenName = "X" }},
		{user.FieldFamilyName, func(u *user.User) { u.FamilyName = "X" }},
		{user.FieldDisplayName, func(u *user.User) { u.DisplayName = "X" }},
		{user.FieldActive, func(u *user.User) { u.Active = false }},
		{user.FieldGroups, func(u *user.User) { u.Groups = nil }},
		{"extra.title", func(u *user.User) { u.Extra = map[string]string{"department": "R&D"} }},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			u := full()
			tt.fn(&u)
			got := user.Compare(full(), u)
			if len(got) != 1 || got[0].Field != tt.field {
				t.Fatalf("Compare = %+v, want one change of %s", got, tt.field)
			}
		})
	}
}

func TestCompare_IgnoresDNAndEqualUsers(t *testing.T) {
	a, b := full(), full()
	b.DN = "CN=elsewhere"
	if got := user.Compare(a, b); got != nil {
		t.Fatalf("Compare = %+v, want nil", got)
	}
}

// The snapshot stores hashes: a change of encoding makes every record look
// changed once. This pins the encoding so that such a change is deliberate.
func TestHash_EncodingIsPinned(t *testing.T) {
	const want = "0a894d8fa9698e0877636257a15d8c3b"
	if got := full().Normalize().Hash(); got != want {
		t.Fatalf("Hash = %s, want %s", got, want)
	}
}

func TestCheckPlatformID_RefusesIDsThatAreNotOnePathSegment(t *testing.T) {
	for _, id := range []string{"", ".", "..", "a/b", "../x", `a\b`, "a?b", "a#b", "a\nb", "a\x00"} {
		if user.CheckPlatformID(id) == nil {
			t.Errorf("CheckPlatformID(%q) = nil, want an error", id)
		}
	}
	for _, id := range []string{"2819c223-7f76-453a-919d-413861904646", "00u1a2b3c4", "a.b", "...", "user@example.com", "a b", "%2E"} {
		if err := user.CheckPlatformID(id); err != nil {
			t.Errorf("CheckPlatformID(%q) = %v, want nil", id, err)
		}
	}
}
