package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const restLDAP = `
ldap:
  url: ldaps://ldap.example.com
  bind_dn: cn=svc,dc=example,dc=com
  bind_password: secret
  base_dn: dc=example,dc=com
state:
  path: /tmp/state.db
`

// restConfig is restLDAP plus an examples/targets profile.
func restConfig(t *testing.T, profile string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "examples", "targets", profile))
	if err != nil {
		t.Fatal(err)
	}
	return restLDAP + string(b)
}

func TestLoad_EveryExampleProfileIsValid(t *testing.T) {
	for k, v := range map[string]string{"PPO_API_KEY": "k", "PARTNER_CLIENT_SECRET": "s", "PARTNER_CUSTOMER_ID": "c1",
		"ARCHIVE_TOKEN": "t", "USERSV2_COMPANY_ID": "42", "USERSV2_INTEGRATION_KEY": "ik-secret"} {
		t.Setenv(k, v)
	}
	for _, name := range []string{"ppo.yaml", "partner.yaml", "archive.yaml", "usersv2.yaml"} {
		t.Run(name, func(t *testing.T) {
			cfg, err := Load(writeConfig(t, restConfig(t, name)), nil)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if cfg.Target.Type != "rest" || cfg.Target.Rest.List.Path == "" || (cfg.Target.Rest.Create.Body == "" && cfg.Target.Rest.BatchCreate.Item == "") {
				t.Fatalf("%s: profile not decoded: %+v", name, cfg.Target.Rest)
			}
		})
	}
}

func TestLoad_RestProfileKeepsCaseOfPathsAndBodies(t *testing.T) {
	t.Setenv("USERSV2_COMPANY_ID", "42")
	t.Setenv("USERSV2_INTEGRATION_KEY", "ik-secret")
	cfg, err := Load(writeConfig(t, restConfig(t, "usersv2.yaml")), nil)
	if err != nil {
		t.Fatal(err)
	}
	r := cfg.Target.Rest
	if r.Error.Code != "ResponseStatus.ErrorCode" || r.Fields["external_id"] != "ExternalId" ||
		!strings.Contains(r.Create.Body, `"ExternalId"`) || r.Auth.Params[1] != "IntegrationKey=ik-secret" {
		t.Fatalf("case or values lost: %+v", r)
	}
	if red := cfg.Target.Redacted(); strings.Contains(red.Rest.Auth.Params[1], "ik-secret") {
		t.Fatalf("Redacted keeps the IntegrationKey: %v", red.Rest.Auth.Params)
	}
}

func TestLoad_RestProfileProblemsAreNamed(t *testing.T) {
	body := restLDAP + `
target:
  type: rest
  url: https://p.example.com
  token: tok
  rest:
    auth: {type: header}
    list: {path: /users, pagination: pages, itemz: x}
    id: id
    fields: {email: mail, phone: tel}
    active: active
    create:
      method: POST
      path: /users
      body: '{"email": "{{emial}}"}'
    deactivate: {method: POST, path: "/users/{id}/off", body: '{"who": "{{email}}"}'}
`
	_, err := Load(writeConfig(t, body), nil)
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("want *Error, got %v", err)
	}
	msg := err.Error()
	for _, want := range []string{
		"target.rest.list.itemz: unknown key",
		"target.rest.auth.header: must be set",
		`target.rest.list.pagination: unknown pagination "pages"`,
		"target.rest.fields.phone: unknown user field",
		`target.rest.create.body: refers to unknown field(s) {{emial}}`,
		`target.rest.deactivate.body: refers to unknown field(s) {{email}}`,
		"target.rest.reactivate: must be set when deactivate is",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not contain %q:\n%s", want, msg)
		}
	}
}

func TestLoad_EnvironmentOverridesRestProfileKeys(t *testing.T) {
	p := writeConfig(t, restConfig(t, "usersv2.yaml"))
	cfg, err := Load(p, MapEnv(map[string]string{
		"USERSV2_COMPANY_ID": "42", "USERSV2_INTEGRATION_KEY": "ik-secret",
		"DIRSYNC_TARGET_REST_LIST_PAGE_SIZE":    "25",
		"DIRSYNC_TARGET_REST_LIST_MAX_PAGES":    "7",
		"DIRSYNC_TARGET_REST_BATCH_CREATE_SIZE": "10",
	}))
	if err != nil {
		t.Fatal(err)
	}
	r := cfg.Target.Rest
	if r.List.PageSize != 25 || r.List.MaxPages != 7 || r.List.Path != "/api/v2/user/search" {
		t.Errorf("list = %+v: want page_size 25 and max_pages 7 from the environment, path from the file", r.List)
	}
	if r.BatchCreate.Size != 10 {
		t.Errorf("batch_create.size = %d, want 10 from the environment", r.BatchCreate.Size)
	}
}
