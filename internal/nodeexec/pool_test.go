package nodeexec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// helperPath is the test binary, which prints its argv when run by the
// test server (see TestMain).
func helperPath(t testing.TB) string {
	t.Helper()
	p, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// splitNUL splits NUL-terminated fields.
func splitNUL(b []byte) []string {
	out := []string{}
	for len(b) > 0 {
		i := bytes.IndexByte(b, 0)
		if i < 0 {
			return append(out, "<unterminated>"+string(b))
		}
		out = append(out, string(b[:i]))
		b = b[i+1:]
	}
	return out
}

// trickyArgs are arguments a careless quoting would break or execute.
var trickyArgs = []string{
	"",
	"plain",
	"two words",
	"it's",
	`"double"`,
	`back\slash`,
	"$(touch pwned)",
	"`touch pwned`",
	"${HOME}",
	"$HOME",
	"line1\nline2\n",
	"tab\there",
	"*",
	"~",
	"~root",
	"-n",
	"--",
	"a=b",
	"; touch pwned",
	"&& touch pwned",
	"| cat",
	"> pwned",
	"#comment",
	"!bang",
	"{a,b}",
	"%1",
	"héllo wörld ✓ 日本",
	"\xff\xfe invalid utf-8",
	"'",
	"''",
	`'\''`,
	"\r\n",
	"\x01\x1b[31m",
}

func TestRunArgvRoundTripOverSSH(t *testing.T) {
	f := newFixture(t, serverOptions{}, nil)
	argv := append([]string{helperPath(t)}, trickyArgs...)
	res, err := f.pool.Run(t.Context(), "pve1", Command{Op: "print-argv", Argv: argv})
	if err != nil {
		t.Fatal(err)
	}
	got := splitNUL(res.Stdout)
	if !slices.Equal(got, trickyArgs) {
		t.Fatalf("remote argv differs:\n got %q\nwant %q", got, trickyArgs)
	}
	if _, err := os.Stat(filepath.Join(f.srv.dir, "pwned")); err == nil {
		t.Fatal("an argument was executed by the remote shell")
	}
}

func TestRunRefusesNULBeforeConnecting(t *testing.T) {
	f := newFixture(t, serverOptions{}, nil)
	_, err := f.pool.Run(t.Context(), "pve1", Command{Op: "nul", Argv: []string{"echo", "a\x00b"}})
	if !errors.Is(err, ErrNUL) {
		t.Fatalf("want ErrNUL, got %v", err)
	}
	if !strings.Contains(err.Error(), `"nul"`) || !strings.Contains(err.Error(), "argument 1") {
		t.Fatalf("error should name the operation and the argument: %v", err)
	}
	if n := f.srv.connections(); n != 0 {
		t.Fatalf("connections opened = %d, want 0", n)
	}
	if hs, execs, _ := f.srv.stats(); hs != 0 || len(execs) != 0 {
		t.Fatalf("server saw %d handshakes and %q", hs, execs)
	}
}

func TestNewPoolNeverDials(t *testing.T) {
	pemKey, _, _ := clientKey(t)
	calls := 0
	p, err := NewPool(Config{PrivateKey: pemKey, KnownHostsFile: filepath.Join(t.TempDir(), "kh")},
		func(context.Context, string) (Node, error) { calls++; return Node{}, errors.New("unused") })
	if err != nil {
		t.Fatal(err)
	}
	if calls != 0 {
		t.Fatalf("resolver called %d times by NewPool", calls)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Run(t.Context(), "pve1", Cat("/etc/hostname")); !errors.Is(err, ErrPoolClosed) {
		t.Fatalf("Run after Close: want ErrPoolClosed, got %v", err)
	}
}

func TestNewPoolConfigErrors(t *testing.T) {
	resolve := func(context.Context, string) (Node, error) { return Node{}, nil }
	pemKey, _, priv := clientKey(t)
	block, err := ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte("hunter2"))
	if err != nil {
		t.Fatal(err)
	}
	encrypted := string(pemEncodeBlock(block))
	t.Setenv("SSH_AUTH_SOCK", "")
	cases := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no auth", Config{}, "no ssh authentication configured"},
		{"passphrase key", Config{PrivateKey: encrypted}, "protected by a passphrase"},
		{"garbage key", Config{PrivateKey: "not a key"}, "cannot be parsed"},
		{"agent without socket", Config{Agent: true}, "SSH_AUTH_SOCK is not set"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewPool(tc.cfg, resolve)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want error containing %q, got %v", tc.want, err)
			}
			for _, secret := range []string{encrypted, pemKey, "hunter2", "PRIVATE KEY"} {
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("error leaks key material: %v", err)
				}
			}
		})
	}
}

