package service

import (
	"github.com/prometheus/client_golang/prometheus"

	dsync "github.com/dirsync/dirsync/sync"
	"github.com/dirsync/dirsync/user"
)

// groupMetrics are the group push's (groups.push) metrics.
type groupMetrics struct {
	Changes  *prometheus.CounterVec
	Members  *prometheus.CounterVec
	InScope  prometheus.Gauge
	Managed  prometheus.Gauge
	Refusals prometheus.Counter
}

// newGroupMetrics registers the group metrics in reg, every series at zero.
func newGroupMetrics(reg *prometheus.Registry) *groupMetrics {
	g := &groupMetrics{
		Changes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dirsync_group_changes_total",
			Help: "Changes pushed to platform groups by kind (group-create, group-adopt, group-update, group-delete) and outcome (applied, failed).",
		}, []string{"kind", "outcome"}),
		Members: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dirsync_group_memberships_changed_total",
			Help: "Memberships of platform groups changed by the group push: added, removed.",
		}, []string{"change"}),
		InScope: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "dirsync_groups_in_scope",
			Help: "Directory groups pushed (groups.filter) at the last run that read them.",
		}),
		Managed: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "dirsync_groups_managed",
			Help: "Platform groups dirsync keeps in step, per the snapshot, at the last run that read them.",
		}),
		Refusals: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dirsync_group_refusals_total",
			Help: "Group passes refused by groups.max_group_delete* or groups.max_membership_removal*.",
		}),
	}
	reg.MustRegister(g.Changes, g.Members, g.InScope, g.Managed, g.Refusals)
	for _, op := range []user.Op{user.OpGroupCreate, user.OpGroupAdopt, user.OpGroupUpdate, user.OpGroupDelete} {
		g.Changes.WithLabelValues(string(op), "applied")
		g.Changes.WithLabelValues(string(op), "failed")
	}
	g.Members.WithLabelValues("added")
	g.Members.WithLabelValues("removed")
	return g
}

// finished records the group pass of a run, when it ran.
func (g *groupMetrics) finished(rep dsync.Report, outcome string) {
	r := rep.Groups
	if r == nil {
		return
	}
	g.InScope.Set(float64(r.Plan.InScope))
	g.Managed.Set(float64(r.Plan.Managed))
	if outcome == dsync.OutcomeRefused { // the group pass ran, so it refused
		g.Refusals.Inc()
	}
	for op, n := range r.Applied {
		g.Changes.WithLabelValues(string(op), "applied").Add(float64(n))
	}
	for _, f := range r.Failed {
		g.Changes.WithLabelValues(string(f.Change.Op), "failed").Inc()
	}
	g.Members.WithLabelValues("added").Add(float64(r.Added))
	g.Members.WithLabelValues("removed").Add(float64(r.Removed))
}
