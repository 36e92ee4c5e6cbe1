package nodeexec

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// helperEnv makes the test binary act as a tiny program that prints its
// arguments, each followed by a NUL byte, so tests can see the exact argv a
// command line produced on the "remote" side.
const helperEnv = "NODEEXEC_TEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "printargv" {
		for _, a := range os.Args[1:] {
			_, _ = os.Stdout.WriteString(a + "\x00")
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// serverOptions configure a testServer.
type serverOptions struct {
	hostKeys   []ssh.Signer    // one fresh ed25519 key when empty
	authorized []ssh.PublicKey // keys accepted for public key auth
	password   string          // accepted by password auth
	kbdInt     string          // accepted by keyboard-interactive auth
	// kbdIntPrompt is the hidden prompt of keyboard-interactive auth
	// ("Password: " when empty).
	kbdIntPrompt string
	user         string // the only user accepted; any when empty
	// stallGlobal leaves global requests (keepalives) unanswered, like a
	// node too busy or gone.
	stallGlobal bool
}

// testServer is an in-process SSH server that runs exec requests with
// /bin/sh -c in a temporary directory, like sshd with a POSIX login shell.
type testServer struct {
	t        testing.TB
	ln       net.Listener
	port     int
	hostKeys []ssh.Signer
	dir      string
	env      []string

	mu          sync.Mutex
	conns       []net.Conn
	handshakes  int
	execs       []string
	answers     []string // keyboard-interactive answers received
	active      int
	maxActive   int
	stallGlobal bool
	// handler, when set, may take over a command: it returns the exit
	// status and true, or false to let the shell run it.
	handler func(cmd string, ch ssh.Channel, conn net.Conn) (int, bool)
	// ended receives each shell-run command's outcome.
	ended chan commandEnd
}

// kbdAnswers are the keyboard-interactive answers the server received.
func (s *testServer) kbdAnswers() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.answers)
}

type commandEnd struct {
	cmd      string
	signaled bool
}

func newTestServer(t testing.TB, o serverOptions) *testServer {
	t.Helper()
	if len(o.hostKeys) == 0 {
		o.hostKeys = []ssh.Signer{newEd25519Signer(t)}
	}
	s := &testServer{
		t:        t,
		hostKeys: o.hostKeys,
		dir:      t.TempDir(),
		env:      append(os.Environ(), helperEnv+"=printargv"),
		ended:    make(chan commandEnd, 100),

		stallGlobal: o.stallGlobal,
	}
	cfg := &ssh.ServerConfig{}
	checkUser := func(c ssh.ConnMetadata) error {
		if o.user != "" && c.User() != o.user {
			return fmt.Errorf("unknown user %q", c.User())
		}
		return nil
	}
	if len(o.authorized) > 0 {
		cfg.PublicKeyCallback = func(c ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if err := checkUser(c); err != nil {
				return nil, err
			}
			for _, k := range o.authorized {
				if string(k.Marshal()) == string(key.Marshal()) {
					return &ssh.Permissions{}, nil
				}
			}
			return nil, errors.New("key not authorized")
		}
	}
	if o.password != "" {
		cfg.PasswordCallback = func(c ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
			if err := checkUser(c); err != nil {
				return nil, err
			}
			if string(pw) != o.password {
				return nil, errors.New("wrong password")
			}
			return &ssh.Permissions{}, nil
		}
	}
	if o.kbdInt != "" {
		cfg.KeyboardInteractiveCallback = func(c ssh.ConnMetadata, ask ssh.KeyboardInteractiveChallenge) (*ssh.Permissions, error) {
			if err := checkUser(c); err != nil {
				return nil, err
			}
			prompt := o.kbdIntPrompt
			if prompt == "" {
				prompt = "Password: "
			}
			answers, err := ask("", "", []string{prompt}, []bool{false})
			if err != nil {
				return nil, err
			}
			s.mu.Lock()
			s.answers = append(s.answers, answers...)
			s.mu.Unlock()
			if len(answers) != 1 || answers[0] != o.kbdInt {
				return nil, errors.New("wrong answer")
			}
			return &ssh.Permissions{}, nil
		}
	}
	for _, k := range o.hostKeys {
		cfg.AddHostKey(k)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.ln = ln
	tcpAddr, ok := ln.Addr().(*net.TCPAddr)
	if !ok {
		t.Fatalf("listener address %v is not TCP", ln.Addr())
	}
	s.port = tcpAddr.Port
	go s.accept(cfg)
	t.Cleanup(func() {
		_ = ln.Close()
		s.dropAll()
	})
	return s
}

func (s *testServer) hostPort() string { return fmt.Sprintf("127.0.0.1:%d", s.port) }

func (s *testServer) node() Node { return Node{Name: "pve1", Address: "127.0.0.1", Port: s.port} }

// knownHostsLine returns the known_hosts line for the server's first key.
func (s *testServer) knownHostsLine() string {
	return knownhosts.Line([]string{s.hostPort()}, s.hostKeys[0].PublicKey())
}

func (s *testServer) accept(cfg *ssh.ServerConfig) {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns = append(s.conns, c)
		s.mu.Unlock()
		go s.serveConn(c, cfg)
	}
}

