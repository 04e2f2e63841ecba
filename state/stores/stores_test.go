package stores_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/dirsync/dirsync/internal/pgtest"
	"github.com/dirsync/dirsync/state"
	"github.com/dirsync/dirsync/state/postgres"
	"github.com/dirsync/dirsync/state/stores"
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
	if _, ok := st.(*postgres.DB); !ok {
		t.Errorf("postgres: %T", st)
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
