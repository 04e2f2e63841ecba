package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/dirsync/dirsync/internal/app"
	"github.com/dirsync/dirsync/internal/config"
	"github.com/dirsync/dirsync/internal/render"
	"github.com/dirsync/dirsync/state/stores"
)

func newReportCmd(g *globalFlags) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "report",
		Short: "List every platform account with its directory status (managed, archived, unmanaged)",
		Long: `report lists every account on the platform joined with the snapshot of the last
sync: managed (linked to a directory user), archived (linked to a user dirsync
archived), unmanaged (on the platform but linked to no directory user: the
accounts an auditor asks about), and missing (linked in the snapshot but gone from
the platform). It reads the platform and the snapshot, and writes nothing.`,
		Example: `  dirsync report --format csv > accounts.csv
  dirsync report --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "csv" && format != "json" {
				return &exitError{code: exitFailure, err: fmt.Errorf("--format: %q is not csv or json", format)}
			}
			cfg, err := readConfig(g)
			if err != nil {
				return err
			}
			targets, err := cfg.SelectTargets(g.targets...)
			if err != nil {
				return &exitError{code: exitFailure, err: err}
			}
			var rows []render.ReportRow
			for _, t := range targets {
				more, err := targetReport(cmd.Context(), t)
				if err != nil {
					if len(targets) > 1 {
						err = fmt.Errorf("target %s: %w", t.Name, err)
					}
					return err
				}
				if len(targets) > 1 || t.Name != config.DefaultTarget {
					for i := range more {
						more[i].Target = t.Name
					}
				}
				rows = append(rows, more...)
			}
			if format == "json" {
				if rows == nil {
					rows = []render.ReportRow{}
				}
				return render.WriteJSON(cmd.OutOrStdout(), rows)
			}
			return render.WriteReportCSV(cmd.OutOrStdout(), rows)
		},
	}
	cmd.Flags().StringVar(&format, "format", "csv", "output format: csv or json")
	targetFlag(cmd, g)
	return cmd
}

// targetReport joins target t's platform accounts with its snapshot.
func targetReport(ctx context.Context, t config.Target) ([]render.ReportRow, error) {
	plat, err := app.NewPlatform(t.Target, zap.NewNop())
	if err != nil {
		return nil, err
	}
	db, err := stores.OpenReadOnly(ctx, t.State)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	recs, err := db.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	return render.BuildReport(ctx, plat, recs)
}
