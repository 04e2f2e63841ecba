package ldapsource

import (
	"fmt"
	"hash/maphash"
	"maps"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/dirsync/dirsync/user"
)

func TestDedup_WithdrawsAnEmittedUserWhenALaterEntryCollides(t *testing.T) {
	var emitted []string
	d := newDedup(func(u user.User) error { emitted = append(emitted, u.ID); return nil })
	for _, e := range []mapped{
		{u: userWith("1", "uid=a", "alice", "a@example.com")},
		{u: userWith("2", "uid=c", "carol", "c@example.com")},
		{u: userWith("3", "uid=b", "ALICE", "b@example.com")},
		{u: userWith("4", "uid=d", "dave", "B@example.com")},
	} {
		if err := d.add(e); err != nil {
			t.Fatal(err)
		}
	}
	if len(emitted) != 2 || emitted[0] != "1" || emitted[1] != "2" {
		t.Fatalf("emitted %v, want [1 2]: an entry is passed on when nothing seen so far collides", emitted)
	}
	skipped := d.result()
	want := map[string]bool{"uid=a": true, "uid=b": false, "uid=d": false} // DN → withdrawn
	if len(skipped) != len(want) {
		t.Fatalf("skipped = %+v, want %d entries", skipped, len(want))
	}
	for _, s := range skipped {
		w, ok := want[s.DN]
		if !ok || s.Withdrawn != w || s.ID == "" {
			t.Errorf("skipped %+v, want withdrawn=%v with its ID", s, w)
		}
	}
	// uid=b collides on username with uid=a and on email with uid=d.
	for _, s := range skipped {
		if s.DN == "uid=b" && s.Reason != `duplicate username "alice" (also on uid=a); duplicate email "b@example.com" (also on uid=d)` {
			t.Errorf("uid=b reason = %q", s.Reason)
		}
	}
}

func disabledUser(u user.User) user.User {
	u.Active = false
	return u
}

// collidingDedup returns a dedup whose hash gives every value one of n
// hashes, so that different values share a hash.
func collidingDedup(n uint64, emit func(user.User) error) *dedup {
	d := newDedup(emit)
	d.hash = func(b []byte) uint64 {
		var h uint64
		for _, c := range b {
			h += uint64(c)
		}
		return h % n
	}
	return d
}

func TestDedup_DifferentValuesWithOneHashAreNotDuplicates(t *testing.T) {
	var emitted []string
	d := collidingDedup(1, func(u user.User) error { emitted = append(emitted, u.ID); return nil })
	for _, e := range []mapped{
		{u: userWith("1", "uid=a", "alice", "a@example.com")},
		{u: userWith("2", "uid=b", "bob", "b@example.com")},
		{u: userWith("3", "uid=c", "carol", "c@example.com")},
	} {
		if err := d.add(e); err != nil {
			t.Fatal(err)
		}
	}
	if s := d.result(); len(s) != 0 {
		t.Errorf("skipped = %+v, want none: the values differ, only their hash is the same", s)
	}
	if !slices.Equal(emitted, []string{"1", "2", "3"}) {
		t.Errorf("emitted %v, want [1 2 3]", emitted)
	}
}

