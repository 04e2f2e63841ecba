package main

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	svc "github.com/dirsync/dirsync/internal/service"
	"github.com/dirsync/dirsync/state/stores"
	dsync "github.com/dirsync/dirsync/sync"
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
				return writeJSON(out, map[string]any{"runs": runs, "failing": failing, "users": stats.Users,
					"quarantine_after": cfg.Sync.QuarantineAfter, "watch_refused": refused})
			}
			writeWatchRefusals(out, refused)
			fmt.Fprintf(out, "Snapshot %s: %d active, %d archived, %d pending, %d deleted\n\n", stores.Where(cfg.State),
				stats.Users["active"], stats.Users["archived"], stats.Users["pending"], stats.Users["deleted"])
			if len(runs) == 0 {
				fmt.Fprintln(out, "No runs yet. Run `dirsync plan`, then `dirsync sync`.")
			} else {
				tw := &table{}
				tw.row("RUN", "MODE", "STARTED", "DURATION", "OUTCOME", "CHANGES", "ERROR")
				for _, r := range runs {
					dur := "running"
					if !r.Finished.IsZero() {
						dur = r.Finished.Sub(r.Started).Round(time.Millisecond).String()
					}
					tw.row(strconv.FormatInt(r.ID, 10), r.Mode, r.Started.Local().Format("2006-01-02 15:04:05"),
						dur, r.Outcome, formatCounts(r.Counts), clip(r.Error, 80))
				}
				if err := tw.write(out); err != nil {
					return err
				}
			}
			if len(failing) > 0 {
				fmt.Fprintf(out, "\nFailing (%d; retried on the next run unless quarantined):\n", len(failing))
				tw := &table{}
				tw.row("USER", "ID", "STATUS", "ATTEMPTS", "LAST ERROR")
				quarantined := 0
				for _, r := range failing {
					st := string(r.Status)
					if dsync.Quarantined(r, cfg.Sync.QuarantineAfter) {
						st += " QUARANTINED"
						quarantined++
					}
					tw.row(r.User.Username, r.User.ID, st, strconv.Itoa(r.Attempts), clip(r.LastError, 100))
				}
				if err := tw.write(out); err != nil {
					return err
				}
				if quarantined > 0 {
					fmt.Fprintf(out, "\n%d quarantined after sync.quarantine_after: %d failed attempts: they are not tried again "+
						"(archives excepted) until fixed. Fix the cause, then run `dirsync sync --retry-quarantined`.\n",
						quarantined, cfg.Sync.QuarantineAfter)
				}
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&limit, "runs", 10, "how many recent runs to show")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}

// formatCounts prints the non-zero change counts of a run.
func formatCounts(m map[string]int) string {
	var parts []string
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if m[k] == 0 || k == "in_scope" || k == "unchanged" {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	if len(parts) == 0 {
		return fmt.Sprintf("none (%d in scope)", m["in_scope"])
	}
	return strings.Join(parts, " ")
}

// clip shortens s to n characters, ending it with "…" when cut; it never
// cuts a character in two.
func clip(s string, n int) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}
