package service

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	dsync "github.com/dirsync/dirsync/sync"
	"github.com/dirsync/dirsync/target"
	"github.com/dirsync/dirsync/user"
)

// Phases of a run, the values of the phase label.
const (
	PhaseFetch = "fetch"
	PhaseDiff  = "diff"
	PhaseApply = "apply"
)

// Metrics are what `dirsync run` exports on /metrics, in a registry of its own.
// No label holds a secret or a per-user value: labels are targets' names,
// outcomes, change kinds, phases and HTTP status codes. What a run does on a
// platform is labelled with the target's name (For); the directory side
// (runs in progress, skipped runs, the change streams) is not.
type Metrics struct {
	reg         *prometheus.Registry
	Runs        *prometheus.CounterVec
	Skipped     prometheus.Counter
	Changes     *prometheus.CounterVec
	InScope     *prometheus.GaugeVec
	Phase       *prometheus.HistogramVec
	RunDuration *prometheus.HistogramVec
	LastSuccess *prometheus.GaugeVec
	LastRun     *prometheus.GaugeVec
	Running     prometheus.Gauge
	Requests    *prometheus.CounterVec
	Reloads     *prometheus.CounterVec

	WatchConnected prometheus.Gauge
	WatchEvents    *prometheus.CounterVec
	WatchRuns      *prometheus.CounterVec
	WatchRefused   prometheus.Gauge
	WatchRefusals  prometheus.Counter

	groups *groupMetrics // metrics_groups.go
	Leader prometheus.Gauge
}

// durationBuckets span 10ms to about 45 minutes.
var durationBuckets = prometheus.ExponentialBuckets(0.01, 4, 10)

// NewMetrics returns the metrics, every series exported at zero; version is
// the dirsync_build_info label.
func NewMetrics(version string) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		Runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dirsync_runs_total",
			Help: "Reconciliation runs by outcome: success, partial (some changes failed; retried next run), failed (the run could not complete), refused (by the safety limits).",
		}, []string{"target", "outcome"}),
		Skipped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dirsync_runs_skipped_total",
			Help: "Scheduled runs skipped because the previous run was still going.",
		}),
		Changes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dirsync_changes_total",
			Help: "Changes pushed to the platform by kind (create, adopt, update, reactivate, archive, delete) and outcome (applied, failed).",
		}, []string{"target", "kind", "outcome"}),
		InScope: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "dirsync_users_in_scope",
			Help: "Users in scope in the directory at the last run that read it.",
		}, []string{"target"}),
		Phase: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "dirsync_run_phase_duration_seconds",
			Help:    "Time spent in each phase of a run: fetch (directory read, with the updates applied as it goes), diff (snapshot read, diff, safety check), apply (the other platform writes).",
			Buckets: durationBuckets,
		}, []string{"target", "phase"}),
		RunDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "dirsync_run_duration_seconds",
			Help:    "Duration of whole runs.",
			Buckets: durationBuckets,
		}, []string{"target"}),
		LastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "dirsync_last_success_timestamp_seconds",
			Help: "Unix time at which the last run that completed (outcome success or partial) finished; 0 if none has.",
		}, []string{"target"}),
		LastRun: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "dirsync_last_run_timestamp_seconds",
			Help: "Unix time at which the last run finished, whatever its outcome.",
		}, []string{"target"}),
		Running: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "dirsync_run_in_progress",
			Help: "1 while a run is going.",
		}),
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dirsync_target_requests_total",
			Help: "HTTP requests to the platform, retries included, by status code (\"error\" when there was no answer).",
		}, []string{"target", "status"}),
		Reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dirsync_config_reloads_total",
			Help: "Config reloads on SIGHUP by result: applied, or refused (the new config is invalid; the running one is kept).",
		}, []string{"result"}),
		WatchConnected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "dirsync_watch_connected",
			Help: "Change streams (ldap.watch, one per base DN) connected to the directory now.",
		}),
		WatchEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dirsync_watch_events_total",
			Help: "What the change streams reported: change (an entry to read again), resync (the stream could not tell what changed: a full read follows).",
		}, []string{"kind"}),
		WatchRuns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dirsync_watch_runs_total",
			Help: "Change-event runs (the changed users read again and synced) by outcome.",
		}, []string{"outcome"}),
		WatchRefused: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "dirsync_watch_refused",
			Help: "Change streams the directory refuses now (its size limit, no syncprov, no right): changes wait for the scheduled runs until the server or ldap.watch is changed; see dirsync status.",
		}),
		WatchRefusals: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dirsync_watch_refusals_total",
			Help: "Attempts to start a change stream that the directory refused.",
		}),
	}
	m.Leader = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "dirsync_leader",
		Help: "1 while this process runs the syncs: always with the SQLite snapshot; with state.driver postgres, while it holds the lease (0: it stands by).",
	})
	m.reg.MustRegister(m.Leader)
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "dirsync_build_info",
		Help:        "Always 1; the version label is dirsync's version.",
		ConstLabels: prometheus.Labels{"version": version},
	})
	build.Set(1)
	m.reg.MustRegister(m.Runs, m.Skipped, m.Changes, m.InScope, m.Phase, m.RunDuration,
		m.LastSuccess, m.LastRun, m.Running, m.Requests, m.Reloads, build,
		m.WatchConnected, m.WatchEvents, m.WatchRuns, m.WatchRefused, m.WatchRefusals,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	// Export every series from the start, at zero, so that rate() and alerts
	// see the first increment.
	for _, r := range []string{"applied", "refused"} {
		m.Reloads.WithLabelValues(r)
	}
	for _, k := range []string{"change", "resync"} {
		m.WatchEvents.WithLabelValues(k)
	}
	for _, o := range []string{dsync.OutcomeSuccess, dsync.OutcomePartial, dsync.OutcomeFailed, dsync.OutcomeRefused} {
		m.WatchRuns.WithLabelValues(o)
	}
	m.groups = newGroupMetrics(m.reg)
	return m
}

