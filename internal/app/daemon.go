package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"reflect"
	gosync "sync"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/dirsync/dirsync/internal/config"
	"github.com/dirsync/dirsync/internal/render"
	svc "github.com/dirsync/dirsync/internal/service"
	"github.com/dirsync/dirsync/state/postgres"
	dsync "github.com/dirsync/dirsync/sync"
	"github.com/dirsync/dirsync/target"
)

// progressEvery is how often a long run logs its progress.
const progressEvery = 30 * time.Second

// abortWait bounds the wait for a cancelled run to stop, after the grace period.
const abortWait = 10 * time.Second

// DaemonOptions are the settings of `dirsync run` that are not in the config.
type DaemonOptions struct {
	// ConfigFile names the config file, in log lines.
	ConfigFile string
	// Reload reads the config file again (SIGHUP).
	Reload func() (Config, error)
	// RunAtStart runs once at start-up, before the first scheduled run.
	RunAtStart bool
	// Grace is how long the run in flight may take to finish when the
	// service is stopped, before it is cancelled.
	Grace time.Duration
	// Version is the build's version, in the metrics and the start-up line.
	Version string
}

// Daemon is `dirsync run`: the service's runnables (internal/service) wired
// to the adapters, with the config reload of SIGHUP.
type Daemon struct {
	opts    DaemonOptions
	root    *zap.Logger // for wire, which scopes its own loggers
	log     *zap.Logger
	m       *svc.Metrics
	started time.Time
	limits  svc.ListenerLimits // of the HTTP listener

	runner    *svc.Runner     // the runs, one at a time
	mgr       *svc.Manager    // starts the runnables, and stops them with the runs' grace
	runCtx    context.Context // cancelled to abort the run in flight
	cancelRun context.CancelFunc
	sched     *svc.Scheduler // the config's schedule
	stopSched func()         // stops the scheduler

	mu          gosync.Mutex
	cfg         Config
	lastOutcome string
	lastSuccess time.Time
	watch       *watcher                    // ldap.watch; nil when off
	lastTargets map[string]svc.TargetStatus // each target's last run's skips, for the status page
	page        *svc.Page                   // the status page; nil when off

	// The platform client lives as long as the process (its learned rate,
	// PATCH support and OAuth2 token with it), and is built anew only when
	// what it was built from changed or a run did not succeed (see
	// settlePlatform). platMu: held while one is got.
	platMu    gosync.Mutex
	platforms map[string]*keptPlatform // by target name

	lead *leadership // the leader election (state.driver postgres); nil with SQLite
}

// keptPlatform is a target's platform client kept across runs, with what it
// was built from and its throttling log.
type keptPlatform struct {
	plat     Platform
	from     platformSource
	throttle *throttleLog
}

// platformSource is what a platform client is built from: the target
// config and the files it reads (a rotated token or CA bundle gives a new
// client).
type platformSource struct {
	cfg    target.Config
	secret string
	ca     []byte
}

// NewDaemon returns the service for cfg; Serve runs it.
func NewDaemon(cfg Config, log *zap.Logger, o DaemonOptions) *Daemon {
	root := log
	log = log.With(zap.String(keyComponent, "service"))
	s := &Daemon{
		opts: o, root: root, log: log, m: svc.NewMetrics(o.Version), cfg: cfg, started: time.Now(), limits: svc.DefaultListenerLimits,
		platforms: map[string]*keptPlatform{}, lastTargets: map[string]svc.TargetStatus{},
		lead: newLeadership(cfg.State),
	}
	for _, t := range cfg.TargetList() {
		s.m.AddTarget(t.Name)
	}
	s.runner = svc.NewRunner(s.runOnce, s.pokeWatcher, log, s.m)
	s.mgr = &svc.Manager{Log: log, Runner: s.runner, CancelRun: func() { s.cancelRun() }, Grace: o.Grace, AbortWait: abortWait, Notify: s.notify}
	return s
}

// config returns the config in force.
func (s *Daemon) config() Config {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg
}

