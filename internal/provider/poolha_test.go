package provider

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/pve"
	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/pvesim"
)

// createPool creates a resource pool with the admin token, as an
// administrator would (the provider does not create pools).
func (e *accEnv) createPool(id string) {
	e.t.Helper()
	if err := e.client.API().Post(context.Background(), "/pools", map[string]string{"poolid": id}, nil); err != nil {
		e.t.Fatalf("create pool %s: %v", id, err)
	}
}

// poolOf is the pool /cluster/resources reports for container vmid.
func (e *accEnv) poolOf(vmid int) string {
	e.t.Helper()
	for _, r := range e.containers() {
		if int(r.VMID) == vmid {
			return r.Pool
		}
	}
	e.t.Fatalf("container %d not found", vmid)
	return ""
}

func (e *accEnv) checkPool(vmid int, want string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		if got := e.poolOf(vmid); got != want {
			return fmt.Errorf("container %d is in pool %q, want %q", vmid, got, want)
		}
		return nil
	}
}

// poolWrites are the pool changes in the request log since resetLog.
func (e *accEnv) poolWrites() []string {
	var out []string
	for _, r := range e.sim.Requests() {
		if p := strings.TrimPrefix(r.Path, "/api2/json"); r.Method != "GET" && strings.HasPrefix(p, "/pools") {
			out = append(out, r.Method+" "+p)
		}
	}
	return out
}

// checkOnePoolMove fails unless the pool changed with exactly one call,
// PUT /pools (allow-move, or delete for a removal): never a removal
// followed by an addition, never the deprecated PUT /pools/{poolid}.
func (e *accEnv) checkOnePoolMove() resource.TestCheckFunc {
	return func(*terraform.State) error {
		if !e.simOnly("reading the request log") {
			return nil
		}
		if got := e.poolWrites(); len(got) != 1 || got[0] != "PUT /pools" {
			return fmt.Errorf("pool calls %v, want one PUT /pools", got)
		}
		return nil
	}
}

// TestAccLXCContainer_pool: a container created into a pool, moved to
// another pool in place with one call (no replacement, no restart), moved out of band
// (drift the apply repairs), imported with its pool, then taken out of its
// pool by removing the attribute.
func TestAccLXCContainer_pool(t *testing.T) {
	e := newAccEnv(t, withAccess(
		"role:PhoenixPools:Pool.Allocate,Pool.Audit:",
		"acl:1:/pool:phoenix@pve:PhoenixPools:",
		"acl:1:/pool:"+pvesim.ProviderTokenID+":PhoenixPools:",
	))
	const vmid = 4180
	e.createPool("phx-a")
	e.createPool("phx-b")
	cfg := func(pool string) string {
		extra := ""
		if pool != "" {
			extra = fmt.Sprintf("  pool = %q\n", pool)
		}
		return e.containerConfig(ctConfig{VMID: vmid, Unprivileged: true, Extra: extra})
	}
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: cfg("phx-a"),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(ctAddr, tfjsonpath.New("pool"), knownvalue.StringExact("phx-a")),
				},
				Check: resource.ComposeTestCheckFunc(e.checkPool(vmid, "phx-a"), e.checkNoForbidden()),
			},
			{
				PreConfig: e.resetLog,
				Config:    cfg("phx-b"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(ctAddr, plancheck.ResourceActionUpdate),
				}},
				Check: resource.ComposeTestCheckFunc(e.checkPool(vmid, "phx-b"), e.checkNoRestart(vmid), e.checkOnePoolMove()),
			},
			{
				// Moved back to phx-a out of band: the plan shows it, the
				// apply moves it again.
				PreConfig: func() {
					err := e.client.API().Put(context.Background(), "/pools", map[string]string{
						"poolid": "phx-a", "vms": fmt.Sprint(vmid), "allow-move": "1",
					}, nil)
					if err != nil {
						t.Fatal(err)
					}
				},
				Config: cfg("phx-b"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(ctAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(ctAddr, tfjsonpath.New("pool"), knownvalue.StringExact("phx-b")),
				}},
				Check: e.checkPool(vmid, "phx-b"),
			},
			importVerify(""),
			{
				// Out of the pool with one PUT /pools (update_pool with
				// delete), not the deprecated PUT /pools/{poolid}.
				PreConfig: e.resetLog,
				Config:    cfg(""),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(ctAddr, tfjsonpath.New("pool"), knownvalue.Null()),
				},
				Check: resource.ComposeTestCheckFunc(e.checkPool(vmid, ""), e.checkOnePoolMove()),
			},
		},
	})
}

