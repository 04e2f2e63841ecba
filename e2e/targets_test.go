package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/dirsync/dirsync/target/fake"
)

// useTargets replaces the env's target section with a targets: list of a
// SCIM target (the env's platform, named helpdesk) and a REST one (the
// archive profile, named crm, scoped to alice, bob and dave, authenticating with
// crmToken).
func useTargets(t *testing.T, e *env, crmURL, crmToken string) {
	t.Helper()
	e.writeConfig()
	cfg := mustRead(t, e.configPath())
	start, end := strings.Index(cfg, "target:\n"), strings.Index(cfg, "sync:\n")
	targets := fmt.Sprintf(`targets:
  - name: helpdesk
    url: %q
    token: %q
    rate_limit: 1000
    max_retries: 0
  - name: crm
    type: rest
    url: %q
    token: %q
    rate_limit: 1000
    max_retries: 0
    scope: "(|(uid=alice)(uid=bob)(uid=dave))"
    sync: {max_archive: 1}
    rest:
      auth: {type: bearer}
      list: {path: /api/v1/users, pagination: cursor, cursor_param: cursor, items: data, next_cursor: next_cursor}
      id: id
      fields: {email: email}
      active: status
      active_values: [active]
      match_by: [email]
      create: {method: POST, path: /api/v1/users, body: '{"email": "{{email}}", "name": "{{given_name}} {{family_name}}"}'}
      deactivate: {method: POST, path: "/api/v1/users/{id}/archive"}
      reactivate: {method: POST, path: "/api/v1/users/{id}/unarchive"}
`, e.url, token, crmURL, crmToken)
	if err := os.WriteFile(e.configPath(), []byte(cfg[:start]+targets+cfg[end:]), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestTargets_TwoPlatformsFromOneDirectoryOneFailingLeavesTheOtherInStep(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	crm := fake.NewREST(fake.RESTOptions{Style: fake.StyleArchive, Secret: "crm-token", Seed: 1})
	crmURL := crm.StartT(t)
	useTargets(t, e, crmURL, "crm-token")
	for _, n := range []string{"alice", "bob", "carol"} {
		e.addUser(n, false)
	}

	r := e.mustRun(2, "plan")
	wantContains(t, "plan", r.stdout, "━━ target helpdesk ━━", "3 to create", "━━ target crm ━━", "2 to create")
	r = e.mustRun(0, "sync")
	wantContains(t, "sync", r.stdout, "━━ target helpdesk ━━", "━━ target crm ━━")
	if n := len(e.plat.Accounts()); n != 3 {
		t.Fatalf("helpdesk has %d accounts, want 3", n)
	}
	if n := len(crm.Users()); n != 2 {
		t.Fatalf("crm has %d accounts, want the 2 users of its scope", n)
	}
	if _, ok := crm.ByEmail("carol@example.com"); ok {
		t.Fatal("carol, out of crm's scope, has a crm account")
	}

	// crm now refuses dirsync's token: its run fails, helpdesk's does not.
	useTargets(t, e, crmURL, "wrong-token")
	e.addUser("dave", false)
	r = e.mustRun(1, "sync")
	wantContains(t, "stderr", r.stderr, "target crm: ")
	if n := len(e.plat.Accounts()); n != 4 {
		t.Errorf("helpdesk has %d accounts after crm failed, want 4: dave created", n)
	}
	r = e.mustRun(0, "status", "--target", "crm", "-o", "json")
	var st struct {
		Runs []struct{ Outcome string } `json:"runs"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil || len(st.Runs) != 2 || st.Runs[0].Outcome != "failed" || st.Runs[1].Outcome != "success" {
		t.Errorf("crm's runs: %+v (%v), want failed then success", st.Runs, err)
	}
	r = e.mustRun(0, "status", "--target", "helpdesk", "-o", "json")
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil || len(st.Runs) != 2 || st.Runs[0].Outcome != "success" {
		t.Errorf("helpdesk's runs: %+v (%v), want two successes", st.Runs, err)
	}

	// Each target's safety limits are its own: crm may archive 1.
	useTargets(t, e, crmURL, "crm-token")
	r = e.mustRun(0, "sync", "--target", "crm")
	if strings.Contains(r.stdout, "target helpdesk") {
		t.Errorf("sync --target crm ran helpdesk too:\n%s", r)
	}
	r = e.mustRun(1, "plan", "--target", "nope")
	wantContains(t, "stderr", r.stderr, `no target "nope"; the config has helpdesk, crm`)
	r = e.mustRun(1, "undo", "--run", "1")
	wantContains(t, "stderr", r.stderr, "name one with --target")
}

func TestTargets_TheServiceLabelsEveryTargetsMetrics(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	crm := fake.NewREST(fake.RESTOptions{Style: fake.StyleArchive, Secret: "crm-token", Seed: 1})
	e.cfg.extra = "listen: 127.0.0.1:0\n"
	useTargets(t, e, crm.StartT(t), "wrong-token")
	e.addUser("alice", false)
	s := e.startService()
	body := s.waitMetric(`dirsync_runs_total{target="crm",outcome="failed"}`, 1)
	if got := metric(body, `dirsync_runs_total{target="helpdesk",outcome="success"}`); got != 1 {
		t.Errorf(`helpdesk's successful runs: %g, want 1 (crm failing must not stop it)`, got)
	}
	if got := metric(body, `dirsync_changes_total{target="helpdesk",kind="create",outcome="applied"}`); got != 1 {
		t.Errorf(`helpdesk's creates: %g, want 1`, got)
	}
	if got := metric(body, `dirsync_target_requests_total{target="crm",status="401"}`); got < 1 {
		t.Errorf(`crm's 401 answers: %g, want at least 1`, got)
	}
}
