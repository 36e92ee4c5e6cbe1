package pve

import (
	"errors"
	"net/http"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
)

const testUPID = "UPID:pve1:00001234:00005678:5A3B7C8D:vzcreate:102:root@pam!tf:"

func TestContainerConfig(t *testing.T) {
	f := newFakePVE(t)
	// Shape of PVE 9: numbers as numbers, the raw lxc lines as pairs.
	f.reply("GET /api2/json/nodes/pve1/lxc/102/config", `{
		"arch": "amd64", "cores": 2, "hostname": "docker-01", "memory": 2048, "swap": 512,
		"ostype": "ubuntu", "unprivileged": 1, "onboot": 0, "cpulimit": 1.5,
		"rootfs": "local-lvm:vm-102-disk-0,size=8G",
		"net0": "name=eth0,bridge=vmbr0,firewall=1,hwaddr=BC:24:11:2E:C5:7E,ip=dhcp,type=veth",
		"features": "keyctl=1,nesting=1", "tags": "docker;prod",
		"description": "line one\nline two\n",
		"lxc": [["lxc.apparmor.profile", "lxc-docker-secure"], ["lxc.cap.drop", ""]],
		"digest": "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"
	}`)
	c, _ := f.client()
	cfg, err := c.ContainerConfig(t.Context(), "pve1", 102)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Digest != "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678" {
		t.Errorf("digest %q", cfg.Digest)
	}
	if _, ok := cfg.Values["digest"]; ok {
		t.Error("digest left in Values")
	}
	if _, ok := cfg.Values["lxc"]; ok {
		t.Error("lxc left in Values")
	}
	for k, want := range map[string]string{"cores": "2", "memory": "2048", "unprivileged": "1", "onboot": "0", "cpulimit": "1.5", "hostname": "docker-01", "description": "line one\nline two\n"} {
		if cfg.Values[k] != want {
			t.Errorf("%s = %q, want %q", k, cfg.Values[k], want)
		}
	}
	wantLXC := [][2]string{{"lxc.apparmor.profile", "lxc-docker-secure"}, {"lxc.cap.drop", ""}}
	if !reflect.DeepEqual(cfg.LXC, wantLXC) {
		t.Errorf("lxc %v", cfg.LXC)
	}
}

func TestUpdateContainerConfig(t *testing.T) {
	f := newFakePVE(t)
	f.reply("PUT /api2/json/nodes/pve1/lxc/102/config", `null`)
	c, _ := f.client()
	err := c.UpdateContainerConfig(t.Context(), "pve1", 102,
		map[string]string{"memory": "4096", "net0": "name=eth0,bridge=vmbr1"}, []string{"nameserver", "mp0"}, "abc")
	if err != nil {
		t.Fatal(err)
	}
	reqs := f.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	want := map[string]string{"memory": "4096", "net0": "name=eth0,bridge=vmbr1", "delete": "mp0,nameserver", "digest": "abc"}
	if !reflect.DeepEqual(reqs[0].Body, want) {
		t.Errorf("body %v, want %v", reqs[0].Body, want)
	}

	// Nothing to change: nothing sent.
	if err := c.UpdateContainerConfig(t.Context(), "pve1", 102, nil, nil, "abc"); err != nil {
		t.Fatal(err)
	}
	if n := len(f.requests()); n != 1 {
		t.Errorf("an empty update sent a request (%d requests)", n)
	}
	if err := c.UpdateContainerConfig(t.Context(), "pve1", 102, map[string]string{"cores": "1"}, []string{"cores"}, ""); err == nil {
		t.Error("setting and deleting one key must fail")
	}
}

