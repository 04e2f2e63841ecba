package ldapsource

import (
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"maps"
	"math"
	"math/bits"
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
// is kept free of pointers for the garbage collector not to scan it, and
// small: each entry is a record in an arena, the values are found by their
// 64-bit hash in tables of entry indexes, and every match is checked against
// the stored bytes. A DN is kept as its first RDN, with the index of its
// parent DN, which most entries share. The arena and the entries grow by
// chunks, never copied.
type dedup struct {
	emit  func(user.User) error
	hash  func([]byte) uint64 // maphash with a seed of its own; tests replace it
	arena arena
	refs  [][]entryRef          // entry i is refs[i/refChunkLen][i%refChunkLen]
	n     int32                 // entries in refs
	first [len(dupFields)]table // value → first entry holding it
	// parents are the distinct parent DNs of the entries, found in
	// parentIndex by their hash.
	parents     []span
	parentIndex table
	groups      [len(dupFields)]map[string][]int32 // value → every entry holding it, when two or more do
	skipped     []Skipped                          // entries with a reason of their own
	buf         []byte                             // scratch for a record or a parent DN
}

// refChunkLen is how many entries a chunk of dedup.refs holds.
const refChunkLen = 1024

// entryRef is an entry. Its record in the arena holds, each as a uvarint or
// as a uvarint length and the bytes:
//
//	skip, first RDN of the DN, ID, username, email (values in dupFields order)
//
// skip, when not 0, is 1 + the index in dedup.skipped of the entry, skipped
// for a reason of its own. Such an entry has one more entry per further value
// of a multi-valued ID, with the same DN and skip, and no other values.
type entryRef struct {
	off    uint32 // where the record starts in the arena
	parent uint32 // 1 + the index in dedup.parents of the DN's parent; 0 for a DN without one
	flags  uint8
}

// The flags of an entryRef.
const (
	refEmitted uint8 = 1 << iota
	refDisabled
	// refFirstHolder<<f is set on the first entry holding its value of
	// dupFields[f].
	refFirstHolder
)

// record is an entry's record, read.
type record struct {
	skip int32
	rdn  []byte
	vals [len(dupFields)][]byte
}

// maxRecordExtra is how many bytes a record takes beyond its strings' bytes.
const maxRecordExtra = (2 + len(dupFields)) * binary.MaxVarintLen32

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
	rdn, parent, hasParent := splitDN(e.u.DN)
	// Lower-casing makes a string at most three times longer (an invalid
	// byte becomes U+FFFD).
	records := 1 + len(e.ids)
	size := len(parent) + records*(len(rdn)+maxRecordExtra) + len(e.u.ID) + 3*(len(e.u.Username)+len(e.u.Email))
	for _, id := range e.ids {
		size += len(id)
	}
	if !d.arena.fits(records+1, size) || int(d.n) > math.MaxInt32-records {
		return fmt.Errorf("ldapsource: entry %s: duplicate detection keeps track of at most %d entries and %d bytes of their DNs, IDs, usernames and emails, and the search returns more; narrow it (base DN or filter)", e.u.DN, math.MaxInt32, maxArena)
	}
	r := entryRef{}
	if hasParent {
		r.parent = d.parentIndexOf(parent) + 1
	}
	if !e.u.Active {
		r.flags = refDisabled
	}
	dup := d.insert(r, skip, rdn, dupValues(&e.u))
	// One of the values of a multi-valued ID is the entry's ID: each is
	// held as an ID of an entry of its own, with the same DN.
	for _, id := range e.ids {
		d.insert(r, skip, rdn, [len(dupFields)]string{id})
	}
	if dup || skip != 0 {
		return nil
	}
	return d.emit(e.u)
}

// splitDN splits dn at its first comma that is not escaped (RFC 4514: a
// backslash escapes the next character, and a comma written as \2C is not
// one) into its first RDN and its parent DN. A DN without such a comma has
// no parent.
func splitDN(dn string) (rdn, parent string, ok bool) {
	for i := 0; i < len(dn); i++ {
		switch dn[i] {
		case '\\':
			i++
		case ',':
			return dn[:i], dn[i+1:], true
		}
	}
	return dn, "", false
}