func TestHostKeyKnown(t *testing.T) {
	f := newFixture(t, serverOptions{}, nil)
	res, err := f.pool.Run(t.Context(), "pve1", Command{Op: "echo", Argv: []string{"echo", "ok"}})
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Stdout) != "ok\n" || res.ExitCode != 0 {
		t.Fatalf("got %q exit %d", res.Stdout, res.ExitCode)
	}
}

func TestHostKeyPrefersRecordedKeyType(t *testing.T) {
	// The node has an ed25519 and an ECDSA key; only the ECDSA one is
	// recorded. The client must ask for ECDSA instead of calling the node
	// changed.
	ecKey := newECDSASigner(t)
	f := newFixture(t, serverOptions{hostKeys: []ssh.Signer{newEd25519Signer(t), ecKey}}, nil)
	line := fmt.Sprintf("[127.0.0.1]:%d %s", f.srv.port, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(ecKey.PublicKey()))))
	if err := os.WriteFile(f.cfg.KnownHostsFile, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := f.pool.Run(t.Context(), "pve1", Command{Op: "true", Argv: []string{"true"}}); err != nil {
		t.Fatal(err)
	}
}

func TestHostKeyUnknown(t *testing.T) {
	f := newFixture(t, serverOptions{}, func(c *Config) {
		c.KnownHostsFile = writeKnownHosts(t, "# nothing yet")
	})
	_, err := f.pool.Run(t.Context(), "pve1", Command{Op: "touch", Argv: []string{"touch", "executed"}})
	var unknown *UnknownHostError
	if !errors.As(err, &unknown) {
		t.Fatalf("want *UnknownHostError, got %T %v", err, err)
	}
	key := f.srv.hostKeys[0].PublicKey()
	wantLine := fmt.Sprintf("[127.0.0.1]:%d %s", f.srv.port, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key))))
	msg := err.Error()
	for _, want := range []string{
		ssh.FingerprintSHA256(key),
		fmt.Sprintf("[127.0.0.1]:%d", f.srv.port),
		wantLine,
		f.cfg.KnownHostsFile,
		"trust_on_first_use = true",
		`node "pve1"`,
		"ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	assertNothingExecuted(t, f)
	content, _ := os.ReadFile(f.cfg.KnownHostsFile)
	if string(content) != "# nothing yet\n" {
		t.Fatalf("known_hosts changed without trust on first use: %q", content)
	}
}

func assertNothingExecuted(t *testing.T, f *fixture) {
	t.Helper()
	if hs, execs, _ := f.srv.stats(); hs != 0 || len(execs) != 0 {
		t.Fatalf("server completed %d handshakes and ran %q; want none", hs, execs)
	}
	if _, err := os.Stat(filepath.Join(f.srv.dir, "executed")); err == nil {
		t.Fatal("the command ran")
	}
}

func TestHostKeyTrustOnFirstUse(t *testing.T) {
	dir := t.TempDir()
	khFile := filepath.Join(dir, "sub", "known_hosts")
	f := newFixture(t, serverOptions{}, func(c *Config) {
		c.KnownHostsFile = khFile
		c.TrustOnFirstUse = true
	})
	// Several concurrent first runs must record the key once.
	concurrently(t, 4, func(int) error {
		_, err := f.pool.Run(t.Context(), "pve1", Command{Op: "true", Argv: []string{"true"}})
		return err
	})()
	content, err := os.ReadFile(khFile)
	if err != nil {
		t.Fatal(err)
	}
	if string(content) != f.srv.knownHostsLine()+"\n" {
		t.Fatalf("known_hosts = %q, want the one line %q", content, f.srv.knownHostsLine())
	}
	st, err := os.Stat(khFile)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("known_hosts mode %v, want 0600", st.Mode().Perm())
	}

	// A strict pool now trusts the recorded key.
	strict, err := NewPool(Config{PrivateKey: f.cfg.PrivateKey, KnownHostsFile: khFile},
		func(context.Context, string) (Node, error) { return f.srv.node(), nil })
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = strict.Close() }()
	if _, err := strict.Run(t.Context(), "pve1", Command{Op: "true", Argv: []string{"true"}}); err != nil {
		t.Fatal(err)
	}
}

