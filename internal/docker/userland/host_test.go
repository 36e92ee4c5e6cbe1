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
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The host side of the run: the cached root file system, the bridge the
// container's veth joins, and the commands run on the host.

const (
	// bridgeName is the host bridge of the container's eth0 (PVE's vmbr0).
	bridgeName = "phxul0"
	// hostAddr is the bridge's address: the container's gateway and the
	// network test's target, an address on this machine.
	hostAddr = "10.213.77.1"
	ctCIDR   = "10.213.77.2/24"
	subnet   = "10.213.77.0/24"
	// nftTable holds the NAT rule that lets the container reach Debian's
	// mirror.
	nftTable = "phoenix_userland"
	// idBase is where PVE maps an unprivileged container's root
	// (PVE::LXC::update_lxc_config writes "lxc.idmap = u 0 100000 65536").
	idBase = 100000
	idSize = 65536
)

// rootfsPackages are installed on top of mmdebstrap's minbase: an init, what
// systemd needs to boot in a container, and the network tools a PVE Debian
// template carries (the install script pings and resolves).
var rootfsPackages = []string{"systemd-sysv", "dbus", "iproute2", "iputils-ping", "ca-certificates", "procps"}

// mirrors are Debian 12's suites; Debian's package registry is the only
// network the run uses.
var mirrors = []string{
	"deb http://deb.debian.org/debian bookworm main",
	"deb http://deb.debian.org/debian bookworm-updates main",
	"deb http://deb.debian.org/debian-security bookworm-security main",
}

func cacheDir() (string, error) {
	if d := os.Getenv("PHOENIX_USERLAND_CACHE"); d != "" {
		return d, nil
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(base, "terraform-provider-phoenix", "userland"), nil
}

// run runs a host command and returns its combined output; an error carries
// the command and its output.
func run(name string, args ...string) (string, error) {
	return runIn(nil, name, args...)
}

func runIn(stdin io.Reader, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Stdin = stdin
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, tail(out.String(), 30))
	}
	return out.String(), nil
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// ensureRootfs returns the cached Debian 12 tarball, building it with
// mmdebstrap when it is missing.
func ensureRootfs(t *testing.T, logf func(string, ...any)) string {
	t.Helper()
	dir, err := cacheDir()
	if err != nil {
		t.Fatalf("cache directory: %v", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	tarball := filepath.Join(dir, "debian-12-rootfs.tar")
	if fi, err := os.Stat(tarball); err == nil && fi.Mode().IsRegular() && fi.Size() > 0 {
		logf("rootfs: cached %s (%d MiB)", tarball, fi.Size()>>20)
		return tarball
	}
	if _, err := exec.LookPath("mmdebstrap"); err != nil {
		t.Fatalf("mmdebstrap is not installed (apt-get install mmdebstrap): it builds the Debian 12 root file system")
	}
	start := time.Now()
	// mmdebstrap picks its output format from the target's extension and
	// writes a directory for one it does not know (".tmp"): say tar.
	tmp := tarball + ".tmp"
	_ = os.RemoveAll(tmp)
	args := append([]string{"--format=tar", "--variant=minbase", "--include=" + strings.Join(rootfsPackages, ","), "bookworm", tmp}, mirrors...)
	if _, err := run("mmdebstrap", args...); err != nil {
		_ = os.RemoveAll(tmp)
		t.Fatalf("building the root file system: %v", err)
	}
	_ = os.RemoveAll(tarball) // a directory an older build left
	if err := os.Rename(tmp, tarball); err != nil {
		t.Fatal(err)
	}
	logf("rootfs: built %s with mmdebstrap in %s", tarball, time.Since(start).Round(time.Second))
	return tarball
}

// unpackRootfs unpacks the tarball into dir, owned as the container sees it:
// with shift (an unprivileged container) every owner is moved up by idBase,
// by unpacking inside a user namespace that maps 0..65535 there, so file
// capabilities and set-id bits come out as the kernel writes them for that
// namespace. Device nodes are left out (the runtime mounts /dev).
func unpackRootfs(tarball, dir string, shift bool) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tarArgs := []string{"--numeric-owner", "--exclude=./dev/*", "-xpf", tarball, "-C", dir}
	if !shift {
		_, err := run("tar", tarArgs...)
		return err
	}
	if err := os.Chown(dir, idBase, idBase); err != nil {
		return err
	}
	// Root writes the namespace's maps itself (unshare(1) would go through
	// newuidmap, which wants /etc/subuid entries).
	// The tarball is opened here: the namespace's root may not reach it.
	f, err := os.Open(tarball)
	if err != nil {
		return err
	}
	defer f.Close()
	tarArgs[3] = "-"
	cmd := exec.Command("tar", tarArgs...)
	cmd.Stdin = f
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: idBase, Size: idSize}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: idBase, Size: idSize}},
		Credential:  &syscall.Credential{Uid: 0, Gid: 0},
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("tar in a user namespace mapping 0-%d to %d: %w\n%s", idSize-1, idBase, err, tail(string(out), 20))
	}
	return nil
}

