package sshd

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// standinFS holds the stand-in commands: standins/node for the node sandbox
// (pct, pveversion, apparmor_parser) and standins/ct for containers.
//
//go:embed standins
var standinFS embed.FS

// Paths inside the node sandbox.
const (
	nodeSimDir     = "/opt/phoenix-sim"
	nodeBinDir     = nodeSimDir + "/node"
	nodeVolumesDir = "/var/lib/phoenix-sim/volumes"
	nodeRuntimeDir = "/var/lib/phoenix-sim/runtime"
	nodePath       = nodeBinDir + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
)

// hostEtcDir is where the node sandbox mounts the host's /etc (read-only);
// the node's /etc links there (see sandboxSpec.args).
const hostEtcDir = "/.phoenix-sim-etc"

// etcOverridden lists the host /etc entries the node sandbox replaces.
var etcOverridden = map[string]bool{
	"pve":        true,
	"apparmor.d": true,
	"hostname":   true,
}

// apparmorSeed lists what is copied from the host's /etc/apparmor.d into a
// node's fresh /etc/apparmor.d.
var apparmorSeed = []string{"tunables", "abi", "abstractions", "lxc-containers", "lxc", "local"}

// bwrapPath finds bubblewrap and checks that it can build a sandbox here,
// returning an error that says what to install otherwise.
func bwrapPath(ctx context.Context, unprivileged bool) (string, error) {
	p, err := exec.LookPath("bwrap")
	if err != nil {
		return "", errors.New("pvesim sshd: bubblewrap (bwrap) is required to run node commands in a sandbox and was not found in PATH; install the Debian package bubblewrap (apt-get install -y bubblewrap)")
	}
	args := []string{"--ro-bind", "/", "/", "--unshare-pid", "--proc", "/proc", "--dev", "/dev"}
	if unprivileged {
		args = append(args, "--unshare-user", "--uid", "0", "--gid", "0")
	}
	args = append(args, "--", "true")
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, p, args...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("pvesim sshd: bubblewrap (%s) cannot create a sandbox on this machine (%v: %s); commands are never run unsandboxed: run as root or enable unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1)", p, err, strings.TrimSpace(string(out)))
	}
	return p, nil
}

// installStandins writes the embedded stand-ins to
// <state>/ssh/standins/<digest>/ (a directory per content version, so
// concurrent servers never see a half-written tree) and returns its path.
func installStandins(stateDir string) (string, error) {
	type file struct {
		rel  string
		data []byte
	}
	var files []file
	h := sha256.New()
	err := fs.WalkDir(standinFS, "standins", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := standinFS.ReadFile(p)
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(p, "standins/")
		files = append(files, file{rel, data})
		h.Write([]byte(rel))
		h.Write([]byte{0})
		h.Write(data)
		h.Write([]byte{0})
		return nil
	})
	if err != nil {
		return "", err
	}
	base := filepath.Join(sshDir(stateDir), "standins")
	dir := filepath.Join(base, hex.EncodeToString(h.Sum(nil))[:16])
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err == nil {
		return dir, nil
	}
	if err := os.MkdirAll(base, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(base, ".tmp-")
	if err != nil {
		return "", err
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	for _, f := range files {
		dst := filepath.Join(tmp, filepath.FromSlash(f.rel))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return "", err
		}
		mode := os.FileMode(0o755)
		if strings.HasSuffix(f.rel, ".sh") || !bytes.HasPrefix(f.data, []byte("#!")) {
			mode = 0o644
		}
		if err := os.WriteFile(dst, f.data, mode); err != nil {
			return "", err
		}
	}
	if err := os.WriteFile(filepath.Join(tmp, ".complete"), nil, 0o644); err != nil {
		return "", err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, statErr := os.Stat(filepath.Join(dir, ".complete")); statErr == nil {
			return dir, nil
		}
		return "", err
	}
	return dir, nil
}

