package pgtest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestStart_ServesAFreshDatabaseAndStops(t *testing.T) {
	s := Start(t)
	ctx := context.Background()
	url := s.NewDatabase(t)
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	var db string
	if err := c.QueryRow(ctx, `SELECT current_database()`).Scan(&db); err != nil || db != "test_1" {
		t.Errorf("current_database = %q, %v; want test_1", db, err)
	}
	c.Close(ctx)
	s.Stop()
	if err := s.ping(); err == nil {
		t.Error("the server still answers after Stop")
	}
}
