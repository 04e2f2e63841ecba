package main

import (
	"github.com/spf13/cobra"

	"github.com/dirsync/dirsync/internal/app"
)

func newDemoCmd(g *globalFlags) *cobra.Command {
	var stateDir string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole sync loop on a built-in directory and platform",
		Long: `demo needs nothing installed. It starts an LDAP directory holding a small
company (in this process, on 127.0.0.1) and a fake SCIM platform (likewise),
then runs dirsync's real reconciler against them three times, changing the
directory in between: a first sync (with one account adopted, one disabled user
left out and one broken entry skipped), then updates, a rename, a disabled user
and a leaver — which trips the safety limit — and finally a return.`,
		Example: `  go run ./cmd/dirsync demo
  dirsync demo --state-dir ./demo-state   # keep the snapshot to inspect with sqlite3`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return app.RunDemo(cmd.Context(), cmd.OutOrStdout(), stateDir, g.logLevel)
		},
	}
	cmd.Flags().StringVar(&stateDir, "state-dir", "", "where to keep the demo's snapshot (default: a temporary directory, removed afterwards)")
	return cmd
}
