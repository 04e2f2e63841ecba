package service

import (
	"context"
	"strings"
	gosync "sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap"

	"github.com/dirsync/dirsync/internal/pgtest"
	"github.com/dirsync/dirsync/internal/proxytest"
	"github.com/dirsync/dirsync/state/postgres"
)

// leadCounter is the Lead runnable of the tests: it counts the processes
// leading at once and the terms each led.
type leadCounter struct {
	active *atomic.Int32 // shared by every gate of a test
	max    *atomic.Int32
	terms  atomic.Int32
	on     chan struct{} // a value each time a term starts
}

func (l *leadCounter) Start(ctx context.Context) error {
	n := l.active.Add(1)
	for {
		m := l.max.Load()
		if n <= m || l.max.CompareAndSwap(m, n) {
			break
		}
	}
	l.terms.Add(1)
	l.on <- struct{}{}
	<-ctx.Done()
	l.active.Add(-1)
	return nil
}

func gaugeValue(t *testing.T, m *Metrics) float64 {
	t.Helper()
	var d dto.Metric
	if err := m.Leader.Write(&d); err != nil {
		t.Fatal(err)
	}
	return d.GetGauge().GetValue()
}

// TestLeaderGate_OneLeadsAndAStandbyTakesOverWhenItLosesTheDatabase: two
// gates on one database; only one leads. The leader's database connection
// is cut: it stops leading by itself, and the standby leads after the
// lease expired, never while the other still does.
func TestLeaderGate_OneLeadsAndAStandbyTakesOverWhenItLosesTheDatabase(t *testing.T) {
	srv := pgtest.Start(t)
	url := srv.NewDatabase(t)
	const ttl = 2 * time.Second
	var active, maxActive atomic.Int32

	type member struct {
		gate  *LeaderGate
		lead  *leadCounter
		proxy *proxytest.Proxy
		m     *Metrics
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg gosync.WaitGroup
	defer wg.Wait()
	var members []*member
	for _, name := range []string{"a", "b"} {
		p := proxytest.Start(t, srv.Addr())
		viaProxy := strings.Replace(url, srv.Addr(), p.Addr(), 1)
		mb := &member{lead: &leadCounter{active: &active, max: &maxActive, on: make(chan struct{}, 10)}, proxy: p, m: NewMetrics("test")}
		mb.gate = &LeaderGate{
			Elector: ElectorFunc(func(ctx context.Context) (Term, error) {
				return postgres.Campaign(ctx, viaProxy, name, ttl, 100*time.Millisecond)
			}),
			Lead: mb.lead, Log: zap.NewNop(), Metrics: mb.m, Retry: 100 * time.Millisecond,
		}
		members = append(members, mb)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := mb.gate.Start(ctx); err != nil {
				t.Errorf("gate %s: %v", name, err)
			}
		}()
	}

	waitLead := func(within time.Duration) *member {
		t.Helper()
		deadline := time.After(within)
		for {
			for _, mb := range members {
				select {
				case <-mb.lead.on:
					return mb
				default:
				}
			}
			select {
			case <-deadline:
				t.Fatalf("no gate leads after %s", within)
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	first := waitLead(10 * time.Second)
	if gaugeValue(t, first.m) != 1 {
		t.Errorf("dirsync_leader of the leader = %v, want 1", gaugeValue(t, first.m))
	}
	var standby *member
	for _, mb := range members {
		if mb != first {
			standby = mb
		}
	}
	if gaugeValue(t, standby.m) != 0 {
		t.Errorf("dirsync_leader of the standby = %v, want 0", gaugeValue(t, standby.m))
	}

	cut := time.Now()
	first.proxy.SetDown(true)
	second := waitLead(15 * time.Second)
	if second != standby {
		t.Fatalf("the cut leader led again while cut off")
	}
	if took := time.Since(cut); took > 15*time.Second {
		t.Errorf("the standby took over %s after the cut, want within 15s", took)
	}
	if gaugeValue(t, first.m) != 0 {
		t.Errorf("dirsync_leader of the cut leader = %v, want 0", gaugeValue(t, first.m))
	}
	if n := maxActive.Load(); n != 1 {
		t.Errorf("%d gates led at once", n)
	}
	cancel()
	wg.Wait()
	if active.Load() != 0 {
		t.Errorf("%d leads still running after the gates stopped", active.Load())
	}
}

// TestLeaderGate_StopResignsSoTheStandbyLeadsAtOnce: a leader that stops
// (SIGTERM) gives the lease up; the standby need not wait for it to expire.
func TestLeaderGate_StopResignsSoTheStandbyLeadsAtOnce(t *testing.T) {
	url := pgtest.Start(t).NewDatabase(t)
	const ttl = time.Minute // far longer than the test may wait
	var active, maxActive atomic.Int32
	newGate := func(name string, l *leadCounter) *LeaderGate {
		return &LeaderGate{
			Elector: ElectorFunc(func(ctx context.Context) (Term, error) {
				return postgres.Campaign(ctx, url, name, ttl, 100*time.Millisecond)
			}),
			Lead: l, Log: zap.NewNop(), Metrics: NewMetrics("test"), Retry: 100 * time.Millisecond,
		}
	}
	la := &leadCounter{active: &active, max: &maxActive, on: make(chan struct{}, 10)}
	lb := &leadCounter{active: &active, max: &maxActive, on: make(chan struct{}, 10)}
	actx, stopA := context.WithCancel(context.Background())
	aDone := make(chan error, 1)
	go func() { aDone <- newGate("a", la).Start(actx) }()
	<-la.on
	bctx, stopB := context.WithCancel(context.Background())
	defer stopB()
	bDone := make(chan error, 1)
	go func() { bDone <- newGate("b", lb).Start(bctx) }()

	stopA()
	if err := <-aDone; err != nil {
		t.Fatalf("gate a: %v", err)
	}
	select {
	case <-lb.on:
	case <-time.After(10 * time.Second):
		t.Fatal("the standby does not lead 10s after the leader stopped")
	}
	stopB()
	if err := <-bDone; err != nil {
		t.Fatalf("gate b: %v", err)
	}
	if n := maxActive.Load(); n != 1 {
		t.Errorf("%d gates led at once", n)
	}
}

// TestStatus_AStandbyIsReadyWhateverItsLastRun: a process that lost the
// lease after a failed run stands by; it is not the one to replace.
func TestStatus_AStandbyIsReadyWhateverItsLastRun(t *testing.T) {
	started := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
	st := Status{Started: started, LastOutcome: "failed", ReadinessStaleness: time.Hour, Leader: RoleStandby}
	if ok, why := st.Ready(started.Add(48 * time.Hour)); !ok || !strings.Contains(why, "standing by") {
		t.Errorf("Ready = %v, %q; want ready, standing by", ok, why)
	}
}
