package sync

import (
	"fmt"
	"slices"
	"testing"

	"github.com/dirsync/dirsync/user"
)

// fullScenario is a directory, snapshot and platform holding every case a
// full reconcile tells apart.
func fullScenario() (Directory, []user.Record, []user.Account) {
	p := func(name string) user.User { return person("id-"+name, name) }
	inStep, renamed, deactivated, both := p("instep"), p("renamed"), p("deactivated"), p("both")
	changed, changedOff, gone, goneChanged := p("changed"), p("changedoff"), p("gone"), p("gonechanged")
	leaver, disabledU, archived, pending := p("leaver"), p("disabled"), p("archived"), p("pending")
	hire, rebuilt, skippedU, skippedOff := p("hire"), p("rebuilt"), p("skipped"), p("skippedoff")
	dir := Directory{
		Users: []user.User{inStep, renamed, deactivated, both, mailTo(changed, "c2@example.com"),
			mailTo(changedOff, "co2@example.com"), gone, mailTo(goneChanged, "gc2@example.com"), disabled(disabledU),
			archived, pending, hire, rebuilt},
		Skipped: []Skip{{DN: "CN=skipped", ID: skippedU.ID, Reason: "duplicate email"},
			{DN: "CN=skippedoff", ID: skippedOff.ID, Reason: "duplicate email", Disabled: true}},
	}
	var records []user.Record
	for _, u := range []user.User{inStep, renamed, deactivated, both, changed, changedOff, gone, goneChanged, leaver, disabledU} {
		records = append(records, record(u, user.StatusActive, "p-"+u.Username))
	}
	records = append(records, record(disabled(archived), user.StatusArchived, "p-archived"),
		user.Record{User: pending, Hash: pending.Hash(), Status: user.StatusPending, Attempts: 1, FirstSeen: t0, LastSeen: t0})
	var accounts []user.Account
	for _, r := range records {
		if r.PlatformID == "" || r.User.ID == gone.ID || r.User.ID == goneChanged.ID {
			continue
		}
		a := accountOf(r)
		switch r.User.ID {
		case renamed.ID:
			a.User.DisplayName = "Mallory"
		case deactivated.ID, changedOff.ID:
			a.User.Active = false
		case both.ID:
			a.User.Active, a.User.FamilyName = false, "Else"
		}
		accounts = append(accounts, a)
	}
	accounts = append(accounts,
		user.Account{PlatformID: "p-stranger", User: user.User{ID: "id-stranger", Username: "stranger", Active: true}},
		user.Account{PlatformID: "p-stranger2", User: user.User{Username: "stranger2", Active: false}},
		user.Account{PlatformID: "p-rebuilt", User: user.User{Username: "REBUILT", Active: true}},
		user.Account{PlatformID: "p-pending", User: user.User{ID: pending.ID, Username: "pending", Active: true}},
		user.Account{PlatformID: "p-skipped", User: user.User{ID: skippedU.ID, Username: "skipped", Active: true}},
		user.Account{PlatformID: "p-skippedoff", User: user.User{ID: skippedOff.ID, Username: "skippedoff", Active: true}},
	)
	return dir, records, accounts
}

// TestRun_StreamedFullPlansAsTheWholeRead: the streamed full reconcile
// (the directory, the snapshot and the listing never held whole) plans
// exactly what the full reconcile over the whole read does, for every case
// it tells apart and each setting that changes it.
func TestRun_StreamedFullPlansAsTheWholeRead(t *testing.T) {
	for _, tc := range []struct {
		unmanaged Unmanaged
		missing   OnMissing
	}{{UnmanagedReport, MissingRecreate}, {UnmanagedArchive, MissingRecreate}, {UnmanagedArchive, MissingReport}} {
		t.Run(fmt.Sprintf("%s,%s", tc.unmanaged, tc.missing), func(t *testing.T) {
			plans := map[string]Plan{}
			for _, path := range []string{"streamed", "whole read"} {
				dir, records, accounts := fullScenario()
				e, ft, _ := setup(dir, records...)
				ft.mu.Lock()
				clear(ft.accounts)
				ft.mu.Unlock()
				for _, a := range accounts {
					ft.put(a)
				}
				e.Target = listingTarget{ft}
				e.Unmanaged, e.OnMissing = tc.unmanaged, tc.missing
				if path == "whole read" {
					e.Source = readOnlySource{e.Source.(*fakeSource)}
				}
				rep, err := e.Run(t.Context(), RunOptions{Full: true, DryRun: true})
				if err != nil {
					t.Fatalf("%s: %v", path, err)
				}
				plans[path] = rep.Plan
			}
			s, w := plans["streamed"], plans["whole read"]
			if got, want := summaries(s), summaries(w); !slices.Equal(got, want) {
				t.Errorf("streamed plan\n%q\nwant\n%q", got, want)
			}
			t.Logf("plan %q, unmanaged %d, missing %d", summaries(s), len(s.Unmanaged), len(s.Missing))
			if len(s.Changes) < 8 {
				t.Errorf("the scenario planned only %q", summaries(s))
			}
			pids := func(as []user.Account) []string {
				var out []string
				for _, a := range as {
					out = append(out, a.PlatformID)
				}
				slices.Sort(out)
				return out
			}
			if got, want := pids(s.Unmanaged), pids(w.Unmanaged); !slices.Equal(got, want) || len(got) == 0 {
				t.Errorf("unmanaged %q, want %q", got, want)
			}
			if got, want := summaries(Plan{Changes: s.Missing}), summaries(Plan{Changes: w.Missing}); !slices.Equal(got, want) {
				t.Errorf("missing %q, want %q", got, want)
			}
			if s.Drifted != w.Drifted || s.Unchanged != w.Unchanged || s.InScope != w.InScope || s.Drifted == 0 {
				t.Errorf("drifted/unchanged/in scope %d/%d/%d, want %d/%d/%d", s.Drifted, s.Unchanged, s.InScope, w.Drifted, w.Unchanged, w.InScope)
			}
		})
	}
}
