package pvesim

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/lxcconf"
)

func (s *server) now() time.Time { return time.Now() }

// checkSkiplock answers the skiplock parameter like PVE: root@pam only.
func checkSkiplock(r *request) (bool, error) {
	if !r.flag("skiplock") {
		return false, nil
	}
	if r.user != rootPam {
		return false, paramErr1("skiplock", "Only root may use this option.")
	}
	return true, nil
}

// startCT starts a container; the caller holds its config lock.
func (s *server) startCT(node string, vmid int, skiplock bool) error {
	c, err := s.store.load(node, vmid)
	if err != nil {
		return err
	}
	if isTemplate(c) {
		return errf("you can't start a CT if it's a template")
	}
	if !skiplock && c.get("lock") != "mounted" {
		if err := s.checkLock(c); err != nil {
			return err
		}
	}
	if c.cfg.Section(lxcconf.PendingSection) != nil {
		if err := s.applyPending(c, nil); err != nil {
			return err
		}
		sortAll(c)
		if err := s.store.save(c); err != nil {
			return err
		}
	}
	// update_lxc_config writes a cgroup rule per device, from the device
	// node's mode and number (get_device_mode_and_rdev): a device the node
	// lacks fails the start.
	for _, k := range c.main().Keys() {
		if reDev.MatchString(k) {
			if err := s.checkDevice(node, splitProps(c.get(k), "path")["path"]); err != nil {
				return err
			}
		}
	}
	if vol := splitProps(c.get("rootfs"), "volume")["volume"]; mountType(vol) == "volume" {
		if err := os.MkdirAll(s.store.volumeDir(node, vol), 0o755); err != nil {
			return err
		}
	}
	return s.store.setRunning(node, vmid, true, randomPID())
}

// powerOp handles the status/{start,stop,shutdown,reboot} calls: the
// synchronous checks, then the task holding the config lock.
func (s *server) powerOp(r *request, typ string, wantRunning bool) (any, error) {
	skiplock, err := checkSkiplock(r)
	if err != nil {
		return nil, err
	}
	if _, err := s.store.load(r.node, r.vmid); err != nil {
		return nil, err
	}
	_, running := s.store.running(r.node, r.vmid)
	if wantRunning && !running {
		return nil, errf("CT %d not running", r.vmid)
	}
	if !wantRunning && running {
		return nil, errf("CT %d already running", r.vmid)
	}
	if typ != "vzreboot" && s.store.haManaged(r.vmid) {
		return s.haPowerOp(r, typ == "vzstart")
	}
	unlock, err := s.store.lock(r.vmid)
	if err != nil {
		return nil, err
	}
	node, vmid := r.node, r.vmid
	return s.tasks.start(node, typ, strconv.Itoa(vmid), r.user, unlock, func(t *task) error {
		if err := t.fault(); err != nil {
			return err
		}
		switch typ {
		case "vzstart":
			return s.startCT(node, vmid, skiplock)
		case "vzreboot":
			c, err := s.store.load(node, vmid)
			if err != nil {
				return err
			}
			if err := s.checkLock(c); err != nil {
				return err
			}
			if err := s.store.setRunning(node, vmid, false, 0); err != nil {
				return err
			}
			return s.startCT(node, vmid, false)
		default: // vzstop, vzshutdown
			c, err := s.store.load(node, vmid)
			if err != nil {
				return err
			}
			if typ != "vzstop" || (!skiplock && c.get("lock") != "mounted") {
				if err := s.checkLock(c); err != nil {
					return err
				}
			}
			return s.store.setRunning(node, vmid, false, 0)
		}
	}), nil
}

func (s *server) handleStart(r *request) (any, error)    { return s.powerOp(r, "vzstart", false) }
func (s *server) handleStop(r *request) (any, error)     { return s.powerOp(r, "vzstop", true) }
func (s *server) handleShutdown(r *request) (any, error) { return s.powerOp(r, "vzshutdown", true) }
func (s *server) handleReboot(r *request) (any, error)   { return s.powerOp(r, "vzreboot", true) }

// setLock is PVE's set_lock: check the lock, then take it.
func (s *server) setLock(node string, vmid int, lock string) (*ct, error) {
	var out *ct
	err := s.store.withLock(vmid, func() error {
		c, err := s.store.load(node, vmid)
		if err != nil {
			return err
		}
		if err := s.checkLock(c); err != nil {
			return err
		}
		c.main().Set("lock", lock)
		sortSection(c.main())
		if err := s.store.save(c); err != nil {
			return err
		}
		out = c
		return nil
	})
	return out, err
}