// haState is the HA resource of vmid as the cluster has it; found is
// false without one.
func (e *accEnv) haState(vmid int) (pve.HAResource, bool) {
	e.t.Helper()
	rs, err := e.client.HAResources(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	for _, r := range rs {
		if r.SID == pve.ContainerSID(vmid) {
			return r, true
		}
	}
	return pve.HAResource{}, false
}

func (e *accEnv) checkHA(vmid int, state string, running bool) resource.TestCheckFunc {
	return func(*terraform.State) error {
		r, found := e.haState(vmid)
		switch {
		case state == "" && found:
			return fmt.Errorf("container %d still has an HA resource %+v", vmid, r)
		case state != "" && !found:
			return fmt.Errorf("container %d has no HA resource", vmid)
		case state != "" && r.State != state:
			return fmt.Errorf("HA state %q, want %q", r.State, state)
		}
		st, err := e.client.ContainerStatus(context.Background(), e.node, vmid)
		if err != nil {
			return err
		}
		if st.Running() != running {
			return fmt.Errorf("container %d running = %v, want %v", vmid, st.Running(), running)
		}
		return nil
	}
}

// withHAPrivileges grants the provider's user and token what the ha block
// needs: Sys.Console and Sys.Audit on "/".
var withHAPrivileges = withRoleOnRoot("PhoenixHA", "Sys.Audit,Sys.Console")

// TestAccLXCContainer_ha: a container created under HA; its state changed
// to stopped (HA stops it: the provider asks HA, not the container); a
// plan whose started contradicts the HA state is refused; the block
// removed (the resource goes, the container stays); HA added again and
// the container destroyed with it (the resource goes first).
func TestAccLXCContainer_ha(t *testing.T) {
	e := newAccEnv(t, withHAPrivileges)
	const vmid = 4181
	cfg := func(started bool, ha string) string {
		return e.containerConfig(ctConfig{VMID: vmid, Unprivileged: true, Started: &started, Extra: ha})
	}
	haHCL := func(state string) string {
		return fmt.Sprintf("  ha {\n    state       = %q\n    max_restart = 2\n    comment     = \"web\"\n  }\n", state)
	}
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: cfg(true, haHCL("started")),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(ctAddr, tfjsonpath.New("ha").AtMapKey("max_restart"), knownvalue.Int64Exact(2)),
				},
				Check: resource.ComposeTestCheckFunc(e.checkHA(vmid, "started", true), e.checkNoForbidden()),
			},
			{
				PreConfig:        e.resetLog,
				Config:           cfg(true, haHCL("started")),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				Check:            e.checkNoMutations(),
			},
			{
				Config:      cfg(true, haHCL("stopped")),
				PlanOnly:    true,
				ExpectError: phrases("started contradicts the HA state", "Set started = false"),
			},
			{
				PreConfig: e.resetLog,
				Config:    cfg(false, haHCL("stopped")),
				Check:     resource.ComposeTestCheckFunc(e.checkHA(vmid, "stopped", false), e.checkNoRestart(vmid)),
			},
			{
				Config: cfg(false, ""),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(ctAddr, tfjsonpath.New("ha"), knownvalue.Null()),
				},
				Check: e.checkHA(vmid, "", false),
			},
			{
				Config: cfg(true, haHCL("started")),
				Check:  e.checkHA(vmid, "started", true),
			},
		},
		CheckDestroy: func(*terraform.State) error {
			if _, found := e.haState(vmid); found {
				return fmt.Errorf("the HA resource of %d outlived the container", vmid)
			}
			for _, r := range e.containers() {
				if int(r.VMID) == vmid {
					return fmt.Errorf("container %d still exists", vmid)
				}
			}
			return nil
		},
	})
}

// TestAccHANeedsPrivileges: with the documented role alone (no Sys.Console
// on /), an ha block is refused before anything is created, naming the
// privilege.
func TestAccHANeedsPrivileges(t *testing.T) {
	e := newAccEnv(t)
	e.resetLog()
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config:      e.containerConfig(ctConfig{VMID: 4182, Unprivileged: true, Extra: "  ha {}\n"}),
			ExpectError: phrases("Missing Proxmox VE privileges", "Sys.Console on /, for ha"),
		}},
		CheckDestroy: func(*terraform.State) error {
			if e.simOnly("checking that the refused apply changed nothing") && e.sim.CountMutating() != 0 {
				return fmt.Errorf("the refused apply changed the cluster")
			}
			return nil
		},
	})
}

