package app

import (
	"context"
	"fmt"

	"github.com/dirsync/dirsync/state/postgres"
	"github.com/dirsync/dirsync/user"
)

// fencedPlatform is the platform of a run that writes under the leader's
// lease (state.driver postgres): every platform write first checks that the
// lease is still held, so that a leader paused or cut off past its lease
// sends nothing more to the platform when it comes back, as it writes
// nothing more to the snapshot. Reads go through.
type fencedPlatform struct {
	Platform
	lease *postgres.Lease
}

// leaseLostError stops the apply as a platform fault does: the change is
// charged to no user, and the next leader plans it again.
type leaseLostError struct{ err error }

func (e *leaseLostError) Error() string {
	return fmt.Sprintf("not written to the platform: %v", e.err)
}
func (e *leaseLostError) Unwrap() error       { return e.err }
func (e *leaseLostError) PlatformFault() bool { return true }
func (e *leaseLostError) Remedy() string {
	return "nothing: another dirsync leads now and runs the syncs"
}

func (f fencedPlatform) check() error {
	if err := f.lease.Check(); err != nil {
		return &leaseLostError{err: err}
	}
	return nil
}

func (f fencedPlatform) Create(ctx context.Context, u user.User) (user.Account, error) {
	if err := f.check(); err != nil {
		return user.Account{}, err
	}
	return f.Platform.Create(ctx, u)
}

func (f fencedPlatform) Update(ctx context.Context, platformID string, u user.User) error {
	if err := f.check(); err != nil {
		return err
	}
	return f.Platform.Update(ctx, platformID, u)
}

func (f fencedPlatform) SetActive(ctx context.Context, platformID string, active bool) error {
	if err := f.check(); err != nil {
		return err
	}
	return f.Platform.SetActive(ctx, platformID, active)
}

func (f fencedPlatform) Delete(ctx context.Context, platformID string) error {
	if err := f.check(); err != nil {
		return err
	}
	return f.Platform.Delete(ctx, platformID)
}
