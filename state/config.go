package state

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// DefaultPath is where the snapshot is kept unless state.path says otherwise.
const DefaultPath = "/var/lib/dirsync/state.db"

// Config is the `state:` section of the config file. It is decoded over Default()
// and checked with Validate.
//
//	state:
//	  path: /var/lib/dirsync/state.db
//
// Next to the file, dirsync keeps `<path>.lock` (the single-writer lock) and,
// while it runs, SQLite's `<path>-wal` and `<path>-shm`. All are created 0600
// and the directory, when dirsync creates it, 0700: the snapshot holds personal
// data (names, email addresses).
type Config struct {
	// Path is the SQLite file holding the snapshot. It is created on the first
	// sync, with its directory. Default /var/lib/dirsync/state.db.
	Path string `mapstructure:"path" json:"path"`
}

// Default returns the configuration the config file is decoded over.
func Default() Config {
	return Config{Path: DefaultPath}
}

// Validate reports every problem with c at once, each named by its config-file
// key (e.g. "state.path: must be set"). It is nil when c is valid. It does not
// create anything.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("state.path: %s", fmt.Sprintf(format, args...)))
	}
	p := strings.TrimSpace(c.Path)
	switch {
	case p == "":
		bad("must be set (a file, e.g. %s)", DefaultPath)
	case p != c.Path:
		bad("%q has surrounding white space", c.Path)
	case strings.ContainsRune(p, 0):
		bad("must not contain a NUL byte")
	case strings.HasSuffix(p, string(filepath.Separator)) || filepath.Base(p) == "." || filepath.Base(p) == "..":
		bad("%q names a directory; name the file, e.g. %s", c.Path, filepath.Join(p, "state.db"))
	default:
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			bad("%s is a directory; name the file, e.g. %s", p, filepath.Join(p, "state.db"))
		}
	}
	return errors.Join(errs...)
}

// ForTarget returns where the snapshot of the target named name is kept:
// c itself for the one target of the `target:` section (named "default"),
// otherwise a file of its own next to c.Path, named after the target
// (state.db gives state.helpdesk.db). Each target's snapshot, journal and
// lock are its own: one target's run never waits for another's.
func (c Config) ForTarget(name string) Config {
	if name == "" || name == "default" {
		return c
	}
	ext := filepath.Ext(c.Path)
	c.Path = strings.TrimSuffix(c.Path, ext) + "." + name + ext
	return c
}
