package app

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/zap"

	"github.com/dirsync/dirsync/internal/config"
	"github.com/dirsync/dirsync/internal/e2etest"
	"github.com/dirsync/dirsync/internal/slapdtest"
	dsync "github.com/dirsync/dirsync/sync"
	"github.com/dirsync/dirsync/target/fake"
	"github.com/dirsync/dirsync/user"
)

// TestWireTargets_TargetsShareOneStreamedReadAndRunAtOnce runs two targets
// over one directory read, at once (go test -race sees them share it), and
// checks that each streams the read past its own snapshot: one the users
// are new to, one already in step.
func TestWireTargets_TargetsShareOneStreamedReadAndRunAtOnce(t *testing.T) {
	srv := slapdtest.Start(t)
	ou := srv.AddOU(t, "targets")
	for _, n := range []string{"alice", "bob", "carol"} {
		srv.AddUser(t, ou, slapdtest.UserSpec{UID: n, Mail: n + "@example.com", GivenName: n, SN: "T", DisplayName: n})
	}
	a, b := fake.New(fake.Options{Token: "a"}), fake.New(fake.Options{Token: "b"})
	dir := t.TempDir()
	yaml := e2etest.LDAPConfig(srv, ou, "(objectClass=inetOrgPerson)") + fmt.Sprintf(`targets:
  - {name: a, url: %q, token: a}
  - {name: b, url: %q, token: b}
state:
  path: %q
`, a.StartT(t), b.StartT(t), filepath.Join(dir, "state.db"))
	file := filepath.Join(dir, "dirsync.yaml")
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	run := func(names ...string) []Result {
		t.Helper()
		apps, err := WireTargets(ctx, cfg, zap.NewNop(), WireOptions{Targets: names})
		if err != nil {
			t.Fatal(err)
		}
		defer closeAll(apps)
		if len(apps) > 1 {
			shared, ok := apps[0].Engine.Source.(*sharedRead)
			if !ok || apps[1].Engine.Source != dsync.Source(shared) {
				t.Fatalf("the targets' sources are %T and %T, want one shared read", apps[0].Engine.Source, apps[1].Engine.Source)
			}
		}
		return RunEach(apps, func(a *App) (dsync.Report, error) { return a.Engine.Run(ctx, dsync.RunOptions{}) })
	}
	run("a") // a is in step, b has never run
	res := run()
	for _, r := range res {
		if r.Err != nil {
			t.Fatalf("target %s: %v", r.App.Name, r.Err)
		}
	}
	if got := res[0].Report.Plan.Unchanged; got != 3 || len(res[0].Report.Plan.Changes) != 0 {
		t.Errorf("target a: %d unchanged, %d changes; want 3 and none", got, len(res[0].Report.Plan.Changes))
	}
	if got := res[1].Report.Applied["create"]; got != 3 {
		t.Errorf("target b: %d created, want 3", got)
	}
	if res[0].Report.Phases.Fetch == 0 || res[1].Report.Phases.Fetch == 0 {
		t.Errorf("fetch phases %v and %v: the targets' runs did not stream the read", res[0].Report.Phases.Fetch, res[1].Report.Phases.Fetch)
	}
	if len(a.Accounts()) != 3 || len(b.Accounts()) != 3 {
		t.Errorf("accounts: a %d, b %d, want 3 each", len(a.Accounts()), len(b.Accounts()))
	}
}

// streamer emits users one at a time when told, and then its skips.
type streamer struct {
	users []user.User
	skips []dsync.Skip
	step  chan struct{} // one receive per user
}

func (s streamer) Read(context.Context) (dsync.Directory, error) { panic("not read whole") }
func (s streamer) Reread(context.Context, []string, []string) (dsync.Changed, error) {
	panic("not reread")
}
func (s streamer) Stream(_ context.Context, emit func(user.User) error) ([]dsync.Skip, error) {
	for _, u := range s.users {
		<-s.step
		if err := emit(u); err != nil {
			return nil, err
		}
	}
	return s.skips, nil
}

func TestSharedRead_EveryTargetGetsTheUsersAsTheyComeAndTheWholeReadWithoutTheWithdrawn(t *testing.T) {
	// A batch and one more: the targets get the first batch while the read
	// still waits for the last user.
	users := make([]user.User, sharedBatch+1)
	for i := range users {
		users[i] = user.User{ID: fmt.Sprint(i + 1), Username: fmt.Sprint("u", i+1)}
	}
	src := streamer{
		users: users,
		// 1 was withdrawn after it was emitted: a later entry shared its name.
		skips: []dsync.Skip{{ID: "1", Reason: "duplicate username", Withdrawn: true}, {ID: "x", Reason: "duplicate username"}},
		step:  make(chan struct{}),
	}
	s := newSharedRead(src, 3) // two streams and a whole read
	ctx := context.Background()
	got := make(chan string, 2*len(users))
	streamed := make(chan []dsync.Skip, 2)
	for range 2 {
		go func() {
			skips, err := s.Stream(ctx, func(u user.User) error { got <- u.ID; return nil })
			if err != nil {
				t.Error(err)
			}
			streamed <- skips
		}()
	}
	for range sharedBatch {
		src.step <- struct{}{}
	}
	for range 2 * sharedBatch {
		<-got // both targets get the first batch before the read goes on
	}
	src.step <- struct{}{}
	for range 2 {
		if skips := <-streamed; len(skips) != 2 || !skips[0].Withdrawn {
			t.Errorf("a target's stream ended with skips %+v, want the withdrawn user's and the other", skips)
		}
	}
	if n := len(got); n != 2 {
		t.Errorf("%d users after the first batches, want the last one to each target", n)
	}
	dir, err := s.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(dir.Users) != len(users)-1 || dir.Users[0].ID != "2" {
		t.Errorf("whole read: %d users from %s, want %d from 2 (1 was withdrawn)", len(dir.Users), dir.Users[0].ID, len(users)-1)
	}
	if len(dir.Skipped) != 2 || dir.Skipped[0].Withdrawn {
		t.Errorf("whole read: skipped %+v, want both entries as plain skips", dir.Skipped)
	}
}

func TestSharedRead_UsersEveryTargetPassedAreLetGo(t *testing.T) {
	users := make([]user.User, 3*sharedBatch)
	for i := range users {
		users[i] = user.User{ID: fmt.Sprint(i + 1), Username: fmt.Sprint("u", i+1)}
	}
	step := make(chan struct{})
	close(step) // no waiting
	s := newSharedRead(streamer{users: users, step: step}, 2)
	ctx := context.Background()
	var counts [2]int
	done := make(chan struct{}, 2)
	for i := range 2 {
		go func() {
			if _, err := s.Stream(ctx, func(user.User) error { counts[i]++; return nil }); err != nil {
				t.Error(err)
			}
			done <- struct{}{}
		}()
	}
	<-done
	<-done
	if counts[0] != len(users) || counts[1] != len(users) {
		t.Fatalf("users taken: %v, want %d each", counts, len(users))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.released != len(s.batches) || len(s.batches) != 3 || s.batches[0] != nil || s.batches[2] != nil {
		t.Errorf("released %d of %d batches after both targets took them all", s.released, len(s.batches))
	}
}
