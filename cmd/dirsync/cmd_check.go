package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	dsync "github.com/dirsync/dirsync/sync"
)

func newCheckCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "check",
		Short: "Validate the config, reach the directory and the platform, list data problems",
		Long: `check answers "will a sync work?" without changing anything:
  1. the config file is valid (every problem is listed, named by its key);
  2. dirsync can bind to the directory, and how many users are in scope;
  3. which directory entries a sync would skip, and why;
  4. the platform accepts dirsync's credentials; for target.type rest, the
     whole listing (pages, accounts, loops), the first accounts as the
     profile maps them, and the match keys the data supports (read-only);
  5. the snapshot is readable.
It exits 0 when all is well, 1 otherwise.`,
		Example: `  dirsync check --config /etc/dirsync/dirsync.yaml`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			cfg, err := readConfig(g)
			if err != nil {
				var ce *ConfigError
				if errors.As(err, &ce) {
					fmt.Fprintf(out, "✗ %s\n", err)
					return &exitError{code: exitFailure, err: errors.New("fix the config and run `dirsync check` again")}
				}
				return err
			}
			fmt.Fprintf(out, "✓ config %s is valid\n", g.configFile)
			log := zap.NewNop()
			bad := 0
			step := func(err error, okMsg string, fix string) {
				if err != nil {
					bad++
					fmt.Fprintf(out, "✗ %v\n", err)
					if fix != "" {
						fmt.Fprintf(out, "    fix: %s\n", fix)
					}
					return
				}
				fmt.Fprintf(out, "✓ %s\n", okMsg)
			}

			ctx := cmd.Context()
			a, err := wire(ctx, cfg, log, true)
			if err != nil {
				return &exitError{code: exitFailure, err: err}
			}
			defer a.Close()

			dir, err := a.engine.Source.Read(ctx)
			if err == nil {
				disabled := 0
				for _, u := range dir.Users {
					if !u.Active {
						disabled++
					}
				}
				step(nil, fmt.Sprintf("directory %s: %d users in scope (%d disabled) under %s", cfg.LDAP.URL, len(dir.Users), disabled, baseDNs(cfg)), "")
				if len(dir.Users) == 0 {
					fmt.Fprintln(out, "! the directory returned no users: check ldap.base_dn and ldap.user_filter")
				}
				writeCheckSkipped(out, dir.Skipped)
			} else {
				step(fmt.Errorf("directory: %w", err), "", "check ldap.url, ldap.bind_dn, the password and ldap.base_dn; `ldapsearch` with the same values should work")
			}

			platBad := bad
			step(a.plat.Check(ctx), fmt.Sprintf("platform %s (%s) accepted dirsync's credentials", cfg.Target.Redacted().URL, targetType(cfg)),
				"check target.url and target.token (or target.token_file)")
			if p, ok := a.plat.(profileProber); ok && bad == platBad {
				bad += writeCheckProfile(ctx, out, p)
			}

			recs, err := a.engine.Store.Snapshot(ctx)
			step(err, fmt.Sprintf("snapshot %s: %d records", cfg.State.Path, len(recs)), "check state.path and its permissions")
			if bad > 0 {
				return &exitError{code: exitFailure, err: fmt.Errorf("%d check(s) failed", bad)}
			}
			return nil
		},
	}
}

func writeCheckSkipped(out io.Writer, skipped []dsync.Skip) {
	if len(skipped) == 0 {
		fmt.Fprintln(out, "✓ no directory data problems")
		return
	}
	fmt.Fprintf(out, "! %d directory entries would be skipped (fix them in the directory; their platform accounts are left as they are, but archived if disabled):\n", len(skipped))
	for _, s := range skipped {
		fmt.Fprintf(out, "    %s: %s%s\n", s.DN, s.Reason, skipDisabled(s))
	}
}

func baseDNs(cfg Config) string {
	return cfg.LDAP.BaseDN
}

func targetType(cfg Config) string {
	if cfg.Target.Type == "" {
		return "scim"
	}
	return cfg.Target.Type
}
