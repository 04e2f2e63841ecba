package main

import (
	"fmt"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/dirsync/dirsync/internal/app"
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
			ctx := cmd.Context()
			plat, err := app.NewPlatform(cfg.Target, zap.NewNop())
			if err != nil {
				return err
			}
			db, err := stores.OpenReadOnly(ctx, cfg.State)
			if err != nil {
				return err
			}
			defer db.Close()
			recs, err := db.Snapshot(ctx)
			if err != nil {
				return err
			}
			rows, err := render.BuildReport(ctx, plat, recs)
			if err != nil {
				return err
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
	return cmd
}
