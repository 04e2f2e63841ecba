package app

import (
	"context"
	gosync "sync"

	"go.uber.org/zap"

	svc "github.com/dirsync/dirsync/internal/service"
	"github.com/dirsync/dirsync/state"
	"github.com/dirsync/dirsync/state/postgres"
	"github.com/dirsync/dirsync/state/stores"
)

// With state.driver postgres, `dirsync run` on several hosts elects one
// leader: it alone runs the schedule, the watch and the runs, writing under
// its lease; the others stand by, serving /metrics and /healthz. With
// SQLite, the process always leads (the file's lock keeps a second one out).

// leadership is the leader election of the service, nil with SQLite.
type leadership struct {
	leader *postgres.Leader

	mu      gosync.Mutex
	leading bool
	runCtx  context.Context // the runs' context of the term; cancelled when it ends
	endRuns context.CancelFunc
}

func newLeadership(cfg state.Config) *leadership {
	if cfg.Driver != state.DriverPostgres {
		return nil
	}
	return &leadership{leader: &postgres.Leader{URL: cfg.URL, Holder: postgres.DefaultHolder(), TTL: cfg.LeaseTTL, Retry: cfg.LeaseTTL / 5}}
}

// leaseKey carries, in a wiring's context, the lease the snapshot of the
// runs is written under.
type leaseKey struct{}

// openStore opens the snapshot of cfg: read-only, or read-write under the
// lease the context carries (the leader's), or its own.
func openStore(ctx context.Context, cfg state.Config, readOnly bool) (state.Store, error) {
	o := stores.Opener{Config: cfg}
	if l, ok := ctx.Value(leaseKey{}).(*leadership); ok && l != nil {
		o.Lease = l.leader.Current
	}
	if readOnly {
		return o.OpenReadOnly(ctx)
	}
	return o.Open(ctx)
}

// withLease returns ctx carrying the service's lease, if it has one.
func (s *Daemon) withLease(ctx context.Context) context.Context {
	if s.lead == nil {
		return ctx
	}
	return context.WithValue(ctx, leaseKey{}, s.lead)
}

// leading reports whether the service runs the syncs now.
func (s *Daemon) leading() bool {
	if s.lead == nil {
		return true
	}
	s.lead.mu.Lock()
	defer s.lead.mu.Unlock()
	return s.lead.leading
}

// role is the part of this instance, and who leads as far as it knows.
func (s *Daemon) role() (svc.Role, string) {
	if s.leading() {
		return svc.RoleLeader, s.lead.leader.Holder
	}
	return svc.RoleStandby, s.lead.leader.SeenHolder()
}

// termRunCtx is the runs' context: the service's, and while it leads with
// Postgres, the term's, which ends when the lease is lost.
func (s *Daemon) termRunCtx() context.Context {
	if s.lead == nil {
		return s.runCtx
	}
	s.lead.mu.Lock()
	defer s.lead.mu.Unlock()
	if s.lead.runCtx == nil {
		ctx, cancel := context.WithCancel(s.runCtx)
		cancel() // not leading: nothing runs
		return ctx
	}
	return s.lead.runCtx
}

// gate is the runnable that leads while the lease is held.
func (s *Daemon) gate() *svc.LeaderGate {
	return &svc.LeaderGate{
		Elector: svc.ElectorFunc(func(ctx context.Context) (svc.Term, error) {
			return s.lead.leader.Campaign(ctx)
		}),
		Lead:    leadParts{s},
		Log:     s.log.With(zap.String(keyComponent, "leader")),
		Metrics: s.m,
	}
}

// leadParts is what only the leader runs: the schedule, the watch, and
// (unless --run-at-start=false) a run as soon as it leads.
type leadParts struct{ s *Daemon }

func (p leadParts) Start(ctx context.Context) error {
	s := p.s
	runCtx, endRuns := context.WithCancel(s.runCtx)
	s.lead.mu.Lock()
	s.lead.leading, s.lead.runCtx, s.lead.endRuns = true, runCtx, endRuns
	s.lead.mu.Unlock()

	stopSched := s.background(ctx, "scheduler", s.sched)
	if w := s.startWatcher(s.config()); w != nil {
		s.mu.Lock()
		s.watch = w
		s.mu.Unlock()
	}
	s.log.Info("leading: running the schedule", zap.Time("next_run", s.sched.Next()))
	if s.opts.RunAtStart {
		s.trigger("leader") // the previous leader may have died mid-run
	}

	<-ctx.Done()
	s.lead.mu.Lock()
	s.lead.leading = false
	s.lead.mu.Unlock()
	stopSched()
	s.stopWatcher()
	// The run in flight writes under the lost lease: every write is refused;
	// cancel it and wait for it to end before another term can start.
	endRuns()
	s.runner.Wait()
	s.lead.mu.Lock()
	s.lead.runCtx, s.lead.endRuns = nil, nil
	s.lead.mu.Unlock()
	return nil
}
