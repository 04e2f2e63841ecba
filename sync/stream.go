package sync

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"math/bits"
	"os"
	"slices"
	"time"

	"github.com/dirsync/dirsync/user"
)

// summaryIndex is the snapshot in compact form: one summary per record. It
// holds no pointers per record (the summaries are packed into chunks of
// bytes and the index is a table of record numbers), so however many records
// it holds, the garbage collector scans none of them while the directory read
// allocates. It grows by chunks, never copying what it holds.
//
// A record is its packed ID and packed platform ID (user.AppendPackedID:
// 17 bytes for a UUID), then its hash: the 16 bytes User.Hash's 32 hex
// digits stand for, or, in any other form, packed as an ID is.
type summaryIndex struct {
	chunks [][]byte       // every record, back to back
	recs   [][]summaryLoc // recsPerChunk per chunk, ordered by ID
	n      int            // records
	// statuses are the distinct statuses, which records refer to by index.
	statuses []user.Status
	seed     maphash.Seed
	hashID   func(id string) uint64 // if set, the hash of IDs instead of seed's
	// slots find a record by ID: an open-addressing table (linear probing)
	// at the hash of the packed ID, its size a power of two, at least
	// twice the records. A slot holds 0 when free, else the record's
	// number + 1 in its low indexBits bits and, above them, the top bits
	// of the ID's hash: a probe reads the records only of IDs whose hash
	// shares them.
	slots     []uint32
	indexBits int
	seen      []bool
	managed   int // records active on the platform
}

const (
	summaryChunk = 64 << 10 // bytes per chunk of records (a longer record gets one of its own)
	recsShift    = 12
	recsPerChunk = 1 << recsShift
)

// summaryLoc locates one record's summary in the chunks.
type summaryLoc struct {
	chunk  uint32
	off    uint16 // where the record starts: within summaryChunk bytes of its chunk's start
	status uint8  // index in statuses
	flags  uint8
}

// hashDecoded flags a record whose hash is stored as the 16 bytes its 32 hex
// digits stand for.
const hashDecoded = 1

// summaryRef is a record's summary in the index, read without copying.
type summaryRef struct {
	s     *summaryIndex
	i     int32
	found bool
}

func (r summaryRef) rec() *summaryLoc { return &r.s.recs[r.i>>recsShift][r.i&(recsPerChunk-1)] }

func (r summaryRef) status() user.Status { return r.s.statuses[r.rec().status] }

// data returns the record's bytes, and those of the records after it in
// its chunk.
func (r summaryRef) data() []byte {
	x := r.rec()
	return r.s.chunks[x.chunk][x.off:]
}

// packedID and packedPlatformID return the record's IDs as packed.
func (r summaryRef) packedID() []byte {
	b := r.data()
	return b[:user.PackedIDLen(b)]
}

func (r summaryRef) packedPlatformID() []byte {
	b := r.data()
	b = b[user.PackedIDLen(b):]
	return b[:user.PackedIDLen(b)]
}

func (r summaryRef) id() string {
	id, _ := user.UnpackID(r.data())
	return id
}

func (r summaryRef) platformID() string {
	id, _ := user.UnpackID(r.packedPlatformID())
	return id
}

// linked reports whether the record holds a platform ID.
func (r summaryRef) linked() bool { return !bytes.Equal(r.packedPlatformID(), packedNoID) }

var packedNoID = user.AppendPackedID(nil, "")

// storedHash returns the bytes the record holds for its hash.
func (r summaryRef) storedHash() []byte {
	b := r.data()
	b = b[user.PackedIDLen(b):]
	b = b[user.PackedIDLen(b):]
	if r.rec().flags&hashDecoded != 0 {
		return b[:16]
	}
	return b[:user.PackedIDLen(b)]
}

// hash returns the record's hash as the store gave it.
func (r summaryRef) hash() string {
	b := r.storedHash()
	if r.rec().flags&hashDecoded != 0 {
		return hex.EncodeToString(b)
	}
	h, _ := user.UnpackID(b)
	return h
}

// hashIs reports whether the record's hash is h.
func (r summaryRef) hashIs(h string) bool {
	stored := r.storedHash()
	if r.rec().flags&hashDecoded != 0 {
		// The form decoded is one-to-one: compare h with it.
		var text [32]byte
		hex.Encode(text[:], stored)
		return string(text[:]) == h
	}
	var buf [64]byte
	return bytes.Equal(stored, user.AppendPackedID(buf[:0], h))
}

// decodeHash returns the 16 bytes a User.Hash stands for (32 lowercase hex
// digits); ok is false for a hash in any other form.
func decodeHash(h string) (b [16]byte, ok bool) {
	if len(h) != 2*len(b) {
		return b, false
	}
	for i := range b {
		hi, ok1 := unhexLower(h[2*i])
		lo, ok2 := unhexLower(h[2*i+1])
		if !ok1 || !ok2 {
			return b, false
		}
		b[i] = hi<<4 | lo
	}
	return b, true
}

