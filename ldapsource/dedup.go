package ldapsource

import (
	"fmt"
	"hash/maphash"
	"maps"
	"math"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/dirsync/dirsync/user"
)

// dedup hands mapped entries on as users as they arrive, and skips every
// entry that shares an ID, a username or an email (case-insensitively) with
// another: which one is right cannot be known. An entry is passed on when it
// arrives if nothing seen so far collides with it; when a later entry
// collides, the earlier one is withdrawn (see sync.Streamer).
//
// An entry skipped for a reason of its own (invalid data, no username, an ID
// that cannot be read) still counts with the values that could be read of
// it, each value of a multi-valued ID included: a valid entry sharing one
// is a duplicate, so that it can never take the skipped person's account or
// identity. The skipped entry keeps its own reason first.
//
// It keeps per entry its DN, its ID and its lower-cased username and email,
// not the user. A sync holds one dedup for the whole directory, so that state
// is kept free of pointers for the garbage collector not to scan it: the bytes
// live in an arena, entries refer to them by offset, and the values are
// indexed by a 64-bit hash whose every match is checked against the stored
// bytes. Both the arena and the entries grow by chunks, never copied.
type dedup struct {
	emit  func(user.User) error
	hash  func([]byte) uint64 // maphash with a seed of its own; tests replace it
	arena arena
	refs  [][]entryRef                     // entry i is refs[i/refChunkLen][i%refChunkLen]
	n     int32                            // entries in refs
	first [len(dupFields)]map[uint64]int32 // hash of a value → first entry holding it
	// other holds the values whose hash slot in first belongs to another
	// value (a real 64-bit hash collision): value → first entry holding it.
	other   [len(dupFields)]map[string]int32
	groups  [len(dupFields)]map[string][]int32 // value → every entry holding it, when two or more do
	skipped []Skipped                          // entries with a reason of their own
}

// refChunkLen is how many entries a chunk of dedup.refs holds.
const refChunkLen = 1024

type entryRef struct {
	dn span
	// keys are the entry's values in dupFields order; the first is its ID.
	// A value that repeats an earlier one points at the earlier bytes.
	keys [len(dupFields)]span
	// skip, when not 0, is 1 + the index in dedup.skipped of the entry,
	// skipped for a reason of its own. Such an entry has one more ref per
	// further value of a multi-valued ID, with the same DN and skip.
	skip     int32
	emitted  bool
	disabled bool
}

// dupFields are the values that must be unique, in the order their reasons
// are given.
var dupFields = [...]struct {
	name  string
	lower bool // compared case-insensitively (as by strings.ToLower)
}{
	{"ID", false},
	{"username", true},
	{"email", true},
}

// dupValues returns u's values in dupFields order.
func dupValues(u *user.User) [len(dupFields)]string {
	return [...]string{u.ID, u.Username, u.Email}
}

func newDedup(emit func(user.User) error) *dedup {
	seed := maphash.MakeSeed()
	d := &dedup{emit: emit, hash: func(b []byte) uint64 { return maphash.Bytes(seed, b) }}
	for f := range dupFields {
		d.first[f] = make(map[uint64]int32)
		d.other[f] = make(map[string]int32)
		d.groups[f] = make(map[string][]int32)
	}
	return d
}