func TestHostKeyTrustOnFirstUseAppendsAfterUnterminatedLine(t *testing.T) {
	other := "otherhost ssh-ed25519 " + strings.Fields(string(ssh.MarshalAuthorizedKey(newEd25519Signer(t).PublicKey())))[1]
	path := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(path, []byte(other), 0o600); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, serverOptions{}, func(c *Config) {
		c.KnownHostsFile = path
		c.TrustOnFirstUse = true
	})
	if _, err := f.pool.Run(t.Context(), "pve1", Command{Op: "true", Argv: []string{"true"}}); err != nil {
		t.Fatal(err)
	}
	content, _ := os.ReadFile(path)
	if want := other + "\n" + f.srv.knownHostsLine() + "\n"; string(content) != want {
		t.Fatalf("known_hosts = %q, want %q", content, want)
	}
}

// knowOnly makes key the only one known_hosts records for the node, and
// returns its line.
func (f *fixture) knowOnly(t *testing.T, key ssh.PublicKey) string {
	t.Helper()
	line := fmt.Sprintf("[127.0.0.1]:%d %s", f.srv.port, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key))))
	if err := os.WriteFile(f.cfg.KnownHostsFile, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return line
}

// runWithChangedKey runs a command that must fail with a HostKeyChangedError.
func (f *fixture) runWithChangedKey(t *testing.T) error {
	t.Helper()
	_, err := f.pool.Run(t.Context(), "pve1", Command{Op: "touch", Argv: []string{"touch", "executed"}})
	var changed *HostKeyChangedError
	if !errors.As(err, &changed) {
		t.Fatalf("want *HostKeyChangedError, got %T %v", err, err)
	}
	return err
}

func TestHostKeyChangedIsAlwaysAnError(t *testing.T) {
	for _, tofu := range []bool{false, true} {
		t.Run(fmt.Sprintf("tofu=%v", tofu), func(t *testing.T) {
			old := newEd25519Signer(t).PublicKey()
			f := newFixture(t, serverOptions{}, func(c *Config) {
				c.TrustOnFirstUse = tofu
			})
			oldLine := f.knowOnly(t, old)
			msg := f.runWithChangedKey(t).Error()
			for _, want := range []string{
				ssh.FingerprintSHA256(old),
				ssh.FingerprintSHA256(f.srv.hostKeys[0].PublicKey()),
				"HOST KEY HAS CHANGED",
				f.cfg.KnownHostsFile + ":1",
			} {
				if !strings.Contains(msg, want) {
					t.Errorf("error lacks %q:\n%s", want, msg)
				}
			}
			assertNothingExecuted(t, f)
			content, _ := os.ReadFile(f.cfg.KnownHostsFile)
			if string(content) != oldLine+"\n" {
				t.Fatalf("known_hosts was modified: %q", content)
			}
		})
	}
}

func TestHostKeyChangedTypeNoLongerOffered(t *testing.T) {
	// Only an ECDSA key is recorded; the node now offers only ed25519.
	ec := newECDSASigner(t).PublicKey()
	f := newFixture(t, serverOptions{}, func(c *Config) { c.TrustOnFirstUse = true })
	f.knowOnly(t, ec)
	err := f.runWithChangedKey(t)
	if !strings.Contains(err.Error(), ssh.FingerprintSHA256(ec)) || !strings.Contains(err.Error(), "none of the key types") {
		t.Fatalf("unexpected message: %v", err)
	}
	assertNothingExecuted(t, f)
}

