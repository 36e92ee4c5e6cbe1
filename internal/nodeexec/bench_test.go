package nodeexec

import (
	"net"
	"testing"

	"golang.org/x/crypto/ssh"
)

// BenchmarkRunPooled measures one command round trip over the pooled
// connection (session open, exec, exit status), without process start-up on
// the server side.
func BenchmarkRunPooled(b *testing.B) {
	f := newFixture(b, serverOptions{}, nil)
	f.srv.handler = func(string, ssh.Channel, net.Conn) (int, bool) { return 0, true }
	cmd := Command{Op: "noop", Argv: []string{"noop"}}
	if _, err := f.pool.Run(b.Context(), "pve1", cmd); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := f.pool.Run(b.Context(), "pve1", cmd); err != nil {
			b.Fatal(err)
		}
	}
	if n := f.srv.connections(); n != 1 {
		b.Fatalf("connections opened = %d, want 1", n)
	}
}

// BenchmarkConnect measures a full connection: TCP, key exchange, host key
// check against known_hosts, public key authentication and one command.
func BenchmarkConnect(b *testing.B) {
	f := newFixture(b, serverOptions{}, nil)
	f.srv.handler = func(string, ssh.Channel, net.Conn) (int, bool) { return 0, true }
	cmd := Command{Op: "noop", Argv: []string{"noop"}}
	for b.Loop() {
		p, err := NewPool(f.cfg, f.pool.resolve)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := p.Run(b.Context(), "pve1", cmd); err != nil {
			b.Fatal(err)
		}
		_ = p.Close()
	}
}

// BenchmarkJoin measures quoting a typical pct exec command line.
func BenchmarkJoin(b *testing.B) {
	argv := PctExecScript(102, nil, "overlay2", `{"log-driver": "journald"}`, "it's").Argv
	for b.Loop() {
		if _, err := Join(argv); err != nil {
			b.Fatal(err)
		}
	}
}
