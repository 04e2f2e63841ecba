package state

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestConfig_DefaultIsValid(t *testing.T) {
	c := Default()
	if c.Path != "/var/lib/dirsync/state.db" {
		t.Errorf("default path %q", c.Path)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate(Default()) = %v", err)
	}
}

func TestConfig_ValidateNamesTheKey(t *testing.T) {
	dir := t.TempDir()
	for name, path := range map[string]string{
		"empty":          "",
		"white space":    " /var/lib/dirsync/state.db",
		"trailing slash": "/var/lib/dirsync/",
		"dot":            "/var/lib/dirsync/.",
		"directory":      dir,
		"nul":            "/var/lib/\x00state.db",
	} {
		err := Config{Path: path}.Validate()
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		if !strings.HasPrefix(err.Error(), "state.path: ") {
			t.Errorf("%s: %q does not start with the key", name, err)
		}
	}
	if err := (Config{Path: filepath.Join(dir, "missing", "state.db")}).Validate(); err != nil {
		t.Errorf("a path that does not exist yet: %v", err)
	}
}

func TestConfig_DriverDefaultsToSQLiteAndPostgresNeedsAURL(t *testing.T) {
	if d := Default().Driver; d != DriverSQLite {
		t.Errorf("default driver %q, want sqlite", d)
	}
	good := Config{Driver: DriverPostgres, URL: "postgres://dirsync@db.example.com:5432/dirsync?sslmode=verify-full"}
	if err := good.Validate(); err != nil {
		t.Errorf("postgres with a URL: %v", err)
	}
	// With postgres, state.path is not used: a bad one is no error.
	good.Path = ""
	if err := good.Validate(); err != nil {
		t.Errorf("postgres without state.path: %v", err)
	}
	for name, c := range map[string]struct {
		cfg Config
		key string
	}{
		"unknown driver":  {Config{Driver: "mysql", Path: DefaultPath}, "state.driver: "},
		"no url":          {Config{Driver: DriverPostgres}, "state.url: "},
		"not a url":       {Config{Driver: DriverPostgres, URL: "host=db dbname=x"}, "state.url: "},
		"other scheme":    {Config{Driver: DriverPostgres, URL: "mysql://db/x"}, "state.url: "},
		"url with sqlite": {Config{Driver: DriverSQLite, Path: DefaultPath, URL: "postgres://db/x"}, "state.url: "},
		"short lease":     {Config{Driver: DriverPostgres, URL: "postgres://db/x", LeaseTTL: 100 * time.Millisecond}, "state.lease_ttl: "},
	} {
		err := c.cfg.Validate()
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		if !strings.HasPrefix(err.Error(), c.key) {
			t.Errorf("%s: %q does not start with %q", name, err, c.key)
		}
	}
}

func TestConfig_RedactedURLHidesThePassword(t *testing.T) {
	c := Config{Driver: DriverPostgres, URL: "postgres://dirsync:s3cret@db:5432/dirsync"}
	if got := c.RedactedURL(); strings.Contains(got, "s3cret") || !strings.Contains(got, "db:5432/dirsync") {
		t.Errorf("RedactedURL = %q", got)
	}
}