func TestAuthPasswordMethods(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts serverOptions
	}{
		{"Password", serverOptions{password: "s3cret-pw", user: "root"}},
		{"KeyboardInteractive", serverOptions{kbdInt: "s3cret-pw"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.opts, func(c *Config) {
				c.PrivateKey = ""
				c.Password = "s3cret-pw"
			})
			if _, err := f.pool.Run(t.Context(), "pve1", Command{Op: "true", Argv: []string{"true"}}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestAuthFailureDoesNotLeakSecrets(t *testing.T) {
	f := newFixture(t, serverOptions{password: "right-password"}, func(c *Config) {
		c.Password = "wrong-password-XYZ"
	})
	// The client key is authorized too; make it unknown to the server.
	otherKey, _, _ := clientKey(t)
	pool, err := NewPool(Config{PrivateKey: otherKey, Password: "wrong-password-XYZ", KnownHostsFile: f.cfg.KnownHostsFile},
		func(context.Context, string) (Node, error) { return f.srv.node(), nil })
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = pool.Close() }()
	_, err = pool.Run(t.Context(), "pve1", Command{Op: "true", Argv: []string{"true"}})
	if err == nil || !strings.Contains(err.Error(), "unable to authenticate") || !strings.Contains(err.Error(), `"root"`) {
		t.Fatalf("want an authentication error naming the user, got %v", err)
	}
	for _, secret := range []string{"wrong-password-XYZ", otherKey, "PRIVATE KEY"} {
		if strings.Contains(err.Error(), secret) {
			t.Fatalf("error leaks a secret: %v", err)
		}
	}
}

func TestAuthAgent(t *testing.T) {
	_, pub, priv := clientKey(t)
	keyring := agent.NewKeyring()
	if err := keyring.Add(agent.AddedKey{PrivateKey: priv}); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "agent.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				_ = agent.ServeAgent(keyring, c)
				_ = c.Close()
			}()
		}
	}()
	t.Setenv("SSH_AUTH_SOCK", sock)
	f := newFixture(t, serverOptions{authorized: []ssh.PublicKey{pub}}, func(c *Config) {
		c.PrivateKey = "" // only the agent holds an authorized key
		c.Agent = true
	})
	if _, err := f.pool.Run(t.Context(), "pve1", Command{Op: "true", Argv: []string{"true"}}); err != nil {
		t.Fatal(err)
	}
}

func TestPoolUsesOneConnectionPerNode(t *testing.T) {
	f := newFixture(t, serverOptions{}, nil)
	concurrently(t, 20, func(i int) error {
		res, err := f.pool.Run(t.Context(), "pve1", Command{Op: "echo", Argv: []string{"echo", fmt.Sprint(i)}})
		if err == nil && string(res.Stdout) != fmt.Sprintf("%d\n", i) {
			err = fmt.Errorf("run %d got %q", i, res.Stdout)
		}
		return err
	})()
	if n := f.srv.connections(); n != 1 {
		t.Fatalf("connections opened = %d, want 1", n)
	}
	if hs, _, _ := f.srv.stats(); hs != 1 {
		t.Fatalf("server handshakes = %d, want 1", hs)
	}
}

func TestPoolBoundsConcurrentSessions(t *testing.T) {
	release := make(chan struct{})
	f := newFixture(t, serverOptions{}, func(c *Config) { c.MaxSessionsPerNode = 2 })
	f.srv.handler = func(cmd string, _ ssh.Channel, _ net.Conn) (int, bool) {
		if cmd != "gate" {
			return 0, false
		}
		<-release
		return 0, true
	}
	const n = 6
	wait := concurrently(t, n, func(int) error {
		_, err := f.pool.Run(t.Context(), "pve1", Command{Op: "gate", Argv: []string{"gate"}})
		return err
	})
	waitFor(t, "two sessions active", func() bool {
		f.srv.mu.Lock()
		defer f.srv.mu.Unlock()
		return f.srv.active == 2
	})
	for range n {
		release <- struct{}{}
	}
	wait()
	_, execs, maxActive := f.srv.stats()
	if len(execs) != n || maxActive != 2 {
		t.Fatalf("ran %d commands with at most %d at once; want %d with at most 2", len(execs), maxActive, n)
	}
}

