package stores_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dirsync/dirsync/internal/pgtest"
	"github.com/dirsync/dirsync/state"
	"github.com/dirsync/dirsync/state/postgres"
	"github.com/dirsync/dirsync/state/stores"
	"github.com/dirsync/dirsync/state/storetest"
	"github.com/dirsync/dirsync/user"
)

func TestOpen_TheDriverChoosesTheStore(t *testing.T) {
	ctx := context.Background()
	sqlite := state.Config{Driver: state.DriverSQLite, Path: filepath.Join(t.TempDir(), "state.db")}
	st, err := stores.Open(ctx, sqlite)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := st.(*state.DB); !ok || st.Path() != sqlite.Path {
		t.Errorf("sqlite: %T at %s", st, st.Path())
	}
	st.Close()

	pg := state.Config{Driver: state.DriverPostgres, URL: pgtest.Start(t).NewDatabase(t)}
	st, err = stores.Open(ctx, pg)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := st.(*state.DB); ok || !strings.HasPrefix(st.Path(), "postgres://") {
		t.Errorf("postgres: %T at %s", st, st.Path())
	}
	// A one-shot writer holds its own lease: a second one is locked out,
	// a reader is not.
	if _, err := stores.Open(ctx, pg); !errors.Is(err, state.ErrLocked) {
		t.Errorf("second writer: %v, want ErrLocked", err)
	}
	ro, err := stores.OpenReadOnly(ctx, pg)
	if err != nil {
		t.Fatal(err)
	}
	ro.Close()
	st.Close()

	// Under a leader's lease: no lease of its own, and none once it is lost.
	l, err := postgres.Acquire(ctx, pg.URL, "leader", 0)
	if err != nil {
		t.Fatal(err)
	}
	var cur *postgres.Lease = l
	o := stores.Opener{Config: pg, Lease: func() *postgres.Lease { return cur }}
	st, err = o.Open(ctx)
	if err != nil {
		t.Fatalf("Open under the leader's lease: %v", err)
	}
	if _, err := st.BeginRun(ctx, "sync"); err != nil {
		t.Errorf("BeginRun under the leader's lease: %v", err)
	}
	st.Close()
	l.Release(ctx)
	cur = nil
	if _, err := o.Open(ctx); !errors.Is(err, postgres.ErrLeaseLost) {
		t.Errorf("Open without a lease: %v, want ErrLeaseLost", err)
	}
}

// TestOpen_EachTargetHasItsOwnSnapshotInOneDatabaseUnderOneLease: with
// targets:, each target's snapshot is its own (a schema of the database);
// a one-shot sync of every target takes the one lease once, and another
// process is locked out of all of them.
func TestOpen_EachTargetHasItsOwnSnapshotInOneDatabaseUnderOneLease(t *testing.T) {
	ctx := context.Background()
	base := state.Config{Driver: state.DriverPostgres, URL: pgtest.Start(t).NewDatabase(t)}
	helpdesk, err := stores.Open(ctx, base.ForTarget("helpdesk"))
	if err != nil {
		t.Fatal(err)
	}
	defer helpdesk.Close()
	crm, err := stores.Open(ctx, base.ForTarget("crm-eu"))
	if err != nil {
		t.Fatalf("a second target's store in the same process: %v", err)
	}
	run, err := helpdesk.BeginRun(ctx, "sync")
	if err != nil {
		t.Fatal(err)
	}
	rec := storetest.FullRecord("g1")
	if err := helpdesk.Save(ctx, run, user.Entry{Op: user.OpCreate, UserID: "g1"}, &rec); err != nil {
		t.Fatal(err)
	}
	if recs, err := crm.Snapshot(ctx); err != nil || len(recs) != 0 {
		t.Errorf("crm's snapshot = %d records, %v; want none (helpdesk's are its own)", len(recs), err)
	}
	if runs, err := crm.Runs(ctx, 0); err != nil || len(runs) != 0 {
		t.Errorf("crm's runs = %+v, %v; want none", runs, err)
	}
	ro, err := stores.OpenReadOnly(ctx, base.ForTarget("helpdesk"))
	if err != nil {
		t.Fatal(err)
	}
	if recs, err := ro.Snapshot(ctx); err != nil || len(recs) != 1 {
		t.Errorf("helpdesk read-only = %d records, %v; want 1", len(recs), err)
	}
	ro.Close()
	if _, err := postgres.Acquire(ctx, base.URL, "other host", 0); err == nil {
		t.Error("another process took the lease while this one writes")
	}
	crm.Close()
	helpdesk.Close()
	other, err := postgres.Acquire(ctx, base.URL, "other host", 0)
	if err != nil {
		t.Fatalf("the lease after every store closed: %v", err)
	}
	other.Release(ctx)
}