// writeFile writes content into the container's tree, owned by the
// container's root.
func writeFile(rootfs, path, content string, shift bool) error {
	p := filepath.Join(rootfs, path)
	_ = os.Remove(p)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		return err
	}
	if shift {
		return os.Lchown(p, idBase, idBase)
	}
	return nil
}

// hostNetwork makes the bridge with hostAddr, NAT for the subnet, and turns
// on forwarding; the returned function undoes all of it.
func hostNetwork() (func(), error) {
	var undo []func()
	cleanup := func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
	_, _ = run("ip", "link", "del", bridgeName)
	_, _ = run("nft", "delete", "table", "ip", nftTable)
	if _, err := run("ip", "link", "add", bridgeName, "type", "bridge"); err != nil {
		return cleanup, err
	}
	undo = append(undo, func() { _, _ = run("ip", "link", "del", bridgeName) })
	for _, args := range [][]string{
		{"addr", "add", hostAddr + "/24", "dev", bridgeName},
		{"link", "set", bridgeName, "up"},
	} {
		if _, err := run("ip", args...); err != nil {
			return cleanup, err
		}
	}
	rules := fmt.Sprintf("table ip %s {\n chain post {\n  type nat hook postrouting priority srcnat;\n  ip saddr %s oifname != %q masquerade\n }\n}\n", nftTable, subnet, bridgeName)
	if _, err := runIn(strings.NewReader(rules), "nft", "-f", "-"); err != nil {
		return cleanup, err
	}
	undo = append(undo, func() { _, _ = run("nft", "delete", "table", "ip", nftTable) })
	const fwd = "/proc/sys/net/ipv4/ip_forward"
	old, err := os.ReadFile(fwd)
	if err != nil {
		return cleanup, err
	}
	if err := os.WriteFile(fwd, []byte("1\n"), 0o644); err != nil {
		return cleanup, err
	}
	undo = append(undo, func() { _ = os.WriteFile(fwd, old, 0o644) })
	return cleanup, nil
}

// hostResolvConf is the host's resolver configuration, which the container
// receives as PVE's setup does by default.
func hostResolvConf() (string, error) {
	b, err := os.ReadFile("/etc/resolv.conf")
	if err != nil {
		return "", err
	}
	var keep []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "nameserver ") || strings.HasPrefix(l, "search ") {
			keep = append(keep, l)
		}
	}
	if len(keep) == 0 {
		return "", errors.New("/etc/resolv.conf names no nameserver")
	}
	return strings.Join(keep, "\n") + "\n", nil
}

// ensureSubIDs gives root the id range PVE maps containers to, as a PVE node
// has it in /etc/subuid and /etc/subgid: lxc maps the ids through newuidmap
// and newgidmap when they are installed, and those check these files.
func ensureSubIDs(logf func(string, ...any)) error {
	entry := fmt.Sprintf("root:%d:%d", idBase, idSize)
	for _, f := range []string{"/etc/subuid", "/etc/subgid"} {
		b, err := os.ReadFile(f)
		if err != nil && !os.IsNotExist(err) {
			return err
		}
		if slices.Contains(strings.Split(string(b), "\n"), entry) {
			continue
		}
		if len(b) > 0 && !bytes.HasSuffix(b, []byte("\n")) {
			b = append(b, '\n')
		}
		if err := os.WriteFile(f, append(b, entry+"\n"...), 0o644); err != nil {
			return err
		}
		logf("added %s to %s (as on a PVE node)", entry, f)
	}
	return nil
}
