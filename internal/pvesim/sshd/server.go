package sshd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
)

// Event describes one command run over SSH, reported to Options.OnCommand
// when it ends.
type Event struct {
	// Node is the node the server stands for.
	Node string
	// Command is the exec request's command line, as the client sent it.
	Command string
	// Exit is the command's exit status; -1 when the connection was dropped
	// before an exit status could be sent (see Dropped).
	Exit int
	// Start is when the exec request arrived.
	Start time.Time
	// Duration is the wall time from the exec request to the end.
	Duration time.Duration
	// Write reports whether the command changed the simulator's state: a
	// file created, removed or modified under the node's part of the state
	// dir (PVE configs of all nodes, the node's /etc/apparmor.d, its CT
	// volumes and runtime files). Lock files and the node's /tmp do not
	// count. A command running concurrently with a writer may be reported
	// as writing too.
	Write bool
	// Dropped is "" or the DropPoint ("before", "during", "after") at which
	// a fault rule closed the connection.
	Dropped string
}

// SetParserVersion makes the node's apparmor_parser report version (e.g.
// "3.0.8") from its next command on; "" reports the machine's parser's
// version, the default. The stand-in still compiles with the machine's
// parser, so a version 4 or later needs that parser to accept AppArmor 4
// rules (the install command then adds the AppArmor 4 local include).
func (s *Server) SetParserVersion(version string) {
	s.spec.mu.Lock()
	defer s.spec.mu.Unlock()
	s.spec.version = version
}

// Options configures a node's SSH server.
type Options struct {
	// StateDir is the simulator's state dir (contract 3).
	StateDir string
	// Node is the node name, e.g. "pve1".
	Node string
	// Listen is the address to listen on; default "127.0.0.1:0".
	Listen string
	// HostKeyFile is the ed25519 host key (OpenSSH format), created when
	// absent; default <state>/ssh/<node>/ssh_host_ed25519_key.
	HostKeyFile string
	// AuthorizedKeys are the public keys accepted for user root.
	AuthorizedKeys []ssh.PublicKey
	// OnCommand, when set, is called after every command (from the
	// command's goroutine; it must be safe for concurrent use).
	OnCommand func(Event)
	// Faults, when set, returns the faults in force; it is called for every
	// command.
	Faults func() FaultSet
	// ExecLatency, when set, returns how long each pct exec waits before it
	// runs its command (a real one spends that in lxc-attach); it is
	// called for every command, and every pct exec the command runs waits.
	ExecLatency func() time.Duration
}

// Server is one node's SSH server.
type Server struct {
	opts     Options
	listener net.Listener
	signer   ssh.Signer
	config   *ssh.ServerConfig
	spec     *sandboxSpec

	mu     sync.Mutex
	closed bool
	conns  map[*ssh.ServerConn]struct{}
	procs  map[*exec.Cmd]struct{}
	wg     sync.WaitGroup
	// accepted counts authenticated connections; peak is the most that
	// were open at once.
	accepted int
	peak     int

	// seedMu serializes the filling of container volumes (seedCT); seeded
	// holds what each fill left at each path it changed, so that a command
	// running meanwhile does not count the fill as its own write.
	seedMu sync.Mutex
	seeded map[string]stamp
	// filling is the volume a fill is changing now ("" when none).
	filling string

	// journal detects the writes of commands; nil (or broken) means that
	// every command walks the state before and after instead.
	journal *journal
}