// AddTarget exports the series of the target named name at zero, so that
// rate() and alerts see its first increment.
func (m *Metrics) AddTarget(name string) {
	m.groups.addTarget(name)
	for _, o := range []string{dsync.OutcomeSuccess, dsync.OutcomePartial, dsync.OutcomeFailed, dsync.OutcomeRefused} {
		m.Runs.WithLabelValues(name, o)
	}
	for _, op := range []user.Op{user.OpCreate, user.OpAdopt, user.OpUpdate, user.OpReactivate, user.OpArchive, user.OpDelete} {
		m.Changes.WithLabelValues(name, string(op), "applied")
		m.Changes.WithLabelValues(name, string(op), "failed")
	}
	m.LastSuccess.WithLabelValues(name)
	m.LastRun.WithLabelValues(name)
}

// TargetMetrics are the metrics of one target's runs.
type TargetMetrics struct {
	m    *Metrics
	name string
}

// For returns the metrics of the target named name.
func (m *Metrics) For(name string) TargetMetrics { return TargetMetrics{m: m, name: name} }

// Change counts an applied or failed change.
func (t TargetMetrics) Change(c dsync.Change, err error) {
	outcome := "applied"
	if err != nil {
		outcome = "failed"
	}
	t.m.Changes.WithLabelValues(t.name, string(c.Op), outcome).Inc()
}

// Request counts a request to the platform by its answer's status.
func (t TargetMetrics) Request(a target.Attempt) {
	label := "error"
	if a.Status > 0 {
		label = strconv.Itoa(a.Status)
	}
	t.m.Requests.WithLabelValues(t.name, label).Inc()
}

// Finished records a run's report and outcome.
func (t TargetMetrics) Finished(rep dsync.Report, outcome string, end time.Time) {
	m, n := t.m, t.name
	m.Runs.WithLabelValues(n, outcome).Inc()
	m.RunDuration.WithLabelValues(n).Observe(rep.Duration.Seconds())
	for phase, d := range map[string]time.Duration{PhaseFetch: rep.Phases.Fetch, PhaseDiff: rep.Phases.Diff, PhaseApply: rep.Phases.Apply} {
		if d > 0 { // a phase not reached is not observed
			m.Phase.WithLabelValues(n, phase).Observe(d.Seconds())
		}
	}
	if rep.Phases.Diff > 0 {
		m.InScope.WithLabelValues(n).Set(float64(rep.Plan.InScope))
	}
	m.LastRun.WithLabelValues(n).Set(float64(end.Unix()))
	if Completed(outcome) {
		m.LastSuccess.WithLabelValues(n).Set(float64(end.Unix()))
	}
	m.groups.finished(n, rep, outcome)
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Completed reports whether a run with outcome went through: every change
// was attempted (failed ones are retried on the next run).
func Completed(outcome string) bool {
	return outcome == dsync.OutcomeSuccess || outcome == dsync.OutcomePartial
}
