package app

import (
	"context"
	"fmt"

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
	_ dsync.Store    = (*state.DB)(nil) // summaries, meta and intents included
	_ dsync.Store    = (*postgres.DB)(nil)
	_ dsync.Store    = state.Store(nil) // what openStore returns
	_ dsync.Source   = ldapSource{}
	_ dsync.Streamer = ldapSource{}
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
	Engine *dsync.Engine
	// Directory is the directory the engine reads (Engine.Source adapts
	// it), for what only it can tell: its change streams, its pages.
	Directory *ldapsource.Source
	// Platform is the engine's target, with its credentials check.
	Platform Platform

	store    interface{ Close() error }
	throttle *throttleLog
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

// Wire builds the reconciler from cfg. A read-only app (dry-run) opens the
// snapshot without writing or locking it. Observers, if any, see every change
// and every platform request.
func Wire(ctx context.Context, cfg Config, log *zap.Logger, readOnly bool, obs ...Observer) (*App, error) {
	tl := newThrottleLog(log)
	return wireTo(ctx, cfg, log, readOnly, nil, tl, append(obs, tl))
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

// wireTo is wire with the platform client plat, built with
// platformOptions(tl, obs), or, when plat is nil, a new one. obs see every
// change; tl's summary is logged when the app is closed.
func wireTo(ctx context.Context, cfg Config, log *zap.Logger, readOnly bool, plat Platform, tl *throttleLog, obs []Observer) (*App, error) {
	if cfg.LDAP.InsecureSkipVerify {
		log.Warn("ldap.insecure_skip_verify is on: the directory's TLS certificate is NOT verified; anyone on the path can read the bind password and forge users")
	}
	if cfg.Target.InsecureSkipVerify {
		log.Warn("target.insecure_skip_verify is on: the platform's TLS certificate is NOT verified; anyone on the path can read the token")
	}
	src, err := ldapsource.New(cfg.LDAP)
	if err != nil {
		return nil, err
	}
	if plat == nil {
		if plat, err = NewPlatform(cfg.Target, log, platformOptions(tl, obs)...); err != nil {
			return nil, err
		}
	}
	st, err := openStore(ctx, cfg.State, readOnly)
	if err != nil {
		return nil, err
	}
	opts := engineOptions(cfg)
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
		Engine:    &dsync.Engine{Source: ldapSource{src}, Target: plat, Store: st, Options: opts},
		Directory: src,
		store:     st,
		Platform:  plat,
		throttle:  tl,
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
	if err != nil {
		f = append(f, zap.Error(err))
	}
	return f
}

// Config is the whole config file, as package config loads it.
type Config = config.Config

// engineOptions are the reconciler's options of cfg.
func engineOptions(cfg Config) dsync.Options {
	opts := cfg.Sync.Options()
	opts.Concurrency = cfg.Target.Concurrency
	return opts
}