// Serve runs the service until SIGTERM or SIGINT. An error means it could
// not start, or stopped badly (a failed listener, a cancelled run that did
// not stop).
func (s *Daemon) Serve(ctx context.Context) error {
	// The runs get a context of their own: a stop signal gives them the grace
	// period before they are cancelled.
	s.runCtx, s.cancelRun = context.WithCancel(context.WithoutCancel(ctx))
	defer s.cancelRun()
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)

	cfg := s.config()
	page, err := statusPage(cfg)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.page = page
	s.mu.Unlock()
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w (is another dirsync running? change listen: in the config)", err)
	}
	// The listener serves until the service has stopped.
	lctx, stopListener := context.WithCancel(context.WithoutCancel(ctx))
	served := make(chan error, 1)
	listened := make(chan struct{})
	go func() {
		defer close(listened)
		served <- s.listener(ln).Start(lctx)
	}()
	defer func() {
		stopListener()
		<-listened
	}()

	sched, err := svc.NewScheduler(cfg.Schedule, func() { s.trigger("schedule") }, svc.SystemClock{})
	if err != nil { // validated with the config
		return fmt.Errorf("schedule: %w", err)
	}
	s.mu.Lock()
	s.sched = sched
	s.mu.Unlock()
	if s.lead != nil {
		// Only the leader schedules, watches and runs (see leader.go).
		defer s.background(ctx, "leader election", s.gate())()
		s.log.Info("service started", zap.String("listen", ln.Addr().String()), zap.String("schedule", cfg.Schedule),
			zap.String("state", cfg.State.RedactedURL()), zap.String("leader", "standing by until this process leads"),
			zap.String("version", s.opts.Version))
	} else {
		s.m.Leader.Set(1)
		s.stopSched = s.background(ctx, "scheduler", sched)
		defer s.stopSched()
		if w := s.startWatcher(cfg); w != nil {
			s.mu.Lock()
			s.watch = w
			s.mu.Unlock()
		}
		s.log.Info("service started", zap.String("listen", ln.Addr().String()), zap.String("schedule", cfg.Schedule),
			zap.Time("next_run", sched.Next()), zap.String("version", s.opts.Version))
		if s.opts.RunAtStart {
			s.trigger("start")
		}
	}
	defer s.stopWatcher()
	s.notify("READY=1\nSTATUS=serving on " + ln.Addr().String())

	// A failed listener stops the service as a stop signal does, and the
	// process exits 1.
	failed, err := s.mgr.Serve(sigs, served, s.reload, func() error { return s.stop(sigs) })
	if err == nil && failed {
		err = errors.New("a part of the service failed; see the log")
	}
	if err != nil {
		return err
	}
	return nil
}

// background starts r with a context of its own, and returns the function
// that stops it and waits for it to return (see svc.Manager.Go).
func (s *Daemon) background(ctx context.Context, name string, r svc.Runnable) func() {
	return s.mgr.Go(ctx, name, r)
}

// trigger starts an ordinary run, one at a time (see svc.Runner).
func (s *Daemon) trigger(reason string) { s.runner.Trigger(reason) }

// pokeWatcher tells the watcher, if one is running, that the runs are over:
// events that came meanwhile are handled.
func (s *Daemon) pokeWatcher() {
	s.mu.Lock()
	w := s.watch
	s.mu.Unlock()
	if w != nil {
		w.Poke()
	}
}

// stopWatcher stops the watcher, if one is running.
func (s *Daemon) stopWatcher() {
	s.mu.Lock()
	w := s.watch
	s.watch = nil
	s.mu.Unlock()
	if w != nil {
		w.stop()
	}
}

// runOnce runs one reconciliation of every target with the config in
// force, over one directory read, opening (and locking) the snapshots for
// the run's duration only.
func (s *Daemon) runOnce(reason string) {
	ctx := s.termRunCtx()
	s.m.Running.Set(1)
	defer s.m.Running.Set(0)
	cfg := s.config()
	s.log.Info("run starting", zap.String("reason", reason))
	start := time.Now()
	// The events and cookies the change stream gathered so far are covered
	// by this run's directory read.
	take := s.fullReadTake()
	apps, err := s.wire(ctx, cfg)
	var res []Result
	if err != nil {
		s.fullReadDone(ctx, nil, take, false)
		for _, t := range cfg.TargetList() {
			res = append(res, Result{App: &App{Name: t.Name, Target: t}, Err: err})
		}
	} else {
		if len(apps) == 1 {
			apps[0].Attach(render.NewLogProgress(s.log, progressEvery))
		}
		res = RunEach(apps, func(a *App) (dsync.Report, error) { return s.runTarget(a) })
		ok := true
		for _, r := range res {
			ok = ok && svc.Completed(r.Outcome())
		}
		s.fullReadDone(ctx, apps, take, ok)
		for i, a := range apps {
			if cerr := a.Close(); cerr != nil && res[i].Err == nil {
				res[i].Err = fmt.Errorf("close snapshot: %w", cerr)
			}
		}
	}
	end := time.Now()
	s.m.Running.Set(0)
	worst := ""
	for _, r := range res {
		if r.Report.Duration == 0 {
			r.Report.Duration = end.Sub(start)
		}
		outcome := r.Outcome()
		s.settlePlatform(r.App.Name, outcome)
		if worst == "" || outcomeRank(outcome) > outcomeRank(worst) {
			worst = outcome
		}
	}
	// Readiness first: whoever sees the run in the metrics sees it in /readyz.
	s.mu.Lock()
	s.lastOutcome = worst
	if svc.Completed(worst) {
		s.lastSuccess = end
	}
	for _, r := range res {
		if ts, ok := targetStatus(r.App.Name, r.Report, r.Outcome(), end); ok {
			s.lastTargets[r.App.Name] = ts
		}
	}
	s.mu.Unlock()
	for _, r := range res {
		s.m.For(r.App.Name).Finished(r.Report, r.Outcome(), end)
	}
	s.notify(fmt.Sprintf("STATUS=last run %s at %s", worst, end.Format(time.RFC3339)))
	for _, r := range res {
		fields := SummaryFields(r.Report, cmp.Or(r.App.mode, "sync"), r.Err)
		if len(res) > 1 || r.App.Name != config.DefaultTarget {
			fields = append(fields, zap.String("target", r.App.Name))
		}
		if ctx.Err() != nil {
			fields = append(fields, zap.Bool("aborted", true))
		}
		switch r.Outcome() {
		case dsync.OutcomeSuccess:
			s.log.Info("run finished", fields...)
		case dsync.OutcomePartial:
			s.log.Warn("run finished", fields...)
		default:
			s.log.Error("run finished", fields...)
		}
	}
}

