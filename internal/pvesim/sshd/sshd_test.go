package sshd

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

func TestNodeBasics(t *testing.T) {
	e := newTestEnv(t)
	r := e.mustRun("hostname; pveversion; id -u; echo $PATH", "")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if lines[0] != "pve1" || !strings.HasPrefix(lines[1], "pve-manager/9.") || lines[2] != "0" {
		t.Errorf("unexpected node identity:\n%s", r)
	}
	if !strings.HasPrefix(lines[3], nodeBinDir+":") {
		t.Errorf("PATH does not start with the stand-ins: %q", lines[3])
	}
	e.wantExit("unknown command", "no-such-command --flag", 127, "command not found")
	// Stdin reaches the command and exit codes come back.
	r = e.run("cat; exit 7", "hello\n")
	if r.exit != 7 || r.stdout != "hello\n" {
		t.Errorf("stdin/exit: %s", r)
	}
	// The host's /usr/local (with its tools) is not visible on the node.
	if r := e.run("ls /usr/local/bin | wc -l", ""); strings.TrimSpace(r.stdout) != "0" {
		t.Errorf("/usr/local leaks into the node sandbox: %s", r)
	}
}

func TestConfigEditUnderLockIsVisibleInState(t *testing.T) {
	e := newTestEnv(t)
	e.addCT(102, ctConf(102, "nesting=1,keyctl=1"), false)
	cmd := `flock /run/lock/lxc/pve-config-102.lock sh -c '` +
		`cp /etc/pve/lxc/102.conf /etc/pve/lxc/102.conf.tmp && ` +
		`echo "lxc.apparmor.profile: lxc-docker-secure" >> /etc/pve/lxc/102.conf.tmp && ` +
		`mv /etc/pve/lxc/102.conf.tmp /etc/pve/lxc/102.conf'`
	e.mustRun(cmd, "")
	data, err := os.ReadFile(filepath.Join(e.state, "nodes", "pve1", "lxc", "102.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(string(data), "lxc.apparmor.profile: lxc-docker-secure\n") {
		t.Errorf("edit not visible in the state dir:\n%s", data)
	}
	if _, err := os.Stat(filepath.Join(e.state, "locks", "pve-config-102.lock")); err != nil {
		t.Errorf("lock file not in <state>/locks: %v", err)
	}
	if r := e.mustRun("pct config 102 | tail -n1", ""); r.stdout != "lxc.apparmor.profile: lxc-docker-secure\n" {
		t.Errorf("pct config does not show the raw line: %s", r)
	}
	// /etc itself is read-only, /etc/pve/nodes is the shared state.
	if r := e.run("touch /etc/phoenix-test", ""); r.exit == 0 {
		t.Errorf("/etc is writable on the node")
	}
	evs := e.waitEvents(3)
	if len(evs) != 3 || !evs[0].Write || evs[1].Write || evs[2].Write {
		t.Errorf("write flags wrong: %+v", evs)
	}
}

const testProfile = `include <tunables/global>
profile lxc-docker-secure flags=(attach_disconnected,mediate_deleted) {
  #include <abstractions/lxc/container-base>
  mount fstype=proc -> /var/lib/docker/**,
}
`

func TestApparmorParser(t *testing.T) {
	if _, err := exec.LookPath("apparmor_parser"); err != nil {
		if _, err := os.Stat("/usr/sbin/apparmor_parser"); err != nil {
			t.Skip("the real apparmor_parser (Debian package apparmor) is not installed; profiles cannot be compiled here")
		}
	}
	if _, err := os.Stat("/etc/apparmor.d/abstractions/lxc/container-base"); err != nil {
		t.Skip("the LXC AppArmor abstractions (Debian package liblxc-common) are not installed")
	}
	e := newTestEnv(t)
	e.mustRun("cat > /etc/apparmor.d/lxc/lxc-docker-secure", testProfile)
	r := e.mustRun("apparmor_parser -r /etc/apparmor.d/lxc-containers && cat /sys/kernel/security/apparmor/profiles", "")
	if !strings.Contains(r.stdout, "lxc-docker-secure (enforce)\n") || !strings.Contains(r.stdout, "lxc-container-default-cgns (enforce)\n") {
		t.Errorf("loaded profiles: %s", r)
	}
	// One file by itself, in complain mode, then back in enforce mode; the
	// kernel's list is current within the same command.
	r = e.mustRun("apparmor_parser -C -r /etc/apparmor.d/lxc/lxc-docker-secure && cat /sys/kernel/security/apparmor/profiles && apparmor_parser -r /etc/apparmor.d/lxc/lxc-docker-secure && grep lxc-docker-secure /sys/kernel/security/apparmor/profiles", "")
	if !strings.Contains(r.stdout, "lxc-docker-secure (complain)\n") || !strings.HasSuffix(r.stdout, "lxc-docker-secure (complain)\nlxc-docker-secure (enforce)\n") {
		t.Errorf("modes after complain and enforce loads: %s", r)
	}
	if r := e.run("echo x > /sys/kernel/security/apparmor/profiles", ""); r.exit == 0 {
		t.Errorf("the kernel's profile list is writable: %s", r)
	}
	// The reported version: the real parser's, or the one set for the node.
	if r := e.mustRun("apparmor_parser --version", ""); !strings.HasPrefix(r.stdout, "AppArmor parser version ") {
		t.Errorf("version: %s", r)
	}
	e.srv.SetParserVersion("3.0.7")
	if r := e.mustRun("apparmor_parser --version", ""); !strings.HasPrefix(r.stdout, "AppArmor parser version 3.0.7\n") {
		t.Errorf("version after SetParserVersion: %s", r)
	}
	e.srv.SetParserVersion("")
	loaded, err := os.ReadFile(filepath.Join(e.state, "apparmor", "pve1", ".loaded"))
	if err != nil || !strings.Contains(string(loaded), "lxc-docker-secure") {
		t.Errorf("state .loaded: %q, %v", loaded, err)
	}
	e.mustRun("cat > /etc/apparmor.d/lxc/broken", "profile broken {\n  mount fstype=proc -> ,\n  this is not a rule\n}\n")
	r = e.run("apparmor_parser -r /etc/apparmor.d/lxc-containers", "")
	if r.exit == 0 || !strings.Contains(r.stderr, "broken") {
		t.Errorf("invalid profile accepted: %s", r)
	}
	if strings.Contains(string(mustRead(t, filepath.Join(e.state, "apparmor", "pve1", ".loaded"))), "broken") {
		t.Errorf("an invalid profile was recorded as loaded")
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestPctLifecycleAndErrors(t *testing.T) {
	e := newTestEnv(t)
	e.addCT(102, ctConf(102, "nesting=1,keyctl=1"), false)

	r := e.run("pct exec 999 -- true", "")
	if r.exit != 255 || strings.TrimSpace(r.stderr) != "Configuration file 'nodes/pve1/lxc/999.conf' does not exist" {
		t.Errorf("missing CT: %s", r)
	}
	// PVE::CLI::pct's exec checks that the container runs before anything
	// else, and dies (exit 255) without calling lxc-attach.
	e.wantExit("stopped CT", "pct exec 102 -- true", 255, "container '102' not running!")
	e.wantExit("stopped CT, no command", "pct exec 102", 255, "container '102' not running!")
	if r := e.mustRun("pct status 102", ""); r.stdout != "status: stopped\n" {
		t.Errorf("status: %s", r)
	}
	e.mustRun("pct start 102", "")
	if r := e.mustRun("pct status 102", ""); r.stdout != "status: running\n" {
		t.Errorf("status after start: %s", r)
	}
	e.wantExit("double start", "pct start 102", 255, "CT 102 already running")
	e.wantExit("unknown command in CT", "pct exec 102 -- no-such-command", 127, `Failed to exec "no-such-command"`)
	r = e.mustRun("pct exec 102 -- cat /proc/1/attr/current", "")
	if r.stdout != "lxc-container-default-cgns (enforce)\n" {
		t.Errorf("attr/current: %q", r.stdout)
	}
	e.mustRun("pct stop 102", "")
	if _, err := os.Stat(filepath.Join(e.state, "runtime", "pve1", "102.running")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("running file left after stop: %v", err)
	}
	e.wantExit("double stop", "pct stop 102", 255, "CT 102 not running")
	e.wantExit("bad vmid", "pct status abc", 255, "value does not look like a valid VM ID")
	// A named profile that is not loaded keeps the CT from starting.
	e.addCT(103, ctConf(103, "nesting=1,keyctl=1", "lxc.apparmor.profile: lxc-docker-secure"), false)
	e.wantExit("start with an unloaded profile", "pct start 103", 255, "Failed to change AppArmor profile to lxc-docker-secure")
}

func TestCTIsolation(t *testing.T) {
	e := newTestEnv(t)
	vol := e.addCT(102, ctConf(102, "nesting=1,keyctl=1", "lxc.apparmor.profile: unconfined"), true)
	r := e.mustRun(`pct exec 102 -- bash -c 'hostname; test -e /etc/pve && echo sees-pve; test -e /etc/apparmor.d/lxc-containers && echo sees-apparmor; ls /usr/local/bin 2>/dev/null | wc -l; cat /proc/1/attr/current; echo data > /root/file'`, "")
	if r.stdout != "ct102\n0\nunconfined\n" {
		t.Errorf("CT view:\n%s", r)
	}
	if got := string(mustRead(t, filepath.Join(vol, "root", "file"))); got != "data\n" {
		t.Errorf("CT write not in its volume: %q", got)
	}
	// Host tools that must not exist in a fresh CT.
	for _, c := range []string{"docker", "gpg", "lsb_release"} {
		if r := e.run("pct exec 102 -- bash -c 'command -v "+c+"'", ""); r.exit == 0 {
			t.Errorf("%s present in a fresh CT: %s", c, r)
		}
	}
}

// installDistroDocker installs docker.io from the distro repository.
func installDistroDocker(e *testEnv, vmid int) result {
	return e.run(fmt.Sprintf("pct exec %d -- bash -c 'apt-get -q update >/dev/null && apt-get install -y docker.io'", vmid), "")
}

func TestDockerStartNeedsNestingKeyctlAndProfile(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.addCT(102, ctConf(102, ""), true)
	r := installDistroDocker(e, 102)
	if r.exit != 100 || !strings.Contains(r.stderr, "Sub-process /usr/bin/dpkg returned an error code (1)") {
		t.Errorf("install without nesting: %s", r)
	}
	e.wantExit("start without nesting", "pct exec 102 -- systemctl start docker", 1, "Job for docker.service failed because the control process exited with error code.")
	r = e.run("pct exec 102 -- systemctl is-active docker", "")
	if r.exit != 3 || r.stdout != "failed\n" {
		t.Errorf("is-active after failure: %s", r)
	}
	if r := e.mustRun("pct exec 102 -- journalctl -u docker --no-pager", ""); !strings.Contains(r.stdout, "nesting=1") {
		t.Errorf("journal does not say why: %s", r)
	}

	setConf := func(conf string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(e.state, "nodes", "pve1", "lxc", "102.conf"), []byte(conf), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	// Nesting without keyctl in an unprivileged CT.
	setConf(ctConf(102, "nesting=1"))
	e.wantExit("start without keyctl", "pct exec 102 -- systemctl start docker", 1, "")
	// A named profile that is loaded but without allow_nesting.
	e.mustRun("cat > /etc/apparmor.d/lxc/lxc-docker-secure", testProfile)
	e.mustRun("apparmor_parser -r /etc/apparmor.d/lxc-containers", "")
	setConf(ctConf(102, "nesting=1,keyctl=1", "lxc.apparmor.profile: lxc-docker-secure"))
	e.wantExit("start without allow_nesting", "pct exec 102 -- systemctl start docker", 1, "")
	setConf(ctConf(102, "nesting=1,keyctl=1", "lxc.apparmor.profile: lxc-docker-secure", "lxc.apparmor.allow_nesting: 1"))
	e.mustRun("pct exec 102 -- systemctl start docker", "")
	r = e.mustRun("pct exec 102 -- bash -c 'systemctl is-active docker; cat /proc/1/attr/current; docker version --format {{.Server.Version}}'", "")
	if r.stdout != "active\nlxc-docker-secure (enforce)\n20.10.24+dfsg1\n" {
		t.Errorf("after a good start: %s", r)
	}
	// The apt log counts the installs (docker.io and its dependencies).
	n, err := CTInstalls(e.state, "pve1", 102)
	if err != nil || n != 3 {
		t.Errorf("CTInstalls = %d, %v; want 3", n, err)
	}
	// A CT restart keeps an enabled docker running; a docker-fail fault
	// stops it from coming back.
	e.mustRun("pct reboot 102", "")
	if r := e.run("pct exec 102 -- systemctl is-active docker", ""); r.stdout != "active\n" {
		t.Errorf("docker after reboot: %s", r)
	}
	if err := SetCTFault(e.state, "pve1", 102, FaultDockerFail, 1); err != nil {
		t.Fatal(err)
	}
	e.wantExit("restart with docker-fail", "pct exec 102 -- systemctl restart docker", 1, "")
	e.mustRun("pct exec 102 -- systemctl restart docker", "")
}

func TestAptFaultsAndLog(t *testing.T) {
	e := newTestEnv(t)
	e.addCT(102, ctConf(102, "nesting=1,keyctl=1"), true)
	if err := SetCTFault(e.state, "pve1", 102, FaultAptFail, 2); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if r := e.run("pct exec 102 -- apt-get update", ""); r.exit != 100 || !strings.Contains(r.stderr, "Could not get lock") {
			t.Fatalf("apt-fail %d: %s", i, r)
		}
	}
	e.mustRun("pct exec 102 -- apt-get update", "")
	e.wantExit("docker-ce without its repository", "pct exec 102 -- apt-get install -y docker-ce", 100, "E: Unable to locate package docker-ce")
	r := e.mustRun("pct exec 102 -- apt-get install -y gnupg", "")
	if !strings.Contains(r.stdout, "Setting up gnupg") {
		t.Errorf("install output: %s", r)
	}
	if r := e.mustRun("pct exec 102 -- apt-get install -y gnupg", ""); !strings.Contains(r.stdout, "gnupg is already the newest version") {
		t.Errorf("second install: %s", r)
	}
	if n, err := CTInstalls(e.state, "pve1", 102); err != nil || n != 1 {
		t.Errorf("CTInstalls = %d, %v; want 1", n, err)
	}
	if err := SetCTFault(e.state, "pve1", 102, FaultNetworkDown, 0); err != nil {
		t.Fatal(err)
	}
	e.wantExit("ping with the network down", "pct exec 102 -- ping -c 1 -W 2 1.1.1.1", 2, "")
	e.wantExit("getent with the network down", "pct exec 102 -- getent hosts deb.debian.org", 2, "")
	if err := ClearCTFault(e.state, "pve1", 102, FaultNetworkDown); err != nil {
		t.Fatal(err)
	}
	if r := e.mustRun("pct exec 102 -- ping -c 1 1.1.1.1", ""); !strings.Contains(r.stdout, "1 packets transmitted, 1 received") {
		t.Errorf("ping: %s", r)
	}
}

func TestEventsAndConcurrentSessions(t *testing.T) {
	e := newTestEnv(t)
	const n = 6
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := runOn(t, e.client, fmt.Sprintf("sleep 0.2; echo %d", i), "")
			if r.exit != 0 || r.stdout != fmt.Sprintf("%d\n", i) {
				t.Errorf("session %d: %s", i, r)
			}
		}()
	}
	wg.Wait()
	evs := e.waitEvents(n)
	if len(evs) != n {
		t.Fatalf("got %d events, want %d", len(evs), n)
	}
	for _, ev := range evs {
		if ev.Node != "pve1" || ev.Exit != 0 || ev.Write || ev.Duration <= 0 {
			t.Errorf("event %+v", ev)
		}
	}
}

func TestHostKeyAndAuth(t *testing.T) {
	e := newTestEnv(t)
	if !strings.HasPrefix(e.srv.Fingerprint(), "SHA256:") {
		t.Errorf("fingerprint %q", e.srv.Fingerprint())
	}
	line := strings.TrimSpace(string(mustRead(t, e.known)))
	want := fmt.Sprintf("[127.0.0.1]:%s ssh-ed25519 ", e.srv.Addr()[strings.LastIndex(e.srv.Addr(), ":")+1:])
	if !strings.HasPrefix(line, want) {
		t.Errorf("known_hosts line %q, want prefix %q", line, want)
	}
	// A restarted server keeps its host key.
	key := e.srv.HostKey().Marshal()
	_, pub, err := EnsureClientKey(e.state)
	if err != nil {
		t.Fatal(err)
	}
	srv2, err := Start(Options{StateDir: e.state, Node: "pve1", AuthorizedKeys: []ssh.PublicKey{pub}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv2.Close() }()
	if string(srv2.HostKey().Marshal()) != string(key) {
		t.Errorf("host key changed across restarts")
	}
	// A client that knows another key for the address is refused before
	// anything runs.
	otherPub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	otherKey, err := ssh.NewPublicKey(otherPub)
	if err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(other, []byte(knownhosts.Line([]string{e.srv.Addr()}, otherKey)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	before := len(e.eventsSnapshot())
	e.known = other
	cfg := e.clientConfig()
	if _, err := ssh.Dial("tcp", e.srv.Addr(), cfg); err == nil || !strings.Contains(err.Error(), "key mismatch") {
		t.Errorf("dial with a wrong host key: %v", err)
	}
	// Other users and keys are refused.
	cfg.User = "admin"
	if _, err := ssh.Dial("tcp", srv2.Addr(), cfg); err == nil {
		t.Errorf("user admin accepted")
	}
	if len(e.eventsSnapshot()) != before {
		t.Errorf("a command ran for a refused client")
	}
}

func TestDropFaults(t *testing.T) {
	e := newTestEnv(t)
	if _, err := e.faults.Drop(`touch /tmp/before`, DropBefore, 1); err != nil {
		t.Fatal(err)
	}
	sess, err := e.client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Run("touch /tmp/before"); err == nil {
		t.Errorf("dropped command reported success")
	}
	if _, err := os.Stat(filepath.Join(e.state, "ssh", "tmp", "pve1", "before")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("command dropped before ran anyway: %v", err)
	}
	c := e.dial()
	if _, err := e.faults.Drop(`touch /tmp/after`, DropAfter, 1); err != nil {
		t.Fatal(err)
	}
	sess, err = c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	var exitMissing *ssh.ExitMissingError
	if err := sess.Run("touch /tmp/after"); !errors.As(err, &exitMissing) {
		t.Errorf("drop after: %v", err)
	}
	if _, err := os.Stat(filepath.Join(e.state, "ssh", "tmp", "pve1", "after")); err != nil {
		t.Errorf("command dropped after did not run: %v", err)
	}
	// The rules fired once each: the same commands now succeed.
	c = e.dial()
	runOn(t, c, "touch /tmp/before", "")
	if r := runOn(t, c, "touch /tmp/after", ""); r.exit != 0 {
		t.Errorf("after the rule ran out: %s", r)
	}
	evs := e.waitEvents(4)
	if len(evs) < 4 || evs[0].Dropped != "before" || evs[1].Dropped != "after" || evs[1].Exit != -1 {
		t.Errorf("events: %+v", evs)
	}
}

// apt-get meets a held dpkg frontend lock as apt does: debSystem::Lock
// (apt-pkg/deb/debsystem.cc) waits DPkg::Lock::Timeout seconds, 0 unless
// set (only the apt binary defaults it to 120, in BinarySpecificConfiguration
// of apt-private/private-cmndline.cc), so apt-get fails at once; "update"
// takes the lists lock instead and is not held up by it.
func TestAptLockTimeout(t *testing.T) {
	e := newTestEnv(t)
	e.addCT(104, ctConf(104, "nesting=1,keyctl=1"), true)
	e.mustRun("pct exec 104 -- apt-get update", "")
	if err := SetCTFault(e.state, "pve1", 104, FaultAptSlow, 1); err != nil {
		t.Fatal(err)
	}
	held := make(chan result, 1)
	go func() { held <- e.run("pct exec 104 -- apt-get install -y gnupg", "") }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		waiting, err := CTFaultWaiting(e.state, "pve1", 104, FaultAptSlow)
		if err != nil {
			t.Fatal(err)
		}
		if waiting {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("apt-get never reached the apt-slow fault")
		}
		time.Sleep(50 * time.Millisecond)
	}
	start := time.Now()
	e.wantExit("apt-get without a lock timeout", "pct exec 104 -- apt-get install -y pigz", 100,
		"E: Unable to acquire the dpkg frontend lock (/var/lib/dpkg/lock-frontend), is another process using it?")
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("apt-get without a timeout took %s to fail, want at once", d)
	}
	start = time.Now()
	e.wantExit("apt-get with a 1 s lock timeout", "pct exec 104 -- apt-get -o DPkg::Lock::Timeout=1 install -y pigz", 100, "dpkg frontend lock")
	if d := time.Since(start); d < time.Second {
		t.Errorf("apt-get with DPkg::Lock::Timeout=1 failed after %s, before its timeout", d)
	}
	e.mustRun("pct exec 104 -- apt-get update", "")
	waited := make(chan result, 1)
	go func() { waited <- e.run("pct exec 104 -- apt-get -o dpkg::lock::timeout=60 install -y pigz", "") }()
	time.Sleep(500 * time.Millisecond)
	if err := ReleaseCTFault(e.state, "pve1", 104, FaultAptSlow); err != nil {
		t.Fatal(err)
	}
	for what, ch := range map[string]chan result{"the held install": held, "the waiting install": waited} {
		if r := <-ch; r.exit != 0 {
			t.Errorf("%s: %s", what, r)
		}
	}
	if n, err := CTInstalls(e.state, "pve1", 104); err != nil || n < 2 {
		t.Errorf("CTInstalls = %d, %v; want gnupg and pigz", n, err)
	}
}