// waitFor polls cond until it holds, failing after a generous deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestReconnectAfterIdleDrop(t *testing.T) {
	f := newFixture(t, serverOptions{}, nil)
	echo := Command{Op: "echo", Argv: []string{"echo", "hi"}}
	if _, err := f.pool.Run(t.Context(), "pve1", echo); err != nil {
		t.Fatal(err)
	}
	f.srv.dropAll()
	res, err := f.pool.Run(t.Context(), "pve1", echo)
	if err != nil {
		t.Fatalf("run after the server dropped the connection: %v", err)
	}
	if string(res.Stdout) != "hi\n" {
		t.Fatalf("got %q", res.Stdout)
	}
	if n := f.srv.connections(); n != 2 {
		t.Fatalf("connections opened = %d, want 2", n)
	}
}

func TestDropMidCommand(t *testing.T) {
	for _, retry := range []bool{false, true} {
		t.Run(fmt.Sprintf("retry=%v", retry), func(t *testing.T) {
			f := newFixture(t, serverOptions{}, nil)
			var mu sync.Mutex
			drops := 0
			f.srv.handler = func(cmd string, ch ssh.Channel, c net.Conn) (int, bool) {
				if cmd != "work" {
					return 0, false
				}
				mu.Lock()
				defer mu.Unlock()
				if drops == 0 {
					drops++
					_, _ = ch.Write([]byte("started\n"))
					_ = c.Close()
					return 0, true
				}
				_, _ = ch.Write([]byte("done\n"))
				return 0, true
			}
			res, err := f.pool.Run(t.Context(), "pve1", Command{Op: "work", Argv: []string{"work"}, Retry: retry})
			if !retry {
				var dropped *ConnectionDroppedError
				if !errors.As(err, &dropped) {
					t.Fatalf("want *ConnectionDroppedError, got %T %v", err, err)
				}
				if !strings.Contains(err.Error(), "dropped") || !strings.Contains(err.Error(), `"work"`) {
					t.Fatalf("unclear message: %v", err)
				}
				if _, execs, _ := f.srv.stats(); len(execs) != 1 {
					t.Fatalf("command sent %d times, want 1", len(execs))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(res.Stdout) != "done\n" {
				t.Fatalf("got %q", res.Stdout)
			}
			if n := f.srv.connections(); n != 2 {
				t.Fatalf("connections opened = %d, want 2", n)
			}
		})
	}
}

func TestCommandErrorCarriesExitCodeAndTails(t *testing.T) {
	f := newFixture(t, serverOptions{}, nil)
	script := "echo out1; echo out2; i=1; while [ $i -le 30 ]; do echo err$i >&2; i=$((i+1)); done; exit 3"
	res, err := f.pool.Run(t.Context(), "pve1", Command{Op: "install-docker", Argv: []string{"sh", "-c", script}})
	var ce *CommandError
	if !errors.As(err, &ce) {
		t.Fatalf("want *CommandError, got %T %v", err, err)
	}
	if ce.ExitCode != 3 || res == nil || res.ExitCode != 3 || ce.Op != "install-docker" || ce.Node != "pve1" {
		t.Fatalf("got %+v, result %+v", ce, res)
	}
	if len(ce.StderrTail) != 20 || ce.StderrTail[0] != "err11" || ce.StderrTail[19] != "err30" {
		t.Fatalf("stderr tail %q", ce.StderrTail)
	}
	if !slices.Equal(ce.StdoutTail, []string{"out1", "out2"}) {
		t.Fatalf("stdout tail %q", ce.StdoutTail)
	}
	msg := err.Error()
	for _, want := range []string{`operation "install-docker"`, `node "pve1"`, "exit code 3", "err30", "err11"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "err10\n") {
		t.Errorf("message holds more than the tail:\n%s", msg)
	}
}

func TestCommandErrorFallsBackToStdout(t *testing.T) {
	f := newFixture(t, serverOptions{}, nil)
	_, err := f.pool.Run(t.Context(), "pve1", Command{Op: "check", Argv: []string{"sh", "-c", "echo FATAL: docker is not active; exit 1"}})
	if err == nil || !strings.Contains(err.Error(), "last lines of stdout:\n  FATAL: docker is not active") {
		t.Fatalf("got %v", err)
	}
}

func TestCommandKilledBySignal(t *testing.T) {
	f := newFixture(t, serverOptions{}, nil)
	_, err := f.pool.Run(t.Context(), "pve1", Command{Op: "suicide", Argv: []string{"exec", "sh", "-c", "kill -KILL $$"}})
	var ce *CommandError
	if !errors.As(err, &ce) || ce.Signal != "KILL" || ce.ExitCode != -1 {
		t.Fatalf("want a CommandError for signal KILL, got %v", err)
	}
}

func TestLineFuncStreamsLines(t *testing.T) {
	f := newFixture(t, serverOptions{}, nil)
	var got []string
	res, err := f.pool.Run(t.Context(), "pve1",
		Command{Op: "lines", Argv: []string{"sh", "-c", "printf 'a\\nb\\n'; printf 'e1\\n' >&2; printf 'no newline'"}},
		WithLineFunc(func(s Stream, line string) { got = append(got, s.String()+":"+line) }))
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Stdout) != "a\nb\nno newline" || string(res.Stderr) != "e1\n" {
		t.Fatalf("result %q / %q", res.Stdout, res.Stderr)
	}
	var stdout, stderr []string
	for _, g := range got {
		if strings.HasPrefix(g, "stdout:") {
			stdout = append(stdout, g)
		} else {
			stderr = append(stderr, g)
		}
	}
	if !slices.Equal(stdout, []string{"stdout:a", "stdout:b", "stdout:no newline"}) || !slices.Equal(stderr, []string{"stderr:e1"}) {
		t.Fatalf("lines %q", got)
	}
}

func TestStdinIsDelivered(t *testing.T) {
	f := newFixture(t, serverOptions{}, nil)
	script := []byte("printf '%s|' \"$@\"; cat\n")
	cmd := Command{Op: "script", Argv: []string{"sh", "-s", "--", "x y", "$z"}, Stdin: script}
	res, err := f.pool.Run(t.Context(), "pve1", cmd)
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Stdout) != "x y|$z|" {
		t.Fatalf("got %q", res.Stdout)
	}
}

