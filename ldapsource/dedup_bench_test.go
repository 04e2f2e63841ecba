package ldapsource

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/dirsync/dirsync/user"
)

// BenchmarkDedup100k runs 100,000 distinct entries, shaped like a directory's,
// through dedup and asks for its result.
func BenchmarkDedup100k(b *testing.B) {
	const n = 100_000
	entries := make([]mapped, n)
	for i := range entries {
		entries[i] = mapped{u: userWith(
			fmt.Sprintf("%08x-4e1c-11ef-9c6a-%012x", i, i),
			fmt.Sprintf("uid=user%06d,ou=people,dc=example,dc=com", i),
			fmt.Sprintf("User%06d", i),
			fmt.Sprintf("User%06d@Example.com", i),
		)}
	}
	b.ReportAllocs()
	for b.Loop() {
		emitted := 0
		d := newDedup(func(user.User) error { emitted++; return nil })
		for _, e := range entries {
			if err := d.add(e); err != nil {
				b.Fatal(err)
			}
		}
		if s := d.result(); len(s) != 0 || emitted != n {
			b.Fatalf("emitted %d and skipped %d of %d distinct entries", emitted, len(s), n)
		}
	}
}

// BenchmarkDedup1MMemory reports what dedup holds live per entry after
// 1,000,000 distinct entries shaped like BenchmarkDedup100k's: a sync holds
// one dedup for the whole directory.
func BenchmarkDedup1MMemory(b *testing.B) {
	const n = 1_000_000
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		emitted := 0
		d := newDedup(func(user.User) error { emitted++; return nil })
		for i := range n {
			e := mapped{u: userWith(
				fmt.Sprintf("%08x-4e1c-11ef-9c6a-%012x", i, i),
				fmt.Sprintf("uid=user%06d,ou=people,dc=example,dc=com", i),
				fmt.Sprintf("User%06d", i),
				fmt.Sprintf("User%06d@Example.com", i),
			)}
			if err := d.add(e); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(d)
		if emitted != n {
			b.Fatalf("emitted %d of %d distinct entries", emitted, n)
		}
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "live-B/entry")
	}
}
