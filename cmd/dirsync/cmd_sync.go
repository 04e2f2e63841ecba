package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	gosync "sync"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/dirsync/dirsync/internal/app"
	"github.com/dirsync/dirsync/internal/config"
	"github.com/dirsync/dirsync/internal/render"
	dsync "github.com/dirsync/dirsync/sync"
)

type syncFlags struct {
	dryRun     bool
	output     string
	allowMass  bool
	allowEmpty bool
	retryQuar  bool
	full       bool
	out        string // plan --out: save the plan for `dirsync apply`
	user       string // --user: reconcile this one user only
}

// newSyncCmd builds `sync`, or its dry-run alias `plan`.
func newSyncCmd(g *globalFlags, plan bool) *cobra.Command {
	f := &syncFlags{}
	cmd := &cobra.Command{
		Use:   "sync",
		Short: "Run one reconciliation: directory → platform",
		Long: `Read every user in scope from the directory, diff them against the snapshot,
push the changes to the platform, record each one as it lands, and exit.

Exit codes: 0 success; 1 failure (some changes failed, or the run could not
complete); 3 refused by the safety limits (nothing changed).`,
		Example: `  # what would change? (changes nothing)
  dirsync sync --config /etc/dirsync/dirsync.yaml --dry-run

  # apply it
  dirsync sync --config /etc/dirsync/dirsync.yaml

  # a reviewed plan archives more than sync.max_archive users: allow it once
  dirsync sync --allow-mass-archive`,
		Args: cobra.NoArgs,
	}
	if plan {
		cmd.Use = "plan"
		cmd.Short = "Show what a sync would change, and change nothing (sync --dry-run)"
		cmd.Long = `Compute the plan — creates (+), updates (~, with each changed field old → new),
reactivations (↺) and archives (-) — and print it. Nothing is written: not to
the platform, not to the snapshot.

Exit codes: 0 no changes pending; 2 changes pending; 1 failure; 3 the plan
would be refused by the safety limits.`
		cmd.Example = `  dirsync plan --config /etc/dirsync/dirsync.yaml
  dirsync plan --output json | jq '.plan.changes[] | select(.op == "archive")'`
		f.dryRun = true
		cmd.Flags().StringVar(&f.out, "out", "", "save the plan to this file, to apply exactly it later with `dirsync apply FILE`")
	} else {
		cmd.Flags().BoolVar(&f.dryRun, "dry-run", false, "print the plan and change nothing (same as `dirsync plan`)")
	}
	cmd.Flags().StringVarP(&f.output, "output", "o", "text", "output format: text or json")
	targetFlag(cmd, g)
	cmd.Flags().StringVar(&f.user, "user", "", "reconcile this one user only (username, email or directory ID), printing each platform request")
	cmd.Flags().BoolVar(&f.allowMass, "allow-mass-archive", false, "allow this run to archive more users than sync.max_archive / max_archive_percent")
	cmd.Flags().BoolVar(&f.allowEmpty, "allow-empty-directory", false, "allow an empty directory read to archive every managed user")
	cmd.Flags().BoolVar(&f.full, "full", false, "list the platform's accounts: put back managed accounts changed by hand, report unmanaged ones (also every sync.full_reconcile_every)")
	cmd.Flags().BoolVar(&f.retryQuar, "retry-quarantined", false, "try again the users quarantined after sync.quarantine_after failed attempts")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if f.output != "text" && f.output != "json" {
			return &exitError{code: exitFailure, err: fmt.Errorf("--output: %q is not text or json", f.output)}
		}
		return withConfig(g, func(cfg Config, log *zap.Logger) error {
			return runSync(cmd, cfg, log, f, g.targets)
		})
	}
	return cmd
}

