package rest_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/config"
	"github.com/dirsync/dirsync/state"
	dsync "github.com/dirsync/dirsync/sync"
	"github.com/dirsync/dirsync/target"
	"github.com/dirsync/dirsync/target/fake"
	"github.com/dirsync/dirsync/target/rest"
	"github.com/dirsync/dirsync/target/scim"
	"github.com/dirsync/dirsync/user"
)

// acct is a platform account as the behavioural suite inspects it, whatever the
// platform.
type acct struct {
	ID, ExternalID, Email, GivenName, FamilyName string
	Active                                       bool
}

// platform is one platform under test: the target dirsync drives, and hooks to
// inspect and disturb the fake behind it.
type platform struct {
	target    dsync.Target
	accounts  func() []acct
	add       func(u user.User) // an account made by hand, without externalId
	failEmail func(email string, fail bool)
	failNext  func(n, status int)
	// names: whether the platform stores given and family names apart; update:
	// whether it has an update endpoint.
	names, update bool
}

func (p platform) byEmail(t *testing.T, email string) acct {
	t.Helper()
	for _, a := range p.accounts() {
		if strings.EqualFold(a.Email, email) {
			return a
		}
	}
	t.Fatalf("no account with email %s on the platform; have %+v", email, p.accounts())
	return acct{}
}

var fastRetries = target.WithBackoff(time.Millisecond, time.Millisecond)

func scimPlatform(t *testing.T) platform {
	srv := fake.New(fake.Options{Token: "scim-token", Seed: 1})
	url := srv.StartT(t)
	cfg := target.Default()
	cfg.URL, cfg.Token = url, "scim-token"
	c, err := scim.New(cfg, scim.WithHTTPOptions(fastRetries), scim.WithPageSize(2))
	if err != nil {
		t.Fatal(err)
	}
	return platform{
		target: c,
		accounts: func() []acct {
			var out []acct
			for _, r := range srv.Users() {
				out = append(out, acct{ID: r.ID, ExternalID: r.ExternalID, Email: r.PrimaryEmail(), GivenName: r.GivenName, FamilyName: r.FamilyName, Active: r.Active})
			}
			return out
		},
		add: func(u user.User) {
			u.ID = ""
			if _, err := srv.Seed(u); err != nil {
				t.Fatal(err)
			}
		},
		failEmail: func(email string, fail bool) {
			// The SCIM fake fails by userName; the suite's users have
			// userName = the email's local part.
			status := 0
			if fail {
				status = 400
			}
			srv.FailUser(strings.Split(email, "@")[0], status)
		},
		failNext: func(n, status int) { srv.FailNext(n, status, "") },
		names:    true, update: true,
	}
}