func TestUpdateRetriedOnLockAndTransientErrors(t *testing.T) {
	f := newFakePVE(t)
	f.failFirst("PUT /api2/json/nodes/pve1/lxc/102/config", 2, 500, "CT is locked (backup)", `null`)
	f.fail("PUT /api2/json/nodes/pve1/lxc/103/config", 500, "detected modified configuration - file changed by other user? Try again.")
	f.fail("PUT /api2/json/nodes/pve1/lxc/104/config", 503, "Service Unavailable")
	c, rec := f.client()

	if err := c.UpdateContainerConfig(t.Context(), "pve1", 102, map[string]string{"cores": "2"}, nil, "d"); err != nil {
		t.Fatalf("locked twice then free: %v", err)
	}
	f.wantSent("PUT", "/api2/json/nodes/pve1/lxc/102/config", 3)
	if n := len(rec.all()); n != 2 {
		t.Errorf("%d waits between attempts, want 2", n)
	}

	err := c.UpdateContainerConfig(t.Context(), "pve1", 103, map[string]string{"cores": "2"}, nil, "d")
	if !IsDigestMismatch(err) {
		t.Errorf("want a digest mismatch, got %v", err)
	}
	f.wantSent("PUT", "/api2/json/nodes/pve1/lxc/103/config", 1)

	// A 5xx is repeated: the digest makes PVE refuse a repeat of a change
	// it already made, so a lost answer cannot apply a change twice.
	err = c.UpdateContainerConfig(t.Context(), "pve1", 104, map[string]string{"cores": "2"}, nil, "d")
	var re *RetryError
	if !IsTransient(err) || !errors.As(err, &re) {
		t.Errorf("want the 503 after the retries, got %v", err)
	}
	f.wantSent("PUT", "/api2/json/nodes/pve1/lxc/104/config", DefaultWritePolicy().MaxAttempts)
}

func TestLockedUntilAttemptsRunOut(t *testing.T) {
	f := newFakePVE(t)
	f.fail("PUT /api2/json/nodes/pve1/lxc/102/config", 500, "CT is locked (backup)")
	c, _ := f.client()
	c.writePolicy.MaxAttempts = 4
	err := c.UpdateContainerConfig(t.Context(), "pve1", 102, map[string]string{"cores": "2"}, nil, "")
	var re *RetryError
	if !errors.As(err, &re) || re.Attempts != 4 || !IsLocked(err) {
		t.Fatalf("want a RetryError after 4 attempts that is still IsLocked, got %T %v", err, err)
	}
}

func TestReadsRetriedOnTransient(t *testing.T) {
	f := newFakePVE(t)
	calls := f.failFirst("GET /api2/json/nodes/pve1/lxc/102/status/current", 1, 500, "cluster not ready - no quorum?", `{"vmid":102,"status":"running","name":"ct","cpus":2,"maxmem":2147483648,"uptime":100,"lock":"","ha":{"managed":0}}`)
	c, _ := f.client()
	st, err := c.ContainerStatus(t.Context(), "pve1", 102)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Running() || st.VMID != 102 || st.MaxMem != 2147483648 || st.Uptime != 100 {
		t.Errorf("status %+v", st)
	}
	if calls.Load() != 2 {
		t.Errorf("%d GETs, want 2", calls.Load())
	}
}

func TestCreateNeverRepeatedBlindly(t *testing.T) {
	// A 500 whose request took effect: the container exists (locked for
	// creation), so the POST is not sent again and no UPID comes back.
	f := newFakePVE(t)
	f.fail("POST /api2/json/nodes/pve1/lxc", 500, "unexpected server error")
	f.handle("GET /api2/json/nodes/pve1/lxc/102/status/current", func(w http.ResponseWriter, _ *http.Request) {
		writeData(w, `{"vmid":102,"status":"stopped","lock":"create"}`)
	})
	c, _ := f.client()
	params := map[string]string{"vmid": "102", "ostemplate": "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"}
	upid, err := c.CreateContainer(t.Context(), "pve1", params)
	if err != nil || upid != "" {
		t.Fatalf("want the creation adopted (no UPID, no error), got %q, %v", upid, err)
	}
	f.wantSent("POST", "/api2/json/nodes/pve1/lxc", 1)
	if f.requests()[0].Body["ostemplate"] != params["ostemplate"] {
		t.Errorf("body %v", f.requests()[0].Body)
	}
	if _, err := c.CreateContainer(t.Context(), "pve1", map[string]string{}); err == nil {
		t.Error("create without vmid must fail")
	}
}

