package service

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

func TestSDNotify_SendsTheStateToTheNotifySocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Setenv("NOTIFY_SOCKET", path)
	if err := SDNotify("READY=1\nSTATUS=serving"); err != nil {
		t.Fatal(err)
	}
	if err := conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 256)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(buf[:n]); got != "READY=1\nSTATUS=serving" {
		t.Errorf("systemd got %q", got)
	}
}

func TestSDNotify_DoesNothingWithoutANotifySocket(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	if err := SDNotify("READY=1"); err != nil {
		t.Errorf("without NOTIFY_SOCKET: %v, want nil", err)
	}
}

func TestWatchdogInterval_IsHalfTheWatchdogOfThisProcess(t *testing.T) {
	t.Setenv("WATCHDOG_USEC", "3000000")
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	if got := WatchdogInterval(); got != 1500*time.Millisecond {
		t.Errorf("WatchdogInterval = %s, want 1.5s", got)
	}
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()+1))
	if got := WatchdogInterval(); got != 0 {
		t.Errorf("for another process: %s, want 0", got)
	}
	t.Setenv("WATCHDOG_PID", "")
	t.Setenv("WATCHDOG_USEC", "")
	if got := WatchdogInterval(); got != 0 {
		t.Errorf("without a watchdog: %s, want 0", got)
	}
}
