package sshd

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// testEnv is a node server on a temporary state dir with a client connected
// with strict host key checking.
type testEnv struct {
	t       testing.TB
	state   string
	srv     *Server
	client  *ssh.Client
	faults  *Injector
	mu      sync.Mutex
	events  []Event
	keyPath string
	known   string
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	return newTestEnvTB(t)
}

func newTestEnvTB(t testing.TB) *testEnv {
	t.Helper()
	return newTestEnvWith(t, nil)
}

// newTestEnvWith is newTestEnv with Options changed by edit.
func newTestEnvWith(t testing.TB, edit func(*Options)) *testEnv {
	t.Helper()
	e := &testEnv{t: t, state: t.TempDir(), faults: &Injector{}}
	keyPath, pub, err := EnsureClientKey(e.state)
	if err != nil {
		t.Fatal(err)
	}
	e.keyPath = keyPath
	opts := Options{
		StateDir:       e.state,
		Node:           "pve1",
		AuthorizedKeys: []ssh.PublicKey{pub},
		OnCommand: func(ev Event) {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.events = append(e.events, ev)
		},
		Faults: e.faults.FaultSet,
	}
	if edit != nil {
		edit(&opts)
	}
	srv, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	e.srv = srv
	e.known = filepath.Join(e.state, "ssh", "known_hosts")
	if err := WriteKnownHosts(e.known, srv); err != nil {
		t.Fatal(err)
	}
	e.client = e.dial()
	return e
}

func (e *testEnv) clientConfig() *ssh.ClientConfig {
	e.t.Helper()
	data, err := os.ReadFile(e.keyPath)
	if err != nil {
		e.t.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(data)
	if err != nil {
		e.t.Fatal(err)
	}
	hk, err := knownhosts.New(e.known)
	if err != nil {
		e.t.Fatal(err)
	}
	return &ssh.ClientConfig{
		User:            "root",
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: hk,
		Timeout:         10 * time.Second,
	}
}

func (e *testEnv) dial() *ssh.Client {
	e.t.Helper()
	c, err := ssh.Dial("tcp", e.srv.Addr(), e.clientConfig())
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = c.Close() })
	return c
}

type result struct {
	stdout, stderr string
	exit           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.exit, r.stdout, r.stderr)
}

// run runs command over SSH with stdin and returns its output and status.
func (e *testEnv) run(command, stdin string) result {
	e.t.Helper()
	return runOn(e.t, e.client, command, stdin)
}

func runOn(t testing.TB, c *ssh.Client, command, stdin string) result {
	t.Helper()
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sess.Close() }()
	var out, errb bytes.Buffer
	sess.Stdout = &out
	sess.Stderr = &errb
	sess.Stdin = strings.NewReader(stdin)
	err = sess.Run(command)
	r := result{stdout: out.String(), stderr: errb.String()}
	var exitErr *ssh.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr):
		r.exit = exitErr.ExitStatus()
	default:
		t.Fatalf("run %q: %v\n%s", command, err, r)
	}
	return r
}

// mustRun runs command and fails the test unless it exits 0.
func (e *testEnv) mustRun(command, stdin string) result {
	e.t.Helper()
	r := e.run(command, stdin)
	if r.exit != 0 {
		e.t.Fatalf("%q: %s", command, r)
	}
	return r
}

// wantExit runs command (the step named what) and checks its exit status and
// that its stderr holds stderrPart.
func (e *testEnv) wantExit(what, command string, exit int, stderrPart string) {
	e.t.Helper()
	if r := e.run(command, ""); r.exit != exit || !strings.Contains(r.stderr, stderrPart) {
		e.t.Errorf("%s: %s", what, r)
	}
}

func (e *testEnv) eventsSnapshot() []Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Event(nil), e.events...)
}

// waitEvents waits until n events arrived (events are emitted after the
// exit status is sent, so they may trail the client by a moment).
func (e *testEnv) waitEvents(n int) []Event {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		evs := e.eventsSnapshot()
		if len(evs) >= n || time.Now().After(deadline) {
			return evs
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// addCT writes a CT config and creates its rootfs volume, as the simulator
// core does on create.
func (e *testEnv) addCT(vmid int, conf string, running bool) string {
	e.t.Helper()
	vol := filepath.Join(e.state, "volumes", "pve1", "local-lvm", fmt.Sprintf("vm-%d-disk-0", vmid))
	for _, d := range []string{"etc", "var", "run", "tmp", "root"} {
		if err := os.MkdirAll(filepath.Join(vol, d), 0o755); err != nil {
			e.t.Fatal(err)
		}
	}
	confPath := filepath.Join(e.state, "nodes", "pve1", "lxc", fmt.Sprintf("%d.conf", vmid))
	if err := os.WriteFile(confPath, []byte(conf), 0o640); err != nil {
		e.t.Fatal(err)
	}
	run := filepath.Join(e.state, "runtime", "pve1", fmt.Sprintf("%d.running", vmid))
	if running {
		if err := os.WriteFile(run, []byte(`{"pid":4242,"started":1700000000}`+"\n"), 0o644); err != nil {
			e.t.Fatal(err)
		}
	} else {
		_ = os.Remove(run)
	}
	return vol
}

func ctConf(vmid int, features string, extra ...string) string {
	lines := []string{
		"arch: amd64",
		"cores: 2",
		"hostname: ct" + fmt.Sprint(vmid),
		"memory: 2048",
		"net0: name=eth0,bridge=vmbr0,ip=dhcp,type=veth",
		"ostype: debian",
		fmt.Sprintf("rootfs: local-lvm:vm-%d-disk-0,size=8G", vmid),
		"unprivileged: 1",
	}
	if features != "" {
		lines = append(lines, "features: "+features)
	}
	lines = append(lines, extra...)
	return strings.Join(lines, "\n") + "\n"
}
