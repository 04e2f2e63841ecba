package sync

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/dirsync/dirsync/user"
)

// benchUsers returns n normalized directory users shaped like a real directory
// entry (a few groups, two extra attributes) and their snapshot records, in
// step with them.
func benchUsers(n int) ([]user.User, []user.Record) {
	users := make([]user.User, n)
	records := make([]user.Record, n)
	now := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
	for i := range n {
		u := benchUser(i)
		users[i] = u
		// The snapshot holds its own copy, as one read from the store would.
		ru := u
		ru.Groups = append([]string(nil), u.Groups...)
		ru.Extra = map[string]string{"department": u.Extra["department"], "title": u.Extra["title"]}
		records[i] = user.Record{User: ru, Hash: ru.Hash(), PlatformID: fmt.Sprintf("plat-%d", i),
			Status: user.StatusActive, FirstSeen: now, LastSeen: now}
	}
	return users, records
}

// benchUser returns the i-th benchmark user.
func benchUser(i int) user.User {
	return user.User{
		ID:          benchUserID(i),
		DN:          fmt.Sprintf("uid=user%d,ou=staff,dc=corp,dc=example,dc=com", i),
		Username:    fmt.Sprintf("user%d", i),
		Email:       fmt.Sprintf("user%d@corp.example.com", i),
		GivenName:   "Given",
		FamilyName:  fmt.Sprintf("Family%d", i),
		DisplayName: fmt.Sprintf("Given Family%d", i),
		Active:      true,
		Groups:      []string{"cn=all-staff,ou=groups,dc=corp", fmt.Sprintf("cn=team-%d,ou=groups,dc=corp", i%50), "cn=vpn,ou=groups,dc=corp"},
		Extra:       map[string]string{"department": fmt.Sprintf("Dept %d", i%20), "title": "Engineer"},
	}.Normalize()
}

// benchUserID returns the i-th benchmark user's ID, a UUID.
func benchUserID(i int) string { return fmt.Sprintf("7f3c1e2a-0000-4000-8000-%012d", i) }

// genSource streams n benchmark users, made as they are emitted: like a
// directory read, it holds none of them.
type genSource struct{ n int }

func (g genSource) Read(context.Context) (Directory, error) { panic("a streamed run must not Read") }

func (g genSource) Reread(context.Context, []string, []string) (Changed, error) {
	panic("a streamed run must not Reread")
}

