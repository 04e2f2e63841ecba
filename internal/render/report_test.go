package render

import (
	"bytes"
	"context"
	"encoding/csv"
	"testing"

	"github.com/dirsync/dirsync/target"
	"github.com/dirsync/dirsync/target/fake"
	"github.com/dirsync/dirsync/target/scim"
	"github.com/dirsync/dirsync/user"
)

func TestReport_JoinsPlatformAccountsWithTheSnapshot(t *testing.T) {
	srv := fake.New(fake.Options{Token: "tok"})
	cfg := target.Default()
	cfg.URL, cfg.Token = srv.StartT(t), "tok"
	c, err := scim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := srv.Seed(
		user.User{ID: "d1", Username: "ada", Email: "ada@example.com", Active: true},
		user.User{ID: "d2", Username: "alan", Email: "alan@example.com", Active: false},
		user.User{Username: "=cmd()", Email: "intruder@example.com", Active: true},
	)
	if err != nil {
		t.Fatal(err)
	}
	recs := []user.Record{
		{User: user.User{ID: "d1", Username: "ada", DN: "uid=ada,dc=x"}, PlatformID: ids[0], Status: user.StatusActive},
		{User: user.User{ID: "d2", Username: "alan"}, PlatformID: ids[1], Status: user.StatusArchived},
		{User: user.User{ID: "d3", Username: "gone", Email: "gone@example.com"}, PlatformID: "vanished", Status: user.StatusActive},
	}
	rows, err := BuildReport(context.Background(), c, recs)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range rows {
		got[r.PlatformID] = r.Status
	}
	want := map[string]string{ids[0]: reportManaged, ids[1]: reportArchived, ids[2]: reportUnmanaged, "vanished": reportMissing}
	for id, st := range want {
		if got[id] != st {
			t.Errorf("account %s: status %q, want %q (all: %+v)", id, got[id], st, rows)
		}
	}
	var buf bytes.Buffer
	if err := WriteReportCSV(&buf, rows); err != nil {
		t.Fatal(err)
	}
	recsCSV, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recsCSV) != 5 || recsCSV[0][0] != "status" {
		t.Fatalf("csv has %d lines, want a header and 4 rows:\n%s", len(recsCSV), buf.String())
	}
	for _, line := range recsCSV {
		if line[3] == "=cmd()" {
			t.Fatal("a username starting with = reached the CSV unescaped")
		}
	}
}
