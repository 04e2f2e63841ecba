package service

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"strings"
	gosync "sync"
	"time"

	"github.com/go-ldap/ldap/v3"
	"go.uber.org/zap"

	"github.com/dirsync/dirsync/ldapsource"
	dsync "github.com/dirsync/dirsync/sync"
	"github.com/dirsync/dirsync/user"
)

// Retry bounds for an event run that failed (directory or platform down).
const (
	watchRetryMin = 2 * time.Second
	watchRetryMax = 5 * time.Minute
)

// Watcher follows the directory's changes for `dirsync run` (ldap.watch)
// and syncs each changed user through sync.Engine.RunEvents, under the
// service's one-run-at-a-time rule (the Runner). Events that come during a run are
// gathered and handled by one run after it.
//
// Safety: a change stream only names entries to read again. A user is
// archived only when Reread, a complete search, no longer finds its ID in
// scope; a stream error, a reconnect or a failed read archives nobody. A
// stream that cannot tell what changed (no cookie, a refused one) asks for
// an ordinary run: a full directory read, with every safety rule.
//
// Cookies are kept in the snapshot's meta table, under a key derived from
// the LDAP settings that decide what the stream reports, and only once the
// changes before them have been applied.
type Watcher struct {
	d   WatchDeps
	log *zap.Logger
	cfg ldapsource.Config

	kick chan struct{}

	mu        gosync.Mutex
	ids       map[string]bool
	dns       map[string]bool
	cookies   map[string][]byte // newest cookie per stream, not yet kept
	resync    map[string]bool   // streams that need a full read before their cookie is kept
	connected map[string]bool
	failures  int // event runs failed in a row
	retry     *time.Timer

	// started is closed once every stream has its start position: a kept
	// cookie, or the first change it reported (the resync that asks for a
	// full read), or a failure to start. A full read waits for it (see
	// awaitStart), so that the run at start-up is the full read the new
	// streams ask for, not one more. starting are the streams still
	// without a position.
	started   chan struct{}
	startOnce gosync.Once
	starting  map[string]bool
	// baseOf maps every stream key, in every mode, to its base DN: a
	// stream that falls back before it started hands its place in
	// starting to its new key.
	baseOf map[string]string

	// refused are the streams the directory refuses (ldap.watch as set up
	// cannot work until the server or the config is changed): the error,
	// and since when. refusedDirty: not yet written to the snapshot for
	// `dirsync status`. fallbackWhy is the error of the last fall back.
	refused      map[string]WatchRefusal
	refusedDirty bool
	fallbackWhy  error
}

// The watcher is a runnable of the service: whatever starts and stops it
// (a reload, a leader gate) needs nothing else of it.
var _ Runnable = (*Watcher)(nil)

// WatchRefusal is a stream the directory refuses, as `dirsync status`
// shows it (snapshot meta MetaWatchRefused).
type WatchRefusal struct {
	Since time.Time `json:"since"`
	Error string    `json:"error"`
}

// MetaWatchRefused is the snapshot meta key holding the streams the
// directory refuses now, a JSON list of WatchRefusal ("" or [] when none).
const MetaWatchRefused = "watch.refused"

// WatchTake is the work one run takes from the watcher (see FullReadTake).
type WatchTake struct {
	full    bool
	ids     []string
	dns     []string
	cookies map[string][]byte
	resync  map[string]bool
}

func (t *WatchTake) empty() bool {
	return len(t.ids) == 0 && len(t.dns) == 0 && len(t.resync) == 0
}

// WatchDeps is what the watcher needs of the service that runs it.
type WatchDeps struct {
	// Log is the watcher's logger.
	Log *zap.Logger
	// Metrics are the service's metrics.
	Metrics *Metrics
	// Runner runs the watcher's runs, one at a time with the others.
	Runner *Runner
	// RunCtx is the runs' context, cancelled to abort the run in flight.
	RunCtx context.Context
	// FullRead is an ordinary run, a full directory read; the watcher calls
	// it under Runner. It takes the watcher's events with FullReadTake.
	FullRead func()
	// OpenRun wires one change-event run with the config in force: the
	// snapshot open (and locked) until the EventRun is closed.
	OpenRun func(ctx context.Context) (EventRun, error)
	// Settle is told the outcome of each change-event run (a failed one may
	// drop what the platform client learned).
	Settle func(outcome string)
	// Summary returns the log fields that sum up a run.
	Summary func(rep dsync.Report, mode string, err error) []zap.Field
	// OpenMeta opens the snapshot's meta, where the watcher keeps its
	// cookies and the streams the directory refuses: read-only without
	// locking it, or for writing (locked until closed). A snapshot not made
	// yet is an error wrapping fs.ErrNotExist.
	OpenMeta func(ctx context.Context, readOnly bool) (Meta, error)
}

