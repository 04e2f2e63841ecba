package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/dirsync/dirsync/internal/config"
	"github.com/dirsync/dirsync/internal/render"
	svc "github.com/dirsync/dirsync/internal/service"
	"github.com/dirsync/dirsync/state/stores"
)

func newStatusCmd(g *globalFlags) *cobra.Command {
	var limit int
	var output string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the last runs and the changes that failed and will be retried",
		Long: `status reads the snapshot (without writing or locking it, so it works while a
sync is running) and prints the last runs — when, mode, counts, outcome — and
every user whose last change failed, with the error and the attempt count.`,
		Example: `  dirsync status --config /etc/dirsync/dirsync.yaml
  dirsync status --runs 50 --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := readConfig(g)
			if err != nil {
				return err
			}
			targets, err := cfg.SelectTargets(g.targets...)
			if err != nil {
				return &exitError{code: exitFailure, err: err}
			}
			out := cmd.OutOrStdout()
			var docs []any
			for i, t := range targets {
				st, err := readStatus(cmd.Context(), t, limit)
				if err != nil {
					return err
				}
				doc := map[string]any{"runs": st.Runs, "failing": st.Failing, "users": st.Users,
					"quarantine_after": st.QuarantineAfter, "watch_refused": st.WatchRefused, "groups": st.Groups}
				switch {
				case output == "json" && len(targets) == 1:
					return render.WriteJSON(out, doc)
				case output == "json":
					doc["target"] = t.Name
					docs = append(docs, doc)
					continue
				case len(targets) > 1:
					if i > 0 {
						fmt.Fprintln(out)
					}
					fmt.Fprintf(out, "━━ target %s ━━\n", t.Name)
				}
				if err := render.WriteStatus(out, st); err != nil {
					return err
				}
			}
			if output == "json" {
				return render.WriteJSON(out, map[string]any{"targets": docs})
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&limit, "runs", 10, "how many recent runs to show")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	targetFlag(cmd, g)
	return cmd
}

// readStatus reads what `dirsync status` shows of target t from its
// snapshot, without writing or locking it.
func readStatus(ctx context.Context, t config.Target, limit int) (render.Status, error) {
	st := render.Status{Path: stores.Where(t.State), QuarantineAfter: t.Sync.QuarantineAfter}
	db, err := stores.OpenReadOnly(ctx, t.State)
	if err != nil {
		return st, err
	}
	defer db.Close()
	if st.Runs, err = db.Runs(ctx, limit); err != nil {
		return st, err
	}
	if st.Failing, err = db.Failing(ctx); err != nil {
		return st, err
	}
	stats, err := db.Stats(ctx)
	if err != nil {
		return st, err
	}
	st.Users = stats.Users
	if st.Groups, err = db.GroupStats(ctx); err != nil {
		return st, err
	}
	st.WatchRefused, err = svc.ReadWatchRefusals(ctx, db)
	return st, err
}
