package render

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	svc "github.com/dirsync/dirsync/internal/service"
	"github.com/dirsync/dirsync/state"
	dsync "github.com/dirsync/dirsync/sync"
	"github.com/dirsync/dirsync/user"
)

// Status is what `dirsync status` shows: the snapshot's counts, the last
// runs, the failing records and the refused change streams.
type Status struct {
	Path            string
	Runs            []state.Run
	Failing         []user.Record
	Users           map[user.Status]int
	QuarantineAfter int
	WatchRefused    []svc.WatchRefusal
	// Groups counts the pushed groups (groups.push; groups.go).
	Groups state.GroupStats
}

// WriteStatus prints st as `dirsync status` does.
func WriteStatus(out io.Writer, st Status) error {
	WriteWatchRefusals(out, st.WatchRefused)
	writeGroupStatus(out, st.Groups)
	fmt.Fprintf(out, "Snapshot %s: %d active, %d archived, %d pending, %d deleted\n\n", st.Path,
		st.Users["active"], st.Users["archived"], st.Users["pending"], st.Users["deleted"])
	if len(st.Runs) == 0 {
		fmt.Fprintln(out, "No runs yet. Run `dirsync plan`, then `dirsync sync`.")
	} else {
		tw := &Table{}
		tw.Row("RUN", "MODE", "STARTED", "DURATION", "OUTCOME", "CHANGES", "ERROR")
		for _, r := range st.Runs {
			dur := "running"
			if !r.Finished.IsZero() {
				dur = r.Finished.Sub(r.Started).Round(time.Millisecond).String()
			}
			tw.Row(strconv.FormatInt(r.ID, 10), r.Mode, r.Started.Local().Format("2006-01-02 15:04:05"),
				dur, r.Outcome, FormatCounts(r.Counts), Clip(r.Error, 80))
		}
		if err := tw.Write(out); err != nil {
			return err
		}
	}
	if len(st.Failing) > 0 {
		fmt.Fprintf(out, "\nFailing (%d; retried on the next run unless quarantined):\n", len(st.Failing))
		tw := &Table{}
		tw.Row("USER", "ID", "STATUS", "ATTEMPTS", "LAST ERROR")
		quarantined := 0
		for _, r := range st.Failing {
			state := string(r.Status)
			if dsync.Quarantined(r, st.QuarantineAfter) {
				state += " QUARANTINED"
				quarantined++
			}
			tw.Row(r.User.Username, r.User.ID, state, strconv.Itoa(r.Attempts), Clip(r.LastError, 100))
		}
		if err := tw.Write(out); err != nil {
			return err
		}
		if quarantined > 0 {
			fmt.Fprintf(out, "\n%d quarantined after sync.quarantine_after: %d failed attempts: they are not tried again "+
				"(archives excepted) until fixed. Fix the cause, then run `dirsync sync --retry-quarantined`.\n",
				quarantined, st.QuarantineAfter)
		}
	}
	return nil
}

// FormatCounts prints the non-zero change counts of a run.
func FormatCounts(m map[string]int) string {
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

// Clip shortens s to n characters, ending it with "…" when cut; it never
// cuts a character in two.
func Clip(s string, n int) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

// WriteWatchRefusals prints the refused change streams, if any.
func WriteWatchRefusals(out io.Writer, list []svc.WatchRefusal) {
	for _, r := range list {
		fmt.Fprintf(out, "Change stream (ldap.watch) REFUSED by the directory since %s; changes wait for the scheduled runs:\n  %s\n\n",
			r.Since.Local().Format("2006-01-02 15:04:05"), r.Error)
	}
}
