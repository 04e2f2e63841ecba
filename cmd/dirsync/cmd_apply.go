package main

import (
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/dirsync/dirsync/internal/app"
	"github.com/dirsync/dirsync/internal/render"
	dsync "github.com/dirsync/dirsync/sync"
)

type applyFlags struct {
	output     string
	allowEmpty bool
}

func newApplyCmd(g *globalFlags) *cobra.Command {
	f := &applyFlags{}
	cmd := &cobra.Command{
		Use:   "apply PLAN_FILE",
		Short: "Apply exactly a plan saved by `dirsync plan --out`",
		Long: `Apply the changes of a plan saved by 'dirsync plan --out FILE', and no others.

The directory is read again and the snapshot locked; if either differs from
what the plan was made from (their fingerprints are in the file), or the plan
they give now is not the saved one (the config changed), nothing is changed
and apply exits 3: make and review a new plan.

The plan is the operator's approval: a plan the safety limits refused (more
archives than sync.max_archive) is applied as reviewed. An empty directory
read still needs --allow-empty-directory.

Exit codes: 0 success; 1 failure (some changes failed, or the run could not
complete); 3 refused: the plan is stale, nothing changed.`,
		Example: `  dirsync plan --out plan.json     # review it: jq .plan.changes plan.json
  dirsync apply plan.json`,
		Args: cobra.ExactArgs(1),
	}
	cmd.Flags().StringVarP(&f.output, "output", "o", "text", "output format: text or json")
	cmd.Flags().BoolVar(&f.allowEmpty, "allow-empty-directory", false, "allow an empty directory read to archive every managed user")
	targetFlag(cmd, g)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if f.output != "text" && f.output != "json" {
			return &exitError{code: exitFailure, err: fmt.Errorf("--output: %q is not text or json", f.output)}
		}
		pf, err := app.ReadPlanFile(args[0])
		if err != nil {
			return &exitError{code: exitFailure, err: err}
		}
		return withConfig(g, func(cfg Config, log *zap.Logger) error {
			return runApply(cmd, cfg, g, log, f, args[0], pf)
		})
	}
	return cmd
}

func runApply(cmd *cobra.Command, cfg Config, g *globalFlags, log *zap.Logger, f *applyFlags, path string, pf app.PlanFile) error {
	ctx := cmd.Context()
	// The plan's target, or the one --target names (or the config's only one).
	names := g.targets
	if pf.Target != "" {
		if len(names) > 0 && !slices.Equal(names, []string{pf.Target}) {
			return &exitError{code: exitFailure, err: fmt.Errorf("--target: %s is a plan for target %s", path, pf.Target)}
		}
		names = []string{pf.Target}
	}
	if _, err := oneTarget(cfg, &globalFlags{targets: names}); err != nil {
		return &exitError{code: exitFailure, err: err}
	}
	apps, err := app.WireTargets(ctx, cfg, log, app.WireOptions{Targets: names}) // locks the snapshot until we are done
	if err != nil {
		return err
	}
	a := apps[0]
	defer a.Close()
	now, err := app.Replan(ctx, a, pf, path, f.allowEmpty)
	if errors.Is(err, app.ErrStalePlan) {
		return &exitError{code: exitRefused, err: err}
	}
	if err != nil {
		return runOutcomeErr(now, err)
	}

	var prog *render.Progress
	if f.output == "text" && render.IsTerminal(os.Stderr) {
		prog = render.NewTerminalProgress(os.Stderr)
		a.Attach(prog)
	}
	rep, err := a.Engine.ApplyPlans(ctx, "apply", now.Plan, pf.Groups)
	if prog != nil {
		prog.Finish()
	}
	if pf.Full && err == nil {
		app.MarkFull(ctx, a, log)
	}
	log.Info("run finished", app.SummaryFields(rep, "apply", err)...)
	out := cmd.OutOrStdout()
	if f.output == "json" {
		if jerr := render.WriteJSON(out, render.JSONResult(rep, err)); jerr != nil {
			return jerr
		}
	} else {
		render.WritePlan(out, rep.Plan)
		if err == nil {
			fmt.Fprintln(out)
			render.WriteReport(out, rep)
		}
		dsync.WriteGroupReport(out, rep.Groups)
	}
	return runOutcomeErr(rep, err)
}
