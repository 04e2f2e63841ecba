// The journal, the audit trail of every change dirsync made, as `dirsync
// journal` prints it: a table for a terminal, JSON for tools, CSV for an
// auditor's spreadsheet (safe against formula injection: CSVSafe).

package render

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/dirsync/dirsync/state"
	"github.com/dirsync/dirsync/user"
)

// JournalFormats are the values of `dirsync journal --output`.
var JournalFormats = []string{"table", "json", "csv"}

// Result values: what the platform made of a change.
const (
	JournalOK     = "ok"
	JournalFailed = "failed"
)

// JournalWriter writes journal rows one at a time, so that a long journal is never
// held in memory; Close ends the output and reports any write error.
type JournalWriter interface {
	Write(state.JournalRow) error
	Close() error
}

// New returns a JournalWriter of format (one of JournalFormats) over w.
func NewJournalWriter(w io.Writer, format string) (JournalWriter, error) {
	switch format {
	case "table":
		return &journalTable{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}, nil
	case "json":
		return &journalJSON{w: w}, nil
	case "csv":
		return newJournalCSV(w), nil
	}
	return nil, fmt.Errorf("--output: %q is not one of %s", format, strings.Join(JournalFormats, ", "))
}

// Result returns JournalOK or JournalFailed for r.
func JournalResult(r state.JournalRow) string {
	if r.Error != "" {
		return JournalFailed
	}
	return JournalOK
}

// journalTimeLayout is how a change's time is printed: UTC, to the second.
const journalTimeLayout = "2006-01-02T15:04:05Z"

func journalTime(t time.Time) string { return t.UTC().Format(journalTimeLayout) }

// journalField is one field change as "field: old → new".
func journalField(f user.FieldChange) string {
	return f.Field + ": " + journalQuote(f.Old) + " → " + journalQuote(f.New)
}

func journalQuote(s string) string {
	if s == "" {
		return `""`
	}
	return s
}

// journalTable prints aligned columns; a change of several fields takes one
// line per field.
type journalTable struct {
	tw   *tabwriter.Writer
	rows int
	err  error
}

func (t *journalTable) line(cells ...string) {
	if t.err != nil {
		return
	}
	for i, c := range cells {
		// A control character in a value (a tab, a newline, an escape
		// sequence) would break the layout or the terminal.
		cells[i] = strings.Map(func(r rune) rune {
			if unicode.IsControl(r) {
				return ' '
			}
			return r
		}, c)
	}
	_, t.err = io.WriteString(t.tw, strings.Join(cells, "\t")+"\n")
}

func (t *journalTable) Write(r state.JournalRow) error {
	if t.rows == 0 {
		t.line("TIME", "RUN", "KIND", "USER", "CHANGE", "RESULT")
	}
	t.rows++
	var changes []string
	for _, f := range r.Fields {
		changes = append(changes, journalField(f))
	}
	if r.Reason != "" {
		changes = append(changes, "("+r.Reason+")")
	}
	if len(changes) == 0 {
		changes = []string{""}
	}
	result := JournalResult(r)
	if r.Error != "" {
		result += ": " + r.Error
	}
	name := r.Username
	if name == "" {
		name = r.UserID
	}
	t.line(journalTime(r.At), strconv.FormatInt(r.Run, 10), string(r.Op), name, changes[0], result)
	for _, c := range changes[1:] {
		t.line("", "", "", "", c, "")
	}
	return t.err
}

func (t *journalTable) Close() error {
	if t.rows == 0 {
		t.line("No journal entries match.")
	}
	if t.err != nil {
		return t.err
	}
	return t.tw.Flush()
}

// journalJSONRow is one change in JSON.
type journalJSONRow struct {
	At         string             `json:"at"`
	Run        int64              `json:"run"`
	Kind       user.Op            `json:"kind"`
	UserID     string             `json:"user_id"`
	Username   string             `json:"username"`
	PlatformID string             `json:"platform_id,omitempty"`
	Fields     []user.FieldChange `json:"fields"`
	Reason     string             `json:"reason,omitempty"`
	Result     string             `json:"result"`
	Error      string             `json:"error,omitempty"`
}

// journalJSON writes one JSON array, element by element.
type journalJSON struct {
	w    io.Writer
	rows int
	err  error
}

func (j *journalJSON) write(s string) {
	if j.err == nil {
		_, j.err = io.WriteString(j.w, s)
	}
}

func (j *journalJSON) Write(r state.JournalRow) error {
	fields := r.Fields
	if fields == nil {
		fields = []user.FieldChange{}
	}
	b, err := json.Marshal(journalJSONRow{At: journalTime(r.At), Run: r.Run, Kind: r.Op, UserID: r.UserID, Username: r.Username,
		PlatformID: r.PlatformID, Fields: fields, Reason: r.Reason, Result: JournalResult(r), Error: r.Error})
	if err != nil {
		return fmt.Errorf("journal: run %d, %s: %w", r.Run, r.UserID, err)
	}
	if j.rows == 0 {
		j.write("[\n  ")
	} else {
		j.write(",\n  ")
	}
	j.rows++
	j.write(string(b))
	return j.err
}

func (j *journalJSON) Close() error {
	if j.rows == 0 {
		j.write("[]\n")
	} else {
		j.write("\n]\n")
	}
	return j.err
}

// journalCSVHeader names the CSV columns. A change of several fields is one row,
// its fields joined by "; " in the fields column.
var journalCSVHeader = []string{"time", "run", "kind", "user_id", "username", "platform_id", "fields", "reason", "result", "error"}

type journalCSV struct{ cw *csv.Writer }

func newJournalCSV(w io.Writer) *journalCSV {
	c := &journalCSV{cw: csv.NewWriter(w)}
	_ = c.cw.Write(journalCSVHeader) // an error is kept by the csv.Writer and reported by Close
	return c
}

func (c *journalCSV) Write(r state.JournalRow) error {
	fields := make([]string, len(r.Fields))
	for i, f := range r.Fields {
		fields[i] = journalField(f)
	}
	s := CSVSafe
	_ = c.cw.Write([]string{journalTime(r.At), strconv.FormatInt(r.Run, 10), string(r.Op), s(r.UserID), s(r.Username),
		s(r.PlatformID), s(strings.Join(fields, "; ")), s(r.Reason), JournalResult(r), s(r.Error)})
	return c.cw.Error()
}

func (c *journalCSV) Close() error {
	c.cw.Flush()
	return c.cw.Error()
}
