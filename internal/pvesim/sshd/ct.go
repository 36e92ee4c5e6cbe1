package sshd

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// CTFault names a fault injected into a container; the container's
// stand-ins read it from /var/lib/phoenix-sim/faults/<name>.
type CTFault string

const (
	// FaultAptFail makes apt-get fail as if another process held the dpkg
	// lock ("E: Could not get lock /var/lib/dpkg/lock-frontend", exit 100).
	FaultAptFail CTFault = "apt-fail"
	// FaultDockerFail makes "systemctl start docker" fail.
	FaultDockerFail CTFault = "docker-fail"
	// FaultDpkgInterrupt kills dpkg while apt-get unpacks a package, as a
	// power loss or an OOM kill would, and as dpkg really leaves it: the
	// package is "install reinstreq half-installed" in dpkg's journal
	// (/var/lib/dpkg/updates), apt-get refuses to run until "dpkg
	// --configure -a", which leaves the package half-installed, and apt-get
	// install mends it only with --reinstall.
	FaultDpkgInterrupt CTFault = "dpkg-interrupt"
	// FaultAptSlow holds apt-get (install, remove, purge) right after it
	// took the dpkg frontend lock, until the test releases it with
	// ReleaseCTFault (or 120 s have passed): runs that overlap it are sure
	// to meet the lock. CTFaultWaiting reports that an apt-get waits there.
	FaultAptSlow CTFault = "apt-slow"
	// FaultNetworkDown makes name resolution, ping, curl, apt downloads and
	// image pulls fail. It does not count down.
	FaultNetworkDown CTFault = "network-down"
)

// CTRootfs returns the directory of a container's root volume, from the
// rootfs line of <state>/nodes/<node>/lxc/<vmid>.conf.
func CTRootfs(stateDir, node string, vmid int) (string, error) {
	conf := filepath.Join(stateDir, "nodes", node, "lxc", strconv.Itoa(vmid)+".conf")
	data, err := os.ReadFile(conf)
	if err != nil {
		return "", err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "[") {
			break
		}
		v, ok := strings.CutPrefix(line, "rootfs:")
		if !ok {
			continue
		}
		vol := ""
		for i, part := range strings.Split(strings.TrimSpace(v), ",") {
			if p, ok := strings.CutPrefix(part, "volume="); ok {
				vol = p
			} else if i == 0 && !strings.Contains(part, "=") {
				vol = part
			}
		}
		storage, name, ok := strings.Cut(vol, ":")
		if !ok || storage == "" || name == "" || strings.Contains(name, "/") {
			return "", fmt.Errorf("%s: unsupported rootfs volume %q", conf, vol)
		}
		return filepath.Join(stateDir, "volumes", node, storage, name), nil
	}
	return "", fmt.Errorf("%s: no rootfs line in the main section", conf)
}

// SetCTFault injects fault into a container: it fires count times (apt-get
// runs, docker starts), or on every use when count is 0.
func SetCTFault(stateDir, node string, vmid int, fault CTFault, count int) error {
	if count < 0 {
		return errors.New("negative fault count")
	}
	root, err := CTRootfs(stateDir, node, vmid)
	if err != nil {
		return err
	}
	dir := filepath.Join(root, "var", "lib", "phoenix-sim", "faults")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	content := "always\n"
	if count > 0 {
		content = strconv.Itoa(count) + "\n"
	}
	return os.WriteFile(filepath.Join(dir, string(fault)), []byte(content), 0o644)
}

// CTFaultWaiting reports whether a stand-in is held by fault (FaultAptSlow)
// in the container now.
func CTFaultWaiting(stateDir, node string, vmid int, fault CTFault) (bool, error) {
	root, err := CTRootfs(stateDir, node, vmid)
	if err != nil {
		return false, err
	}
	_, err = os.Stat(filepath.Join(root, "var", "lib", "phoenix-sim", "faults", string(fault)+".waiting"))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// ReleaseCTFault lets go the stand-in that fault holds (FaultAptSlow).
func ReleaseCTFault(stateDir, node string, vmid int, fault CTFault) error {
	root, err := CTRootfs(stateDir, node, vmid)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(root, "var", "lib", "phoenix-sim", "faults", string(fault)+".release"), nil, 0o644)
}

// ClearCTFault removes an injected fault.
func ClearCTFault(stateDir, node string, vmid int, fault CTFault) error {
	root, err := CTRootfs(stateDir, node, vmid)
	if err != nil {
		return err
	}
	err = os.Remove(filepath.Join(root, "var", "lib", "phoenix-sim", "faults", string(fault)))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// CTInstalls counts the package installs (new, upgraded or downgraded
// packages) recorded in the container's /var/log/apt/phoenix-sim.log.
func CTInstalls(stateDir, node string, vmid int) (int, error) {
	root, err := CTRootfs(stateDir, node, vmid)
	if err != nil {
		return 0, err
	}
	data, err := os.ReadFile(filepath.Join(root, "var", "log", "apt", "phoenix-sim.log"))
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n := 0
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[1] == "install" {
			n++
		}
	}
	return n, nil
}
