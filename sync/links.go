package sync

import "hash/maphash"

// links says which directory user the snapshot links each platform account
// to.
type links interface {
	// owner returns the directory ID linked to platform ID pid, if any.
	owner(pid string) (id string, ok bool)
}

// linkMap is links in a map: platform ID → directory ID.
type linkMap map[string]string

func (m linkMap) owner(pid string) (string, bool) {
	id, ok := m[pid]
	return id, ok
}

// freshLinks holds the links of the accounts a run created, by 64-bit
// hashes of the platform and directory IDs: 16 bytes each, where an
// initial sync creates every account. Hashes that collide can only make an
// account look linked to someone else, which refuses its adoption: never
// the other way round.
type freshLinks struct {
	seed maphash.Seed
	m    map[uint64]uint64
}

func (f *freshLinks) add(pid, id string) {
	if f.m == nil {
		f.seed, f.m = maphash.MakeSeed(), make(map[uint64]uint64)
	}
	f.m[maphash.String(f.seed, pid)] = maphash.String(f.seed, id)
}

// holder says whether pid is linked, and whether to id.
func (f *freshLinks) holder(pid, id string) (linked, byID bool) {
	if f.m == nil {
		return false, false
	}
	h, ok := f.m[maphash.String(f.seed, pid)]
	return ok, ok && h == maphash.String(f.seed, id)
}
