package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/dirsync/dirsync/state/stores"
	dsync "github.com/dirsync/dirsync/sync"
	"github.com/dirsync/dirsync/user"
)

// Directory statuses of a report row.
const (
	reportManaged   = "managed"   // linked to a directory user dirsync keeps active
	reportArchived  = "archived"  // linked to a directory user dirsync archived
	reportUnmanaged = "unmanaged" // on the platform, linked to no directory user
	reportMissing   = "missing"   // linked in the snapshot, but gone from the platform
)

// reportRow is one account of `dirsync report`.
type reportRow struct {
	Status         string `json:"status"`
	PlatformID     string `json:"platform_id"`
	ExternalID     string `json:"external_id"`
	Username       string `json:"username"`
	Email          string `json:"email"`
	PlatformActive bool   `json:"platform_active"`
	DirectoryID    string `json:"directory_id"`
	DirectoryUser  string `json:"directory_username"`
	DirectoryDN    string `json:"directory_dn"`
	LastSeen       string `json:"last_seen"`
}

// buildReport joins every platform account with the snapshot's records.
func buildReport(ctx context.Context, l dsync.Lister, recs []user.Record) ([]reportRow, error) {
	byPID := map[string]user.Record{}
	for _, r := range recs {
		if r.PlatformID != "" && r.Status != user.StatusDeleted && r.Status != user.StatusPending {
			byPID[r.PlatformID] = r
		}
	}
	var rows []reportRow
	seen := map[string]bool{}
	err := l.List(ctx, func(a user.Account) error {
		row := reportRow{PlatformID: a.PlatformID, ExternalID: a.User.ID, Username: a.User.Username, Email: a.User.Email,
			PlatformActive: a.User.Active, Status: reportUnmanaged}
		if r, ok := byPID[a.PlatformID]; ok {
			seen[a.PlatformID] = true
			row.Status = reportManaged
			if r.Status == user.StatusArchived {
				row.Status = reportArchived
			}
			row.DirectoryID, row.DirectoryUser, row.DirectoryDN = r.User.ID, r.User.Username, r.User.DN
			if !r.LastSeen.IsZero() {
				row.LastSeen = r.LastSeen.UTC().Format("2006-01-02T15:04:05Z")
			}
		}
		rows = append(rows, row)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list platform accounts: %w", err)
	}
	for pid, r := range byPID {
		if !seen[pid] {
			rows = append(rows, reportRow{Status: reportMissing, PlatformID: pid, DirectoryID: r.User.ID,
				DirectoryUser: r.User.Username, DirectoryDN: r.User.DN, Email: r.User.Email})
		}
	}
	sort.SliceStable(rows, func(i, j int) bool {
		if rows[i].Status != rows[j].Status {
			return rows[i].Status < rows[j].Status
		}
		return strings.ToLower(rows[i].Email+rows[i].Username) < strings.ToLower(rows[j].Email+rows[j].Username)
	})
	return rows, nil
}

func writeReportCSV(w io.Writer, rows []reportRow) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"status", "platform_id", "external_id", "username", "email", "platform_active",
		"directory_id", "directory_username", "directory_dn", "last_seen"})
	for _, r := range rows {
		_ = cw.Write([]string{r.Status, csvSafe(r.PlatformID), csvSafe(r.ExternalID), csvSafe(r.Username), csvSafe(r.Email),
			strconv.FormatBool(r.PlatformActive), csvSafe(r.DirectoryID), csvSafe(r.DirectoryUser), csvSafe(r.DirectoryDN), r.LastSeen})
	}
	cw.Flush()
	return cw.Error()
}

// csvSafe keeps a value from being read as a formula by a spreadsheet.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

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
			plat, err := newPlatform(cfg.Target, zap.NewNop())
			if err != nil {
				return err
			}
			l, ok := plat.(dsync.Lister)
			if !ok {
				return fmt.Errorf("target.type %s cannot list accounts", targetType(cfg))
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
			rows, err := buildReport(ctx, l, recs)
			if err != nil {
				return err
			}
			if format == "json" {
				if rows == nil {
					rows = []reportRow{}
				}
				return writeJSON(cmd.OutOrStdout(), rows)
			}
			return writeReportCSV(cmd.OutOrStdout(), rows)
		},
	}
	cmd.Flags().StringVar(&format, "format", "csv", "output format: csv or json")
	return cmd
}