// parentIndexOf returns the index in d.parents of the parent DN p, adding
// it if it is new. add has checked that it fits.
func (d *dedup) parentIndexOf(p string) uint32 {
	d.buf = append(d.buf[:0], p...)
	k := d.buf
	h := d.hash(k)
	if j, ok := d.parentIndex.find(h, func(j int32) bool { return string(d.arena.bytes(d.parents[j])) == string(k) }); ok {
		return uint32(j)
	}
	j := len(d.parents)
	if d.parentIndex.full(int32(j)) {
		d.parentIndex.reset(int32(j))
		for q, sp := range d.parents {
			d.parentIndex.put(d.hash(d.arena.bytes(sp)), int32(q))
		}
	}
	d.parentIndex.put(h, int32(j))
	d.parents = append(d.parents, d.arena.store(k))
	return uint32(j)
}

// insert stores an entry r with its skip, the first RDN of its DN and its
// values in dupFields order, and says whether a value was held before. The
// entry is emitted if none was and it is not skipped.
func (d *dedup) insert(r entryRef, skip int32, rdn string, vals [len(dupFields)]string) (dup bool) {
	i := d.n
	b := binary.AppendUvarint(d.buf[:0], uint64(skip))
	b = appendValue(b, rdn, false)
	for f, v := range vals {
		b = appendValue(b, v, dupFields[f].lower)
	}
	d.buf = b
	r.off = d.arena.store(b).off
	for f, k := range d.record(&r).vals {
		if len(k) == 0 {
			continue
		}
		j, seen := d.firstHolder(f, k, i)
		if !seen {
			r.flags |= refFirstHolder << f
			continue
		}
		if g := d.groups[f][string(k)]; g == nil {
			d.groups[f][string(k)] = []int32{j, i}
		} else {
			d.groups[f][string(k)] = append(g, i)
		}
		dup = true
	}
	if !dup && skip == 0 {
		r.flags |= refEmitted
	}
	if c := len(d.refs) - 1; c < 0 || len(d.refs[c]) == refChunkLen {
		d.refs = append(d.refs, make([]entryRef, 0, refChunkLen))
	}
	d.refs[len(d.refs)-1] = append(d.refs[len(d.refs)-1], r)
	d.n++
	return dup
}

