package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/dirsync/dirsync/state"
	dsync "github.com/dirsync/dirsync/sync"
	"github.com/dirsync/dirsync/user"
)

// reasonUndo is the journal reason of a reactivation by undo.
const reasonUndo = "undo of run %d"

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
	rec        *user.Record
}

func runUndo(cmd *cobra.Command, cfg Config, log *zap.Logger, run int64, dryRun bool, output string) error {
	ctx := cmd.Context()
	var (
		db  *state.DB
		err error
	)
	if dryRun {
		db, err = state.OpenReadOnly(ctx, cfg.State.Path)
	} else {
		db, err = state.Open(ctx, cfg.State.Path)
	}
	if err != nil {
		return err
	}
	defer db.Close()
	items, err := undoPlan(ctx, db, run)
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
	undoRun, err := db.BeginRun(ctx, "undo")
	if err != nil {
		return err
	}
	failed := 0
	for i := range items {
		it := &items[i]
		entry := user.Entry{At: time.Now().UTC(), Op: user.OpReactivate, UserID: it.UserID, Username: it.Username,
			PlatformID: it.PlatformID, Reason: fmt.Sprintf(reasonUndo, run)}
		rec, rerr := reactivate(ctx, plat, it)
		if rerr != nil {
			failed++
			it.Error = rerr.Error()
			entry.Error = it.Error
			rec = nil
		}
		if serr := db.Save(context.WithoutCancel(ctx), undoRun, entry, rec); serr != nil {
			_ = db.FinishRun(context.WithoutCancel(ctx), undoRun, dsync.OutcomeFailed, nil, serr.Error())
			return &exitError{code: exitFailure, err: serr}
		}
	}
	outcome := dsync.OutcomeSuccess
	if failed > 0 {
		outcome = dsync.OutcomePartial
	}
	counts := map[string]int{string(user.OpReactivate): len(items) - failed, "failed": failed}
	if err := db.FinishRun(context.WithoutCancel(ctx), undoRun, outcome, counts, ""); err != nil {
		return &exitError{code: exitFailure, err: err}
	}
	if output == "json" {
		if err := writeJSON(out, map[string]any{"run": run, "undo_run": undoRun, "reactivated": items}); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(out, "Undo of run %d (run %d): %d reactivated, %d failed\n", run, undoRun, len(items)-failed, failed)
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

// undoPlan lists the accounts run archived that are still archived.
func undoPlan(ctx context.Context, db *state.DB, run int64) ([]undoItem, error) {
	entries, err := db.Journal(ctx, run)
	if err != nil {
		return nil, err
	}
	if len(entries) == 0 {
		return nil, fmt.Errorf("run %d archived nobody, or does not exist (see `dirsync status --runs 50`)", run)
	}
	records, err := db.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]*user.Record, len(records))
	for i := range records {
		byID[records[i].User.ID] = &records[i]
	}
	var items []undoItem
	seen := map[string]bool{}
	for _, e := range entries {
		if e.Op != user.OpArchive || e.Error != "" || e.PlatformID == "" || seen[e.PlatformID] {
			continue
		}
		seen[e.PlatformID] = true
		rec := byID[e.UserID]
		if rec != nil && (rec.Status != user.StatusArchived || rec.PlatformID != e.PlatformID) {
			continue // reactivated or changed since: nothing to undo
		}
		items = append(items, undoItem{UserID: e.UserID, Username: e.Username, PlatformID: e.PlatformID, Reason: e.Reason, rec: rec})
	}
	return items, nil
}

// reactivate activates it's account and pushes back the data last pushed
// (groups included); it returns the record to save.
func reactivate(ctx context.Context, plat platform, it *undoItem) (*user.Record, error) {
	if err := plat.SetActive(ctx, it.PlatformID, true); err != nil {
		return nil, fmt.Errorf("reactivate %s: %w", it.Username, err)
	}
	if it.rec == nil {
		return nil, nil // an unmanaged account: no record
	}
	if err := plat.Update(ctx, it.PlatformID, it.rec.User); err != nil {
		return nil, fmt.Errorf("reactivate %s: restore its data and groups: %w", it.Username, err)
	}
	rec := *it.rec
	rec.Status, rec.ArchivedAt, rec.Attempts, rec.LastError = user.StatusActive, time.Time{}, 0, ""
	rec.LastSeen = time.Now().UTC()
	rec.User.Active = true
	rec.Hash = rec.User.Hash()
	return &rec, nil
}