func TestDedup_FindsDuplicatesAmongValuesWithOneHash(t *testing.T) {
	var emitted []string
	d := collidingDedup(1, func(u user.User) error { emitted = append(emitted, u.ID); return nil })
	for _, e := range []mapped{
		{u: userWith("1", "uid=a", "alice", "a@example.com")},
		{u: userWith("2", "uid=b", "bob", "b@example.com")},                 // first holder of "bob", not of the hash
		{u: userWith("3", "uid=c", "BOB", "c@example.com")},                 // duplicate of a value kept apart
		{u: disabledUser(userWith("4", "uid=d", "Alice", "d@example.com"))}, // duplicate of the hash's first holder
		{u: userWith("5", "uid=e", "erin", "B@Example.COM")},
		{u: userWith("3", "uid=f", "frank", "f@example.com")},
		{u: userWith("6", "uid=g", "gina", "g@example.com")},
	} {
		if err := d.add(e); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(emitted, []string{"1", "2", "6"}) {
		t.Errorf("emitted %v, want [1 2 6]", emitted)
	}
	want := []Skipped{
		{DN: "uid=a", ID: "1", Reason: `duplicate username "alice" (also on uid=d)`, Withdrawn: true},
		{DN: "uid=b", ID: "2", Reason: `duplicate username "bob" (also on uid=c); duplicate email "b@example.com" (also on uid=e)`, Withdrawn: true},
		{DN: "uid=c", ID: "3", Reason: `duplicate ID "3" (also on uid=f); duplicate username "bob" (also on uid=b)`},
		{DN: "uid=d", ID: "4", Reason: `duplicate username "alice" (also on uid=a)`, Disabled: true},
		{DN: "uid=e", ID: "5", Reason: `duplicate email "b@example.com" (also on uid=b)`},
		{DN: "uid=f", ID: "3", Reason: `duplicate ID "3" (also on uid=c)`},
	}
	if got := d.result(); !reflect.DeepEqual(got, want) {
		t.Errorf("result:\n got %+v\nwant %+v", got, want)
	}
}

// TestDedup_MatchesAMapOfStrings checks dedup, with its own hash and with
// hashes made to collide, against a plain map of lower-cased strings on
// inputs full of duplicates.
func TestDedup_MatchesAMapOfStrings(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(vals ...string) string { return vals[rng.IntN(len(vals))] }
	for round := range 200 {
		var in []mapped
		for i := range 1 + rng.IntN(40) {
			u := userWith(
				pick("", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12"),
				fmt.Sprintf("uid=u%02d,dc=example", i),
				pick("", "ann", "Ann", "bo", "BO", "İlk", "i̇lk", "\xffx", "\xefx", "ΣΑΣ", "σασ", "x", "y", "z", "w", "v"),
				pick("", "a@x", "A@X", "b@x", "ẞ@x", "ß@x", "c@x", "d@x", "e@x", "f@x", "g@x"),
			)
			u.Active = rng.IntN(3) > 0
			m := mapped{u: u}
			switch rng.IntN(20) {
			case 0:
				m.reason = "missing username"
			case 1:
				m.reason, m.u.ID = "ID attribute has 2 values", ""
				m.ids = []string{pick("1", "2", "3"), pick("4", "13", "14")}
			}
			in = append(in, m)
		}
		wantEmitted, wantSkipped := referenceDedup(in)
		for _, n := range []uint64{0, 1, 2, 3} { // 0: dedup's own hash
			var emitted []user.User
			emit := func(u user.User) error { emitted = append(emitted, u); return nil }
			d := newDedup(emit)
			if n > 0 {
				d = collidingDedup(n, emit)
			}
			for _, e := range in {
				if err := d.add(e); err != nil {
					t.Fatal(err)
				}
			}
			if got := d.result(); !reflect.DeepEqual(got, wantSkipped) || !reflect.DeepEqual(emitted, wantEmitted) {
				t.Fatalf("round %d, %d hashes: input %+v\nemitted %+v\n   want %+v\nskipped %+v\n   want %+v", round, n, in, emitted, wantEmitted, got, wantSkipped)
			}
		}
	}
}

// referenceDedup is what dedup does, written with maps of strings. An entry
// skipped for a reason of its own holds its values as any other, and is
// never emitted.
func referenceDedup(in []mapped) (emitted []user.User, skipped []Skipped) {
	values := func(e mapped) [][]string {
		ids := []string{e.u.ID}
		if len(e.ids) > 0 {
			ids = e.ids
		}
		return [][]string{ids, {strings.ToLower(e.u.Username)}, {strings.ToLower(e.u.Email)}}
	}
	names := []string{"ID", "username", "email"}
	wasEmitted := map[int]bool{}
	first := make([]map[string]int, 3)
	groups := make([]map[string][]int, 3)
	for f := range names {
		first[f], groups[f] = map[string]int{}, map[string][]int{}
	}
	for i, e := range in {
		dup := false
		for f, vs := range values(e) {
			for _, k := range vs {
				if k == "" {
					continue
				}
				j, seen := first[f][k]
				if !seen {
					first[f][k] = i
					continue
				}
				if groups[f][k] == nil {
					groups[f][k] = []int{j}
				}
				groups[f][k] = append(groups[f][k], i)
				dup = true
			}
		}
		if !dup && e.reason == "" {
			wasEmitted[i] = true
			emitted = append(emitted, e.u)
		}
	}
	reasons := map[int][]string{}
	for f := range names {
		for _, k := range slices.Sorted(maps.Keys(groups[f])) {
			for _, i := range groups[f][k] {
				var others []string
				for _, j := range groups[f][k] {
					if j != i {
						others = append(others, in[j].u.DN)
					}
				}
				reasons[i] = append(reasons[i], fmt.Sprintf("duplicate %s %q (also on %s)", names[f], k, strings.Join(others, "; ")))
			}
		}
	}
	for i, e := range in {
		rs := reasons[i]
		if e.reason != "" {
			skipped = append(skipped, Skipped{DN: e.u.DN, ID: e.u.ID, IDs: e.ids, Reason: strings.Join(append([]string{e.reason}, rs...), "; "), Disabled: !e.u.Active})
		} else if len(rs) > 0 {
			skipped = append(skipped, Skipped{DN: e.u.DN, ID: e.u.ID, Reason: strings.Join(rs, "; "), Disabled: !e.u.Active, Withdrawn: wasEmitted[i]})
		}
	}
	slices.SortFunc(skipped, func(a, b Skipped) int { return strings.Compare(a.DN, b.DN) })
	return emitted, skipped
}

func TestArena_KeepsWhatItStores(t *testing.T) {
	var a arena
	type stored struct {
		sp   span
		want string
	}
	var all []stored
	long := strings.Repeat("Long DN part, ", chunkSize/5) // spans several chunks
	// lower is s as a record holds it when lower-cased.
	lower := func(s string) []byte { v, _ := readValue(appendValue(nil, s, true)); return v }
	for i := range 3 * chunkSize / 20 {
		for _, s := range []string{"", "abc", "ABC xyz@Example.COM", "İstanbul", "\xff\xfe", "ẞ", "ΣΑΣ", "Ⱥ", "a\x00Z", "é", fmt.Sprint(i)} {
			all = append(all, stored{a.store(lower(s)), strings.ToLower(s)}, stored{a.store([]byte(s)), s})
		}
		if i%1000 == 0 {
			all = append(all, stored{a.store([]byte(long)), long}, stored{a.store(lower(long)), strings.ToLower(long)})
		}
	}
	if len(a.chunks) < 10 {
		t.Fatalf("the arena has %d chunks, want the test to fill more", len(a.chunks))
	}
	for _, s := range all {
		if got := a.str(s.sp); got != s.want {
			t.Fatalf("arena holds %q at %+v, want %q", got, s.sp, s.want)
		}
	}
}

// TestDedup_SkippedEntryHoldsItsValues: an entry skipped for a reason of its
// own holds its username, email and every value of a multi-valued ID; a
// valid entry sharing one, before or after it, is skipped as a duplicate and
// never stays emitted.
func TestDedup_SkippedEntryHoldsItsValues(t *testing.T) {
	var emitted []string
	d := newDedup(func(u user.User) error { emitted = append(emitted, u.ID); return nil })
	for _, e := range []mapped{
		{u: userWith("1", "uid=a", "alice", "a@example.com")},
		{u: userWith("", "uid=b", "bob", "A@Example.com"), ids: []string{"2", "3"}, reason: "ID attribute uid has 2 values, want one"},
		{u: userWith("3", "uid=c", "carol", "c@example.com")},
		{u: userWith("4", "uid=d", "", "d@example.com"), reason: "missing username (attribute uid)"},
		{u: userWith("5", "uid=e", "erin", "D@EXAMPLE.COM")},
		{u: userWith("6", "uid=f", "frank", "f@example.com")},
	} {
		if err := d.add(e); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(emitted, []string{"1", "6"}) {
		t.Errorf("emitted %v, want [1 6]", emitted)
	}
	want := []Skipped{
		{DN: "uid=a", ID: "1", Reason: `duplicate email "a@example.com" (also on uid=b)`, Withdrawn: true},
		{DN: "uid=b", IDs: []string{"2", "3"}, Reason: `ID attribute uid has 2 values, want one; duplicate ID "3" (also on uid=c); duplicate email "a@example.com" (also on uid=a)`},
		{DN: "uid=c", ID: "3", Reason: `duplicate ID "3" (also on uid=b)`},
		{DN: "uid=d", ID: "4", Reason: `missing username (attribute uid); duplicate email "d@example.com" (also on uid=e)`},
		{DN: "uid=e", ID: "5", Reason: `duplicate email "d@example.com" (also on uid=d)`},
	}
	if got := d.result(); !reflect.DeepEqual(got, want) {
		t.Errorf("result:\n got %+v\nwant %+v", got, want)
	}
}

func TestSplitDN_SplitsAtTheFirstUnescapedComma(t *testing.T) {
	tests := []struct{ dn, rdn, parent string }{
		{"uid=jdoe,ou=people,dc=example,dc=com", "uid=jdoe", "ou=people,dc=example,dc=com"},
		{`cn=Doe\, John,ou=people,dc=example`, `cn=Doe\, John`, "ou=people,dc=example"},
		{`cn=back\\,ou=people`, `cn=back\\`, "ou=people"},           // an escaped backslash, then a comma
		{`cn=back\\\,slash,ou=x`, `cn=back\\\,slash`, "ou=x"},       // an escaped backslash, then an escaped comma
		{`cn=Doe\2C John,ou=people`, `cn=Doe\2C John`, "ou=people"}, // a hex-escaped comma is no comma
		{"cn=John+uid=jdoe,dc=example", "cn=John+uid=jdoe", "dc=example"},
		{"cn=café,ou=Zürich", "cn=café", "ou=Zürich"},
		{"uid=a, ou=people", "uid=a", " ou=people"},
		{"uid=a,", "uid=a", ""},
		{",dc=x", "", "dc=x"},
	}
	for _, tt := range tests {
		rdn, parent, ok := splitDN(tt.dn)
		if !ok || rdn != tt.rdn || parent != tt.parent {
			t.Errorf("splitDN(%q) = %q, %q, %v; want %q, %q, true", tt.dn, rdn, parent, ok, tt.rdn, tt.parent)
		}
	}
	for _, dn := range []string{"", "cn=x", `cn=a\,b`, `cn=a\2Cb`, "cn=é\xff", `cn=trailing\`} {
		if rdn, parent, ok := splitDN(dn); ok || rdn != dn || parent != "" {
			t.Errorf("splitDN(%q) = %q, %q, %v; want the DN without a parent", dn, rdn, parent, ok)
		}
	}
}

// TestDedup_ReportsDNsAsRead: dedup keeps a DN as its first RDN and its
// parent, shared with other entries; the DNs it reports are the ones read,
// byte for byte.
func TestDedup_ReportsDNsAsRead(t *testing.T) {
	dns := []string{
		"uid=a,ou=people,dc=example,dc=com",
		"uid=b,ou=people,dc=example,dc=com",
		`cn=Doe\, John,ou=people,dc=example,dc=com`,
		`cn=back\\,ou=people,dc=example,dc=com`,
		`cn=Doe\2C Jane,ou=people,dc=example,dc=com`,
		"cn=John+uid=jdoe,ou=people,dc=example,dc=com",
		"cn=x",
		"",
		"cn=Zoë Ünal,ou=Zürich,dc=example,dc=com",
		"cn=bad\xff,ou=\xfe,dc=x",
		"uid=c, ou=people,dc=example,dc=com",
		"uid=d,",
		"uid=d",
		",",
		`cn=trailing\`,
	}
	for _, colliding := range []bool{false, true} {
		var in []mapped
		for i, dn := range dns {
			// Every entry shares its email with the next one, so that each
			// is reported and named as the other holder of a value.
			in = append(in, mapped{u: userWith(fmt.Sprint(i), dn, fmt.Sprint("user", i), fmt.Sprintf("%d@x", i/2))})
		}
		var emitted []user.User
		emit := func(u user.User) error { emitted = append(emitted, u); return nil }
		d := newDedup(emit)
		if colliding {
			d = collidingDedup(1, emit)
		}
		for _, e := range in {
			if err := d.add(e); err != nil {
				t.Fatal(err)
			}
		}
		wantEmitted, wantSkipped := referenceDedup(in)
		got := d.result()
		if len(got) != len(dns)-1 { // the last DN has no partner
			t.Fatalf("skipped %d entries, want %d: %+v", len(got), len(dns)-1, got)
		}
		if !reflect.DeepEqual(got, wantSkipped) || !reflect.DeepEqual(emitted, wantEmitted) {
			t.Errorf("colliding %v:\nemitted %+v\n   want %+v\nskipped %+v\n   want %+v", colliding, emitted, wantEmitted, got, wantSkipped)
		}
	}
}

// TestDedup_MatchesAMapOfStringsAsItGrows checks dedup against a plain map
// of strings on thousands of entries, where duplicates lie far apart and
// its tables are rebuilt many times, with its own hash and with hashes made
// to collide in the bits that tell values apart in a slot, or in those
// that place them.
func TestDedup_MatchesAMapOfStringsAsItGrows(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var in []mapped
	for i := range 5000 {
		// About one value in 50 is one of an earlier entry's.
		v := func(format string) string {
			if rng.IntN(50) == 0 {
				return fmt.Sprintf(format, rng.IntN(i+1))
			}
			return fmt.Sprintf(format, i)
		}
		m := mapped{u: userWith(v("id-%d"), fmt.Sprintf("uid=u%d,ou=o%d,dc=example", i, rng.IntN(300)), v("User%d"), v("U%d@Example.com"))}
		if rng.IntN(100) == 0 {
			m.reason, m.u.ID = "ID attribute has 2 values", ""
			m.ids = []string{v("id-%d"), fmt.Sprint("extra-", i)}
		}
		in = append(in, m)
	}
	wantEmitted, wantSkipped := referenceDedup(in)
	if len(wantSkipped) < 100 {
		t.Fatalf("the input has %d entries to skip, want more", len(wantSkipped))
	}
	seed := maphash.MakeSeed()
	for _, hash := range []struct {
		name string
		h    func([]byte) uint64
	}{
		{"own", nil},
		{"one top half", func(b []byte) uint64 { return maphash.Bytes(seed, b) & math.MaxUint32 }},
		{"bottom halves in 4096", func(b []byte) uint64 { return maphash.Bytes(seed, b) &^ (math.MaxUint32 - 4095) }},
	} {
		var emitted []user.User
		d := newDedup(func(u user.User) error { emitted = append(emitted, u); return nil })
		if hash.h != nil {
			d.hash = hash.h
		}
		for _, e := range in {
			if err := d.add(e); err != nil {
				t.Fatal(err)
			}
		}
		if got := d.result(); !reflect.DeepEqual(got, wantSkipped) || !reflect.DeepEqual(emitted, wantEmitted) {
			t.Fatalf("%s hash: emitted %d, want %d; skipped %d, want %d", hash.name, len(emitted), len(wantEmitted), len(got), len(wantSkipped))
		}
	}
}

// TestDedup_ReportsItsLimits: past what 32-bit offsets and indexes address,
// an entry is refused with an error naming it, and nothing is emitted.
func TestDedup_ReportsItsLimits(t *testing.T) {
	for name, fill := range map[string]func(d *dedup){
		"arena":   func(d *dedup) { d.arena.base = maxArena - 2*chunkSize },
		"entries": func(d *dedup) { d.n = math.MaxInt32 },
	} {
		emitted := 0
		d := newDedup(func(user.User) error { emitted++; return nil })
		fill(d)
		err := d.add(mapped{u: userWith("1", "uid=a,ou=people,dc=example", "alice", "a@example.com")})
		if err == nil || !strings.Contains(err.Error(), "entry uid=a,ou=people,dc=example") || !strings.Contains(err.Error(), "narrow it") {
			t.Errorf("%s full: error %v, want one naming the entry and saying to narrow the search", name, err)
		}
		if emitted != 0 {
			t.Errorf("%s full: emitted %d users", name, emitted)
		}
	}
}

// FuzzDedup_ReportsDNsAsRead: whatever its bytes, a DN is reported as read,
// on the entry skipped and as the other holder of a value.
func FuzzDedup_ReportsDNsAsRead(f *testing.F) {
	f.Add("uid=a,ou=people,dc=example,dc=com", "uid=b,ou=people,dc=example,dc=com")
	f.Add(`cn=Doe\, John,ou=people`, `cn=back\\,ou=people`)
	f.Add(`cn=a\2Cb,dc=x`, "cn=x")
	f.Add("", ",")
	f.Add(`cn=trailing\`, "cn=é\xff,ou=Zürich")
	f.Fuzz(func(t *testing.T, dn1, dn2 string) {
		d := newDedup(func(user.User) error { return nil })
		for i, dn := range []string{dn1, dn2} {
			if err := d.add(mapped{u: userWith(fmt.Sprint(i), dn, "same", fmt.Sprint(i, "@x"))}); err != nil {
				t.Fatal(err)
			}
		}
		got := d.result()
		want := []Skipped{
			{DN: dn1, ID: "0", Reason: fmt.Sprintf("duplicate username %q (also on %s)", "same", dn2), Withdrawn: true},
			{DN: dn2, ID: "1", Reason: fmt.Sprintf("duplicate username %q (also on %s)", "same", dn1)},
		}
		// The result is sorted by DN, equal DNs in any order.
		slices.SortStableFunc(got, func(a, b Skipped) int { return strings.Compare(a.ID, b.ID) })
		if !reflect.DeepEqual(got, want) {
			t.Errorf("result:\n got %+v\nwant %+v", got, want)
		}
	})
}
