package app

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	gosync "sync"

	"go.uber.org/zap"

	"github.com/dirsync/dirsync/internal/config"
	"github.com/dirsync/dirsync/ldapsource"
	"github.com/dirsync/dirsync/state"
	"github.com/dirsync/dirsync/state/postgres"
	dsync "github.com/dirsync/dirsync/sync"
	"github.com/dirsync/dirsync/target"
	"github.com/dirsync/dirsync/target/rest"
	"github.com/dirsync/dirsync/target/scim"
	"github.com/dirsync/dirsync/user"
)

// Every capability of the adapters the reconciler may use, checked when
// dirsync is built rather than found (or missed) at run time.
var (
	_ dsync.Store    = (*state.DB)(nil) // every capability: summaries, meta, intents, pruning, lookups, groups
	_ dsync.Store    = (*postgres.DB)(nil)
	_ dsync.Store    = state.Store(nil) // what openStore returns
	_ dsync.Source   = ldapSource{}
	_ dsync.Streamer = ldapSource{}
	_ dsync.Streamer = (*sharedRead)(nil)
	_ Platform       = (*scim.Client)(nil) // a dsync.Target and dsync.Lister
	_ Platform       = (*rest.Client)(nil)
)

// ldapSource adapts ldapsource to the reconciler's Source.
type ldapSource struct{ s *ldapsource.Source }

func (l ldapSource) Read(ctx context.Context) (dsync.Directory, error) {
	users, skipped, err := l.s.Fetch(ctx)
	if err != nil {
		return dsync.Directory{}, err
	}
	return dsync.Directory{Users: users, Skipped: skips(skipped)}, nil
}

// Stream implements dsync.Streamer: runs hold only the users that changed.
func (l ldapSource) Stream(ctx context.Context, emit func(user.User) error) ([]dsync.Skip, error) {
	skipped, err := l.s.Stream(ctx, emit)
	if err != nil {
		return nil, err
	}
	return skips(skipped), nil
}

// Reread implements dsync.Source's re-read of the entries a change stream
// named (ldapsource.Source.RereadAt).
func (l ldapSource) Reread(ctx context.Context, ids, dns []string) (dsync.Changed, error) {
	users, gone, skipped, err := l.s.RereadAt(ctx, ids, dns)
	if err != nil {
		return dsync.Changed{}, err
	}
	return dsync.Changed{Users: users, Gone: gone, Skipped: skips(skipped)}, nil
}

func skips(skipped []ldapsource.Skipped) []dsync.Skip {
	out := make([]dsync.Skip, len(skipped))
	for i, s := range skipped {
		out[i] = dsync.Skip{DN: s.DN, ID: s.ID, IDs: s.IDs, Reason: s.Reason, Disabled: s.Disabled, Withdrawn: s.Withdrawn}
	}
	return out
}

// Platform is what the command needs of a target beyond the reconciler's contract.
// Every target type lists its accounts (full reconciles, bulk adoption,
// `dirsync report`).
type Platform interface {
	dsync.Target
	dsync.Lister
	Check(ctx context.Context) error
}

// NewPlatform builds the configured target, of a type registered with
// package target (see target/targets).
func NewPlatform(cfg target.Config, log *zap.Logger, opts ...target.Option) (Platform, error) {
	p, err := target.New(cfg, opts...)
	if err != nil {
		return nil, err
	}
	plat, ok := p.(Platform)
	if !ok {
		return nil, fmt.Errorf("target.type %q: its client %T does not implement the reconciler's Target; this build of dirsync is broken", cfg.Type, p)
	}
	return plat, nil
}

// App is one wired reconciler with its resources: the engine over the
// directory, the snapshot and the platform of the config.
type App struct {
	// Name is the target's name (config.DefaultTarget for the target:
	// section), Target its settings.
	Name   string
	Target config.Target
	Engine *dsync.Engine
	// Directory is the directory the engine reads (Engine.Source adapts
	// it), for what only it can tell: its change streams, its pages.
	Directory *ldapsource.Source
	// Platform is the engine's target, with its credentials check.
	Platform Platform

	store    interface{ Close() error }
	throttle *throttleLog
	mode     string // the mode of the service's last run (runTarget)
}

// Progress is told of a run's directory pages, its plan and each change.
type Progress interface {
	Page(n int)
	Plan(p dsync.Plan)
	Change(c dsync.Change, err error)
}

// Attach hooks p into the directory read and the apply of a's runs.
func (a *App) Attach(p Progress) {
	a.Directory.OnPage = p.Page
	a.Engine.OnPlan = p.Plan
	prev := a.Engine.Observe
	a.Engine.Observe = func(c dsync.Change, err error) {
		if prev != nil {
			prev(c, err)
		}
		p.Change(c, err)
	}
}

