package e2e

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/dirsync/dirsync/target/fake"
)

// useRESTProfile replaces the env's target section with an examples/targets
// profile pointing at a REST fake, its ${VAR}s set from vars.
func useRESTProfile(t *testing.T, e *env, profile, url string, vars map[string]string) {
	t.Helper()
	cfg := mustRead(t, e.configPath())
	start, end := strings.Index(cfg, "target:\n"), strings.Index(cfg, "sync:\n")
	p, err := os.ReadFile("../examples/targets/" + profile)
	if err != nil {
		t.Fatal(err)
	}
	// The profile's own target.url (its first "  url:" line) is replaced.
	i := strings.Index(string(p), "\n  url: ") + 1
	j := i + strings.Index(string(p)[i:], "\n")
	prof := string(p)[:i] + "  url: " + url + "\n  rate_limit: 1000\n  max_retries: 0" + string(p)[j:]
	if err := os.WriteFile(e.configPath(), []byte(cfg[:start]+prof+cfg[end:]), 0o600); err != nil {
		t.Fatal(err)
	}
	for k, v := range vars {
		e.environ = append(e.environ, k+"="+v)
	}
}

func TestSync_DrivesAUsersV2PlatformThroughARESTProfileWithoutLeakingItsKey(t *testing.T) {
	t.Parallel()
	const key = "ik-9f8e7d6c5b4a"
	e := newEnv(t)
	plat := fake.NewREST(fake.RESTOptions{Style: fake.StyleUsersV2, Secret: key, Seed: 1})
	useRESTProfile(t, e, "usersv2.yaml", plat.StartT(t), map[string]string{"USERSV2_COMPANY_ID": fake.UsersV2Company, "USERSV2_INTEGRATION_KEY": key})
	alice := e.addUser("alice", false)
	e.addUser("bob", false)

	noKey := func(r result) {
		t.Helper()
		if strings.Contains(r.stdout+r.stderr, key) {
			t.Fatalf("output leaks the IntegrationKey:\n%s", r)
		}
	}
	r := e.mustRun(0, "check")
	noKey(r)
	r = e.mustRun(0, "sync")
	noKey(r)
	wantContains(t, "stdout", r.stdout, "Run 1: 2 created; 0 failed")
	a, ok := plat.ByEmail("alice@example.com")
	if !ok || !a.Active || a.ExternalID != e.ldap.EntryUUID(t, alice) || len(a.ID) != 36 {
		t.Fatalf("alice on the platform: %+v (found %t)", a, ok)
	}

	e.setLocked(alice, true)
	noKey(e.mustRun(0, "sync"))
	if a, _ := plat.ByEmail("alice@example.com"); a.Active {
		t.Fatal("alice was disabled in the directory but is still Active on the platform")
	}

	r = e.mustRun(0, "report", "--format", "json")
	noKey(r)
	var rows []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
		t.Fatalf("report is not JSON: %v\n%s", err, r)
	}
	status := map[string]string{}
	for _, row := range rows {
		status[row["email"].(string)] = row["status"].(string)
	}
	if status["alice@example.com"] != "archived" || status["bob@example.com"] != "managed" {
		t.Fatalf("report statuses %v, want alice archived and bob managed", status)
	}

	// A wrong key: the platform answers HTTP 200 with an error envelope.
	e.environ = append(e.environ, "USERSV2_INTEGRATION_KEY=wrong-key-123456")
	r = e.run("check")
	if r.code == 0 || !strings.Contains(r.stdout+r.stderr, "InvalidIntegrationKey") || strings.Contains(r.stdout+r.stderr, "wrong-key-123456") {
		t.Fatalf("check with a wrong key: want a failure naming InvalidIntegrationKey without the key:\n%s", r)
	}
}
