package sync

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/dirsync/dirsync/user"
)

// gatedStore holds its Summaries back until release is closed, so a test
// decides which users stream by before the summaries are in.
type gatedStore struct {
	*fakeStore
	release chan struct{}
	err     error
}

func (g gatedStore) Summaries(ctx context.Context, fn func(user.Summary) error) error {
	<-g.release
	if g.err != nil {
		return g.err
	}
	return g.fakeStore.Summaries(ctx, fn)
}

// gatedSource emits users and closes release just before emitting user
// number at (0-based).
type gatedSource struct {
	users   []user.User
	at      int
	release chan struct{}
}

func (g gatedSource) Read(context.Context) (Directory, error) {
	panic("the streaming path must not Read")
}

func (g gatedSource) Reread(context.Context, []string, []string) (Changed, error) {
	panic("the streaming path must not Reread")
}

func (g gatedSource) Stream(ctx context.Context, emit func(user.User) error) ([]Skip, error) {
	for i, u := range g.users {
		if i == g.at {
			close(g.release)
		}
		if err := emit(u); err != nil {
			return nil, err
		}
	}
	if g.at >= len(g.users) {
		close(g.release)
	}
	return nil, nil
}

// churned returns n users with snapshot records in step, then changes
// every tenth one and drops every 25th from the directory.
func churned(n int) ([]user.User, []user.Record) {
	var users []user.User
	var records []user.Record
	for i, u := range numbered("u", n) {
		records = append(records, record(u, user.StatusActive, "p-"+u.Username))
		switch {
		case i%25 == 0:
			continue
		case i%10 == 0:
			u = mailTo(u, "new-"+u.Email)
		}
		users = append(users, u)
	}
	return users, records
}

func TestRun_UsersStreamedBeforeTheSummariesAreInArePlannedAlike(t *testing.T) {
	for _, tc := range []struct {
		name  string
		n, at int
	}{
		{"a few early", 200, 5},
		{"all early", 200, 200},
		// The heldUsers-th user waits for the summaries instead of
		// being held.
		{"early users capped", heldUsers + 50, heldUsers - 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			users, records := churned(tc.n)
			want := Diff(Directory{Users: users}, records, RemovedArchive)
			release := make(chan struct{})
			e := engine(&fakeSource{}, newFakeTarget(), newFakeStore())
			e.Source = gatedSource{users: users, at: tc.at, release: release}
			e.Store = gatedStore{fakeStore: newFakeStore(records...), release: release}
			rep, err := e.Run(t.Context(), RunOptions{DryRun: true, AllowMassArchive: true})
			if err != nil {
				t.Fatal(err)
			}
			got, _ := json.Marshal(rep.Plan)
			w, _ := json.Marshal(want)
			if !bytes.Equal(got, w) {
				t.Errorf("plan differs from Diff's: %d changes, %d unchanged; want %d, %d",
					len(rep.Plan.Changes), rep.Plan.Unchanged, len(want.Changes), want.Unchanged)
			}
			if len(want.Changes) == 0 {
				t.Fatal("the scenario plans nothing: it would pass on an empty plan")
			}

			// Applied, the plan is the same, and every change lands.
			release = make(chan struct{})
			ft := newFakeTarget()
			for _, r := range records {
				ft.put(accountOf(r))
			}
			e = engine(&fakeSource{}, ft, newFakeStore())
			e.Concurrency = 8
			e.Source = gatedSource{users: users, at: tc.at, release: release}
			e.Store = gatedStore{fakeStore: newFakeStore(records...), release: release}
			rep, err = e.Run(t.Context(), RunOptions{AllowMassArchive: true})
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := json.Marshal(rep.Plan); !bytes.Equal(got, w) {
				t.Errorf("applied plan differs from Diff's: %d changes, %d unchanged; want %d, %d",
					len(rep.Plan.Changes), rep.Plan.Unchanged, len(want.Changes), want.Unchanged)
			}
			if n := rep.Applied[user.OpUpdate] + rep.Applied[user.OpArchive]; n != len(want.Changes) || len(rep.Failed) > 0 {
				t.Errorf("applied %v, %d failed; want the %d changes", rep.Applied, len(rep.Failed), len(want.Changes))
			}
		})
	}
}

func TestRun_SummariesThatFailToLoadFailTheRunAndChangeNothing(t *testing.T) {
	users, records := churned(100)
	release := make(chan struct{})
	e, ft, st := setup(Directory{}, records...)
	e.Source = gatedSource{users: users, at: 10, release: release}
	e.Store = gatedStore{fakeStore: st, release: release, err: errors.New("disk I/O error")}
	_, err := e.Run(t.Context(), RunOptions{AllowMassArchive: true})
	if err == nil || !strings.Contains(err.Error(), "read snapshot") || !strings.Contains(err.Error(), "disk I/O error") {
		t.Fatalf("err = %v, want the snapshot read's error", err)
	}
	if n := len(ft.writes()); n != 0 {
		t.Errorf("%d platform writes after a failed snapshot read: %v", n, ft.writes())
	}
	if run := st.lastRun(t); run.Outcome != OutcomeFailed {
		t.Errorf("run recorded %+v, want failed", run)
	}
}
