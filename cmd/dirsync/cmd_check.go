package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/dirsync/dirsync/ldapsource"
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
  4. the platform accepts dirsync's credentials;
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
				step(nil, fmt.Sprintf("directory %s: %d users in scope (%d disabled) under %s%s", cfg.LDAP.URL, len(dir.Users), disabled, baseDNs(cfg), boundAs(cfg)), "")
				if len(dir.Users) == 0 {
					fmt.Fprintln(out, "! the directory returned no users: check ldap.base_dn and ldap.user_filter")
				}
				writeCheckSkipped(out, dir.Skipped)
			} else {
				step(fmt.Errorf("directory: %w", err), "", "check ldap.url, ldap.bind_dn, the password and ldap.base_dn; `ldapsearch` with the same values should work")
			}
			if src, ok := a.engine.Source.(ldapSource); ok && err == nil {
				checkWatch(ctx, out, cfg, src.s, step)
			}

			step(a.plat.Check(ctx), fmt.Sprintf("platform %s (%s) accepted dirsync's credentials", cfg.Target.Redacted().URL, targetType(cfg)),
				"check target.url and target.token (or target.token_file)")

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
	fmt.Fprintf(out, "! %d directory entries would be skipped (fix them in the directory; their platform accounts are left as they are):\n", len(skipped))
	for _, s := range skipped {
		fmt.Fprintf(out, "    %s: %s\n", s.DN, s.Reason)
	}
}

// boundAs says which account check bound as, and in which form.
func boundAs(cfg Config) string {
	if cfg.LDAP.BindDN == "" {
		return ", bound anonymously"
	}
	form, _ := ldapsource.BindNameForm(cfg.LDAP.BindDN) // validated with the config
	return fmt.Sprintf(", bound as %s (%s)", cfg.LDAP.BindDN, form)
}

// checkWatch tries the change stream ldap.watch asks for (not with off).
func checkWatch(ctx context.Context, out io.Writer, cfg Config, src *ldapsource.Source, step func(error, string, string)) {
	if cfg.LDAP.Watch == "" || cfg.LDAP.Watch == ldapsource.WatchOff {
		return
	}
	mode, problems, err := src.CheckWatch(ctx)
	if err != nil {
		step(fmt.Errorf("watch: %w", err), "", "check that the directory is reachable")
		return
	}
	for _, p := range problems {
		if errors.Is(p, ldapsource.ErrFallingBack) {
			fmt.Fprintf(out, "! watch: auto falls back to poll (deletes wait for the scheduled runs): %v\n", p)
			continue
		}
		step(fmt.Errorf("watch: %w", p), "", "change the directory server as the error says, or set ldap.watch: poll (or off)")
	}
	if len(problems) == 0 {
		step(nil, fmt.Sprintf("watch: ldap.watch %s resolves to %s; the directory accepts the change stream", cfg.LDAP.Watch, mode), "")
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
