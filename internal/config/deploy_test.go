package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dirsync/dirsync/state"
)

// configMapConfig returns the dirsync.yaml block of the Kubernetes ConfigMap.
func configMapConfig(t *testing.T) string {
	t.Helper()
	return configMapConfigAt(t, "../../deploy/kubernetes/configmap.yaml")
}

// configMapConfigAt returns the dirsync.yaml block of the ConfigMap at path.
func configMapConfigAt(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(b), "  dirsync.yaml: |\n")
	if !ok {
		t.Fatalf("%s has no dirsync.yaml block", path)
	}
	var out strings.Builder
	for _, line := range strings.Split(block, "\n") {
		if line != "" && !strings.HasPrefix(line, "    ") {
			break
		}
		out.WriteString(strings.TrimPrefix(line, "    ") + "\n")
	}
	return out.String()
}

func TestDeployConfigMap_IsAValidConfig(t *testing.T) {
	dir := t.TempDir()
	cfgText := configMapConfig(t)
	// The credentials the pod mounts from the Secret.
	for _, name := range []string{"ldap-password", "platform-token"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfgText = strings.ReplaceAll(cfgText, "/etc/dirsync/credentials/", dir+"/")
	file := filepath.Join(dir, "dirsync.yaml")
	if err := os.WriteFile(file, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(file, nil)
	if err != nil {
		t.Fatalf("the ConfigMap's dirsync.yaml:\n%s\n%v", cfgText, err)
	}
	if cfg.State.Path != "/var/lib/dirsync/state.db" {
		t.Errorf("state.path %q, want the PVC's mount /var/lib/dirsync/state.db", cfg.State.Path)
	}
}

func TestDeployPostgresConfigMap_IsAValidActiveStandbyConfig(t *testing.T) {
	dir := t.TempDir()
	cfgText := configMapConfigAt(t, "../../deploy/kubernetes/postgres/configmap.yaml")
	for _, name := range []string{"ldap-password", "platform-token"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfgText = strings.ReplaceAll(cfgText, "/etc/dirsync/credentials/", dir+"/")
	file := filepath.Join(dir, "dirsync.yaml")
	if err := os.WriteFile(file, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(file, nil)
	if err != nil {
		t.Fatalf("the ConfigMap's dirsync.yaml:\n%s\n%v", cfgText, err)
	}
	if cfg.State.Driver != state.DriverPostgres || cfg.State.URL == "" || cfg.State.LeaseTTL <= 0 {
		t.Errorf("state %+v, want driver postgres with a URL and a lease TTL", cfg.State)
	}
}

// TestDeploySystemdUnit_EnvironmentPointsTheConfigAtTheCredentials loads a
// config without secrets under the unit's Environment= lines, %d being the
// credentials directory, as systemd would.
func TestDeploySystemdUnit_EnvironmentPointsTheConfigAtTheCredentials(t *testing.T) {
	unit, err := os.ReadFile("../../deploy/systemd/dirsync.service")
	if err != nil {
		t.Fatal(err)
	}
	creds := t.TempDir()
	for _, name := range []string{"ldap-password", "platform-token"} {
		if err := os.WriteFile(filepath.Join(creds, name), []byte("s3cret-"+name+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	for _, line := range strings.Split(string(unit), "\n") {
		kv, ok := strings.CutPrefix(line, "Environment=")
		if !ok {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, strings.ReplaceAll(v, "%d", creds))
		n++
	}
	if n == 0 {
		t.Fatal("the unit sets no Environment=")
	}
	var cfgText strings.Builder
	for _, line := range strings.Split(configMapConfig(t), "\n") {
		if !strings.Contains(line, "_file:") {
			cfgText.WriteString(line + "\n")
		}
	}
	file := filepath.Join(t.TempDir(), "dirsync.yaml")
	if err := os.WriteFile(file, []byte(cfgText.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(file, nil)
	if err != nil {
		t.Fatalf("config under the unit's environment: %v", err)
	}
	if cfg.LDAP.BindPasswordFile != filepath.Join(creds, "ldap-password") || cfg.Target.TokenFile != filepath.Join(creds, "platform-token") {
		t.Errorf("bind_password_file %q, token_file %q: want the credentials in %s", cfg.LDAP.BindPasswordFile, cfg.Target.TokenFile, creds)
	}
	if cfg.State.Path != "/var/lib/dirsync/state.db" {
		t.Errorf("state.path %q, want the StateDirectory's /var/lib/dirsync/state.db", cfg.State.Path)
	}
	if tok, err := cfg.Target.Secret(); err != nil || tok != "s3cret-platform-token" {
		t.Errorf("token from the credential: %q, %v", tok, err)
	}
}
