package nodeexec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// keepaliveInterval is how often an idle connection is probed, so a
// connection that died silently is noticed and replaced. A connection with
// sessions running, or used within the interval, is not probed: its
// sessions show whether it lives (each command has its own timeout), and a
// node that is slow to answer a probe while it runs many commands must not
// lose the connection they run on.
const keepaliveInterval = 30 * time.Second

// ErrPoolClosed is returned by Run after Close.
var ErrPoolClosed = errors.New("ssh connection pool is closed")

// Resolver returns where a node's SSH server listens.
type Resolver func(ctx context.Context, node string) (Node, error)

// Pool runs commands on nodes over one SSH connection per node, opened on
// first use and kept for the Pool's life. It is safe for concurrent use.
type Pool struct {
	cfg     Config
	resolve Resolver
	auth    []ssh.AuthMethod
	agent   *agentConn
	hosts   hostKeys

	mu     sync.Mutex
	closed bool
	nodes  map[string]*nodeConn
	// keepaliveEvery is keepaliveInterval; tests shorten it.
	keepaliveEvery time.Duration
}

// nodeConn is the state of one node's connection.
type nodeConn struct {
	name string
	sem  chan struct{} // one slot per concurrent session
	lock chan struct{} // held while dialing or replacing the connection

	// Guarded by lock.
	node *Node
	cur  *conn
}

// conn is one SSH connection and the signal of its end.
type conn struct {
	client *ssh.Client
	dead   chan struct{} // closed when the connection has ended
	// active counts the sessions open on the connection; lastUsed is when
	// one last opened or closed (UnixNano).
	active   atomic.Int32
	lastUsed atomic.Int64
}

// busy reports whether c ran a session within the last d.
func (c *conn) busy(d time.Duration) bool {
	return c.active.Load() > 0 || time.Since(time.Unix(0, c.lastUsed.Load())) < d
}

func (c *conn) isDead() bool {
	select {
	case <-c.dead:
		return true
	default:
		return false
	}
}

// NewPool checks cfg, fills in its defaults, parses the private key and
// returns a Pool. It opens no connection: nodes are resolved and dialed on
// their first Run.
func NewPool(cfg Config, resolve Resolver) (*Pool, error) {
	if resolve == nil {
		return nil, errors.New("nodeexec: a node resolver is required")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	var key ssh.Signer
	if cfg.PrivateKey != "" {
		if key, err = parsePrivateKey(cfg.PrivateKey); err != nil {
			return nil, err
		}
	}
	p := &Pool{
		cfg:     cfg,
		resolve: resolve,
		hosts:   hostKeys{file: cfg.KnownHostsFile, tofu: cfg.TrustOnFirstUse},
		nodes:   map[string]*nodeConn{},

		keepaliveEvery: keepaliveInterval,
	}
	if cfg.Agent {
		p.agent = &agentConn{socket: cfg.AgentSocket}
	}
	p.auth = authMethods(cfg, key, p.agent)
	return p, nil
}

// Close closes every connection. Run fails with ErrPoolClosed afterwards.
func (p *Pool) Close() error {
	p.mu.Lock()
	p.closed = true
	nodes := make([]*nodeConn, 0, len(p.nodes))
	for _, nc := range p.nodes {
		nodes = append(nodes, nc)
	}
	p.mu.Unlock()
	for _, nc := range nodes {
		nc.lock <- struct{}{}
		if nc.cur != nil {
			_ = nc.cur.client.Close()
			nc.cur = nil
		}
		<-nc.lock
	}
	if p.agent != nil {
		p.agent.close()
	}
	return nil
}

func (p *Pool) nodeConn(name string) (*nodeConn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrPoolClosed
	}
	nc := p.nodes[name]
	if nc == nil {
		nc = &nodeConn{
			name: name,
			sem:  make(chan struct{}, p.cfg.MaxSessionsPerNode),
			lock: make(chan struct{}, 1),
		}
		p.nodes[name] = nc
	}
	return nc, nil
}

// Stream tells standard output from standard error.
type Stream int

// The two output streams of a command.
const (
	Stdout Stream = iota + 1
	Stderr
)

func (s Stream) String() string {
	if s == Stderr {
		return "stderr"
	}
	return "stdout"
}

// LineFunc receives output lines as they arrive, without their newline.
// Calls are serialized and end before Run returns.
type LineFunc func(stream Stream, line string)

// RunOption adjusts one Run.
type RunOption func(*runOptions)

