package render

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/dirsync/dirsync/state"
	"github.com/dirsync/dirsync/user"
)

var journalAt = time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)

func journalRows() []state.JournalRow {
	return []state.JournalRow{
		{Run: 7, Entry: user.Entry{At: journalAt, Op: user.OpUpdate, UserID: "u1", Username: "jdoe", PlatformID: "p1",
			Fields: []user.FieldChange{{Field: "email", Old: "jdoe@example.com", New: "john@example.com"},
				{Field: "display_name", Old: "J", New: "=HYPERLINK(\"http://evil\")"}}}},
		{Run: 8, Entry: user.Entry{At: journalAt.Add(time.Hour), Op: user.OpCreate, UserID: "u2", Username: "=cmd|' /C calc'!A0",
			Error: "409: userName taken"}},
		{Run: 8, Entry: user.Entry{At: journalAt.Add(time.Hour), Op: user.OpArchive, UserID: "u3", Username: "asmith\x1b[31m",
			Reason: "removed from the directory"}},
	}
}

func renderJournal(t *testing.T, format string, rs []state.JournalRow) string {
	t.Helper()
	var b bytes.Buffer
	w, err := NewJournalWriter(&b, format)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestCSV_EveryChangeIsARowAndNoCellIsAFormula(t *testing.T) {
	recs, err := csv.NewReader(strings.NewReader(renderJournal(t, "csv", journalRows()))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 4 || strings.Join(recs[0], ",") != strings.Join(journalCSVHeader, ",") {
		t.Fatalf("rows: %q", recs)
	}
	for _, r := range recs[1:] {
		for _, c := range r {
			if c != "" && strings.ContainsRune("=+-@", rune(c[0])) {
				t.Errorf("cell %q starts a formula (row %q)", c, r)
			}
		}
	}
	if got := recs[1][6]; got != `email: jdoe@example.com → john@example.com; display_name: J → =HYPERLINK("http://evil")` {
		t.Errorf("fields cell %q", got)
	}
	if recs[2][4] != "'=cmd|' /C calc'!A0" || recs[2][8] != "failed" || recs[2][9] != "409: userName taken" {
		t.Errorf("failed create row %q", recs[2])
	}
	if recs[1][0] != "2026-03-02T09:30:00Z" || recs[1][1] != "7" || recs[1][8] != "ok" {
		t.Errorf("update row %q", recs[1])
	}
}

func TestJSON_IsOneArrayWithResultAndFields(t *testing.T) {
	var got []map[string]any
	if err := json.Unmarshal([]byte(renderJournal(t, "json", journalRows())), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0]["kind"] != "update" || got[0]["result"] != "ok" || got[1]["result"] != "failed" ||
		got[1]["error"] != "409: userName taken" || got[0]["run"] != float64(7) {
		t.Errorf("json: %v", got)
	}
	f := got[0]["fields"].([]any)[0].(map[string]any)
	if f["field"] != "email" || f["old"] != "jdoe@example.com" || f["new"] != "john@example.com" {
		t.Errorf("fields: %v", got[0]["fields"])
	}
	if s := renderJournal(t, "json", nil); strings.TrimSpace(s) != "[]" {
		t.Errorf("no rows: %q", s)
	}
}

func TestTable_ShowsOldToNewPerLineAndNoControlCharacters(t *testing.T) {
	out := renderJournal(t, "table", journalRows())
	for _, want := range []string{"TIME", "RUN", "KIND", "CHANGE", "RESULT",
		"email: jdoe@example.com → john@example.com", "display_name: J → =HYPERLINK",
		"failed: 409: userName taken", "(removed from the directory)", "2026-03-02T09:30:00Z"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.ContainsRune(out, '\x1b') {
		t.Errorf("table holds an escape character:\n%q", out)
	}
	if lines := strings.Count(out, "\n"); lines != 5 {
		t.Errorf("want 5 lines (header, 2 for the update, 1 each), got %d:\n%s", lines, out)
	}
	if out := renderJournal(t, "table", nil); !strings.Contains(out, "No journal entries match.") {
		t.Errorf("empty table: %q", out)
	}
	if _, err := NewJournalWriter(&bytes.Buffer{}, "xml"); err == nil || !strings.Contains(err.Error(), "table, json, csv") {
		t.Errorf("NewJournalWriter(xml): %v", err)
	}
}