// Close closes the snapshot, logging the run's throttling summary first.
func (a *App) Close() error {
	if a.throttle != nil {
		a.throttle.summary()
	}
	if a.store != nil {
		return a.store.Close()
	}
	return nil
}

// Observer is told of each applied change and each platform request, for
// metrics. Its methods are called from several goroutines at once.
type Observer interface {
	Change(c dsync.Change, err error)
	Request(a target.Attempt)
}

// Wire builds the reconciler of cfg's one target. A read-only app (dry-run)
// opens the snapshot without writing or locking it. Observers, if any, see
// every change and every platform request. With several targets, name one
// in cfg (see WireTargets).
func Wire(ctx context.Context, cfg Config, log *zap.Logger, readOnly bool, obs ...Observer) (*App, error) {
	apps, err := WireTargets(ctx, cfg, log, WireOptions{ReadOnly: readOnly, Observers: func(string) []Observer { return obs }})
	if err != nil {
		return nil, err
	}
	if len(apps) != 1 {
		closeAll(apps)
		return nil, fmt.Errorf("the config has %d targets: name one with --target", len(apps))
	}
	return apps[0], nil
}

// WireOptions say how WireTargets wires each target.
type WireOptions struct {
	// ReadOnly opens the snapshots without writing or locking them (dry-run).
	ReadOnly bool
	// Targets names the targets to wire; all of them when empty.
	Targets []string
	// Observers returns the observers of a target's changes and platform
	// requests, if any.
	Observers func(target string) []Observer
	// Platform, if set, returns the platform client of a target that the
	// caller keeps (the service keeps one across runs), built with
	// platformOptions(tl, obs) when new; nil builds a new one.
	Platform func(t config.Target, tl *throttleLog, obs []Observer) (Platform, error)
	// Throttle, if set, returns the throttling log of a target kept by the
	// caller; nil makes a new one.
	Throttle func(target string) *throttleLog
}

// WireTargets builds one App per target of cfg (those named in o.Targets,
// or all), fed by one directory read: the targets without a scope share the
// read (each runs over it when it is complete, and fails with it when it is
// not), a target with a scope reads the users of its narrower filter. With
// one target and no scope, the read streams past the snapshot as ever.
func WireTargets(ctx context.Context, cfg Config, log *zap.Logger, o WireOptions) ([]*App, error) {
	targets, err := cfg.SelectTargets(o.Targets...)
	if err != nil {
		return nil, err
	}
	if cfg.LDAP.InsecureSkipVerify {
		log.Warn("ldap.insecure_skip_verify is on: the directory's TLS certificate is NOT verified; anyone on the path can read the bind password and forge users")
	}
	src, err := ldapsource.New(cfg.LDAP)
	if err != nil {
		return nil, err
	}
	var source dsync.Source = ldapSource{src}
	if len(targets) > 1 {
		source = newSharedRead(ldapSource{src}, unscoped(targets))
	}
	var apps []*App
	for _, t := range targets {
		tsrc, dir := source, src
		if t.Scope != "" {
			lc := cfg.LDAP
			lc.UserFilter = "(&" + cfg.LDAP.UserFilter + t.Scope + ")"
			if dir, err = ldapsource.New(lc); err != nil {
				closeAll(apps)
				return nil, fmt.Errorf("targets[%s].scope: %w", t.Name, err)
			}
			tsrc = ldapSource{dir}
		}
		tlog := log
		if len(targets) > 1 || t.Name != config.DefaultTarget {
			tlog = log.With(zap.String("target", t.Name))
		}
		var obs []Observer
		if o.Observers != nil {
			obs = o.Observers(t.Name)
		}
		tl := newThrottleLog(tlog)
		if o.Throttle != nil {
			tl = o.Throttle(t.Name)
		}
		obs = append(obs, tl)
		a, err := wireTarget(ctx, t, tlog, o, tsrc, tl, obs)
		if err != nil {
			closeAll(apps)
			return nil, err
		}
		a.Directory = dir
		a.Engine.Groups = groupPass(cfg, dir)
		apps = append(apps, a)
	}
	return apps, nil
}

// unscoped counts the targets without a scope: those that share the read.
func unscoped(targets []config.Target) int {
	n := 0
	for _, t := range targets {
		if t.Scope == "" {
			n++
		}
	}
	return n
}

// closeAll closes every app.
func closeAll(apps []*App) {
	for _, a := range apps {
		a.Close()
	}
}

