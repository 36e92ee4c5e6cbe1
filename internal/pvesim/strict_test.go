package pvesim

import (
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
)

// refused requires a PVE error answer (500) whose message is want.
func refused(t *testing.T, r apiResp, want string) {
	t.Helper()
	if r.status != http.StatusInternalServerError || r.reason != want {
		t.Fatalf("answer %d %q, want 500 %q (%s)", r.status, r.reason, want, r.raw)
	}
}

// TestDevicePathMustBeANodeDevice follows update_pct_config, which hands a
// set devN's path to PVE::LXC::Tools::get_device_mode_and_rdev: the path
// must exist on the node ("Device ... does not exist") and be a block or
// character device ("... is not a device"). The node's device nodes are
// Options.NodeDevices (DefaultDevices for a node not listed there), and a
// start checks them again (update_lxc_config writes a cgroup rule from each
// device's number).
func TestDevicePathMustBeANodeDevice(t *testing.T) {
	s := startSim(t, Options{Nodes: []string{"pve1", "pve2"}, NodeDevices: map[string][]string{"pve2": {"/dev/null"}}})
	root := rootAuth(t, s)
	createCTAs(t, s, root, 100, nil)
	put := func(node string, v url.Values) apiResp {
		return callWith(t, s, http.MethodPut, "/nodes/"+node+"/lxc/100/config", v, root)
	}
	for _, p := range []string{"/dev/nvidia0", "/dev/nvidiactl", "/dev/dri/renderD128", "/dev/net/tun", "/dev/fuse"} {
		put("pve1", url.Values{"dev0": {p}}).ok(t)
	}
	refused(t, put("pve1", url.Values{"dev0": {"/dev/nvidia7"}}), "Device /dev/nvidia7 does not exist")
	refused(t, put("pve1", url.Values{"dev0": {"path=/dev/dri,mode=0660"}}), "/dev/dri is not a device")
	refused(t, put("pve1", url.Values{"dev1": {"/dev/shm"}}), "/dev/shm is not a device")
	if got := config(t, s, 100)["dev0"]; got != "/dev/fuse" {
		t.Fatalf("dev0 = %v after the refused updates, want the last accepted /dev/fuse", got)
	}

	// The container moves to pve2, whose /dev holds /dev/null only.
	if err := os.Rename(s.StateDir+"/nodes/pve1/lxc/100.conf", s.StateDir+"/nodes/pve2/lxc/100.conf"); err != nil {
		t.Fatal(err)
	}
	es := waitTask(t, s, call(t, s, http.MethodPost, "/nodes/pve2/lxc/100/status/start", nil).upid(t))
	if es != "Device /dev/fuse does not exist" {
		t.Fatalf("start on a node without /dev/fuse: exit status %q", es)
	}
	refused(t, put("pve2", url.Values{"dev0": {"/dev/nvidia0"}}), "Device /dev/nvidia0 does not exist")
	put("pve2", url.Values{"dev0": {"/dev/null"}}).ok(t)
	mustTask(t, s, call(t, s, http.MethodPost, "/nodes/pve2/lxc/100/status/start", nil).upid(t))
}

// TestMountVolumeStorageAllowsRootdir follows update_pct_config's
// check_content_type: a set rootfs or mpN volume (a new one too) must be on
// a storage whose content includes rootdir.
func TestMountVolumeStorageAllowsRootdir(t *testing.T) {
	s := startSim(t, Options{})
	root := rootAuth(t, s)
	createCTAs(t, s, root, 100, nil)
	put := func(v url.Values) apiResp {
		return callWith(t, s, http.MethodPut, "/nodes/pve1/lxc/100/config", v, root)
	}
	want := "storage 'local' does not allow content type 'rootdir' (Container)"
	refused(t, put(url.Values{"mp0": {"local:1,mp=/data"}}), want)
	refused(t, put(url.Values{"mp0": {"nosuch:1,mp=/data"}}), "storage 'nosuch' does not exist")
	put(url.Values{"mp0": {"local-lvm:1,mp=/data"}}).ok(t)
	// A bind mount has no storage to check.
	put(url.Values{"mp1": {"/srv,mp=/srv"}}).ok(t)
}

// TestUnusedVolumes follows pve-container's handling of unusedN:
//   - a detached mount point's volume goes to unusedN through
//     add_unused_volume (vmconfig_apply_pending hands is_volume_in_use the
//     mount point's property string, which equals no volume ID), and
//     write_pct_config drops an unusedN whose volume rootfs or an mpN still
//     uses ("remove 'unusedX' settings if the volume is still used"); a
//     snapshot's use does not count there;
//   - deleting unusedN frees the volume (delete_mountpoint_volume) only
//     when is_volume_in_use, snapshots and pending included, says no; the
//     key goes either way.
func TestUnusedVolumes(t *testing.T) {
	s := startSim(t, Options{})
	root := rootAuth(t, s)
	createCTAs(t, s, root, 100, url.Values{"mp0": {"local-lvm:1,mp=/data"}})
	put := func(v url.Values) { callWith(t, s, http.MethodPut, "/nodes/pve1/lxc/100/config", v, root).ok(t) }
	vol := "local-lvm:vm-100-disk-1"
	exists := func() bool {
		_, err := os.Stat(VolumeDir(s.StateDir, "pve1", vol))
		return err == nil
	}
	// The same volume mounted twice, then one mount detached: mp0 still
	// uses it, so no unusedN.
	put(url.Values{"mp1": {vol + ",mp=/again"}})
	put(url.Values{"delete": {"mp1"}})
	cfg := config(t, s, 100)
	if mp0, _ := cfg["mp0"].(string); cfg["unused0"] != nil || !strings.HasPrefix(mp0, vol+",") {
		t.Fatalf("after detaching mp1 (the volume mp0 still mounts): %v", cfg)
	}
	// A snapshot holds the volume; detached, it becomes unused0 all the
	// same; deleting unused0 drops the key and keeps the volume.
	mustTask(t, s, callWith(t, s, http.MethodPost, "/nodes/pve1/lxc/100/snapshot", url.Values{"snapname": {"s1"}}, root).upid(t))
	put(url.Values{"delete": {"mp0"}})
	if cfg = config(t, s, 100); cfg["unused0"] != vol {
		t.Fatalf("after detaching mp0 (held by a snapshot): %v", cfg)
	}
	put(url.Values{"delete": {"unused0"}})
	if cfg = config(t, s, 100); cfg["unused0"] != nil || !exists() {
		t.Fatalf("delete of unused0 whose volume a snapshot uses: config %v, volume kept %v", cfg, exists())
	}
	// Without the snapshot, an unused volume's delete frees it.
	mustTask(t, s, callWith(t, s, http.MethodDelete, "/nodes/pve1/lxc/100/snapshot/s1", nil, root).upid(t))
	put(url.Values{"unused0": {vol}})
	put(url.Values{"delete": {"unused0"}})
	if exists() {
		t.Fatal("the unused volume outlived its delete")
	}
}
