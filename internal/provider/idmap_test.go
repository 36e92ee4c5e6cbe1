package provider

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

// idMapHCL renders id_map blocks.
func idMapHCL(maps ...idMapModel) string {
	var b strings.Builder
	for _, m := range maps {
		fmt.Fprintf(&b, "  id_map {\n    kind         = %q\n    container_id = %d\n    host_id      = %d\n    size         = %d\n  }\n",
			m.Kind.ValueString(), m.ContainerID.ValueInt64(), m.HostID.ValueInt64(), m.Size.ValueInt64())
	}
	return b.String()
}

// idMapLines are the lxc.idmap values of a container's config file, in
// order.
func (e *accEnv) idMapLines(vmid int) []string {
	var out []string
	for _, kv := range e.conf(vmid).Main().LXC() {
		if kv.Key == lxcKeyIDMap {
			out = append(out, kv.Value)
		}
	}
	return out
}

func (e *accEnv) checkIDMapLines(vmid int, want ...string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		if !e.simOnly("reading the container's config file") {
			return nil
		}
		if got := e.idMapLines(vmid); strings.Join(got, "\n") != strings.Join(want, "\n") {
			return fmt.Errorf("lxc.idmap lines %q, want %q", got, want)
		}
		return nil
	}
}

// TestAccLXCContainer_idMap: id_map blocks become lxc.idmap lines of the
// config file, written over SSH; an unchanged configuration writes nothing;
// a line edited out of band is drift that the apply repairs (and, the map
// taking effect at start, the running container is rebooted); import reads
// the blocks back; removing them leaves PVE's default (no line at all).
func TestAccLXCContainer_idMap(t *testing.T) {
	e := newAccEnv(t, withSSH)
	const vmid = 4170
	cfg := func(extra string) string {
		return e.containerConfig(ctConfig{VMID: vmid, Unprivileged: true, Extra: extra})
	}
	withMap := cfg(idMapHCL(passGID33...))
	wantLines := []string{"u 0 100000 65536", "g 0 100000 33", "g 33 33 1", "g 34 100034 65502"}
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: withMap,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(ctAddr, tfjsonpath.New("id_map").AtSliceIndex(2).AtMapKey("kind"), knownvalue.StringExact("gid")),
					statecheck.ExpectKnownValue(ctAddr, tfjsonpath.New("id_map").AtSliceIndex(2).AtMapKey("host_id"), knownvalue.Int64Exact(33)),
					statecheck.ExpectKnownValue(ctAddr, tfjsonpath.New("lxc_config"), knownvalue.Null()),
				},
				Check: resource.ComposeTestCheckFunc(e.checkIDMapLines(vmid, wantLines...), e.checkNoForbidden()),
			},
			{
				// Unchanged: an empty plan, no API write and no SSH write.
				PreConfig:        e.resetLog,
				Config:           withMap,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				Check:            resource.ComposeTestCheckFunc(e.checkNoMutations(), e.checkNoSSHWrites()),
			},
			{
				// A line changed out of band: the plan shows it, the apply
				// writes the map back and reboots the running container.
				PreConfig: func() {
					e.resetLog()
					if !e.simOnly("editing the container's config file out of band") {
						return
					}
					b, err := os.ReadFile(e.confPath(vmid))
					if err != nil {
						t.Fatal(err)
					}
					edited := strings.Replace(string(b), "lxc.idmap: g 33 33 1\n", "lxc.idmap: g 33 100033 1\n", 1)
					if edited == string(b) {
						t.Fatalf("no line lxc.idmap: g 33 33 1 in\n%s", b)
					}
					if err := os.WriteFile(e.confPath(vmid), []byte(edited), 0o640); err != nil {
						t.Fatal(err)
					}
				},
				Config: withMap,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(ctAddr, plancheck.ResourceActionUpdate),
				}},
				Check: resource.ComposeTestCheckFunc(e.checkIDMapLines(vmid, wantLines...), e.checkRebooted(vmid)),
			},
			{
				ResourceName:            ctAddr,
				ImportState:             true,
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"template", "timeouts"},
			},
			{
				// Without blocks PVE's default applies: the lines go.
				PreConfig: e.resetLog,
				Config:    cfg(""),
				Check:     resource.ComposeTestCheckFunc(e.checkIDMapLines(vmid), e.checkRebooted(vmid)),
			},
		},
	})
}

// TestAccIDMapNeedsSSH: without SSH access the id_map blocks fail at plan
// time, whatever the identity (the API cannot set lxc.* lines); a map with
// a gap fails validation with the missing IDs. Nothing reaches the cluster.
func TestAccIDMapNeedsSSH(t *testing.T) {
	e := newAccEnv(t)
	e.resetLog()
	cfg := func(maps ...idMapModel) string {
		return e.containerConfig(ctConfig{VMID: 4171, Unprivileged: true, Extra: idMapHCL(maps...)})
	}
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config:      cfg(passGID33...),
			PlanOnly:    true,
			ExpectError: phrases("id_map needs SSH access to the node", "cannot set raw lxc.* lines for any identity", "Add an ssh block"),
		}, {
			Config:      cfg(idm("uid", 0, 100000, 65536), idm("gid", 0, 100000, 1000)),
			PlanOnly:    true,
			ExpectError: phrases("Incomplete ID map", "container gids 1000-65535 are not mapped"),
		}},
		CheckDestroy: func(*terraform.State) error {
			if e.simOnly("checking that the refused plan made no mutating API call") && e.sim.CountMutating() != 0 {
				return fmt.Errorf("the refused plan changed the cluster")
			}
			return nil
		},
	})
}