// Meta is the snapshot's meta, open (see WatchDeps.OpenMeta).
type Meta interface {
	dsync.MetaStore
	Close() error
}

// EventRun is one change-event run, wired: the engine and its snapshot.
type EventRun interface {
	// Snapshot returns the records of the snapshot (of every target's),
	// open for the run.
	Snapshot(ctx context.Context) ([]user.Record, error)
	// MetaStore keeps the change streams' cookies with the snapshot (with
	// every target's).
	dsync.MetaStore
	// RunEvents rereads and applies the changed entries (see
	// sync.Engine.RunEvents).
	RunEvents(ctx context.Context, ro dsync.RunOptions, ids, dns []string) (dsync.Report, error)
	// Close closes the snapshot.
	Close() error
}

// NewWatcher returns the watcher of the LDAP settings cfg, keeping its
// cookies in the snapshot's meta (d.OpenMeta), not started; nil when
// ldap.watch is off.
func NewWatcher(cfg ldapsource.Config, d WatchDeps) *Watcher {
	if cfg.Watch == "" || cfg.Watch == ldapsource.WatchOff {
		return nil
	}
	return &Watcher{
		d: d, log: d.Log, cfg: cfg,
		kick: make(chan struct{}, 1),
		ids:  map[string]bool{}, dns: map[string]bool{}, cookies: map[string][]byte{},
		resync: map[string]bool{}, connected: map[string]bool{},
		started: make(chan struct{}), starting: map[string]bool{}, refused: map[string]WatchRefusal{},
	}
}

// Start follows the directory and starts the runs of its changes until ctx
// is done. Events not yet applied are dropped then: their cookies were not
// kept, so they are seen again.
func (w *Watcher) Start(ctx context.Context) error {
	var wg gosync.WaitGroup
	wg.Go(func() { w.dispatch(ctx) })
	w.follow(ctx)
	w.markStarted() // follow ended (stopped, or it could not start)
	wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.retry != nil {
		w.retry.Stop()
	}
	w.d.Metrics.WatchConnected.Set(0)
	w.d.Metrics.WatchRefused.Set(0)
	return nil
}

// follow resolves the mode and runs the change streams until ctx is done,
// retrying with backoff while the directory cannot be reached.
func (w *Watcher) follow(ctx context.Context) {
	src, err := ldapsource.New(w.cfg)
	if err != nil { // validated with the config
		w.log.Error("watch cannot start", zap.Error(err))
		return
	}
	backoff := time.Second
	var mode string
	for {
		mode, err = src.ResolveWatchMode(ctx)
		if err == nil || ctx.Err() != nil {
			break
		}
		w.log.Warn("watch: the directory cannot be reached to start the change stream; retrying", zap.Duration("in", backoff), zap.Error(err))
		w.markStarted() // the runs need not wait: the stream asks for its full read when it starts
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Minute)
	}
	if ctx.Err() != nil {
		return
	}
	keys := src.StreamKeys(mode)
	load := slices.Collect(maps.Values(keys))
	if mode != ldapsource.WatchPoll {
		// A stream that falls back to poll resumes from its poll cookie.
		load = append(load, slices.Collect(maps.Values(src.StreamKeys(ldapsource.WatchPoll)))...)
	}
	cookies, err := loadCookies(ctx, w.d.OpenMeta, load)
	if err != nil {
		w.log.Warn("watch: cannot read the saved cookies; starting from scratch (a full read follows)", zap.Error(err))
	}
	if stale := recordedRefusals(ctx, w.d.OpenMeta); stale {
		w.mu.Lock()
		w.refusedDirty = true // clear what an earlier process recorded, unless it still holds
		w.mu.Unlock()
	}
	w.log.Info("watch started", zap.String("mode", mode), zap.Strings("base_dns", slices.Sorted(maps.Keys(keys))),
		zap.Int("resumed_streams", resumed(keys, cookies)), zap.Int("streams", len(keys)))
	w.mu.Lock()
	for _, k := range keys {
		if cookies[k] == nil {
			w.starting[k] = true
		}
	}
	none := len(w.starting) == 0
	w.baseOf = map[string]string{}
	for _, m := range []string{ldapsource.WatchSyncrepl, ldapsource.WatchDirSync, ldapsource.WatchPoll} {
		for base, k := range src.StreamKeys(m) {
			w.baseOf[k] = base
		}
	}
	w.mu.Unlock()
	if none {
		w.markStarted()
	}
	src.Watch(ctx, mode, cookies, ldapsource.WatchHooks{ //nolint:errcheck // ctx's error
		Change:    w.onChange,
		Connected: w.onConnected,
		Mode: func(stream, mode string) {
			w.mu.Lock()
			why := w.fallbackWhy
			for k := range w.starting {
				if k != stream && w.baseOf[k] == w.baseOf[stream] {
					delete(w.starting, k)
					w.starting[stream] = true
				}
			}
			w.mu.Unlock()
			w.log.Warn("watch: falling back", zap.String("stream", stream), zap.String("mode", mode), zap.Error(why))
		},
	})
}

