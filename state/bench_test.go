package state

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/dirsync/dirsync/user"
)

// benchRecord is a typical record: a few groups, a couple of extra attributes.
func benchRecord(i int) user.Record {
	u := user.User{
		ID:          fmt.Sprintf("7f3c1e2a-0000-4000-8000-%012d", i),
		DN:          fmt.Sprintf("CN=User %d,OU=Staff,DC=corp,DC=example,DC=com", i),
		Username:    fmt.Sprintf("user%d", i),
		Email:       fmt.Sprintf("user%d@corp.example.com", i),
		GivenName:   "Given",
		FamilyName:  fmt.Sprintf("Family%d", i),
		DisplayName: fmt.Sprintf("Given Family%d", i),
		Active:      i%10 != 0,
		Groups:      []string{"cn=all-staff,ou=groups,dc=corp", fmt.Sprintf("cn=team-%d,ou=groups,dc=corp", i%50), "cn=vpn,ou=groups,dc=corp"},
		Extra:       map[string]string{"department": fmt.Sprintf("Dept %d", i%20), "title": "Engineer"},
	}
	now := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
	return user.Record{User: u, Hash: u.Hash(), PlatformID: fmt.Sprintf("plat-%d", i),
		Status: user.StatusActive, FirstSeen: now, LastSeen: now}
}

// fill writes n records into a new store, in large transactions (a test
// shortcut, not how Save works).
func fill(b *testing.B, n int) *DB {
	b.Helper()
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(b.TempDir(), "state.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	const batch = 5000
	for start := 0; start < n; start += batch {
		tx, err := db.sql.BeginTx(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		st := tx.StmtContext(ctx, db.upsertRecord)
		for i := start; i < min(start+batch, n); i++ {
			rec := benchRecord(i)
			args, err := recordArgs(&rec)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := st.ExecContext(ctx, args...); err != nil {
				b.Fatal(err)
			}
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	return db
}

func BenchmarkSnapshot100k(b *testing.B) {
	const n = 100_000
	db := fill(b, n)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		recs, err := db.Snapshot(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if len(recs) != n {
			b.Fatalf("%d records", len(recs))
		}
	}
}

// BenchmarkSave is one applied change: a journal row and a record upsert,
// committed.
func BenchmarkSave(b *testing.B) { benchSave(b, 10_000) }

// BenchmarkSave1M is BenchmarkSave in a snapshot of 1,000,000 records.
func BenchmarkSave1M(b *testing.B) { benchSave(b, 1_000_000) }

// benchSave saves changes into a snapshot of n records: half update a
// record, half insert one.
func benchSave(b *testing.B, n int) {
	db := fill(b, n)
	ctx := context.Background()
	run, err := db.BeginRun(ctx, "bench")
	if err != nil {
		b.Fatal(err)
	}
	fields := []user.FieldChange{{Field: user.FieldEmail, Old: "old@corp.example.com", New: "new@corp.example.com"}}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		rec := benchRecord(n - 10_000 + i%20_000) // half updates, half inserts
		e := user.Entry{Op: user.OpUpdate, UserID: rec.User.ID, Username: rec.User.Username, PlatformID: rec.PlatformID, Fields: fields}
		if err := db.Save(ctx, run, e, &rec); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// liveHeap collects garbage and returns the bytes live on the heap.
func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkSnapshot1M loads a 1,000,000-record snapshot, as a reconcile of a
// 1M-user directory does once per run. It reports the live heap the loaded
// records hold (records-heap-MB).
func BenchmarkSnapshot1M(b *testing.B) {
	const n = 1_000_000
	db := fill(b, n)
	ctx := context.Background()
	b.ReportAllocs()
	var held uint64
	for b.Loop() {
		b.StopTimer()
		before := liveHeap()
		b.StartTimer()
		recs, err := db.Snapshot(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if len(recs) != n {
			b.Fatalf("%d records", len(recs))
		}
		b.StopTimer()
		after := liveHeap()
		held = after - min(after, before)
		runtime.KeepAlive(recs)
		b.StartTimer()
	}
	b.ReportMetric(float64(held)/(1<<20), "records-heap-MB")
}

// BenchmarkSummaries1M reads the summaries of 1,000,000 records, as every
// run but a full reconcile does, and reports the heap they hold.
func BenchmarkSummaries1M(b *testing.B) {
	const n = 1_000_000
	db := fill(b, n)
	ctx := context.Background()
	b.ReportAllocs()
	var held uint64
	for b.Loop() {
		before := liveHeap()
		sums := make([]user.Summary, 0, n)
		if err := db.Summaries(ctx, func(s user.Summary) error { sums = append(sums, s); return nil }); err != nil {
			b.Fatal(err)
		}
		after := liveHeap()
		if len(sums) != n {
			b.Fatalf("%d summaries", len(sums))
		}
		held = after - min(after, before)
		runtime.KeepAlive(sums)
	}
	b.ReportMetric(float64(held)/(1<<20), "held-MB")
}
