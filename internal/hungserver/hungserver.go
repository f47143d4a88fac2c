// Package hungserver is a TCP server for tests that accepts connections and
// never answers: the failure mode of a wedged dependency (a proxy holding
// the connection, a server stuck in GC) that only a client timeout or a
// context deadline ends. Connections are closed when the test ends.
package hungserver

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// Server accepts and holds connections without reading or writing.
type Server struct {
	// URL is "http://127.0.0.1:<port>".
	URL      string
	Addr     string
	accepted atomic.Int64
}

// Start listens on a free loopback port until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("hungserver: listen: %v", err)
	}
	s := &Server{URL: "http://" + ln.Addr().String(), Addr: ln.Addr().String()}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.accepted.Add(1)
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return s
}

// Accepted is how many connections the server has accepted: proof that a
// client really called it (and so really hung on it).
func (s *Server) Accepted() int64 { return s.accepted.Load() }