type runOptions struct {
	lineFunc LineFunc
}

// WithLineFunc streams each output line to fn while the command runs.
func WithLineFunc(fn LineFunc) RunOption {
	return func(o *runOptions) { o.lineFunc = fn }
}

// Result is the outcome of a command that ran to completion.
type Result struct {
	Stdout   []byte
	Stderr   []byte
	ExitCode int
	Duration time.Duration
}

// OutputLimitError is returned when a command printed more than its
// Command.MaxOutput: it was stopped there.
type OutputLimitError struct {
	Op    string
	Node  string
	Limit int
}

func (e *OutputLimitError) Error() string {
	return fmt.Sprintf("operation %q on node %q: stopped after printing more than %d bytes", e.Op, e.Node, e.Limit)
}

// tailLines is how many lines of output a CommandError keeps.
const tailLines = 20

// CommandError is returned when a command exits non-zero or is killed by a
// signal.
type CommandError struct {
	Op       string
	Node     string
	ExitCode int    // -1 when killed by a signal
	Signal   string // the signal's name, e.g. "KILL", when killed
	// StderrTail and StdoutTail hold the last lines of each stream.
	StderrTail []string
	StdoutTail []string
}

func (e *CommandError) Error() string {
	var b strings.Builder
	if e.Signal != "" {
		fmt.Fprintf(&b, "operation %q on node %q was killed by signal %s", e.Op, e.Node, e.Signal)
	} else {
		fmt.Fprintf(&b, "operation %q on node %q failed with exit code %d", e.Op, e.Node, e.ExitCode)
	}
	tail, name := e.StderrTail, "stderr"
	if len(tail) == 0 {
		tail, name = e.StdoutTail, "stdout"
	}
	if len(tail) > 0 {
		fmt.Fprintf(&b, "; last lines of %s:", name)
		for _, l := range tail {
			b.WriteString("\n  ")
			b.WriteString(l)
		}
	}
	return b.String()
}

// ConnectionDroppedError is returned when the connection ended while a
// command was running: the command may or may not have completed.
type ConnectionDroppedError struct {
	Op   string
	Node string
	Err  error
}

func (e *ConnectionDroppedError) Error() string {
	return fmt.Sprintf("the ssh connection to node %q dropped while operation %q was running; it may or may not have completed on the node: %v", e.Node, e.Op, e.Err)
}

func (e *ConnectionDroppedError) Unwrap() error { return e.Err }

// notStartedError means the command never reached the node because the
// connection was unusable, so running it again is always safe.
type notStartedError struct{ err error }

func (e *notStartedError) Error() string { return e.err.Error() }
func (e *notStartedError) Unwrap() error { return e.err }

// Run runs cmd on node and waits for it. A command that exits non-zero
// returns its Result together with a *CommandError. When the connection is
// found dead before the command starts, Run reconnects once; when it drops
// while the command runs, Run returns a *ConnectionDroppedError unless
// cmd.Retry allows one more attempt on a new connection. Canceling ctx
// signals and closes the session and returns ctx's error.
func (p *Pool) Run(ctx context.Context, node string, cmd Command, opts ...RunOption) (*Result, error) {
	if err := cmd.Validate(); err != nil {
		return nil, err
	}
	argv := cmd.Argv
	if cmd.Sudo && p.cfg.useSudo() {
		argv = append([]string{"sudo", "-n", "--"}, argv...)
	}
	line, err := Join(argv)
	if err != nil {
		return nil, err
	}
	var o runOptions
	for _, opt := range opts {
		opt(&o)
	}
	nc, err := p.nodeConn(node)
	if err != nil {
		return nil, err
	}
	select {
	case nc.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("operation %q on node %q: %w", cmd.Op, node, ctx.Err())
	}
	defer func() { <-nc.sem }()

	for attempt := 0; ; attempt++ {
		c, err := p.connect(ctx, nc)
		if err != nil {
			return nil, err
		}
		res, err := p.runOnce(ctx, nc, c, cmd, line, o)
		if err == nil || attempt > 0 {
			return res, err
		}
		var notStarted *notStartedError
		var dropped *ConnectionDroppedError
		switch {
		case errors.As(err, &notStarted):
			p.discard(nc, c)
		case errors.As(err, &dropped) && cmd.Retry:
			p.discard(nc, c)
		default:
			return res, err
		}
	}
}

