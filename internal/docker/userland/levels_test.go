//go:build userland

package userland

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// A level is one way of booting the root file system as a container with
// systemd as PID 1.
type level interface {
	name() string
	// boot unpacks tarball and starts the container; its error says what
	// the machine refused.
	boot(tarball, resolvConf string) error
	// exec runs argv inside the running container as root, stdin on its
	// standard input, and returns the combined output and the exit status.
	exec(stdin io.Reader, argv ...string) (string, int, error)
	stop()
}

// ctEnv is the environment of a command run in the container: what
// "pct exec" leaves after PVE::CLI::pct's clean_environment.
var ctEnv = []string{
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"HOME=/root",
	"LANG=C.UTF-8",
	"TERM=linux",
}

const ctName = "phoenix-userland"

// execCmd runs cmd and returns its combined output and exit status; err is
// set only when cmd could not run at all.
func execCmd(cmd *exec.Cmd, stdin io.Reader) (string, int, error) {
	cmd.Stdin = stdin
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return out.String(), ee.ExitCode(), nil
	}
	if err != nil {
		return out.String(), -1, err
	}
	return out.String(), 0, nil
}

// waitBooted waits until systemd in the container reports running or
// degraded.
func waitBooted(l level, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	var last string
	for time.Now().Before(deadline) {
		out, _, err := l.exec(nil, "systemctl", "is-system-running")
		last = strings.TrimSpace(out)
		if err == nil && (last == "running" || last == "degraded") {
			return nil
		}
		time.Sleep(time.Second)
	}
	jobs, _, _ := l.exec(nil, "systemctl", "list-jobs", "--no-pager")
	failed, _, _ := l.exec(nil, "systemctl", "--failed", "--no-pager")
	return fmt.Errorf("systemd did not finish booting in %s (is-system-running: %q)\n%s\n%s", limit, last, tail(jobs, 15), tail(failed, 15))
}

// lxcLevel is Debian's lxc with the configuration pve-container writes.
type lxcLevel struct {
	dir  string
	logf func(string, ...any)
}

func (*lxcLevel) name() string { return "lxc" }

// lxcSeccompExtra are the rules PVE::LXC::make_seccomp_config appends to
// lxc's common.seccomp for an unprivileged container with keyctl=1: keyctl
// is allowed (its "errno 38" rule dropped), btrfs ioctls and AF_ALG sockets
// are refused. Sorted by syscall, as PVE writes them.
const lxcSeccompExtra = "ioctl errno 1 [1,0x9400,SCMP_CMP_MASKED_EQ,0xff00]\n" +
	"socket errno 97 [0,38,SCMP_CMP_EQ]\n"

// lxcConfig is /var/lib/lxc/<vmid>/config as PVE::LXC::update_lxc_config
// writes it for an unprivileged Debian container with features
// nesting=1,keyctl=1 and one host-managed veth on the bridge. Not written:
// the cgroup2 memory and cpu limits (the host's memory and cpu controllers
// are on cgroup v1 here, so PVE would not write them either) and the
// lxcnetaddbr up-script (PVE's; lxc.net.0.link joins the bridge instead).
// On a kernel without AppArmor lxc applies no profile, "generated" included.
func lxcConfig(dir string) string {
	lines := []string{
		"lxc.cgroup.relative = 0",
		"lxc.cgroup.dir.monitor = lxc.monitor/" + ctName,
		"lxc.cgroup.dir.container = lxc/" + ctName,
		"lxc.cgroup.dir.container.inner = ns",
		"lxc.arch = amd64",
		"lxc.include = /usr/share/lxc/config/debian.common.conf",
		"lxc.include = /usr/share/lxc/config/debian.userns.conf",
		// make_seccomp_config
		"lxc.seccomp.profile = " + filepath.Join(dir, "rules.seccomp"),
		// make_apparmor_config with nesting
		"lxc.apparmor.profile = generated",
		"lxc.apparmor.raw = allow mqueue,",
		"lxc.apparmor.allow_nesting = 1",
		"lxc.apparmor.raw = allow userns,",
		// unprivileged without force_rw_sys
		"lxc.mount.auto = sys:mixed",
		"lxc.monitor.unshare = 1",
		fmt.Sprintf("lxc.idmap = u 0 %d %d", idBase, idSize),
		fmt.Sprintf("lxc.idmap = g 0 %d %d", idBase, idSize),
		"lxc.tty.max = 2",
		"lxc.environment = TERM=linux",
		"lxc.uts.name = " + ctName,
		"lxc.rootfs.path = " + filepath.Join(dir, "rootfs"),
		"lxc.net.0.type = veth",
		"lxc.net.0.veth.pair = vethphxul0",
		"lxc.net.0.hwaddr = BC:24:11:00:77:02",
		"lxc.net.0.name = eth0",
		"lxc.net.0.mtu = 1500",
		"lxc.net.0.link = " + bridgeName,
		"lxc.net.0.ipv4.address = " + ctCIDR,
		"lxc.net.0.ipv4.gateway = " + hostAddr,
		"lxc.net.0.flags = up",
	}
	return strings.Join(lines, "\n") + "\n"
}

