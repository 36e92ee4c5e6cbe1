package provider

import (
	"context"
	"fmt"
	"testing"

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

func (e *accEnv) checkPool(vmid int, want string) resource.TestCheckFunc { //nolint:unparam // a check of any container
	return func(*terraform.State) error {
		if got := e.poolOf(vmid); got != want {
			return fmt.Errorf("container %d is in pool %q, want %q", vmid, got, want)
		}
		return nil
	}
}

// TestAccLXCContainer_pool: a container created into a pool, moved to
// another pool in place (no replacement, no restart), moved out of band
// (drift the apply repairs), imported with its pool, then taken out of its
// pool by removing the attribute.
func TestAccLXCContainer_pool(t *testing.T) {
	e := newAccEnv(t, withAccess(
		"role:PhoenixPools:Pool.Allocate:",
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
				Check: resource.ComposeTestCheckFunc(e.checkPool(vmid, "phx-b"), e.checkNoRestart(vmid)),
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
			{
				ResourceName:            ctAddr,
				ImportState:             true,
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"template", "timeouts"},
			},
			{
				Config: cfg(""),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(ctAddr, tfjsonpath.New("pool"), knownvalue.Null()),
				},
				Check: e.checkPool(vmid, ""),
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

func (e *accEnv) checkHA(vmid int, state string, running bool) resource.TestCheckFunc { //nolint:unparam // a check of any container
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