// loadProfile reads an examples/targets profile as dirsync reads its config
// (package config), with ${VAR} taken from env and the URL set to url.
func loadProfile(t *testing.T, name, url string, env map[string]string) target.Config {
	t.Helper()
	vars := map[string]string{"DIRSYNC_TARGET_URL": url}
	for k, v := range env {
		vars[k] = v
	}
	cfg := config.Default()
	if err := config.Decode(filepath.Join("..", "..", "examples", "targets", name), config.MapEnv(vars), &cfg); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if err := cfg.Target.Validate(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return cfg.Target
}

func restPlatform(t *testing.T, style, file, secret string, env map[string]string, names, update bool) (platform, *fake.REST, *rest.Client) {
	srv := fake.NewREST(fake.RESTOptions{Style: style, Secret: secret, Seed: 1})
	url := srv.StartT(t)
	cfg := loadProfile(t, file, url, env)
	c, err := rest.New(cfg, rest.WithHTTPOptions(fastRetries))
	if err != nil {
		t.Fatal(err)
	}
	p := platform{
		target: c,
		accounts: func() []acct {
			var out []acct
			for _, u := range srv.Users() {
				out = append(out, acct{ID: u.ID, ExternalID: u.ExternalID, Email: u.Email, GivenName: u.GivenName, FamilyName: u.FamilyName, Active: u.Active})
			}
			return out
		},
		add: func(u user.User) {
			srv.Add(fake.RESTUser{UserName: u.Username, Email: u.Email, GivenName: u.GivenName, FamilyName: u.FamilyName, Active: u.Active})
		},
		failEmail: srv.FailEmail,
		failNext:  srv.FailNext,
		names:     names, update: update,
	}
	return p, srv, c
}

// platforms are SCIM and every REST profile of examples/targets/, each against
// its fake: the contract suite (TestBehaviour) runs each through the whole
// lifecycle. A new example profile is covered by adding it here (and
// TestBehaviour_EveryExampleProfileIsInTheSuite fails until it is).
var platforms = map[string]func(t *testing.T) platform{
	"scim": scimPlatform,
	"ppo": func(t *testing.T) platform {
		p, _, _ := restPlatform(t, fake.StylePPO, "ppo.yaml", "ppo-key", map[string]string{"PPO_API_KEY": "ppo-key"}, true, true)
		return p
	},
	"partner": func(t *testing.T) platform {
		p, _, _ := restPlatform(t, fake.StylePartner, "partner.yaml", "partner-secret",
			map[string]string{"PARTNER_CLIENT_SECRET": "partner-secret", "PARTNER_CUSTOMER_ID": fake.PartnerCustomer}, true, true)
		return p
	},
	"archive": func(t *testing.T) platform {
		p, _, _ := restPlatform(t, fake.StyleArchive, "archive.yaml", "archive-token", map[string]string{"ARCHIVE_TOKEN": "archive-token"}, false, false)
		return p
	},
	"usersv2": func(t *testing.T) platform {
		p, _, _ := restPlatform(t, fake.StyleUsersV2, "usersv2.yaml", "v2-key",
			map[string]string{"USERSV2_COMPANY_ID": fake.UsersV2Company, "USERSV2_INTEGRATION_KEY": "v2-key"}, true, true)
		return p
	},
	"lifecycle": func(t *testing.T) platform {
		p, _, _ := restPlatform(t, fake.StyleLifecycle, "lifecycle.yaml", "lc-token", map[string]string{"LIFECYCLE_API_TOKEN": "lc-token"}, true, true)
		return p
	},
	"odata": func(t *testing.T) platform {
		p, _, _ := restPlatform(t, fake.StyleOData, "odata.yaml", "odata-secret", map[string]string{"ODATA_CLIENT_SECRET": "odata-secret"}, true, true)
		return p
	},
}

func TestBehaviour_EveryExampleProfileIsInTheSuite(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "examples", "targets", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no example profiles found (%v)", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		if _, ok := platforms[name]; !ok {
			t.Errorf("examples/targets/%s.yaml is not in the contract suite: add it to platforms", name)
		}
	}
}

// source is an in-memory directory.
type source struct {
	mu    gosync.Mutex
	users map[string]user.User
}

func (s *source) Read(context.Context) (dsync.Directory, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var d dsync.Directory
	for _, u := range s.users {
		d.Users = append(d.Users, u.Normalize())
	}
	slices.SortFunc(d.Users, func(a, b user.User) int { return strings.Compare(a.ID, b.ID) })
	return d, nil
}

// Reread answers a change-event re-read from the in-memory directory.
func (s *source) Reread(ctx context.Context, ids, dns []string) (dsync.Changed, error) {
	d, err := s.Read(ctx)
	if err != nil {
		return dsync.Changed{}, err
	}
	return d.Changed(ids, dns), nil
}

func (s *source) set(u user.User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[u.ID] = u
}

func (s *source) remove(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.users, id)
}

func person(id, given, family string) user.User {
	local := strings.ToLower(given)
	return user.User{ID: id, Username: local, Email: local + "@example.com", GivenName: given, FamilyName: family,
		DisplayName: given + " " + family, Active: true}
}

type harness struct {
	t   *testing.T
	p   platform
	src *source
	eng *dsync.Engine
}

