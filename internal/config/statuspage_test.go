package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoad_StatusPageIsOffByDefault(t *testing.T) {
	cfg, err := Load(writeConfig(t, minimalConfig), MapEnv(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.StatusPage {
		t.Errorf("status_page is on by default")
	}
}

func TestLoad_StatusPageNeedsATokenUnlessTheListenerIsLoopback(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "page-token")
	if err := os.WriteFile(tokenFile, []byte("  from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, extra string
		problem     string // "" for a valid config
	}{
		{"loopback, no token", "status_page: true\nlisten: 127.0.0.1:9464\n", ""},
		{"localhost, no token", "status_page: true\nlisten: localhost:9464\n", ""},
		{"IPv6 loopback, no token", "status_page: true\nlisten: \"[::1]:9464\"\n", ""},
		{"all interfaces, no token", "status_page: true\nlisten: 0.0.0.0:9464\n",
			"status_page_token: must be set (or status_page_token_file) when listen (0.0.0.0:9464) is not a loopback address"},
		{"empty host, no token", "status_page: true\nlisten: \":9464\"\n",
			"status_page_token: must be set (or status_page_token_file) when listen (:9464) is not a loopback address"},
		{"all interfaces, token", "status_page: true\nlisten: 0.0.0.0:9464\nstatus_page_token: t0k\n", ""},
		{"all interfaces, token file", fmt.Sprintf("status_page: true\nlisten: 0.0.0.0:9464\nstatus_page_token_file: %s\n", tokenFile), ""},
		{"page off, no token", "listen: 0.0.0.0:9464\n", ""},
		{"token and token file", fmt.Sprintf("status_page: true\nstatus_page_token: t\nstatus_page_token_file: %s\n", tokenFile),
			"status_page_token: set status_page_token or status_page_token_file, not both"},
		{"missing token file", "status_page: true\nstatus_page_token_file: /nonexistent/page-token\n",
			"status_page_token_file: "},
	} {
		_, err := Load(writeConfig(t, minimalConfig+tc.extra), MapEnv(nil))
		switch {
		case tc.problem == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.problem != "" && (err == nil || !strings.Contains(err.Error(), tc.problem)):
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.problem)
		}
	}
}

func TestConfig_StatusPageSecretReadsTheTokenOrItsFile(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "page-token")
	if err := os.WriteFile(tokenFile, []byte("  from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(writeConfig(t, minimalConfig+"status_page: true\nlisten: 0.0.0.0:1\nstatus_page_token_file: "+tokenFile+"\n"), MapEnv(nil))
	if err != nil {
		t.Fatal(err)
	}
	if tok, err := cfg.StatusPageSecret(); err != nil || tok != "from-file" {
		t.Errorf("StatusPageSecret = %q, %v; want the file's token, trimmed", tok, err)
	}
	cfg, err = Load(writeConfig(t, minimalConfig+"status_page: true\n"), MapEnv(map[string]string{"DIRSYNC_STATUS_PAGE_TOKEN": "from-env"}))
	if err != nil {
		t.Fatal(err)
	}
	if tok, err := cfg.StatusPageSecret(); err != nil || tok != "from-env" {
		t.Errorf("StatusPageSecret = %q, %v; want DIRSYNC_STATUS_PAGE_TOKEN's", tok, err)
	}
}

func TestConfig_PrintedWithoutTheStatusPageToken(t *testing.T) {
	cfg, err := Load(writeConfig(t, minimalConfig+"status_page: true\nstatus_page_token: page-s3cret\n"), MapEnv(nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(verb, cfg)
		for _, secret := range []string{"page-s3cret", "tok", "secret"} {
			if strings.Contains(strings.ReplaceAll(out, "token", ""), secret) {
				t.Errorf("%s shows %q: %s", verb, secret, out)
			}
		}
	}
	if cfg.StatusPageToken != "page-s3cret" {
		t.Errorf("printing changed the config: token %q", cfg.StatusPageToken)
	}
}