// connect returns the node's live connection, dialing when there is none.
func (p *Pool) connect(ctx context.Context, nc *nodeConn) (*conn, error) {
	select {
	case nc.lock <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("connect to node %q: %w", nc.name, ctx.Err())
	}
	defer func() { <-nc.lock }()
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return nil, ErrPoolClosed
	}
	if nc.cur != nil && !nc.cur.isDead() {
		return nc.cur, nil
	}
	if nc.cur != nil {
		_ = nc.cur.client.Close()
		nc.cur = nil
	}
	if nc.node == nil {
		n, err := p.resolve(ctx, nc.name)
		if err != nil {
			return nil, fmt.Errorf("find the ssh address of node %q: %w", nc.name, err)
		}
		if n.Address == "" {
			return nil, fmt.Errorf("find the ssh address of node %q: no address", nc.name)
		}
		if n.Name == "" {
			n.Name = nc.name
		}
		nc.node = &n
	}
	c, err := p.dial(ctx, *nc.node)
	if err != nil {
		return nil, err
	}
	nc.cur = c
	return c, nil
}

// discard closes c if it is still the node's current connection.
func (p *Pool) discard(nc *nodeConn, c *conn) {
	nc.lock <- struct{}{}
	defer func() { <-nc.lock }()
	if nc.cur == c {
		nc.cur = nil
	}
	_ = c.client.Close()
}

// dial opens and authenticates a connection to node.
func (p *Pool) dial(ctx context.Context, node Node) (*conn, error) {
	hostport := node.hostPort()
	recorded, err := p.hosts.recorded(hostport)
	if err != nil {
		return nil, fmt.Errorf("ssh to node %q: %w", node.Name, err)
	}
	config := &ssh.ClientConfig{
		User:              p.cfg.Username,
		Auth:              p.auth,
		HostKeyCallback:   p.hosts.callback(node.Name),
		HostKeyAlgorithms: algorithms(recorded),
		Timeout:           p.cfg.DialTimeout,
	}
	d := net.Dialer{Timeout: p.cfg.DialTimeout}
	tcp, err := d.DialContext(ctx, "tcp", hostport)
	if err != nil {
		return nil, fmt.Errorf("ssh to node %q at %s: %w", node.Name, hostport, err)
	}
	_ = tcp.SetDeadline(time.Now().Add(p.cfg.DialTimeout))
	stop := context.AfterFunc(ctx, func() { _ = tcp.Close() })
	sc, chans, reqs, err := ssh.NewClientConn(tcp, hostport, config)
	canceled := !stop()
	if err != nil {
		_ = tcp.Close()
		return nil, p.dialError(ctx, node, hostport, recorded, canceled, err)
	}
	if canceled {
		_ = sc.Close()
		return nil, fmt.Errorf("ssh to node %q at %s: %w", node.Name, hostport, ctx.Err())
	}
	_ = tcp.SetDeadline(time.Time{})
	c := &conn{client: ssh.NewClient(sc, chans, reqs), dead: make(chan struct{})}
	go func() {
		_ = c.client.Wait()
		close(c.dead)
	}()
	go p.keepalive(c)
	return c, nil
}

// dialError turns a failed handshake into the clearest error available.
func (p *Pool) dialError(ctx context.Context, node Node, hostport string, recorded []knownhosts.KnownKey, canceled bool, err error) error {
	var unknown *UnknownHostError
	var changed *HostKeyChangedError
	switch {
	case errors.As(err, &unknown):
		return unknown
	case errors.As(err, &changed):
		return changed
	case canceled:
		return fmt.Errorf("ssh to node %q at %s: %w", node.Name, hostport, ctx.Err())
	case len(recorded) > 0 && strings.Contains(err.Error(), "no common algorithm for host key"):
		return &HostKeyChangedError{
			Node:           node.Name,
			Host:           knownhosts.Normalize(hostport),
			Known:          knownList(recorded),
			KnownHostsFile: p.hosts.file,
		}
	default:
		return fmt.Errorf("ssh to node %q at %s as user %q: %w", node.Name, hostport, p.cfg.Username, err)
	}
}

// keepalive probes c while it is idle until it ends, closing it when a
// probe gets no answer.
func (p *Pool) keepalive(c *conn) {
	t := time.NewTicker(p.keepaliveEvery)
	defer t.Stop()
	for {
		select {
		case <-c.dead:
			return
		case <-t.C:
			if c.busy(p.keepaliveEvery) {
				continue
			}
			if !p.alive(c) {
				_ = c.client.Close()
				return
			}
		}
	}
}

