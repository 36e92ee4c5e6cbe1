//go:build userland

package userland

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/docker"
)

// ct is the booted container and the run's log.
type ct struct {
	t     *testing.T
	l     level
	start time.Time
	log   *os.File
}

func (c *ct) logf(format string, args ...any) {
	line := fmt.Sprintf("[%6.1fs] ", time.Since(c.start).Seconds()) + fmt.Sprintf(format, args...)
	c.t.Log(line)
	if c.log != nil {
		fmt.Fprintln(c.log, line)
	}
}

// sh runs a shell command in the container and fails the test when it fails.
func (c *ct) sh(cmd string) string {
	c.t.Helper()
	out, rc, err := c.l.exec(nil, "bash", "-c", cmd)
	if err != nil || rc != 0 {
		c.t.Fatalf("in the container: %s: exit %d %v\n%s", cmd, rc, err, tail(out, 30))
	}
	return out
}

// script runs inv as the provider does: "bash -s -- ARGS" with the script on
// stdin.
func (c *ct) script(inv docker.Invocation) (string, int) {
	c.t.Helper()
	argv := append([]string{"bash", "-s", "--"}, inv.Args...)
	out, rc, err := c.l.exec(bytes.NewReader(inv.Script), argv...)
	if err != nil {
		c.t.Fatalf("%s: %v", inv.Name, err)
	}
	return out, rc
}

// install runs the install script and parses its result.
func (c *ct) install(p docker.Plan) (docker.InstallResult, string) {
	c.t.Helper()
	out, rc := c.script(p.Install())
	if rc != 0 {
		c.t.Fatalf("install exited %d:\n%s", rc, tail(out, 40))
	}
	res, err := docker.ParseInstallResult(out)
	if err != nil {
		c.t.Fatalf("install result: %v\n%s", err, tail(out, 40))
	}
	return res, out
}

// check runs the check script; ok is its exit status 0.
func (c *ct) check() (docker.CheckResult, string, int) {
	c.t.Helper()
	out, rc := c.script(docker.Check())
	res, err := docker.ParseCheckResult(out)
	if err != nil {
		c.t.Fatalf("check result: %v\n%s", err, out)
	}
	return res, out, rc
}

// counters are what apt, dpkg and systemd record of installs and starts:
// the lines of apt's history log and of dpkg's log, and how many times
// systemd started docker.service (its "Started" journal entries, message
// 39f53479d3a045ac8e11786248231fbf, from PID 1).
type counters struct {
	aptHistory, dpkgLog int
	dockerStarts        int
	invocation          string
}

func (c *ct) counters() counters {
	c.t.Helper()
	out := c.sh(`cat /var/log/apt/history.log 2>/dev/null | wc -l
cat /var/log/dpkg.log 2>/dev/null | wc -l
journalctl --no-pager -q -o cat _PID=1 UNIT=docker.service MESSAGE_ID=39f53479d3a045ac8e11786248231fbf | wc -l
systemctl show -p InvocationID --value docker`)
	f := strings.Split(strings.TrimSpace(out), "\n")
	if len(f) < 3 {
		c.t.Fatalf("counters: %q", out)
	}
	n := func(s string) int {
		v, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			c.t.Fatalf("counters: %q: %v", out, err)
		}
		return v
	}
	k := counters{aptHistory: n(f[0]), dpkgLog: n(f[1]), dockerStarts: n(f[2])}
	if len(f) > 3 {
		k.invocation = strings.TrimSpace(f[3])
	}
	return k
}

func (c *ct) wantItems(step string, res docker.InstallResult, want ...string) {
	c.t.Helper()
	got := slices.Clone(res.Items)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		c.t.Errorf("%s: items %v, want %v", step, res.Items, want)
	}
}

