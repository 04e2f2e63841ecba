package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "dirsync.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const minimalConfig = `
ldap:
  url: ldaps://ldap.example.com
  bind_dn: cn=svc,dc=example,dc=com
  bind_password: secret
  base_dn: dc=example,dc=com
target:
  url: https://platform.example.com/scim/v2
  token: tok
state:
  path: /tmp/state.db
`

func TestLoad_ExampleFileIsValid(t *testing.T) {
	t.Setenv("DIRSYNC_LDAP_PASSWORD", "pw")
	t.Setenv("PLATFORM_TOKEN", "tok")
	cfg, err := Load("../../config.example.yaml", nil)
	if err != nil {
		t.Fatalf("config.example.yaml: %v", err)
	}
	if cfg.LDAP.BindPassword != "pw" || cfg.Target.Token != "tok" {
		t.Errorf("${VAR} not expanded: password %q token %q", cfg.LDAP.BindPassword, cfg.Target.Token)
	}
	if cfg.LDAP.Attributes.Extra["department"] != "department" {
		t.Errorf("extra attributes not decoded: %v", cfg.LDAP.Attributes.Extra)
	}
}

func TestLoad_UnknownKeyIsNamedWithSuggestion(t *testing.T) {
	p := writeConfig(t, minimalConfig+"sync:\n  max_archiv: 3\n")
	_, err := Load(p, nil)
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("want *Error, got %v", err)
	}
	msg := err.Error()
	for _, want := range []string{p, "sync.max_archiv: unknown key", "did you mean sync.max_archive?"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not contain %q", msg, want)
		}
	}
}

func TestLoad_ReportsAllProblemsAtOnce(t *testing.T) {
	p := writeConfig(t, minimalConfig+"sync:\n  on_removed: purge\n  max_archive: -1\nlog:\n  level: loud\nbogus: 1\n")
	_, err := Load(p, nil)
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("want *Error, got %v", err)
	}
	for _, key := range []string{"sync.on_removed", "sync.max_archive", "log.level", "bogus"} {
		found := false
		for _, prob := range ce.Problems {
			if strings.HasPrefix(prob, key+":") {
				found = true
			}
		}
		if !found {
			t.Errorf("no problem named %s in %q", key, ce.Problems)
		}
	}
}

func TestLoad_EnvironmentOverridesFile(t *testing.T) {
	p := writeConfig(t, minimalConfig)
	t.Setenv("DIRSYNC_SYNC_MAX_ARCHIVE", "7")
	t.Setenv("DIRSYNC_LDAP_BIND_DN", "cn=other,dc=example,dc=com")
	t.Setenv("DIRSYNC_TARGET_TIMEOUT", "5s")
	cfg, err := Load(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Sync.MaxArchive != 7 || cfg.LDAP.BindDN != "cn=other,dc=example,dc=com" || cfg.Target.Timeout != 5*time.Second {
		t.Errorf("env not applied: max_archive=%d bind_dn=%q timeout=%v", cfg.Sync.MaxArchive, cfg.LDAP.BindDN, cfg.Target.Timeout)
	}
	if cfg.Sync.MaxArchivePercent != 10 || cfg.LDAP.PageSize != 500 {
		t.Errorf("defaults lost: percent=%g page_size=%d", cfg.Sync.MaxArchivePercent, cfg.LDAP.PageSize)
	}
}

func TestLoad_UnsetVariableIsAProblem(t *testing.T) {
	p := writeConfig(t, strings.Replace(minimalConfig, "token: tok", "token: ${DIRSYNC_TEST_UNSET_TOKEN}", 1))
	_, err := Load(p, nil)
	if err == nil || !strings.Contains(err.Error(), "target.token: refers to ${DIRSYNC_TEST_UNSET_TOKEN}, which is not set") {
		t.Fatalf("want unset-variable problem, got %v", err)
	}
}

func TestLoad_DollarInPasswordIsKept(t *testing.T) {
	p := writeConfig(t, strings.Replace(minimalConfig, "bind_password: secret", `bind_password: "pa$$w$rd"`, 1))
	cfg, err := Load(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.LDAP.BindPassword != "pa$$w$rd" {
		t.Errorf("password mangled: %q", cfg.LDAP.BindPassword)
	}
}

func TestLoad_MissingFileSaysWhatToDo(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"), nil)
	if err == nil || !strings.Contains(err.Error(), "--config") {
		t.Fatalf("want a hint at --config, got %v", err)
	}
}

func TestLoad_EnvironmentOverrideIsTakenLiterally(t *testing.T) {
	p := writeConfig(t, strings.Replace(minimalConfig, "token: tok", "token: ${DIRSYNC_TEST_FILE_TOKEN}", 1))
	t.Setenv("DIRSYNC_TEST_FILE_TOKEN", "from-file-ref")
	t.Setenv("DIRSYNC_TEST_SET", "expanded")
	// A password holding "${": neither expanded nor reported (the report
	// would print a part of it).
	const password = "pa${DIRSYNC_TEST_SET}x${DIRSYNC_TEST_UNSET_9}y"
	t.Setenv("DIRSYNC_LDAP_BIND_PASSWORD", password)
	cfg, err := Load(p, nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if cfg.LDAP.BindPassword != password {
		t.Errorf("bind_password from DIRSYNC_LDAP_BIND_PASSWORD = %q, want %q as is", cfg.LDAP.BindPassword, password)
	}
	if cfg.Target.Token != "from-file-ref" {
		t.Errorf("${VAR} in the file not expanded: token %q", cfg.Target.Token)
	}
}

// configDurations lists the dotted keys of every time.Duration in the config.
func configDurations(t *testing.T) []string {
	t.Helper()
	leaves, _ := configKeys(reflect.TypeOf(Config{}), "")
	var out []string
	for _, k := range leaves {
		typ := reflect.TypeOf(Config{})
		for _, part := range strings.Split(k, ".") {
			typ = fieldByKey(typ, part)
		}
		if typ == reflect.TypeOf(time.Duration(0)) {
			out = append(out, k)
		}
	}
	if len(out) < 6 {
		t.Fatalf("found only %d duration keys: %v", len(out), out)
	}
	return out
}

// fieldByKey returns the type of t's field decoded from key (squashed
// structs included).
func fieldByKey(t reflect.Type, key string) reflect.Type {
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("mapstructure"), ",")
		if strings.Contains(opts, "squash") {
			if ft := fieldByKey(f.Type, key); ft != nil {
				return ft
			}
		}
		if name == key || (name == "" && strings.EqualFold(f.Name, key)) {
			return f.Type
		}
	}
	return nil
}

// withKey returns minimalConfig with the dotted key set to value.
func withKey(t *testing.T, key string, value any) string {
	t.Helper()
	var doc map[string]any
	if err := yaml.Unmarshal([]byte(minimalConfig), &doc); err != nil {
		t.Fatal(err)
	}
	setPath(doc, key, value)
	b, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestLoad_DurationWithoutUnitIsAProblemNamingTheKey(t *testing.T) {
	for _, key := range configDurations(t) {
		t.Run(key, func(t *testing.T) {
			for _, v := range []any{30, "30", 1.5} {
				_, err := Load(writeConfig(t, withKey(t, key, v)), nil)
				want := fmt.Sprintf("%s: %v has no unit", key, v)
				if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), fmt.Sprintf("e.g. %vs", v)) {
					t.Errorf("%s: %#v in the file: got %v, want a problem %q with an example", key, v, err, want)
				}
			}
			t.Setenv(envName(key), "30")
			_, err := Load(writeConfig(t, minimalConfig), nil)
			if err == nil || !strings.Contains(err.Error(), key+": 30 has no unit") || !strings.Contains(err.Error(), envName(key)) {
				t.Errorf("%s=30: got %v, want a problem naming %s and the variable", envName(key), err, key)
			}
		})
	}
	// With a unit, and a bare 0, durations are taken.
	cfg, err := Load(writeConfig(t, withKey(t, "target.timeout", "1m30s")), nil)
	if err != nil || cfg.Target.Timeout != 90*time.Second {
		t.Fatalf("timeout 1m30s: %v, %v", cfg.Target.Timeout, err)
	}
	cfg, err = Load(writeConfig(t, withKey(t, "sync.full_reconcile_every", 0)), nil)
	if err != nil || cfg.Sync.FullReconcileEvery != 0 {
		t.Fatalf("full_reconcile_every 0: %v, %v", cfg.Sync.FullReconcileEvery, err)
	}
}

func TestLoad_TakesOverridesAndReferencesFromTheGivenEnvironment(t *testing.T) {
	p := writeConfig(t, strings.Replace(minimalConfig, "token: tok", "token: ${GIVEN_TOKEN}", 1))
	t.Setenv("DIRSYNC_SYNC_MAX_ARCHIVE", "99") // the process's: not consulted
	cfg, err := Load(p, MapEnv(map[string]string{"GIVEN_TOKEN": "given", "DIRSYNC_SYNC_MAX_ARCHIVE": "7"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Target.Token != "given" || cfg.Sync.MaxArchive != 7 {
		t.Errorf("token %q, max_archive %d: want given and 7 from the given environment", cfg.Target.Token, cfg.Sync.MaxArchive)
	}
}

func TestLoad_EnvironmentOverridesAnEntryOfAMapInTheFile(t *testing.T) {
	p := writeConfig(t, strings.Replace(minimalConfig, "base_dn: dc=example,dc=com", "base_dn: dc=example,dc=com\n  attributes:\n    extra:\n      employeeNumber: employeeNumber\n      costCenter: departmentNumber", 1))
	// Every time, not as the order of a map's iteration falls.
	for range 20 {
		cfg, err := Load(p, MapEnv(map[string]string{"DIRSYNC_LDAP_ATTRIBUTES_EXTRA_EMPLOYEENUMBER": "empNo"}))
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.LDAP.Attributes.Extra; got["employeeNumber"] != "empNo" || got["costCenter"] != "departmentNumber" || len(got) != 2 {
			t.Fatalf("extra = %v, want employeeNumber overridden to empNo, costCenter kept", got)
		}
	}
}

func TestLoad_MaxInFlightIsItsOwnKeyDefaultingToConcurrency(t *testing.T) {
	cfg, err := Load(writeConfig(t, withKey(t, "target.max_in_flight", 3)), MapEnv(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Target.MaxInFlight != 3 || cfg.Target.Concurrency != 8 || cfg.Target.InFlight() != 3 {
		t.Errorf("max_in_flight 3: got max_in_flight %d, concurrency %d, in flight %d; want 3, 8 (default), 3",
			cfg.Target.MaxInFlight, cfg.Target.Concurrency, cfg.Target.InFlight())
	}
	cfg, err = Load(writeConfig(t, withKey(t, "target.concurrency", 5)), MapEnv(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Target.Concurrency != 5 || cfg.Target.InFlight() != 5 {
		t.Errorf("concurrency 5 alone: concurrency %d, in flight %d; want both 5, as before max_in_flight", cfg.Target.Concurrency, cfg.Target.InFlight())
	}
	_, err = Load(writeConfig(t, withKey(t, "target.max_in_flight", -1)), MapEnv(nil))
	if err == nil || !strings.Contains(err.Error(), "target.max_in_flight: ") {
		t.Errorf("max_in_flight -1: got %v, want a problem naming target.max_in_flight", err)
	}
}
