package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	gosync "sync"

	"github.com/dirsync/dirsync/state"
	dsync "github.com/dirsync/dirsync/sync"
	"github.com/dirsync/dirsync/target"
	"github.com/dirsync/dirsync/user"
)

// scope narrows a run to one user (`sync --user NAME`): the directory read and
// the snapshot are both cut down to the entries of that user, so the plan holds
// that user's change only and nobody else can be archived.
type scope struct {
	name string
	db   *state.DB
	mu   gosync.Mutex
	id   string // the directory ID of the user, once the read found it
	// skipped: the read found the user only among the skipped entries.
	skipped bool
}

// matches reports whether u is the user named: by username, email or
// directory ID, case-insensitively.
func (s *scope) matches(u user.User) bool {
	return strings.EqualFold(u.Username, s.name) || strings.EqualFold(u.Email, s.name) || u.ID == s.name
}

// narrow makes a's reconciler see the one user only.
func (s *scope) narrow(a *app) error {
	db, ok := a.engine.Store.(*state.DB)
	if !ok {
		return fmt.Errorf("--user: the snapshot is a %T, not a state database", a.engine.Store)
	}
	s.db = db
	a.engine.Source = scopedSource{s: s, src: a.engine.Source}
	// Embedding the database keeps every optional method the reconciler
	// looks for (intents, meta); only Snapshot is narrowed.
	a.engine.Store = scopedStore{s: s, DB: db}
	// One user is never a mass archive; the absolute limit (0: every removal
	// needs --allow-mass-archive) still holds.
	if a.engine.Policy.MaxArchivePercent > 0 {
		a.engine.Policy.MaxArchivePercent = 100
	}
	return nil
}

type scopedSource struct {
	s   *scope
	src dsync.Source
}

func (r scopedSource) Read(ctx context.Context) (dsync.Directory, error) {
	dir, err := r.src.Read(ctx)
	if err != nil {
		return dir, err
	}
	if len(dir.Users) == 0 {
		// The whole read is empty: a wrong base DN or filter, not a leaver.
		return dsync.Directory{}, errors.New("--user: the directory returned no users in scope at all; check ldap.base_dn and ldap.user_filter (`dirsync check`)")
	}
	var out dsync.Directory
	for _, u := range dir.Users {
		if r.s.matches(u) {
			out.Users = append(out.Users, u)
		}
	}
	if len(out.Users) > 1 {
		return dsync.Directory{}, fmt.Errorf("--user %s: %d directory users match; name one by username or directory ID", r.s.name, len(out.Users))
	}
	id := ""
	if len(out.Users) == 1 {
		id = out.Users[0].ID
	}
	// The skipped entries that protect (or, disabled, archive) the user's
	// record go with it, as in a run over every user: the entries holding
	// its ID or, when their ID could not be read, its DN.
	recs, err := r.s.db.Snapshot(ctx)
	if err != nil {
		return dsync.Directory{}, fmt.Errorf("read snapshot: %w", err)
	}
	ids, dns := map[string]bool{r.s.name: true}, map[string]bool{}
	for _, rec := range r.s.pick(recs, id) {
		ids[rec.User.ID] = true
		if rec.User.DN != "" {
			dns[strings.ToLower(rec.User.DN)] = true
		}
	}
	for _, sk := range dir.Skipped {
		if ids[sk.ID] || slices.ContainsFunc(sk.IDs, func(id string) bool { return ids[id] }) || (sk.DN != "" && dns[strings.ToLower(sk.DN)]) {
			out.Skipped = append(out.Skipped, sk)
		}
	}
	r.s.mu.Lock()
	r.s.id, r.s.skipped = id, len(out.Skipped) > 0
	r.s.mu.Unlock()
	return out, nil
}

// pick returns the records of the user: the one of directory ID id once
// the read found the user, else those whose username, email or ID is the
// name.
func (s *scope) pick(recs []user.Record, id string) []user.Record {
	var out []user.Record
	for _, r := range recs {
		if (id != "" && r.User.ID == id) || (id == "" && s.matches(r.User)) {
			out = append(out, r)
		}
	}
	return out
}

type scopedStore struct {
	s *scope
	*state.DB
}

func (st scopedStore) Snapshot(ctx context.Context) ([]user.Record, error) {
	recs, err := st.DB.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	st.s.mu.Lock()
	id, skipped := st.s.id, st.s.skipped
	st.s.mu.Unlock()
	out := st.s.pick(recs, id)
	if id == "" && len(out) == 0 && !skipped {
		return nil, fmt.Errorf("--user %s: no such user in the directory's scope or in the snapshot (match is by username, email or directory ID)", st.s.name)
	}
	if len(out) > 1 {
		return nil, fmt.Errorf("--user %s: %d snapshot records match; name one by directory ID", st.s.name, len(out))
	}
	return out, nil
}

// Summaries and Records would see past the scope: a --user run reads the
// whole (narrowed) snapshot instead (scopedSource is no dsync.Streamer, so
// the reconciler never asks; these make sure).
func (st scopedStore) Summaries(context.Context, func(user.Summary) error) error {
	return errors.New("--user: the snapshot is read whole, not in summaries")
}

func (st scopedStore) Records(context.Context, []string) ([]user.Record, error) {
	return nil, errors.New("--user: the snapshot is read whole, not by ID")
}

// requestPrinter prints each platform request's outcome as it comes.
type requestPrinter struct {
	mu *gosync.Mutex
	w  io.Writer
}

func newRequestPrinter(w io.Writer) requestPrinter { return requestPrinter{mu: &gosync.Mutex{}, w: w} }

func (p requestPrinter) change(dsync.Change, error) {}

func (p requestPrinter) request(a target.Attempt) {
	p.mu.Lock()
	defer p.mu.Unlock()
	outcome := fmt.Sprintf("%d %s", a.Status, http.StatusText(a.Status))
	if a.Status == 0 {
		outcome = fmt.Sprintf("no answer: %v", a.Err)
	}
	fmt.Fprintf(p.w, "  %s %s → %s  (%s)\n", a.Method, a.URL, outcome, a.Op)
}

var (
	_ dsync.IntentStore = scopedStore{}
	_ dsync.Store       = scopedStore{}
)
