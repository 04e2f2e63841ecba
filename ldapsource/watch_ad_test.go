package ldapsource

import (
	"context"
	"os/exec"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/dirsync/dirsync/internal/sambatest"
)

// addADUser adds an enabled user sam@dirsync.test (its UPN and mail) under
// ou and returns its DN.
func addADUser(t *testing.T, s *sambatest.Server, ou, sam, givenName, sn string) string {
	t.Helper()
	return s.AddUser(t, ou, sambatest.UserSpec{SAM: sam, UPN: sam + "@dirsync.test", Mail: sam + "@dirsync.test", GivenName: givenName, SN: sn})
}

// TestAD_WatchDirSyncReportsChangesAndDeletes follows a Samba AD DC with the
// DirSync control: auto picks it, a modify, a disable and a delete are
// reported by objectGUID, and the reread verifies the deleted user gone.
func TestAD_WatchDirSyncReportsChangesAndDeletes(t *testing.T) {
	s := sambatest.Start(t)
	ou := s.AddOU(t, "watchdirsync")
	alice := addADUser(t, s, ou, "walice", "Alice", "A")
	bob := addADUser(t, s, ou, "wbob", "Bob", "B")
	carol := addADUser(t, s, ou, "wcarol", "Carol", "C")
	aliceID, bobID, carolID := guidOf(t, s, alice), guidOf(t, s, bob), guidOf(t, s, carol)

	src := autoWatchSource(t, adConfig(s, ou), WatchDirSync, "on AD")
	mode := WatchDirSync
	r, _ := startWatch(t, src, mode, nil)
	r.waitInitialResync(t, "")

	s.Replace(t, alice, map[string][]string{"mail": {"walice.new@dirsync.test"}})
	s.Disable(t, bob)
	s.Delete(t, carol)
	r.waitFor(t, "the modify, disable and delete", func() bool {
		return r.reported(aliceID) && r.reported(bobID) && r.reported(carolID)
	})
	wantNoResync(t, r.changes[1:], "a resync after the first DirSync")

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
	alice := addADUser(t, s, ou, "palice", "Alice", "A")
	bob := addADUser(t, s, ou, "pbob", "Bob", "B")
	c := adConfig(s, ou)
	c.WatchPollInterval = 200 * time.Millisecond
	src := newSource(t, c)
	r, _ := startWatch(t, src, WatchPoll, nil)
	r.waitInitialResync(t, pollUSN)
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
	alice := addADUser(t, s, ou, "nalice", "Alice", "A")
	bob := addADUser(t, s, ou, "nbob", "Bob", "B")
	aliceID, bobID := guidOf(t, s, alice), guidOf(t, s, bob)
	const password = "Svc-Watch-Pa55word!"
	svc := addADServiceAccount(t, s, "svcwatch", password)

	c := adConfig(s, ou)
	c.BindDN = svc
	c.BindPassword = password
	// The plain user reads the users: a full read works.
	if users, _ := fetch(t, c); !slices.Equal(usernames(users), []string{"nalice", "nbob"}) {
		t.Fatalf("the service account reads %v, want [nalice nbob]", usernames(users))
	}
	src := autoWatchSource(t, c, WatchDirSync, "on AD")
	mode := WatchDirSync
	key := src.StreamKeys(mode)[ou]
	r, _ := startWatch(t, src, mode, nil)
	r.waitInitialResync(t, "")

	s.Replace(t, alice, map[string][]string{"mail": {"nalice.new@dirsync.test"}})
	carol := addADUser(t, s, ou, "ncarol", "Carol", "C")
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
	wantFromStream(t, r.changes, key, "the DirSync stream")
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
	alice := addADUser(t, s, ou, "salice", "Alice", "A")
	bob := addADUser(t, s, ou, "sbob", "Bob", "B")
	aliceID, bobID := guidOf(t, s, alice), guidOf(t, s, bob)

	src := autoWatchSource(t, adConfig(s, ou), WatchDirSync, "on AD")
	mode := WatchDirSync
	pollKey := src.StreamKeys(WatchPoll)[ou]
	r, _ := startWatch(t, src, mode, nil)
	r.waitFallBackToPoll(t, pollKey, pollUSN)
	reason := r.firstDown().Error()
	t.Logf("fall back reason: %s", reason)
	if !strings.Contains(reason, "refuses DirSync") || !strings.Contains(reason, "polling uSNChanged instead") {
		t.Errorf("the fall back says %q; want that DirSync is refused and uSNChanged polled instead", reason)
	}

	s.Replace(t, alice, map[string][]string{"mail": {"salice.new@dirsync.test"}})
	r.waitFor(t, "the modify, seen by the poll", func() bool { return r.reported(aliceID) })
	r.mu.Lock()
	wantFromStream(t, r.changes, pollKey, "the poll stream")
	if !slices.Equal(r.modes, []string{WatchPoll}) {
		t.Errorf("modes %v, want one fall back, to poll", r.modes)
	}
	r.mu.Unlock()
	cookie := r.lastCookie()

	s.Replace(t, bob, map[string][]string{"sn": {"Later"}})
	resumeWithoutResync(t, src, mode, pollKey, cookie, bobID, "the change made before the restart")
}

// A new DirSync stream takes its start cookie from a first pass that asks
// for no object: the DC sends none (the full read the stream asks for reads
// the users), and the changes after it are reported from that cookie.
func TestAD_WatchDirSyncStartsWithoutListingTheDomain(t *testing.T) {
	s := sambatest.Start(t)
	ou := s.AddOU(t, "watchstart")
	var dns []string
	for _, sam := range []string{"salice", "sbob", "scarol", "sdave", "seve"} {
		dns = append(dns, addADUser(t, s, ou, sam, "User", sam))
	}
	src := newSource(t, adConfig(s, ou))
	var sent atomic.Int64
	src.testDirSyncEntries = func(n int) { sent.Add(int64(n)) }
	r, _ := startWatch(t, src, WatchDirSync, nil)
	r.waitInitialResync(t, "")
	if got := sent.Load(); got != 0 {
		t.Errorf("the first DirSync pass sent %d entries, want 0: the start-up run reads the directory", got)
	}

	s.Replace(t, dns[1], map[string][]string{"mail": {"sbob.new@dirsync.test"}})
	id := guidOf(t, s, dns[1])
	r.waitFor(t, "the change after the start cookie", func() bool { return r.reported(id) })
	r.mu.Lock()
	defer r.mu.Unlock()
	wantNoResync(t, r.changes[1:], "a resync after the first DirSync")
	for _, ch := range r.changes {
		for _, got := range ch.IDs {
			if got != id {
				t.Errorf("an unchanged user was reported: %+v", ch)
			}
		}
	}
	t.Logf("DirSync sent %d entries from start to the change", sent.Load())
}
