package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/dirsync/dirsync/state"
	dsync "github.com/dirsync/dirsync/sync"
	"github.com/dirsync/dirsync/user"
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
				return runUndo(cmd, cfg, log, run, dryRun, output)
			})
		},
	}
	cmd.Flags().Int64Var(&run, "run", 0, "the run whose archives to undo")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "show who would be reactivated, and change nothing")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}

// undoItem is one account to reactivate.
type undoItem struct {
	UserID     string `json:"user_id"`
	Username   string `json:"username"`
	PlatformID string `json:"platform_id"`
	Reason     string `json:"reason,omitempty"` // why the run archived it
	Error      string `json:"error,omitempty"`
}

func runUndo(cmd *cobra.Command, cfg Config, log *zap.Logger, run int64, dryRun bool, output string) error {
	ctx := cmd.Context()
	db, err := openStore(ctx, cfg.State, dryRun)
	if err != nil {
		return err
	}
	defer db.Close()
	plan, items, err := undoPlan(ctx, db, run)
	if err != nil {
		return &exitError{code: exitFailure, err: err}
	}
	out := cmd.OutOrStdout()
	if dryRun || len(items) == 0 {
		if output == "json" {
			return writeJSON(out, map[string]any{"run": run, "dry_run": dryRun, "reactivate": items})
		}
		fmt.Fprintf(out, "Undo of run %d: %d to reactivate\n", run, len(items))
		for _, it := range items {
			fmt.Fprintf(out, "  ↺ reactivate %s (%s)", it.Username, it.PlatformID)
			if it.Reason != "" {
				fmt.Fprintf(out, "; archived: %s", it.Reason)
			}
			fmt.Fprintln(out)
		}
		if dryRun && len(items) > 0 {
			fmt.Fprintln(out, undoWarning)
			return &exitError{code: exitPending}
		}
		return nil
	}

	plat, err := newPlatform(cfg.Target, log)
	if err != nil {
		return err
	}
	// The reactivations are applied, and the snapshot changed, as a run
	// applies and records any.
	opts := cfg.Sync.Options()
	opts.Concurrency = cfg.Target.Concurrency
	eng := &dsync.Engine{Target: plat, Store: db, Options: opts}
	rep, err := eng.ApplyPlan(ctx, "undo", plan)
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
		if err := writeJSON(out, map[string]any{"run": run, "undo_run": rep.RunID, "reactivated": items}); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(out, "Undo of run %d (run %d): %d reactivated, %d failed\n", run, rep.RunID, len(items)-failed, failed)
		for _, it := range items {
			if it.Error != "" {
				fmt.Fprintf(out, "  ! %s: %s\n", it.Username, it.Error)
			}
		}
		fmt.Fprintln(out, undoWarning)
	}
	if failed > 0 {
		return &exitError{code: exitFailure, err: fmt.Errorf("%d of %d reactivations failed; run `dirsync undo --run %d` again", failed, len(items), run)}
	}
	return nil
}

// undoPlan returns the reactivations that undo run's archives (see
// dsync.UndoArchives), and the accounts they reactivate with why the run
// archived each.
func undoPlan(ctx context.Context, db state.Store, run int64) (dsync.Plan, []undoItem, error) {
	entries, err := db.Journal(ctx, run)
	if err != nil {
		return dsync.Plan{}, nil, err
	}
	if len(entries) == 0 {
		return dsync.Plan{}, nil, fmt.Errorf("run %d archived nobody, or does not exist (see `dirsync status --runs 50`)", run)
	}
	records, err := db.Snapshot(ctx)
	if err != nil {
		return dsync.Plan{}, nil, err
	}
	plan := dsync.UndoArchives(run, entries, records)
	why := map[string]user.Entry{}
	for _, e := range entries {
		if _, ok := why[e.PlatformID]; !ok && e.Op == user.OpArchive && e.Error == "" {
			why[e.PlatformID] = e
		}
	}
	items := make([]undoItem, 0, len(plan.Changes))
	for _, c := range plan.Changes {
		e := why[c.PlatformID]
		items = append(items, undoItem{UserID: e.UserID, Username: e.Username, PlatformID: c.PlatformID, Reason: e.Reason})
	}
	return plan, items, nil
}
