package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const unitFile = "systemd/dirsync.service"

// TestSystemdUnit_Verifies runs systemd-analyze verify on the unit, with
// ExecStart pointed at a stand-in executable (verify wants it to exist). Any
// diagnostic is a failure: verify exits 0 on an unknown key, only saying so.
func TestSystemdUnit_Verifies(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("systemd-analyze not found: install the systemd package (scripts/install-test-deps.sh does)")
		}
		t.Skip("systemd-analyze not found; install the systemd package to verify the unit")
	}
	unit, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "dirsync")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(unit), "/usr/local/bin/dirsync", bin)
	if text == string(unit) {
		t.Fatalf("%s: no ExecStart=/usr/local/bin/dirsync to point at the stand-in", unitFile)
	}
	copyPath := filepath.Join(dir, "dirsync.service")
	if err := os.WriteFile(copyPath, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", copyPath).CombinedOutput()
	if err != nil || strings.Contains(string(out), "dirsync.service") {
		t.Fatalf("systemd-analyze verify %s: %v\n%s", unitFile, err, out)
	}
}

func TestSystemdUnit_IsHardened(t *testing.T) {
	unit, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	lines := map[string]bool{}
	for _, l := range strings.Split(string(unit), "\n") {
		lines[strings.TrimSpace(l)] = true
	}
	for _, want := range []string{
		"DynamicUser=yes", "StateDirectory=dirsync", "NoNewPrivileges=yes", "ProtectSystem=strict",
		"ProtectHome=yes", "PrivateTmp=yes", "CapabilityBoundingSet=", "SystemCallFilter=@system-service",
		"RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX", "Restart=on-failure",
		"ExecReload=/bin/kill -HUP $MAINPID",
	} {
		if !lines[want] {
			t.Errorf("%s has no line %q", unitFile, want)
		}
	}
	for _, l := range strings.Split(string(unit), "\n") {
		if strings.HasPrefix(l, "Environment=") && (strings.Contains(l, "PASSWORD=") || strings.Contains(l, "TOKEN=")) {
			t.Errorf("%s: a secret in Environment= (%s); pass it with LoadCredential=", unitFile, l)
		}
	}
}