// add takes the next entry.
func (d *dedup) add(e mapped) error {
	var skip int32
	if e.reason != "" {
		d.skipped = append(d.skipped, Skipped{DN: e.u.DN, ID: e.u.ID, IDs: e.ids, Reason: e.reason, Disabled: !e.u.Active})
		skip = int32(len(d.skipped))
	}
	// Lower-casing makes a string at most three times longer (an invalid
	// byte becomes U+FFFD).
	count, size := 4, len(e.u.DN)+len(e.u.ID)+3*(len(e.u.Username)+len(e.u.Email))
	for _, id := range e.ids {
		count, size = count+1, size+len(id)
	}
	if !d.arena.fits(count, size) || int(d.n) > math.MaxInt32-(1+len(e.ids)) {
		return fmt.Errorf("ldapsource: entry %s: duplicate detection keeps track of at most %d entries and %d bytes of their DNs, IDs, usernames and emails, and the search returns more; narrow it (base DN or filter)", e.u.DN, math.MaxInt32, maxArena)
	}
	dn := d.arena.store(e.u.DN, false)
	dup := d.insert(entryRef{dn: dn, skip: skip, disabled: !e.u.Active}, dupValues(&e.u))
	// One of the values of a multi-valued ID is the entry's ID: each is
	// held as an ID of an entry of its own, with the same DN.
	for _, id := range e.ids {
		d.insert(entryRef{dn: dn, skip: skip, disabled: !e.u.Active}, [len(dupFields)]string{id})
	}
	if dup || skip != 0 {
		return nil
	}
	return d.emit(e.u)
}

// insert stores r with the values vals, in dupFields order, and says
// whether a value was held before. r is emitted if none was and r is not
// skipped.
func (d *dedup) insert(r entryRef, vals [len(dupFields)]string) (dup bool) {
	i := d.n
	for f, v := range vals {
		r.keys[f] = d.arena.store(v, dupFields[f].lower)
		if v == "" {
			continue
		}
		k := d.arena.bytes(r.keys[f])
		j, seen := d.firstHolder(f, k, i)
		if !seen {
			continue
		}
		// The value is the same as entry j's: drop the copy just stored.
		d.arena.drop(r.keys[f])
		r.keys[f] = d.ref(j).keys[f]
		k = d.arena.bytes(r.keys[f])
		if g := d.groups[f][string(k)]; g == nil {
			d.groups[f][string(k)] = []int32{j, i}
		} else {
			d.groups[f][string(k)] = append(g, i)
		}
		dup = true
	}
	r.emitted = !dup && r.skip == 0
	if c := len(d.refs) - 1; c < 0 || len(d.refs[c]) == refChunkLen {
		d.refs = append(d.refs, make([]entryRef, 0, refChunkLen))
	}
	d.refs[len(d.refs)-1] = append(d.refs[len(d.refs)-1], r)
	d.n++
	return dup
}

// ref returns entry i.
func (d *dedup) ref(i int32) *entryRef { return &d.refs[i/refChunkLen][i%refChunkLen] }

// firstHolder returns the first entry holding value k of field f, or records
// entry i as its first holder and returns false.
func (d *dedup) firstHolder(f int, k []byte, i int32) (int32, bool) {
	h := d.hash(k)
	j, seen := d.first[f][h]
	if !seen {
		d.first[f][h] = i
		return 0, false
	}
	if string(d.arena.bytes(d.ref(j).keys[f])) == string(k) {
		return j, true
	}
	// Another value has this hash: the value is told apart by its bytes.
	if j, seen := d.other[f][string(k)]; seen {
		return j, true
	}
	d.other[f][string(k)] = i
	return 0, false
}

// arena holds strings in chunks of chunkSize bytes (or of a multiple of it,
// for a longer string) that are never moved, addressed by a 32-bit offset.
type arena struct {
	// chunks[c] holds the bytes from offset c*chunkSize on; a chunk made for
	// a long string appears once per chunkSize bytes it covers.
	chunks [][]byte
	cur    []byte // the chunk being filled, from offset base on
	base   int
}

// span is where a string lies in an arena.
type span struct{ off, len uint32 }

const (
	chunkShift = 16
	chunkSize  = 1 << chunkShift
	// maxArena is the end of the offsets a span can address (and of what a
	// slice can hold).
	maxArena = min(1<<32, math.MaxInt)
)

// fits says whether count strings of n bytes in all can still be stored.
func (a *arena) fits(count, n int) bool {
	// Each string may start a chunk, which it rounds up to chunkSize.
	return n <= maxArena-(a.base+cap(a.cur))-count*chunkSize
}

