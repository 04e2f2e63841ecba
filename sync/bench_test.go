package sync

import (
	"fmt"
	"runtime"
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
		u := user.User{
			ID:          fmt.Sprintf("7f3c1e2a-0000-4000-8000-%012d", i),
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