// removeLock is PVE's remove_lock.
func (s *server) removeLock(node string, vmid int, lock string) {
	_ = s.store.withLock(vmid, func() error {
		c, err := s.store.load(node, vmid)
		if err != nil {
			return err
		}
		if c.get("lock") != lock {
			return nil
		}
		c.main().Delete("lock")
		return s.store.save(c)
	})
}

// handleClone serves POST /nodes/{node}/lxc/{vmid}/clone.
func (s *server) handleClone(r *request) (any, error) {
	p := r.params
	node, vmid := r.node, r.vmid
	newid, err := strconv.Atoi(p["newid"])
	if err != nil {
		return nil, paramErr1("newid", "property is missing and it is not optional")
	}
	pool, inPool := p["pool"]
	if inPool {
		if err := s.checkPoolExist(pool); err != nil {
			return nil, err
		}
	}
	target := p["target"]
	if target == node || target == "localhost" {
		target = ""
	}
	if target != "" && !s.isNode(target) {
		return nil, errf("no such cluster node '%s'", target)
	}
	storage := p["storage"]
	if storage != "" {
		d, err := storageConfig(storage)
		if err != nil {
			return nil, err
		}
		if target != "" && !d.shared {
			return nil, errf("can't clone to non-shared storage '%s'", storage)
		}
	}

	src, err := s.setLock(node, vmid, "disk")
	if err != nil {
		return nil, err
	}
	err = s.store.withLock(newid, func() error {
		if err := s.store.checkVMIDUnused(newid); err != nil {
			return err
		}
		return s.store.create(node, newid, newConfig(map[string]string{"lock": "create"}, "", nil))
	})
	if err != nil {
		s.removeLock(node, vmid, "disk")
		return nil, err
	}

	type mount struct {
		props map[string]string
		full  bool
	}
	mounts := map[string]mount{}
	snapname := p["snapname"]
	_, running := s.store.running(node, vmid)
	err = func() error {
		full := !isTemplate(src)
		if r.has("full") {
			full = r.flag("full")
		}
		if storage != "" && !full {
			return errf("parameter 'storage' not allowed for linked clones")
		}
		sec := src.main()
		if snapname != "" {
			sec = src.cfg.Section(snapname)
			if sec == nil || snapname == lxcconf.PendingSection {
				return errf("snapshot '%s' does not exist", snapname)
			}
		}
		newconf := map[string]string{}
		sharedvm := true
		keys := sec.Keys()
		slices.Sort(keys)
		for _, k := range keys {
			v, _ := sec.Get(k)
			switch {
			case reUnused.MatchString(k), k == "description":
			case k == "rootfs" || reMP.MatchString(k):
				props := splitProps(v, "volume")
				vol := props["volume"]
				if mountType(vol) != "volume" {
					return errf("unable to clone mountpoint '%s' (type %s)", k, mountType(vol))
				}
				sid, name, _ := strings.Cut(vol, ":")
				if storage != "" {
					sid = storage
				}
				d, err := storageConfig(sid)
				if err != nil {
					return err
				}
				if err := s.check(r.user, "/storage/"+sid, "Datastore.AllocateSpace"); err != nil {
					return err
				}
				if !d.shared {
					sharedvm = false
				}
				if full {
					if running && snapname == "" {
						return errf("Cannot do full clones on a running container without snapshots")
					}
				} else if !strings.HasPrefix(name, "base-") && snapname == "" {
					return errf("Linked clone feature for '%s' is not available", vol)
				}
				mounts[k] = mount{props: props, full: full}
			case reNet.MatchString(k):
				if err := s.checkBridgeAccess(r.user, v); err != nil {
					return err
				}
				props := splitProps(v, "")
				props["hwaddr"] = newHWAddr()
				newconf[k] = printProps(props, netFormat)
			case k == "snapshots", k == "parent", k == "snaptime", k == "snapstate", k == "template", k == "lock":
			default:
				newconf[k] = v
			}
		}
		if target != "" && !sharedvm {
			return errf("can't clone CT to node '%s' (CT uses local storage)", target)
		}
		newconf["lock"] = "create"
		if h := p["hostname"]; h != "" {
			newconf["hostname"] = h
		}
		descr := sec.Description()
		if d := p["description"]; d != "" {
			descr = d
		}
		return s.store.withLock(newid, func() error {
			return s.store.save(&ct{node: node, vmid: newid, cfg: newConfig(newconf, descr, sec.LXC())})
		})
	}()
	if err != nil {
		s.removeLock(node, vmid, "disk")
		_ = s.store.withLock(newid, func() error { return s.store.destroy(node, newid) })
		return nil, err
	}

	return s.tasks.start(node, "vzclone", strconv.Itoa(vmid), r.user, nil, func(t *task) error {
		t.setTarget(newid)
		var newVols []string
		err := func() error {
			if err := t.fault(); err != nil {
				return err
			}
			keys := slices.Sorted(maps.Keys(mounts))
			for _, k := range keys {
				m := mounts[k]
				vol := m.props["volume"]
				sid, name, _ := strings.Cut(vol, ":")
				srcDir := s.store.volumeDir(node, vol)
				if snapname != "" {
					srcDir = s.store.snapshotDir(node, vol, snapname)
				}
				var newVol string
				if m.full {
					t.logf("create full clone of mountpoint %s (%s)", k, vol)
					tsid := sid
					if storage != "" {
						tsid = storage
					}
					newVol = tsid + ":" + s.store.freeVolumeName(node, tsid, newid, nil)
				} else {
					t.logf("create linked clone of mount point %s (%s)", k, vol)
					own := s.store.freeVolumeName(node, sid, newid, nil)
					if strings.HasPrefix(name, "base-") && !strings.Contains(name, "/") {
						newVol = sid + ":" + name + "/" + own
					} else {
						newVol = sid + ":" + own
					}
				}
				dst := s.store.volumeDir(node, newVol)
				if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
					return err
				}
				if exists(srcDir) {
					if err := copyTree(srcDir, dst); err != nil {
						return err
					}
				} else if err := os.MkdirAll(dst, 0o755); err != nil {
					return err
				}
				newVols = append(newVols, newVol)
				props := maps.Clone(m.props)
				props["volume"] = newVol
				f, _ := formatFor(k)
				err := s.store.withLock(newid, func() error {
					c, err := s.store.load(node, newid)
					if err != nil {
						return err
					}
					if c.get("lock") != "create" {
						return errf("Lost 'create' config lock, aborting.")
					}
					c.main().Set(k, printProps(props, f))
					sortSection(c.main())
					return s.store.save(c)
				})
				if err != nil {
					return err
				}
			}
			return nil
		}()
		s.removeLock(node, vmid, "disk")
		if err != nil {
			for _, v := range newVols {
				_ = os.RemoveAll(s.store.volumeDir(node, v))
			}
			_ = s.store.withLock(newid, func() error { return s.store.destroy(node, newid) })
			return errf("clone failed: %s", strings.TrimRight(err.Error(), "\n"))
		}
		return s.store.withLock(newid, func() error {
			c, err := s.store.load(node, newid)
			if err != nil {
				return err
			}
			c.main().Delete("lock")
			if err := s.store.save(c); err != nil {
				return err
			}
			if target != "" {
				if err := s.store.move(node, target, newid); err != nil {
					return err
				}
			}
			if inPool {
				return s.store.addVMToPool(newid, pool)
			}
			return nil
		})
	}), nil
}

