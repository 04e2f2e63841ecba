package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/dirsync/dirsync/internal/app"
	"github.com/dirsync/dirsync/internal/config"
	"github.com/dirsync/dirsync/internal/render"
	"github.com/dirsync/dirsync/state"
	"github.com/dirsync/dirsync/state/stores"
	dsync "github.com/dirsync/dirsync/sync"
)

// undoWarning is what an undo cannot do: the next sync still follows the
// directory.
const undoWarning = "Users still missing or disabled in the directory are archived again by the next sync: fix the directory or the config first."

func newUndoCmd(g *globalFlags) *cobra.Command {
	var (
		run    int64
		dryRun bool
		output string
	)
	cmd := &cobra.Command{
		Use:   "undo --run N",
		Short: "Reactivate everyone run N archived, using the journal",
		Long: `undo reads run N's journal and reactivates every account that run archived,
putting back the data (and mapped groups) last pushed for it. Each
reactivation is journalled in a new run of mode "undo".

Fix the cause first (a wrong base DN or filter): users still missing or
disabled in the directory are archived again by the next sync (within the
safety limits).

Exit codes: 0 done (--dry-run: nothing to undo); 2 --dry-run with accounts to
reactivate; 1 some reactivations failed, or the run could not be read.`,
		Example: `  dirsync undo --run 42 --dry-run   # who would be reactivated
  dirsync undo --run 42`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if run <= 0 {
				return &exitError{code: exitFailure, err: errors.New("--run: give the run to undo (see `dirsync status`)")}
			}
			return withConfig(g, func(cfg Config, log *zap.Logger) error {
				t, err := oneTarget(cfg, g)
				if err != nil {
					return &exitError{code: exitFailure, err: err}
				}
				return runUndo(cmd, t, log, run, dryRun, output)
			})
		},
	}
	cmd.Flags().Int64Var(&run, "run", 0, "the run whose archives to undo")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "show who would be reactivated, and change nothing")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	targetFlag(cmd, g)
	return cmd
}

func runUndo(cmd *cobra.Command, t config.Target, log *zap.Logger, run int64, dryRun bool, output string) error {
	ctx := cmd.Context()
	var (
		db  state.Store
		err error
	)
	if dryRun {
		db, err = stores.OpenReadOnly(ctx, t.State)
	} else {
		db, err = stores.Open(ctx, t.State)
	}
	if err != nil {
		return err
	}
	defer db.Close()
	plan, items, err := app.UndoPlan(ctx, db, run)
	if err != nil {
		return &exitError{code: exitFailure, err: err}
	}
	groups, err := app.UndoGroupPlan(ctx, db, run)
	if err != nil {
		return &exitError{code: exitFailure, err: err}
	}
	out := cmd.OutOrStdout()
	if dryRun || len(items)+len(groups.Changes) == 0 {
		if output == "json" {
			return render.WriteJSON(out, map[string]any{"run": run, "dry_run": dryRun, "reactivate": items, "groups": groups.Changes})
		}
		writeUndoGroups(out, groups)
		fmt.Fprintf(out, "Undo of run %d: %d to reactivate\n", run, len(items))
		for _, it := range items {
			fmt.Fprintf(out, "  ↺ reactivate %s (%s)", it.Username, it.PlatformID)
			if it.Reason != "" {
				fmt.Fprintf(out, "; archived: %s", it.Reason)
			}
			fmt.Fprintln(out)
		}
		if dryRun && len(items)+len(groups.Changes) > 0 {
			fmt.Fprintln(out, undoWarning)
			return &exitError{code: exitPending}
		}
		return nil
	}

	rep, err := app.ApplyUndoWithGroups(ctx, t, log, db, plan, groups)
	if err != nil {
		return &exitError{code: exitFailure, err: fmt.Errorf("undo of run %d (run %d): %w", run, rep.RunID, err)}
	}
	failedBy := map[string]string{}
	for _, f := range rep.Failed {
		failedBy[f.Change.PlatformID] = f.Error
	}
	for i := range items {
		items[i].Error = failedBy[items[i].PlatformID]
	}
	failed := len(rep.Failed)
	if output == "json" {
		if err := render.WriteJSON(out, map[string]any{"run": run, "undo_run": rep.RunID, "reactivated": items, "groups": rep.Groups}); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(out, "Undo of run %d (run %d): %d reactivated, %d failed\n", run, rep.RunID, len(items)-failed, failed)
		for _, it := range items {
			if it.Error != "" {
				fmt.Fprintf(out, "  ! %s: %s\n", it.Username, it.Error)
			}
		}
		dsync.WriteGroupReport(out, rep.Groups)
		fmt.Fprintln(out, undoWarning)
	}
	if rep.Groups != nil && len(rep.Groups.Failed) > 0 {
		return &exitError{code: exitFailure, err: fmt.Errorf("%d group changes of the undo failed; run `dirsync undo --run %d` again", len(rep.Groups.Failed), run)}
	}
	if failed > 0 {
		return &exitError{code: exitFailure, err: fmt.Errorf("%d of %d reactivations failed; run `dirsync undo --run %d` again", failed, len(items), run)}
	}
	return nil
}
