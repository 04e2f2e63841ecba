// Package proxytest holds a TCP proxy for tests: it forwards connections to
// a target and can cut them and refuse new ones, as a server that goes away
// (or a network that drops) does.
package proxytest

import (
	"io"
	"net"
	"sync"
	"testing"
)

// Proxy forwards TCP connections from a listener on 127.0.0.1 to a target.
type Proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  []net.Conn
}

// Start listens on 127.0.0.1 and forwards each connection to target
// (host:port) until the test ends, when it stops listening and cuts every
// connection.
func Start(t *testing.T, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{ln: ln, target: target}
	t.Cleanup(func() {
		ln.Close()
		p.SetDown(true)
	})
	go p.serve()
	return p
}

func (p *Proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down := p.down
		p.mu.Unlock()
		if down {
			c.Close()
			continue
		}
		u, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, u)
		p.mu.Unlock()
		go func() { io.Copy(u, c); u.Close() }() //nolint:errcheck // ends when either side closes
		go func() { io.Copy(c, u); c.Close() }() //nolint:errcheck // ends when either side closes
	}
}

// Addr returns the proxy's listening address, host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Cut closes every connection open through the proxy; new ones are still
// accepted unless refused.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// RefuseNew refuses new connections (true), keeping those open, or accepts
// them again (false).
func (p *Proxy) RefuseNew(refuse bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = refuse
}

// SetDown cuts every connection and refuses new ones (true), or accepts
// them again (false).
func (p *Proxy) SetDown(down bool) {
	p.RefuseNew(down)
	if down {
		p.Cut()
	}
}
