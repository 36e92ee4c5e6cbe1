package pvesim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/lxcconf"
)

// store is the simulator's state on disk, laid out as the shared contract
// describes:
//
//	<state>/nodes/<node>/lxc/<vmid>.conf      config files
//	<state>/volumes/<node>/<storage>/<name>/  volume contents
//	<state>/runtime/<node>/<vmid>.running     present while a CT runs
//	<state>/locks/pve-config-<vmid>.lock      PVE's config locks (flock)
//	<state>/apparmor/<node>/                  each node's /etc/apparmor.d
//	<state>/ssh/                              SSH keys
//	<state>/cluster/pools.cfg                 resource pools (user.cfg's pool lines)
//	<state>/cluster/ha/resources.cfg          HA resources (PVE's section config)
//
// Nothing is cached in memory: every call reads the files, so changes made
// by the SSH side (or a restart) are always seen.
type store struct {
	dir         string
	nodes       []string
	lockTimeout time.Duration
	// detachedSizes keeps the size of volumes detached to unusedN (whose
	// entry has no size), by node and volume ID, so that attaching one
	// again finds its size as PVE's volume_size_info does.
	detachedSizes sync.Map
	// clusterMu guards the cluster-wide files (pools, HA resources), as
	// PVE's user.cfg lock and HA domain lock do.
	clusterMu sync.Mutex
}

func newStore(dir string, nodes []string) (*store, error) {
	st := &store{dir: dir, nodes: nodes, lockTimeout: 10 * time.Second}
	dirs := []string{filepath.Join(dir, "locks"), filepath.Join(dir, "ssh")}
	for _, n := range nodes {
		dirs = append(dirs,
			filepath.Join(dir, "nodes", n, "lxc"),
			filepath.Join(dir, "volumes", n),
			filepath.Join(dir, "runtime", n),
			// <state>/apparmor/<node> is left to the SSH server, which seeds
			// it from the host's /etc/apparmor.d when it does not exist.
		)
	}
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// ct is one container config as loaded from disk.
type ct struct {
	node   string
	vmid   int
	cfg    *lxcconf.Config
	digest string
}

// main is the config's main section.
func (c *ct) main() *lxcconf.Section { return c.cfg.Main() }

// get returns a main-section value.
func (c *ct) get(key string) string {
	v, _ := c.cfg.Main().Get(key)
	return v
}

func (st *store) confPath(node string, vmid int) string {
	return filepath.Join(st.dir, "nodes", node, "lxc", strconv.Itoa(vmid)+".conf")
}

// load reads a container's config; a missing file gives PVE's message.
func (st *store) load(node string, vmid int) (*ct, error) {
	data, err := os.ReadFile(st.confPath(node, vmid))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, notFoundConfig(node, vmid)
	}
	if err != nil {
		return nil, err
	}
	cfg, err := lxcconf.Parse(data)
	if err != nil {
		return nil, errf("unable to parse config of CT %d - %v", vmid, err)
	}
	return &ct{node: node, vmid: vmid, cfg: cfg, digest: lxcconf.Digest(data)}, nil
}

// save writes a config atomically (temp file and rename). The caller holds
// the config lock. As write_pct_config does, an unusedN entry whose volume
// a mount point of the main section uses again is dropped first.
func (st *store) save(c *ct) error {
	dropReusedUnused(c.main())
	return writeFileAtomic(st.confPath(c.node, c.vmid), c.cfg.Bytes(), 0o640)
}

// create writes a new config file; it fails when the file exists.
func (st *store) create(node string, vmid int, cfg *lxcconf.Config) error {
	path := st.confPath(node, vmid)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return err
	}
	_, werr := f.Write(cfg.Bytes())
	cerr := f.Close()
	return errors.Join(werr, cerr)
}

// destroy removes a config file.
func (st *store) destroy(node string, vmid int) error {
	err := os.Remove(st.confPath(node, vmid))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// move moves a config to another node's directory.
func (st *store) move(from, to string, vmid int) error {
	return os.Rename(st.confPath(from, vmid), st.confPath(to, vmid))
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr, os.Chmod(name, mode)); err != nil {
		_ = os.Remove(name)
		return err
	}
	if err := os.Rename(name, path); err != nil {
		_ = os.Remove(name)
		return err
	}
	return nil
}

// findVMID returns the node whose config directory holds vmid.
func (st *store) findVMID(vmid int) (string, bool) {
	for _, n := range st.nodes {
		if _, err := os.Stat(st.confPath(n, vmid)); err == nil {
			return n, true
		}
	}
	return "", false
}

// list returns the vmids configured on node, sorted.
func (st *store) list(node string) []int {
	entries, err := os.ReadDir(filepath.Join(st.dir, "nodes", node, "lxc"))
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".conf")
		if !ok || e.IsDir() {
			continue
		}
		if n, err := strconv.Atoi(name); err == nil && n >= 100 {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// usedVMIDs returns every vmid configured anywhere in the cluster.
func (st *store) usedVMIDs() map[int]string {
	out := map[int]string{}
	for _, n := range st.nodes {
		for _, id := range st.list(n) {
			out[id] = n
		}
	}
	return out
}

// checkVMIDUnused is PVE::Cluster::check_vmid_unused.
func (st *store) checkVMIDUnused(vmid int) error {
	if node, ok := st.findVMID(vmid); ok {
		return errf("CT %d already exists on node '%s'", vmid, node)
	}
	return nil
}

// lockPath is the lock file on the simulator's disk; lockName is how PVE
// names it in messages (/run/lock/lxc is bound to <state>/locks).
func (st *store) lockPath(vmid int) string {
	return filepath.Join(st.dir, "locks", fmt.Sprintf("pve-config-%d.lock", vmid))
}

// lock takes PVE's config lock for vmid (an exclusive flock on the lock
// file, shared with the nodes' shells) and returns the function that
// releases it. Like PVE it gives up after a timeout.
func (st *store) lock(vmid int) (func(), error) {
	f, err := os.OpenFile(st.lockPath(vmid), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(st.lockTimeout)
	wait := time.Millisecond
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			_ = f.Close()
			return nil, err
		}
		if time.Now().After(deadline) {
			_ = f.Close()
			return nil, errf("can't lock file '/run/lock/lxc/pve-config-%d.lock' - got timeout", vmid)
		}
		time.Sleep(wait)
		if wait < 20*time.Millisecond {
			wait *= 2
		}
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		_ = f.Close()
	}, nil
}

