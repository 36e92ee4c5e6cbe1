package pvesim

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	proxmox "github.com/luthermonson/go-proxmox"
)

// waiter waits for go-proxmox tasks: ok(c.Start(ctx)) requires the call
// and its task to succeed.
type waiter struct{ t *testing.T }

func (w waiter) ok(task *proxmox.Task, err error) {
	t := w.t
	t.Helper()
	ctx := t.Context()
	if err != nil {
		t.Fatalf("starting task: %v", err)
	}
	if task == nil {
		t.Fatal("no task returned")
	}
	if err := task.Wait(ctx, 10*time.Millisecond, 20*time.Second); err != nil {
		t.Fatalf("waiting for %s: %v", task.UPID, err)
	}
	if !task.IsSuccessful {
		t.Fatalf("task %s failed: %q", task.UPID, task.ExitStatus)
	}
}

var reHWAddr = regexp.MustCompile(`hwaddr=(BC:24:11:[0-9A-F]{2}:[0-9A-F]{2}:[0-9A-F]{2})`)

// TestGoProxmoxRoundTrip drives the simulator with the provider's client
// library through a container's whole life; every response must decode and
// every task is waited for.
func TestGoProxmoxRoundTrip(t *testing.T) {
	s := startSim(t, Options{Nodes: []string{"pve1", "pve2"}})
	c := pxClient(t, s)
	ctx := t.Context()
	w := waiter{t}

	v, err := c.Version(ctx)
	if err != nil || v.Release != pveRelease {
		t.Fatalf("version: %+v, %v", v, err)
	}
	cl, err := c.Cluster(ctx)
	if err != nil || len(cl.Nodes) != 2 || cl.Name != "pvesim" {
		t.Fatalf("cluster: %+v, %v", cl, err)
	}
	nodes, err := c.Nodes(ctx)
	if err != nil || len(nodes) != 2 || nodes[0].Node != "pve1" || nodes[0].Status != "online" {
		t.Fatalf("nodes: %+v, %v", nodes, err)
	}
	node, err := c.Node(ctx, "pve1")
	if err != nil || node.PVEVersion == "" || node.CPUInfo.CPUs != nodeCPUs {
		t.Fatalf("node: %+v, %v", node, err)
	}
	tmpl, err := node.VzTmpl(ctx, "debian-12-standard_12.7-1_amd64.tar.zst", "local")
	if err != nil || tmpl.VolID != debianTemplate {
		t.Fatalf("template: %+v, %v", tmpl, err)
	}
	st, err := node.StorageRootDir(ctx)
	if err != nil || st.Name != "local-lvm" || st.Total == 0 {
		t.Fatalf("rootdir storage: %+v, %v", st, err)
	}

	// Create from a template, the vmid from /cluster/nextid.
	task, err := node.NewContainer(ctx, 0,
		proxmox.ContainerOption{Name: "ostemplate", Value: debianTemplate},
		proxmox.ContainerOption{Name: "hostname", Value: "web1"},
		proxmox.ContainerOption{Name: "rootfs", Value: "local-lvm:8"},
		proxmox.ContainerOption{Name: "net0", Value: "name=eth0,bridge=vmbr0,ip=10.0.0.5/24,gw=10.0.0.1"},
		proxmox.ContainerOption{Name: "cores", Value: 2},
		proxmox.ContainerOption{Name: "memory", Value: 1024},
		proxmox.ContainerOption{Name: "features", Value: "nesting=1"},
		proxmox.ContainerOption{Name: "unprivileged", Value: true},
		proxmox.ContainerOption{Name: "description", Value: "line one\nline two"},
	)
	w.ok(task, err)
	if task.Type != "vzcreate" || task.ID != "100" || task.Node != "pve1" {
		t.Fatalf("create task: %+v", task)
	}
	ct, err := node.Container(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	cc := ct.ContainerConfig
	if ct.Name != "web1" || ct.Status != "stopped" || ct.MaxMem != 1024<<20 || ct.MaxDisk != 8<<30 || ct.CPUs != 2 {
		t.Fatalf("status: %+v", ct)
	}
	if cc.Hostname != "web1" || cc.Cores != 2 || *cc.Memory != 1024 || *cc.Swap != 512 || !bool(cc.Unprivileged) ||
		cc.RootFS != "local-lvm:vm-100-disk-0,size=8G" || cc.Arch == nil || *cc.Arch != "amd64" || cc.OSType != "debian" ||
		cc.Features != "nesting=1" || cc.Description != "line one\nline two\n" || len(cc.Digest) != 40 || cc.Lock != "" {
		t.Fatalf("config: %+v", cc)
	}
	mac := reHWAddr.FindStringSubmatch(cc.Nets["net0"])
	if mac == nil {
		t.Fatalf("net0 without generated MAC: %q", cc.Nets["net0"])
	}
	if _, err := os.Stat(filepath.Join(s.StateDir, "volumes/pve1/local-lvm/vm-100-disk-0/etc/os-release")); err != nil {
		t.Fatalf("rootfs not populated: %v", err)
	}

	// Snapshot, then clone from it (full clone with a new MAC).
	w.ok(ct.NewSnapshot(ctx, "pre"))
	snaps, err := ct.Snapshots(ctx)
	if err != nil || len(snaps) != 2 || snaps[0].Name != "pre" || snaps[1].Name != "current" || snaps[1].Parent != "pre" || snaps[0].SnapshotCreationTime == 0 {
		t.Fatalf("snapshots: %+v, %v", snaps, err)
	}
	newid, task, err := ct.Clone(ctx, &proxmox.ContainerCloneOptions{SnapName: "pre", Hostname: "web2", Full: true})
	w.ok(task, err)
	if newid != 101 || task.Type != "vzclone" {
		t.Fatalf("clone: newid %d task %+v", newid, task)
	}
	clone, err := node.Container(ctx, newid)
	if err != nil {
		t.Fatal(err)
	}
	ccc := clone.ContainerConfig
	if ccc.Hostname != "web2" || ccc.RootFS != "local-lvm:vm-101-disk-0,size=8G" || ccc.Lock != "" || ccc.Cores != 2 {
		t.Fatalf("clone config: %+v", ccc)
	}
	if m := reHWAddr.FindStringSubmatch(ccc.Nets["net0"]); m == nil || m[1] == mac[1] {
		t.Fatalf("clone must get a new MAC: %q vs %q", ccc.Nets["net0"], mac[1])
	}
	src, _ := node.Container(ctx, 100)
	if src.ContainerConfig.Lock != "" {
		t.Fatalf("source still locked: %q", src.ContainerConfig.Lock)
	}

	// Config update with delete and digest; a stale digest is refused.
	if _, err := clone.Config(ctx,
		proxmox.ContainerOption{Name: "memory", Value: 2048},
		proxmox.ContainerOption{Name: "delete", Value: "features"},
		proxmox.ContainerOption{Name: "digest", Value: ccc.Digest},
	); err != nil {
		t.Fatalf("config update: %v", err)
	}
	clone, _ = node.Container(ctx, newid)
	if *clone.ContainerConfig.Memory != 2048 || clone.ContainerConfig.Features != "" || clone.ContainerConfig.Digest == ccc.Digest {
		t.Fatalf("after update: %+v", clone.ContainerConfig)
	}
	_, err = clone.Config(ctx, proxmox.ContainerOption{Name: "cores", Value: 4}, proxmox.ContainerOption{Name: "digest", Value: ccc.Digest})
	if err == nil || err.Error() != "500 detected modified configuration - file changed by other user? Try again." {
		t.Fatalf("stale digest: %v", err)
	}

	// Start, look at it running, resize, stop.
	w.ok(clone.Start(ctx))
	if _, err := clone.Start(ctx); err == nil || err.Error() != "500 CT 101 already running" {
		t.Fatalf("second start: %v", err)
	}
	clone, _ = node.Container(ctx, newid)
	if clone.Status != "running" {
		t.Fatalf("status after start: %q", clone.Status)
	}
	ifaces, err := clone.Interfaces(ctx)
	if err != nil || len(ifaces) != 2 || ifaces[0].Name != "lo" || ifaces[1].Name != "eth0" || ifaces[1].Inet != "10.0.0.5/24" ||
		!strings.EqualFold(ifaces[1].HWAddr, reHWAddr.FindStringSubmatch(clone.ContainerConfig.Nets["net0"])[1]) {
		t.Fatalf("interfaces: %+v, %v", ifaces, err)
	}
	w.ok(clone.Resize(ctx, "rootfs", "+2G"))
	clone, _ = node.Container(ctx, newid)
	if clone.ContainerConfig.RootFS != "local-lvm:vm-101-disk-0,size=10G" {
		t.Fatalf("after resize: %q", clone.ContainerConfig.RootFS)
	}
	if _, err := clone.Resize(ctx, "rootfs", "9G"); err == nil || err.Error() != "500 unable to shrink disk size" {
		t.Fatalf("shrink: %v", err)
	}
	if _, err := clone.Delete(ctx, nil); err == nil || err.Error() != "500 unable to destroy CT 101 - container is running" {
		t.Fatalf("delete running: %v", err)
	}
	w.ok(clone.Stop(ctx))
	clone, _ = node.Container(ctx, newid)
	if clone.Status != "stopped" {
		t.Fatalf("status after stop: %q", clone.Status)
	}

	// Snapshot delete and the resources view.
	w.ok(ct.Snapshot("pre").Delete(ctx))
	snaps, err = ct.Snapshots(ctx)
	if err != nil || len(snaps) != 1 || snaps[0].Name != "current" || snaps[0].Parent != "" {
		t.Fatalf("snapshots after delete: %+v, %v", snaps, err)
	}
	res, err := cl.Resources(ctx, "vm")
	if err != nil || len(res) != 2 || res[0].ID != "lxc/100" || res[1].VMID != 101 {
		t.Fatalf("resources: %+v, %v", res, err)
	}

	// Delete both, then they are gone.
	w.ok(clone.Delete(ctx, &proxmox.ContainerDeleteOptions{Purge: true, DestroyUnreferencedDisks: true}))
	w.ok(ct.Delete(ctx, nil))
	if _, err := node.Container(ctx, 100); err == nil || err.Error() != "500 Configuration file 'nodes/pve1/lxc/100.conf' does not exist" {
		t.Fatalf("after delete: %v", err)
	}
	if _, err := os.Stat(filepath.Join(s.StateDir, "volumes/pve1/local-lvm/vm-101-disk-0")); !os.IsNotExist(err) {
		t.Fatalf("volume of 101 not removed: %v", err)
	}
	cts, err := node.Containers(ctx)
	if err != nil || len(cts) != 0 {
		t.Fatalf("containers: %+v, %v", cts, err)
	}
}

// TestTemplateLinkedClone converts a container to a template, clones it
// linked, and checks the base volume is protected while the clone exists.
func TestTemplateLinkedClone(t *testing.T) {
	s := startSim(t, Options{})
	c := pxClient(t, s)
	ctx := t.Context()
	w := waiter{t}
	node, err := c.Node(ctx, "pve1")
	if err != nil {
		t.Fatal(err)
	}
	createCT(t, s, "pve1", 900, nil)
	ct, err := node.Container(ctx, 900)
	if err != nil {
		t.Fatal(err)
	}
	if err := ct.Template(ctx); err != nil {
		t.Fatal(err)
	}
	// The conversion runs as a task holding the config lock; the clone waits
	// for it like on PVE.
	newid, task, err := ct.Clone(ctx, &proxmox.ContainerCloneOptions{NewID: 105, Hostname: "linked"})
	w.ok(task, err)
	tpl := config(t, s, 900)
	if tpl["template"] != float64(1) || tpl["rootfs"] != "local-lvm:base-900-disk-0,size=8G" {
		t.Fatalf("template config: %v", tpl)
	}
	cl := config(t, s, newid)
	if cl["rootfs"] != "local-lvm:base-900-disk-0/vm-105-disk-0,size=8G" || cl["template"] != nil {
		t.Fatalf("linked clone config: %v", cl)
	}
	task, err = ct.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := task.Wait(ctx, 10*time.Millisecond, 10*time.Second); err != nil || task.ExitStatus != "you can't start a CT if it's a template" {
		t.Fatalf("start of a template: %q, %v", task.ExitStatus, err)
	}
	upid := call(t, s, "DELETE", "/nodes/pve1/lxc/900", nil).upid(t)
	if es := waitTask(t, s, upid); es != "base volume 'base-900-disk-0' is still in use by linked cloned" {
		t.Fatalf("destroy of used template: %q", es)
	}
	mustTask(t, s, call(t, s, "DELETE", "/nodes/pve1/lxc/105", nil).upid(t))
	mustTask(t, s, call(t, s, "DELETE", "/nodes/pve1/lxc/900", nil).upid(t))
}
