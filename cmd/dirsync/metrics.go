package main

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
	phaseFetch = "fetch"
	phaseDiff  = "diff"
	phaseApply = "apply"
)

// metrics are what `dirsync run` exports on /metrics, in a registry of its own.
// No label holds a secret or a per-user value: labels are outcomes, change
// kinds, phases and HTTP status codes.
type metrics struct {
	reg         *prometheus.Registry
	runs        *prometheus.CounterVec
	skipped     prometheus.Counter
	changes     *prometheus.CounterVec
	inScope     prometheus.Gauge
	phase       *prometheus.HistogramVec
	runDuration prometheus.Histogram
	lastSuccess prometheus.Gauge
	lastRun     prometheus.Gauge
	running     prometheus.Gauge
	requests    *prometheus.CounterVec
	reloads     *prometheus.CounterVec

	watchConnected prometheus.Gauge
	watchEvents    *prometheus.CounterVec
	watchRuns      *prometheus.CounterVec
	watchRefused   prometheus.Gauge
	watchRefusals  prometheus.Counter
}

var _ observer = (*metrics)(nil)

// durationBuckets span 10ms to about 45 minutes.
var durationBuckets = prometheus.ExponentialBuckets(0.01, 4, 10)

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dirsync_runs_total",
			Help: "Reconciliation runs by outcome: success, partial (some changes failed; retried next run), failed (the run could not complete), refused (by the safety limits).",
		}, []string{"outcome"}),
		skipped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dirsync_runs_skipped_total",
			Help: "Scheduled runs skipped because the previous run was still going.",
		}),
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dirsync_changes_total",
			Help: "Changes pushed to the platform by kind (create, adopt, update, reactivate, archive, delete) and outcome (applied, failed).",
		}, []string{"kind", "outcome"}),
		inScope: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "dirsync_users_in_scope",
			Help: "Users in scope in the directory at the last run that read it.",
		}),
		phase: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "dirsync_run_phase_duration_seconds",
			Help:    "Time spent in each phase of a run: fetch (directory read, with the updates applied as it goes), diff (snapshot read, diff, safety check), apply (the other platform writes).",
			Buckets: durationBuckets,
		}, []string{"phase"}),
		runDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "dirsync_run_duration_seconds",
			Help:    "Duration of whole runs.",
			Buckets: durationBuckets,
		}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "dirsync_last_success_timestamp_seconds",
			Help: "Unix time at which the last run that completed (outcome success or partial) finished; 0 if none has.",
		}),
		lastRun: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "dirsync_last_run_timestamp_seconds",
			Help: "Unix time at which the last run finished, whatever its outcome.",
		}),
		running: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "dirsync_run_in_progress",
			Help: "1 while a run is going.",
		}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dirsync_target_requests_total",
			Help: "HTTP requests to the platform, retries included, by status code (\"error\" when there was no answer).",
		}, []string{"status"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dirsync_config_reloads_total",
			Help: "Config reloads on SIGHUP by result: applied, or refused (the new config is invalid; the running one is kept).",
		}, []string{"result"}),
		watchConnected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "dirsync_watch_connected",
			Help: "Change streams (ldap.watch, one per base DN) connected to the directory now.",
		}),
		watchEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dirsync_watch_events_total",
			Help: "What the change streams reported: change (an entry to read again), resync (the stream could not tell what changed: a full read follows).",
		}, []string{"kind"}),
		watchRuns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dirsync_watch_runs_total",
			Help: "Change-event runs (the changed users read again and synced) by outcome.",
		}, []string{"outcome"}),
		watchRefused: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "dirsync_watch_refused",
			Help: "Change streams the directory refuses now (its size limit, no syncprov, no right): changes wait for the scheduled runs until the server or ldap.watch is changed; see dirsync status.",
		}),
		watchRefusals: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dirsync_watch_refusals_total",
			Help: "Attempts to start a change stream that the directory refused.",
		}),
	}
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "dirsync_build_info",
		Help:        "Always 1; the version label is dirsync's version.",
		ConstLabels: prometheus.Labels{"version": buildVersion()},
	})
	build.Set(1)
	m.reg.MustRegister(m.runs, m.skipped, m.changes, m.inScope, m.phase, m.runDuration,
		m.lastSuccess, m.lastRun, m.running, m.requests, m.reloads, build,
		m.watchConnected, m.watchEvents, m.watchRuns, m.watchRefused, m.watchRefusals,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	// Export every series from the start, at zero, so that rate() and alerts
	// see the first increment.
	for _, o := range []string{dsync.OutcomeSuccess, dsync.OutcomePartial, dsync.OutcomeFailed, dsync.OutcomeRefused} {
		m.runs.WithLabelValues(o)
	}
	for _, op := range []user.Op{user.OpCreate, user.OpAdopt, user.OpUpdate, user.OpReactivate, user.OpArchive, user.OpDelete} {
		m.changes.WithLabelValues(string(op), "applied")
		m.changes.WithLabelValues(string(op), "failed")
	}
	for _, r := range []string{"applied", "refused"} {
		m.reloads.WithLabelValues(r)
	}
	for _, k := range []string{"change", "resync"} {
		m.watchEvents.WithLabelValues(k)
	}
	for _, o := range []string{dsync.OutcomeSuccess, dsync.OutcomePartial, dsync.OutcomeFailed, dsync.OutcomeRefused} {
		m.watchRuns.WithLabelValues(o)
	}
	return m
}

func (m *metrics) change(c dsync.Change, err error) {
	outcome := "applied"
	if err != nil {
		outcome = "failed"
	}
	m.changes.WithLabelValues(string(c.Op), outcome).Inc()
}

func (m *metrics) request(a target.Attempt) {
	label := "error"
	if a.Status > 0 {
		label = strconv.Itoa(a.Status)
	}
	m.requests.WithLabelValues(label).Inc()
}

// finished records a run's report and outcome. The run stops being "in
// progress" before it is counted, so a scraper that sees the new count
// never sees the run still going.
func (m *metrics) finished(rep dsync.Report, outcome string, end time.Time) {
	m.running.Set(0)
	m.runs.WithLabelValues(outcome).Inc()
	m.runDuration.Observe(rep.Duration.Seconds())
	for phase, d := range map[string]time.Duration{phaseFetch: rep.Phases.Fetch, phaseDiff: rep.Phases.Diff, phaseApply: rep.Phases.Apply} {
		if d > 0 { // a phase not reached is not observed
			m.phase.WithLabelValues(phase).Observe(d.Seconds())
		}
	}
	if rep.Phases.Diff > 0 {
		m.inScope.Set(float64(rep.Plan.InScope))
	}
	m.lastRun.Set(float64(end.Unix()))
	if completed(outcome) {
		m.lastSuccess.Set(float64(end.Unix()))
	}
}

// handler serves the registry in the Prometheus text format.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// completed reports whether a run with outcome went through: every change
// was attempted (failed ones are retried on the next run).
func completed(outcome string) bool {
	return outcome == dsync.OutcomeSuccess || outcome == dsync.OutcomePartial
}