// withLock runs fn holding the config lock of vmid.
func (st *store) withLock(vmid int, fn func() error) error {
	unlock, err := st.lock(vmid)
	if err != nil {
		return err
	}
	defer unlock()
	return fn()
}

// runInfo is the content of a runtime/<node>/<vmid>.running file.
type runInfo struct {
	PID     int   `json:"pid"`
	Started int64 `json:"started"`
	// StartedNS is the start time in nanoseconds (Started is in seconds,
	// as PVE's uptime counts).
	StartedNS int64 `json:"started_ns,omitempty"`
}

// since is how long the container has been running at now.
func (ri runInfo) since(now time.Time) time.Duration {
	if ri.StartedNS != 0 {
		return now.Sub(time.Unix(0, ri.StartedNS))
	}
	return now.Sub(time.Unix(ri.Started, 0))
}

func (st *store) runPath(node string, vmid int) string {
	return filepath.Join(st.dir, "runtime", node, strconv.Itoa(vmid)+".running")
}

// running reports whether the container runs, and since when.
func (st *store) running(node string, vmid int) (runInfo, bool) {
	data, err := os.ReadFile(st.runPath(node, vmid))
	if err != nil {
		return runInfo{}, false
	}
	var ri runInfo
	_ = json.Unmarshal(data, &ri)
	return ri, true
}

// setRunning marks the container running (with a new pid) or stopped.
func (st *store) setRunning(node string, vmid int, on bool, pid int) error {
	path := st.runPath(node, vmid)
	if !on {
		err := os.Remove(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	now := time.Now()
	b, _ := json.Marshal(runInfo{PID: pid, Started: now.Unix(), StartedNS: now.UnixNano()})
	return writeFileAtomic(path, b, 0o644)
}

// VolumeDir returns the directory holding the contents of volume volid
// ("local-lvm:vm-102-disk-0") on node: <state>/volumes/<node>/<storage>/<name>.
// For a linked clone ("local-lvm:base-900-disk-0/vm-102-disk-0") the name is
// the clone's own volume name.
func VolumeDir(stateDir, node, volid string) string {
	storage, name, _ := strings.Cut(volid, ":")
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	return filepath.Join(stateDir, "volumes", node, storage, name)
}

func (st *store) volumeDir(node, volid string) string {
	return VolumeDir(st.dir, node, volid)
}

// snapshotDir is where a volume's snapshot is kept, named like the thin LV
// PVE creates (snap_<volume>_<snapname>).
func (st *store) snapshotDir(node, volid, snap string) string {
	dir := st.volumeDir(node, volid)
	return filepath.Join(filepath.Dir(dir), "snap_"+filepath.Base(dir)+"_"+snap)
}

// freeVolumeName returns the first unused disk name for vmid on a storage
// (vm-<vmid>-disk-N, or base-... for templates), like find_free_diskname.
func (st *store) freeVolumeName(node, storage string, vmid int, taken map[string]bool) string {
	for i := 0; ; i++ {
		suffix := fmt.Sprintf("-%d-disk-%d", vmid, i)
		if taken["vm"+suffix] || taken["base"+suffix] {
			continue
		}
		base := filepath.Join(st.dir, "volumes", node, storage)
		if exists(filepath.Join(base, "vm"+suffix)) || exists(filepath.Join(base, "base"+suffix)) {
			continue
		}
		return "vm" + suffix
	}
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// copyTree copies a directory tree (files, directories, symlinks) with its
// permissions.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(target, info.Mode().Perm()|0o700)
		case info.Mode()&fs.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		case info.Mode().IsRegular():
			return copyFile(path, target, info.Mode().Perm())
		}
		return nil
	})
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer func() { _ = in.Close() }()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	_, cerr := io.Copy(out, in)
	return errors.Join(cerr, out.Close())
}

// dropReusedUnused removes the unusedN keys naming a volume that rootfs or
// an mpN of sec uses (write_pct_config: "remove 'unusedX' settings if the
// volume is still used").
func dropReusedUnused(sec *lxcconf.Section) {
	used := map[string]bool{}
	for k, vol := range configVolumes(sec) {
		if !reUnused.MatchString(k) {
			used[vol] = true
		}
	}
	for _, k := range sec.Keys() {
		if !reUnused.MatchString(k) {
			continue
		}
		if v, _ := sec.Get(k); used[splitProps(v, "volume")["volume"]] {
			sec.Delete(k)
		}
	}
}

// noteDetached records the size of a volume that becomes unusedN.
func (st *store) noteDetached(node string, props map[string]string) {
	if n := volumeSize(props); n > 0 {
		st.detachedSizes.Store(node+"\x00"+props["volume"], n)
	}
}

// rescanSize is what apply_pending_mountpoint's rescan_volume finds for an
// attached volume: its size, 0 when unknown.
func (st *store) rescanSize(node, vol string) int64 {
	v, _ := st.detachedSizes.Load(node + "\x00" + vol)
	n, _ := v.(int64)
	return n
}
