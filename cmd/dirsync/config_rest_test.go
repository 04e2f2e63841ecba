package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/dirsync/dirsync/internal/app"
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

func TestReadConfig_EveryExampleProfileIsValid(t *testing.T) {
	for k, v := range map[string]string{"PPO_API_KEY": "k", "PARTNER_CLIENT_SECRET": "s", "PARTNER_CUSTOMER_ID": "c1",
		"ARCHIVE_TOKEN": "t", "USERSV2_COMPANY_ID": "42", "USERSV2_INTEGRATION_KEY": "ik-secret"} {
		t.Setenv(k, v)
	}
	for _, name := range []string{"ppo.yaml", "partner.yaml", "archive.yaml", "usersv2.yaml"} {
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("..", "..", "examples", "targets", name))
			if err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(t.TempDir(), "dirsync.yaml")
			if err := os.WriteFile(file, []byte(restLDAP+string(b)), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := readConfig(&globalFlags{configFile: file})
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if cfg.Target.Type != "rest" || cfg.Target.Rest.List.Path == "" || (cfg.Target.Rest.Create.Body == "" && cfg.Target.Rest.BatchCreate.Item == "") {
				t.Fatalf("%s: profile not decoded: %+v", name, cfg.Target.Rest)
			}
			if _, err := app.NewPlatform(cfg.Target, nil); err != nil {
				t.Fatalf("%s: newPlatform: %v", name, err)
			}
		})
	}
}