// dropAll closes every connection, as a crashing or restarting sshd would.
func (s *testServer) dropAll() {
	s.mu.Lock()
	conns := s.conns
	s.conns = nil
	s.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
}

// connections is how many SSH connections completed their handshake.
func (s *testServer) connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.handshakes
}

func (s *testServer) stats() (handshakes int, execs []string, maxActive int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.handshakes, append([]string(nil), s.execs...), s.maxActive
}

func (s *testServer) serveConn(c net.Conn, cfg *ssh.ServerConfig) {
	sc, chans, reqs, err := ssh.NewServerConn(c, cfg)
	if err != nil {
		_ = c.Close()
		return
	}
	defer func() { _ = sc.Close() }()
	s.mu.Lock()
	s.handshakes++
	s.mu.Unlock()
	if s.stallGlobal {
		go func() {
			for range reqs { //nolint:revive // never answered on purpose.
			}
		}()
	} else {
		go ssh.DiscardRequests(reqs)
	}
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.UnknownChannelType, "only sessions")
			continue
		}
		ch, chReqs, err := nc.Accept()
		if err != nil {
			continue
		}
		go s.serveSession(c, ch, chReqs)
	}
}

func (s *testServer) serveSession(c net.Conn, ch ssh.Channel, reqs <-chan *ssh.Request) {
	var mu sync.Mutex
	var proc *os.Process
	signalProc := func(sig syscall.Signal) {
		mu.Lock()
		defer mu.Unlock()
		if proc != nil {
			_ = syscall.Kill(-proc.Pid, sig)
		}
	}
	started := false
	for req := range reqs {
		switch req.Type {
		case "exec":
			var msg struct{ Command string }
			if err := ssh.Unmarshal(req.Payload, &msg); err != nil || started {
				_ = req.Reply(false, nil)
				continue
			}
			started = true
			_ = req.Reply(true, nil)
			go s.run(c, ch, msg.Command, func(p *os.Process) {
				mu.Lock()
				proc = p
				mu.Unlock()
			})
		case "signal":
			var msg struct{ Signal string }
			if ssh.Unmarshal(req.Payload, &msg) == nil {
				switch msg.Signal {
				case "TERM":
					signalProc(syscall.SIGTERM)
				case "KILL":
					signalProc(syscall.SIGKILL)
				case "INT":
					signalProc(syscall.SIGINT)
				}
			}
			if req.WantReply {
				_ = req.Reply(true, nil)
			}
		default:
			if req.WantReply {
				_ = req.Reply(false, nil)
			}
		}
	}
	// The client closed the channel: like sshd, end what still runs.
	signalProc(syscall.SIGKILL)
}

