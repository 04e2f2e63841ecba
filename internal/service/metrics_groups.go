package service

import (
	"github.com/prometheus/client_golang/prometheus"

	dsync "github.com/dirsync/dirsync/sync"
	"github.com/dirsync/dirsync/user"
)

// groupMetrics are the group push's (groups.push) metrics, by target.
type groupMetrics struct {
	Changes  *prometheus.CounterVec
	Members  *prometheus.CounterVec
	InScope  *prometheus.GaugeVec
	Managed  *prometheus.GaugeVec
	Refusals *prometheus.CounterVec
}

// newGroupMetrics registers the group metrics in reg, every series at zero.
func newGroupMetrics(reg *prometheus.Registry) *groupMetrics {
	g := &groupMetrics{
		Changes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dirsync_group_changes_total",
			Help: "Changes pushed to platform groups by kind (group-create, group-adopt, group-update, group-delete) and outcome (applied, failed).",
		}, []string{"target", "kind", "outcome"}),
		Members: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dirsync_group_memberships_changed_total",
			Help: "Memberships of platform groups changed by the group push: added, removed.",
		}, []string{"target", "change"}),
		InScope: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "dirsync_groups_in_scope",
			Help: "Directory groups pushed (groups.filter) at the last run that read them.",
		}, []string{"target"}),
		Managed: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "dirsync_groups_managed",
			Help: "Platform groups dirsync keeps in step, per the snapshot, at the last run that read them.",
		}, []string{"target"}),
		Refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dirsync_group_refusals_total",
			Help: "Group passes refused by groups.max_group_delete* or groups.max_membership_removal*.",
		}, []string{"target"}),
	}
	reg.MustRegister(g.Changes, g.Members, g.InScope, g.Managed, g.Refusals)
	return g
}

// addTarget exports target name's counters at zero.
func (g *groupMetrics) addTarget(name string) {
	for _, op := range []user.Op{user.OpGroupCreate, user.OpGroupAdopt, user.OpGroupUpdate, user.OpGroupDelete} {
		g.Changes.WithLabelValues(name, string(op), "applied")
		g.Changes.WithLabelValues(name, string(op), "failed")
	}
	g.Members.WithLabelValues(name, "added")
	g.Members.WithLabelValues(name, "removed")
	g.Refusals.WithLabelValues(name)
}

// finished records the group pass of a run of target name, when it ran.
func (g *groupMetrics) finished(name string, rep dsync.Report, outcome string) {
	r := rep.Groups
	if r == nil {
		return
	}
	g.InScope.WithLabelValues(name).Set(float64(r.Plan.InScope))
	g.Managed.WithLabelValues(name).Set(float64(r.Plan.Managed))
	if outcome == dsync.OutcomeRefused { // the group pass ran, so it refused
		g.Refusals.WithLabelValues(name).Inc()
	}
	for op, n := range r.Applied {
		g.Changes.WithLabelValues(name, string(op), "applied").Add(float64(n))
	}
	for _, f := range r.Failed {
		g.Changes.WithLabelValues(name, string(f.Change.Op), "failed").Inc()
	}
	g.Members.WithLabelValues(name, "added").Add(float64(r.Added))
	g.Members.WithLabelValues(name, "removed").Add(float64(r.Removed))
}
