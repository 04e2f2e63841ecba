package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/dirsync/dirsync/internal/config"
	"github.com/dirsync/dirsync/ldapsource"
	"github.com/dirsync/dirsync/state"
	"github.com/dirsync/dirsync/state/stores"
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
  5. the snapshot is readable, and its directory writable;
  6. a sync would not refuse an empty directory read (no users in scope
     while the snapshot manages some).
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
			for _, w := range insecureSettings(cfg) {
				fmt.Fprintf(out, "! %s\n", w)
			}
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

			dir, dirErr := a.engine.Source.Read(ctx)
			if dirErr == nil {
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
				step(fmt.Errorf("directory: %w", dirErr), "", "check ldap.url, ldap.bind_dn, the password and ldap.base_dn; `ldapsearch` with the same values should work")
			}
			if src, ok := a.engine.Source.(ldapSource); ok && err == nil {
				checkWatch(ctx, out, cfg, src.s, step)
			}

			platBad := bad
			step(a.plat.Check(ctx), fmt.Sprintf("platform %s (%s) accepted dirsync's credentials", cfg.Target.Redacted().URL, targetType(cfg)),
				"check target.url and target.token (or target.token_file)")
			if p, ok := a.plat.(profileProber); ok && bad == platBad {
				bad += writeCheckProfile(ctx, out, p)
			}

			recs, snapErr := a.engine.Store.Snapshot(ctx)
			if cfg.State.Driver == state.DriverPostgres {
				step(snapErr, fmt.Sprintf("snapshot %s: %d records", stores.Where(cfg.State), len(recs)), "check state.url, the database's password (PGPASSWORD or ~/.pgpass) and that the role may create tables in it")
			} else {
				step(snapErr, fmt.Sprintf("snapshot %s: %d records", cfg.State.Path, len(recs)), "check state.path and its permissions")
				step(stateWritable(cfg.State.Path), fmt.Sprintf("snapshot directory %s is writable", filepath.Dir(cfg.State.Path)),
					"create the directory, or give the user dirsync runs as write access to it (and to the snapshot's files), or change state.path")
			}
			if dirErr == nil && snapErr == nil {
				// What the sync's safety check refuses first.
				if plan := dsync.Diff(dir, recs, a.engine.OnRemoved); plan.InScope == 0 && plan.Managed > 0 {
					step(fmt.Errorf("the directory read found no users in scope, but the snapshot manages %d: `dirsync sync` would refuse to archive them all", plan.Managed),
						"", "check ldap.base_dn and ldap.user_filter; if every user really left, run `dirsync sync --allow-empty-directory`")
				}
			}
			if bad > 0 {
				return &exitError{code: exitFailure, err: fmt.Errorf("%d check(s) failed", bad)}
			}
			return nil
		},
	}
}

// insecureSettings describes the settings in force that weaken security.
func insecureSettings(cfg Config) []string {
	var w []string
	if u, err := url.Parse(cfg.LDAP.URL); err == nil && u.Scheme == "ldap" && !cfg.LDAP.StartTLS && cfg.LDAP.AllowPlaintext {
		w = append(w, "ldap.allow_plaintext is on: the bind password and every user's data cross the network in clear text; use ldaps:// or ldap.start_tls")
	}
	if cfg.LDAP.InsecureSkipVerify {
		w = append(w, "ldap.insecure_skip_verify is on: the directory's TLS certificate is NOT verified; anyone on the path can read the bind password and forge users")
	}
	if cfg.Target.InsecureSkipVerify {
		w = append(w, "target.insecure_skip_verify is on: the platform's TLS certificate is NOT verified; anyone on the path can read the token")
	}
	return w
}

// stateWritable reports why `dirsync sync` could not write the snapshot at
// path: its directory is missing and cannot be created (sync creates it),
// nothing can be created in it (the snapshot's -wal, -shm and .lock files
// are), or one of the snapshot's files is read-only. It leaves nothing behind.
func stateWritable(path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("state.path: %w", err)
	}
	dir := filepath.Dir(abs)
	existing := dir // the nearest directory that exists
	for {
		fi, err := os.Stat(existing)
		if err == nil {
			if !fi.IsDir() {
				return fmt.Errorf("state.path: %s is not a directory", existing)
			}
			break
		}
		parent := filepath.Dir(existing)
		if !errors.Is(err, fs.ErrNotExist) || parent == existing {
			return fmt.Errorf("state.path: %w", err)
		}
		existing = parent
	}
	f, err := os.CreateTemp(existing, ".dirsync-check-*")
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		if existing != dir {
			return fmt.Errorf("state.path: directory %s does not exist and cannot be created in %s: %w", dir, existing, err)
		}
		return fmt.Errorf("state.path: cannot create files in %s: %w", dir, err)
	}
	f.Close()
	if err := os.Remove(f.Name()); err != nil {
		return fmt.Errorf("state.path: %w", err)
	}
	for _, suffix := range []string{"", "-wal", "-shm", ".lock"} {
		f, err := os.OpenFile(abs+suffix, os.O_WRONLY, 0)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return fmt.Errorf("state.path: %s is not writable: %w", abs+suffix, err)
		default:
			f.Close()
		}
	}
	return nil
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