func (s *testServer) run(c net.Conn, ch ssh.Channel, command string, setProc func(*os.Process)) {
	s.mu.Lock()
	s.execs = append(s.execs, command)
	s.active++
	if s.active > s.maxActive {
		s.maxActive = s.active
	}
	handler := s.handler
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.active--
		s.mu.Unlock()
	}()
	if handler != nil {
		if status, ok := handler(command, ch, c); ok {
			sendExit(ch, status)
			return
		}
	}
	cmd := exec.Command("/bin/sh", "-c", command)
	cmd.Dir = s.dir
	cmd.Env = s.env
	cmd.Stdin = ch
	cmd.Stdout = ch
	cmd.Stderr = ch.Stderr()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		_, _ = fmt.Fprintln(ch.Stderr(), err)
		sendExit(ch, 127)
		return
	}
	setProc(cmd.Process)
	_ = cmd.Wait()
	st, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	s.ended <- commandEnd{cmd: command, signaled: st.Signaled()}
	if st.Signaled() {
		name := strings.TrimPrefix(strings.ToUpper(st.Signal().String()), "SIG")
		switch st.Signal() {
		case syscall.SIGKILL:
			name = "KILL"
		case syscall.SIGTERM:
			name = "TERM"
		}
		_, _ = ch.SendRequest("exit-signal", false, ssh.Marshal(struct {
			Signal     string
			CoreDumped bool
			Error      string
			Lang       string
		}{Signal: name}))
		_ = ch.Close()
		return
	}
	sendExit(ch, st.ExitStatus())
}

func sendExit(ch ssh.Channel, status int) {
	_, _ = ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(status)}))
	_ = ch.Close()
}

// concurrently starts run n times at once; the wait it returns waits for
// them and fails the test with the first error.
func concurrently(t *testing.T, n int, run func(i int) error) (wait func()) {
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() { errs <- run(i) })
	}
	return func() {
		t.Helper()
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
}

func newEd25519Signer(t testing.TB) ssh.Signer {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	return mustSigner(t, priv, err)
}

func newECDSASigner(t testing.TB) ssh.Signer {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	return mustSigner(t, priv, err)
}

// mustSigner is the signer of a newly generated key (err is the
// generation's).
func mustSigner(t testing.TB, priv any, err error) ssh.Signer {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// clientKey returns a new ed25519 client key as OpenSSH PEM and its public
// half.
func clientKey(t testing.TB) (string, ssh.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(block)), signer.PublicKey(), priv
}

// writeKnownHosts writes lines to a new known_hosts file and returns its
// path.
func writeKnownHosts(t testing.TB, lines ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "known_hosts")
	content := ""
	for _, l := range lines {
		content += l + "\n"
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// fixture is a server accepting one client key, and a pool that trusts the
// server's host key.
type fixture struct {
	srv  *testServer
	pool *Pool
	cfg  Config
}

// newFixture starts a server and a pool; edit adjusts the pool's Config
// (it starts with the client key and a known_hosts file holding the
// server's key).
func newFixture(t testing.TB, o serverOptions, edit func(*Config)) *fixture {
	t.Helper()
	pemKey, pub, _ := clientKey(t)
	o.authorized = append(o.authorized, pub)
	srv := newTestServer(t, o)
	cfg := Config{
		PrivateKey:     pemKey,
		KnownHostsFile: writeKnownHosts(t, srv.knownHostsLine()),
	}
	if edit != nil {
		edit(&cfg)
	}
	pool, err := NewPool(cfg, func(_ context.Context, name string) (Node, error) {
		if name != "pve1" {
			return Node{}, fmt.Errorf("no node %q", name)
		}
		return srv.node(), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pool.Close() })
	return &fixture{srv: srv, pool: pool, cfg: cfg}
}

func pemEncodeBlock(b *pem.Block) []byte { return pem.EncodeToMemory(b) }