func newHarness(t *testing.T, p platform, users ...user.User) *harness {
	st, err := state.Open(context.Background(), filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	src := &source{users: map[string]user.User{}}
	for _, u := range users {
		src.set(u)
	}
	opts := dsync.Default().Options()
	opts.Concurrency = 4
	return &harness{t: t, p: p, src: src, eng: &dsync.Engine{Source: src, Target: p.target, Store: st, Options: opts}}
}

func (h *harness) run() dsync.Report {
	h.t.Helper()
	rep, err := h.eng.Run(context.Background(), dsync.RunOptions{Mode: "sync", AllowMassArchive: true})
	if err != nil {
		h.t.Fatalf("run: %v", err)
	}
	return rep
}

func (h *harness) runClean() dsync.Report {
	h.t.Helper()
	rep := h.run()
	if len(rep.Failed) > 0 {
		h.t.Fatalf("run: %d changes failed: %+v", len(rep.Failed), rep.Failed)
	}
	return rep
}

// TestBehaviour runs one behavioural suite against SCIM and every REST profile.
func TestBehaviour(t *testing.T) {
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range platforms {
			if !yield(k) {
				return
			}
		}
	}) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			mk := platforms[name]
			t.Run("initial sync creates every user and a second run changes nothing", func(t *testing.T) {
				p := mk(t)
				tricky := person("u3", `Zoë "Q"`, "O'Brien\\ \n{\"x\":1}")
				tricky.Email = "zoe@example.com"
				tricky.Username = "zoe"
				h := newHarness(t, p, person("u1", "Ada", "Lovelace"), person("u2", "Alan", "Turing"), tricky)
				rep := h.runClean()
				if rep.Applied[user.OpCreate] != 3 {
					t.Fatalf("created %d, want 3: %+v", rep.Applied[user.OpCreate], rep.Applied)
				}
				if n := len(p.accounts()); n != 3 {
					t.Fatalf("platform has %d accounts, want 3", n)
				}
				z := p.byEmail(t, "zoe@example.com")
				if !z.Active {
					t.Errorf("created account is not active: %+v", z)
				}
				if p.names && (z.GivenName != tricky.GivenName || z.FamilyName != strings.TrimSpace(tricky.FamilyName)) {
					t.Errorf("names with quotes, backslashes and newlines arrived as %q %q, want %q %q",
						z.GivenName, z.FamilyName, tricky.GivenName, strings.TrimSpace(tricky.FamilyName))
				}
				rep = h.runClean()
				if len(rep.Plan.Changes) != 0 {
					t.Fatalf("second run planned %d changes, want none", len(rep.Plan.Changes))
				}
			})
			t.Run("a changed name is pushed", func(t *testing.T) {
				p := mk(t)
				if !p.update {
					t.Log("this platform has no update endpoint; checking that an update is accepted as a no-op")
				}
				ada := person("u1", "Ada", "Lovelace")
				h := newHarness(t, p, ada)
				h.runClean()
				ada.FamilyName = "King"
				h.src.set(ada)
				rep := h.runClean()
				if rep.Applied[user.OpUpdate] != 1 {
					t.Fatalf("applied %+v, want 1 update", rep.Applied)
				}
				if got := p.byEmail(t, ada.Email).FamilyName; p.update && got != "King" {
					t.Fatalf("family name on the platform is %q, want King", got)
				}
			})
			t.Run("a disabled or removed user is archived and a returning one reactivated", func(t *testing.T) {
				p := mk(t)
				ada, alan := person("u1", "Ada", "Lovelace"), person("u2", "Alan", "Turing")
				h := newHarness(t, p, ada, alan, person("u3", "Grace", "Hopper"))
				h.runClean()
				ada.Active = false
				h.src.set(ada)
				h.src.remove("u2")
				rep := h.runClean()
				if rep.Applied[user.OpArchive] != 2 {
					t.Fatalf("applied %+v, want 2 archives", rep.Applied)
				}
				if p.byEmail(t, ada.Email).Active || p.byEmail(t, alan.Email).Active {
					t.Fatalf("archived accounts are still active: %+v", p.accounts())
				}
				if !p.byEmail(t, "grace@example.com").Active {
					t.Fatal("an untouched account was deactivated")
				}
				ada.Active = true
				h.src.set(ada)
				h.src.set(alan)
				rep = h.runClean()
				if rep.Applied[user.OpReactivate] != 2 {
					t.Fatalf("applied %+v, want 2 reactivations", rep.Applied)
				}
				if !p.byEmail(t, ada.Email).Active || !p.byEmail(t, alan.Email).Active {
					t.Fatalf("reactivated accounts are not active: %+v", p.accounts())
				}
				if n := len(p.accounts()); n != 3 {
					t.Fatalf("platform has %d accounts, want 3 (reactivation must not create)", n)
				}
			})
			t.Run("an existing account with the same email is adopted, not duplicated", func(t *testing.T) {
				p := mk(t)
				ada := person("u1", "Ada", "Lovelace")
				old := ada
				old.Email = "ADA@example.com"
				old.FamilyName = "Byron"
				old.Active = false
				p.add(old)
				h := newHarness(t, p, ada, person("u2", "Alan", "Turing"))
				rep := h.runClean()
				if rep.Applied[user.OpAdopt] != 1 || rep.Applied[user.OpCreate] != 1 {
					t.Fatalf("applied %+v, want 1 adopt and 1 create", rep.Applied)
				}
				if n := len(p.accounts()); n != 2 {
					t.Fatalf("platform has %d accounts, want 2: %+v", n, p.accounts())
				}
				a := p.byEmail(t, ada.Email)
				if !a.Active {
					t.Error("adopted account was not activated")
				}
				if p.update && a.FamilyName != "Lovelace" {
					t.Errorf("adopted account's family name is %q, want it brought in step (Lovelace)", a.FamilyName)
				}
			})
			t.Run("a renamed user keeps its account, with the new email", func(t *testing.T) {
				p := mk(t)
				ada := person("u1", "Ada", "Lovelace")
				h := newHarness(t, p, ada, person("u2", "Alan", "Turing"))
				h.runClean()
				ada.Email, ada.Username = "ada.king@example.com", "ada.king"
				h.src.set(ada)
				rep := h.runClean()
				if rep.Applied[user.OpUpdate] != 1 || rep.Applied[user.OpCreate] != 0 || rep.Applied[user.OpArchive] != 0 {
					t.Fatalf("applied %+v, want 1 update and nothing else", rep.Applied)
				}
				if n := len(p.accounts()); n != 2 {
					t.Fatalf("platform has %d accounts, want 2: %+v", n, p.accounts())
				}
				if p.update {
					if a := p.byEmail(t, "ada.king@example.com"); !a.Active {
						t.Fatalf("renamed account is not active: %+v", a)
					}
				}
				if rep = h.runClean(); len(rep.Plan.Changes) != 0 {
					t.Fatalf("run after the rename planned %d changes, want none", len(rep.Plan.Changes))
				}
			})
			t.Run("accounts on every page of a listing of 3 or more pages are adopted, none duplicated", func(t *testing.T) {
				p := mk(t)
				var users []user.User
				names := [][2]string{{"Ada", "Lovelace"}, {"Alan", "Turing"}, {"Grace", "Hopper"}, {"Edsger", "Dijkstra"},
					{"Barbara", "Liskov"}, {"Donald", "Knuth"}, {"Frances", "Allen"}}
				for i, n := range names {
					u := person(fmt.Sprintf("u%d", i+1), n[0], n[1])
					users = append(users, u)
					if i < 5 {
						p.add(u) // made by hand: 5 accounts, 3 pages of 2
					}
				}
				h := newHarness(t, p, users...)
				rep := h.runClean()
				if rep.Applied[user.OpAdopt] != 5 || rep.Applied[user.OpCreate] != 2 {
					t.Fatalf("applied %+v, want 5 adopts and 2 creates", rep.Applied)
				}
				if n := len(p.accounts()); n != 7 {
					t.Fatalf("platform has %d accounts, want 7 (no duplicates): %+v", n, p.accounts())
				}
				if rep = h.runClean(); len(rep.Plan.Changes) != 0 {
					t.Fatalf("second run planned %d changes, want none", len(rep.Plan.Changes))
				}
			})
			t.Run("a throttled platform (429) is waited out and every change applied", func(t *testing.T) {
				p := mk(t)
				h := newHarness(t, p, person("u1", "Ada", "Lovelace"), person("u2", "Alan", "Turing"))
				p.failNext(3, 429)
				rep := h.runClean()
				if rep.Applied[user.OpCreate] != 2 {
					t.Fatalf("applied %+v, want 2 creates", rep.Applied)
				}
				if n := len(p.accounts()); n != 2 {
					t.Fatalf("platform has %d accounts, want 2", n)
				}
			})
			t.Run("a rejected user fails alone and is retried on the next run; a 503 is retried", func(t *testing.T) {
				p := mk(t)
				h := newHarness(t, p, person("u1", "Ada", "Lovelace"), person("u2", "Alan", "Turing"))
				p.failEmail("alan@example.com", true)
				rep := h.run()
				if len(rep.Failed) != 1 || rep.Failed[0].Change.User.ID != "u2" {
					t.Fatalf("failed %+v, want only u2", rep.Failed)
				}
				if rep.Applied[user.OpCreate] != 1 {
					t.Fatalf("applied %+v, want 1 create", rep.Applied)
				}
				if rep.Failed[0].Error == "" {
					t.Fatal("failure carries no explanation")
				}
				p.failEmail("alan@example.com", false)
				p.failNext(1, 503)
				rep = h.runClean()
				if rep.Applied[user.OpCreate] != 1 {
					t.Fatalf("retry run applied %+v, want the 1 failed create", rep.Applied)
				}
				if n := len(p.accounts()); n != 2 {
					t.Fatalf("platform has %d accounts, want 2", n)
				}
			})
		})
	}
}