// prepareNodeState creates the node's part of the state dir (contract 3) and
// seeds its /etc/apparmor.d from the host on first use.
func prepareNodeState(stateDir, node string) error {
	for _, d := range []string{
		filepath.Join(stateDir, "nodes", node, "lxc"),
		filepath.Join(stateDir, "volumes", node),
		filepath.Join(stateDir, "runtime", node),
		filepath.Join(stateDir, "locks"),
		filepath.Join(stateDir, "runlock", node, "lxc"),
		nodeTmpDir(stateDir, node),
	} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if err := os.Chmod(nodeTmpDir(stateDir, node), 0o1777); err != nil {
		return err
	}
	aa := filepath.Join(stateDir, "apparmor", node)
	if _, err := os.Stat(aa); err == nil {
		return nil
	}
	tmp := aa + ".seed-tmp"
	_ = os.RemoveAll(tmp)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return err
	}
	for _, name := range apparmorSeed {
		src := filepath.Join("/etc/apparmor.d", name)
		if _, err := os.Lstat(src); err != nil {
			continue
		}
		if err := copyTree(src, filepath.Join(tmp, name)); err != nil {
			_ = os.RemoveAll(tmp)
			return fmt.Errorf("seed %s from %s: %w", aa, src, err)
		}
	}
	names, err := profileNames(filepath.Join(tmp, "lxc"))
	if err != nil {
		_ = os.RemoveAll(tmp)
		return err
	}
	// .loaded is the node's kernel profile list
	// (/sys/kernel/security/apparmor/profiles in the sandbox): one
	// "NAME (MODE)" line per profile; it always exists, as the kernel's does.
	var loaded strings.Builder
	for _, n := range names {
		loaded.WriteString(n + " (enforce)\n")
	}
	if err := os.WriteFile(filepath.Join(tmp, ".loaded"), []byte(loaded.String()), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, aa); err != nil {
		_ = os.RemoveAll(tmp)
		if _, statErr := os.Stat(aa); statErr == nil {
			return nil
		}
		return err
	}
	return nil
}

func nodeTmpDir(stateDir, node string) string {
	return filepath.Join(sshDir(stateDir), "tmp", node)
}

var profileRE = regexp.MustCompile(`(?m)^\s*profile\s+([^\s{]+)`)

// profileNames lists the profiles declared by the files in dir, the set a
// booted node has loaded from /etc/apparmor.d/lxc-containers.
func profileNames(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		for _, m := range profileRE.FindAllStringSubmatch(string(data), -1) {
			names = append(names, m[1])
		}
	}
	sort.Strings(names)
	return names, nil
}

// copyTree copies a file, symlink or directory tree.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		info, err := os.Lstat(p)
		if err != nil {
			return err
		}
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		case info.IsDir():
			return os.MkdirAll(target, 0o755)
		case info.Mode().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(target, data, info.Mode().Perm()|0o600)
		}
		return nil
	})
}

// kernelProfilesPath is where the node sandbox shows the kernel's list of
// loaded profiles, kept by the apparmor_parser stand-in in
// /etc/apparmor.d/.loaded.
const kernelProfilesPath = "/sys/kernel/security/apparmor/profiles"

// parserVersionEnv tells the apparmor_parser stand-in which version to
// report (see Server.SetParserVersion).
const parserVersionEnv = "PHOENIX_SIM_APPARMOR_VERSION"

// sandboxSpec is what every node command's bubblewrap invocation shares.
type sandboxSpec struct {
	bwrap        string
	unprivileged bool
	stateDir     string
	node         string
	standins     string
	hostnameFile string

	mu      sync.Mutex
	version string // apparmor_parser version to report; "" for the real parser's
}

func (s *sandboxSpec) parserVersion() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.version
}

// execLatencyEnv tells the pct stand-in how many seconds each pct exec
// waits (Options.ExecLatency).
const execLatencyEnv = "PHOENIX_SIM_EXEC_LATENCY"