// sharedRead is one directory read shared by the targets of a run. The
// first target to read starts the directory's stream; every target's run
// takes the users as they arrive (Stream: each compares them with its own
// snapshot while the read goes on) or the whole read once it is complete
// (Read: a full reconcile). A target that takes its users slowly (its early
// updates wait on a slow platform) does not hold the read, nor the others:
// the users read are kept for it. An incomplete read is every target's
// error.
type sharedRead struct {
	src interface {
		dsync.Source
		dsync.Streamer
	}
	once gosync.Once
	// takers is how many targets take this read (each once: Stream or
	// Read). Once every one is streaming, the batches of users all of
	// them have passed are let go, so that the read is not held whole; a
	// taker of the whole read keeps every batch.
	takers int

	mu       gosync.Mutex
	more     *gosync.Cond  // a batch appended, or the read ended
	batches  [][]user.User // the users emitted so far, in order, a batch each
	done     bool
	skips    []dsync.Skip
	err      error
	pos      []int // each streaming taker's next batch
	whole    bool  // a taker reads the whole read: keep every batch
	released int   // batches[:released] are let go
}

// sharedBatch is how many users the shared read hands over at once.
const sharedBatch = 2048

func newSharedRead(src interface {
	dsync.Source
	dsync.Streamer
}, takers int) *sharedRead {
	s := &sharedRead{src: src, takers: takers}
	s.more = gosync.NewCond(&s.mu)
	return s
}

// releaseLocked lets go of the batches every taker has passed, once every
// taker streams. s.mu is held.
func (s *sharedRead) releaseLocked() {
	if s.whole || len(s.pos) < s.takers {
		return
	}
	low := slices.Min(s.pos)
	for ; s.released < low && s.released < len(s.batches); s.released++ {
		s.batches[s.released] = nil
	}
}

// start starts the directory's stream, once.
func (s *sharedRead) start(ctx context.Context) {
	s.once.Do(func() {
		go func() {
			// Users are handed over in batches: waking every target for
			// each user cost more than comparing it.
			batch := make([]user.User, 0, sharedBatch)
			flush := func() {
				if len(batch) == 0 {
					return
				}
				s.mu.Lock()
				s.batches = append(s.batches, batch)
				s.mu.Unlock()
				s.more.Broadcast()
				batch = make([]user.User, 0, sharedBatch)
			}
			skips, err := s.src.Stream(ctx, func(u user.User) error {
				if batch = append(batch, u); len(batch) == sharedBatch {
					flush()
				}
				return nil
			})
			flush()
			s.mu.Lock()
			s.done, s.skips, s.err = true, skips, err
			s.mu.Unlock()
			s.more.Broadcast()
		}()
	})
}

// Stream implements dsync.Streamer: it emits the users as the shared read
// gets them and returns the read's skips (withdrawn users included).
func (s *sharedRead) Stream(ctx context.Context, emit func(user.User) error) ([]dsync.Skip, error) {
	s.start(ctx)
	s.mu.Lock()
	if s.released > 0 {
		s.mu.Unlock()
		return nil, errors.New("the shared directory read was let go before this target took it; this is a bug in dirsync")
	}
	me := len(s.pos)
	s.pos = append(s.pos, 0)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.pos[me] = math.MaxInt // done: it holds nothing back
		s.releaseLocked()
		s.mu.Unlock()
	}()
	for i := 0; ; i++ {
		s.mu.Lock()
		s.pos[me] = i
		s.releaseLocked()
		for i >= len(s.batches) && !s.done {
			s.more.Wait()
		}
		if i >= len(s.batches) {
			skips, err := s.skips, s.err
			s.mu.Unlock()
			return skips, err
		}
		batch := s.batches[i] // never changed once appended: read without the lock
		s.mu.Unlock()
		for _, u := range batch {
			if err := emit(u); err != nil {
				return nil, err
			}
		}
	}
}

// Read implements dsync.Source: the whole read, once complete, without the
// users the stream withdrew (see dsync.Streamer).
func (s *sharedRead) Read(ctx context.Context) (dsync.Directory, error) {
	s.start(ctx)
	s.mu.Lock()
	if s.released > 0 {
		s.mu.Unlock()
		return dsync.Directory{}, errors.New("the shared directory read was let go before this target took it whole; this is a bug in dirsync")
	}
	s.whole = true
	for !s.done {
		s.more.Wait()
	}
	batches, skips, err := s.batches, s.skips, s.err
	s.mu.Unlock()
	if err != nil {
		return dsync.Directory{}, err
	}
	// A withdrawn user is a skipped entry, as a whole read reports it.
	withdrawn := map[string]bool{}
	kept := make([]dsync.Skip, len(skips))
	for i, sk := range skips {
		if sk.Withdrawn {
			withdrawn[sk.ID] = true
			sk.Withdrawn = false
		}
		kept[i] = sk
	}
	var out []user.User
	for _, b := range batches {
		for _, u := range b {
			if !withdrawn[u.ID] {
				out = append(out, u)
			}
		}
	}
	return dsync.Directory{Users: out, Skipped: kept}, nil
}

