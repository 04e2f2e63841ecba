package sync

import (
	"context"
	"fmt"
	"hash/maphash"
	"slices"
	"strings"
	"testing"

	"github.com/dirsync/dirsync/user"
)

// The summary index finds every record by ID, including when IDs share a
// hash (here: all of them), and never takes one ID for another.
func TestSummaryIndex_FindsEveryRecordWhateverTheHashes(t *testing.T) {
	var recs []user.Record
	// More records than one chunk of the index holds, and one whose ID is
	// longer than a chunk of bytes.
	long := user.User{ID: "id-" + strings.Repeat("x", summaryChunk+10)}
	recs = append(recs, user.Record{User: long, PlatformID: "p-long", Status: user.StatusActive, Hash: "h-long"})
	for i := range recsPerChunk + 100 {
		st := user.StatusActive
		if i%3 == 0 {
			st = user.StatusArchived
		}
		pid := fmt.Sprintf("p%d", i)
		if i%7 == 0 {
			pid = "" // pending
		}
		recs = append(recs, user.Record{User: user.User{ID: fmt.Sprintf("id-%05d", i)}, PlatformID: pid, Status: st, Hash: fmt.Sprintf("h%d", i)})
	}
	seed := maphash.MakeSeed()
	for name, hashID := range map[string]func(string) uint64{
		"distinct hashes":  func(id string) uint64 { return maphash.String(seed, id) },
		"one hash for all": func(string) uint64 { return 42 },
		"two hashes":       func(id string) uint64 { return uint64(len(id) % 2) },
	} {
		t.Run(name, func(t *testing.T) {
			idx, err := loadSummariesHashed(context.Background(), newFakeStore(recs...), hashID)
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range recs {
				if i%2 == 1 {
					continue // left unseen
				}
				ref := idx.mark(r.User.ID)
				if !ref.found || string(ref.id()) != r.User.ID || string(ref.platformID()) != r.PlatformID ||
					string(ref.hash()) != r.Hash || ref.status() != r.Status {
					t.Fatalf("mark(%s) = %q %q %q %q found=%v, want %+v", r.User.ID, ref.id(), ref.platformID(), ref.hash(), ref.status(), ref.found, r)
				}
			}
			for _, id := range []string{"id-99999", "id-", "", "ID-00001", long.ID + "y"} {
				if ref := idx.mark(id); ref.found {
					t.Errorf("mark(%q) found record %q", id, ref.id())
				}
			}
			var wantUnseen []string
			for i, r := range recs {
				if i%2 == 1 {
					wantUnseen = append(wantUnseen, r.User.ID)
				}
			}
			if got := idx.unseen(); !slices.Equal(got, wantUnseen) {
				t.Errorf("unseen = %v, want %v", got, wantUnseen)
			}
			claims, _ := idx.claims()
			want := claimsOf(recs)
			for _, r := range recs {
				id, ok := claims.owner(r.PlatformID)
				if wantID, wantOK := want.owner(r.PlatformID); id != wantID || ok != wantOK {
					t.Errorf("claims.owner(%q) = %q, %v; want %q, %v", r.PlatformID, id, ok, wantID, wantOK)
				}
			}
			if id, ok := claims.owner("no-such-account"); ok {
				t.Errorf("claims.owner of an unknown account = %q", id)
			}
			active := 0
			for _, r := range recs {
				if r.Status == user.StatusActive {
					active++
				}
			}
			if idx.managed != active {
				t.Errorf("managed = %d, want %d", idx.managed, active)
			}
		})
	}
}

// The index holds a record whose directory and platform IDs are UUIDs in at
// most 80 bytes, and one whose platform ID is plat-N in at most 70.
func TestSummaryIndex_HoldsFewBytesPerRecord(t *testing.T) {
	const n = 250_000 // its table is as full as at 1,000,000
	for _, c := range []struct {
		name  string
		pid   func(int) string
		limit float64
	}{
		{"UUID platform IDs", benchPlatformUUID, 80},
		{"plat-N platform IDs", func(i int) string { return fmt.Sprintf("plat-%d", i) }, 70},
	} {
		t.Run(c.name, func(t *testing.T) {
			st := newSummaryStore(n, c.pid)
			if got := float64(summariesLiveBytes(t, st)) / n; got > c.limit {
				t.Errorf("the index holds %.1f bytes per record, want at most %.0f", got, c.limit)
			}
		})
	}
}

// A record's hash is kept whatever its form, and a directory user is in
// step only with the record that holds its very hash: the form
// User.Hash gives is stored decoded, any other as it is.
func TestSummaryIndex_KeepsHashesOfEveryForm(t *testing.T) {
	u := benchUser(1)
	h := u.Hash()
	hashes := map[string]string{
		"User.Hash":        h,
		"upper case":       strings.ToUpper(h),
		"one digit more":   h + "0",
		"one digit less":   h[:31],
		"another digit":    h[:31] + string("0123456789abcdef"[(strings.IndexByte("0123456789abcdef", h[31])+1)%16]),
		"SHA-256 in full":  h + h,
		"raw bytes":        "\x00\x01\xff" + h[:13],
		"empty":            "",
		"hex-like letters": strings.Repeat("g", 32),
	}
	var recs []user.Record
	names := map[string]string{}
	for name, hash := range hashes {
		id := fmt.Sprintf("7f3c1e2a-0000-4000-8000-%012d", len(recs))
		names[id] = name
		recs = append(recs, user.Record{User: user.User{ID: id}, PlatformID: "p-" + name, Status: user.StatusActive, Hash: hash})
	}
	idx, err := loadSummaries(context.Background(), newFakeStore(recs...))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		ref := idx.lookup(r.User.ID)
		if !ref.found || ref.hash() != r.Hash {
			t.Errorf("%s: record %s holds hash %q (found=%v), want %q", names[r.User.ID], r.User.ID, ref.hash(), ref.found, r.Hash)
		}
		if got, want := inStep(u, ref), r.Hash == h; got != want {
			t.Errorf("%s: inStep = %v, want %v", names[r.User.ID], got, want)
		}
	}
}

// Finding a record by ID and comparing its summary with a directory user's
// hash allocate nothing: a run does both for every user it reads.
func TestSummaryIndex_LookupAllocatesNothing(t *testing.T) {
	st := newGenStore(1000)
	for i := range st.sums {
		st.sums[i].PlatformID = benchPlatformUUID(i)
	}
	idx, err := loadSummaries(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	u := benchUser(7)
	h := u.Hash()
	allocs := testing.AllocsPerRun(100, func() {
		r := idx.lookup(u.ID)
		if !r.found || !r.linked() || !r.hashIs(h) || r.status() != user.StatusActive {
			t.Fatal("record 7 not found in step")
		}
	})
	if allocs != 0 {
		t.Errorf("lookup and hash comparison allocate %.1f times", allocs)
	}
}
