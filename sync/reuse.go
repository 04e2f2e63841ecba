package sync

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/dirsync/dirsync/user"
)

// IdentifierMove is a username or email that a planned change gives one
// directory user while the snapshot holds it for another directory ID: a
// leaver's address given to a new hire, or a name still held by an archived
// account. The platform keeps an archived account's username and email, so
// the change usually fails (dirsync never adopts an account linked to
// another directory user); and when it does not, data meant for one person
// may reach another. Plan and check list each before any write.
type IdentifierMove struct {
	// Field is user.FieldUsername or user.FieldEmail; Value its value.
	Field string `json:"field"`
	Value string `json:"value"`
	// Op is the planned change giving Value to the directory user ToID.
	Op         user.Op `json:"op"`
	ToID       string  `json:"to_id"`
	ToUsername string  `json:"to_username"`
	// From* describe the snapshot record holding Value (FromStatus is empty
	// for a former holder: see FromUntil).
	FromID         string      `json:"from_id"`
	FromUsername   string      `json:"from_username"`
	FromPlatformID string      `json:"from_platform_id,omitempty"`
	FromStatus     user.Status `json:"from_status"`
	FromArchivedAt time.Time   `json:"from_archived_at,omitzero"`
	// FromLeaving says the same plan archives or deletes the holder.
	FromLeaving bool `json:"from_leaving,omitempty"`
	// FromRenamed says the same plan gives the holder another value of
	// Field: the value is passed on.
	FromRenamed bool `json:"from_renamed,omitempty"`
	// FromUntil, when set, says the holder gave Value up then, for another
	// (a user.FormerHolder, from the journal): the holder's record holds it no
	// more.
	FromUntil time.Time `json:"from_until,omitzero"`
}

// FormerHolderStore finds who held usernames or emails before, so that a
// value passed from one directory user to another between runs is flagged
// too; it is part of every Store.
type FormerHolderStore interface {
	// FormerHolders returns the usernames and emails among values (compared
	// without regard to case) that the directory changes of the journal took
	// from a user and replaced.
	FormerHolders(ctx context.Context, values []string) ([]user.FormerHolder, error)
}

// Problem says what moves, from whom, to whom.
func (m IdentifierMove) Problem() string {
	holder := fmt.Sprintf("directory ID %s (%s", m.FromID, m.FromUsername)
	if m.FromPlatformID != "" {
		holder += ", platform account " + m.FromPlatformID
	}
	holder += ")"
	to := fmt.Sprintf("%s %s (directory ID %s)", m.Op, m.ToUsername, m.ToID)
	switch {
	case !m.FromUntil.IsZero():
		return fmt.Sprintf("%s: %s %q was held by %s until %s, when it changed", to, m.Field, m.Value, holder,
			m.FromUntil.UTC().Format(time.DateOnly))
	case m.FromStatus == user.StatusArchived:
		since := ""
		if !m.FromArchivedAt.IsZero() {
			since = ", archived " + m.FromArchivedAt.UTC().Format(time.DateOnly)
		}
		return fmt.Sprintf("%s: %s %q belongs to the archived account of %s%s", to, m.Field, m.Value, holder, since)
	case m.FromStatus == user.StatusDeleted:
		since := ""
		if !m.FromArchivedAt.IsZero() {
			since = " on " + m.FromArchivedAt.UTC().Format(time.DateOnly)
		}
		return fmt.Sprintf("%s: %s %q belonged to %s, deleted from the platform%s", to, m.Field, m.Value, holder, since)
	case m.FromRenamed:
		return fmt.Sprintf("%s: %s %q moves from %s, who gets another %s in this same plan", to, m.Field, m.Value, holder, m.Field)
	case m.FromLeaving:
		return fmt.Sprintf("%s: %s %q moves from %s, archived by this same plan, to another directory user", to, m.Field, m.Value, holder)
	default:
		return fmt.Sprintf("%s: %s %q is held by the active user %s", to, m.Field, m.Value, holder)
	}
}

