package state_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/dirsync/dirsync/state"
	"github.com/dirsync/dirsync/state/storetest"
)

func TestSQLite_StoreContract(t *testing.T) {
	storetest.Run(t, storetest.Backend{
		New: func(t testing.TB) string { return filepath.Join(t.TempDir(), "state.db") },
		Open: func(ctx context.Context, path string, now func() time.Time) (state.Store, error) {
			var opts []state.Option
			if now != nil {
				opts = append(opts, state.WithClock(now))
			}
			return state.Open(ctx, path, opts...)
		},
		OpenReadOnly: func(ctx context.Context, path string) (state.Store, error) {
			return state.OpenReadOnly(ctx, path)
		},
	})
}
