package pve_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/pve"
	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/pvesim"
)

const simTemplate = "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"

func simClient(t *testing.T, opts pvesim.Options) (*pvesim.Sim, *pve.Client) {
	t.Helper()
	if opts.TaskDelay == 0 {
		opts.TaskDelay = 30 * time.Millisecond
	}
	sim := pvesim.Start(t, opts)
	fast := func(p pve.RetryPolicy) *pve.RetryPolicy {
		p.Initial, p.Max = 5*time.Millisecond, 20*time.Millisecond
		return &p
	}
	c, err := pve.New(pve.Config{
		Endpoint: sim.Endpoint, APIToken: sim.APIToken, CACertificatePEM: string(sim.CAPEM),
		ReadRetry: fast(pve.DefaultReadPolicy()), WriteRetry: fast(pve.DefaultWritePolicy()),
	})
	if err != nil {
		t.Fatal(err)
	}
	return sim, c
}

func createParams(vmid int) map[string]string {
	return map[string]string{
		"vmid": strconv.Itoa(vmid), "ostemplate": simTemplate, "hostname": "ct" + strconv.Itoa(vmid),
		"rootfs": "local-lvm:8", "memory": "1024", "swap": "512", "cores": "2", "unprivileged": "1",
		"features": pve.Features{Nesting: true}.String(), // keyctl is root@pam's only (check_ct_modify_config_perm),
		"net0":     pve.Net{Name: "eth0", Bridge: "vmbr0", IP: "dhcp", Extra: map[string]string{"type": "veth"}}.String(),
		"tags":     pve.JoinTags([]string{"web", "docker"}),
	}
}