// outcomeRank orders outcomes from the best to the worst.
func outcomeRank(outcome string) int {
	switch outcome {
	case dsync.OutcomeSuccess:
		return 0
	case dsync.OutcomePartial:
		return 1
	case dsync.OutcomeRefused:
		return 2
	}
	return 3
}

// runTarget runs one target's reconciliation: every
// sync.full_reconcile_every, a run lists the platform and corrects drift,
// as `dirsync sync` does.
func (s *Daemon) runTarget(a *App) (dsync.Report, error) {
	ctx := s.termRunCtx()
	log := s.root
	if a.Name != config.DefaultTarget {
		log = log.With(zap.String("target", a.Name))
	}
	full := FullDue(ctx, a, a.Target.Sync.FullReconcileEvery, false, false, log)
	mode := "sync"
	if full {
		mode = "full"
	}
	a.mode = mode
	rep, err := a.Engine.Run(ctx, dsync.RunOptions{Mode: mode, Full: full, FullBestEffort: true})
	if rep.FullSkipped != "" {
		log.Warn("scheduled full reconcile skipped: the platform could not be listed; the next run tries again",
			zap.String("reason", rep.FullSkipped))
	}
	if full && err == nil && rep.FullSkipped == "" {
		MarkFull(ctx, a, log)
	}
	return rep, err
}

// wire wires a run of every target with cfg and the platform clients of
// the process.
func (s *Daemon) wire(ctx context.Context, cfg Config) ([]*App, error) {
	var lease *postgres.Lease
	if s.lead != nil {
		if lease = s.lead.leader.Current(); lease == nil {
			return nil, fmt.Errorf("not leading: %w", postgres.ErrLeaseLost)
		}
	}
	return WireTargets(s.withLease(ctx), cfg, s.root, WireOptions{
		Observers: func(name string) []Observer { return []Observer{s.m.For(name)} },
		Platform: func(t config.Target, tl *throttleLog, obs []Observer) (Platform, error) {
			plat, err := s.platform(t, tl, obs)
			if err != nil || lease == nil {
				return plat, err
			}
			// A leader's run checks its lease before each platform write.
			return fencedPlatform{Platform: plat, lease: lease}, nil
		},
		Throttle: func(name string) *throttleLog { return s.kept(name).throttle },
	})
}

// kept returns what the process keeps of the target named name.
func (s *Daemon) kept(name string) *keptPlatform {
	s.platMu.Lock()
	defer s.platMu.Unlock()
	k := s.platforms[name]
	if k == nil {
		log := s.root
		if name != config.DefaultTarget {
			log = log.With(zap.String("target", name))
		}
		k = &keptPlatform{throttle: newThrottleLog(log)}
		s.platforms[name] = k
	}
	return k
}

// platform returns the platform client of target t kept by the process,
// built with obs as its observers when there is none yet or its config, the
// token file or the CA bundle changed since it was built.
func (s *Daemon) platform(t config.Target, tl *throttleLog, obs []Observer) (Platform, error) {
	k := s.kept(t.Name)
	s.platMu.Lock()
	defer s.platMu.Unlock()
	from, err := readPlatformSource(t.Target)
	if err == nil && k.plat != nil && reflect.DeepEqual(from, k.from) {
		return k.plat, nil
	}
	// Built anew; a source that cannot be read fails here, naming the file.
	k.plat = nil
	plat, err := NewPlatform(t.Target, s.root, platformOptions(tl, obs)...)
	if err != nil {
		return nil, err
	}
	k.plat, k.from = plat, from
	return plat, nil
}