// Advice says what to do.
func (m IdentifierMove) Advice() string {
	switch {
	case !m.FromUntil.IsZero():
		return fmt.Sprintf("check that giving another user's former %s to someone else is intended "+
			"(mail and other systems may still route it to them)", m.Field)
	case m.FromStatus == user.StatusDeleted:
		return fmt.Sprintf("the platform no longer holds it, so the %s can land; check that giving a former user's %s to "+
			"someone else is intended (mail and other systems may still route it to the former user's data)", m.Op, m.Field)
	case m.FromRenamed && !m.FromLeaving && m.FromStatus == user.StatusActive:
		return fmt.Sprintf("check that passing the %s on is intended; if the platform refuses the %s because the other "+
			"user's change has not landed yet, the next run tries it again", m.Field, m.Op)
	}
	if m.FromStatus == user.StatusArchived || m.FromLeaving {
		return fmt.Sprintf("the platform keeps the %s on the archived account, so this %s fails until it is freed. "+
			"If the %s is rightly reused, free it: delete the archived account (sync.delete_after, or by hand), or "+
			"rename it on archive (sync.free_identifiers_on_archive); otherwise give the new user another %s in the directory",
			m.Field, m.Op, m.Field, m.Field)
	}
	return fmt.Sprintf("two directory users cannot hold one %s: correct it in the directory", m.Field)
}

// IdentifierStore finds the records holding usernames or emails without
// reading the whole snapshot; it is part of every Store.
type IdentifierStore interface {
	// RecordsHolding returns the records, active, archived or deleted, whose
	// username or email is one of values (compared without regard to case).
	RecordsHolding(ctx context.Context, values []string) ([]user.Record, error)
}

// given returns the usernames and emails c gives its user: all of a
// create's, the changed ones of an update or reactivation.
func given(c Change) map[string]string {
	out := map[string]string{}
	switch c.Op {
	case user.OpCreate, user.OpAdopt:
		out[user.FieldUsername], out[user.FieldEmail] = c.User.Username, c.User.Email
	case user.OpUpdate, user.OpReactivate:
		for _, f := range c.Fields {
			if f.Field == user.FieldUsername || f.Field == user.FieldEmail {
				out[f.Field] = f.New
			}
		}
	}
	for k, v := range out {
		if v == "" {
			delete(out, k)
		}
	}
	return out
}

// FindIdentifierMoves returns the usernames and emails plan's changes give a
// directory user while one of holders, a record of another directory ID that
// is active, archived or deleted, holds them. holders may hold any
// records: pending ones are ignored.
func FindIdentifierMoves(plan Plan, holders []user.Record) []IdentifierMove {
	return findMoves(plan.Changes, plan.Changes, holders)
}

// findMoves is FindIdentifierMoves for changes, a part of the plan whose
// changes are all, which says who leaves and who is renamed.
func findMoves(all, changes []Change, holders []user.Record) []IdentifierMove {
	byValue := map[string][]*user.Record{}
	for i := range holders {
		r := &holders[i]
		if r.Status != user.StatusActive && r.Status != user.StatusArchived && r.Status != user.StatusDeleted {
			continue
		}
		for _, v := range []string{r.User.Username, r.User.Email} {
			if v != "" {
				k := strings.ToLower(v)
				byValue[k] = append(byValue[k], r)
			}
		}
	}
	if len(byValue) == 0 {
		return nil
	}
	leaving := map[string]bool{}
	renamed := map[string]map[string]bool{} // directory ID → fields its change gives another value
	for _, c := range all {
		if removal(c.Op) {
			leaving[c.User.ID] = true
		}
		for f := range given(c) {
			if renamed[c.User.ID] == nil {
				renamed[c.User.ID] = map[string]bool{}
			}
			renamed[c.User.ID][f] = true
		}
	}
	var out []IdentifierMove
	for _, c := range changes {
		for _, field := range []string{user.FieldUsername, user.FieldEmail} {
			v, ok := given(c)[field]
			if !ok {
				continue
			}
			for _, r := range byValue[strings.ToLower(v)] {
				held := r.User.Username
				if field == user.FieldEmail {
					held = r.User.Email
				}
				if r.User.ID == c.User.ID || !strings.EqualFold(held, v) {
					continue
				}
				out = append(out, IdentifierMove{Field: field, Value: v, Op: c.Op, ToID: c.User.ID, ToUsername: c.User.Username,
					FromID: r.User.ID, FromUsername: r.User.Username, FromPlatformID: r.PlatformID, FromStatus: r.Status,
					FromArchivedAt: r.ArchivedAt, FromLeaving: leaving[r.User.ID], FromRenamed: renamed[r.User.ID][field]})
			}
		}
	}
	return out
}