var reVolOwner = regexp.MustCompile(`(?:^|/)(?:vm|base)-(\d+)-`)

// volumeOwner is the vmid a volume name belongs to (the clone's own part for
// linked clones).
func volumeOwner(volid string) int {
	_, name, _ := strings.Cut(volid, ":")
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	m := reVolOwner.FindStringSubmatch(name)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// handleResize serves PUT /nodes/{node}/lxc/{vmid}/resize.
func (s *server) handleResize(r *request) (any, error) {
	node, vmid := r.node, r.vmid
	disk := r.params["disk"]
	sizestr := r.params["size"]
	ext := strings.HasPrefix(sizestr, "+")
	req, ok := parseSize(strings.TrimPrefix(sizestr, "+"))
	if !ok {
		return nil, errf("invalid size string")
	}
	digest := r.params["digest"]
	check := func() (*ct, map[string]string, int64, error) {
		c, err := s.store.load(node, vmid)
		if err != nil {
			return nil, nil, 0, err
		}
		if err := s.checkLock(c); err != nil {
			return nil, nil, 0, err
		}
		if digest != "" && digest != c.digest {
			return nil, nil, 0, errf("detected modified configuration - file changed by other user? Try again.")
		}
		// resize_vm runs check_ct_modify_config_perm over {disk => ...}:
		// "disk" is no config key, so it needs VM.Config.Options.
		if err := s.checkCTModifyConfigPerm(r.user, vmid, "", nil, map[string]string{"disk": disk}, nil, c.get("unprivileged") == "1"); err != nil {
			return nil, nil, 0, err
		}
		v, ok := c.main().Get(disk)
		if !ok {
			return nil, nil, 0, errf("unable to parse value of '%s' - got undefined value", disk)
		}
		props := splitProps(v, "volume")
		vol := props["volume"]
		if mountType(vol) != "volume" {
			return nil, nil, 0, errf("unable to resize %s mount point '%s'", mountType(vol), disk)
		}
		if sid, _, _ := strings.Cut(vol, ":"); sid != "" {
			if err := s.check(r.user, "/storage/"+sid, "Datastore.AllocateSpace"); err != nil {
				return nil, nil, 0, err
			}
		}
		if owner := volumeOwner(vol); owner != vmid {
			return nil, nil, 0, errf("can't resize mount point owned by another container (%d)", owner)
		}
		size := volumeSize(props)
		if size == 0 {
			return nil, nil, 0, errf("Could not determine current size of volume '%s'", vol)
		}
		newsize := req
		if ext {
			newsize += size
		}
		if newsize < size {
			return nil, nil, 0, errf("unable to shrink disk size")
		}
		if newsize == size {
			return nil, nil, 0, errf("disk is already at specified size")
		}
		return c, props, newsize, nil
	}
	if _, _, _, err := check(); err != nil {
		return nil, err
	}
	return s.tasks.start(node, "resize", strconv.Itoa(vmid), r.user, nil, func(t *task) error {
		return s.store.withLock(vmid, func() error {
			c, props, newsize, err := check()
			if err != nil {
				return err
			}
			if err := t.fault(); err != nil {
				return err
			}
			old := volumeSize(props)
			_, name, _ := strings.Cut(props["volume"], ":")
			t.logf("  Size of logical volume pve/%s changed from %s (%d extents) to %s (%d extents).", filepath.Base(name), gib(old), old>>22, gib(newsize), newsize>>22)
			t.logf("  Logical volume pve/%s successfully resized.", filepath.Base(name))
			props["size"] = formatSize(newsize)
			f, _ := formatFor(disk)
			c.main().Set(disk, printProps(props, f))
			sortSection(c.main())
			return s.store.save(c)
		})
	}), nil
}

func gib(n int64) string { return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30)) }

