package render

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"

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

// ReportRow is one account of `dirsync report`.
type ReportRow struct {
	// Target names the account's target when the config has several.
	Target         string `json:"target,omitempty"`
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

// BuildReport joins every platform account with the snapshot's records.
func BuildReport(ctx context.Context, l dsync.Lister, recs []user.Record) ([]ReportRow, error) {
	byPID := map[string]user.Record{}
	for _, r := range recs {
		if r.PlatformID != "" && r.Status != user.StatusDeleted && r.Status != user.StatusPending {
			byPID[r.PlatformID] = r
		}
	}
	var rows []ReportRow
	seen := map[string]bool{}
	err := l.List(ctx, func(a user.Account) error {
		row := ReportRow{PlatformID: a.PlatformID, ExternalID: a.User.ID, Username: a.User.Username, Email: a.User.Email,
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
			rows = append(rows, ReportRow{Status: reportMissing, PlatformID: pid, DirectoryID: r.User.ID,
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

func WriteReportCSV(w io.Writer, rows []ReportRow) error {
	cw := csv.NewWriter(w)
	// A first column names the target when the rows are of several.
	named := slices.ContainsFunc(rows, func(r ReportRow) bool { return r.Target != "" })
	head := []string{"status", "platform_id", "external_id", "username", "email", "platform_active",
		"directory_id", "directory_username", "directory_dn", "last_seen"}
	if named {
		head = append([]string{"target"}, head...)
	}
	_ = cw.Write(head)
	for _, r := range rows {
		rec := []string{r.Status, CSVSafe(r.PlatformID), CSVSafe(r.ExternalID), CSVSafe(r.Username), CSVSafe(r.Email),
			strconv.FormatBool(r.PlatformActive), CSVSafe(r.DirectoryID), CSVSafe(r.DirectoryUser), CSVSafe(r.DirectoryDN), r.LastSeen}
		if named {
			rec = append([]string{r.Target}, rec...)
		}
		_ = cw.Write(rec)
	}
	cw.Flush()
	return cw.Error()
}

// CSVSafe keeps a value from being read as a formula by a spreadsheet.
func CSVSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
