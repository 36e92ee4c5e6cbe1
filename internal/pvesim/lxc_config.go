package pvesim

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/lxcconf"
)

// splitList is PVE::Tools::split_list.
func splitList(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool {
		return r == ',' || r == ';' || r == ' ' || r == '\t' || r == '\n' || r == '\x00'
	})
}

// configPutParams are the PUT config parameters that are not options.
var configPutParams = map[string]bool{"node": true, "vmid": true, "digest": true, "delete": true, "revert": true}

// handleConfigPut serves PUT /nodes/{node}/lxc/{vmid}/config. Like PVE's
// update_vm it is synchronous and returns null.
func (s *server) handleConfigPut(r *request) (any, error) {
	p := r.params
	set := map[string]string{}
	for k, v := range p {
		if !configPutParams[k] {
			set[k] = v
		}
	}
	if len(set) == 0 && !r.has("delete") && !r.has("revert") {
		return nil, errf("no options specified")
	}
	deletes := splitList(p["delete"])
	reverts := splitList(p["revert"])
	norm := map[string]string{}
	for k, v := range set {
		if !reKnownOption.MatchString(k) {
			return nil, paramErr1(k, "property is not defined in schema and the schema does not allow additional properties")
		}
		if k == "unprivileged" {
			return nil, errf("unable to modify read-only option: '%s'", k)
		}
		if k == "description" {
			norm[k] = v
			continue
		}
		nv, err := normalizeParam(k, v)
		if err != nil {
			return nil, err
		}
		norm[k] = nv
	}
	digest := p["digest"]
	err := s.store.withLock(r.vmid, func() error {
		c, err := s.store.load(r.node, r.vmid)
		if err != nil {
			return err
		}
		if err := s.checkLock(c); err != nil {
			return err
		}
		if digest != "" && digest != c.digest {
			return errf("detected modified configuration - file changed by other user? Try again.")
		}
		// update_vm checks the permissions of the deleted, the reverted and
		// then the set options, after the lock and digest checks and before
		// the delete and revert lists are validated.
		oldconf := map[string]string{}
		for _, k := range slices.Concat(deletes, reverts, keysOf(norm)) {
			if v := c.get(k); v != "" {
				oldconf[k] = v
			}
		}
		unprivileged := c.get("unprivileged") == "1"
		if err := s.checkCTModifyConfigPerm(r.user, r.vmid, "", oldconf, nil, deletes, unprivileged); err != nil {
			return err
		}
		if err := s.checkCTModifyConfigPerm(r.user, r.vmid, "", oldconf, nil, reverts, unprivileged); err != nil {
			return err
		}
		for _, opt := range deletes {
			if _, ok := set[opt]; ok {
				return paramErr1("delete", fmt.Sprintf("you can't use '-%s' and -delete %s' at the same time", opt, opt))
			}
			if !reKnownOption.MatchString(opt) {
				return paramErr1("delete", fmt.Sprintf("unknown option '%s'", opt))
			}
		}
		for _, opt := range reverts {
			if !reKnownOption.MatchString(opt) {
				return paramErr1("revert", fmt.Sprintf("unknown option '%s'", opt))
			}
			if _, ok := set[opt]; ok {
				return paramErr1("revert", fmt.Sprintf("you can't use '-%s' and '-revert %s' at the same time", opt, opt))
			}
		}
		if err := s.checkCTModifyConfigPerm(r.user, r.vmid, "", oldconf, norm, nil, unprivileged); err != nil {
			return err
		}
		for _, opt := range deletes {
			switch opt {
			case "memory", "rootfs":
				return errf("unable to delete required option '%s'", opt)
			case "unprivileged":
				return errf("unable to delete read-only option: '%s'", opt)
			}
		}
		// update_pct_config checks a hookscript being set
		// (check_hookscript).
		if v, ok := norm["hookscript"]; ok {
			if err := s.checkHookscript(r.node, v); err != nil {
				return err
			}
		}
		if err := s.checkSetVolumes(r.node, norm); err != nil {
			return err
		}
		_, running := s.store.running(r.node, r.vmid)
		if err := s.updateConfig(c, running, norm, deletes, reverts); err != nil {
			return err
		}
		sortAll(c)
		return s.store.save(c)
	})
	return nil, err
}

