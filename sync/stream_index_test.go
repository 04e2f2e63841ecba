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
