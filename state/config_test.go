package state

import (
	"path/filepath"
	"strings"
	"testing"
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