func (g genSource) Stream(ctx context.Context, emit func(user.User) error) ([]Skip, error) {
	for i := range g.n {
		if err := emit(benchUser(i)); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// genStore serves the summaries of n records in step with genSource's users
// (precomputed: the store's own memory is SQLite's, not the run's).
type genStore struct {
	*fakeStore
	sums []user.Summary
}

func newGenStore(n int) genStore {
	sums := make([]user.Summary, n)
	for i := range n {
		u := benchUser(i)
		sums[i] = user.Summary{ID: u.ID, PlatformID: fmt.Sprintf("plat-%d", i), Status: user.StatusActive, Hash: u.Hash()}
	}
	return genStore{fakeStore: newFakeStore(), sums: sums}
}

func (g genStore) Summaries(ctx context.Context, fn func(user.Summary) error) error {
	for _, s := range g.sums {
		// A copy of the strings, as a database read makes.
		s.ID, s.PlatformID, s.Hash = strings.Clone(s.ID), strings.Clone(s.PlatformID), strings.Clone(s.Hash)
		if err := fn(s); err != nil {
			return err
		}
	}
	return nil
}

// BenchmarkStreamedRun1MUnchanged is a whole no-change dry run of a
// 1,000,000-user directory through the engine's streaming path: summaries
// loaded, every user made, hashed and compared as it streams by, nothing
// planned. It reports the peak live heap the run added (run-heap-MB), which
// is what a real run holds besides its LDAP and SQLite buffers. The time
// includes making the users (formatting, normalizing) and ten forced
// collections, so it is an upper bound on the engine's own.
func BenchmarkStreamedRun1MUnchanged(b *testing.B) {
	const n = 1_000_000
	st := newGenStore(n)
	e := &Engine{Source: genSource{n: n}, Store: st, Target: newFakeTarget()}
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var peak uint64
	e.Source = peakSource{genSource{n: n}, &peak}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rep, err := e.Run(context.Background(), RunOptions{DryRun: true})
		if err != nil || len(rep.Plan.Changes) != 0 || rep.Plan.Unchanged != n {
			b.Fatalf("run: %v, %d changes, %d unchanged; want none and %d", err, len(rep.Plan.Changes), rep.Plan.Unchanged, n)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(peak-min(peak, before.HeapAlloc))/(1<<20), "run-heap-MB")
}

// peakSource samples the live heap (after a forced collection) every
// 100,000 users.
type peakSource struct {
	genSource
	peak *uint64
}

func (p peakSource) Stream(ctx context.Context, emit func(user.User) error) ([]Skip, error) {
	i := 0
	return p.genSource.Stream(ctx, func(u user.User) error {
		if i++; i%100_000 == 0 {
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			*p.peak = max(*p.peak, ms.HeapAlloc)
		}
		return emit(u)
	})
}

// BenchmarkDiff1MUnchanged is a no-change reconcile of a 1,000,000-user
// directory: every user is compared with its record and nothing is planned.
// Target: < 2 s and < 1 GB per Diff. It reports peak-heap-MB: the largest live
// heap seen while diffing (directory and snapshot included, as in a real run).
func BenchmarkDiff1MUnchanged(b *testing.B) {
	benchDiffUnchanged(b, 1_000_000)
}

// BenchmarkDiff100kUnchanged is the same at 100,000 users.
func BenchmarkDiff100kUnchanged(b *testing.B) {
	benchDiffUnchanged(b, 100_000)
}

func benchDiffUnchanged(b *testing.B, n int) {
	users, records := benchUsers(n)
	dir := Directory{Users: users}
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	peak := before.HeapAlloc
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		p := Diff(dir, records, RemovedArchive)
		if len(p.Changes) != 0 || p.Unchanged != n {
			b.Fatalf("plan: %d changes, %d unchanged; want 0 and %d", len(p.Changes), p.Unchanged, n)
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapAlloc)
	}
	b.StopTimer()
	b.ReportMetric(float64(before.HeapAlloc)/(1<<20), "input-heap-MB")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
}

// BenchmarkDiff100kChurn is a 1 % churn of 100,000 users: updates, disables and
// removals, a third each.
func BenchmarkDiff100kChurn(b *testing.B) {
	const n = 100_000
	users, records := benchUsers(n)
	var kept []user.User
	for i, u := range users {
		switch i % 100 {
		case 0:
			u.Email = "changed-" + u.Email
		case 33:
			u.Active = false
		case 66:
			continue // removed from the directory
		}
		kept = append(kept, u)
	}
	dir := Directory{Users: kept}
	b.ReportAllocs()
	for b.Loop() {
		p := Diff(dir, records, RemovedArchive)
		if len(p.Changes) != 3*n/100 {
			b.Fatalf("plan: %d changes; want %d", len(p.Changes), 3*n/100)
		}
	}
}

// benchPlatformUUID returns the i-th benchmark platform ID in the form of a
// UUID, as many platforms give them.
func benchPlatformUUID(i int) string {
	return fmt.Sprintf("%08x-%04x-4%03x-a%03x-%012x", uint32(i)*2654435761, i&0xffff, i&0xfff, (i>>12)&0xfff, uint64(i)*0x9e3779b97f4a7c15&(1<<48-1))
}

// BenchmarkSummaries1MMemory loads the summaries of 1,000,000 records and
// reports the live heap their index holds per record (live-B/record), with
// UUID directory IDs and platform IDs (pid=uuid) or platform IDs of the form
// plat-N (pid=plat-N).
func BenchmarkSummaries1MMemory(b *testing.B) {
	const n = 1_000_000
	for _, c := range []struct {
		name string
		pid  func(int) string
	}{
		{"pid=uuid", benchPlatformUUID},
		{"pid=plat-N", func(i int) string { return fmt.Sprintf("plat-%d", i) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			st := newSummaryStore(n, c.pid)
			var live uint64
			for b.Loop() {
				live = summariesLiveBytes(b, st)
			}
			b.ReportMetric(float64(live)/n, "live-B/record")
		})
	}
}

// newSummaryStore serves the summaries of n active records in the form
// genStore's take, with platform IDs pid(i).
func newSummaryStore(n int, pid func(int) string) genStore {
	sums := make([]user.Summary, n)
	for i := range n {
		sums[i] = user.Summary{ID: benchUserID(i), PlatformID: pid(i), Status: user.StatusActive,
			Hash: fmt.Sprintf("%016x%016x", uint64(i)*0x9e3779b97f4a7c15, uint64(i)*0xc2b2ae3d27d4eb4f)}
	}
	return genStore{fakeStore: newFakeStore(), sums: sums}
}

// summariesLiveBytes loads st's summaries and returns the live heap bytes
// their index holds.
func summariesLiveBytes(tb testing.TB, st SummaryStore) uint64 {
	tb.Helper()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	idx, err := loadSummaries(context.Background(), st)
	if err != nil {
		tb.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(idx)
	runtime.KeepAlive(st) // its summaries are no part of the index
	return after.HeapAlloc - min(after.HeapAlloc, before.HeapAlloc)
}
