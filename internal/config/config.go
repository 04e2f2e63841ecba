// Package config loads dirsync's config file: the one place that turns a YAML
// file and the environment into a validated Config.
//
// Load reads the file over every section's defaults (Default), applies the
// DIRSYNC_* environment overrides (ldap.bind_dn is DIRSYNC_LDAP_BIND_DN),
// expands ${VAR} references in the values the file holds (not in overrides,
// which are taken as they are), refuses durations without a unit, names every
// unknown key (with the nearest known one, at any depth), names the line of a
// YAML syntax error, and validates every section. Every problem is reported
// at once, one line each, named by its key, in an *Error.
//
// Each section belongs to the package that uses it (ldapsource.Config,
// target.Config, sync.Config, state.Config) and owns its defaults and its
// validation, `*_file` secrets included; this package only decodes and
// collects. The log section and the service's top-level keys (schedule,
// listen, readiness_staleness) are defined here.
package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"go.uber.org/zap/zapcore"

	"github.com/dirsync/dirsync/ldapsource"
	"github.com/dirsync/dirsync/state"
	dsync "github.com/dirsync/dirsync/sync"
	"github.com/dirsync/dirsync/target"
	_ "github.com/dirsync/dirsync/target/targets" // the target types target.type accepts
	"github.com/dirsync/dirsync/transform"
)

// Config is the whole config file. Each section belongs to the package that
// uses it; this package only decodes and validates.
type Config struct {
	LDAP   ldapsource.Config `mapstructure:"ldap"`
	Target target.Config     `mapstructure:"target"`
	// Targets, when set, are several platforms fed by one directory read,
	// in place of Target (see TargetList).
	Targets []TargetSpec `mapstructure:"targets"`
	Sync    dsync.Config `mapstructure:"sync"`
	State   state.Config `mapstructure:"state"`
	// Transform shapes each user's fields after the directory mapping; Load
	// hands it to the directory source (LDAP.Transform).
	Transform transform.Config `mapstructure:"transform"`
	// Groups is the group push (`groups:`), for every target: its
	// directory keys are checked by ldapsource, the rest by sync.
	Groups dsync.GroupsConfig `mapstructure:"groups"`
	// Schedule is the cron expression `dirsync run` syncs on (default every 15 minutes).
	Schedule string `mapstructure:"schedule"`
	// Listen is the address of /metrics, /healthz and /readyz (default 127.0.0.1:9464).
	Listen string `mapstructure:"listen"`
	// ReadinessStaleness: `dirsync run` reports not ready on /readyz when the
	// last run failed (or was refused) and none has succeeded for this long
	// (default 1h).
	ReadinessStaleness time.Duration `mapstructure:"readiness_staleness"`
	Log                Log           `mapstructure:"log"`
	// StatusPage serves the status page on GET / of listen (default false).
	// It shows names and emails.
	StatusPage bool `mapstructure:"status_page"`
	// StatusPageToken is the bearer token the status page requires (or
	// ?token=); set it or StatusPageTokenFile. Required with StatusPage
	// unless listen is a loopback address.
	StatusPageToken string `mapstructure:"status_page_token"`
	// StatusPageTokenFile is a file holding that token (surrounding white
	// space is trimmed).
	StatusPageTokenFile string `mapstructure:"status_page_token_file"`
}

// Log is the `log:` section.
type Log struct {
	// Level: debug, info (default), warn, error.
	Level string `mapstructure:"level"`
	// Format: auto (default: console on a terminal, JSON otherwise), json, console.
	Format string `mapstructure:"format"`
}

// Problems reports every problem of the log section, each named by its key.
func (c Log) Problems() []string {
	var p []string
	if _, err := zapcore.ParseLevel(c.Level); err != nil {
		p = append(p, fmt.Sprintf("log.level: %q is not one of debug, info, warn, error", c.Level))
	}
	switch c.Format {
	case "auto", "json", "console":
	default:
		p = append(p, fmt.Sprintf("log.format: %q is not one of auto, json, console", c.Format))
	}
	return p
}

// Default returns every section's defaults: what the config file is decoded over.
func Default() Config {
	return Config{
		LDAP:     ldapsource.Default(),
		Target:   target.Default(),
		Sync:     dsync.Default(),
		State:    state.Default(),
		Groups:   dsync.DefaultGroups(),
		Schedule: "*/15 * * * *",
		Listen:   "127.0.0.1:9464",
		// Tolerates a few failed runs on a 15-minute schedule.
		ReadinessStaleness: time.Hour,
		Log:                Log{Level: "info", Format: "auto"},
	}
}