// TestAccPoolDelegatedToken: a token whose container privileges come only
// from a role on /pool/team (the pool also holds the storages; the bridge,
// no pool member, has its own ACL) creates a container into the pool,
// changes and destroys it; a container outside the pool is refused before
// anything is created, naming both paths.
func TestAccPoolDelegatedToken(t *testing.T) {
	const tok = "pooldel@pve!t"
	privs := append(slices.DeleteFunc(slices.Clone(pvesim.ProviderRolePrivileges), func(p string) bool { return p == "SDN.Use" }),
		"Pool.Audit", "Datastore.Audit")
	e := newAccEnv(t, withAccess(
		"user:pooldel@pve:1:0::::::",
		"token:"+tok+":0:1::",
		"role:PhoenixPool:"+strings.Join(privs, ",")+":",
		"acl:1:/pool/team:pooldel@pve:PhoenixPool:",
		"acl:1:/pool/team:"+tok+":PhoenixPool:",
		"role:PhoenixBridge:SDN.Use:",
		"acl:1:/sdn/zones/localnetwork/vmbr0:pooldel@pve:PhoenixBridge:",
		"acl:1:/sdn/zones/localnetwork/vmbr0:"+tok+":PhoenixBridge:",
	))
	if !e.simOnly("a token with pool ACLs") {
		t.Skip("runs on the simulator only: it defines its own token")
	}
	e.createPool("team")
	if err := e.client.API().Put(context.Background(), "/pools", map[string]string{"poolid": "team", "storage": "local,local-lvm"}, nil); err != nil {
		t.Fatal(err)
	}
	token := e.sim.Tokens[tok]
	const vmid, outside = 4185, 4186
	cfg := func(memory int) string {
		return e.withToken(token, e.containerConfig(ctConfig{VMID: vmid, Memory: memory, Unprivileged: true, Extra: "  pool = \"team\"\n"}))
	}
	other := strings.Replace(strings.Replace(e.containerConfig(ctConfig{VMID: outside, Unprivileged: true}), `"test"`, `"other"`, 1), e.providerHCL(), "", 1)
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: cfg(512),
				Check:  resource.ComposeTestCheckFunc(e.checkPool(vmid, "team"), e.checkNoForbidden()),
			},
			{Config: cfg(512), PlanOnly: true},
			{
				Config: cfg(1024),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(ctAddr, plancheck.ResourceActionUpdate),
				}},
				Check: e.checkNoForbidden(),
			},
			{
				PreConfig:   e.resetLog,
				Config:      cfg(1024) + other,
				ExpectError: phrases("Missing Proxmox VE privileges", tok+" lacks", fmt.Sprintf("VM.Allocate on /vms/%d, for vmid", outside)),
				Check: func(*terraform.State) error {
					if n := e.sim.CountMutating(); n != 0 {
						return fmt.Errorf("the refused apply made %d changes", n)
					}
					return nil
				},
			},
		},
		CheckDestroy: e.checkNoContainers(),
	})
}

// TestAccHAOutOfBand: an HA resource added outside Terraform to a container
// whose configuration has no ha block shows as a planned change (the
// block's removal), which the apply carries out; a refresh of a container
// without an HA resource asks nothing of HA (its hastate in
// /cluster/resources says so).
func TestAccHAOutOfBand(t *testing.T) {
	e := newAccEnv(t, withHAPrivileges)
	const vmid = 4187
	cfg := e.containerConfig(ctConfig{VMID: vmid, Unprivileged: true})
	noHARequest := func(*terraform.State) error {
		if !e.simOnly("reading the request log") {
			return nil
		}
		for _, r := range e.sim.Requests() {
			if strings.Contains(r.Path, "/cluster/ha/") {
				return fmt.Errorf("the refresh asked HA: %s %s", r.Method, r.Path)
			}
		}
		return nil
	}
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: cfg},
			{
				PreConfig:        e.resetLog,
				Config:           cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				Check:            noHARequest,
			},
			{
				PreConfig: func() {
					if err := e.client.CreateHAResource(context.Background(), pve.ContainerSID(vmid), map[string]string{"state": "started", "comment": "added by hand"}); err != nil {
						t.Fatal(err)
					}
				},
				Config: cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(ctAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(ctAddr, tfjsonpath.New("ha"), knownvalue.Null()),
				}},
				Check: e.checkHA(vmid, "", true),
			},
		},
	})
}

