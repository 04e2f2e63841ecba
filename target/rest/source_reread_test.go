package rest_test

import (
	"context"

	dsync "github.com/dirsync/dirsync/sync"
)

// Reread answers a change-event re-read from the in-memory directory.
func (s *source) Reread(ctx context.Context, ids, dns []string) (dsync.Changed, error) {
	d, err := s.Read(ctx)
	if err != nil {
		return dsync.Changed{}, err
	}
	return d.Changed(ids, dns), nil
}