var nodeNameRE = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$`)

// Start prepares the node's state (directories, a copy of the host's
// AppArmor tree, the stand-in commands), checks that bubblewrap can build a
// sandbox, and starts serving SSH.
func Start(opts Options) (*Server, error) {
	if opts.StateDir == "" {
		return nil, errors.New("pvesim sshd: StateDir is required")
	}
	if !nodeNameRE.MatchString(opts.Node) {
		return nil, fmt.Errorf("pvesim sshd: invalid node name %q", opts.Node)
	}
	stateDir, err := filepath.Abs(opts.StateDir)
	if err != nil {
		return nil, err
	}
	opts.StateDir = stateDir
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:0"
	}
	if opts.HostKeyFile == "" {
		opts.HostKeyFile = filepath.Join(sshDir(stateDir), opts.Node, "ssh_host_ed25519_key")
	}
	unprivileged := os.Geteuid() != 0
	bwrap, err := bwrapPath(context.Background(), unprivileged)
	if err != nil {
		return nil, err
	}
	if err := prepareNodeState(stateDir, opts.Node); err != nil {
		return nil, fmt.Errorf("pvesim sshd: prepare state for node %s: %w", opts.Node, err)
	}
	standins, err := installStandins(stateDir)
	if err != nil {
		return nil, fmt.Errorf("pvesim sshd: install stand-in commands: %w", err)
	}
	hostnameFile := filepath.Join(sshDir(stateDir), opts.Node, "hostname")
	if err := os.MkdirAll(filepath.Dir(hostnameFile), 0o700); err != nil {
		return nil, err
	}
	if err := writeFileAtomic(hostnameFile, []byte(opts.Node+"\n"), 0o644); err != nil {
		return nil, err
	}
	signer, err := loadOrCreateKey(opts.HostKeyFile, "root@"+opts.Node)
	if err != nil {
		return nil, fmt.Errorf("pvesim sshd: host key: %w", err)
	}
	s := &Server{
		opts:   opts,
		signer: signer,
		conns:  map[*ssh.ServerConn]struct{}{},
		procs:  map[*exec.Cmd]struct{}{},
		spec: &sandboxSpec{
			bwrap:        bwrap,
			unprivileged: unprivileged,
			stateDir:     stateDir,
			node:         opts.Node,
			standins:     standins,
			hostnameFile: hostnameFile,
		},
	}
	s.config = &ssh.ServerConfig{
		ServerVersion:     "SSH-2.0-OpenSSH_10.0p2 Debian-7",
		PublicKeyCallback: s.checkKey,
	}
	s.config.AddHostKey(signer)
	if os.Getenv(walkEnv) == "" {
		// Without a journal (no inotify instance or watch left on this
		// machine) writes are found by walking the state.
		s.journal, _ = newJournal(s.roots()...)
	}
	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		if s.journal != nil {
			s.journal.close()
		}
		return nil, fmt.Errorf("pvesim sshd: listen on %s: %w", opts.Listen, err)
	}
	s.listener = ln
	s.wg.Add(1)
	go s.serve()
	return s, nil
}

// Addr returns the address the server listens on, e.g. "127.0.0.1:34567".
func (s *Server) Addr() string { return s.listener.Addr().String() }

// HostKey returns the server's public host key.
func (s *Server) HostKey() ssh.PublicKey { return s.signer.PublicKey() }

// Fingerprint returns the host key's SHA256 fingerprint ("SHA256:...").
func (s *Server) Fingerprint() string { return ssh.FingerprintSHA256(s.HostKey()) }

// ConnStats counts a server's SSH connections.
type ConnStats struct {
	// Accepted is how many connections completed the handshake and
	// authentication since the server started (or since ResetConnStats).
	Accepted int
	// Open is how many are open now.
	Open int
	// Peak is the most that were open at the same time.
	Peak int
}

// ConnStats returns the server's connection counters.
func (s *Server) ConnStats() ConnStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return ConnStats{Accepted: s.accepted, Open: len(s.conns), Peak: s.peak}
}

// ResetConnStats sets Accepted to zero and Peak to the connections open now.
func (s *Server) ResetConnStats() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accepted = 0
	s.peak = len(s.conns)
}

// Node returns the node name the server stands for.
func (s *Server) Node() string { return s.opts.Node }

// Close stops listening, closes every connection, kills running commands and
// waits for them.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	err := s.listener.Close()
	for c := range s.conns {
		_ = c.Close()
	}
	for cmd := range s.procs {
		if cmd.Process != nil {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
	}
	s.mu.Unlock()
	s.wg.Wait()
	if s.journal != nil {
		s.journal.close()
	}
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

func (s *Server) checkKey(meta ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
	if meta.User() != "root" {
		return nil, fmt.Errorf("user %q not allowed", meta.User())
	}
	for _, k := range s.opts.AuthorizedKeys {
		if k != nil && bytes.Equal(k.Marshal(), key.Marshal()) {
			return &ssh.Permissions{Extensions: map[string]string{"pubkey-fp": ssh.FingerprintSHA256(key)}}, nil
		}
	}
	return nil, errors.New("public key not authorized")
}

func (s *Server) serve() {
	defer s.wg.Done()
	for {
		nc, err := s.listener.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.handleConn(nc)
		}()
	}
}

func (s *Server) handleConn(nc net.Conn) {
	_ = nc.SetDeadline(time.Now().Add(30 * time.Second))
	conn, chans, reqs, err := ssh.NewServerConn(nc, s.config)
	if err != nil {
		_ = nc.Close()
		return
	}
	_ = nc.SetDeadline(time.Time{})
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = conn.Close()
		return
	}
	s.conns[conn] = struct{}{}
	s.accepted++
	s.peak = max(s.peak, len(s.conns))
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, conn)
		s.mu.Unlock()
		_ = conn.Close()
	}()
	go ssh.DiscardRequests(reqs)
	var chWG sync.WaitGroup
	for newCh := range chans {
		if newCh.ChannelType() != "session" {
			_ = newCh.Reject(ssh.UnknownChannelType, "only session channels are supported")
			continue
		}
		chWG.Add(1)
		go func() {
			defer chWG.Done()
			s.handleSession(conn, newCh)
		}()
	}
	chWG.Wait()
}

// acceptedEnv reports whether an "env" request is honored, like Debian's
// sshd_config "AcceptEnv LANG LC_*".
func acceptedEnv(name string) bool {
	return name == "LANG" || strings.HasPrefix(name, "LC_")
}

func (s *Server) handleSession(conn *ssh.ServerConn, newCh ssh.NewChannel) {
	ch, reqs, err := newCh.Accept()
	if err != nil {
		return
	}
	var env []string
	started := false
	for req := range reqs {
		switch req.Type {
		case "env":
			var kv struct{ Name, Value string }
			ok := ssh.Unmarshal(req.Payload, &kv) == nil && acceptedEnv(kv.Name) && !started
			if ok {
				env = append(env, kv.Name+"="+kv.Value)
			}
			if req.WantReply {
				_ = req.Reply(ok, nil)
			}
		case "exec":
			var p struct{ Command string }
			if started || ssh.Unmarshal(req.Payload, &p) != nil {
				if req.WantReply {
					_ = req.Reply(false, nil)
				}
				continue
			}
			started = true
			if req.WantReply {
				_ = req.Reply(true, nil)
			}
			go func() {
				s.run(conn, ch, p.Command, env)
				// Closing the channel also ends the request loop.
				_ = ch.Close()
			}()
		default:
			// No shell, pty or subsystem: this server runs exec requests only.
			if req.WantReply {
				_ = req.Reply(false, nil)
			}
		}
	}
	if !started {
		_ = ch.Close()
	}
}

// drainWriter forwards to w until a write fails, then discards, so that a
// command whose client went away is not killed by a broken pipe.
type drainWriter struct {
	mu     sync.Mutex
	w      io.Writer
	failed bool
}

func (d *drainWriter) Write(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.failed {
		if _, err := d.w.Write(p); err != nil {
			d.failed = true
		}
	}
	return len(p), nil
}

func (s *Server) faults() FaultSet {
	if s.opts.Faults == nil {
		return FaultSet{}
	}
	return s.opts.Faults()
}

func (s *Server) emit(ev Event) {
	if s.opts.OnCommand != nil {
		s.opts.OnCommand(ev)
	}
}

func (s *Server) environ(conn *ssh.ServerConn, extra []string) []string {
	env := []string{
		"PATH=" + nodePath,
		"HOME=/root",
		"USER=root",
		"LOGNAME=root",
		"SHELL=/bin/bash",
		"LANG=C.UTF-8",
	}
	if host, port, err := net.SplitHostPort(conn.RemoteAddr().String()); err == nil {
		if lhost, lport, err := net.SplitHostPort(conn.LocalAddr().String()); err == nil {
			env = append(env, "SSH_CONNECTION="+host+" "+port+" "+lhost+" "+lport, "SSH_CLIENT="+host+" "+port+" "+lport)
		}
	}
	return append(env, extra...)
}

func (s *Server) track(cmd *exec.Cmd, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if add {
		if s.closed {
			return false
		}
		s.procs[cmd] = struct{}{}
		s.wg.Add(1)
		return true
	}
	delete(s.procs, cmd)
	s.wg.Done()
	return true
}

func sendExit(ch ssh.Channel, err error) int {
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		_, _ = ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{0}))
		return 0
	case errors.As(err, &exitErr):
		if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			name := strings.TrimPrefix(strings.ToUpper(unixSignalName(ws.Signal())), "SIG")
			_, _ = ch.SendRequest("exit-signal", false, ssh.Marshal(struct {
				Signal     string
				CoreDumped bool
				Error      string
				Lang       string
			}{name, ws.CoreDump(), "", ""}))
			return 128 + int(ws.Signal())
		}
		code := exitErr.ExitCode()
		_, _ = ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(code)})) //nolint:gosec // exit codes are 0..255.
		return code
	default:
		_, _ = ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{255}))
		return 255
	}
}

func unixSignalName(sig syscall.Signal) string {
	switch sig {
	case syscall.SIGKILL:
		return "KILL"
	case syscall.SIGTERM:
		return "TERM"
	case syscall.SIGINT:
		return "INT"
	case syscall.SIGHUP:
		return "HUP"
	case syscall.SIGPIPE:
		return "PIPE"
	case syscall.SIGSEGV:
		return "SEGV"
	case syscall.SIGABRT:
		return "ABRT"
	case syscall.SIGQUIT:
		return "QUIT"
	}
	return "SIG" + strconv.Itoa(int(sig))
}

// run executes one command in the node sandbox, applying drop faults.
func (s *Server) run(conn *ssh.ServerConn, ch ssh.Channel, command string, env []string) {
	start := time.Now()
	ev := Event{Node: s.opts.Node, Command: command, Exit: -1, Start: start}
	faults := s.faults()
	if faults.match(command, DropBefore) != nil {
		_ = conn.Close()
		ev.Dropped = DropBefore.String()
		ev.Duration = time.Since(start)
		s.emit(ev)
		return
	}
	s.seedCTs(command)
	w := s.beginWrites()
	var latency time.Duration
	if s.opts.ExecLatency != nil {
		latency = s.opts.ExecLatency()
	}
	cmd := exec.Command(s.spec.bwrap, s.spec.args(command, latency)...) //nolint:gosec // running the client's command in the sandbox is the point.
	cmd.Env = s.environ(conn, env)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Stdout = &drainWriter{w: ch}
	cmd.Stderr = &drainWriter{w: ch.Stderr()}
	cmd.WaitDelay = 5 * time.Second
	stdin, err := cmd.StdinPipe()
	if err == nil && s.track(cmd, true) {
		err = cmd.Start()
		if err != nil {
			s.track(cmd, false)
		}
	} else if err == nil {
		err = errors.New("server closed")
	}
	if err != nil {
		_, _ = fmt.Fprintf(ch.Stderr(), "pvesim sshd: cannot start the sandbox: %v\n", err)
		ev.Write = s.endWrites(w)
		ev.Exit = sendExit(ch, err)
		ev.Duration = time.Since(start)
		s.emit(ev)
		return
	}
	go func() {
		_, _ = io.Copy(stdin, ch)
		_ = stdin.Close()
	}()
	droppedDuring := faults.match(command, DropDuring) != nil
	if droppedDuring {
		_ = conn.Close()
		ev.Dropped = DropDuring.String()
	}
	waitErr := cmd.Wait()
	s.track(cmd, false)
	ev.Write = s.endWrites(w)
	switch {
	case droppedDuring:
	case faults.match(command, DropAfter) != nil:
		_ = conn.Close()
		ev.Dropped = DropAfter.String()
	default:
		ev.Exit = sendExit(ch, waitErr)
		_ = ch.CloseWrite()
	}
	ev.Duration = time.Since(start)
	s.emit(ev)
}

type stamp struct {
	size int64
	mod  int64
	mode fs.FileMode
}

// absent is the stamp of a path that does not exist.
var absent = stamp{size: -1}

// walkEnv, when set in the simulator's environment, turns the journal off:
// every command then walks the state (for comparing the two).
const walkEnv = "PHOENIX_SIM_WALK_WRITES"

// roots are the directories under the state dir that the node's commands
// can change and whose changes count as writes: the PVE configs of all
// nodes, the node's /etc/apparmor.d, its CT volumes and runtime files.
func (s *Server) roots() []string {
	st := s.opts.StateDir
	return []string{
		filepath.Join(st, "nodes"),
		filepath.Join(st, "apparmor", s.opts.Node),
		filepath.Join(st, "volumes", s.opts.Node),
		filepath.Join(st, "runtime", s.opts.Node),
	}
}

// writeWindow is what a command's write detection started with: a journal
// window, or (without a working journal) a snapshot of the state.
type writeWindow struct {
	start    time.Time
	journal  bool
	seq      uint64
	snapshot map[string]stamp
}

// WriteDetection reports how the server finds the writes of commands:
// "journal" (inotify watches kept up to date) or "walk" (every command
// stamps the whole state before and after).
func (s *Server) WriteDetection() string {
	if s.journal != nil {
		s.journal.mu.Lock()
		defer s.journal.mu.Unlock()
		if s.journal.broken == nil {
			return "journal"
		}
	}
	return "walk"
}

// beginWrites starts the write detection of a command.
func (s *Server) beginWrites() writeWindow {
	w := writeWindow{start: time.Now()}
	if s.journal != nil {
		if seq, err := s.journal.begin(); err == nil {
			w.journal, w.seq = true, seq
			return w
		}
	}
	w.snapshot = s.snapshot()
	return w
}

// endWrites reports whether the state changed since beginWrites, leaving
// out the changes a concurrent seedCT made (a path still as a fill left it).
func (s *Server) endWrites(w writeWindow) bool {
	if !w.journal {
		return s.wrote(w.snapshot, s.snapshot())
	}
	changes, err := s.journal.end(w.seq)
	if err != nil {
		// The journal broke while the command ran: what it changed is
		// not known.
		return true
	}
	s.mu.Lock()
	filling := s.filling
	s.mu.Unlock()
	if filling != "" {
		prefix := filling + string(filepath.Separator)
		for _, c := range changes {
			if c.path == filling || strings.HasPrefix(c.path, prefix) {
				// A fill runs in a volume the command's changes lie in:
				// what the fill leaves is known when it ends.
				s.seedMu.Lock()
				//nolint:staticcheck // waiting for the fill is the point.
				s.seedMu.Unlock()
				break
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range changes {
		if c.path == "" {
			return true
		}
		st, ok := lstamp(c.path)
		if !ok {
			st = absent
		}
		if seeded, ok := s.seeded[c.path]; ok && seeded == st {
			continue
		}
		// A file opened for writing and closed is written unless its
		// mtime predates the command (the kernel's file clock may lag the
		// wall clock by a tick).
		if !c.closeWrite || ok && st.mod >= w.start.Add(-closeWriteSlack).UnixNano() {
			return true
		}
	}
	return false
}

// closeWriteSlack is how far a file's mtime may lie before the start of
// the command that wrote it.
const closeWriteSlack = 50 * time.Millisecond

// snapshot records size, mtime and mode of every file under the roots.
func (s *Server) snapshot() map[string]stamp {
	return walkStamps(s.roots()...)
}

// walkStamps stamps every path below roots.
func walkStamps(roots ...string) map[string]stamp {
	m := map[string]stamp{}
	for _, root := range roots {
		_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil //nolint:nilerr // files vanishing during the walk are expected.
			}
			info, err := d.Info()
			if err != nil {
				return nil //nolint:nilerr // idem.
			}
			m[p] = stamp{size: info.Size(), mod: info.ModTime().UnixNano(), mode: info.Mode()}
			return nil
		})
	}
	return m
}

// namedVMID is a word of a command that may name a container: the N of
// "pct exec N", or an ID given to a script that runs pct exec for each
// (written +N by the provider's batch check for a further container).
var namedVMID = regexp.MustCompile(`^\+?([1-9][0-9]{2,8})$`)

// maxSeedWords bounds how many words of one command seedCTs looks at.
const maxSeedWords = 1024

// seedCTs gives each container of the node that the command names (as a
// word of its own, "N" or "+N", on the command's last line: a script passed
// inline comes before its arguments) its root file system, before the
// command's write detection starts; see seedCT.
func (s *Server) seedCTs(command string) {
	if i := strings.LastIndexByte(command, '\n'); i >= 0 {
		command = command[i+1:]
	}
	words := strings.Fields(command)
	if len(words) > maxSeedWords {
		words = words[:maxSeedWords]
	}
	seen := map[int]bool{}
	for _, w := range words {
		m := namedVMID.FindStringSubmatch(w)
		if m == nil {
			continue
		}
		vmid, _ := strconv.Atoi(m[1]) // at most 9 digits
		if !seen[vmid] {
			seen[vmid] = true
			s.seedCT(vmid)
		}
	}
}

// seedCT gives container vmid, when the node has it, its root file system.
// On Proxmox VE the template is unpacked into the volume when the
// container is created; the simulator's pct fills a volume on its first
// pct exec instead (from the stand-ins), and without this a read-only first
// command, such as a Docker check in a container made outside Terraform,
// would count as a write. What the fill left at each path it changed is
// kept in s.seeded, so that a command running meanwhile does not count the
// fill as its own write.
func (s *Server) seedCT(vmid int) {
	root, err := CTRootfs(s.opts.StateDir, s.opts.Node, vmid)
	if err != nil {
		return
	}
	if _, err := os.Stat(filepath.Join(root, "var", "lib", "dpkg", "status")); err == nil {
		return
	}
	// A stopped container is not filled (pct exec refuses it first); the
	// command then fails the same way.
	s.seedMu.Lock()
	defer s.seedMu.Unlock()
	var before map[string]stamp
	w := writeWindow{}
	if s.journal != nil {
		if seq, err := s.journal.begin(); err == nil {
			w.journal, w.seq = true, seq
		}
	}
	if !w.journal {
		before = walkStamps(root)
	}
	s.mu.Lock()
	s.filling = root
	s.mu.Unlock()
	seed := exec.Command(s.spec.bwrap, s.spec.args("pct exec "+strconv.Itoa(vmid)+" -- true", 0)...) //nolint:gosec // the simulator's own command.
	seed.Env = []string{"PATH=" + nodePath, "HOME=/root", "USER=root", "LANG=C.UTF-8"}
	seed.WaitDelay = 5 * time.Second
	_ = seed.Run()
	left := map[string]stamp{}
	if w.journal {
		changes, err := s.journal.end(w.seq)
		if err == nil {
			prefix := root + string(filepath.Separator)
			for _, c := range changes {
				if c.path == root || strings.HasPrefix(c.path, prefix) {
					st, ok := lstamp(c.path)
					if !ok {
						st = absent
					}
					left[c.path] = st
				}
			}
		}
	} else {
		for p, st := range walkStamps(root) {
			if before[p] != st {
				left[p] = st
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.filling = ""
	if s.seeded == nil {
		s.seeded = map[string]stamp{}
	}
	for p, st := range left {
		s.seeded[p] = st
	}
}

// wrote reports whether the state changed between two snapshots, leaving
// out the changes a concurrent seedCT made (a path still as a fill left it).
func (s *Server) wrote(before, after map[string]stamp) bool {
	if sameSnapshot(before, after) {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for p, a := range after {
		if b, ok := before[p]; (!ok || b != a) && s.seeded[p] != a {
			return true
		}
	}
	for p := range before {
		if _, ok := after[p]; !ok && s.seeded[p] != absent {
			return true
		}
	}
	return false
}

func sameSnapshot(a, b map[string]stamp) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
