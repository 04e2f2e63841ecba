package ldapsource

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/sambatest"
)

// TestAD_WatchDirSyncReportsChangesAndDeletes follows a Samba AD DC with the
// DirSync control: auto picks it, a modify, a disable and a delete are
// reported by objectGUID, and the reread verifies the deleted user gone.
func TestAD_WatchDirSyncReportsChangesAndDeletes(t *testing.T) {
	s := sambatest.Start(t)
	ou := s.AddOU(t, "watchdirsync")
	alice := s.AddUser(t, ou, sambatest.UserSpec{SAM: "walice", UPN: "walice@dirsync.test", Mail: "walice@dirsync.test", GivenName: "Alice", SN: "A"})
	bob := s.AddUser(t, ou, sambatest.UserSpec{SAM: "wbob", UPN: "wbob@dirsync.test", Mail: "wbob@dirsync.test", GivenName: "Bob", SN: "B"})
	carol := s.AddUser(t, ou, sambatest.UserSpec{SAM: "wcarol", UPN: "wcarol@dirsync.test", Mail: "wcarol@dirsync.test", GivenName: "Carol", SN: "C"})
	aliceID, bobID, carolID := guidOf(t, s, alice), guidOf(t, s, bob), guidOf(t, s, carol)

	c := adConfig(s, ou)
	c.Watch = WatchAuto
	c.WatchPollInterval = 200 * time.Millisecond
	src := newSource(t, c)
	mode, err := src.ResolveWatchMode(context.Background())
	if err != nil || mode != WatchDirSync {
		t.Fatalf("ResolveWatchMode = %q, %v; want dirsync on AD", mode, err)
	}
	r, _ := startWatch(t, src, mode, nil)
	r.waitFor(t, "the initial resync", func() bool {
		return len(r.changes) > 0 && r.changes[0].Resync && r.changes[0].Cookie != nil
	})

	s.Replace(t, alice, map[string][]string{"mail": {"walice.new@dirsync.test"}})
	s.Disable(t, bob)
	s.Delete(t, carol)
	r.waitFor(t, "the modify, disable and delete", func() bool {
		return r.reported(aliceID) && r.reported(bobID) && r.reported(carolID)
	})
	for _, ch := range r.changes[1:] {
		if ch.Resync {
			t.Errorf("a resync after the first DirSync: %+v", ch)
		}
	}

	users, gone, _, err := src.Reread(context.Background(), []string{aliceID, bobID, carolID})
	if err != nil {
		t.Fatal(err)
	}
	if got := usernames(users); !slices.Equal(got, []string{"walice", "wbob"}) {
		t.Errorf("reread users %v, want walice and wbob", got)
	}
	for _, u := range users {
		switch u.Username {
		case "walice":
			if u.Email != "walice.new@dirsync.test" || !u.Active {
				t.Errorf("walice reread as %+v", u)
			}
		case "wbob":
			if u.Active {
				t.Errorf("wbob reread active after the disable")
			}
		}
	}
	if !slices.Equal(gone, []string{carolID}) {
		t.Errorf("gone = %v, want [%s]", gone, carolID)
	}

	// Resuming from the cookie: no resync, only what changed since.
	cookie := r.lastCookie()
	s.Replace(t, bob, map[string][]string{"sn": {"Later"}})
	r2, _ := startWatch(t, src, mode, map[string][]byte{src.StreamKeys(mode)[ou]: cookie})
	r2.waitFor(t, "the change made while stopped", func() bool { return r2.reported(bobID) })
	r2.mu.Lock()
	defer r2.mu.Unlock()
	for _, ch := range r2.changes {
		if ch.Resync || slices.Contains(ch.IDs, aliceID) {
			t.Errorf("resumed DirSync reported %+v", ch)
		}
	}
}

// TestAD_WatchPollFollowsUSNChanged polls uSNChanged on AD.
func TestAD_WatchPollFollowsUSNChanged(t *testing.T) {
	s := sambatest.Start(t)
	ou := s.AddOU(t, "watchpoll")
	alice := s.AddUser(t, ou, sambatest.UserSpec{SAM: "palice", UPN: "palice@dirsync.test", Mail: "palice@dirsync.test", GivenName: "Alice", SN: "A"})
	bob := s.AddUser(t, ou, sambatest.UserSpec{SAM: "pbob", UPN: "pbob@dirsync.test", Mail: "pbob@dirsync.test", GivenName: "Bob", SN: "B"})
	c := adConfig(s, ou)
	c.WatchPollInterval = 200 * time.Millisecond
	src := newSource(t, c)
	r, _ := startWatch(t, src, WatchPoll, nil)
	r.waitFor(t, "the initial resync", func() bool {
		return len(r.changes) > 0 && r.changes[0].Resync && strings.HasPrefix(string(r.changes[0].Cookie), pollUSN)
	})
	s.Replace(t, alice, map[string][]string{"title": {"Polled"}})
	aliceID := guidOf(t, s, alice)
	r.waitFor(t, "the modify", func() bool { return r.reported(aliceID) })
	r.mu.Lock()
	defer r.mu.Unlock()
	bobID := guidOf(t, s, bob)
	for _, ch := range r.changes {
		if slices.Contains(ch.IDs, bobID) {
			t.Errorf("an unchanged user was reported: %+v", ch)
		}
	}
}
