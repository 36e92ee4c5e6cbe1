package apparmor

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
)

// node is a temporary stand-in for a node's filesystem, with a fake
// apparmor_parser that reports a chosen version and logs its loads.
type node struct {
	root, bin, log, kernel, lock, tmp string
	profile                           Profile
	env                               []string // extra environment of the next runs
}

// fakeParser reports $FAKE_AA_VERSION and, for "-r FILE", logs the load
// and lists the profile FILE declares in the kernel's list with mode
// $FAKE_AA_MODE (default enforce), after $FAKE_AA_SLEEP seconds, or fails
// with $FAKE_AA_FAIL.
const fakeParser = `#!/bin/sh
case "$1" in
--version) printf 'AppArmor parser version %s\nCopyright\n' "$FAKE_AA_VERSION"; exit 0 ;;
-r)
	echo "$*" >> "$FAKE_AA_LOG"
	if [ -n "${FAKE_AA_SLEEP:-}" ]; then sleep "$FAKE_AA_SLEEP"; fi
	[ "${FAKE_AA_FAIL:-0}" = 0 ] || exit "$FAKE_AA_FAIL"
	name=$(sed -n 's/^profile \([^ ]*\) .*/\1/p' "$2")
	[ -n "$name" ] || name=lxc-docker-secure # test content that is not a profile
	{ grep -v "^$name " "$FAKE_AA_KERNEL" 2>/dev/null || true; echo "$name (${FAKE_AA_MODE:-enforce})"; } > "$FAKE_AA_KERNEL.new"
	mv "$FAKE_AA_KERNEL.new" "$FAKE_AA_KERNEL"
	exit 0 ;;
esac
echo "unexpected arguments: $*" >&2
exit 64
`

func newNode(t *testing.T) *node {
	t.Helper()
	for _, tool := range []string{"sh", "sha256sum", "base64", "awk", "mktemp", "sed", "cut", "flock"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found; the install command needs coreutils, sed and awk", tool)
		}
	}
	root := t.TempDir()
	n := &node{
		root:   root,
		bin:    filepath.Join(root, "bin"),
		log:    filepath.Join(root, "parser.log"),
		kernel: filepath.Join(root, "kernel-profiles"),
		lock:   filepath.Join(root, "run/lock/install.lock"),
		tmp:    filepath.Join(root, "tmp"),
	}
	for _, d := range []string{n.bin, n.tmp} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(n.bin, "apparmor_parser"), []byte(fakeParser), 0o755); err != nil {
		t.Fatal(err)
	}
	n.profile.Name = DockerSecure.Name
	for _, f := range DockerSecure.Files {
		f.Path = filepath.Join(root, f.Path)
		n.profile.Files = append(n.profile.Files, f)
	}
	return n
}

// command is the install command pointed at the node's tree.
func (n *node) command() Command { return n.profile.installCommand(n.kernel, n.lock) }

// install runs the install command with the parser version, as the step
// named what, and checks its report.
func (n *node) install(t *testing.T, what, version string, want InstallReport) InstallReport {
	t.Helper()
	r, stderr, err := n.run(t, version, false)
	if err != nil {
		t.Fatalf("%s: %v\n%s", what, err, stderr)
	}
	want.ParserVersion = version
	if !reflect.DeepEqual(r, want) {
		t.Fatalf("%s = %+v, want %+v", what, r, want)
	}
	return r
}

// run runs the install command as a node would, with the given parser
// version; fail makes the parser's load fail.
func (n *node) run(t *testing.T, version string, fail bool) (InstallReport, string, error) {
	t.Helper()
	cmd := n.cmd(t, n.command(), version)
	if fail {
		cmd.Env = append(cmd.Env, "FAKE_AA_FAIL=1")
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return InstallReport{}, stderr.String(), err
	}
	r, perr := ParseInstallOutput(stdout.String())
	if perr != nil {
		t.Fatalf("parse %q: %v", stdout.String(), perr)
	}
	return r, stderr.String(), nil
}

// cmd is c as an exec.Cmd with the fake parser first in PATH.
func (n *node) cmd(t *testing.T, c Command, version string) *exec.Cmd {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), c.Args[0], c.Args[1:]...)
	cmd.Env = append(os.Environ(),
		"PATH="+n.bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"TMPDIR="+n.tmp,
		"FAKE_AA_VERSION="+version,
		"FAKE_AA_LOG="+n.log,
		"FAKE_AA_KERNEL="+n.kernel,
	)
	cmd.Env = append(cmd.Env, n.env...)
	return cmd
}

