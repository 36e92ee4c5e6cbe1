package provider

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/docker"
	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/pvesim"
)

// ctExecOn runs a command inside a container of node over SSH, as an
// administrator would.
func (e *accEnv) ctExecOn(node string, vmid int, argv ...string) {
	e.t.Helper()
	e.ctOutputOn(node, vmid, argv...)
}

// sshDuringPlan checks, before the apply, the SSH commands the plan ran:
// at most one per node, each a batch of that node's checks, none writing.
type sshDuringPlan struct {
	e      *accEnv
	byNode map[string][]int // the containers each node's batch must check
}

func (c sshDuringPlan) CheckPlan(_ context.Context, _ plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	var cmds []pvesim.Request
	for _, r := range c.e.sim.Requests() {
		if r.Source == "ssh" {
			cmds = append(cmds, r)
		}
	}
	if len(cmds) > len(c.byNode) {
		resp.Error = fmt.Errorf("the plan ran %d SSH commands for %d nodes, want at most one per node", len(cmds), len(c.byNode))
		return
	}
	seen := map[string]bool{}
	for _, r := range cmds {
		want, ok := c.byNode[r.Node]
		switch {
		case r.Method != "SSH":
			resp.Error = fmt.Errorf("the plan wrote on node %s: %s", r.Node, r.Path)
		case !ok || seen[r.Node]:
			resp.Error = fmt.Errorf("unexpected command on node %s: %.200s", r.Node, r.Path)
		case !strings.Contains(r.Path, docker.CheckBatchScriptName):
			resp.Error = fmt.Errorf("node %s ran something else than the batch check: %.200s", r.Node, r.Path)
		default:
			for _, v := range want {
				// Asked ("VMID") or taken in as a further Docker
				// container of the node ("+VMID"), as a word of its own.
				if !slices.ContainsFunc(strings.Fields(r.Path), func(w string) bool {
					return w == strconv.Itoa(v) || w == "+"+strconv.Itoa(v)
				}) {
					resp.Error = fmt.Errorf("the batch on node %s does not check container %d", r.Node, v)
				}
			}
		}
		if resp.Error != nil {
			return
		}
		seen[r.Node] = true
	}
	c.e.t.Logf("SSH commands during the plan: %d for %d nodes", len(cmds), len(c.byNode))
}

// With verify_on_refresh, a plan checks the Docker of all containers of a
// node with one SSH command per node; each container keeps its own result:
// the one whose service was stopped plans the repair, the others nothing.
func TestAccLXCContainer_dockerRefreshBatched(t *testing.T) {
	nodes := []string{"pve1", "pve2"}
	e := newAccEnv(t, withSSH, func(o *pvesim.Options) { o.Nodes = nodes })
	e.needSSH()
	if !e.simOnly("counting the SSH commands of a plan") {
		t.Skip("needs the simulator's command log")
	}
	const n, base, stopped = 6, 4400, 3
	config := e.providerHCL() + fmt.Sprintf(`
locals {
  nodes = ["pve1", "pve2"]
}

resource "phoenix_lxc_container" "fleet" {
  count        = %d
  node_name    = local.nodes[count.index %% 2]
  vmid         = %d + count.index
  hostname     = "batch-${count.index}"
  template     = %q
  unprivileged = true
%s  docker {}
}
`, n, base, e.template, diskAndNIC(e.storage, "2G", e.bridge, "10.30.0.${count.index + 2}/24", "10.30.0.1"))
	addrOf := func(i int) string { return fmt.Sprintf("phoenix_lxc_container.fleet[%d]", i) }
	byNode := map[string][]int{}
	for i := range n {
		byNode[nodes[i%2]] = append(byNode[nodes[i%2]], base+i)
	}
	var planChecks []plancheck.PlanCheck
	for i := range n {
		if i == stopped {
			planChecks = append(planChecks, plancheck.ExpectResourceAction(addrOf(i), plancheck.ResourceActionUpdate),
				plancheck.ExpectKnownValue(addrOf(i), tfjsonpath.New("docker").AtMapKey("service_active"), knownvalue.Bool(true)))
		} else {
			planChecks = append(planChecks, plancheck.ExpectResourceAction(addrOf(i), plancheck.ResourceActionNoop))
		}
	}
	planChecks = append(planChecks, sshDuringPlan{e: e, byNode: byNode})
	var active []statecheck.StateCheck
	for i := range n {
		active = append(active, statecheck.ExpectKnownValue(addrOf(i), tfjsonpath.New("docker").AtMapKey("service_active"), knownvalue.Bool(true)))
	}
	if !slices.Contains(byNode["pve2"], base+stopped) {
		t.Fatalf("container %d is not on pve2", base+stopped)
	}
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: config, ConfigStateChecks: active},
			{
				// Docker stopped in one container of pve2: the plan's two batch
				// commands find it inactive there and active elsewhere.
				PreConfig: func() {
					e.ctExecOn("pve2", base+stopped, "systemctl", "stop", "docker")
					e.resetLog()
				},
				Config:            config,
				ConfigPlanChecks:  resource.ConfigPlanChecks{PreApply: planChecks},
				ConfigStateChecks: active,
			},
		},
		CheckDestroy: e.checkNoContainers(),
	})
}
