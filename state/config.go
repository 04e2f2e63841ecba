package state

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// DefaultPath is where the snapshot is kept unless state.path says otherwise.
const DefaultPath = "/var/lib/dirsync/state.db"

// DefaultLeaseTTL is state.lease_ttl's default.
const DefaultLeaseTTL = 10 * time.Second

// The values of state.driver.
const (
	// DriverSQLite keeps the snapshot in a SQLite file (state.path), held by
	// one process: the default.
	DriverSQLite = "sqlite"
	// DriverPostgres keeps it in a PostgreSQL database (state.url) that
	// several `dirsync run` processes share, one of them the leader.
	DriverPostgres = "postgres"
)

// Config is the `state:` section of the config file. It is decoded over Default()
// and checked with Validate.
//
//	state:
//	  driver: sqlite            # or postgres
//	  path: /var/lib/dirsync/state.db
//	  retention: 400d              # runs and journal entries older are pruned (0: never)
//	  url: postgres://dirsync@db.example.com/dirsync?sslmode=verify-full  # postgres only
//	  lease_ttl: 10s            # postgres only
//
// Next to the file, dirsync keeps `<path>.lock` (the single-writer lock) and,
// while it runs, SQLite's `<path>-wal` and `<path>-shm`. All are created 0600
// and the directory, when dirsync creates it, 0700: the snapshot holds personal
// data (names, email addresses).
type Config struct {
	// Driver is where the snapshot is kept: DriverSQLite (default) or
	// DriverPostgres.
	Driver string `mapstructure:"driver" json:"driver"`
	// Path is the SQLite file holding the snapshot. It is created on the first
	// sync, with its directory. Default /var/lib/dirsync/state.db.
	Path string `mapstructure:"path" json:"path"`
	// Retention is how long runs and journal entries are kept: older ones
	// are pruned at the end of each run (see DB.Prune for what is always
	// kept). 0 keeps them forever. Default DefaultRetention (400 days).
	Retention time.Duration `mapstructure:"retention" json:"retention"`
	// URL is the PostgreSQL connection URL (postgres://user@host:port/db?...),
	// with driver postgres only. The password may be in it (use ${VAR} in the
	// config file), in PGPASSWORD or in a ~/.pgpass file; sslmode and the
	// other libpq parameters are taken from it.
	URL string `mapstructure:"url" json:"-"`
	// LeaseTTL is how long the leader's lease lasts unless renewed, with
	// driver postgres: a standby takes over at most about this long after the
	// leader died or lost the database. Default 10s; at least 1s.
	LeaseTTL time.Duration `mapstructure:"lease_ttl" json:"lease_ttl,omitempty"`
}

// RedactedURL is URL without its password, for messages and logs.
func (c Config) RedactedURL() string {
	u, err := url.Parse(c.URL)
	if err != nil {
		return "(state.url)"
	}
	return u.Redacted()
}

// Default returns the configuration the config file is decoded over.
func Default() Config {
	return Config{Driver: DriverSQLite, Path: DefaultPath, LeaseTTL: DefaultLeaseTTL, Retention: DefaultRetention}
}

// Options returns the store options c sets, for Open.
func (c Config) Options() []Option {
	return []Option{WithRetention(c.Retention)}
}

// Validate reports every problem with c at once, each named by its config-file
// key (e.g. "state.path: must be set"). It is nil when c is valid. It does not
// create anything.
func (c Config) Validate() error {
	switch c.Driver {
	case DriverSQLite, "":
		if c.URL != "" {
			return errors.New("state.url: is for state.driver: postgres; with sqlite the snapshot is the file state.path")
		}
		return c.validatePath()
	case DriverPostgres:
		return c.validateURL()
	default:
		return fmt.Errorf("state.driver: %q is not one of sqlite, postgres", c.Driver)
	}
}

func (c Config) validateURL() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("state.url: %s", fmt.Sprintf(format, args...))
	}
	if strings.TrimSpace(c.URL) == "" {
		return bad("must be set with state.driver: postgres (e.g. postgres://dirsync@db.example.com:5432/dirsync?sslmode=verify-full)")
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		// url.Parse's error repeats the URL, password included.
		return bad("is not a URL; write postgres://user@host:port/database")
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return bad("%s: the scheme must be postgres:// (a URL, not key=value settings)", u.Redacted())
	}
	if c.LeaseTTL != 0 && c.LeaseTTL < time.Second {
		return fmt.Errorf("state.lease_ttl: %s is too short: at least 1s (default %s)", c.LeaseTTL, DefaultLeaseTTL)
	}
	return nil
}

func (c Config) validatePath() error {
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
	if c.Retention < 0 {
		errs = append(errs, fmt.Errorf("state.retention: %v is negative; use 0 to keep runs and the journal forever", c.Retention))
	}
	return errors.Join(errs...)
}

// ForTarget returns where the snapshot of the target named name is kept:
// c itself for the one target of the `target:` section (named "default"),
// otherwise a file of its own next to c.Path, named after the target
// (state.db gives state.helpdesk.db), or with driver postgres a schema of
// its own in the same database (dirsync_helpdesk, by search_path in the
// URL). Each target's snapshot, journal and lock are its own: one target's
// run never waits for another's (with postgres, one lease covers them all).
func (c Config) ForTarget(name string) Config {
	if name == "" || name == "default" {
		return c
	}
	ext := filepath.Ext(c.Path)
	c.Path = strings.TrimSuffix(c.Path, ext) + "." + name + ext
	if c.Driver == DriverPostgres {
		// In PostgreSQL, a schema of the same database: dirsync_<name>.
		if u, err := url.Parse(c.URL); err == nil {
			q := u.Query()
			q.Set("search_path", "dirsync_"+strings.ReplaceAll(name, "-", "_"))
			u.RawQuery = q.Encode()
			c.URL = u.String()
		}
	}
	return c
}
