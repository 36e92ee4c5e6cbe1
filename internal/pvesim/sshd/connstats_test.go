package sshd

import (
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// waitConnStats waits until the server's counters are want (the server
// registers a connection just after the client's handshake returns).
func waitConnStats(t *testing.T, s *Server, want ConnStats) ConnStats {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	got := s.ConnStats()
	for got != want && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
		got = s.ConnStats()
	}
	return got
}

func TestConnStats(t *testing.T) {
	e := newTestEnv(t)
	if got := waitConnStats(t, e.srv, ConnStats{Accepted: 1, Open: 1, Peak: 1}); got != (ConnStats{Accepted: 1, Open: 1, Peak: 1}) {
		t.Fatalf("after one client: %+v", got)
	}
	c2, c3 := e.dial(), e.dial()
	if got := waitConnStats(t, e.srv, ConnStats{Accepted: 3, Open: 3, Peak: 3}); got != (ConnStats{Accepted: 3, Open: 3, Peak: 3}) {
		t.Fatalf("after three clients: %+v", got)
	}
	// A refused login is no connection.
	bad := e.clientConfig()
	bad.User = "admin"
	if c, err := ssh.Dial("tcp", e.srv.Addr(), bad); err == nil {
		_ = c.Close()
		t.Fatal("user admin was let in")
	}
	_ = c2.Close()
	_ = c3.Close()
	if got := waitConnStats(t, e.srv, ConnStats{Accepted: 3, Open: 1, Peak: 3}); got != (ConnStats{Accepted: 3, Open: 1, Peak: 3}) {
		t.Fatalf("after two closed: %+v", got)
	}
	e.srv.ResetConnStats()
	if got := e.srv.ConnStats(); got != (ConnStats{Accepted: 0, Open: 1, Peak: 1}) {
		t.Fatalf("after reset: %+v", got)
	}
	e.mustRun("true", "")
	if got := e.srv.ConnStats(); got.Accepted != 0 {
		t.Fatalf("a command on the open connection counted as a connection: %+v", got)
	}
}
