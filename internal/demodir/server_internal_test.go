package demodir

import (
	"context"
	"net"
	"testing"
	"time"
)

func TestStart_CancelledContextClosesTheServer(t *testing.T) {
	d, err := New()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	s, err := d.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		t.Fatal("server still running after its context was cancelled")
	}
	if c, err := net.Dial("tcp", s.Addr()); err == nil {
		c.Close()
		t.Errorf("%s still accepts connections", s.Addr())
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close after cancel: %v", err)
	}
}

func TestClose_StopsListeningAndIsIdempotent(t *testing.T) {
	d, err := New()
	if err != nil {
		t.Fatal(err)
	}
	s, err := d.Start(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if c, err := net.Dial("tcp", s.Addr()); err == nil {
		c.Close()
		t.Errorf("%s still accepts connections", s.Addr())
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