// markStarted releases the runs waiting for the streams' start positions.
func (w *Watcher) markStarted() {
	w.startOnce.Do(func() { close(w.started) })
}

// positioned records that stream has its start position, or failed to
// get one.
func (w *Watcher) positioned(stream string) {
	w.mu.Lock()
	was := w.starting[stream]
	delete(w.starting, stream)
	done := was && len(w.starting) == 0
	w.mu.Unlock()
	if done {
		w.markStarted()
	}
}

// awaitStart waits, up to limit, until the streams have their start
// positions: a full read started after that covers what they need, and
// takes their cookies (see FullReadTake).
func (w *Watcher) awaitStart(ctx context.Context, limit time.Duration) {
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-w.started:
	case <-ctx.Done():
	case <-t.C:
		w.log.Warn("watch: the change stream did not start in time; the run reads the directory without it (the stream asks for a full read of its own)", zap.Duration("waited", limit))
	}
}

// resumed counts the streams of keys that have a kept cookie.
func resumed(keys map[string]string, cookies map[string][]byte) int {
	n := 0
	for _, k := range keys {
		if cookies[k] != nil {
			n++
		}
	}
	return n
}

// loadCookies reads the kept cookies of keys from the snapshot, without
// locking it.
func loadCookies(ctx context.Context, open func(context.Context, bool) (Meta, error), keys []string) (map[string][]byte, error) {
	out := make(map[string][]byte)
	db, err := open(ctx, true)
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil // no snapshot yet: every stream starts afresh
	}
	if err != nil {
		return nil, err
	}
	defer db.Close()
	for _, k := range keys {
		v, ok, err := db.GetMeta(ctx, k)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		c, err := base64.StdEncoding.DecodeString(v)
		if err != nil || len(c) == 0 {
			continue // unreadable: start that stream afresh
		}
		out[k] = c
	}
	return out, nil
}

func (w *Watcher) onConnected(stream string, up bool, err error) {
	if up || !errors.Is(err, ldapsource.ErrFallingBack) {
		// Up (resumed, or it told its position before), or it failed to
		// start: the runs need not wait for it. A stream that falls back
		// starts again under its new mode (see the Mode hook).
		w.positioned(stream)
	}
	w.mu.Lock()
	was := w.connected[stream]
	w.connected[stream] = up
	n := 0
	for _, c := range w.connected {
		if c {
			n++
		}
	}
	_, wasRefused := w.refused[stream]
	isRefused := !up && errors.Is(err, ldapsource.ErrStreamRefused)
	switch {
	case up && wasRefused:
		delete(w.refused, stream)
		w.refusedDirty = true
	case isRefused && !wasRefused:
		w.refused[stream] = WatchRefusal{Since: time.Now().UTC(), Error: err.Error()}
		w.refusedDirty = true
	case !up && errors.Is(err, ldapsource.ErrFallingBack):
		w.fallbackWhy = err
	}
	nRefused := len(w.refused)
	w.mu.Unlock()
	w.d.Metrics.WatchConnected.Set(float64(n))
	w.d.Metrics.WatchRefused.Set(float64(nRefused))
	switch {
	case up && wasRefused:
		w.log.Info("watch: the directory accepts the change stream again", zap.String("stream", stream))
		w.Poke()
	case up && !was:
		w.log.Info("watch connected", zap.String("stream", stream))
	case isRefused:
		w.d.Metrics.WatchRefusals.Inc()
		if !wasRefused {
			// Once: retrying does not heal it; the error says what to
			// change. Until then the scheduled runs carry the changes.
			w.log.Error("watch: the directory refuses the change stream; changes wait for the scheduled runs until the server or ldap.watch is changed (retrying with backoff)",
				zap.String("stream", stream), zap.Error(err))
			w.Poke()
		} else {
			w.log.Debug("watch: the directory still refuses the change stream", zap.String("stream", stream), zap.Error(err))
		}
	case !up && errors.Is(err, ldapsource.ErrFallingBack):
		// "watch: falling back" says why.
	case !up:
		w.log.Warn("watch disconnected; reconnecting with backoff", zap.String("stream", stream), zap.Error(err))
	}
}

