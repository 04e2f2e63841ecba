package sync

import (
	"context"
	"fmt"

	"github.com/dirsync/dirsync/user"
)

// IntentStore saves a record without a journal entry. It is part of every
// Store: the applier saves a pending record for a user before creating its
// account: if the process dies after the platform created the
// account and before the create was recorded, and the user then leaves the
// directory (or is disabled), the next run still knows the account may exist
// and archives it (ReasonInterrupted) instead of leaving it active forever.
type IntentStore interface {
	SaveIntent(ctx context.Context, rec *user.Record) error
}

// ReasonInterrupted is the reason given when a pending user (a create that may
// have landed) is no longer wanted.
const ReasonInterrupted = "no longer in the directory (or disabled) after a create that may have landed; archived if it exists on the platform"

// saveIntent records that c's user is about to be created, unless the
// snapshot already holds a record for it.
func (a *applier) saveIntent(ctx context.Context, c Change) error {
	if c.prev != nil {
		return nil
	}
	now := a.now().UTC()
	rec := &user.Record{User: c.User, Hash: c.User.Hash(), Status: user.StatusPending, FirstSeen: now, LastSeen: now}
	return a.e.Store.SaveIntent(context.WithoutCancel(ctx), rec)
}

// archivePending archives the account a pending record may have: the one its
// create would have made or adopted, found by the adopt_by keys as a create
// finds it (externalId first), if no other record holds it.
func (a *applier) archivePending(ctx context.Context, c Change) (user.Entry, *user.Record, error) {
	entry := user.Entry{}
	if err := a.loadClaims(); err != nil {
		return entry, nil, err
	}
	acct, found, err := a.find(ctx, c.User, nil)
	now := a.now().UTC()
	if err != nil {
		return entry, nil, fmt.Errorf("look up the account: %w", err)
	}
	if !found {
		// Never created: nothing to remove. The record stays, deleted, so
		// that a return is a create.
		entry.Reason = c.Reason + "; no account was found"
		return entry, &user.Record{User: c.User, Status: user.StatusDeleted, ArchivedAt: now}, nil
	}
	entry.PlatformID = acct.PlatformID
	if !a.claim(acct.PlatformID, c.User.ID, false) {
		entry.Reason = c.Reason + "; the account found is linked to another directory user and is left as it is"
		return entry, &user.Record{User: c.User, Status: user.StatusDeleted, ArchivedAt: now}, nil
	}
	if acct.User.Active {
		if err := a.e.Target.SetActive(ctx, acct.PlatformID, false); err != nil && !IsNotFound(err) {
			return entry, nil, err
		}
	}
	return entry, &user.Record{User: c.User, PlatformID: acct.PlatformID, Status: user.StatusArchived, ArchivedAt: now}, nil
}