// handleTemplate serves POST /nodes/{node}/lxc/{vmid}/template. It returns
// null at once while the vztemplate task converts the volumes, holding the
// config lock.
func (s *server) handleTemplate(r *request) (any, error) {
	node, vmid := r.node, r.vmid
	unlock, err := s.store.lock(vmid)
	if err != nil {
		return nil, err
	}
	err = func() error {
		c, err := s.store.load(node, vmid)
		if err != nil {
			return err
		}
		if err := s.checkLock(c); err != nil {
			return err
		}
		if len(c.cfg.Snapshots()) > 0 {
			return errf("unable to create template, because CT contains snapshots")
		}
		if isTemplate(c) {
			return errf("you can't convert a template to a template")
		}
		if _, running := s.store.running(node, vmid); running {
			return errf("you can't convert a CT to template if the CT is running")
		}
		return nil
	}()
	if err != nil {
		unlock()
		return nil, err
	}
	s.tasks.start(node, "vztemplate", strconv.Itoa(vmid), r.user, unlock, func(t *task) error {
		c, err := s.loadInTask(t, node, vmid)
		if err != nil {
			return err
		}
		for k, vol := range configVolumes(c.main()) {
			if reUnused.MatchString(k) {
				continue
			}
			sid, name, _ := strings.Cut(vol, ":")
			dir, base := "", name
			if i := strings.LastIndexByte(name, '/'); i >= 0 {
				dir, base = name[:i+1], name[i+1:]
			}
			if !strings.HasPrefix(base, "vm-") {
				continue
			}
			newVol := sid + ":" + dir + "base-" + strings.TrimPrefix(base, "vm-")
			if err := os.Rename(s.store.volumeDir(node, vol), s.store.volumeDir(node, newVol)); err != nil && !os.IsNotExist(err) {
				return err
			}
			t.logf("  Renamed \"%s\" to \"%s\" in volume group \"pve\"", base, "base-"+strings.TrimPrefix(base, "vm-"))
			v, _ := c.main().Get(k)
			props := splitProps(v, "volume")
			props["volume"] = newVol
			f, _ := formatFor(k)
			c.main().Set(k, printProps(props, f))
		}
		c.main().Set("template", "1")
		sortSection(c.main())
		return s.store.save(c)
	})
	return nil, nil
}