// Problems reports every problem of every section, each named by its key.
func (c Config) Problems() []string {
	var p []string
	p = append(p, problems(c.LDAP.Validate())...)
	if len(c.Targets) == 0 {
		p = append(p, problems(c.Target.Validate())...)
	}
	p = append(p, c.targetsProblems()...)
	p = append(p, problems(c.Sync.Validate())...)
	p = append(p, problems(c.State.Validate())...)
	p = append(p, problems(c.Transform.Validate())...)
	p = append(p, problems(c.Groups.Validate())...)
	if c.Groups.Push {
		p = append(p, problems(c.GroupSearch().Validate())...)
		for _, t := range c.TargetList() {
			if t.Target.Type == target.TypeREST && !t.Target.Rest.Groups.Configured() {
				key := "target.rest.groups"
				if len(c.Targets) > 0 {
					key = fmt.Sprintf("targets[%s].rest.groups", t.Name)
				}
				p = append(p, "groups.push: "+key+" must declare the platform's group endpoints (docs/rest-profiles.md, \"Group push\")")
			}
		}
	}
	p = append(p, c.Log.Problems()...)
	if _, err := cron.ParseStandard(c.Schedule); err != nil {
		p = append(p, fmt.Sprintf("schedule: %q is not a cron expression: %v", c.Schedule, err))
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		p = append(p, fmt.Sprintf("listen: %q is not host:port, e.g. 127.0.0.1:9464", c.Listen))
	}
	if c.ReadinessStaleness <= 0 {
		p = append(p, fmt.Sprintf("readiness_staleness: %v must be positive, e.g. 1h", c.ReadinessStaleness))
	}
	p = append(p, c.statusPageProblems()...)
	return p
}

// GroupSearch is the directory side of the `groups:` section.
func (c Config) GroupSearch() ldapsource.GroupSearch {
	return ldapsource.GroupSearch{
		BaseDN:        c.Groups.BaseDN,
		Filter:        c.Groups.Filter,
		NameAttribute: c.Groups.NameAttribute,
		Flatten:       c.Groups.Nested == dsync.NestedFlatten,
	}
}

// statusPageProblems reports the problems of the status page's keys.
func (c Config) statusPageProblems() []string {
	var p []string
	switch {
	case c.StatusPageToken != "" && c.StatusPageTokenFile != "":
		p = append(p, "status_page_token: set status_page_token or status_page_token_file, not both")
	case c.StatusPageTokenFile != "":
		if fi, err := os.Stat(c.StatusPageTokenFile); err != nil {
			p = append(p, fmt.Sprintf("status_page_token_file: %v", err))
		} else if fi.IsDir() {
			p = append(p, fmt.Sprintf("status_page_token_file: %s is a directory", c.StatusPageTokenFile))
		}
	case c.StatusPage && c.StatusPageToken == "":
		// The page shows names and emails: off the host, only with a token.
		if host, _, err := net.SplitHostPort(c.Listen); err == nil && !loopbackHost(host) {
			p = append(p, fmt.Sprintf("status_page_token: must be set (or status_page_token_file) when listen (%s) is not a loopback address: "+
				"the status page shows names and emails", c.Listen))
		}
	}
	return p
}

// loopbackHost reports whether host, of a listen address, is a loopback
// address or the name localhost.
func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// StatusPageSecret returns the status page's token: StatusPageToken, or the
// trimmed content of StatusPageTokenFile; "" when neither is set.
func (c Config) StatusPageSecret() (string, error) {
	if c.StatusPageTokenFile == "" {
		return c.StatusPageToken, nil
	}
	b, err := os.ReadFile(c.StatusPageTokenFile)
	if err != nil {
		return "", fmt.Errorf("status_page_token_file: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("status_page_token_file: %s is empty", c.StatusPageTokenFile)
	}
	return tok, nil
}

// Redacted returns a copy of c safe to print or log: every section's
// secrets and the status page's token are replaced. Paths of files are kept.
func (c Config) Redacted() Config {
	c.LDAP = c.LDAP.Redacted()
	c.Target = c.Target.Redacted()
	c.Targets = slices.Clone(c.Targets)
	for i := range c.Targets {
		c.Targets[i].Config = c.Targets[i].Config.Redacted()
	}
	if c.StatusPageToken != "" {
		c.StatusPageToken = "REDACTED"
	}
	return c
}

// String prints the redacted config, so that a Config printed by mistake
// leaks no secret.
func (c Config) String() string {
	type plain Config // no String method: no recursion
	return fmt.Sprintf("%+v", plain(c.Redacted()))
}

// GoString is String: %#v must not leak a secret either.
func (c Config) GoString() string { return "config.Config" + c.String() }

// Env looks up an environment variable, as os.LookupEnv does.
type Env func(name string) (string, bool)

// MapEnv is an environment holding only m's variables.
func MapEnv(m map[string]string) Env {
	return func(name string) (string, bool) {
		v, ok := m[name]
		return v, ok
	}
}

// Load reads file over Default, applies env (nil: the process's environment:
// DIRSYNC_* overrides and ${VAR} references), then each of adjust in turn
// (e.g. command-line flags), and validates the result. A config with problems
// is an *Error listing every one of them; an unreadable file is another error.
func Load(file string, env Env, adjust ...func(*Config)) (Config, error) {
	cfg := Default()
	cerr := &Error{File: file}
	if err := Decode(file, env, &cfg); err != nil {
		if !errors.As(err, &cerr) {
			return cfg, err // unreadable: nothing to validate
		}
	}
	for _, a := range adjust {
		a(&cfg)
	}
	cfg.LDAP.Transform = cfg.Transform
	// Report decoding and validation problems together, each once.
	seen := map[string]bool{}
	for _, p := range cerr.Problems {
		seen[p] = true
	}
	for _, p := range cfg.Problems() {
		if !seen[p] {
			cerr.Problems = append(cerr.Problems, p)
		}
	}
	if len(cerr.Problems) > 0 {
		return cfg, cerr
	}
	return cfg, nil
}

func orProcessEnv(env Env) Env {
	if env == nil {
		return os.LookupEnv
	}
	return env
}