// refusal says which stream the directory refuses, since when and why (the
// error says what to change), when it refuses one: ldap.watch as set up
// cannot follow the directory. A stream that falls back to a mode that works
// is not refused.
func (w *Watcher) Refusal() (string, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.refused) == 0 {
		return "", false
	}
	list := slices.SortedFunc(maps.Values(w.refused), func(a, b WatchRefusal) int { return strings.Compare(a.Error, b.Error) })
	r := list[0]
	why := fmt.Sprintf("the directory refuses the change stream of ldap.watch: %s since %s; changes wait for the scheduled runs until the server or ldap.watch is changed: %s",
		w.cfg.Watch, r.Since.Format(time.RFC3339), r.Error)
	if len(list) > 1 {
		why += fmt.Sprintf(" (and %d more streams refused; see dirsync status)", len(list)-1)
	}
	return why, true
}

// recordRefused writes the streams the directory refuses into the snapshot,
// for `dirsync status`. It runs under the Runner, between runs.
func (w *Watcher) recordRefused() {
	w.mu.Lock()
	if !w.refusedDirty {
		w.mu.Unlock()
		return
	}
	w.refusedDirty = false
	list := slices.SortedFunc(maps.Values(w.refused), func(a, b WatchRefusal) int { return strings.Compare(a.Error, b.Error) })
	w.mu.Unlock()
	if len(list) == 0 {
		db, err := w.d.OpenMeta(w.d.RunCtx, true)
		if errors.Is(err, fs.ErrNotExist) {
			return // nothing to clear: no snapshot yet
		}
		if err == nil {
			db.Close()
		}
	}
	err := func() error {
		v, err := json.Marshal(list)
		if err != nil {
			return err
		}
		db, err := w.d.OpenMeta(w.d.RunCtx, false)
		if err != nil {
			return err
		}
		if err := db.SetMeta(w.d.RunCtx, MetaWatchRefused, string(v)); err != nil {
			db.Close()
			return err
		}
		return db.Close()
	}()
	if err != nil {
		w.mu.Lock()
		w.refusedDirty = true
		w.mu.Unlock()
		w.log.Warn("watch: cannot record the refused change stream in the snapshot; trying again after the next run", zap.Error(err))
	}
}

func (w *Watcher) onChange(c ldapsource.Change) {
	w.mu.Lock()
	for _, id := range c.IDs {
		w.ids[id] = true
	}
	for _, dn := range c.DNs {
		w.dns[dn] = true
	}
	if c.Cookie != nil {
		w.cookies[c.Stream] = c.Cookie
	}
	if c.Resync {
		w.resync[c.Stream] = true
	}
	w.mu.Unlock()
	if c.Resync || c.Cookie != nil {
		w.positioned(c.Stream)
	}
	w.d.Metrics.WatchEvents.WithLabelValues("change").Add(float64(len(c.IDs) + len(c.DNs)))
	if c.Resync {
		w.d.Metrics.WatchEvents.WithLabelValues("resync").Inc()
		w.log.Info("watch: the change stream cannot tell what changed before now; a full directory read follows", zap.String("stream", c.Stream))
	}
	w.Poke()
}

