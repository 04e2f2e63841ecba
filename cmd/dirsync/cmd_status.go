package main

import (
	"github.com/spf13/cobra"

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
			ctx := cmd.Context()
			db, err := stores.OpenReadOnly(ctx, cfg.State)
			if err != nil {
				return err
			}
			defer db.Close()
			runs, err := db.Runs(ctx, limit)
			if err != nil {
				return err
			}
			failing, err := db.Failing(ctx)
			if err != nil {
				return err
			}
			stats, err := db.Stats(ctx)
			if err != nil {
				return err
			}
			refused, err := svc.ReadWatchRefusals(ctx, db)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if output == "json" {
				return render.WriteJSON(out, map[string]any{"runs": runs, "failing": failing, "users": stats.Users,
					"quarantine_after": cfg.Sync.QuarantineAfter, "watch_refused": refused})
			}
			return render.WriteStatus(out, render.Status{Path: stores.Where(cfg.State), Runs: runs, Failing: failing, Users: stats.Users,
				QuarantineAfter: cfg.Sync.QuarantineAfter, WatchRefused: refused})
		},
	}
	cmd.Flags().IntVar(&limit, "runs", 10, "how many recent runs to show")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}