func TestCreateRepeatedWhenCheckedAbsent(t *testing.T) {
	// A 503 whose request did not take effect: the container does not
	// exist, so the POST is repeated and its UPID returned.
	f := newFakePVE(t)
	posts := f.failFirst("POST /api2/json/nodes/pve1/lxc", 1, 503, "Service Unavailable", `"`+testUPID+`"`)
	f.fail("GET /api2/json/nodes/pve1/lxc/103/status/current", 500, "Configuration file 'nodes/pve1/lxc/103.conf' does not exist")
	c, rec := f.client()
	upid, err := c.CreateContainer(t.Context(), "pve1", map[string]string{"vmid": "103"})
	if err != nil || upid != testUPID {
		t.Fatalf("got %q, %v", upid, err)
	}
	f.wantSent("GET", "/api2/json/nodes/pve1/lxc/103/status/current", 1)
	if n := posts.Load(); n != 2 {
		t.Errorf("create sent %d times, want 2", n)
	}
	if w := rec.all(); len(w) != 1 || w[0] <= 0 {
		t.Errorf("waits %v, want one backoff before the repeat", w)
	}
}

func TestCreateNotRepeatedWhenCheckFails(t *testing.T) {
	// When the check itself fails, nobody knows whether the container
	// exists: the create fails and names both errors.
	f := newFakePVE(t)
	f.fail("POST /api2/json/nodes/pve1/lxc", 502, "Bad Gateway")
	f.fail("GET /api2/json/nodes/pve1/lxc/104/status/current", 403, "Permission check failed")
	c, _ := f.client()
	_, err := c.CreateContainer(t.Context(), "pve1", map[string]string{"vmid": "104"})
	if err == nil || !strings.Contains(err.Error(), "Bad Gateway") || !strings.Contains(err.Error(), "checking whether it took effect failed") {
		t.Fatalf("got %v", err)
	}
	f.wantSent("POST", "/api2/json/nodes/pve1/lxc", 1)
}

func TestDeleteCheckedAfterAmbiguousFailure(t *testing.T) {
	f := newFakePVE(t)
	f.fail("DELETE /api2/json/nodes/pve1/lxc/105", 500, "proxy timeout")
	f.fail("GET /api2/json/nodes/pve1/lxc/105/status/current", 500, "Configuration file 'nodes/pve1/lxc/105.conf' does not exist")
	c, _ := f.client()
	upid, err := c.DeleteContainer(t.Context(), "pve1", 105, DeleteOptions{Purge: true})
	if err != nil || upid != "" {
		t.Fatalf("want the container found gone, got %q, %v", upid, err)
	}
	f.wantSent("DELETE", "/api2/json/nodes/pve1/lxc/105", 1)
}

func TestWaitCreated(t *testing.T) {
	f := newFakePVE(t)
	var polls atomic.Int32
	f.handle("GET /api2/json/nodes/pve1/lxc/106/status/current", func(w http.ResponseWriter, _ *http.Request) {
		if polls.Add(1) < 3 {
			writeData(w, `{"vmid":106,"status":"stopped","lock":"create"}`)
			return
		}
		writeData(w, `{"vmid":106,"status":"stopped"}`)
	})
	f.fail("GET /api2/json/nodes/pve1/lxc/107/status/current", 500, "Configuration file 'nodes/pve1/lxc/107.conf' does not exist")
	c, _ := f.client()
	if err := c.WaitCreated(t.Context(), "pve1", 106); err != nil {
		t.Fatal(err)
	}
	if n := polls.Load(); n != 3 {
		t.Errorf("polled %d times, want 3", n)
	}
	if err := c.WaitCreated(t.Context(), "pve1", 107); err == nil || !strings.Contains(err.Error(), "no longer exists") {
		t.Errorf("a vanished container: got %v", err)
	}
}

