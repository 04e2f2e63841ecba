package service

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	dsync "github.com/dirsync/dirsync/sync"
)

func TestStatus_Ready(t *testing.T) {
	started := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		st     Status
		now    time.Time
		ready  bool
		reason string
	}{
		{"before the first run", Status{Started: started}, started.Add(48 * time.Hour), true, "ok: no run has finished yet"},
		{"a partial run completed", Status{Started: started, LastOutcome: dsync.OutcomePartial}, started.Add(48 * time.Hour), true, "ok: last run partial"},
		{"failed within the staleness of start-up",
			Status{Started: started, LastOutcome: dsync.OutcomeFailed, ReadinessStaleness: time.Hour},
			started.Add(30 * time.Minute), true, "ok: last run failed, within readiness_staleness 1h0m0s of start-up"},
		{"failed beyond the staleness of start-up",
			Status{Started: started, LastOutcome: dsync.OutcomeFailed, ReadinessStaleness: time.Hour},
			started.Add(61 * time.Minute), false,
			"not ready: last run failed, and no run has completed since start-up 1h1m0s ago (readiness_staleness 1h0m0s); see the logs"},
		{"refused beyond the staleness of the last completed run",
			Status{Started: started, LastOutcome: dsync.OutcomeRefused, LastSuccess: started.Add(time.Hour), ReadinessStaleness: time.Hour},
			started.Add(2*time.Hour + time.Second), false,
			"not ready: last run refused, and no run has completed since the last completed run 1h0m1s ago (readiness_staleness 1h0m0s); see the logs"},
		{"the change stream refused, runs fine",
			Status{Started: started, LastOutcome: dsync.OutcomeSuccess, WatchRefused: "the directory refuses it"},
			started, false, "not ready: the directory refuses it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ready, reason := tc.st.Ready(tc.now)
			if ready != tc.ready || reason != tc.reason {
				t.Errorf("Ready = %t %q, want %t %q", ready, reason, tc.ready, tc.reason)
			}
		})
	}
}

func TestListener_ReadyzAnswersFromTheStatusSnapshotAtTheListenersClock(t *testing.T) {
	started := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	st := make(chan Status, 1)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := NewListener(ln, NewMetrics("test"), func() Status { s := <-st; st <- s; return s }, DefaultListenerLimits)
	now := started.Add(2 * time.Hour)
	l.now = func() time.Time { return now }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Start(ctx) }()

	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get("http://" + ln.Addr().String() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, strings.TrimSpace(string(b))
	}
	st <- Status{Started: started, LastOutcome: dsync.OutcomeFailed, ReadinessStaleness: time.Hour}
	if code, why := get("/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(why, "readiness_staleness 1h0m0s") {
		t.Errorf("/readyz after failed runs for 2h = %d %q, want 503 naming readiness_staleness", code, why)
	}
	<-st
	st <- Status{Started: started, LastOutcome: dsync.OutcomeSuccess, LastSuccess: now}
	if code, why := get("/readyz"); code != http.StatusOK || why != "ok: last run success" {
		t.Errorf("/readyz after a successful run = %d %q", code, why)
	}
	if code, why := get("/healthz"); code != http.StatusOK || why != "ok" {
		t.Errorf("/healthz = %d %q", code, why)
	}
	if code, body := get("/metrics"); code != http.StatusOK || !strings.Contains(body, `dirsync_build_info{version="test"} 1`) {
		t.Errorf("/metrics = %d, without the build info", code)
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Start after its context is done: %v, want nil", err)
	}
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Error("the listener still accepts connections after Start returned")
	}
}

func TestListener_StartFailsWhenServingFails(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close() // the socket is gone: Serve fails at once
	l := NewListener(ln, NewMetrics("test"), func() Status { return Status{} }, DefaultListenerLimits)
	if err := l.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "serve "+ln.Addr().String()) {
		t.Fatalf("Start on a closed socket: %v, want an error naming the address", err)
	}
}
