package provider

import (
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/pvesim"
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

// TestAccLXCContainer_ipAddressesAfterReboot: an update that reboots a
// running DHCP container (here entrypoint, which PVE applies at the next
// start) plans ip_addresses unknown, since the lease comes back some time
// after the start (the simulator's LeaseDelay). With wait_for_ip the update
// waits for it; without, the apply still succeeds with what the container
// reports at that moment, where a plan holding the old address would end in
// "Provider produced inconsistent result".
func TestAccLXCContainer_ipAddressesAfterReboot(t *testing.T) {
	e := newAccEnv(t, func(o *pvesim.Options) { o.LeaseDelay = 1500 * time.Millisecond })
	cfg := func(wait bool, entrypoint string) string {
		ep := ""
		if entrypoint != "" {
			ep = fmt.Sprintf("  entrypoint  = %q\n", entrypoint)
		}
		return e.providerHCL() + fmt.Sprintf(`resource "phoenix_lxc_container" "test" {
  node_name   = %q
  vmid        = 4162
  hostname    = "dhcp-reboot"
  template    = %q
  wait_for_ip = %t
%s%s}
`, e.node, e.template, wait, ep, diskAndNIC(e.storage, "8G", e.bridge, "dhcp", ""))
	}
	leased := statecheck.ExpectKnownValue(ctAddr, tfjsonpath.New("ip_addresses"), knownvalue.ListPartial(map[int]knownvalue.Check{
		0: knownvalue.StringRegexp(regexp.MustCompile(`^192\.168\.\d+\.\d+$`)),
	}))
	unknownAddrs := resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
		plancheck.ExpectResourceAction(ctAddr, plancheck.ResourceActionUpdate),
		plancheck.ExpectUnknownValue(ctAddr, tfjsonpath.New("ip_addresses")),
	}}
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: cfg(true, ""), ConfigStateChecks: []statecheck.StateCheck{leased}},
			{
				// A change PVE applies live keeps the known addresses.
				Config: cfg(false, ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue(ctAddr, tfjsonpath.New("ip_addresses"), knownvalue.ListPartial(map[int]knownvalue.Check{
						0: knownvalue.StringRegexp(regexp.MustCompile(`^192\.168\.`)),
					})),
				}},
			},
			{Config: cfg(false, "/sbin/init"), ConfigPlanChecks: unknownAddrs},
			{Config: cfg(true, "/lib/systemd/systemd"), ConfigPlanChecks: unknownAddrs, ConfigStateChecks: []statecheck.StateCheck{leased}},
		},
	})
}