func TestLifecycleCalls(t *testing.T) {
	f := newFakePVE(t)
	for _, p := range []string{
		"POST /api2/json/nodes/pve1/lxc",
		"POST /api2/json/nodes/pve1/lxc/902/clone",
		"POST /api2/json/nodes/pve1/lxc/102/status/start",
		"POST /api2/json/nodes/pve1/lxc/102/status/stop",
		"POST /api2/json/nodes/pve1/lxc/102/status/reboot",
		"PUT /api2/json/nodes/pve1/lxc/102/resize",
		"DELETE /api2/json/nodes/pve1/lxc/102",
	} {
		f.reply(p, `"`+testUPID+`"`)
	}
	c, _ := f.client()
	ctx := t.Context()
	calls := []func() (string, error){
		func() (string, error) { return c.CreateContainer(ctx, "pve1", map[string]string{"vmid": "102"}) },
		func() (string, error) {
			return c.CloneContainer(ctx, "pve1", 902, map[string]string{"newid": "102", "snapname": "pre", "full": "1"})
		},
		func() (string, error) { return c.Start(ctx, "pve1", 102) },
		func() (string, error) { return c.Stop(ctx, "pve1", 102) },
		func() (string, error) { return c.Reboot(ctx, "pve1", 102) },
		func() (string, error) { return c.Resize(ctx, "pve1", 102, "rootfs", "32G") },
		func() (string, error) {
			return c.DeleteContainer(ctx, "pve1", 102, DeleteOptions{Purge: true, DestroyUnreferencedDisks: true})
		},
	}
	for i, call := range calls {
		upid, err := call()
		if err != nil || upid != testUPID {
			t.Errorf("call %d: %q, %v", i, upid, err)
		}
	}
	reqs := f.requests()
	if got := reqs[5].Body; !reflect.DeepEqual(got, map[string]string{"disk": "rootfs", "size": "32G"}) {
		t.Errorf("resize body %v", got)
	}
	if got := reqs[6].Query; got != "destroy-unreferenced-disks=1&purge=1" {
		t.Errorf("delete query %q", got)
	}
}

func TestClusterCalls(t *testing.T) {
	f := newFakePVE(t)
	f.handle("GET /api2/json/cluster/resources", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("type") != "vm" {
			t.Errorf("resources queried with type=%q", r.URL.Query().Get("type"))
		}
		writeData(w, `[
			{"id":"qemu/100","type":"qemu","node":"pve2","vmid":100,"name":"vm","status":"running","template":0},
			{"id":"lxc/102","type":"lxc","node":"pve2","vmid":102,"name":"docker-01","status":"running","template":0,"tags":"a;b"},
			{"id":"lxc/902","type":"lxc","node":"pve1","vmid":902,"name":"tmpl","status":"stopped","template":1}]`)
	})
	f.reply("GET /api2/json/cluster/nextid", `"103"`)
	c, _ := f.client()
	ctx := t.Context()

	res, err := c.ClusterResources(ctx, "vm")
	if err != nil || len(res) != 3 || !bool(res[2].Template) || res[1].Name != "docker-01" || res[1].VMID != 102 {
		t.Errorf("resources %+v %v", res, err)
	}
	if node, ok, err := c.FindContainer(ctx, 102); err != nil || !ok || node != "pve2" {
		t.Errorf("FindContainer(102) = %q %v %v", node, ok, err)
	}
	if _, ok, err := c.FindContainer(ctx, 100); err != nil || ok {
		t.Errorf("FindContainer(100) found a VM: %v %v", ok, err)
	}
	if id, err := c.NextID(ctx); err != nil || id != 103 {
		t.Errorf("NextID = %d %v", id, err)
	}
}
