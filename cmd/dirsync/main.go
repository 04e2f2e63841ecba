// Samba AD DCs make themselves a certificate with a negative serial number,
// which Go refuses since 1.23 unless asked (RFC 5280 wants it positive; it is
// no weakness of the key or the chain). Accept it, as before.
//
//go:debug x509negativeserial=1

// Command dirsync keeps a SaaS platform's users in step with an LDAP or Active
// Directory directory.
//
// This package is the command line only: each command in its cmd_*.go file
// (sync and plan, check, status, report, demo, version, run, apply, undo)
// with its flags, help and exit codes (exit.go); config.go and
// withconfig.go take the config from internal/config. What a command does
// is in internal/app (the wiring, the service of `dirsync run`, check, apply,
// undo, the demo), what it prints in internal/render, and every sync rule in
// package sync.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/dirsync/dirsync/internal/gctune"

	"github.com/spf13/cobra"

	"github.com/dirsync/dirsync/internal/config"
	dsync "github.com/dirsync/dirsync/sync"
)

// Exit codes, documented in the README.
const (
	exitOK      = 0
	exitFailure = 1
	exitPending = 2 // `plan`: changes are pending (like terraform plan -detailed-exitcode)
	exitRefused = 3 // the safety policy refused the run
)

// exitError carries an exit code with the error to print.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return ""
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

// gcPercent is the garbage collector's target unless GOGC is set. A run's
// live heap is small (one summary per snapshot record, the users that
// changed) while a directory read allocates many short-lived values; with
// Go's default of 100 the heap grows to twice the live data between
// collections. 50 keeps peak memory about a sixth lower at 100,000 users for
// a few more short collections (bench/RESULTS.md).
const gcPercent = 50

// gcHeadroom bounds the heap's growth between collections once the live
// data is large (see gctune): a million users' summaries and duplicate
// state are 200 MB, but a directory read discards only a few pages between
// two collections.
const gcHeadroom = 32 << 20

func main() {
	if os.Getenv("GOGC") == "" {
		gctune.Start(gcPercent, gcHeadroom, 10)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd().ExecuteContext(ctx)
	stop()
	os.Exit(exitCode(err))
}

// exitCode prints err (if any) and returns the process exit code for it.
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	if msg := err.Error(); msg != "" {
		fmt.Fprintln(os.Stderr, "dirsync:", msg)
	}
	return codeOf(err)
}

// codeOf returns the exit code for err.
func codeOf(err error) int {
	var ee *exitError
	var se *dsync.SafetyError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &se):
		return exitRefused
	}
	return exitFailure
}

// globalFlags are the flags every command takes.
type globalFlags struct {
	configFile string
	logLevel   string
	logFormat  string
	targets    []string // --target, on the commands that take it
}

// targetFlag adds --target to cmd: the command is about the targets named
// (of the config's targets: list), every target without it.
func targetFlag(cmd *cobra.Command, g *globalFlags) {
	cmd.Flags().StringArrayVar(&g.targets, "target", nil, "only this target of the config's targets: list (repeatable; default: every target)")
}

// oneTarget returns the one target a command is about: the one --target
// names, or the config's only one.
func oneTarget(cfg Config, g *globalFlags) (config.Target, error) {
	ts, err := cfg.SelectTargets(g.targets...)
	if err != nil {
		return config.Target{}, err
	}
	if len(ts) != 1 {
		names := make([]string, len(ts))
		for i, t := range ts {
			names[i] = t.Name
		}
		return config.Target{}, fmt.Errorf("the config has %d targets (%s): name one with --target", len(ts), strings.Join(names, ", "))
	}
	return ts[0], nil
}

func newRootCmd() *cobra.Command {
	g := &globalFlags{}
	root := &cobra.Command{
		Use:   "dirsync",
		Short: "Keep a platform's users in step with LDAP / Active Directory",
		Long: `dirsync reads the users in scope from LDAP or Active Directory, compares them with
a local snapshot of what it last pushed, and pushes the difference to a platform's
User Management API (SCIM 2.0): creates, updates, reactivations, and archives for
anyone removed or disabled in the directory.

Start with 'dirsync demo' to see the whole loop on built-in data, then write a
config (see config.example.yaml), run 'dirsync check', review 'dirsync plan', and
apply it with 'dirsync sync'.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	def := os.Getenv("DIRSYNC_CONFIG")
	if def == "" {
		def = "/etc/dirsync/dirsync.yaml"
	}
	root.PersistentFlags().StringVarP(&g.configFile, "config", "c", def, "config file (env DIRSYNC_CONFIG)")
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "", "log level: debug, info, warn, error (overrides log.level)")
	root.PersistentFlags().StringVar(&g.logFormat, "log-format", "", "log format: auto, json, console (overrides log.format)")
	root.AddCommand(
		newSyncCmd(g, false),
		newSyncCmd(g, true),
		newCheckCmd(g),
		newStatusCmd(g),
		newReportCmd(g),
		newDemoCmd(g),
		newVersionCmd(),
		newRunCmd(g),
		newApplyCmd(g),
		newUndoCmd(g),
		newJournalCmd(g),
	)
	return root
}