func (l *lxcLevel) boot(tarball, resolvConf string) error {
	for _, c := range []string{"lxc-start", "lxc-attach", "lxc-stop"} {
		if _, err := exec.LookPath(c); err != nil {
			return fmt.Errorf("%s is not installed (apt-get install lxc)", c)
		}
	}
	l.dir = filepath.Join("/var/lib/lxc", ctName)
	l.stop()
	if err := os.RemoveAll(l.dir); err != nil {
		return err
	}
	rootfs := filepath.Join(l.dir, "rootfs")
	if err := unpackRootfs(tarball, rootfs, true); err != nil {
		return fmt.Errorf("unpacking the root file system for an unprivileged container: %w", err)
	}
	for path, content := range map[string]string{
		"etc/resolv.conf": resolvConf,
		"etc/hostname":    ctName + "\n",
	} {
		if err := writeFile(rootfs, path, content, true); err != nil {
			return err
		}
	}
	common, err := os.ReadFile("/usr/share/lxc/config/common.seccomp")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(l.dir, "rules.seccomp"), append(common, lxcSeccompExtra...), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(l.dir, "config"), []byte(lxcConfig(l.dir)), 0o644); err != nil {
		return err
	}
	if err := ensureSubIDs(l.logf); err != nil {
		return err
	}
	logFile := filepath.Join(l.dir, "lxc-start.log")
	if _, err := run("lxc-start", "-n", ctName, "-d", "-l", "INFO", "-o", logFile); err != nil {
		b, _ := os.ReadFile(logFile)
		return fmt.Errorf("%w\n%s: \n%s", err, logFile, tail(errorLines(string(b)), 20))
	}
	return waitBooted(l, 120*time.Second)
}

// errorLines keeps the ERROR and WARN lines of an lxc log.
func errorLines(s string) string {
	var keep []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, " ERROR ") || strings.Contains(l, " WARN ") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

func (l *lxcLevel) exec(stdin io.Reader, argv ...string) (string, int, error) {
	args := []string{"-n", ctName, "--clear-env"}
	for _, e := range ctEnv {
		args = append(args, "--set-var", e)
	}
	args = append(args, "--")
	args = append(args, argv...)
	return execCmd(exec.Command("lxc-attach", args...), stdin)
}

func (l *lxcLevel) stop() {
	if out, err := run("lxc-info", "-n", ctName, "-s"); err == nil && strings.Contains(out, "RUNNING") {
		_, _ = run("lxc-stop", "-n", ctName, "-k")
	}
}

// nspawnLevel is systemd-nspawn booting the same tree (privileged, with its
// own network namespace on the bridge).
type nspawnLevel struct {
	dir    string
	cmd    *exec.Cmd
	out    *bytes.Buffer
	leader int
}

func (*nspawnLevel) name() string { return "nspawn" }

func (n *nspawnLevel) boot(tarball, resolvConf string) error {
	for _, c := range []string{"systemd-nspawn", "nsenter"} {
		if _, err := exec.LookPath(c); err != nil {
			return fmt.Errorf("%s is not installed (apt-get install systemd-container)", c)
		}
	}
	base, err := cacheDir()
	if err != nil {
		return err
	}
	n.dir = filepath.Join(base, "nspawn-rootfs")
	if err := os.RemoveAll(n.dir); err != nil {
		return err
	}
	if err := unpackRootfs(tarball, n.dir, false); err != nil {
		return err
	}
	network := fmt.Sprintf("[Match]\nName=host0\n\n[Network]\nAddress=%s\nGateway=%s\n", ctCIDR, hostAddr)
	if err := os.MkdirAll(filepath.Join(n.dir, "etc/systemd/network"), 0o755); err != nil {
		return err
	}
	for path, content := range map[string]string{
		"etc/resolv.conf":                      resolvConf,
		"etc/hostname":                         ctName + "\n",
		"etc/systemd/network/10-host0.network": network, // before systemd's 80-container-host0
	} {
		if err := writeFile(n.dir, path, content, false); err != nil {
			return err
		}
	}
	if _, err := run("chroot", n.dir, "systemctl", "enable", "systemd-networkd"); err != nil {
		return err
	}
	n.out = &bytes.Buffer{}
	n.cmd = exec.Command("systemd-nspawn", "--quiet", "--boot", "--register=no", "--keep-unit",
		"--machine="+ctName, "--directory="+n.dir, "--network-bridge="+bridgeName,
		"--capability=all", "--system-call-filter=@keyring")
	n.cmd.Stdout, n.cmd.Stderr = n.out, n.out
	if err := n.cmd.Start(); err != nil {
		return err
	}
	// The container's PID 1 is nspawn's child.
	deadline := time.Now().Add(30 * time.Second)
	for n.leader == 0 && time.Now().Before(deadline) {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", n.cmd.Process.Pid, n.cmd.Process.Pid))
		if f := strings.Fields(string(b)); len(f) > 0 {
			n.leader, _ = strconv.Atoi(f[0])
		}
		if n.cmd.ProcessState != nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if n.leader == 0 {
		return fmt.Errorf("systemd-nspawn started no container:\n%s", tail(n.out.String(), 20))
	}
	if err := waitBooted(n, 120*time.Second); err != nil {
		return fmt.Errorf("%w\nsystemd-nspawn output:\n%s", err, tail(n.out.String(), 20))
	}
	return nil
}

func (n *nspawnLevel) exec(stdin io.Reader, argv ...string) (string, int, error) {
	args := []string{"-t", strconv.Itoa(n.leader), "-a", "--", "env", "-i"}
	args = append(args, ctEnv...)
	args = append(args, argv...)
	return execCmd(exec.Command("nsenter", args...), stdin)
}

func (n *nspawnLevel) stop() {
	if n.cmd == nil || n.cmd.Process == nil {
		return
	}
	_ = n.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = n.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = n.cmd.Process.Kill()
	}
	n.cmd = nil
}