func runSync(cmd *cobra.Command, cfg Config, log *zap.Logger, f *syncFlags, targets []string) error {
	ctx := cmd.Context()
	if cmd.Flags().Changed("user") && strings.TrimSpace(f.user) == "" {
		// An empty name would narrow nothing: the run would be over every user.
		return &exitError{code: exitFailure, err: errors.New("--user: empty name; give the username, email or directory ID of one user, or leave --user out to sync everyone")}
	}
	if f.user != "" && (f.full || f.out != "") {
		return &exitError{code: exitFailure, err: errors.New("--user: cannot be combined with --full or --out; they are about every user")}
	}
	var obs []app.Observer
	if f.user != "" && f.output == "text" {
		obs = append(obs, render.NewRequestPrinter(cmd.OutOrStdout()))
	}
	apps, err := app.WireTargets(ctx, cfg, log, app.WireOptions{ReadOnly: f.dryRun, Targets: targets,
		Observers: func(string) []app.Observer { return obs }})
	if err != nil {
		return err
	}
	defer func() {
		for _, a := range apps {
			a.Close()
		}
	}()
	if f.out != "" && len(apps) > 1 {
		return &exitError{code: exitFailure, err: fmt.Errorf("--out: the config has %d targets; a plan file holds one: name it with --target", len(apps))}
	}
	var rec *app.RecordingSource
	if f.out != "" {
		rec = &app.RecordingSource{Src: apps[0].Engine.Source}
		apps[0].Engine.Source = rec
	}
	var prog *render.Progress
	if len(apps) == 1 && f.output == "text" && render.IsTerminal(os.Stderr) {
		prog = render.NewTerminalProgress(os.Stderr)
		apps[0].Attach(prog)
	}
	var mu gosync.Mutex
	fulls := map[*app.App]bool{}
	res := app.RunEach(apps, func(a *app.App) (dsync.Report, error) {
		rep, full, err := syncTarget(ctx, a, f, log)
		mu.Lock()
		fulls[a] = full
		mu.Unlock()
		return rep, err
	})
	if prog != nil {
		prog.Finish()
	}
	if rec != nil {
		r := res[0]
		if serr := app.SavePlan(ctx, f.out, r.App, rec, r.Report, app.SavePlanOptions{Version: buildVersion(), Full: fulls[r.App], RetryQuarantined: f.retryQuar}, r.Err); serr != nil {
			return &exitError{code: exitFailure, err: serr}
		}
	}

	out := cmd.OutOrStdout()
	if len(res) == 1 {
		return writeSyncResult(cmd, out, f, res[0].Report, res[0].Err)
	}
	if f.output == "json" {
		docs := make([]any, len(res))
		for i, r := range res {
			docs[i] = render.TargetResult(r.App.Name, r.Report, r.Err)
		}
		if err := render.WriteJSON(out, map[string]any{"targets": docs}); err != nil {
			return err
		}
	}
	code := exitOK
	for i, r := range res {
		if f.output == "text" {
			if i > 0 {
				fmt.Fprintln(out)
			}
			fmt.Fprintf(out, "━━ target %s ━━\n", r.App.Name)
		}
		var err error
		if f.output == "text" {
			err = writeSyncResult(cmd, out, f, r.Report, r.Err)
		} else {
			err = targetExit(f, r.Report, r.Err)
		}
		c := codeOf(err)
		if err != nil && err.Error() != "" {
			fmt.Fprintf(cmd.ErrOrStderr(), "dirsync: target %s: %v\n", r.App.Name, err)
		}
		code = worseExit(code, c)
	}
	if code == exitOK {
		return nil
	}
	return &exitError{code: code} // each target's error said already
}

// syncTarget runs one target's sync (or plan) as the flags ask, and
// reports whether it was a full reconcile.
func syncTarget(ctx context.Context, a *app.App, f *syncFlags, log *zap.Logger) (dsync.Report, bool, error) {
	if a.Name != config.DefaultTarget {
		log = log.With(zap.String("target", a.Name))
	}
	full := f.user == "" && app.FullDue(ctx, a, a.Target.Sync.FullReconcileEvery, f.full, f.dryRun, log)
	mode := "sync"
	switch {
	case f.dryRun:
		mode = "plan"
	case full:
		mode = "full"
	}
	rep, err := a.Engine.Run(ctx, dsync.RunOptions{Mode: mode, DryRun: f.dryRun, AllowMassArchive: f.allowMass, AllowEmptyDirectory: f.allowEmpty,
		RetryQuarantined: f.retryQuar, Full: full, FullBestEffort: full && !f.full, Only: f.user})
	if err != nil && ctx.Err() != nil {
		err = fmt.Errorf("interrupted by a signal: %d changes were applied and recorded; the rest are planned again on the next run (%w)",
			render.AppliedCount(rep), err)
	}
	if rep.FullSkipped != "" {
		log.Warn("scheduled full reconcile skipped: the platform could not be listed; the next run tries again",
			zap.String("reason", rep.FullSkipped))
	}
	if full && !f.dryRun && err == nil && rep.FullSkipped == "" {
		app.MarkFull(ctx, a, log)
	}
	log.Info("run finished", app.SummaryFields(rep, mode, err)...)
	return rep, full, err
}

// writeSyncResult prints one target's run as the flags ask and returns the
// command's exit for it.
func writeSyncResult(cmd *cobra.Command, out io.Writer, f *syncFlags, rep dsync.Report, err error) error {
	if f.output == "json" {
		if jerr := render.WriteJSON(out, render.JSONResult(rep, err)); jerr != nil {
			return jerr
		}
	} else {
		var refusal *dsync.SafetyError
		var groupRefusal *dsync.GroupSafetyError
		if errors.As(err, &groupRefusal) {
			fmt.Fprintln(cmd.ErrOrStderr(), "dirsync:", err)
			render.WritePlan(out, rep.Plan)
			dsync.WriteGroupReport(out, rep.Groups)
			return &exitError{code: exitRefused} // said already
		}
		if errors.As(err, &refusal) {
			// The refusal first, then the plan it refused, summed up: the
			// operator must not have to scroll back for what to do.
			fmt.Fprintln(cmd.ErrOrStderr(), "dirsync:", err)
			render.WriteRefusedPlan(out, rep.Plan)
			return &exitError{code: exitRefused} // said already
		}
		if rep.Plan.InScope > 0 || len(rep.Plan.Changes) > 0 || len(rep.Plan.Skipped) > 0 {
			render.WritePlan(out, rep.Plan)
		}
		if !f.dryRun && err == nil {
			fmt.Fprintln(out)
			render.WriteReport(out, rep)
		}
		dsync.WriteGroupReport(out, rep.Groups)
	}
	if err != nil && f.output == "json" {
		// Already in the JSON; still say it on stderr for humans and logs.
		fmt.Fprintln(os.Stderr, "dirsync:", err)
		return &exitError{code: codeOf(runOutcomeErr(rep, err))}
	}
	return targetExit(f, rep, err)
}

// targetExit is the exit of one target's run.
func targetExit(f *syncFlags, rep dsync.Report, err error) error {
	if f.dryRun && err == nil && len(rep.Plan.Changes)+groupChanges(rep) > 0 {
		return &exitError{code: exitPending}
	}
	return runOutcomeErr(rep, err)
}