// store copies s into the arena, lower-cased (exactly as strings.ToLower
// does) if lower is set, and returns where it lies. add has checked that it
// fits.
func (a *arena) store(s string, lower bool) span {
	if lower && !isASCII(s) {
		s, lower = strings.ToLower(s), false
	}
	if len(s) > cap(a.cur)-len(a.cur) {
		size := (len(s) + chunkSize - 1) &^ (chunkSize - 1)
		buf := make([]byte, max(size, chunkSize))
		a.base = len(a.chunks) * chunkSize
		for o := 0; o < len(buf); o += chunkSize {
			a.chunks = append(a.chunks, buf[o:])
		}
		a.cur = buf[:0]
	}
	off := a.base + len(a.cur)
	if lower {
		for i := 0; i < len(s); i++ {
			c := s[i]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			a.cur = append(a.cur, c)
		}
	} else {
		a.cur = append(a.cur, s...)
	}
	return span{off: uint32(off), len: uint32(len(s))}
}

// drop takes back sp, the last span stored.
func (a *arena) drop(sp span) { a.cur = a.cur[:int(sp.off)-a.base] }

// bytes returns the bytes at sp.
func (a *arena) bytes(sp span) []byte {
	if sp.len == 0 {
		return nil
	}
	o := sp.off & (chunkSize - 1)
	return a.chunks[sp.off>>chunkShift][o : o+sp.len]
}

// str returns the string at sp.
func (a *arena) str(sp span) string { return string(a.bytes(sp)) }

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// result returns the skipped entries, ordered by DN; those already emitted
// are marked Withdrawn. An entry skipped for a reason of its own gives that
// reason first, then its duplicates.
func (d *dedup) result() []Skipped {
	// reasons are keyed by entry, or by -skip for an entry skipped for a
	// reason of its own (which may have several refs).
	reasons := make(map[int32][]string)
	for f, field := range dupFields {
		for _, k := range slices.Sorted(maps.Keys(d.groups[f])) {
			idx := d.groups[f][k]
			for _, i := range idx {
				var others []string
				for _, j := range idx {
					if j != i {
						others = append(others, d.arena.str(d.ref(j).dn))
					}
				}
				key := i
				if s := d.ref(i).skip; s != 0 {
					key = -s
				}
				reasons[key] = append(reasons[key], fmt.Sprintf("duplicate %s %q (also on %s)", field.name, k, strings.Join(others, "; ")))
			}
		}
	}
	out := slices.Clone(d.skipped)
	for s := range out {
		if rs := reasons[-int32(s+1)]; len(rs) > 0 {
			out[s].Reason += "; " + strings.Join(rs, "; ")
		}
	}
	for i := range d.n {
		if rs := reasons[i]; len(rs) > 0 {
			r := d.ref(i)
			out = append(out, Skipped{DN: d.arena.str(r.dn), ID: d.arena.str(r.keys[0]), Reason: strings.Join(rs, "; "), Disabled: r.disabled, Withdrawn: r.emitted})
		}
	}
	slices.SortFunc(out, func(a, b Skipped) int { return strings.Compare(a.DN, b.DN) })
	return out
}

// resolveDuplicates splits entries into users, sorted by ID, and skipped
// entries, sorted by DN (see dedup).
func resolveDuplicates(entries []mapped) ([]user.User, []Skipped) {
	users := make([]user.User, 0, len(entries))
	d := newDedup(func(u user.User) error { users = append(users, u); return nil })
	for _, e := range entries {
		_ = d.add(e) // emit never fails
	}
	return withoutWithdrawn(users, d.result())
}

// withoutWithdrawn drops the withdrawn users and sorts the rest by ID.
func withoutWithdrawn(users []user.User, skipped []Skipped) ([]user.User, []Skipped) {
	withdrawn := make(map[string]bool)
	for i := range skipped {
		if skipped[i].Withdrawn {
			withdrawn[skipped[i].ID] = true
			skipped[i].Withdrawn = false
		}
	}
	if len(withdrawn) > 0 {
		users = slices.DeleteFunc(users, func(u user.User) bool { return withdrawn[u.ID] })
	}
	slices.SortFunc(users, func(a, b user.User) int { return strings.Compare(a.ID, b.ID) })
	return users, skipped
}
