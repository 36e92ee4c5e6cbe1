package provider

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

// TestAccLXCContainer_ipAddresses: a static address is known at plan time;
// a DHCP container created with wait_for_ip has its leased address in state
// after the apply, and a refresh keeps it with nothing to change.
func TestAccLXCContainer_ipAddresses(t *testing.T) {
	e := newAccEnv(t)
	dhcp := e.providerHCL() + fmt.Sprintf(`resource "phoenix_lxc_container" "test" {
  node_name   = %q
  vmid        = 4160
  hostname    = "dhcp-test"
  template    = %q
  wait_for_ip = true
%s}
`, e.node, e.template, diskAndNIC(e.storage, "8G", e.bridge, "dhcp", ""))
	static := e.containerConfig(ctConfig{VMID: 4161, Unprivileged: true, IP: "10.0.0.161/24"})
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: static,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue(ctAddr, tfjsonpath.New("ip_addresses"), knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact("10.0.0.161")})),
				}},
			},
			{
				Config: dhcp,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectUnknownValue(ctAddr, tfjsonpath.New("ip_addresses")),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(ctAddr, tfjsonpath.New("ip_addresses"), knownvalue.ListPartial(map[int]knownvalue.Check{
						0: knownvalue.StringRegexp(regexp.MustCompile(`^192\.168\.\d+\.\d+$`)),
					})),
				},
			},
			{
				PreConfig:        e.resetLog,
				Config:           dhcp,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				Check:            e.checkNoMutations(),
			},
		},
	})
}
