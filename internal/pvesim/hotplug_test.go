package pvesim

import (
	"net/http"
	"net/url"
	"strconv"
	"testing"
)

// pendingOf returns the [pve:pending] section as GET .../pending reports it:
// key -> pending value ("" for a pending delete).
func pendingOf(t *testing.T, s *Sim, vmid int) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, it := range call(t, s, http.MethodGet, "/nodes/pve1/lxc/"+strconv.Itoa(vmid)+"/pending", nil).list(t) {
		m, ok := it.(map[string]any)
		if !ok {
			t.Fatalf("pending entry %v", it)
		}
		k, _ := m["key"].(string)
		if p, ok := m["pending"].(string); ok {
			out[k] = p
		} else if _, ok := m["delete"]; ok {
			out[k] = ""
		}
	}
	return out
}

// TestRunningMountPointsAndDevices follows vmconfig_hotplug_pending in
// PVE::LXC::Config: on a running container a new mpN or devN is hotplugged,
// a change of an existing one ("don't try to hotplug over existing mp") and
// a delete of one wait in [pve:pending]; unusedN is deleted at once.
func TestRunningMountPointsAndDevices(t *testing.T) {
	s := startSim(t, Options{})
	root := rootAuth(t, s)
	createCTAs(t, s, root, 100, url.Values{"mp0": {"local-lvm:1,mp=/data"}})
	mustTask(t, s, call(t, s, http.MethodPost, "/nodes/pve1/lxc/100/status/start", nil).upid(t))
	put := func(v url.Values) { callWith(t, s, http.MethodPut, "/nodes/pve1/lxc/100/config", v, root).ok(t) }

	put(url.Values{"mp1": {"local-lvm:1,mp=/srv"}, "dev0": {"/dev/null"}})
	cfg := config(t, s, 100)
	if cfg["mp1"] != "local-lvm:vm-100-disk-2,mp=/srv,size=1G" || cfg["dev0"] != "/dev/null" {
		t.Fatalf("new mp1 and dev0 are not hotplugged: %v", cfg)
	}
	put(url.Values{"mp0": {"local-lvm:vm-100-disk-1,mp=/data,ro=1"}, "dev0": {"/dev/null,mode=0666"}})
	if cfg = current(t, s, 100); cfg["mp0"] != "local-lvm:vm-100-disk-1,mp=/data,size=1G" || cfg["dev0"] != "/dev/null" {
		t.Fatalf("a change of a mounted mp0 or dev0 applied at once: %v", cfg)
	}
	if p := pendingOf(t, s, 100); p["mp0"] == "" || p["dev0"] != "/dev/null,mode=0666" {
		t.Fatalf("pending after changing mp0 and dev0: %v", p)
	}
	put(url.Values{"delete": {"mp1"}})
	if cfg = current(t, s, 100); cfg["mp1"] == nil || cfg["unused0"] != nil {
		t.Fatalf("mp1 was detached from a running container at once: %v", cfg)
	}
	if _, ok := pendingOf(t, s, 100)["mp1"]; !ok {
		t.Fatal("the delete of mp1 is not pending")
	}
	mustTask(t, s, call(t, s, http.MethodPost, "/nodes/pve1/lxc/100/status/stop", nil).upid(t))
	mustTask(t, s, call(t, s, http.MethodPost, "/nodes/pve1/lxc/100/status/start", nil).upid(t))
	cfg = config(t, s, 100)
	if cfg["mp1"] != nil || cfg["unused0"] != "local-lvm:vm-100-disk-2" || cfg["dev0"] != "/dev/null,mode=0666" {
		t.Fatalf("after a restart the pending changes are not applied: %v", cfg)
	}
	put(url.Values{"delete": {"unused0"}})
	if cfg = config(t, s, 100); cfg["unused0"] != nil {
		t.Fatalf("unused0 is not deleted at once: %v", cfg)
	}
}

// TestReattachedVolumeLeavesUnused follows write_pct_config: an unusedN
// whose volume a mount point uses again is dropped.
func TestReattachedVolumeLeavesUnused(t *testing.T) {
	s := startSim(t, Options{})
	root := rootAuth(t, s)
	createCTAs(t, s, root, 100, url.Values{"mp0": {"local-lvm:1,mp=/data"}})
	put := func(v url.Values) { callWith(t, s, http.MethodPut, "/nodes/pve1/lxc/100/config", v, root).ok(t) }
	put(url.Values{"delete": {"mp0"}})
	if cfg := config(t, s, 100); cfg["unused0"] != "local-lvm:vm-100-disk-1" {
		t.Fatalf("after detaching mp0: %v", cfg)
	}
	put(url.Values{"mp3": {"local-lvm:vm-100-disk-1,mp=/again"}})
	cfg := config(t, s, 100)
	if cfg["unused0"] != nil || cfg["mp3"] != "local-lvm:vm-100-disk-1,mp=/again,size=1G" {
		t.Fatalf("after attaching the unused volume as mp3: %v", cfg)
	}
}

// current is GET .../config?current=1: the values in effect, without the
// pending ones.
func current(t *testing.T, s *Sim, vmid int) map[string]any {
	t.Helper()
	return call(t, s, http.MethodGet, "/nodes/pve1/lxc/"+strconv.Itoa(vmid)+"/config?current=1", nil).obj(t)
}
