package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/pgtest"
	"github.com/dirsync/dirsync/state"
	"github.com/dirsync/dirsync/state/postgres"
	"github.com/dirsync/dirsync/state/storetest"
)

func TestPostgres_StoreContract(t *testing.T) {
	srv := pgtest.Start(t)
	storetest.Run(t, storetest.Backend{
		New: srv.NewDatabase,
		Open: func(ctx context.Context, url string, now func() time.Time) (state.Store, error) {
			var opts []postgres.Option
			if now != nil {
				opts = append(opts, postgres.WithClock(now))
			}
			return postgres.Open(ctx, url, opts...)
		},
		OpenReadOnly: func(ctx context.Context, url string) (state.Store, error) {
			return postgres.OpenReadOnly(ctx, url)
		},
	})
}