// checkSetVolumes is update_pct_config's check of each set mount point and
// device, in key order: a volume's storage must allow the content type
// rootdir (its check_content_type), a device must be one of the node's
// (PVE::LXC::Tools::get_device_mode_and_rdev).
func (s *server) checkSetVolumes(node string, set map[string]string) error {
	for _, k := range slices.Sorted(maps.Keys(set)) {
		switch {
		case k == "rootfs" || reMP.MatchString(k):
			vol := splitProps(set[k], "volume")["volume"]
			if mountType(vol) != "volume" {
				continue
			}
			sid, _, _ := strings.Cut(vol, ":")
			d, err := storageConfig(sid)
			if err != nil {
				return err
			}
			if !d.has("rootdir") {
				return errf("storage '%s' does not allow content type 'rootdir' (Container)", sid)
			}
		case reDev.MatchString(k):
			if err := s.checkDevice(node, splitProps(set[k], "path")["path"]); err != nil {
				return err
			}
		}
	}
	return nil
}

// updateConfig is update_pct_config followed by applying what can be
// applied: everything when the CT is stopped, the hot-pluggable options when
// it runs (the rest stays in [pve:pending]).
func (s *server) updateConfig(c *ct, running bool, set map[string]string, deletes, reverts []string) error {
	pend := c.cfg.Section(lxcconf.PendingSection)
	pendDel := map[string]bool{}
	if pend != nil {
		if d, ok := pend.Get("delete"); ok {
			pendDel = pendingDeletes(d)
		}
	}
	getPend := func() *lxcconf.Section {
		if pend == nil {
			pend = c.cfg.AddSection(lxcconf.PendingSection)
		}
		return pend
	}
	for _, opt := range reverts {
		if pend != nil {
			deleteSectionOption(pend, opt)
		}
		delete(pendDel, opt)
	}
	keys := slices.Sorted(maps.Keys(set))
	for _, k := range keys {
		delete(pendDel, k)
		_, exists := getOption(c.main(), k)
		if !running || hotplugSet(k, exists) {
			if pend != nil {
				deleteSectionOption(pend, k)
			}
			if err := s.applyOption(c, k, set[k]); err != nil {
				return err
			}
			continue
		}
		setValue(getPend(), k, set[k])
	}
	for _, opt := range deletes {
		if pend != nil {
			deleteSectionOption(pend, opt)
		}
		if !running || hotplugDelete(opt) {
			delete(pendDel, opt)
			if err := s.deleteOption(c, opt); err != nil {
				return err
			}
			continue
		}
		pendDel[opt] = false
	}
	if !running {
		// vmconfig_apply_pending: a stopped CT takes every pending change.
		return s.applyPending(c, pendDel)
	}
	// cleanup_pending: forget changes that change nothing.
	if pend != nil {
		for _, k := range optionKeys(pend) {
			if k == "delete" {
				continue
			}
			pv, _ := getOption(pend, k)
			if cv, ok := getOption(c.main(), k); ok && cv == pv {
				deleteSectionOption(pend, k)
			}
		}
	}
	for k := range pendDel {
		if _, ok := getOption(c.main(), k); !ok {
			delete(pendDel, k)
		}
	}
	writePendingDeletes(c, pendDel)
	return nil
}

// setValue sets a key (or the description) in a section.
func setValue(sec *lxcconf.Section, k, v string) {
	if k == "description" {
		sec.SetDescription(v)
		return
	}
	if k == envKey {
		setSectionEnv(sec, v)
		return
	}
	if v == "" {
		sec.Delete(k)
		return
	}
	sec.Set(k, v)
}

func writePendingDeletes(c *ct, pendDel map[string]bool) {
	pend := c.cfg.Section(lxcconf.PendingSection)
	if len(pendDel) > 0 {
		if pend == nil {
			pend = c.cfg.AddSection(lxcconf.PendingSection)
		}
		pend.Set("delete", printPendingDeletes(pendDel))
	} else if pend != nil {
		pend.Delete("delete")
	}
	if pend != nil && len(pend.Keys()) == 0 && len(pend.LXC()) == 0 {
		c.cfg.DeleteSection(lxcconf.PendingSection)
	}
}

// applyPending moves every pending change into the main section.
func (s *server) applyPending(c *ct, pendDel map[string]bool) error {
	if pend := c.cfg.Section(lxcconf.PendingSection); pend != nil {
		for _, k := range optionKeys(pend) {
			if k == "delete" {
				continue
			}
			v, _ := getOption(pend, k)
			if k == "description" {
				v = pend.Description()
			}
			if err := s.applyOption(c, k, v); err != nil {
				return err
			}
		}
		if pendDel == nil {
			if d, ok := pend.Get("delete"); ok {
				pendDel = pendingDeletes(d)
			}
		}
	}
	opts := make([]string, 0, len(pendDel))
	for k := range pendDel {
		opts = append(opts, k)
	}
	slices.Sort(opts)
	for _, k := range opts {
		if err := s.deleteOption(c, k); err != nil {
			return err
		}
	}
	c.cfg.DeleteSection(lxcconf.PendingSection)
	return nil
}

