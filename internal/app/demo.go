package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/dirsync/dirsync/internal/config"
	"github.com/dirsync/dirsync/internal/demodir"
	"github.com/dirsync/dirsync/internal/render"
	dsync "github.com/dirsync/dirsync/sync"
	"github.com/dirsync/dirsync/target/fake"
	"github.com/dirsync/dirsync/user"
)

// RunDemo is `dirsync demo`: the narrated demo, writing to out. Its
// snapshot is kept in stateDir, or in a temporary directory removed after.
func RunDemo(ctx context.Context, out io.Writer, stateDir, logLevel string) error {
	say := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }
	kept := stateDir != ""
	if !kept {
		dir, err := os.MkdirTemp("", "dirsync-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		stateDir = dir
	}

	d, err := demodir.New()
	if err != nil {
		return fmt.Errorf("demo directory: %w", err)
	}
	ldapSrv, err := d.Start(ctx)
	if err != nil {
		return fmt.Errorf("demo directory: %w", err)
	}
	defer ldapSrv.Close()

	tokenBytes := make([]byte, 16)
	if _, err := rand.Read(tokenBytes); err != nil {
		return err
	}
	token := hex.EncodeToString(tokenBytes)
	platform := fake.New(fake.Options{Token: token})
	platformURL, stopPlatform, err := platform.Listen()
	if err != nil {
		return err
	}
	defer stopPlatform()

	// Someone created Akhtar's account on the platform by hand before dirsync.
	akhan, err := d.User("akhan")
	if err != nil {
		return err
	}
	if _, err := platform.Seed(user.User{Username: strings.ToUpper(akhan.UID), Email: strings.ToUpper(akhan.Mail),
		GivenName: akhan.GivenName, FamilyName: akhan.Surname, Active: true}); err != nil {
		return err
	}

	cfg := config.Default()
	cfg.LDAP.URL = ldapSrv.URL()
	cfg.LDAP.AllowPlaintext = true
	cfg.LDAP.BindDN = d.BindDN()
	cfg.LDAP.BindPassword = d.BindPassword()
	cfg.LDAP.BaseDN = d.PeopleDN()
	cfg.LDAP.UserFilter = d.UserFilter()
	cfg.LDAP.DisabledFilter = d.DisabledFilter()
	cfg.LDAP.IDAttribute = d.IDAttribute()
	cfg.LDAP.PageSize = 5
	cfg.LDAP.Attributes.Extra = map[string]string{"title": "title", "department": "ou"}
	cfg.Target.URL = platformURL
	cfg.Target.Token = token
	cfg.Target.RateLimit = 200 // a local fake: no need to pace requests
	cfg.State.Path = filepath.Join(stateDir, "state.db")
	cfg.Log.Level = "warn"
	if logLevel != "" {
		cfg.Log.Level = logLevel
	}
	if p := cfg.Problems(); len(p) > 0 {
		return fmt.Errorf("demo config: %s", strings.Join(p, "; "))
	}
	log, err := render.NewLogger(cfg.Log)
	if err != nil {
		return err
	}
	defer log.Sync() //nolint:errcheck // stderr

	run := func(title string, ro dsync.RunOptions) (dsync.Report, error) {
		say("\n━━ %s ━━", title)
		a, err := Wire(ctx, cfg, log, false)
		if err != nil {
			return dsync.Report{}, err
		}
		defer a.Close()
		rep, err := a.Engine.Run(ctx, ro)
		render.WritePlan(out, rep.Plan)
		if err != nil {
			return rep, err
		}
		say("")
		render.WriteReport(out, rep)
		return rep, nil
	}

	say("dirsync demo: an LDAP directory at %s (%d entries under %s)", ldapSrv.URL(), len(d.Users()), d.PeopleDN())
	say("and a SCIM platform at %s that already has one account, created by hand: %s.", platformURL, strings.ToUpper(akhan.UID))
	if kept {
		say("The snapshot lives in %s.", cfg.State.Path)
	} else {
		say("The snapshot lives in a temporary directory, removed at the end (--state-dir keeps it).")
	}

	// Run 1: the first sync.
	if _, err := run("First sync", dsync.RunOptions{}); err != nil {
		return err
	}
	say("\nThe platform now has %d accounts. AKHAN was adopted (linked by user name, case-insensitively; not duplicated);", len(platform.Accounts()))
	say("lgarcia is disabled in the directory, so she got no account; the meeting-room entry has no uid and was skipped.")
	writeAccounts(out, platform)

	// Between runs 1 and 2, the directory changes.
	say("\n━━ Meanwhile, in the directory ━━")
	steps := []struct {
		what string
		do   func() error
	}{
		{"bsato is promoted: title → Engineering Manager", func() error { return d.SetAttr("bsato", "title", "Engineering Manager") }},
		{"cmendes marries: surname → Mendes-Okafor, new mail", func() error {
			if err := d.SetAttr("cmendes", "sn", "Mendes-Okafor"); err != nil {
				return err
			}
			return d.SetAttr("cmendes", "mail", "carla.mendes-okafor@"+demodir.MailDomain)
		}},
		{"eliu is renamed to eliu2 (same entryUUID: an update, not a new person)", func() error { return d.Rename("eliu", "eliu2") }},
		{"dokafor is disabled (on leave)", func() error { return d.Disable("dokafor") }},
		{"gobrien leaves: his entry is deleted", func() error { return d.Remove("gobrien") }},
		{"mpatel joins", func() error {
			_, err := d.Add(demodir.Person{UID: "mpatel", Mail: "maya.patel@" + demodir.MailDomain, GivenName: "Maya", Surname: "Patel",
				CommonName: "Maya Patel", DisplayName: "Maya Patel", Title: "Designer", Department: "Product"})
			return err
		}},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			return fmt.Errorf("demo: %s: %w", s.what, err)
		}
		say("  • %s", s.what)
	}

	// Run 2: two removals out of eleven managed users is over the 10 % limit.
	_, err = run("Sync after the changes", dsync.RunOptions{})
	if se := (*dsync.SafetyError)(nil); !errors.As(err, &se) {
		return fmt.Errorf("demo: run 2 should have been refused by the safety limit, got: %v", err)
	}
	say("\n✋ %v", err)
	say("\nThat is the safety limit at work: archiving 2 of 11 users is more than sync.max_archive_percent (10%%).")
	var refusal *dsync.SafetyError
	if errors.As(err, &refusal) && refusal.Pushed > 0 {
		say("Nobody was archived and nobody created; the %d updates went out as the directory was read (they change no one's access).", refusal.Pushed)
	}
	say("The plan above is what an operator reviews. It is right, so they approve it for one run:")
	if _, err := run("The same sync, approved: --allow-mass-archive", dsync.RunOptions{AllowMassArchive: true}); err != nil {
		return err
	}
	writeAccounts(out, platform)

	// Run 3: someone comes back.
	say("\n━━ Meanwhile, in the directory ━━")
	if err := d.Enable("dokafor"); err != nil {
		return err
	}
	say("  • dokafor is back from leave (enabled again)")
	if _, err := run("Sync after the return", dsync.RunOptions{}); err != nil {
		return err
	}
	if _, err := run("Sync again: nothing changed, nothing to do", dsync.RunOptions{}); err != nil {
		return err
	}
	writeAccounts(out, platform)
	if kept {
		say("\nEvery change above is in the journal (the audit trail) in %s.", cfg.State.Path)
	} else {
		say("\nEvery change above was in the journal (the audit trail) of a temporary snapshot, removed now: " +
			"`dirsync demo --state-dir ./demo-state` keeps it.")
	}
	say("Next: write a config (config.example.yaml), then `dirsync check`, `dirsync plan`, `dirsync sync`.")
	return nil
}

// writeAccounts lists the platform's accounts.
func writeAccounts(out io.Writer, platform *fake.Server) {
	accts := platform.Accounts()
	sort.Slice(accts, func(i, j int) bool {
		return strings.ToLower(accts[i].User.Username) < strings.ToLower(accts[j].User.Username)
	})
	fmt.Fprintf(out, "\nOn the platform (%d accounts):\n", len(accts))
	tw := &render.Table{Indent: "  "}
	for _, a := range accts {
		state := "active"
		if !a.User.Active {
			state = "ARCHIVED"
		}
		tw.Row(a.User.Username, a.User.Email, a.User.GivenName+" "+a.User.FamilyName, state)
	}
	_ = tw.Write(out)
}