// withoutSysConsole grants what the ha block needs but Sys.Console (the
// documented role and Sys.Audit on /) to haaudit@pve and its token.
func withoutSysConsole(o *pvesim.Options) {
	withAccess(
		"user:haaudit@pve:1:0::::::",
		"token:haaudit@pve!t:0:1::",
		"role:PhoenixHAAudit:Sys.Audit:",
		"acl:1:/:haaudit@pve:"+pvesim.ProviderRole+",PhoenixHAAudit:",
		"acl:1:/:haaudit@pve!t:"+pvesim.ProviderRole+",PhoenixHAAudit:",
	)(o)
}

// TestAccHAUnchangedNeedsNoConsole: a token without Sys.Console applies a
// change to a container whose ha block stays as it is; changing the block
// itself is refused before anything changes, naming Sys.Console.
func TestAccHAUnchangedNeedsNoConsole(t *testing.T) {
	e := newAccEnv(t, withHAPrivileges, withoutSysConsole)
	if !e.simOnly("a token without Sys.Console") {
		t.Skip("runs on the simulator only: it defines its own token")
	}
	const vmid = 4188
	token := e.sim.Tokens["haaudit@pve!t"]
	cfg := func(memory int, comment string) string {
		return e.containerConfig(ctConfig{VMID: vmid, Memory: memory, Unprivileged: true,
			Extra: fmt.Sprintf("  ha {\n    state   = \"started\"\n    comment = %q\n  }\n", comment)})
	}
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: cfg(512, "web")},
			{
				Config: e.withToken(token, cfg(1024, "web")),
				Check:  resource.ComposeTestCheckFunc(e.checkMemory(vmid, "1024"), e.checkHA(vmid, "started", true), e.checkNoForbidden()),
			},
			{
				PreConfig:   e.resetLog,
				Config:      e.withToken(token, cfg(1024, "db")),
				ExpectError: phrases("Missing Proxmox VE privileges", "haaudit@pve!t lacks", "Sys.Console on /, for ha"),
			},
			{
				// Nothing changed; the destroy (which removes the HA
				// resource) runs with the full token.
				Config:           cfg(1024, "web"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
		},
	})
}

// TestAccHAErrorStopsTheWait: when HA cannot start the container it puts
// the resource in the error state; the apply fails at once with that,
// instead of waiting for its timeout.
func TestAccHAErrorStopsTheWait(t *testing.T) {
	e := newAccEnv(t, withHAPrivileges)
	if !e.simOnly("injecting a failed start") {
		t.Skip("runs on the simulator only: it makes HA fail a start")
	}
	const vmid = 4189
	cfg := func(started bool, state string) string {
		return e.containerConfig(ctConfig{VMID: vmid, Unprivileged: true, Started: &started,
			Extra: fmt.Sprintf("  ha {\n    state = %q\n  }\n  timeouts {\n    update = \"90s\"\n  }\n", state)})
	}
	var began time.Time
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: cfg(false, "stopped")},
			{
				PreConfig: func() {
					if err := e.sim.AddFault(pvesim.Fault{TaskFail: &pvesim.TaskFault{Type: "vzstart", Message: "startup for container '4189' failed"}}); err != nil {
						t.Fatal(err)
					}
					began = time.Now()
				},
				Config:      cfg(true, "started"),
				ExpectError: phrases("put ct:4189 in the error state", "disabled"),
			},
			{
				PreConfig: func() {
					if d := time.Since(began); d > 2*time.Minute {
						t.Errorf("the failed apply took %s", d)
					}
					e.sim.ClearFaults()
				},
				// HA leaves the error state through disabled.
				Config: cfg(false, "disabled"),
				Check:  e.checkHA(vmid, "disabled", false),
			},
		},
	})
}

// createBareCT creates a stopped container outside Terraform, destroyed
// (with its HA resource) when the test ends.
func (e *accEnv) createBareCT(vmid int) {
	e.t.Helper()
	ctx := context.Background()
	upid, err := e.client.CreateContainer(ctx, e.node, map[string]string{
		"vmid": fmt.Sprint(vmid), "ostemplate": e.template, "rootfs": e.storage + ":8", "unprivileged": "1",
	})
	if err == nil {
		err = e.client.WaitTask(ctx, upid)
	}
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		if upid, err := e.client.DeleteContainer(ctx, e.node, vmid, pve.DeleteOptions{Purge: true}); err == nil {
			_ = e.client.WaitTask(ctx, upid)
		}
	})
}