// Reread re-reads for one target: each target's change-event run re-reads
// the entries it needs.
func (s *sharedRead) Reread(ctx context.Context, ids, dns []string) (dsync.Changed, error) {
	return s.src.Reread(ctx, ids, dns)
}

// wireTarget builds the App of target t over the directory source src.
func wireTarget(ctx context.Context, t config.Target, log *zap.Logger, o WireOptions, src dsync.Source, tl *throttleLog, obs []Observer) (*App, error) {
	if t.Target.InsecureSkipVerify {
		log.Warn("target.insecure_skip_verify is on: the platform's TLS certificate is NOT verified; anyone on the path can read the token")
	}
	var plat Platform
	var err error
	if o.Platform != nil {
		plat, err = o.Platform(t, tl, obs)
	} else {
		plat, err = NewPlatform(t.Target, log, platformOptions(tl, obs)...)
	}
	if err != nil {
		return nil, err
	}
	st, err := openStore(ctx, t.State, o.ReadOnly)
	if err != nil {
		return nil, err
	}
	opts := targetOptions(t)
	changeLog := log.With(zap.String(keyComponent, "sync"))
	opts.Observe = func(c dsync.Change, err error) {
		for _, o := range obs {
			o.Change(c, err)
		}
		fields := []zap.Field{zap.String("op", string(c.Op)), zap.String("user", c.User.Username), zap.String("user_id", c.User.ID)}
		if c.PlatformID != "" {
			fields = append(fields, zap.String("platform_id", c.PlatformID))
		}
		if err != nil {
			changeLog.Warn("change failed", append(fields, zap.Error(err))...)
			return
		}
		changeLog.Info("change applied", fields...)
	}
	opts.Warn = func(msg string) { changeLog.Warn(msg) }
	return &App{
		Name:     t.Name,
		Target:   t,
		Engine:   &dsync.Engine{Source: src, Target: plat, Store: st, Options: opts},
		store:    st,
		Platform: plat,
		throttle: tl,
	}, nil
}

// summaryFields are the fields of a run's one summary log line.
func SummaryFields(rep dsync.Report, mode string, err error) []zap.Field {
	f := []zap.Field{
		zap.String(keyMode, mode),
		zap.String(keyOutcome, rep.Outcome(err)),
		zap.Duration(keyDuration, rep.Duration),
		zap.Int("in_scope", rep.Plan.InScope),
		zap.Int("unchanged", rep.Plan.Unchanged),
		zap.Int("skipped", len(rep.Plan.Skipped)),
		zap.Int("failed", len(rep.Failed)),
		zap.Int("quarantined", len(rep.Plan.Quarantined)),
	}
	if rep.RunID != 0 {
		f = append(f, zap.Int64(keyRun, rep.RunID))
	}
	for _, op := range []user.Op{user.OpCreate, user.OpAdopt, user.OpUpdate, user.OpReactivate, user.OpArchive, user.OpDelete} {
		if rep.DryRun {
			n := rep.Plan.Count(op)
			switch op {
			case user.OpCreate:
				n -= rep.Plan.Adoptions
			case user.OpAdopt:
				n = rep.Plan.Adoptions
			}
			f = append(f, zap.Int("planned_"+string(op), n))
		} else {
			f = append(f, zap.Int(string(op), rep.Applied[op]))
		}
	}
	if mode == "full" {
		f = append(f, zap.Int("drifted", rep.Plan.Drifted), zap.Int("unmanaged", len(rep.Plan.Unmanaged)))
	}
	f = append(f, groupSummaryFields(rep)...)
	if err != nil {
		f = append(f, zap.Error(err))
	}
	return f
}

// Config is the whole config file, as package config loads it.
type Config = config.Config

// targetOptions are the reconciler's options of target t.
func targetOptions(t config.Target) dsync.Options {
	opts := t.Sync.Options()
	opts.Concurrency = t.Target.Concurrency
	return opts
}

// platformOptions are the options of a platform client whose requests obs
// see and whose throttling tl logs.
func platformOptions(tl *throttleLog, obs []Observer) []target.Option {
	return []target.Option{
		target.WithThrottleObserver(tl.event),
		target.WithObserver(func(a target.Attempt) {
			for _, o := range obs {
				o.Request(a)
			}
		}),
	}
}
