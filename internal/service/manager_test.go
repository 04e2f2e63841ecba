package service

import (
	"context"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
)

// drainEnv is a manager whose runner has one run going: it ends when
// release is closed, or, unless it ignores the cancellation, when the
// runs' context is cancelled.
type drainEnv struct {
	m         *Manager
	release   chan struct{}
	cancelled chan struct{}
	sigs      chan os.Signal
}

func newDrainEnv(t *testing.T, grace time.Duration, ignoreCancel bool) *drainEnv {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	e := &drainEnv{release: make(chan struct{}), cancelled: make(chan struct{}), sigs: make(chan os.Signal, 2)}
	runCtx := ctx
	if ignoreCancel {
		runCtx = context.Background()
	}
	var cancelOnce bool
	r := NewRunner(func(string) {
		select {
		case <-e.release:
		case <-runCtx.Done():
		}
	}, nil, zap.NewNop(), NewMetrics("test"))
	e.m = &Manager{Log: zap.NewNop(), Runner: r, Grace: grace, AbortWait: 50 * time.Millisecond,
		CancelRun: func() {
			if !cancelOnce {
				cancelOnce = true
				close(e.cancelled)
			}
			cancel()
		}}
	t.Cleanup(func() {
		select {
		case <-e.release:
		default:
			close(e.release)
		}
		r.Wait()
	})
	r.Trigger("test")
	return e
}

func (e *drainEnv) wasCancelled() bool {
	select {
	case <-e.cancelled:
		return true
	default:
		return false
	}
}

func TestManager_DrainLetsTheRunFinishWithinGrace(t *testing.T) {
	e := newDrainEnv(t, time.Hour, false)
	errc := make(chan error, 1)
	go func() { errc <- e.m.Drain(e.sigs) }()
	e.sigs <- syscall.SIGHUP // a reload while stopping cancels nothing
	close(e.release)
	if err := <-errc; err != nil {
		t.Fatalf("Drain: %v", err)
	}
	if e.wasCancelled() {
		t.Errorf("the run was cancelled though it finished within the grace period")
	}
}

func TestManager_DrainCancelsTheRunWhenGraceEnds(t *testing.T) {
	e := newDrainEnv(t, 0, false)
	if err := e.m.Drain(e.sigs); err != nil {
		t.Fatalf("Drain: %v", err)
	}
	if !e.wasCancelled() {
		t.Errorf("the run was not cancelled after the grace period")
	}
}

func TestManager_ASecondStopSignalCancelsTheRun(t *testing.T) {
	e := newDrainEnv(t, time.Hour, false)
	e.sigs <- syscall.SIGTERM
	if err := e.m.Drain(e.sigs); err != nil {
		t.Fatalf("Drain: %v", err)
	}
	if !e.wasCancelled() {
		t.Errorf("the run was not cancelled at the second signal")
	}
}

func TestManager_DrainFailsWhenTheCancelledRunDoesNotStop(t *testing.T) {
	e := newDrainEnv(t, 0, true)
	err := e.m.Drain(e.sigs)
	if err == nil || !strings.Contains(err.Error(), "did not stop within 50ms") {
		t.Fatalf("Drain: %v, want the run did not stop within 50ms", err)
	}
}

func TestManager_GoStopsTheRunnable(t *testing.T) {
	m := &Manager{Log: zap.NewNop()}
	started := make(chan struct{})
	ended := false
	stop := m.Go(context.Background(), "test", runnableFunc(func(ctx context.Context) error {
		close(started)
		<-ctx.Done()
		ended = true
		return nil
	}))
	<-started
	stop()
	if !ended {
		t.Errorf("stop returned before the runnable did")
	}
}

type runnableFunc func(ctx context.Context) error

func (f runnableFunc) Start(ctx context.Context) error { return f(ctx) }

func TestManager_ServeReloadsAtSIGHUPAndStopsAtSIGTERM(t *testing.T) {
	var states []string
	m := &Manager{Log: zap.NewNop(), Notify: func(s string) { states = append(states, s) }}
	sigs := make(chan os.Signal, 2)
	sigs <- syscall.SIGHUP
	sigs <- syscall.SIGTERM
	reloads, stops := 0, 0
	failed, err := m.Serve(sigs, make(chan error), func() { reloads++ }, func() error { stops++; return nil })
	if failed || err != nil {
		t.Fatalf("Serve: failed %v, err %v", failed, err)
	}
	if reloads != 1 || stops != 1 {
		t.Errorf("reloads %d, stops %d: want 1 and 1", reloads, stops)
	}
	if want := []string{"RELOADING=1", "READY=1", "STOPPING=1"}; strings.Join(states, ",") != strings.Join(want, ",") {
		t.Errorf("notified %q, want %q", states, want)
	}
}

func TestManager_AFailedPartStopsTheService(t *testing.T) {
	m := &Manager{Log: zap.NewNop(), Notify: func(string) {}}
	failedc := make(chan error, 1)
	failedc <- errors.New("listener broke")
	failed, err := m.Serve(make(chan os.Signal), failedc, func() { t.Error("reloaded") }, func() error { return errors.New("run did not stop") })
	if !failed {
		t.Errorf("Serve did not report the failed part")
	}
	if err == nil || !strings.Contains(err.Error(), "listener broke") || !strings.Contains(err.Error(), "run did not stop") {
		t.Errorf("Serve: %v, want the part's error and stop's", err)
	}
}