func TestSimulatorLifecycle(t *testing.T) {
	_, c := simClient(t, pvesim.Options{})
	ctx := t.Context()
	vmid, err := c.NextID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	upid, err := c.CreateContainer(ctx, "pve1", createParams(vmid))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WaitTask(ctx, upid); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateContainer(ctx, "pve1", createParams(vmid)); !pve.IsAlreadyExists(err) {
		t.Errorf("a second create with vmid %d: want already exists, got %v", vmid, err)
	}

	cfg, err := c.ContainerConfig(ctx, "pve1", vmid)
	if err != nil {
		t.Fatal(err)
	}
	rootfs, err := pve.ParseRootFS(cfg.Values["rootfs"])
	if err != nil || rootfs.Storage != "local-lvm" || rootfs.Size != "8G" {
		t.Errorf("rootfs %q: %+v %v", cfg.Values["rootfs"], rootfs, err)
	}
	n, err := pve.ParseNet(cfg.Values["net0"])
	if err != nil || n.Bridge != "vmbr0" || n.HWAddr == "" {
		t.Errorf("net0 %q: %+v %v", cfg.Values["net0"], n, err)
	}
	if f, err := pve.ParseFeatures(cfg.Values["features"]); err != nil || !f.Nesting || f.Keyctl {
		t.Errorf("features %q: %+v %v", cfg.Values["features"], f, err)
	}
	if got := pve.SplitTags(cfg.Values["tags"]); strings.Join(got, ",") != "docker,web" {
		t.Errorf("tags %q", cfg.Values["tags"])
	}

	// One PUT with set, delete and digest; a stale digest is refused.
	if err := c.UpdateContainerConfig(ctx, "pve1", vmid, map[string]string{"memory": "2048"}, []string{"tags"}, cfg.Digest); err != nil {
		t.Fatal(err)
	}
	err = c.UpdateContainerConfig(ctx, "pve1", vmid, map[string]string{"memory": "4096"}, nil, cfg.Digest)
	if !pve.IsDigestMismatch(err) {
		t.Errorf("stale digest: want a digest mismatch, got %v", err)
	}
	cfg2, err := c.ContainerConfig(ctx, "pve1", vmid)
	if err != nil {
		t.Fatal(err)
	}
	if cfg2.Values["memory"] != "2048" || cfg2.Values["tags"] != "" || cfg2.Digest == cfg.Digest {
		t.Errorf("after update: memory %q tags %q digest changed %v", cfg2.Values["memory"], cfg2.Values["tags"], cfg2.Digest != cfg.Digest)
	}

	wait := func(what string, upid string, err error) {
		t.Helper()
		if err == nil {
			err = c.WaitTask(ctx, upid)
		}
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	upid, err = c.Resize(ctx, "pve1", vmid, "rootfs", "12G")
	wait("resize", upid, err)
	upid, err = c.Start(ctx, "pve1", vmid)
	wait("start", upid, err)
	st, err := c.ContainerStatus(ctx, "pve1", vmid)
	if err != nil || !st.Running() {
		t.Errorf("status after start %+v %v", st, err)
	}
	if node, ok, err := c.FindContainer(ctx, vmid); err != nil || !ok || node != "pve1" {
		t.Errorf("FindContainer = %q %v %v", node, ok, err)
	}
	upid, err = c.Stop(ctx, "pve1", vmid)
	wait("stop", upid, err)
	upid, err = c.DeleteContainer(ctx, "pve1", vmid, pve.DeleteOptions{Purge: true, DestroyUnreferencedDisks: true})
	wait("delete", upid, err)
	if ok, err := c.ContainerExists(ctx, "pve1", vmid); err != nil || ok {
		t.Errorf("ContainerExists after delete = %v %v", ok, err)
	}
	if _, err := c.ContainerConfig(ctx, "pve1", vmid); !pve.IsNotFound(err) {
		t.Errorf("config after delete: want not found, got %v", err)
	}
}

func TestSimulatorFaults(t *testing.T) {
	sim, c := simClient(t, pvesim.Options{})
	ctx := t.Context()

	// A failing create task: the message and the UPID in the error.
	if err := sim.AddFault(pvesim.Fault{TaskFail: &pvesim.TaskFault{Type: "vzcreate", Times: 1, Message: "unable to create CT 150 - simulated disk failure"}}); err != nil {
		t.Fatal(err)
	}
	upid, err := c.CreateContainer(ctx, "pve1", createParams(150))
	if err != nil {
		t.Fatal(err)
	}
	err = c.WaitTask(ctx, upid)
	var te *pve.TaskError
	if !errors.As(err, &te) || !strings.Contains(err.Error(), "simulated disk failure") || !strings.Contains(err.Error(), upid) {
		t.Fatalf("want a TaskError with the message and UPID, got %v", err)
	}
	sim.ClearFaults()

	upid, err = c.CreateContainer(ctx, "pve1", createParams(151))
	if err == nil {
		err = c.WaitTask(ctx, upid)
	}
	if err != nil {
		t.Fatal(err)
	}

	// A held lock: the PUT waits for it and then goes through.
	if err := sim.AddFault(pvesim.Fault{HoldLock: &pvesim.LockFault{VMID: 151, Lock: "backup", Times: 2}}); err != nil {
		t.Fatal(err)
	}
	sim.ResetRequests()
	if err := c.UpdateContainerConfig(ctx, "pve1", 151, map[string]string{"cores": "4"}, nil, ""); err != nil {
		t.Fatalf("update under a lock held for two attempts: %v", err)
	}
	puts := 0
	for _, r := range sim.Requests() {
		if r.Method == "PUT" {
			puts++
		}
	}
	if puts != 3 {
		t.Errorf("%d PUTs, want 3 (two refused by the lock)", puts)
	}
	sim.ClearFaults()

	// A 5xx on a read is retried.
	if err := sim.AddFault(pvesim.Fault{PathRegex: "/status/current$", Method: "GET", Status: 503, Message: "Service Unavailable", Times: 2}); err != nil {
		t.Fatal(err)
	}
	if st, err := c.ContainerStatus(ctx, "pve1", 151); err != nil || st.Status != "stopped" {
		t.Errorf("status through two 503s: %+v %v", st, err)
	}
}
