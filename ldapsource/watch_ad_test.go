package ldapsource

import (
	"context"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

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

// addADServiceAccount creates an enabled user with a password (a plain
// domain user: no "Replicating Directory Changes" right) and returns its DN.
// Samba sets a password over LDAP only on an encrypted connection, and Go
// refuses the test DC's certificate (a negative serial number): samba-tool
// sets it instead, over a sealed SASL bind.
func addADServiceAccount(t *testing.T, s *sambatest.Server, sam, password string) string {
	t.Helper()
	tool, err := exec.LookPath("samba-tool")
	if err != nil {
		t.Fatalf("samba-tool: %v; run scripts/install-ad-test-deps.sh", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, tool, "user", "create", sam, password,
		"-H", s.URL(), "-W", sambatest.Domain, "--use-kerberos=off", "-U", "Administrator%"+s.AdminPassword())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("samba-tool user create %s: %v\n%s", sam, err, out)
	}
	return "CN=" + ldap.EscapeDN(sam) + ",CN=Users," + s.BaseDN()
}

// TestAD_WatchDirSyncAsAPlainDomainUser binds as a plain domain user,
// without "Replicating Directory Changes". dirsync sends the DirSync control
// with LDAP_DIRSYNC_OBJECT_SECURITY, with which the DC does not check that
// right (MS-DRSR 5.115.3 ProcessDirSyncSearchRequest; Samba's dirsync module
// likewise): DirSync is granted, no fallback to polling is taken, and the
// account sees the changes to what it may read: modifies and adds, but not
// deletes (the scheduled runs find those).
func TestAD_WatchDirSyncAsAPlainDomainUser(t *testing.T) {
	s := sambatest.Start(t)
	ou := s.AddOU(t, "watchnoright")
	alice := s.AddUser(t, ou, sambatest.UserSpec{SAM: "nalice", UPN: "nalice@dirsync.test", Mail: "nalice@dirsync.test", GivenName: "Alice", SN: "A"})
	bob := s.AddUser(t, ou, sambatest.UserSpec{SAM: "nbob", UPN: "nbob@dirsync.test", Mail: "nbob@dirsync.test", GivenName: "Bob", SN: "B"})
	aliceID, bobID := guidOf(t, s, alice), guidOf(t, s, bob)
	const password = "Svc-Watch-Pa55word!"
	svc := addADServiceAccount(t, s, "svcwatch", password)

	c := adConfig(s, ou)
	c.BindDN = svc
	c.BindPassword = password
	c.Watch = WatchAuto
	c.WatchPollInterval = 200 * time.Millisecond
	src := newSource(t, c)
	// The plain user reads the users: a full read works.
	if users, _ := fetch(t, c); !slices.Equal(usernames(users), []string{"nalice", "nbob"}) {
		t.Fatalf("the service account reads %v, want [nalice nbob]", usernames(users))
	}
	mode, err := src.ResolveWatchMode(context.Background())
	if err != nil || mode != WatchDirSync {
		t.Fatalf("ResolveWatchMode = %q, %v; want dirsync on AD", mode, err)
	}
	key := src.StreamKeys(mode)[ou]
	r, _ := startWatch(t, src, mode, nil)
	r.waitFor(t, "the initial resync", func() bool {
		return len(r.changes) > 0 && r.changes[0].Resync && r.changes[0].Cookie != nil
	})

	s.Replace(t, alice, map[string][]string{"mail": {"nalice.new@dirsync.test"}})
	carol := s.AddUser(t, ou, sambatest.UserSpec{SAM: "ncarol", UPN: "ncarol@dirsync.test", Mail: "ncarol@dirsync.test", GivenName: "Carol", SN: "C"})
	carolID := guidOf(t, s, carol)
	r.waitFor(t, "the modify and the add", func() bool { return r.reported(aliceID) && r.reported(carolID) })
	// A delete is not reported: the account cannot read the tombstones in
	// CN=Deleted Objects, so DirSync does not return them. A modify made
	// after it is reported; by then the delete would have been too.
	s.Delete(t, bob)
	s.Replace(t, alice, map[string][]string{"sn": {"Later"}})
	r.waitFor(t, "the modify after the delete", func() bool {
		n := 0
		for _, ch := range r.changes {
			if slices.Contains(ch.IDs, aliceID) {
				n++
			}
		}
		return n >= 2
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.modes) != 0 || len(r.downs) != 0 {
		t.Errorf("fell back to %v after %v; want DirSync kept for a plain domain user", r.modes, r.downs)
	}
	for _, ch := range r.changes {
		if ch.Stream != key {
			t.Errorf("a change from stream %s, want every one from the DirSync stream %s: %+v", ch.Stream, key, ch)
		}
	}
	if r.reported(bobID) {
		t.Errorf("the delete of %s was reported to a plain domain user, which cannot read the tombstones: if the DC now returns them, update the README", bobID)
	}
}

// TestAD_WatchDirSyncRefusedFallsBackToPollingUSNChanged: the base DN is
// under a DC= object that is not a naming context (a domainDNS inside the
// domain), so the DC refuses the DirSync search at that suffix. The stream
// says why, falls back to polling uSNChanged under the poll stream's key,
// and reports a modify; started again with that poll cookie kept, it resumes
// from it without a resync.
func TestAD_WatchDirSyncRefusedFallsBackToPollingUSNChanged(t *testing.T) {
	s := sambatest.Start(t)
	sub := "DC=sub," + s.BaseDN()
	s.Add(t, sub, map[string][]string{"objectClass": {"domainDNS"}, "dc": {"sub"}})
	ou := "OU=people," + sub
	s.Add(t, ou, map[string][]string{"objectClass": {"organizationalUnit"}, "ou": {"people"}})
	alice := s.AddUser(t, ou, sambatest.UserSpec{SAM: "salice", UPN: "salice@dirsync.test", Mail: "salice@dirsync.test", GivenName: "Alice", SN: "A"})
	bob := s.AddUser(t, ou, sambatest.UserSpec{SAM: "sbob", UPN: "sbob@dirsync.test", Mail: "sbob@dirsync.test", GivenName: "Bob", SN: "B"})
	aliceID, bobID := guidOf(t, s, alice), guidOf(t, s, bob)

	c := adConfig(s, ou)
	c.Watch = WatchAuto
	c.WatchPollInterval = 200 * time.Millisecond
	src := newSource(t, c)
	mode, err := src.ResolveWatchMode(context.Background())
	if err != nil || mode != WatchDirSync {
		t.Fatalf("ResolveWatchMode = %q, %v; want dirsync on AD", mode, err)
	}
	pollKey := src.StreamKeys(WatchPoll)[ou]
	r, _ := startWatch(t, src, mode, nil)
	r.waitFor(t, "the fall back to poll and its initial resync", func() bool {
		return slices.Equal(r.modes, []string{WatchPoll}) && slices.ContainsFunc(r.changes, func(ch Change) bool {
			return ch.Resync && ch.Stream == pollKey && strings.HasPrefix(string(ch.Cookie), pollUSN)
		})
	})
	r.mu.Lock()
	reason := r.downs[0].Error()
	r.mu.Unlock()
	t.Logf("fall back reason: %s", reason)
	if !strings.Contains(reason, "refuses DirSync") || !strings.Contains(reason, "polling uSNChanged instead") {
		t.Errorf("the fall back says %q; want that DirSync is refused and uSNChanged polled instead", reason)
	}

	s.Replace(t, alice, map[string][]string{"mail": {"salice.new@dirsync.test"}})
	r.waitFor(t, "the modify, seen by the poll", func() bool { return r.reported(aliceID) })
	r.mu.Lock()
	for _, ch := range r.changes {
		if ch.Stream != pollKey {
			t.Errorf("a change from stream %s, want every one from the poll stream %s: %+v", ch.Stream, pollKey, ch)
		}
	}
	if !slices.Equal(r.modes, []string{WatchPoll}) {
		t.Errorf("modes %v, want one fall back, to poll", r.modes)
	}
	r.mu.Unlock()
	cookie := r.lastCookie()

	s.Replace(t, bob, map[string][]string{"sn": {"Later"}})
	r2, _ := startWatch(t, src, mode, map[string][]byte{pollKey: cookie})
	r2.waitFor(t, "the change made before the restart", func() bool { return r2.reported(bobID) })
	r2.mu.Lock()
	defer r2.mu.Unlock()
	for _, ch := range r2.changes {
		if ch.Resync {
			t.Errorf("the fallen-back stream resumed with a resync despite its kept cookie: %+v", ch)
		}
	}
}