func TestSudoPrefix(t *testing.T) {
	// A stand-in sudo proves the prefix is "sudo -n --" and still runs
	// the command.
	bin := t.TempDir()
	fake := "#!/bin/sh\n[ \"$1\" = -n ] || exit 90\nshift\n[ \"$1\" = -- ] || exit 91\nshift\necho SUDO >&2\nexec \"$@\"\n"
	if err := os.WriteFile(filepath.Join(bin, "sudo"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		user     string
		mode     SudoMode
		wantSudo bool
	}{
		{"deploy", SudoAuto, true},
		{"root", SudoAuto, false},
		{"root", SudoAlways, true},
		{"deploy", SudoNever, false},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s/%d", tc.user, tc.mode), func(t *testing.T) {
			f := newFixture(t, serverOptions{}, func(c *Config) {
				c.Username = tc.user
				c.Sudo = tc.mode
			})
			f.srv.env = append(f.srv.env, "PATH="+bin+":"+os.Getenv("PATH"))
			res, err := f.pool.Run(t.Context(), "pve1", Cat("/dev/null"))
			if err != nil {
				t.Fatal(err)
			}
			_, execs, _ := f.srv.stats()
			gotSudo := strings.HasPrefix(execs[0], "sudo -n -- cat -- /dev/null")
			if gotSudo != tc.wantSudo || (string(res.Stderr) == "SUDO\n") != tc.wantSudo {
				t.Fatalf("sent %q, stderr %q; want sudo=%v", execs[0], res.Stderr, tc.wantSudo)
			}
			// A command not marked Sudo never gets the prefix.
			if _, err := f.pool.Run(t.Context(), "pve1", Command{Op: "id", Argv: []string{"true"}}); err != nil {
				t.Fatal(err)
			}
			if _, execs, _ = f.srv.stats(); execs[1] != "true" {
				t.Fatalf("unmarked command sent as %q", execs[1])
			}
		})
	}
}

func TestContextCancelEndsRemoteCommand(t *testing.T) {
	f := newFixture(t, serverOptions{}, nil)
	ctx, cancel := context.WithCancel(t.Context())
	var once sync.Once
	_, err := f.pool.Run(ctx, "pve1",
		Command{Op: "sleep", Argv: []string{"sh", "-c", "echo started; exec sleep 300"}},
		WithLineFunc(func(Stream, string) { once.Do(cancel) }))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
	f.srv.waitSignaled(t)
	// The connection stays usable.
	if _, err := f.pool.Run(t.Context(), "pve1", Command{Op: "true", Argv: []string{"true"}}); err != nil {
		t.Fatal(err)
	}
	if n := f.srv.connections(); n != 1 {
		t.Fatalf("connections opened = %d, want 1", n)
	}
}

