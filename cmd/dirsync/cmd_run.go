package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/dirsync/dirsync/internal/app"
)

type runFlags struct {
	runAtStart bool
	grace      time.Duration
}

func newRunCmd(g *globalFlags) *cobra.Command {
	f := &runFlags{}
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run as a service: sync on the config's schedule, serve /metrics, /healthz, /readyz",
		Long: `Run reconciliations on the cron schedule of the config's schedule: key (and
once at start-up unless --run-at-start=false), until stopped. Never two runs at
once: a scheduled run that comes while the previous one is still going is
skipped, and logged (one that comes during a change-event run of ldap.watch
goes next). A failed run does not stop the service; the next one retries.

With ldap.watch set, the directory's changes are followed between the
scheduled runs and each changed user is synced within seconds (see the README,
"Near-real-time sync").

HTTP on the config's listen: address (default 127.0.0.1:9464):
  /metrics  Prometheus metrics (runs, changes, phase durations, platform requests)
  /healthz  200 while the process is alive
  /readyz   200 unless the last run failed and none has succeeded for
            readiness_staleness (default 1h), or the directory refuses the
            change stream of ldap.watch; 503 with the reason otherwise
  /         the status page, with status_page: true (its token required
            unless listen is a loopback address)

Signals:
  SIGHUP           reload the config; an invalid one is refused (logged, the
                   running config is kept). listen and log changes need a restart.
  SIGTERM, SIGINT  stop: the run in flight gets --grace to finish, then it is
                   cancelled (what landed is recorded; the rest is redone by the
                   next run). A second signal cancels it at once.

Exit codes: 0 stopped by SIGTERM/SIGINT; 1 could not start (config, listen
address) or a cancelled run did not stop within 10s.`,
		Example: `  dirsync run --config /etc/dirsync/dirsync.yaml
  curl -s 127.0.0.1:9464/metrics | grep ^dirsync_
  systemctl reload dirsync   # SIGHUP: reload the config`,
		Args: cobra.NoArgs,
	}
	cmd.Flags().BoolVar(&f.runAtStart, "run-at-start", true, "run once at start-up, before the first scheduled run")
	cmd.Flags().DurationVar(&f.grace, "grace", 30*time.Second, "on SIGTERM/SIGINT, how long the run in flight may take to finish before it is cancelled")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if f.grace < 0 {
			return &exitError{code: exitFailure, err: fmt.Errorf("--grace: %v is negative", f.grace)}
		}
		return withConfig(g, func(cfg Config, log *zap.Logger) error {
			d := app.NewDaemon(cfg, log, app.DaemonOptions{ConfigFile: g.configFile, Reload: func() (Config, error) { return readConfig(g) },
				RunAtStart: f.runAtStart, Grace: f.grace, Version: buildVersion()})
			if err := d.Serve(cmd.Context()); err != nil {
				return &exitError{code: exitFailure, err: err}
			}
			return nil
		})
	}
	return cmd
}
