package ldapsource

import (
	"slices"
	"strings"
	"testing"

	"github.com/dirsync/dirsync/internal/slapdtest"
)

// TestWatch_AutoPollsAServerWithoutSyncprov: the root DSE of an OpenLDAP
// server without the syncprov overlay does not offer content
// synchronization, so auto resolves to poll, and the poll reports a modify.
func TestWatch_AutoPollsAServerWithoutSyncprov(t *testing.T) {
	srv, ou, dns := startWithUsers(t, "nosyncprov", 2, slapdtest.WithoutSyncprov())
	s := autoWatchSource(t, readerConfig(srv, ou), WatchPoll, "a server without syncprov")
	key := s.StreamKeys(WatchPoll)[ou]
	r, _ := startWatch(t, s, WatchPoll, nil)
	r.waitInitialResync(t, pollTS)
	srv.Modify(t, dns[0], map[string][]string{"mail": {"polled0@example.com"}})
	id0 := srv.EntryUUID(t, dns[0])
	r.waitFor(t, "the modify", func() bool { return r.reported(id0) })
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.modes) != 0 {
		t.Errorf("fell back to %v; want poll from the start", r.modes)
	}
	wantFromStream(t, r.changes, key, "the poll stream")
}

// TestWatch_AutoFallsBackToPollWhenSyncreplIsRefused: the root DSE lists
// content synchronization (syncprov serves another database) but the users'
// database refuses it. With auto, the stream says why, falls back to poll
// under the poll stream's key, starts it with a full read, and reports a
// modify; started again with the poll cookie kept, it resumes from it.
func TestWatch_AutoFallsBackToPollWhenSyncreplIsRefused(t *testing.T) {
	srv, ou, dns := startWithUsers(t, "refused", 2, slapdtest.WithSyncprovModuleOnly())
	s := autoWatchSource(t, readerConfig(srv, ou), WatchSyncrepl, "the root DSE lists the sync request control")
	pollKey := s.StreamKeys(WatchPoll)[ou]
	r, _ := startWatch(t, s, WatchSyncrepl, nil)
	r.waitFallBackToPoll(t, pollKey, pollTS)
	if msg := r.firstDown().Error(); !strings.Contains(msg, "does not offer content synchronization") || !strings.Contains(msg, "polling instead") {
		t.Errorf("the fall back says %q; want why syncrepl was refused and that it polls instead", msg)
	}

	srv.Modify(t, dns[1], map[string][]string{"mail": {"polled1@example.com"}})
	id1 := srv.EntryUUID(t, dns[1])
	r.waitFor(t, "the modify, seen by the poll", func() bool { return r.reported(id1) })
	r.mu.Lock()
	if !slices.Equal(r.modes, []string{WatchPoll}) {
		t.Errorf("modes %v, want one fall back, to poll", r.modes)
	}
	wantFromStream(t, r.changes, pollKey, "the poll stream")
	r.mu.Unlock()
	cookie := r.lastCookie()

	// Started again in syncrepl with the poll cookie kept: after the fall
	// back, the poll stream resumes from it, without a resync.
	srv.Modify(t, dns[0], map[string][]string{"mail": {"polled0@example.com"}})
	id0 := srv.EntryUUID(t, dns[0])
	r2 := resumeWithoutResync(t, s, WatchSyncrepl, pollKey, cookie, id0, "the modify made before the restart")
	r2.mu.Lock()
	defer r2.mu.Unlock()
	if !slices.Equal(r2.modes, []string{WatchPoll}) {
		t.Errorf("modes %v after the restart, want one fall back, to poll", r2.modes)
	}
}

// TestWatch_SyncreplAskedForExplicitlyDoesNotFallBack: ldap.watch: syncrepl
// against a database without syncprov keeps retrying with an error that says
// what to do, and never polls behind the operator's back.
func TestWatch_SyncreplAskedForExplicitlyDoesNotFallBack(t *testing.T) {
	srv, ou, _ := startWithUsers(t, "explicit", 1, slapdtest.WithSyncprovModuleOnly())
	c := readerConfig(srv, ou)
	c.Watch = WatchSyncrepl
	s := newSource(t, c)
	r, _ := startWatch(t, s, WatchSyncrepl, nil)
	// Two failures: the first attempt and one retry after the backoff.
	r.waitFor(t, "two refused attempts", func() bool { return len(r.downs) >= 2 })
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.modes) != 0 {
		t.Errorf("fell back to %v with ldap.watch: syncrepl", r.modes)
	}
	if msg := r.downs[0].Error(); !strings.Contains(msg, "load the syncprov overlay") || !strings.Contains(msg, "ldap.watch: poll") {
		t.Errorf("the error says %q; want it to say to load syncprov or set ldap.watch: poll", msg)
	}
	for _, ch := range r.changes {
		if len(ch.IDs) > 0 || ch.Resync {
			t.Errorf("a refused stream reported %+v", ch)
		}
	}
}
