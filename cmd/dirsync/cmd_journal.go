package main

import (
	"fmt"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/dirsync/dirsync/internal/render"
	"github.com/dirsync/dirsync/state"
	"github.com/dirsync/dirsync/state/stores"
	"github.com/dirsync/dirsync/user"
)

func newJournalCmd(g *globalFlags) *cobra.Command {
	var (
		f             state.JournalFilter
		since, kind   string
		output        string
		journalKinds  = []user.Op{user.OpCreate, user.OpAdopt, user.OpUpdate, user.OpReactivate, user.OpArchive, user.OpDelete}
		errBadOptions = func(err error) error { return &exitError{code: exitFailure, err: err} }
	)
	cmd := &cobra.Command{
		Use:   "journal",
		Short: "List every change dirsync made: when, which run, who, fields old → new, result",
		Long: `journal prints the audit trail kept in the snapshot: every change dirsync made or
tried on the platform, oldest first, with its time (UTC), run, kind, user, the
fields it changed (old → new), the reason, and the result (ok, or failed with the
platform's error). It reads the snapshot without writing or locking it, so it
works while a sync runs. Entries older than state.retention are pruned.

--user finds a person's whole history: by directory ID, by the username or email
the snapshot holds, or by any username the journal names (a renamed user is found
by the old name too). CSV cells are written so a spreadsheet never reads them as
formulas. With several targets (targets:), name one with --target: each keeps
its own snapshot and journal.`,
		Example: `  dirsync journal --user jdoe
  dirsync journal --run 42 --kind archive
  dirsync journal --since 2026-01-01 --output csv > audit.csv`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if since != "" {
				t, err := parseSince(since)
				if err != nil {
					return errBadOptions(err)
				}
				f.Since = t
			}
			if kind != "" {
				f.Kind = user.Op(kind)
				if !slices.Contains(journalKinds, f.Kind) {
					return errBadOptions(fmt.Errorf("--kind: %q is not one of %v", kind, journalKinds))
				}
			}
			if f.Run < 0 {
				return errBadOptions(fmt.Errorf("--run: %d is not a run (see `dirsync status`)", f.Run))
			}
			w, err := render.NewJournalWriter(cmd.OutOrStdout(), output)
			if err != nil {
				return errBadOptions(err)
			}
			cfg, err := readConfig(g)
			if err != nil {
				return err
			}
			t, err := oneTarget(cfg, g)
			if err != nil {
				return errBadOptions(err)
			}
			db, err := stores.OpenReadOnly(cmd.Context(), t.State)
			if err != nil {
				return err
			}
			defer db.Close()
			if err := db.QueryJournal(cmd.Context(), f, w.Write); err != nil {
				return err
			}
			return w.Close()
		},
	}
	cmd.Flags().StringVar(&f.User, "user", "", "one person's changes: directory ID, username or email")
	cmd.Flags().Int64Var(&f.Run, "run", 0, "one run's changes (see `dirsync status`)")
	cmd.Flags().StringVar(&since, "since", "", "changes at or after this date (2026-01-01, UTC) or time (RFC 3339)")
	cmd.Flags().StringVar(&kind, "kind", "", "one kind of change: create, adopt, update, reactivate, archive, delete")
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table, json or csv")
	targetFlag(cmd, g)
	return cmd
}

// parseSince reads --since: a date (midnight UTC) or an RFC 3339 time.
func parseSince(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--since: %q is not a date (2026-01-01) or an RFC 3339 time (2026-01-01T08:00:00Z)", s)
	}
	return t, nil
}