// settlePlatform drops the platform client of the target named name after
// a run with outcome that failed or partly failed: what the client learned
// (a token, names resolved to ids, the PATCH support) may be what failed,
// and the next run starts afresh.
func (s *Daemon) settlePlatform(name, outcome string) {
	if outcome != dsync.OutcomeFailed && outcome != dsync.OutcomePartial {
		return
	}
	s.platMu.Lock()
	if k := s.platforms[name]; k != nil {
		k.plat = nil
	}
	s.platMu.Unlock()
}

// readPlatformSource reads what a client of cfg is built from.
func readPlatformSource(cfg target.Config) (platformSource, error) {
	secret, err := cfg.Secret()
	if err != nil {
		return platformSource{}, err
	}
	var ca []byte
	if cfg.CAFile != "" {
		if ca, err = os.ReadFile(cfg.CAFile); err != nil {
			return platformSource{}, fmt.Errorf("target.ca_file: %w", err)
		}
	}
	return platformSource{cfg: cfg, secret: secret, ca: ca}, nil
}

// reload reads the config file again and puts it in force, or keeps the
// running one when the new one is invalid.
func (s *Daemon) reload() {
	cfg, err := s.opts.Reload()
	if err != nil {
		s.m.Reloads.WithLabelValues("refused").Inc()
		s.log.Error("config reload refused: the running config is kept", zap.String("config", s.opts.ConfigFile), zap.Error(err))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.cfg
	if cfg.Schedule != old.Schedule {
		if err := s.sched.SetSchedule(cfg.Schedule); err != nil { // validated with the config
			s.m.Reloads.WithLabelValues("refused").Inc()
			s.log.Error("config reload refused: the running config is kept", zap.Error(fmt.Errorf("schedule: %w", err)))
			return
		}
	}
	if cfg.Listen != old.Listen {
		s.log.Warn("listen changed: the new address takes effect on restart", zap.String("listen", old.Listen))
	}
	if cfg.StatusPage != old.StatusPage || cfg.StatusPageToken != old.StatusPageToken || cfg.StatusPageTokenFile != old.StatusPageTokenFile {
		s.log.Warn("status page settings changed: they take effect on restart")
	}
	if cfg.Log != old.Log {
		s.log.Warn("log settings changed: they take effect on restart")
	}
	for _, t := range cfg.TargetList() {
		s.m.AddTarget(t.Name)
	}
	if !reflect.DeepEqual(cfg.LDAP, old.LDAP) || cfg.TargetList()[0].State != old.TargetList()[0].State {
		// Follow the directory as the new config says: stop the stream
		// (outside the lock: it waits for the watcher) and start anew.
		old := s.watch
		s.watch = nil
		s.mu.Unlock()
		if old != nil {
			old.stop()
		}
		w := s.startWatcher(cfg)
		s.mu.Lock()
		s.watch = w
	}
	s.cfg = cfg
	s.m.Reloads.WithLabelValues("applied").Inc()
	s.log.Info("config reloaded", zap.String("schedule", cfg.Schedule), zap.Time("next_run", s.sched.Next()))
}

// stop stops scheduling and the watcher, and waits for the run in flight: for
// the grace period, then (or at a second signal) cancels it and waits up to
// abortWait more (see svc.Manager.Drain).
func (s *Daemon) stop(sigs <-chan os.Signal) error {
	s.runner.Stop()
	if s.stopSched != nil {
		s.stopSched()
	}
	s.stopWatcher()
	return s.mgr.Drain(sigs)
}

// listener returns the HTTP listener (/metrics /healthz /readyz) on ln,
// within s.limits.
func (s *Daemon) listener(ln net.Listener) *svc.Listener {
	l := svc.NewListener(ln, s.m, s.status, s.limits)
	s.mu.Lock()
	if s.page != nil {
		l.ServePage(s.page)
	}
	s.mu.Unlock()
	return l
}

// status is the service's state now, for readiness.
func (s *Daemon) status() svc.Status {
	s.mu.Lock()
	w := s.watch
	st := svc.Status{Started: s.started, LastOutcome: s.lastOutcome, LastSuccess: s.lastSuccess, ReadinessStaleness: s.cfg.ReadinessStaleness}
	for _, t := range s.cfg.TargetList() {
		if ts, ok := s.lastTargets[t.Name]; ok {
			st.Targets = append(st.Targets, ts)
		}
	}
	sched := s.sched
	s.mu.Unlock()
	if s.lead != nil {
		st.Leader, st.LeaderID = s.role()
	}
	if sched != nil && st.Leader != svc.RoleStandby {
		st.NextRun = sched.Next()
	}
	if w != nil {
		st.Watch = s.config().LDAP.Watch
		if why, refused := w.Refusal(); refused {
			st.WatchRefused = why
		}
	}
	return st
}

// notify tells systemd (Type=notify) of the service's state; see svc.SDNotify.
func (s *Daemon) notify(state string) {
	if err := svc.SDNotify(state); err != nil {
		s.log.Warn("cannot notify systemd", zap.Error(err))
	}
}
