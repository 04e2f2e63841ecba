package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/dirsync/dirsync/internal/app"
	"github.com/dirsync/dirsync/internal/config"
)

func newCheckCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Validate the config, reach the directory and the platform, list data problems",
		Long: `check answers "will a sync work?" without changing anything:
  1. the config file is valid (every problem is listed, named by its key);
  2. dirsync can bind to the directory, and how many users are in scope;
  3. which directory entries a sync would skip, and why; with a transform
     section, the first users' fields as mapped and as transformed;
  4. the platform accepts dirsync's credentials; for target.type rest, the
     whole listing (pages, accounts, loops), the first accounts as the
     profile maps them, and the match keys the data supports (read-only);
  5. the snapshot is readable, and its directory writable;
  6. a sync would not refuse an empty directory read (no users in scope
     while the snapshot manages some);
  7. which usernames or emails a sync would give one directory user while
     the snapshot holds them for another (an archived account's name, a
     leaver's address given to a new hire), each with what to do.
Settings that weaken security (ldap.allow_plaintext, insecure_skip_verify)
are warned about.
It exits 0 when all is well, 1 otherwise.`,
		Example: `  dirsync check --config /etc/dirsync/dirsync.yaml`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			cfg, err := readConfig(g)
			if err != nil {
				var ce *config.Error
				if errors.As(err, &ce) {
					fmt.Fprintf(out, "✗ %s\n", err)
					return &exitError{code: exitFailure, err: errors.New("fix the config and run `dirsync check` again")}
				}
				return err
			}
			fmt.Fprintf(out, "✓ config %s is valid\n", g.configFile)
			bad, err := app.Check(cmd.Context(), out, cfg, g.targets...)
			if err != nil {
				return &exitError{code: exitFailure, err: err}
			}
			if bad > 0 {
				return &exitError{code: exitFailure, err: fmt.Errorf("%d check(s) failed", bad)}
			}
			return nil
		},
	}
	targetFlag(cmd, g)
	return cmd
}