func plan(t *testing.T, daemonJSON string) docker.Plan {
	t.Helper()
	o := docker.DefaultOptions()
	o.PackageSource = docker.PackageSourceDistro
	// Debian 12's docker-compose is the Python Compose v1; the docker block's
	// default still installs it, so it is kept.
	o.Tests.NetworkTarget = hostAddr
	o.DaemonJSON = daemonJSON
	p, err := docker.NewPlan(o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// bootLevel boots the most real level this machine allows and says why the
// ones above it could not.
func bootLevel(t *testing.T, logf func(string, ...any), tarball, resolv string) level {
	t.Helper()
	levels := []level{&lxcLevel{logf: logf}, &nspawnLevel{}}
	if want := os.Getenv("PHOENIX_USERLAND_LEVEL"); want != "" {
		levels = slices.DeleteFunc(levels, func(l level) bool { return l.name() != want })
		if len(levels) == 0 {
			t.Fatalf("PHOENIX_USERLAND_LEVEL=%s: not a level (lxc, nspawn)", want)
		}
	}
	var refused []string
	for _, l := range levels {
		start := time.Now()
		logf("level %s: booting", l.name())
		err := l.boot(tarball, resolv)
		if err == nil {
			logf("level %s: systemd is up (%s)", l.name(), time.Since(start).Round(time.Second))
			for _, r := range refused {
				logf("  (not %s)", r)
			}
			return l
		}
		l.stop()
		logf("level %s: FAILED: %v", l.name(), err)
		refused = append(refused, fmt.Sprintf("%s: %v", l.name(), err))
	}
	t.Fatalf("no level could boot the root file system with systemd as PID 1; the sandbox level (dockerd without systemd) cannot run the scripts, which need systemctl:\n%s", strings.Join(refused, "\n"))
	return nil
}

var greeting = regexp.MustCompile(`(?m)^test_case_\w+: \w+$`)

func TestUserland(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("make test-userland needs root: it boots a container and sets up a bridge")
	}
	c := &ct{t: t, start: time.Now()}
	dir, err := cacheDir()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "last-run.log")
	if c.log, err = os.Create(logPath); err != nil {
		t.Fatal(err)
	}
	defer func() {
		c.logf("elapsed: %s (log: %s)", time.Since(c.start).Round(time.Second), logPath)
		_ = c.log.Close()
	}()

	tarball := ensureRootfs(t, c.logf)
	undo, err := hostNetwork()
	defer undo()
	if err != nil {
		t.Fatalf("host network (bridge %s, NAT): %v", bridgeName, err)
	}
	resolv, err := hostResolvConf()
	if err != nil {
		t.Fatal(err)
	}
	c.l = bootLevel(t, c.logf, tarball, resolv)
	if os.Getenv("PHOENIX_USERLAND_KEEP") == "" {
		defer c.l.stop()
	}
	c.logf("LEVEL: %s", c.l.name())

	p := plan(t, "")
	c.logf("install arguments: %s", strings.Join(p.InstallArgs(), " "))

	// 1. First install: Debian's docker.io from the mirror.
	before := c.counters()
	res, _ := c.install(p)
	after := c.counters()
	c.logf("1 first install: installed_version=%s packages=%s items=%s", res.InstalledVersion, strings.Join(res.Packages, ","), strings.Join(res.Items, ","))
	if !res.Changed || !slices.Contains(res.Items, "packages") || after.aptHistory == before.aptHistory {
		t.Fatalf("first install: changed=%v items=%v, apt history %d -> %d lines: nothing was installed", res.Changed, res.Items, before.aptHistory, after.aptHistory)
	}
	chk, _, rc := c.check()
	c.logf("  check: exit %d service_active=%v version=%s package=%s containerd=%s compose=%s driver=%s", rc, chk.ServiceActive, chk.InstalledVersion, chk.Package, chk.ContainerdVersion, chk.ComposeVersion, chk.StorageDriver)
	if rc != 0 || !chk.ServiceActive || chk.Package != "docker.io" || chk.StorageDriver != "overlay2" || chk.Fingerprint != p.Fingerprint() || chk.DaemonJSONSHA256 != p.DaemonJSONSHA256() {
		t.Fatalf("check after the first install: exit %d %+v", rc, chk)
	}
	c.logf("  docker version: %s", strings.TrimSpace(c.sh("docker version --format 'server {{.Server.Version}}, client {{.Client.Version}}'")))

	// 2. Second run: nothing installed, nothing restarted.
	before = after
	res, _ = c.install(p)
	after = c.counters()
	c.logf("2 second run: changed=%v items=%q; apt history %d->%d lines, dpkg.log %d->%d, docker starts %d->%d, invocation same=%v",
		res.Changed, strings.Join(res.Items, ","), before.aptHistory, after.aptHistory, before.dpkgLog, after.dpkgLog, before.dockerStarts, after.dockerStarts, before.invocation == after.invocation)
	if res.Changed || len(res.Items) > 0 || len(res.Packages) > 0 || after != before {
		t.Errorf("second run changed something: %+v, counters %+v -> %+v", res, before, after)
	}

	// 3. daemon.json changed: a restart, no install.
	p2 := plan(t, `{"log-driver":"json-file","log-opts":{"max-size":"10m"}}`)
	before = after
	res, _ = c.install(p2)
	after = c.counters()
	c.logf("3 daemon.json change: items=%s; apt history %d->%d, dpkg.log %d->%d, docker starts %d->%d",
		strings.Join(res.Items, ","), before.aptHistory, after.aptHistory, before.dpkgLog, after.dpkgLog, before.dockerStarts, after.dockerStarts)
	c.wantItems("daemon.json change", res, "daemon.json", "service-restart", "fingerprint")
	if after.aptHistory != before.aptHistory || after.dpkgLog != before.dpkgLog || after.dockerStarts != before.dockerStarts+1 {
		t.Errorf("daemon.json change: want one start and no package run, counters %+v -> %+v", before, after)
	}
	chk, _, _ = c.check()
	if chk.DaemonJSONSHA256 != p2.DaemonJSONSHA256() || chk.Fingerprint != p2.Fingerprint() {
		t.Errorf("check after the daemon.json change: %+v", chk)
	}
	if got := strings.TrimSpace(c.sh("docker info --format '{{.LoggingDriver}}'")); got != "json-file" {
		t.Errorf("daemon after the restart: logging driver %q", got)
	}
	p = p2

	// 4. Docker stopped: the check reports it, the install starts it.
	stopOut := c.sh("systemctl stop docker 2>&1; systemctl is-active docker.socket || true")
	c.logf("4 docker stopped: %s", strings.Join(strings.Fields(stopOut), " "))
	chk, out, rc := c.check()
	c.logf("  check: exit %d service_active=%v; %s", rc, chk.ServiceActive, lastLine(out))
	if rc == 0 || chk.ServiceActive || docker.FatalLine(out) == "" {
		t.Errorf("check with docker stopped: exit %d, %+v\n%s", rc, chk, out)
	}
	before = c.counters()
	res, _ = c.install(p)
	after = c.counters()
	c.logf("  install: items=%s; apt history %d->%d, docker starts %d->%d", strings.Join(res.Items, ","), before.aptHistory, after.aptHistory, before.dockerStarts, after.dockerStarts)
	c.wantItems("restart after stop", res, "service-start")
	if _, _, rc := c.check(); rc != 0 || after.aptHistory != before.aptHistory {
		t.Errorf("after the install docker is not back (check exit %d) or packages ran: %+v -> %+v", rc, before, after)
	}

	// 5. dpkg killed while it unpacks docker.io, then a rerun converges.
	c.dpkgKill(p)

	// 6. The three tests, on local images: Docker Hub is unreachable.
	c.loadImages()
	out, rc = c.script(p.Test())
	c.logf("6 tests: exit %d", rc)
	for _, l := range greeting.FindAllString(out, -1) {
		c.logf("  %s", l)
	}
	c.logf("  %s", lastLine(out))
	results, err := docker.ParseTestResults(out)
	if err != nil || rc != 0 {
		t.Fatalf("tests: exit %d %v\n%s", rc, err, out)
	}
	if results.Passed != 3 || results.Failed != 0 {
		t.Errorf("tests: %+v\n%s", results, out)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

// dpkgKill removes docker.io, starts the install, kills dpkg with SIGKILL as
// soon as dpkg's log shows docker.io half-installed (its files being
// unpacked), and checks that the interrupted install fails with a FATAL line
// and that the next run repairs dpkg and converges.
func (c *ct) dpkgKill(p docker.Plan) {
	c.t.Helper()
	c.sh("systemctl stop docker.socket docker; DEBIAN_FRONTEND=noninteractive apt-get -q -y remove docker.io >/dev/null")
	// The watcher runs in the container, beside the install.
	watcher := `set -u
start=$(wc -l < /var/log/dpkg.log)
for i in $(seq 1 6000); do
	if tail -n +$((start + 1)) /var/log/dpkg.log | grep -q ' status half-installed docker.io:'; then
		pkill -KILL -x dpkg && { echo "killed dpkg while docker.io was half-installed"; tail -n 3 /var/log/dpkg.log; exit 0; }
	fi
	sleep 0.02
done
echo "dpkg never unpacked docker.io"; exit 1`
	type wres struct {
		out string
		rc  int
	}
	done := make(chan wres, 1)
	go func() {
		out, rc, _ := c.l.exec(nil, "bash", "-c", watcher)
		done <- wres{out, rc}
	}()
	time.Sleep(time.Second)
	out, rc := c.script(p.Install())
	w := <-done
	c.logf("5 dpkg killed: watcher exit %d: %s", w.rc, strings.Join(strings.Split(strings.TrimSpace(w.out), "\n"), " | "))
	c.logf("  interrupted install: exit %d", rc)
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "E: ") || strings.Contains(l, "[dpkg]") || strings.HasPrefix(l, "FATAL") {
			c.logf("    %s", l)
		}
	}
	if w.rc != 0 || rc == 0 || docker.FatalLine(out) == "" {
		c.t.Fatalf("the interrupted install: watcher %d, install exit %d\n%s", w.rc, rc, tail(out, 30))
	}
	audit, _, _ := c.l.exec(nil, "dpkg", "--audit")
	c.logf("  dpkg --audit: %s", strings.Join(strings.Fields(audit), " "))
	res, out := c.install(p)
	c.logf("  rerun: items=%s packages=%s", strings.Join(res.Items, ","), strings.Join(res.Packages, ","))
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "[dpkg]") || strings.Contains(l, "reinstall") || strings.Contains(l, "not fully installed") {
			c.logf("    %s", l)
		}
	}
	if !slices.Contains(res.Items, "dpkg-repair") {
		c.t.Errorf("rerun after the kill: no dpkg-repair in %v", res.Items)
	}
	if _, _, rc := c.check(); rc != 0 {
		c.t.Errorf("check after the rerun: exit %d", rc)
	}
	res, _ = c.install(p)
	if res.Changed {
		c.t.Errorf("a run after the repair still changed %v", res.Items)
	}
	if a, _, _ := c.l.exec(nil, "dpkg", "--audit"); strings.TrimSpace(a) != "" {
		c.t.Errorf("dpkg --audit after the rerun: %s", a)
	}
}

// loadImages makes the two images the tests run from the host's
// busybox-static: busybox (sh, ping) and hello-world, which prints Docker's
// greeting.
func (c *ct) loadImages() {
	c.t.Helper()
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		c.t.Fatalf("busybox-static (apt-get install busybox-static) builds the test images: %v", err)
	}
	if out, rc, err := c.l.exec(bytes.NewReader(bb), "bash", "-c", "cat > /root/busybox && chmod 755 /root/busybox"); err != nil || rc != 0 {
		c.t.Fatalf("copying busybox: %d %v %s", rc, err, out)
	}
	c.sh(`set -e
d=$(mktemp -d)
mkdir -p "$d/bin"
cp /root/busybox "$d/bin/busybox"
for a in sh echo ping; do ln -s busybox "$d/bin/$a"; done
tar -C "$d" -c . | docker import --change 'CMD ["/bin/sh"]' - busybox:latest >/dev/null
tar -C "$d" -c . | docker import --change 'CMD ["/bin/echo", "Hello from Docker!"]' - hello-world:latest >/dev/null
rm -rf "$d"`)
	c.logf("  images: %s", strings.Join(strings.Fields(c.sh("docker images --format '{{.Repository}}:{{.Tag}}'")), " "))
}