// poke wakes the dispatcher.
func (w *Watcher) Poke() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// dispatch starts a run for the gathered events whenever there are some
// and no run is going; a run that ends pokes it again.
func (w *Watcher) dispatch(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.kick:
		}
		w.mu.Lock()
		resync := len(w.resync) > 0
		work := len(w.ids) > 0 || len(w.dns) > 0
		waiting := w.retry != nil
		record := w.refusedDirty
		w.mu.Unlock()
		if record && w.d.Runner.Go(true, w.recordRefused) {
			continue // it pokes again when it ends, as a run going does
		}
		switch {
		case waiting:
			// A failed run backs off; the timer pokes.
		case resync:
			// An ordinary run reads the whole directory; it takes the
			// events and cookies gathered so far (see FullReadTake).
			w.d.Runner.Go(false, w.d.FullRead)
		case work:
			w.d.Runner.Go(true, w.runChanged)
		}
	}
}

// take removes the work a run handles. A full read takes every event and
// every cookie; an event run takes the events, and the cookies of the
// streams that need no full read.
func (w *Watcher) take(full bool) *WatchTake {
	w.mu.Lock()
	defer w.mu.Unlock()
	t := &WatchTake{full: full, cookies: map[string][]byte{}}
	t.ids = slices.Collect(maps.Keys(w.ids))
	t.dns = slices.Collect(maps.Keys(w.dns))
	clear(w.ids)
	clear(w.dns)
	for k, c := range w.cookies {
		if full || !w.resync[k] {
			t.cookies[k] = c
		}
	}
	if full {
		t.resync = w.resync
		w.resync = map[string]bool{}
	}
	return t
}

// giveBack returns the work of a run that did not complete.
func (w *Watcher) giveBack(t *WatchTake) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, id := range t.ids {
		w.ids[id] = true
	}
	for _, dn := range t.dns {
		w.dns[dn] = true
	}
	for k := range t.resync {
		w.resync[k] = true
	}
}

// kept records that t's cookies are in the snapshot: they need not be
// written again.
func (w *Watcher) kept(t *WatchTake) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for k, c := range t.cookies {
		if string(w.cookies[k]) == string(c) {
			delete(w.cookies, k)
		}
	}
}

// backoff schedules the next attempt after a failed event run.
func (w *Watcher) backoff() time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.failures++
	d := min(watchRetryMin<<min(w.failures-1, 10), watchRetryMax)
	if w.retry != nil {
		w.retry.Stop()
	}
	w.retry = time.AfterFunc(d, func() {
		w.mu.Lock()
		w.retry = nil
		w.mu.Unlock()
		w.Poke()
	})
	return d
}

func (w *Watcher) succeeded() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.failures = 0
}

// saveCookies writes t's cookies into the snapshot a run has open.
func (w *Watcher) saveCookies(ctx context.Context, ms dsync.MetaStore, t *WatchTake) error {
	for k, c := range t.cookies {
		if err := ms.SetMeta(ctx, k, base64.StdEncoding.EncodeToString(c)); err != nil {
			return fmt.Errorf("keep the change stream's cookie: %w", err)
		}
	}
	w.kept(t)
	return nil
}

// runChanged is one event run: it reads the changed users again and syncs
// them. It runs under the Runner.
func (w *Watcher) runChanged() {
	t := w.take(false)
	if t.empty() {
		return
	}
	ctx := w.d.RunCtx
	start := time.Now()
	rep, n, err := w.applyChanged(ctx, t)
	outcome := rep.Outcome(err)
	w.d.Settle(outcome)
	w.d.Metrics.WatchRuns.WithLabelValues(outcome).Inc()
	fields := append(w.d.Summary(rep, "watch", err), zap.Int("events", n), zap.Duration("latency", time.Since(start)))
	var se *dsync.SafetyError
	switch {
	case Completed(outcome):
		w.succeeded()
		if outcome == dsync.OutcomeSuccess {
			w.log.Info("watch run finished", fields...)
		} else {
			w.log.Warn("watch run finished", fields...)
		}
	case errors.As(err, &se):
		// Retrying would be refused again: the scheduled run reports it
		// with the whole directory in view.
		w.succeeded()
		w.log.Error("watch run refused by the safety limits; the changes wait for the scheduled run", fields...)
	default:
		w.giveBack(t)
		if ctx.Err() != nil {
			w.log.Warn("watch run interrupted", fields...)
			return
		}
		d := w.backoff()
		w.log.Error("watch run failed; retrying", append(fields, zap.Duration("retry_in", d))...)
	}
}

