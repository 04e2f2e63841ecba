package main

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/dirsync/dirsync/ldapsource"
	"github.com/dirsync/dirsync/state"
	dsync "github.com/dirsync/dirsync/sync"
	"github.com/dirsync/dirsync/target"
)

// Config is the whole config file. Each section belongs to the package that
// uses it; this command only decodes and validates.
type Config struct {
	LDAP   ldapsource.Config `mapstructure:"ldap"`
	Target target.Config     `mapstructure:"target"`
	Sync   dsync.Config      `mapstructure:"sync"`
	State  state.Config      `mapstructure:"state"`
	// Schedule is the cron expression `dirsync run` syncs on (default every 15 minutes).
	Schedule string `mapstructure:"schedule"`
	// Listen is the address of /metrics, /healthz and /readyz (default 127.0.0.1:9464).
	Listen string `mapstructure:"listen"`
	// ReadinessStaleness: `dirsync run` reports not ready on /readyz when the
	// last run failed (or was refused) and none has succeeded for this long
	// (default 1h).
	ReadinessStaleness time.Duration `mapstructure:"readiness_staleness"`
	Log                LogConfig     `mapstructure:"log"`
}

// defaultConfig returns every section's defaults.
func defaultConfig() Config {
	return Config{
		LDAP:     ldapsource.Default(),
		Target:   target.Default(),
		Sync:     dsync.Default(),
		State:    state.Default(),
		Schedule: "*/15 * * * *",
		Listen:   "127.0.0.1:9464",
		// Tolerates a few failed runs on a 15-minute schedule.
		ReadinessStaleness: time.Hour,
		Log:                LogConfig{Level: "info", Format: "auto"},
	}
}

// validate reports every problem of every section, each named by its key.
func (c Config) validate() []string {
	var p []string
	p = append(p, problems(c.LDAP.Validate())...)
	p = append(p, problems(c.Target.Validate())...)
	p = append(p, problems(c.Sync.Validate())...)
	p = append(p, problems(c.State.Validate())...)
	p = append(p, c.Log.validate()...)
	if _, err := cron.ParseStandard(c.Schedule); err != nil {
		p = append(p, fmt.Sprintf("schedule: %q is not a cron expression: %v", c.Schedule, err))
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		p = append(p, fmt.Sprintf("listen: %q is not host:port, e.g. 127.0.0.1:9464", c.Listen))
	}
	if c.ReadinessStaleness <= 0 {
		p = append(p, fmt.Sprintf("readiness_staleness: %v must be positive, e.g. 1h", c.ReadinessStaleness))
	}
	return p
}

// readConfig loads, overrides and validates the config file named by the flags.
func readConfig(g *globalFlags) (Config, error) {
	cfg := defaultConfig()
	cerr := &ConfigError{File: g.configFile}
	if err := loadConfig(g.configFile, &cfg); err != nil {
		if !errors.As(err, &cerr) {
			return cfg, err // unreadable: nothing to validate
		}
	}
	if g.logLevel != "" {
		cfg.Log.Level = g.logLevel
	}
	if g.logFormat != "" {
		cfg.Log.Format = g.logFormat
	}
	// Report decoding and validation problems together, each once.
	seen := map[string]bool{}
	for _, p := range cerr.Problems {
		seen[p] = true
	}
	for _, p := range cfg.validate() {
		if !seen[p] {
			cerr.Problems = append(cerr.Problems, p)
		}
	}
	if len(cerr.Problems) > 0 {
		return cfg, cerr
	}
	return cfg, nil
}