// args returns bubblewrap's arguments for running bash -c command on the
// node, with each pct exec in it waiting execLatency.
func (s *sandboxSpec) args(command string, execLatency time.Duration) []string {
	a := []string{
		"--die-with-parent", "--new-session",
		"--unshare-pid", "--unshare-ipc", "--unshare-uts", "--hostname", s.node,
	}
	if s.unprivileged {
		// Root inside a user namespace; the capabilities (valid only in that
		// namespace) let pct build the container sandbox within it.
		a = append(a, "--unshare-user", "--uid", "0", "--gid", "0", "--cap-add", "ALL")
	}
	a = append(a, "--ro-bind", "/usr", "/usr", "--tmpfs", "/usr/local")
	for _, top := range []string{"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"} {
		info, err := os.Lstat(top)
		if err != nil {
			continue
		}
		if info.Mode()&fs.ModeSymlink != 0 {
			if link, err := os.Readlink(top); err == nil {
				a = append(a, "--symlink", link, top)
			}
			continue
		}
		a = append(a, "--ro-bind", top, top)
	}
	// The host's /etc is mounted once, read-only, at hostEtcDir, and the
	// node's /etc (a tmpfs, so that pve, apparmor.d and hostname can be the
	// node's own) links each of its other entries there. One mount instead
	// of one per entry: bubblewrap reads the whole mount table for every
	// mount it makes, so a sandbox of a hundred /etc mounts cost more than
	// most of the commands run in it. hostEtcDir sits at the depth of /etc,
	// so relative links inside the entries resolve as they do on the host.
	a = append(a, "--proc", "/proc", "--dev", "/dev", "--ro-bind", "/etc", hostEtcDir, "--tmpfs", "/etc")
	if entries, err := os.ReadDir("/etc"); err == nil {
		for _, e := range entries {
			name := e.Name()
			if etcOverridden[name] {
				continue
			}
			dst := path.Join("/etc", name)
			if e.Type()&fs.ModeSymlink != 0 {
				if link, err := os.Readlink(dst); err == nil {
					a = append(a, "--symlink", link, dst)
				}
				continue
			}
			a = append(a, "--symlink", path.Join(hostEtcDir, name), dst)
		}
	}
	if execLatency > 0 {
		a = append(a, "--setenv", execLatencyEnv, strconv.FormatFloat(execLatency.Seconds(), 'f', 6, 64))
	}
	if v := s.parserVersion(); v != "" {
		a = append(a, "--setenv", parserVersionEnv, v)
	}
	a = append(a,
		"--ro-bind", s.hostnameFile, "/etc/hostname",
		"--dir", "/etc/pve",
		"--bind", filepath.Join(s.stateDir, "nodes"), "/etc/pve/nodes",
		"--symlink", "nodes/"+s.node+"/lxc", "/etc/pve/lxc",
		"--symlink", "nodes/"+s.node, "/etc/pve/local",
		"--bind", filepath.Join(s.stateDir, "apparmor", s.node), "/etc/apparmor.d",
		"--ro-bind-try", filepath.Join(s.stateDir, "apparmor", s.node, ".loaded"), kernelProfilesPath,
		"--remount-ro", "/etc",
		"--tmpfs", "/run",
		"--ro-bind-try", filepath.Join(s.stateDir, "nodechan", s.node), "/run/pvesim",
		"--bind", filepath.Join(s.stateDir, "runlock", s.node), "/run/lock",
		"--bind", filepath.Join(s.stateDir, "locks"), "/run/lock/lxc",
		"--tmpfs", "/var",
		"--symlink", "../run", "/var/run",
		"--symlink", "../run/lock", "/var/lock",
		"--dir", "/var/tmp",
		"--bind", filepath.Join(s.stateDir, "volumes", s.node), nodeVolumesDir,
		"--bind", filepath.Join(s.stateDir, "runtime", s.node), nodeRuntimeDir,
		"--bind", nodeTmpDir(s.stateDir, s.node), "/tmp",
		"--tmpfs", "/root",
		"--ro-bind", s.standins, nodeSimDir,
		"--chdir", "/root",
		"--", "/bin/bash", "-c", command,
	)
	return a
}

// NodeTmpDir is where node's /tmp lives in the state dir stateDir: tests
// put files there for node commands to find.
func NodeTmpDir(stateDir, node string) string { return nodeTmpDir(stateDir, node) }
