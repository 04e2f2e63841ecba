package service

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dsync "github.com/dirsync/dirsync/sync"
	"github.com/dirsync/dirsync/user"
)

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

func TestMetrics_CountGroupChangesMembershipsAndRefusals(t *testing.T) {
	m := NewMetrics("test")
	m.AddTarget("hr")
	if out := scrape(t, m); !strings.Contains(out, `dirsync_group_changes_total{kind="group-delete",outcome="applied",target="hr"} 0`) {
		t.Fatalf("group series not exported at zero:\n%s", out)
	}
	rep := dsync.Report{Groups: &dsync.GroupReport{
		Plan:    dsync.GroupPlan{InScope: 7, Managed: 6},
		Applied: map[user.Op]int{user.OpGroupCreate: 1, user.OpGroupUpdate: 2},
		Added:   40, Removed: 3,
		Failed: []dsync.GroupFailure{{Change: dsync.GroupChange{Op: user.OpGroupUpdate}, Error: "500"}},
	}}
	m.For("hr").Finished(rep, dsync.OutcomePartial, time.Unix(1000, 0))
	m.For("hr").Finished(dsync.Report{Groups: &dsync.GroupReport{Plan: dsync.GroupPlan{InScope: 7, Managed: 7}}}, dsync.OutcomeRefused, time.Unix(2000, 0))
	out := scrape(t, m)
	for _, want := range []string{
		`dirsync_group_changes_total{kind="group-create",outcome="applied",target="hr"} 1`,
		`dirsync_group_changes_total{kind="group-update",outcome="applied",target="hr"} 2`,
		`dirsync_group_changes_total{kind="group-update",outcome="failed",target="hr"} 1`,
		`dirsync_group_memberships_changed_total{change="added",target="hr"} 40`,
		`dirsync_group_memberships_changed_total{change="removed",target="hr"} 3`,
		`dirsync_groups_in_scope{target="hr"} 7`,
		`dirsync_groups_managed{target="hr"} 7`,
		`dirsync_group_refusals_total{target="hr"} 1`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