// handleSnapshotList serves GET /nodes/{node}/lxc/{vmid}/snapshot.
func (s *server) handleSnapshotList(r *request) (any, error) {
	c, err := s.store.load(r.node, r.vmid)
	if err != nil {
		return nil, err
	}
	out := []map[string]any{}
	for _, sec := range c.cfg.Snapshots() {
		item := map[string]any{"name": sec.Name(), "description": sec.Description()}
		t, _ := strconv.ParseInt(getOr(sec, "snaptime", "0"), 10, 64)
		item["snaptime"] = t
		if p, ok := sec.Get("parent"); ok {
			item["parent"] = p
		}
		if st, ok := sec.Get("snapstate"); ok {
			item["snapstate"] = st
		}
		out = append(out, item)
	}
	slices.SortStableFunc(out, func(a, b map[string]any) int {
		x, _ := a["snaptime"].(int64)
		y, _ := b["snaptime"].(int64)
		return int(x - y)
	})
	_, running := s.store.running(r.node, r.vmid)
	cur := map[string]any{"name": "current", "digest": c.digest, "running": boolInt(running), "description": "You are here!"}
	if p := c.get("parent"); p != "" {
		cur["parent"] = p
	}
	return append(out, cur), nil
}

func getOr(sec *lxcconf.Section, k, def string) string {
	if v, ok := sec.Get(k); ok {
		return v
	}
	return def
}

// snapshotExcluded are the keys __snapshot_copy_config does not copy.
func snapshotExcluded(k string) bool {
	switch k {
	case "snapshots", "snapstate", "snaptime", "vmstate", "lock", "digest", "description", "pending":
		return true
	}
	return reUnused.MatchString(k)
}

// loadInTask reads a container's config in the task t, then meets the
// task's injected failure, if any: the failure strikes once the container
// is known to exist.
func (s *server) loadInTask(t *task, node string, vmid int) (*ct, error) {
	c, err := s.store.load(node, vmid)
	if err != nil {
		return nil, err
	}
	if err := t.fault(); err != nil {
		return nil, err
	}
	return c, nil
}

// handleSnapshotCreate serves POST /nodes/{node}/lxc/{vmid}/snapshot. As in
// PVE every check happens in the vzsnapshot task.
func (s *server) handleSnapshotCreate(r *request) (any, error) {
	node, vmid := r.node, r.vmid
	snap := r.params["snapname"]
	descr := r.params["description"]
	if snap == "" {
		return nil, paramErr1("snapname", "property is missing and it is not optional")
	}
	return s.tasks.start(node, "vzsnapshot", strconv.Itoa(vmid), r.user, nil, func(t *task) error {
		var vols map[string]string
		err := s.store.withLock(vmid, func() error {
			c, err := s.loadInTask(t, node, vmid)
			if err != nil {
				return err
			}
			if err := s.checkLock(c); err != nil {
				return err
			}
			if snap == "current" || !lxcconf.ValidSectionName(snap) || snap == lxcconf.PendingSection {
				return errf("invalid snapshot name '%s'", snap)
			}
			if c.cfg.Section(snap) != nil {
				return errf("snapshot name '%s' already used", snap)
			}
			main := c.main()
			main.Set("lock", "snapshot")
			sec := c.cfg.AddSection(snap)
			for _, k := range main.Keys() {
				if snapshotExcluded(k) {
					continue
				}
				v, _ := main.Get(k)
				sec.Set(k, v)
			}
			for _, kv := range main.LXC() {
				sec.AddLXC(kv.Key, kv.Value)
			}
			sec.Set("snapstate", "prepare")
			sec.Set("snaptime", strconv.FormatInt(time.Now().Unix(), 10))
			if descr != "" {
				sec.SetDescription(descr)
			}
			vols = configVolumes(main)
			sortAll(c)
			return s.store.save(c)
		})
		if err != nil {
			return err
		}
		for k, vol := range vols {
			if reUnused.MatchString(k) {
				continue
			}
			src := s.store.volumeDir(node, vol)
			if !exists(src) {
				continue
			}
			dst := s.store.snapshotDir(node, vol, snap)
			_ = os.RemoveAll(dst)
			if err := copyTree(src, dst); err != nil {
				return err
			}
			_, name, _ := strings.Cut(vol, ":")
			t.logf("  Logical volume \"snap_%s_%s\" created.", filepath.Base(name), snap)
		}
		return s.store.withLock(vmid, func() error {
			c, err := s.store.load(node, vmid)
			if err != nil {
				return err
			}
			if c.get("lock") != "snapshot" {
				return errf("missing snapshot lock")
			}
			sec := c.cfg.Section(snap)
			if sec == nil {
				return errf("snapshot '%s' does not exist", snap)
			}
			sec.Delete("snapstate")
			c.main().Set("parent", snap)
			c.main().Delete("lock")
			sortAll(c)
			return s.store.save(c)
		})
	}), nil
}