// applyOption sets one option in the main section. Mount points with the
// "STORAGE:SIZE" syntax get a new volume; a replaced volume is kept as
// unusedN.
func (s *server) applyOption(c *ct, k, v string) error {
	main := c.main()
	if k != "rootfs" && !reMP.MatchString(k) {
		setValue(main, k, v)
		return nil
	}
	props := splitProps(v, "volume")
	oldVal, hadOld := main.Get(k)
	old := splitProps(oldVal, "volume")
	if m := reNewDisk.FindStringSubmatch(props["volume"]); m != nil {
		if m[1] == "" {
			return errf("unable to parse volume ID '%s'", props["volume"])
		}
		if err := checkStorageForCT(m[1]); err != nil {
			return err
		}
		conf := map[string]string{}
		if _, err := s.createDisks(&task{}, c.node, c.vmid, map[string]map[string]string{k: props}, conf); err != nil {
			return err
		}
		v = conf[k]
		props = splitProps(v, "volume")
	} else if props["size"] == "" && mountType(props["volume"]) == "volume" {
		// rescan_volume: an attached volume gets its current size.
		size := s.store.rescanSize(c.node, props["volume"])
		if hadOld && old["volume"] == props["volume"] {
			size = volumeSize(old)
		}
		if size > 0 {
			props["size"] = formatSize(size)
			f, _ := formatFor(k)
			v = printProps(props, f)
		}
	}
	if hadOld && old["volume"] != props["volume"] && mountType(old["volume"]) == "volume" {
		// apply_pending_mountpoint asks is_volume_in_use about the old
		// mount point's whole property string, which no volume ID equals:
		// the old volume always becomes unusedN (add_unused_volume skips a
		// duplicate).
		s.store.noteDetached(c.node, old)
		if err := addUnused(main, old["volume"]); err != nil {
			return err
		}
	}
	main.Set(k, v)
	return nil
}

// deleteOption removes one option from the main section: a mount point's
// volume becomes unusedN, an unusedN volume is destroyed.
func (s *server) deleteOption(c *ct, k string) error {
	main := c.main()
	v, ok := getOption(main, k)
	if !ok {
		return nil
	}
	switch {
	case reMP.MatchString(k):
		// vmconfig_apply_pending asks is_volume_in_use about the mount
		// point's whole property string ($conf->{$opt}), which no volume
		// ID equals: a detached volume always becomes unusedN, once.
		if props := splitProps(v, "volume"); mountType(props["volume"]) == "volume" {
			s.store.noteDetached(c.node, props)
			if err := addUnused(main, props["volume"]); err != nil {
				return err
			}
		}
	case reUnused.MatchString(k):
		// vmconfig_apply_pending and vmconfig_hotplug_pending: the volume
		// is freed (delete_mountpoint_volume) unless it is still in use
		// (is_volume_in_use with snapshots and pending), and then only when
		// the container owns it; the key goes either way.
		vol := splitProps(v, "volume")["volume"]
		if !volumeInUse(c, vol) && volumeOwner(vol) == c.vmid {
			_ = os.RemoveAll(s.store.volumeDir(c.node, vol))
		}
	}
	deleteSectionOption(main, k)
	return nil
}

// volumeInUse is PVE::LXC::Config's is_volume_in_use with snapshots and
// pending changes included: a mount point or the root file system of the
// current config, a snapshot or the pending section uses volid (unusedN
// keys do not count).
func volumeInUse(c *ct, volid string) bool {
	secs := append([]*lxcconf.Section{c.main()}, c.cfg.Snapshots()...)
	if pend := c.cfg.Section(lxcconf.PendingSection); pend != nil {
		secs = append(secs, pend)
	}
	for _, sec := range secs {
		for k, v := range configVolumes(sec) {
			if !reUnused.MatchString(k) && v == volid {
				return true
			}
		}
	}
	return false
}

// maxUnused is pve-container's $MAX_UNUSED_DISKS.
const maxUnused = 256

// addUnused is AbstractConfig's add_unused_volume: the volume goes to the
// lowest free unusedN, unless an unusedN holds it already.
func addUnused(sec *lxcconf.Section, vol string) error {
	free := ""
	for i := maxUnused - 1; i >= 0; i-- {
		k := "unused" + strconv.Itoa(i)
		if v, ok := sec.Get(k); ok && v != "" {
			if v == vol {
				return nil
			}
		} else {
			free = k
		}
	}
	if free == "" {
		return errf("Too many unused volumes - please delete them first.")
	}
	sec.Set(free, vol)
	return nil
}

// keysOf returns the keys of m.
func keysOf(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