// alive reports whether c answers a keepalive request in time.
func (p *Pool) alive(c *conn) bool {
	if c.isDead() {
		return false
	}
	answered := make(chan error, 1)
	go func() {
		_, _, err := c.client.SendRequest("keepalive@openssh.com", true, nil)
		answered <- err
	}()
	timer := time.NewTimer(p.cfg.DialTimeout)
	defer timer.Stop()
	select {
	case err := <-answered:
		return err == nil
	case <-c.dead:
		return false
	case <-timer.C:
		return false
	}
}

// runOnce runs one attempt of cmd over c.
func (p *Pool) runOnce(ctx context.Context, nc *nodeConn, c *conn, cmd Command, line string, o runOptions) (*Result, error) {
	sess, err := c.client.NewSession()
	if err != nil {
		var refused *ssh.OpenChannelError
		if errors.As(err, &refused) {
			return nil, fmt.Errorf("operation %q on node %q: the node refused a new ssh session: %w", cmd.Op, nc.name, err)
		}
		return nil, &notStartedError{fmt.Errorf("operation %q on node %q: open ssh session: %w", cmd.Op, nc.name, err)}
	}
	c.active.Add(1)
	c.lastUsed.Store(time.Now().UnixNano())
	defer func() {
		_ = sess.Close()
		c.lastUsed.Store(time.Now().UnixNano())
		c.active.Add(-1)
	}()

	out := newOutput(o.lineFunc, cmd.MaxOutput)
	sess.Stdout = out.writer(Stdout)
	sess.Stderr = out.writer(Stderr)
	if cmd.Stdin != nil {
		sess.Stdin = bytes.NewReader(cmd.Stdin)
	}
	start := time.Now()
	if err := sess.Start(line); err != nil {
		out.stop()
		if !p.alive(c) {
			return nil, &ConnectionDroppedError{Op: cmd.Op, Node: nc.name, Err: err}
		}
		return nil, fmt.Errorf("operation %q on node %q: start command: %w", cmd.Op, nc.name, err)
	}
	done := make(chan error, 1)
	go func() { done <- sess.Wait() }()
	var werr error
	select {
	case werr = <-done:
	case <-ctx.Done():
		_ = sess.Signal(ssh.SIGTERM)
		_ = sess.Close()
		out.stop()
		return nil, fmt.Errorf("operation %q on node %q: %w", cmd.Op, nc.name, ctx.Err())
	case <-out.over:
		_ = sess.Signal(ssh.SIGTERM)
		_ = sess.Close()
		out.stop()
		return nil, &OutputLimitError{Op: cmd.Op, Node: nc.name, Limit: cmd.MaxOutput}
	}
	out.stop()
	select {
	case <-out.over: // the command ended right after going beyond its bound
		return nil, &OutputLimitError{Op: cmd.Op, Node: nc.name, Limit: cmd.MaxOutput}
	default:
	}
	res := &Result{
		Stdout:   out.stdout.Bytes(),
		Stderr:   out.stderr.Bytes(),
		Duration: time.Since(start),
	}
	if werr == nil {
		return res, nil
	}
	var exit *ssh.ExitError
	if errors.As(werr, &exit) {
		res.ExitCode = exit.ExitStatus()
		ce := &CommandError{
			Op:         cmd.Op,
			Node:       nc.name,
			ExitCode:   exit.ExitStatus(),
			Signal:     exit.Signal(),
			StderrTail: tail(res.Stderr, tailLines),
			StdoutTail: tail(res.Stdout, tailLines),
		}
		if ce.Signal != "" {
			ce.ExitCode, res.ExitCode = -1, -1
		}
		return res, ce
	}
	if !p.alive(c) {
		return res, &ConnectionDroppedError{Op: cmd.Op, Node: nc.name, Err: werr}
	}
	return res, fmt.Errorf("operation %q on node %q: %w", cmd.Op, nc.name, werr)
}

// maxTailLine bounds one line of an error's output tail.
const maxTailLine = 1024

// tail returns the last n lines of b, each cut at maxTailLine bytes.
func tail(b []byte, n int) []string {
	s := strings.TrimRight(string(b), "\n")
	if s == "" {
		return nil
	}
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	for i, l := range lines {
		l = strings.TrimSuffix(l, "\r")
		if len(l) > maxTailLine {
			l = l[:maxTailLine] + "..."
		}
		lines[i] = l
	}
	return lines
}
