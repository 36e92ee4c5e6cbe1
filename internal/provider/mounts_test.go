package provider

import (
	"context"
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

// mountBlock renders one mount_point block.
func mountBlock(slot int, body string) string {
	return fmt.Sprintf("  mount_point {\n    slot = %d\n%s  }\n", slot, body)
}

// configValue reads one key of a container's current configuration through
// the admin client ("" when absent).
func (e *accEnv) configValue(vmid int, key string) string {
	e.t.Helper()
	raw, err := e.client.ContainerConfig(context.Background(), e.node, vmid)
	if err != nil {
		e.t.Fatal(err)
	}
	return raw.Values[key]
}

// checkConfig asserts config values of a container (want "" = absent).
func (e *accEnv) checkConfig(vmid int, want map[string]string) resource.TestCheckFunc { //nolint:unparam // one container per test today
	return func(*terraform.State) error {
		for k, v := range want {
			if got := e.configValue(vmid, k); got != v {
				return fmt.Errorf("CT %d %s = %q, want %q", vmid, k, got, v)
			}
		}
		return nil
	}
}

// TestAccLXCContainer_mountPoints: a volume mount point is allocated, grown,
// detached (its volume stays as unusedN, as PVE keeps it) and attached again
// by volume ID; a bind mount and a device, which PVE reserves to root@pam,
// are set over SSH with the least-privilege token; an unchanged
// configuration writes nothing; a mount point removed out of band comes
// back; import reads every block back.
func TestAccLXCContainer_mountPoints(t *testing.T) {
	e := newAccEnv(t, withSSH)
	const vmid = 4140
	vol := "local-lvm:vm-4140-disk-1"
	data := mountBlock(0, fmt.Sprintf("    path    = \"/data\"\n    storage = %q\n    size    = \"2G\"\n    backup  = true\n", e.storage))
	bind := mountBlock(1, "    path      = \"/shared\"\n    volume    = \"/srv/phoenix-shared\"\n    read_only = true\n")
	dev := "  device {\n    slot = 0\n    path = \"/dev/dri/renderD128\"\n    gid  = 104\n    mode = \"0660\"\n  }\n"
	cfg := func(extra string) string {
		// A description, which PVE returns with a trailing newline, is
		// read back by import exactly (ImportStateVerify below).
		return e.containerConfig(ctConfig{VMID: vmid, Unprivileged: true, Extra: "  description = \"shared data\\nand logs\"\n" + extra})
	}
	grown := mountBlock(0, fmt.Sprintf("    path    = \"/data\"\n    storage = %q\n    size    = \"3G\"\n    backup  = true\n", e.storage))
	shrunk := mountBlock(0, fmt.Sprintf("    path    = \"/data\"\n    storage = %q\n    size    = \"1G\"\n    backup  = true\n", e.storage))
	reattached := mountBlock(2, fmt.Sprintf("    path   = \"/data\"\n    volume = %q\n", vol))

	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				PreConfig: e.resetLog,
				Config:    cfg(data + bind + dev),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(ctAddr, tfjsonpath.New("mount_point").AtSliceIndex(0).AtMapKey("volume"), knownvalue.StringExact(vol)),
					statecheck.ExpectKnownValue(ctAddr, tfjsonpath.New("mount_point").AtSliceIndex(0).AtMapKey("size"), knownvalue.StringExact("2G")),
					statecheck.ExpectKnownValue(ctAddr, tfjsonpath.New("mount_point").AtSliceIndex(1).AtMapKey("volume"), knownvalue.StringExact("/srv/phoenix-shared")),
					statecheck.ExpectKnownValue(ctAddr, tfjsonpath.New("device").AtSliceIndex(0).AtMapKey("gid"), knownvalue.Int64Exact(104)),
				},
				Check: resource.ComposeTestCheckFunc(
					e.checkConfig(vmid, map[string]string{
						"mp0":  vol + ",mp=/data,backup=1,size=2G",
						"mp1":  "/srv/phoenix-shared,mp=/shared,ro=1",
						"dev0": "/dev/dri/renderD128,gid=104,mode=0660",
					}),
					e.checkSetAsRoot(vmid, "--dev0 '/dev/dri/renderD128,gid=104,mode=0660' --mp1 '/srv/phoenix-shared,mp=/shared,ro=1'"),
					e.checkNoForbidden(),
				),
			},
			{
				// Unchanged: an empty plan and no write at all.
				PreConfig:        e.resetLog,
				Config:           cfg(data + bind + dev),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				Check:            resource.ComposeTestCheckFunc(e.checkNoMutations(), e.checkNoSSHWrites()),
			},
			{
				// Growing resizes the volume in place.
				Config: cfg(grown + bind + dev),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(ctAddr, plancheck.ResourceActionUpdate),
				}},
				Check: e.checkConfig(vmid, map[string]string{"mp0": vol + ",mp=/data,backup=1,size=3G"}),
			},
			{
				// Shrinking is refused at plan time.
				Config:      cfg(shrunk + bind + dev),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)Mount point cannot shrink.*mp0 is 3G; Proxmox VE can only grow`),
			},
			{
				// Drift: the bind mount removed out of band (a pending delete
				// on the running container) comes back.
				PreConfig: func() {
					if err := e.client.UpdateContainerConfig(context.Background(), e.node, vmid, nil, []string{"mp1"}, ""); err != nil {
						t.Fatal(err)
					}
				},
				Config: cfg(grown + bind + dev),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(ctAddr, plancheck.ResourceActionUpdate),
				}},
				Check: e.checkConfig(vmid, map[string]string{"mp0": vol + ",mp=/data,backup=1,size=3G", "mp1": "/srv/phoenix-shared,mp=/shared,ro=1"}),
			},
			{
				// Import reads every block back.
				ResourceName:            ctAddr,
				ImportState:             true,
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"template", "timeouts"},
			},
			{
				// Removing the block detaches: the volume stays as unused0.
				Config: cfg(bind + dev),
				Check:  e.checkConfig(vmid, map[string]string{"mp0": "", "unused0": vol}),
			},
			{
				// Attaching it again by volume ID (another slot) clears unused0.
				Config: cfg(reattached + bind + dev),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(ctAddr, tfjsonpath.New("mount_point").AtSliceIndex(0).AtMapKey("size"), knownvalue.StringExact("3G")),
				},
				Check: e.checkConfig(vmid, map[string]string{"mp2": vol + ",mp=/data,size=3G", "unused0": ""}),
			},
			{
				PreConfig:        e.resetLog,
				Config:           cfg(reattached + bind + dev),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				Check:            e.checkNoMutations(),
			},
		},
	})
}