// TestAccHATakesOverExisting: creating the HA resource when Proxmox VE
// already has one for the container (made outside Terraform) updates that
// one to the configuration, with a warning naming what differed, instead
// of keeping its settings.
func TestAccHATakesOverExisting(t *testing.T) {
	e := newAccEnv(t, withHAPrivileges)
	ctx := context.Background()
	const vmid = 4190
	e.createBareCT(vmid)
	if err := e.client.CreateHAResource(ctx, pve.ContainerSID(vmid), map[string]string{"state": "stopped", "max_restart": "5", "comment": "theirs"}); err != nil {
		t.Fatal(err)
	}
	d := &providerData{}
	var diags diag.Diagnostics
	h := &haModel{State: types.StringValue("stopped"), MaxRestart: types.Int64Null(), MaxRelocate: types.Int64Value(2), Comment: types.StringValue("ours")}
	if err := d.createHA(ctx, e.client, vmid, h, &diags); err != nil {
		t.Fatal(err)
	}
	if len(diags) != 1 || diags[0].Severity() != diag.SeverityWarning || !strings.Contains(diags[0].Detail(), "comment = ours") ||
		!strings.Contains(diags[0].Detail(), "max_restart reset") {
		t.Fatalf("diagnostics %v", diags)
	}
	r, found := e.haState(vmid)
	if !found || r.Comment != "ours" || r.HasMaxRestart || r.MaxRelocate != 2 || r.State != "stopped" {
		t.Fatalf("HA resource after the take-over: %+v", r)
	}
	// The same again: nothing to change, no warning.
	diags = nil
	if err := d.createHA(ctx, e.client, vmid, h, &diags); err != nil || len(diags) != 0 {
		t.Fatalf("second create: %v %v", err, diags)
	}
}

// TestAccHAWaitEndsWhenUnmanaged: the wait for HA ends at once when the container
// leaves HA (here: its resource is set to ignored).
func TestAccHAWaitEndsWhenUnmanaged(t *testing.T) {
	e := newAccEnv(t)
	ctx := context.Background()
	const vmid = 4191
	e.createBareCT(vmid)
	if err := e.client.CreateHAResource(ctx, pve.ContainerSID(vmid), map[string]string{"state": "ignored"}); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	err := waitRunState(wctx, e.client, e.node, vmid, true)
	if err == nil || !strings.Contains(err.Error(), "no longer managed by HA") {
		t.Fatalf("wait: %v", err)
	}
}

// TestAccHAUnknownAtPlan: started comes from another resource, unknown
// when Terraform plans; the contradiction with ha.state is refused once it
// is known, before the container is created.
func TestAccHAUnknownAtPlan(t *testing.T) {
	e := newAccEnv(t, withHAPrivileges)
	const vmid = 4192
	cfg := "resource \"terraform_data\" \"run\" {\n  input = false\n}\n" +
		strings.Replace(e.containerConfig(ctConfig{VMID: vmid, Unprivileged: true, Extra: "  ha {\n    state = \"started\"\n  }\n"}),
			"resource \"phoenix_lxc_container\" \"test\" {\n", "resource \"phoenix_lxc_container\" \"test\" {\n  started = terraform_data.run.output\n", 1)
	e.resetLog()
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config:      cfg,
			ExpectError: phrases("started contradicts the HA state"),
		}},
		CheckDestroy: e.checkNoContainers(),
	})
}

// TestAccHADockerRerunKeepsState: a Docker install rerun in a container
// that HA keeps stopped runs it under HA (started for the install, stopped
// again) and leaves the HA resource in its planned state: disabled stays
// disabled, not stopped.
func TestAccHADockerRerunKeepsState(t *testing.T) {
	e := newAccEnv(t, withSSH, withHAPrivileges)
	e.needSSH()
	const vmid = 4185
	cfg := func(logDriver string) string {
		started := false
		return e.containerConfig(ctConfig{VMID: vmid, Unprivileged: true, Started: &started, Extra: "  ha {\n    state = \"disabled\"\n  }\n" +
			"  docker {\n    daemon_json = jsonencode({ \"log-driver\" = \"" + logDriver + "\" })\n  }\n"})
	}
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: cfg("local"), Check: e.checkHA(vmid, "disabled", false)},
			{
				Config: cfg("journald"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(ctAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(ctAddr, tfjsonpath.New("ha").AtMapKey("state"), knownvalue.StringExact("disabled")),
				}},
				Check: e.checkHA(vmid, "disabled", false),
			},
			{Config: cfg("journald"), PlanOnly: true},
		},
	})
}
