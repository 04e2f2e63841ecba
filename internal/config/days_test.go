package config

import (
	"strings"
	"testing"
	"time"

	"github.com/dirsync/dirsync/state"
)

func TestLoad_DurationsTakeDays(t *testing.T) {
	cfg, err := Load(writeConfig(t, minimalConfig), MapEnv(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.State.Retention != state.DefaultRetention || state.DefaultRetention != 400*24*time.Hour {
		t.Errorf("default state.retention %v, want 400 days", cfg.State.Retention)
	}
	for v, want := range map[string]time.Duration{"30d": 30 * 24 * time.Hour, "1d12h": 36 * time.Hour, "90m": 90 * time.Minute} {
		cfg, err := Load(writeConfig(t, withKey(t, "state.retention", v)), MapEnv(nil))
		if err != nil || cfg.State.Retention != want {
			t.Errorf("state.retention %s: %v, %v; want %v", v, cfg.State.Retention, err, want)
		}
	}
	cfg, err = Load(writeConfig(t, minimalConfig), MapEnv(map[string]string{"DIRSYNC_STATE_RETENTION": "7d"}))
	if err != nil || cfg.State.Retention != 7*24*time.Hour {
		t.Errorf("DIRSYNC_STATE_RETENTION=7d: %v, %v", cfg.State.Retention, err)
	}
	_, err = Load(writeConfig(t, withKey(t, "state.retention", "1.5d")), MapEnv(nil))
	if err == nil || !strings.Contains(err.Error(), `state.retention: "1.5d" is not a duration`) || !strings.Contains(err.Error(), "30d") {
		t.Errorf("1.5d: %v", err)
	}
	_, err = Load(writeConfig(t, withKey(t, "state.retention", "-1d")), MapEnv(nil))
	if err == nil || !strings.Contains(err.Error(), "state.retention") {
		t.Errorf("-1d: %v", err)
	}
}

func TestLoad_TargetSyncOverridesTakeDays(t *testing.T) {
	cfg, err := Load(writeConfig(t, ldapOnly+`
targets:
  - name: helpdesk
    url: https://helpdesk.example.com/scim/v2
    token: t
    sync: {delete_after: 30d}
`), MapEnv(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.TargetList()[0].Sync.DeleteAfter; got != 30*24*time.Hour {
		t.Errorf("targets[helpdesk].sync.delete_after = %v, want 30 days", got)
	}
}