// waitSignaled waits for the next shell-run command to end, and wants it
// ended by a signal.
func (s *testServer) waitSignaled(t *testing.T) {
	t.Helper()
	select {
	case end := <-s.ended:
		if !end.signaled {
			t.Fatalf("remote command ended without a signal: %+v", end)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the remote command was not stopped")
	}
}

// A command that prints more than its MaxOutput is stopped there: the
// LineFunc gets nothing beyond it, Run an *OutputLimitError. Within the
// bound, and without one, nothing changes.
func TestMaxOutputStopsTheCommand(t *testing.T) {
	f := newFixture(t, serverOptions{}, nil)
	var delivered int
	_, err := f.pool.Run(t.Context(), "pve1",
		Command{Op: "flood", Argv: []string{"sh", "-c", "yes flood; exec sleep 300"}, MaxOutput: 4096},
		WithLineFunc(func(_ Stream, line string) { delivered += len(line) + 1 }))
	var le *OutputLimitError
	if !errors.As(err, &le) || le.Limit != 4096 || !strings.Contains(err.Error(), "more than 4096 bytes") {
		t.Fatalf("want an OutputLimitError of 4096 bytes, got %v", err)
	}
	if delivered > 4096 {
		t.Errorf("%d bytes delivered beyond the bound", delivered)
	}
	f.srv.waitSignaled(t)
	// A command that ends right after going beyond the bound fails too.
	if _, err := f.pool.Run(t.Context(), "pve1", Command{Op: "burst", Argv: []string{"sh", "-c", "head -c 5000 /dev/zero"}, MaxOutput: 4096}); !errors.As(err, &le) {
		t.Errorf("5000 bytes over a bound of 4096: %v", err)
	}
	res, err := f.pool.Run(t.Context(), "pve1", Command{Op: "fits", Argv: []string{"sh", "-c", "head -c 4096 /dev/zero"}, MaxOutput: 4096})
	if err != nil || len(res.Stdout) != 4096 {
		t.Errorf("4096 bytes within a bound of 4096: %d bytes, %v", len(res.Stdout), err)
	}
}

func TestFlockAndCatOverSSH(t *testing.T) {
	f := newFixture(t, serverOptions{}, nil)
	lock := filepath.Join(f.srv.dir, "pve-config-100.lock")
	inner := Command{Op: "print-argv", Argv: []string{helperPath(t), "it's", "$(x)"}}
	res, err := f.pool.Run(t.Context(), "pve1", Flock(lock, inner))
	if err != nil {
		t.Fatal(err)
	}
	if got := splitNUL(res.Stdout); !slices.Equal(got, []string{"it's", "$(x)"}) {
		t.Fatalf("argv under flock %q", got)
	}
	if _, err := os.Stat(lock); err != nil {
		t.Fatalf("lock file not created: %v", err)
	}
	file := filepath.Join(f.srv.dir, "-odd name")
	if err := os.WriteFile(file, []byte("content\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err = f.pool.Run(t.Context(), "pve1", Cat(file))
	if err != nil || string(res.Stdout) != "content\n" {
		t.Fatalf("cat: %q %v", res.Stdout, err)
	}
}

func TestKeepaliveSparesBusyConnections(t *testing.T) {
	f := newFixture(t, serverOptions{stallGlobal: true}, func(c *Config) { c.DialTimeout = 200 * time.Millisecond })
	f.pool.keepaliveEvery = 50 * time.Millisecond
	// A command running for a second, on a node that answers no
	// keepalive: the probes it would fail are not sent while it runs.
	res, err := f.pool.Run(t.Context(), "pve1", Command{Op: "sleep", Argv: []string{"sh", "-c", "sleep 1; echo done"}})
	if err != nil || string(res.Stdout) != "done\n" {
		t.Fatalf("busy connection: %v %+v", err, res)
	}
	if n := f.srv.connections(); n != 1 {
		t.Errorf("connections opened while busy = %d, want 1", n)
	}
	// Idle, the connection is probed, found silent and replaced on the
	// next command.
	waitFor(t, "the silent idle connection to be closed", func() bool {
		f.pool.mu.Lock()
		nc := f.pool.nodes["pve1"]
		f.pool.mu.Unlock()
		nc.lock <- struct{}{}
		defer func() { <-nc.lock }()
		return nc.cur == nil || nc.cur.isDead()
	})
	if _, err := f.pool.Run(t.Context(), "pve1", Command{Op: "echo", Argv: []string{"echo", "again"}}); err != nil {
		t.Fatal(err)
	}
	if n := f.srv.connections(); n != 2 {
		t.Errorf("connections opened after the idle probe failed = %d, want 2", n)
	}
}

// TestKeyboardInteractiveAnswersOnlyPasswordPrompts: the password goes only
// to hidden prompts that ask for it; a challenge that asks a hidden second
// factor is refused whole and the server never sees the password.
func TestKeyboardInteractiveAnswersOnlyPasswordPrompts(t *testing.T) {
	const pw = "s3cret-pw"
	for _, tc := range []struct {
		questions []string
		echos     []bool
		want      []string // nil: refused
	}{
		{[]string{"Password: "}, []bool{false}, []string{pw}},
		{[]string{"root@pve1's password: "}, []bool{false}, []string{pw}},
		{[]string{"root@hotpot-pin's password: "}, []bool{false}, []string{pw}},
		{[]string{"Login banner", "Password:"}, []bool{true, false}, []string{"", pw}},
		{[]string{"Verification code: "}, []bool{false}, nil},
		{[]string{"One-time password (OATH) for `root': "}, []bool{false}, nil},
		{[]string{"Password: ", "One time password: "}, []bool{false, false}, nil},
		{[]string{"Enter PIN for YubiKey: "}, []bool{false}, nil},
		{[]string{"New password: "}, []bool{false}, nil},
		{[]string{"Passcode or option (1-3): "}, []bool{false}, nil},
		// A lone hidden prompt in another language is the password prompt.
		{[]string{"Passwort: "}, []bool{false}, []string{pw}},
		{[]string{"Mot de passe : "}, []bool{false}, []string{pw}},
		{[]string{"Enter password."}, []bool{false}, []string{pw}},
		{[]string{"(root@10.0.0.1) Password:"}, []bool{false}, []string{pw}},
		// Beside another hidden prompt, only a prompt that says password.
		{[]string{"Passwort: ", "Kennwort: "}, []bool{false, false}, nil},
		{[]string{"Verifizierungscode: "}, []bool{false}, nil},
	} {
		got, err := answerPasswordPrompts(pw, tc.questions, tc.echos)
		switch {
		case tc.want == nil && err == nil:
			t.Errorf("%q: answered %q, want a refusal", tc.questions, got)
		case tc.want == nil && strings.Contains(err.Error(), pw):
			t.Errorf("%q: the refusal leaks the password: %v", tc.questions, err)
		case tc.want != nil && (err != nil || !slices.Equal(got, tc.want)):
			t.Errorf("%q: got %q, %v; want %q", tc.questions, got, err, tc.want)
		}
	}
}

// TestKeyboardInteractiveSecondFactorNeverGetsThePassword runs the refusal
// against a server that asks for a one-time code: authentication fails and
// the server saw no answer holding the password.
func TestKeyboardInteractiveSecondFactorNeverGetsThePassword(t *testing.T) {
	f := newFixture(t, serverOptions{kbdInt: "s3cret-pw", kbdIntPrompt: "Verification code: "}, func(c *Config) {
		c.PrivateKey = ""
		c.Password = "s3cret-pw"
	})
	_, err := f.pool.Run(t.Context(), "pve1", Command{Op: "true", Argv: []string{"true"}})
	if err == nil {
		t.Fatal("authenticated by answering a one-time code prompt with the password")
	}
	for _, a := range f.srv.kbdAnswers() {
		if strings.Contains(a, "s3cret-pw") {
			t.Fatalf("the server received the password as the answer to %q", "Verification code: ")
		}
	}
}