// applyChanged rereads and applies t's events, and keeps the cookies when
// the run completes. n is the number of entries named.
func (w *Watcher) applyChanged(ctx context.Context, t *WatchTake) (rep dsync.Report, n int, err error) {
	a, err := w.d.OpenRun(ctx)
	if err != nil {
		return rep, 0, err
	}
	defer func() {
		if cerr := a.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close snapshot: %w", cerr)
		}
	}()
	ids := t.ids
	if len(t.dns) > 0 {
		more, err := idsByDN(ctx, a, t.dns)
		if err != nil {
			return rep, 0, err
		}
		ids = append(ids, more...)
	}
	n = len(t.ids) + len(t.dns)
	// The reconciler counts the removals against those made since the last
	// full read.
	rep, err = a.RunEvents(ctx, dsync.RunOptions{Mode: "watch"}, ids, t.dns)
	if !Completed(rep.Outcome(err)) {
		return rep, n, err
	}
	if serr := w.saveCookies(ctx, a, t); serr != nil {
		w.log.Warn("the changes landed but the cookie was not kept; a restart sees them again", zap.Error(serr))
	}
	return rep, n, err
}

// idsByDN resolves DNs to the IDs of the snapshot records that have them.
func idsByDN(ctx context.Context, st interface {
	Snapshot(ctx context.Context) ([]user.Record, error)
}, dns []string) ([]string, error) {
	want := make([]*ldap.DN, 0, len(dns))
	for _, dn := range dns {
		if p, err := ldap.ParseDN(dn); err == nil {
			want = append(want, p)
		}
	}
	recs, err := st.Snapshot(ctx)
	if err != nil {
		return nil, fmt.Errorf("read snapshot: %w", err)
	}
	var ids []string
	for _, r := range recs {
		p, err := ldap.ParseDN(r.User.DN)
		if err != nil {
			continue
		}
		if slices.ContainsFunc(want, func(d *ldap.DN) bool { return d.EqualFold(p) }) {
			ids = append(ids, r.User.ID)
		}
	}
	return ids, nil
}

// FullReadTake is what an ordinary run takes from the watcher: every event
// and cookie gathered before its directory read. It first waits, up to
// limit, for the streams' start positions, so that the run at start-up is
// also the full read new streams ask for.
func (w *Watcher) FullReadTake(ctx context.Context, limit time.Duration) *WatchTake {
	w.awaitStart(ctx, limit)
	return w.take(true)
}

// FullReadDone settles what an ordinary run took: when it completed (ok),
// its cookies are kept in ms, the snapshot the run has open; otherwise the
// work goes back.
func (w *Watcher) FullReadDone(ctx context.Context, ms dsync.MetaStore, t *WatchTake, ok bool) {
	if t == nil {
		return
	}
	if !ok || ms == nil {
		w.giveBack(t)
		if len(t.resync) > 0 {
			// The full read the stream asked for waits, not to loop on
			// a directory or platform that is down.
			w.backoff()
		}
		return
	}
	w.succeeded()
	// The run itself started the event runs' removal count again.
	if err := w.saveCookies(ctx, ms, t); err != nil {
		w.log.Warn("the run completed but the change stream's cookie was not kept", zap.Error(err))
	}
}

// recordedRefusals reports whether the snapshot holds refused streams
// recorded earlier, without locking it.
func recordedRefusals(ctx context.Context, open func(context.Context, bool) (Meta, error)) bool {
	db, err := open(ctx, true)
	if err != nil {
		return false
	}
	defer db.Close()
	list, err := ReadWatchRefusals(ctx, db)
	return err != nil || len(list) > 0
}

// ReadWatchRefusals reads the change streams the directory refused when the
// service last looked (`dirsync run` with ldap.watch), for `dirsync status`.
func ReadWatchRefusals(ctx context.Context, ms interface {
	GetMeta(ctx context.Context, key string) (string, bool, error)
}) ([]WatchRefusal, error) {
	v, ok, err := ms.GetMeta(ctx, MetaWatchRefused)
	if err != nil || !ok || v == "" {
		return nil, err
	}
	var list []WatchRefusal
	if err := json.Unmarshal([]byte(v), &list); err != nil {
		return nil, fmt.Errorf("snapshot meta %s: %w", MetaWatchRefused, err)
	}
	return list, nil
}