// appendValue appends s to b, lower-cased (exactly as strings.ToLower does)
// if lower is set, after its length.
func appendValue(b []byte, s string, lower bool) []byte {
	if lower && !isASCII(s) {
		s, lower = strings.ToLower(s), false
	}
	b = binary.AppendUvarint(b, uint64(len(s)))
	if !lower {
		return append(b, s...)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return b
}

// ref returns entry i.
func (d *dedup) ref(i int32) *entryRef { return &d.refs[i/refChunkLen][i%refChunkLen] }

// record reads r's record.
func (d *dedup) record(r *entryRef) (rec record) {
	b := d.arena.from(r.off)
	skip, n := binary.Uvarint(b)
	rec.skip = int32(skip)
	rec.rdn, b = readValue(b[n:])
	for f := range rec.vals {
		rec.vals[f], b = readValue(b)
	}
	return rec
}

// readValue reads a value written by appendValue at the start of b, and
// returns it and what follows.
func readValue(b []byte) (v, rest []byte) {
	l, n := binary.Uvarint(b)
	end := n + int(l)
	return b[n:end:end], b[end:]
}

// dn returns the DN of entry r, whose record is rec.
func (d *dedup) dn(r *entryRef, rec *record) string {
	if r.parent == 0 {
		return string(rec.rdn)
	}
	return string(rec.rdn) + "," + d.arena.str(d.parents[r.parent-1])
}

// firstHolder returns the first entry holding value k of field f, or records
// entry i as its first holder and returns false.
func (d *dedup) firstHolder(f int, k []byte, i int32) (int32, bool) {
	h := d.hash(k)
	t := &d.first[f]
	if j, ok := t.find(h, func(j int32) bool { return string(d.record(d.ref(j)).vals[f]) == string(k) }); ok {
		return j, true
	}
	if t.full(i) {
		// Every value held is rehashed from the entries, read in order.
		t.reset(i)
		for j := range d.n {
			if r := d.ref(j); r.flags&(refFirstHolder<<f) != 0 {
				t.put(d.hash(d.record(r).vals[f]), j)
			}
		}
	}
	t.put(h, i)
	return 0, false
}

// table is a hash table of indexes, each standing for a value kept
// elsewhere, for values that are told apart by their bytes: open addressing
// with linear probing, in a power-of-two number of 4-byte slots, at most half
// full. A slot holds 1 + an index in its low bits, and the top bits of its
// value's hash in the bits above, which no index uses yet: a value is
// compared only with those whose hash shares these bits (one in 2^11 or
// fewer at a million entries), and the table is rebuilt before an index
// needs them.
//
// Half full, a search for a value not held reads 2.5 slots on average
// (½(1+1/(1-α)²) for load α), most often within one cache line; three
// quarters full it would read 8.5. For a directory of about a million
// entries, the slots are the same at any load from 0.48 to 0.95: 2^21 per
// table, 8 bytes per entry.
type table struct {
	slots []uint32 // 0 for an empty slot
	count int      // slots in use
	low   uint32   // the bits of a slot that hold 1 + an index
}

// minTableSlots is the size of a table's first slots.
const minTableSlots = 64

// find returns the index held for a value of hash h, where same says
// whether index i stands for that value.
func (t *table) find(h uint64, same func(i int32) bool) (int32, bool) {
	if len(t.slots) == 0 {
		return 0, false
	}
	mask, high := uint64(len(t.slots)-1), uint32(h>>32)&^t.low
	for s := h & mask; ; s = (s + 1) & mask {
		v := t.slots[s]
		if v == 0 {
			return 0, false
		}
		if v&^t.low == high && same(int32(v&t.low-1)) {
			return int32(v&t.low - 1), true
		}
	}
}

// full says whether the table must be rebuilt to hold index i: reset it
// then, and put back every index.
func (t *table) full(i int32) bool { return 2*(t.count+1) > len(t.slots) || uint32(i)+1 > t.low }

// reset empties the table, doubling its size if it was half full, for
// indexes up to twice i.
func (t *table) reset(i int32) {
	n := len(t.slots)
	if 2*(t.count+1) > n {
		n = max(2*n, minTableSlots)
	}
	t.slots, t.count = make([]uint32, n), 0
	t.low = uint32(uint64(1)<<min(bits.Len32(uint32(i)+1)+1, 32) - 1)
}

// put holds index i for a value of hash h that is not held yet, in a table
// that is not full.
func (t *table) put(h uint64, i int32) {
	mask := uint64(len(t.slots) - 1)
	s := h & mask
	for t.slots[s] != 0 {
		s = (s + 1) & mask
	}
	t.slots[s] = uint32(h>>32)&^t.low | (uint32(i) + 1)
	t.count++
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

// store copies s into the arena and returns where it lies. add has checked
// that it fits.
func (a *arena) store(s []byte) span {
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
	a.cur = append(a.cur, s...)
	return span{off: uint32(off), len: uint32(len(s))}
}

// bytes returns the bytes at sp.
func (a *arena) bytes(sp span) []byte {
	if sp.len == 0 {
		return nil
	}
	o := sp.off & (chunkSize - 1)
	return a.chunks[sp.off>>chunkShift][o : o+sp.len]
}

// from returns the bytes of the string stored at off and those after it in
// its chunk.
func (a *arena) from(off uint32) []byte {
	return a.chunks[off>>chunkShift][off&(chunkSize-1):]
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
						r := d.ref(j)
						rec := d.record(r)
						others = append(others, d.dn(r, &rec))
					}
				}
				key := i
				if s := d.record(d.ref(i)).skip; s != 0 {
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
			rec := d.record(r)
			out = append(out, Skipped{DN: d.dn(r, &rec), ID: string(rec.vals[0]), Reason: strings.Join(rs, "; "), Disabled: r.flags&refDisabled != 0, Withdrawn: r.flags&refEmitted != 0})
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
