package postgres_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dirsync/dirsync/internal/pgtest"
	"github.com/dirsync/dirsync/internal/proxytest"
	"github.com/dirsync/dirsync/state"
	"github.com/dirsync/dirsync/state/postgres"
	"github.com/dirsync/dirsync/state/storetest"
	"github.com/dirsync/dirsync/user"
)

// exec runs one statement on url, bypassing the package: what another
// process, or time passing, does to the database.
func exec(t *testing.T, url, sql string) {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func TestOpen_SecondWriterIsToldWhereTheFirstRuns(t *testing.T) {
	url := pgtest.Start(t).NewDatabase(t)
	ctx := context.Background()
	first, err := postgres.Open(ctx, url, postgres.WithHolder("db1.example.com (pid 42)"))
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	_, err = postgres.Open(ctx, url)
	if !errors.Is(err, state.ErrLocked) || !strings.Contains(err.Error(), "already running on db1.example.com (pid 42)") {
		t.Errorf("second Open: %v; want ErrLocked naming the first's host", err)
	}
}

// TestSave_AfterTheLeaseWasTakenOverIsRefused: a writer paused past its
// lease's expiry (SIGSTOP, a long GC, a cut network) while another took the
// lease over writes nothing when it wakes up.
func TestSave_AfterTheLeaseWasTakenOverIsRefused(t *testing.T) {
	url := pgtest.Start(t).NewDatabase(t)
	ctx := context.Background()
	old, err := postgres.Open(ctx, url, postgres.WithHolder("old"))
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	run, err := old.BeginRun(ctx, "sync")
	if err != nil {
		t.Fatal(err)
	}
	// The old writer is paused: its lease expires without a renewal.
	exec(t, url, `UPDATE dirsync_lease SET expires_at = clock_timestamp() - interval '1 second'`)
	next, err := postgres.Open(ctx, url, postgres.WithHolder("next"))
	if err != nil {
		t.Fatalf("Open after the lease expired: %v", err)
	}
	defer next.Close()
	if next.Lease().Token() <= old.Lease().Token() {
		t.Errorf("tokens %d then %d: a new holder's must be greater", old.Lease().Token(), next.Lease().Token())
	}

	rec := storetest.FullRecord("g")
	err = old.Save(ctx, run, user.Entry{Op: user.OpCreate, UserID: "g"}, &rec)
	if !errors.Is(err, postgres.ErrLeaseLost) {
		t.Fatalf("Save by the old writer: %v, want ErrLeaseLost", err)
	}
	if err := old.SetMeta(ctx, "k", "v"); !errors.Is(err, postgres.ErrLeaseLost) {
		t.Errorf("SetMeta by the old writer: %v, want ErrLeaseLost", err)
	}
	if err := old.FinishRun(ctx, run, "success", nil, ""); !errors.Is(err, postgres.ErrLeaseLost) {
		t.Errorf("FinishRun by the old writer: %v, want ErrLeaseLost", err)
	}
	select {
	case <-old.Lease().Lost():
	default:
		t.Error("the old writer's lease is not marked lost after a refused write")
	}
	if recs, err := next.Snapshot(ctx); err != nil || len(recs) != 0 {
		t.Errorf("Snapshot = %+v, %v; the old writer's record must not land", recs, err)
	}
	// The new writer closed the old one's run as interrupted when it opened.
	runs, err := next.Runs(ctx, 0)
	if err != nil || len(runs) != 1 || runs[0].Outcome != state.OutcomeInterrupted {
		t.Errorf("Runs = %+v, %v; want the old run interrupted", runs, err)
	}
}

// TestLease_LostWhenTheDatabaseIsCutAndTakenOverAfterExpiry: the holder
// that can no longer reach the database gives the lease up by itself, and a
// standby takes it over once it expired, not before.
func TestLease_LostWhenTheDatabaseIsCutAndTakenOverAfterExpiry(t *testing.T) {
	srv := pgtest.Start(t)
	url := srv.NewDatabase(t)
	proxy := proxytest.Start(t, srv.Addr())
	viaProxy := strings.Replace(url, srv.Addr(), proxy.Addr(), 1)
	ctx := context.Background()
	const ttl = 2 * time.Second

	leader, err := postgres.Acquire(ctx, viaProxy, "leader", ttl)
	if err != nil {
		t.Fatal(err)
	}
	defer leader.Release(ctx)
	cut := time.Now()
	proxy.SetDown(true)

	cctx, cancel := context.WithTimeout(ctx, 10*ttl)
	defer cancel()
	standby, err := postgres.Campaign(cctx, url, "standby", ttl, 100*time.Millisecond)
	if err != nil {
		t.Fatalf("Campaign: %v", err)
	}
	defer standby.Release(ctx)
	took := time.Since(cut)
	if took < ttl*8/10 {
		t.Errorf("the standby took over %s after the cut; the leader's lease lasts %s", took, ttl)
	}
	select {
	case <-leader.Lost():
	case <-time.After(ttl):
		t.Fatal("the leader still counts on its lease after the standby took it over")
	}
	if !errors.Is(leader.Err(), postgres.ErrLeaseLost) {
		t.Errorf("leader.Err() = %v, want ErrLeaseLost", leader.Err())
	}
}

func TestLease_ReleaseLetsAStandbyTakeOverAtOnce(t *testing.T) {
	url := pgtest.Start(t).NewDatabase(t)
	ctx := context.Background()
	leader, err := postgres.Acquire(ctx, url, "leader", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := postgres.Acquire(ctx, url, "standby", time.Minute); err == nil {
		t.Fatal("a second Acquire while the lease is held: no error")
	} else if h, ok := postgres.IsHeld(err); !ok || h != "leader" {
		t.Errorf("second Acquire: %v; want held by leader", err)
	}
	if err := leader.Release(ctx); err != nil {
		t.Fatal(err)
	}
	standby, err := postgres.Acquire(ctx, url, "standby", time.Minute)
	if err != nil {
		t.Fatalf("Acquire after Release: %v", err)
	}
	standby.Release(ctx)
}