// handleSnapshotDelete serves DELETE /nodes/{node}/lxc/{vmid}/snapshot/{snapname}.
func (s *server) handleSnapshotDelete(r *request) (any, error) {
	node, vmid := r.node, r.vmid
	snap := r.params["snapname"]
	force := r.flag("force")
	return s.tasks.start(node, "vzdelsnapshot", strconv.Itoa(vmid), r.user, nil, func(t *task) error {
		var vols map[string]string
		err := s.store.withLock(vmid, func() error {
			c, err := s.loadInTask(t, node, vmid)
			if err != nil {
				return err
			}
			sec := c.cfg.Section(snap)
			if sec == nil || snap == lxcconf.PendingSection {
				return errf("snapshot '%s' does not exist", snap)
			}
			if !force {
				if err := s.checkLock(c); err != nil {
					return err
				}
			}
			c.main().Set("lock", "snapshot-delete")
			sec.Set("snapstate", "delete")
			vols = configVolumes(sec)
			sortAll(c)
			return s.store.save(c)
		})
		if err != nil {
			return err
		}
		for _, vol := range vols {
			_ = os.RemoveAll(s.store.snapshotDir(node, vol, snap))
			_, name, _ := strings.Cut(vol, ":")
			t.logf("  Logical volume \"snap_%s_%s\" successfully removed.", filepath.Base(name), snap)
		}
		return s.store.withLock(vmid, func() error {
			c, err := s.store.load(node, vmid)
			if err != nil {
				return err
			}
			sec := c.cfg.Section(snap)
			if sec == nil {
				return errf("snapshot '%s' does not exist", snap)
			}
			parent, hasParent := sec.Get("parent")
			reparent := func(x *lxcconf.Section) {
				if p, ok := x.Get("parent"); ok && p == snap {
					if hasParent {
						x.Set("parent", parent)
					} else {
						x.Delete("parent")
					}
				}
			}
			reparent(c.main())
			for _, other := range c.cfg.Snapshots() {
				if other.Name() != snap {
					reparent(other)
				}
			}
			c.cfg.DeleteSection(snap)
			c.main().Delete("lock")
			sortAll(c)
			return s.store.save(c)
		})
	}), nil
}

// handleSnapshotIndex serves GET /nodes/{node}/lxc/{vmid}/snapshot/{snapname}.
func (s *server) handleSnapshotIndex(r *request) (any, error) {
	c, err := s.store.load(r.node, r.vmid)
	if err != nil {
		return nil, err
	}
	if snap := r.params["snapname"]; c.cfg.Section(snap) == nil || snap == lxcconf.PendingSection {
		return nil, errf("snapshot '%s' does not exist", snap)
	}
	return []map[string]string{{"cmd": "rollback"}, {"cmd": "config"}}, nil
}

// handleSnapshotConfig serves GET .../snapshot/{snapname}/config.
func (s *server) handleSnapshotConfig(r *request) (any, error) {
	c, err := s.store.load(r.node, r.vmid)
	if err != nil {
		return nil, err
	}
	snap := r.params["snapname"]
	sec := c.cfg.Section(snap)
	if sec == nil || snap == lxcconf.PendingSection {
		return nil, errf("snapshot '%s' does not exist", snap)
	}
	out := sectionJSON(sec)
	out["digest"] = c.digest
	return out, nil
}
