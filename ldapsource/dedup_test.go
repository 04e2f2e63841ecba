package ldapsource

import (
	"fmt"
	"maps"
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
	for i := range 3 * chunkSize / 20 {
		for _, s := range []string{"", "abc", "ABC xyz@Example.COM", "İstanbul", "\xff\xfe", "ẞ", "ΣΑΣ", "Ⱥ", "a\x00Z", "é", fmt.Sprint(i)} {
			all = append(all, stored{a.store(s, true), strings.ToLower(s)}, stored{a.store(s, false), s})
		}
		if i%1000 == 0 {
			all = append(all, stored{a.store(long, false), long}, stored{a.store(long, true), strings.ToLower(long)})
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
