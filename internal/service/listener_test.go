package service

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// serveListener serves the service's listener, with limits, on a loopback
// port until the test ends, and returns its address.
func serveListener(t *testing.T, limits ListenerLimits) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := NewListener(ln, NewMetrics("test"), func() Status { return Status{} }, limits)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("listener: %v", err)
		}
	})
	return ln.Addr().String()
}

// waitClosed fails unless the server closes conn by deadline (which only
// bounds a failing test: the read returns as soon as the server closes).
func waitClosed(t *testing.T, conn net.Conn, r io.Reader, what string, deadline time.Time) {
	t.Helper()
	if err := conn.SetReadDeadline(deadline); err != nil {
		t.Fatal(err)
	}
	n, err := r.Read(make([]byte, 1))
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		t.Errorf("%s: the server still holds the connection at the deadline", what)
	case err == nil:
		t.Errorf("%s: read %d unexpected bytes instead of the close", what, n)
	}
}

func TestListener_ClosesIdleKeepAliveConnections(t *testing.T) {
	limits := DefaultListenerLimits
	limits.Idle, limits.ReadHeader = 200*time.Millisecond, 200*time.Millisecond
	addr := serveListener(t, limits)
	const clients = 50
	conns := make([]net.Conn, clients)
	readers := make([]*bufio.Reader, clients)
	for i := range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		conns[i], readers[i] = c, bufio.NewReader(c)
		switch i % 3 {
		case 0, 1: // a keep-alive request, answered, then idle
			fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: dirsync\r\n\r\n")
			resp, err := http.ReadResponse(readers[i], nil)
			if err != nil {
				t.Fatalf("client %d: %v", i, err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || resp.Close {
				t.Fatalf("client %d: HTTP %d, close %t: want a kept-alive 200", i, resp.StatusCode, resp.Close)
			}
		case 2: // half a request header, never finished
			fmt.Fprintf(c, "GET /metrics HTTP/1.1\r\nHost: dirsync\r\n")
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for i, c := range conns {
		waitClosed(t, c, readers[i], fmt.Sprintf("client %d", i), deadline)
	}
}

func TestListener_RefusesOversizedHeaders(t *testing.T) {
	addr := serveListener(t, DefaultListenerLimits)
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/healthz", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Padding", strings.Repeat("a", 2*DefaultListenerLimits.MaxHeaderBytes))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("a %d-byte header: HTTP %d, want 431", 2*DefaultListenerLimits.MaxHeaderBytes, resp.StatusCode)
	}
}