// assertClean fails when the install left a staged file or its backup
// directory behind.
func (n *node) assertClean(t *testing.T) {
	t.Helper()
	left, _ := filepath.Glob(filepath.Join(n.root, "etc/apparmor.d/.*"))
	tmp, _ := filepath.Glob(filepath.Join(n.tmp, "*"))
	left = append(left, tmp...)
	if len(left) != 0 {
		t.Fatalf("temporary files left behind: %v", left)
	}
}

func (n *node) loads(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile(n.log)
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "\n")
}

func assertFile(t *testing.T, f File) {
	t.Helper()
	got, err := os.ReadFile(f.Path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, f.Content) {
		t.Fatalf("%s differs from the shipped content", f.Path)
	}
	st, err := os.Stat(f.Path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != f.Mode {
		t.Fatalf("%s has mode %v, want %v", f.Path, st.Mode().Perm(), f.Mode)
	}
}

func TestInstallAppArmor4(t *testing.T) {
	n := newNode(t)
	prof, local := n.profile.Files[0], n.profile.Files[1]

	n.install(t, "first install", "4.1.0", InstallReport{Installed: []string{prof.Path, local.Path}, Loaded: true})
	assertFile(t, prof)
	assertFile(t, local)
	if got := n.loads(t); got != 1 {
		t.Fatalf("parser loads = %d, want 1", got)
	}
	// Only the profile file is loaded, never LXC's whole policy.
	if log, _ := os.ReadFile(n.log); string(log) != "-r "+prof.Path+"\n" {
		t.Fatalf("parser calls = %q, want one load of %s", log, prof.Path)
	}
	n.assertClean(t)

	// Same content, profile loaded in enforce mode: nothing is written or
	// loaded.
	if r := n.install(t, "second install", "4.1.0", InstallReport{Unchanged: []string{prof.Path, local.Path}}); r.Changed() {
		t.Fatalf("second install = %+v, which says it changed something", r)
	}
	if got := n.loads(t); got != 1 {
		t.Fatalf("parser loads = %d after an unchanged install, want 1", got)
	}

	// A file edited on the node is put back and the policy reloaded.
	if err := os.WriteFile(prof.Path, []byte("profile lxc-docker-secure {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	n.install(t, "repair", "4.1.0", InstallReport{Installed: []string{prof.Path}, Unchanged: []string{local.Path}, Loaded: true})
	assertFile(t, prof)

	// Files current but the profile is not loaded (e.g. a parser run failed
	// earlier): load without writing.
	if err := os.WriteFile(n.kernel, []byte("lxc-container-default-cgns (enforce)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	n.install(t, "reload", "4.1.0", InstallReport{Unchanged: []string{prof.Path, local.Path}, Loaded: true})
}

func TestInstallAppArmor3(t *testing.T) {
	n := newNode(t)
	prof, local := n.profile.Files[0], n.profile.Files[1]

	n.install(t, "install", "3.0.8", InstallReport{Installed: []string{prof.Path}, Skipped: []string{local.Path}, Loaded: true})
	if _, err := os.Stat(local.Path); !os.IsNotExist(err) {
		t.Fatalf("the AppArmor 4 include was installed on an AppArmor 3 node (stat: %v)", err)
	}

	// Our include left from an AppArmor 4 parser is removed; a file of the
	// administrator's own is left alone.
	if err := os.MkdirAll(filepath.Dir(local.Path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(local.Path, local.Content, 0o644); err != nil {
		t.Fatal(err)
	}
	n.install(t, "downgrade", "3.0.8", InstallReport{Unchanged: []string{prof.Path}, Removed: []string{local.Path}, Loaded: true})
	if _, err := os.Stat(local.Path); !os.IsNotExist(err) {
		t.Fatalf("our include is still there: %v", err)
	}
	own := []byte("  /srv/data/** r,\n")
	if err := os.WriteFile(local.Path, own, 0o644); err != nil {
		t.Fatal(err)
	}
	r, stderr, err := n.run(t, "3.0.8", false)
	if err != nil {
		t.Fatalf("own include: %v\n%s", err, stderr)
	}
	if got, _ := os.ReadFile(local.Path); !bytes.Equal(got, own) || len(r.Removed) != 0 {
		t.Fatalf("the administrator's include was touched: %q, report %+v", got, r)
	}
}

func TestInstallRestoresOnLoadFailure(t *testing.T) {
	n := newNode(t)
	prof, local := n.profile.Files[0], n.profile.Files[1]
	old := []byte("# previous version\n")
	if err := os.MkdirAll(filepath.Dir(prof.Path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(prof.Path, old, 0o644); err != nil {
		t.Fatal(err)
	}

	_, stderr, err := n.run(t, "4.1.0", true)
	if err == nil {
		t.Fatal("the install succeeded although apparmor_parser -r failed")
	}
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 5 {
		t.Fatalf("exit = %v, want exit status 5", err)
	}
	if !strings.Contains(stderr, "previous files restored") {
		t.Fatalf("stderr does not say what happened: %q", stderr)
	}
	if got, _ := os.ReadFile(prof.Path); !bytes.Equal(got, old) {
		t.Fatalf("the previous profile was not restored: %q", got)
	}
	if _, err := os.Stat(local.Path); !os.IsNotExist(err) {
		t.Fatalf("the new local include was not removed: %v", err)
	}
}

func TestInstallContentIsData(t *testing.T) {
	n := newNode(t)
	marker := filepath.Join(n.root, "pwned")
	tricky := []byte("$(touch " + marker + ")\n`touch " + marker + "`\n'\"\\\n--\x01\xff\n\n")
	n.profile.Files = []File{{Path: filepath.Join(n.root, "etc/apparmor.d/lxc/x"), Mode: 0o600, Content: tricky}}

	if _, stderr, err := n.run(t, "4.0.0", false); err != nil {
		t.Fatalf("install: %v\n%s", err, stderr)
	}
	assertFile(t, n.profile.Files[0])
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Fatal("file content was executed")
	}
}

func TestInstallFailures(t *testing.T) {
	n := newNode(t)
	c := n.command()

	// No parser at all: a PATH with every tool the script uses but the parser.
	noParser := filepath.Join(n.root, "noparser")
	if err := os.MkdirAll(noParser, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tool := range []string{"sh", "sed", "sha256sum", "cut", "mktemp", "rm", "mkdir", "flock"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Skipf("%s not found", tool)
		}
		if err := os.Symlink(p, filepath.Join(noParser, tool)); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.CommandContext(t.Context(), c.Args[0], c.Args[1:]...)
	cmd.Env = append(os.Environ(), "PATH="+noParser)
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "apparmor_parser is missing") {
		t.Fatalf("without a parser: %v, %q", err, out)
	}

	// Content that does not match its checksum is never installed.
	args := append([]string(nil), c.Args...)
	args[len(args)-2] = strings.Repeat("0", 64)
	cmd = n.cmd(t, Command{Args: args}, "4.1.0")
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "does not match its sha256") {
		t.Fatalf("bad checksum: %v, %q", err, out)
	}
	if _, err := os.Stat(n.profile.Files[1].Path); !os.IsNotExist(err) {
		t.Fatalf("a file with a bad checksum was installed: %v", err)
	}
}

func TestInstallCommands(t *testing.T) {
	cmds := DockerSecure.InstallCommands()
	if len(cmds) != 1 {
		t.Fatalf("InstallCommands() has %d commands, want 1", len(cmds))
	}
	c := cmds[0]
	if c.Name != InstallOperation || c.Args[0] != "sh" || c.Args[1] != "-c" || c.Args[2] != installScript {
		t.Fatalf("unexpected command head: %q %q", c.Name, c.Args[:2])
	}
	want := []string{InstallOperation, KernelProfilesPath, DockerSecure.Name, InstallLockPath, "120",
		"/etc/apparmor.d/lxc/lxc-docker-secure", "0644", "0", contentSHA256(profileText()),
	}
	if !reflect.DeepEqual(c.Args[3:12], want) {
		t.Fatalf("arguments = %q, want %q", c.Args[3:12], want)
	}
	if got := c.Args[13:16]; !reflect.DeepEqual(got, []string{"/etc/apparmor.d/local/lxc-docker-secure", "0644", "4"}) {
		t.Fatalf("local include arguments = %q", got)
	}
	if len(c.Args) != 8+2*5 {
		t.Fatalf("%d arguments, want %d", len(c.Args), 8+2*5)
	}
}

func TestParseInstallOutput(t *testing.T) {
	r, err := ParseInstallOutput("parser 3.0.8\ninstalled /a\nunchanged /b\nskipped /c\nremoved /d\nkept /p\n")
	if err != nil {
		t.Fatal(err)
	}
	want := InstallReport{Installed: []string{"/a"}, Unchanged: []string{"/b"}, Skipped: []string{"/c"}, Removed: []string{"/d"}, ParserVersion: "3.0.8"}
	if !reflect.DeepEqual(r, want) || !r.Changed() {
		t.Fatalf("report = %+v", r)
	}
	if r, _ := ParseInstallOutput("unchanged /a\nkept /p\n"); r.Changed() {
		t.Fatalf("an unchanged run reports a change: %+v", r)
	}
	for _, bad := range []string{"installed", "frobbed /a", "Warning: something"} {
		if _, err := ParseInstallOutput(bad); err == nil {
			t.Errorf("ParseInstallOutput(%q) accepted it", bad)
		}
	}
}

// TestInstallEnforceMode: a profile the kernel lists in complain mode is not
// taken as loaded, and a load that leaves it in complain mode fails.
func TestInstallEnforceMode(t *testing.T) {
	n := newNode(t)
	prof, local := n.profile.Files[0], n.profile.Files[1]
	n.install(t, "install", "4.1.0", InstallReport{Installed: []string{prof.Path, local.Path}, Loaded: true})

	// An operator put the profile in complain mode (aa-complain): the next
	// install loads it again, in enforce mode.
	if err := os.WriteFile(n.kernel, []byte("lxc-container-default-cgns (enforce)\nlxc-docker-secure (complain)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	n.install(t, "complain", "4.1.0", InstallReport{Unchanged: []string{prof.Path, local.Path}, Loaded: true})
	if got, _ := os.ReadFile(n.kernel); !strings.Contains(string(got), "lxc-docker-secure (enforce)\n") {
		t.Fatalf("kernel list after the reload: %q", got)
	}

	// The load itself leaves complain mode (a force-complain setting on the
	// node): the install fails and says so.
	if err := os.WriteFile(n.kernel, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	n.env = []string{"FAKE_AA_MODE=complain"}
	_, stderr, err := n.run(t, "4.1.0", false)
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 7 {
		t.Fatalf("exit = %v, want exit status 7", err)
	}
	if !strings.Contains(stderr, "lists lxc-docker-secure in mode 'complain'") || !strings.Contains(stderr, "not enforce") {
		t.Fatalf("stderr does not say what happened: %q", stderr)
	}
	n.assertClean(t)
}

// TestInstallLock: an install waits for another one holding the lock, and
// fails with a clear error when it does not get it in time.
func TestInstallLock(t *testing.T) {
	n := newNode(t)
	if err := os.MkdirAll(filepath.Dir(n.lock), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(n.lock, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	c := n.command()
	c.Args[7] = "1" // the lock wait, in seconds
	var stderr bytes.Buffer
	cmd := n.cmd(t, c, "4.1.0")
	cmd.Stderr = &stderr
	err = cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 6 || !strings.Contains(stderr.String(), "another install holds "+n.lock) {
		t.Fatalf("install while locked: %v, %q; want exit status 6 naming the lock", err, stderr.String())
	}
	if _, err := os.Stat(n.profile.Files[0].Path); !os.IsNotExist(err) {
		t.Fatalf("the install wrote files without the lock: %v", err)
	}

	// Released: the waiting install proceeds.
	done := make(chan error, 1)
	c.Args[7] = "30"
	go func() { done <- n.cmd(t, c, "4.1.0").Run() }()
	time.Sleep(300 * time.Millisecond)
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_UN); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("install after the lock was released: %v", err)
	}
	assertFile(t, n.profile.Files[0])
}

// TestInstallCleansUp: the staged file and the backup directory are removed
// when the install fails half-way and when it is killed.
func TestInstallCleansUp(t *testing.T) {
	n := newNode(t)
	// mv fails: the staged copy must not stay next to the profile.
	if err := os.WriteFile(filepath.Join(n.bin, "mv"), []byte("#!/bin/sh\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, _, err := n.run(t, "4.1.0", false); err == nil {
		t.Fatal("the install succeeded although mv failed")
	}
	n.assertClean(t)
	if err := os.Remove(filepath.Join(n.bin, "mv")); err != nil {
		t.Fatal(err)
	}

	// Terminated during the load.
	n.env = []string{"FAKE_AA_SLEEP=1"}
	cmd := n.cmd(t, n.command(), "4.1.0")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for n.loads(t) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 143 {
		t.Fatalf("terminated install: %v, want exit status 143", err)
	}
	n.assertClean(t)
}

func TestParserWarning(t *testing.T) {
	for _, c := range []struct {
		version string
		warn    bool
	}{
		{"3.0.8", true}, {"3.0.9", true}, {"2.13.6", true}, {"3.0", true},
		{"3.0.10", false}, {"3.0.13", false}, {"3.1.0", false}, {"4.1.0", false}, {"4.0", false},
		{"", false}, {"unknown", false},
	} {
		got := DockerSecure.ParserWarning("pve1", c.version)
		if (got != "") != c.warn {
			t.Errorf("ParserWarning(%q) = %q, want a warning: %v", c.version, got, c.warn)
		}
		if c.warn {
			for _, want := range []string{"pve1", c.version, "CVE-2016-1585", "deny mount fstype=", DockerSecure.Name} {
				if !strings.Contains(got, want) {
					t.Errorf("ParserWarning(%q) does not mention %q: %s", c.version, want, got)
				}
			}
		}
	}
}