func unhexLower(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

func loadSummaries(ctx context.Context, st SummaryStore) (*summaryIndex, error) {
	return loadSummariesHashed(ctx, st, nil)
}

// loadSummariesHashed is loadSummaries with the index's hash of IDs (nil:
// its own).
func loadSummariesHashed(ctx context.Context, st SummaryStore, hashID func(string) uint64) (*summaryIndex, error) {
	s := &summaryIndex{seed: maphash.MakeSeed(), hashID: hashID}
	var rec []byte // the record being packed
	err := st.Summaries(ctx, func(sum user.Summary) error {
		if s.n == math.MaxInt32-1 {
			return fmt.Errorf("snapshot too large: more than %d records", math.MaxInt32-1)
		}
		st := slices.Index(s.statuses, sum.Status)
		if st < 0 {
			if len(s.statuses) > math.MaxUint8 {
				return fmt.Errorf("snapshot record %s: more than 256 distinct statuses (this one %q)", sum.ID, sum.Status)
			}
			st = len(s.statuses)
			s.statuses = append(s.statuses, sum.Status)
		}
		if size := len(sum.ID) + len(sum.PlatformID) + len(sum.Hash); size > math.MaxInt32 {
			return fmt.Errorf("snapshot record %.64s…: %d bytes of IDs and hash", sum.ID, size)
		}
		loc := summaryLoc{status: uint8(st)}
		rec = user.AppendPackedID(rec[:0], sum.ID)
		rec = user.AppendPackedID(rec, sum.PlatformID)
		if h, ok := decodeHash(sum.Hash); ok {
			rec = append(rec, h[:]...)
			loc.flags |= hashDecoded
		} else {
			rec = user.AppendPackedID(rec, sum.Hash)
		}
		last := len(s.chunks) - 1
		if last < 0 || cap(s.chunks[last])-len(s.chunks[last]) < len(rec) {
			s.chunks = append(s.chunks, make([]byte, 0, max(summaryChunk, len(rec))))
			last++
		}
		// A record that fits starts within summaryChunk bytes of its
		// chunk's start, a longer one at the start of its own: off holds
		// where.
		c := s.chunks[last]
		loc.chunk, loc.off = uint32(last), uint16(len(c))
		s.chunks[last] = append(c, rec...)
		if s.n&(recsPerChunk-1) == 0 {
			s.recs = append(s.recs, make([]summaryLoc, 0, recsPerChunk))
		}
		s.recs[len(s.recs)-1] = append(s.recs[len(s.recs)-1], loc)
		s.n++
		if sum.Status == user.StatusActive {
			s.managed++
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read snapshot: %w", err)
	}
	size := 8
	for size < 2*s.n {
		size <<= 1
	}
	s.slots = make([]uint32, size)
	s.indexBits = bits.Len32(uint32(s.n)) // n < 2³¹: at least one bit of hash is left
	for i := range s.n {
		r := summaryRef{s: s, i: int32(i)}
		var h uint64
		if s.hashID != nil {
			h = s.hashID(r.id())
		} else {
			h = maphash.Bytes(s.seed, r.packedID())
		}
		// IDs are unique in the snapshot: no need to look for this one.
		j := h & uint64(size-1)
		for s.slots[j] != 0 {
			j = (j + 1) & uint64(size-1)
		}
		s.slots[j] = s.hashBits(h) | uint32(i+1)
	}
	s.seen = make([]bool, s.n)
	return s, nil
}

// heldUsers bounds the users held while the summaries load.
const heldUsers = 20_000

// summaryLoad is loadSummaries running in a goroutine of its own.
type summaryLoad struct {
	done chan struct{}
	sums *summaryIndex
	err  error
}

func startSummaries(ctx context.Context, st SummaryStore, loaded func()) *summaryLoad {
	sl := &summaryLoad{done: make(chan struct{})}
	go func() {
		sl.sums, sl.err = loadSummaries(ctx, st)
		close(sl.done)
		if loaded != nil {
			loaded()
		}
	}()
	return sl
}

// get returns the summaries once loaded, waiting for them if block is set;
// otherwise, before they are loaded, it returns nil and no error.
func (sl *summaryLoad) get(block bool) (*summaryIndex, error) {
	if block {
		<-sl.done
	} else {
		select {
		case <-sl.done:
		default:
			return nil, nil
		}
	}
	return sl.sums, sl.err
}

// lookup returns id's summary; found is false when no record has id.
func (s *summaryIndex) lookup(id string) summaryRef {
	var buf [64]byte
	p := user.AppendPackedID(buf[:0], id)
	var h uint64
	if s.hashID != nil {
		h = s.hashID(id)
	} else {
		h = maphash.Bytes(s.seed, p)
	}
	mask := uint64(len(s.slots) - 1)
	top, index := s.hashBits(h), uint32(1)<<s.indexBits-1
	for j := h & mask; s.slots[j] != 0; j = (j + 1) & mask {
		if s.slots[j]&^index != top {
			continue
		}
		if r := (summaryRef{s: s, i: int32(s.slots[j]&index) - 1, found: true}); bytes.Equal(r.packedID(), p) {
			return r
		}
	}
	return summaryRef{}
}

// hashBits returns the top bits of hash h, as a slot holds them.
func (s *summaryIndex) hashBits(h uint64) uint32 {
	return uint32(h>>32) &^ (1<<s.indexBits - 1)
}

// mark notes that the directory holds id and returns its summary.
func (s *summaryIndex) mark(id string) summaryRef {
	r := s.lookup(id)
	if r.found {
		s.seen[r.i] = true
	}
	return r
}

// marked reports whether a directory user was marked for id's record.
func (s *summaryIndex) marked(id string) bool {
	r := s.lookup(id)
	return r.found && s.seen[r.i]
}

// unseen returns the IDs of the records no directory user was marked for.
func (s *summaryIndex) unseen() []string {
	var ids []string
	for i, seen := range s.seen {
		if !seen {
			ids = append(ids, summaryRef{s: s, i: int32(i)}.id())
		}
	}
	return ids
}

// claims returns the platform IDs linked in the snapshot, to directory IDs.
func (s *summaryIndex) claims() (map[string]string, error) {
	claimed := make(map[string]string, s.n)
	for i := range s.n {
		r := summaryRef{s: s, i: int32(i)}
		if r.linked() && r.status() != user.StatusDeleted {
			claimed[r.platformID()] = r.id()
		}
	}
	return claimed, nil
}

// inStep reports whether Diff would find nothing to do for directory user u,
// given its record's summary. It answers only the common cases and says
// false when unsure: the user then goes through Diff.
func inStep(u user.User, r summaryRef) bool {
	switch {
	case !r.found:
		return !u.Active // disabled and never provisioned
	case !r.linked():
		return false // pending: Diff decides
	case u.Active:
		return r.status() == user.StatusActive && r.hashIs(u.Hash())
	default:
		return r.status() == user.StatusArchived // disabled and archived
	}
}

// streamPlan reads the directory through src, past the snapshot's
// summaries, and diffs into rep.Plan only what may need a change: users
// whose data or state moved, and records no directory user claimed. Users in
// step are counted and dropped as they stream by, so memory holds one
// summary per record and the changed users only. The plan is the one Diff
// gives over the whole directory and snapshot.
//
// Unless ro.DryRun, the updates among the changes are applied as they are
// read (see earlyPush); the returned earlyPush holds them, and the plan the
// rest.
func (e *Engine) streamPlan(ctx context.Context, rep *Report, ro RunOptions, src Streamer, st SummaryStore) (claims func() (map[string]string, error), diffStart time.Time, early *earlyPush, err error) {
	phase := e.now()
	// The summaries load while the directory read starts: the users that
	// arrive first wait in held (at most heldUsers of them) until they are in.
	sl := startSummaries(ctx, st, e.summariesLoaded)
	readCtx, stopRead := context.WithCancelCause(ctx)
	defer stopRead(nil)
	if !ro.DryRun {
		a := e.newApplier(rep.RunID)
		a.claims = func() (map[string]string, error) {
			sums, err := sl.get(true)
			if err != nil {
				return nil, err
			}
			return sums.claims()
		}
		early = e.startEarly(ctx, a, st, ro, stopRead)
	}
	var kept, held []user.User
	inScope, unchanged := 0, 0
	// Past the first creates, those of users new to the snapshot go to a
	// spill file (see listedCreates), unless this is a dry run, whose plan
	// lists every change.
	spill, listed := (*createSpill)(nil), 0
	spillOff := ro.DryRun
	defer func() {
		if err != nil {
			spill.close()
		}
	}()
	take := func(sums *summaryIndex, u user.User) {
		r := sums.mark(u.ID)
		if inStep(u, r) {
			unchanged++
			return
		}
		if early != nil && u.Active && r.found && r.status() == user.StatusActive && r.linked() {
			early.offer(u)
		}
		if !r.found && u.Active && !spillOff {
			if listed < e.listed() {
				listed++
			} else {
				if spill == nil {
					var serr error
					if spill, serr = newCreateSpill(""); serr != nil {
						spillOff = true
						e.warn(fmt.Sprintf("the creates of this run are held in memory: no spill file could be made in %s "+
							"(set TMPDIR to a writable directory): %v", os.TempDir(), serr))
					}
				}
				if spill != nil {
					if err := spill.add(u); err != nil {
						stopRead(err)
					}
					return
				}
			}
		}
		kept = append(kept, u)
	}
	release := func(block bool) error {
		sums, err := sl.get(block)
		if sums != nil {
			for _, u := range held {
				take(sums, u)
			}
			held = nil
		}
		return err
	}
	skipped, err := src.Stream(readCtx, func(u user.User) error {
		inScope++
		if len(held) == 0 {
			if sums, _ := sl.get(false); sums != nil {
				take(sums, u)
				return nil
			}
		}
		held = append(held, u)
		if len(held) < heldUsers {
			return release(false)
		}
		return release(true)
	})
	// Always wait for the summaries: the store is not read after the plan
	// is made, and a failed load fails the run.
	serr := release(true)
	sums, _ := sl.get(true)
	if early != nil {
		if perr := early.finish(); perr != nil {
			var ce *CircuitError
			if errors.As(perr, &ce) {
				ce.NotTried = max(len(kept)-early.a.attempted(), 0)
				return nil, time.Time{}, early, perr
			}
			return nil, time.Time{}, early, fmt.Errorf("apply during the read (nobody was archived): %w", perr)
		}
	}
	if serr != nil {
		return nil, time.Time{}, early, serr
	}
	if werr := spill.failed(); werr != nil {
		err = werr // the read was stopped for it
	}
	if err := e.fetched(ctx, rep, phase, err, early.count()); err != nil {
		return nil, time.Time{}, early, err
	}
	diffStart = e.now()

	// Users updated during the read are done; the others go through Diff.
	pushed := early.users()
	if len(pushed) > 0 {
		kept = slices.DeleteFunc(kept, func(u user.User) bool { return pushed[u.ID] })
	}
	withdrawnUpdated := 0
	// Users withdrawn after they were emitted are skipped entries.
	withdrawn := make(map[string]bool)
	for i := range skipped {
		if skipped[i].Withdrawn {
			withdrawn[skipped[i].ID] = true
			skipped[i].Withdrawn = false
			if pushed[skipped[i].ID] {
				withdrawnUpdated++
			}
		}
	}
	if len(withdrawn) > 0 {
		before := len(kept)
		kept = slices.DeleteFunc(kept, func(u user.User) bool { return withdrawn[u.ID] })
		spilled, err := spill.drop(withdrawn)
		if err != nil {
			return nil, diffStart, early, err
		}
		inScope -= len(withdrawn)
		// The others were counted in step.
		unchanged -= len(withdrawn) - (before - len(kept)) - withdrawnUpdated - spilled
	}

	ids := make([]string, 0, len(kept))
	for _, u := range kept {
		ids = append(ids, u.ID)
	}
	ids = append(ids, sums.unseen()...)
	// A withdrawn user's record was marked seen: Diff needs it if the
	// entry is disabled (see Skip.Disabled). A record marked seen by a
	// user still in the directory is that user's, in step or in kept:
	// an entry skipped for its data that holds the same ID takes nothing
	// away, as in Diff.
	ids = appendDisabledSkips(ids, skipped, func(id string) bool {
		return !withdrawn[id] && sums.marked(id)
	})
	records, err := st.Records(ctx, ids)
	if err != nil {
		return nil, diffStart, early, fmt.Errorf("read snapshot: %w", err)
	}
	rep.Plan = Diff(Directory{Users: kept, Skipped: skipped}, records, e.OnRemoved)
	rep.Plan.InScope = inScope
	rep.Plan.Unchanged += unchanged
	rep.Plan.Managed = sums.managed
	if spill != nil {
		rep.Plan.spill, rep.Plan.Streamed = spill, spill.len()
	}
	return sums.claims, diffStart, early, nil
}

// appendDisabledSkips appends to ids those of the disabled skipped entries
// (each value of an ID attribute holding several) that it does not hold
// yet: Diff archives their records. The IDs for which
// held, when not nil, is true are left out: a directory user holds them.
func appendDisabledSkips(ids []string, skipped []Skip, held func(id string) bool) []string {
	var have map[string]bool
	for _, s := range skipped {
		if !s.Disabled {
			continue
		}
		for _, id := range append([]string{s.ID}, s.IDs...) {
			if id == "" || (held != nil && held(id)) {
				continue
			}
			if have == nil {
				have = make(map[string]bool, len(ids))
				for _, id := range ids {
					have[id] = true
				}
			}
			if !have[id] {
				have[id] = true
				ids = append(ids, id)
			}
		}
	}
	return ids
}
