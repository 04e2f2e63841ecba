package service

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"go.uber.org/zap"
)

// Manager starts the service's runnables and stops them: the parts that run
// in the background (the scheduler, the watcher) and the runs of Runner,
// which get a grace period to finish when the service stops.
type Manager struct {
	// Log is the service's logger.
	Log *zap.Logger
	// Runner runs the service's runs.
	Runner *Runner
	// CancelRun cancels the runs' context: the run in flight is aborted.
	CancelRun func()
	// Grace is how long the run in flight may take to finish once the
	// service stops, before it is cancelled.
	Grace time.Duration
	// AbortWait bounds the wait for a cancelled run to stop.
	AbortWait time.Duration
	// Notify tells systemd of the service's state (see SDNotify).
	Notify func(state string)
}

// Go starts r in the background with a context of its own (ctx's values,
// not its cancellation), and returns the function that stops it (cancels
// that context) and waits for it to return. An error r returns is logged
// under name.
func (m *Manager) Go(ctx context.Context, name string, r Runnable) (stop func()) {
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := r.Start(rctx); err != nil {
			m.Log.Error(name+" stopped", zap.Error(err))
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

// Drain waits for the run in flight, and those it hands over to, once the
// runner starts no more: for Grace, then (or at a second stop signal on
// sigs; SIGHUP is ignored) it cancels them and waits up to AbortWait more.
// It returns an error when the cancelled run did not stop in that time.
func (m *Manager) Drain(sigs <-chan os.Signal) error {
	m.Runner.Stop()
	done := make(chan struct{})
	go func() {
		m.Runner.Wait()
		close(done)
	}()
	grace := time.NewTimer(m.Grace)
	defer grace.Stop()
wait:
	for {
		select {
		case <-done:
			m.Log.Info("stopped")
			return nil
		case <-grace.C:
			m.Log.Warn("grace period over: cancelling the run in flight", zap.Duration("grace", m.Grace))
			break wait
		case sig := <-sigs:
			if sig != syscall.SIGHUP {
				m.Log.Warn("second signal: cancelling the run in flight", zap.String("signal", sig.String()))
				break wait
			}
		}
	}
	m.CancelRun()
	abort := time.NewTimer(m.AbortWait)
	defer abort.Stop()
	select {
	case <-done:
		m.Log.Info("stopped")
		return nil
	case <-abort.C:
		return fmt.Errorf("the cancelled run did not stop within %s; exiting anyway (the next run redoes what did not land)", m.AbortWait)
	}
}

// Serve is the service's loop once it has started, until it stops: a SIGHUP
// on sigs calls reload; SIGTERM or SIGINT, or an error on failed (a part
// that cannot go on, such as the HTTP listener), calls stop, which stops the
// parts and drains the runs (see Drain). With WatchdogSec= in the systemd
// unit the loop pings systemd: a wedged loop gets the service restarted.
// Serve returns stop's error, joined with failed's when that stopped it;
// partFailed reports that it did (the service did not stop as asked).
func (m *Manager) Serve(sigs <-chan os.Signal, failed <-chan error, reload func(), stop func() error) (partFailed bool, err error) {
	var watchdog <-chan time.Time
	if every := WatchdogInterval(); every > 0 {
		t := time.NewTicker(every)
		defer t.Stop()
		watchdog = t.C
	}
	for {
		select {
		case <-watchdog:
			m.Notify("WATCHDOG=1")
		case err := <-failed:
			m.Log.Warn("the HTTP listener failed: stopping")
			m.Notify("STOPPING=1")
			return true, errors.Join(err, stop())
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				m.Notify("RELOADING=1")
				reload()
				m.Notify("READY=1")
				continue
			}
			m.Log.Info("stopping", zap.String("signal", sig.String()), zap.Duration("grace", m.Grace))
			m.Notify("STOPPING=1")
			return false, stop()
		}
	}
}