// flagIdentifierMoves sets plan.IdentifierMoves from the snapshot.
func (e *Engine) flagIdentifierMoves(ctx context.Context, plan *Plan) error {
	moves, err := e.IdentifierMoves(ctx, *plan)
	if err != nil {
		return err
	}
	plan.IdentifierMoves = moves
	return nil
}

// IdentifierMoves returns the usernames and emails plan's changes give a
// directory user while the snapshot holds them, or the journal says they
// were held, for another (what plan and check list).
func (e *Engine) IdentifierMoves(ctx context.Context, plan Plan) ([]IdentifierMove, error) {
	out, err := e.moves(ctx, plan.Changes, plan.Changes)
	if err != nil {
		return nil, err
	}
	// The streamed creates, a batch at a time.
	err = plan.spill.each(1024, func(batch []user.User) error {
		creates := make([]Change, len(batch))
		for i, u := range batch {
			creates[i] = Change{Op: user.OpCreate, User: u}
		}
		m, err := e.moves(ctx, plan.Changes, creates)
		out = append(out, m...)
		return err
	})
	return out, err
}

// moves returns the identifier moves of changes, a part of the plan whose
// changes are all: from the records holding the values they give, and from
// their former holders.
func (e *Engine) moves(ctx context.Context, all, changes []Change) ([]IdentifierMove, error) {
	var values []string
	for _, c := range changes {
		for _, v := range given(c) {
			values = append(values, v)
		}
	}
	if len(values) == 0 {
		return nil, nil
	}
	holders, err := e.holders(ctx, values)
	if err != nil {
		return nil, err
	}
	moves := findMoves(all, changes, holders)
	formers, err := e.Store.FormerHolders(ctx, values)
	if err != nil {
		return nil, fmt.Errorf("read journal: former holders of the planned usernames and emails: %w", err)
	}
	return append(moves, formerMoves(changes, formers, moves)...), nil
}

// formerMoves returns the moves of values plan's changes give a directory
// user that another gave up before (formers), but for those found already.
func formerMoves(changes []Change, formers []user.FormerHolder, found []IdentifierMove) []IdentifierMove {
	if len(formers) == 0 {
		return nil
	}
	type key struct{ to, field, from string }
	seen := map[key]bool{}
	for _, m := range found {
		seen[key{m.ToID, m.Field, m.FromID}] = true
	}
	var out []IdentifierMove
	for _, c := range changes {
		for field, v := range given(c) {
			for _, f := range formers {
				k := key{c.User.ID, field, f.ID}
				if f.ID == c.User.ID || f.Field != field || !strings.EqualFold(f.Value, v) || seen[k] {
					continue
				}
				seen[k] = true
				out = append(out, IdentifierMove{Field: field, Value: v, Op: c.Op, ToID: c.User.ID, ToUsername: c.User.Username,
					FromID: f.ID, FromUsername: f.Username, FromUntil: f.Until})
			}
		}
	}
	return out
}

// holders returns the records that may hold one of values as username or
// email (FindIdentifierMoves sorts them out).
func (e *Engine) holders(ctx context.Context, values []string) ([]user.Record, error) {
	recs, err := e.Store.RecordsHolding(ctx, values)
	if err != nil {
		return nil, fmt.Errorf("read snapshot: records holding the planned usernames and emails: %w", err)
	}
	return recs, nil
}
