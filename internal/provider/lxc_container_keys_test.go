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

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/pvesim"
)

// withSnippets gives every simulated node's local storage executable
// snippets (local:snippets/NAME).
func withSnippets(names ...string) func(*pvesim.Options) {
	return func(o *pvesim.Options) { o.Snippets = append(o.Snippets, names...) }
}

// TestAccLXCContainer_consoleAndApplicationKeys sets arch, the console
// settings, a hookscript, an entrypoint and environment variables on create
// (the hookscript, which Proxmox VE reserves to root@pam, with pct set on
// the node), re-applies with no write, changes the hookscript in place (PVE
// applies it at once) and the others with one restart (PVE holds them
// pending until the next start), and reads them all through the data
// source. Raw lxc_config lines written on the node keep the
// lxc.environment.runtime lines that hold the environment.
func TestAccLXCContainer_consoleAndApplicationKeys(t *testing.T) {
	e := newAccEnv(t, withSSH, withSnippets("hook.sh", "other.sh"))
	e.needSSH()
	keys := func(hook, cmode string, tty int, entrypoint, env string) string {
		return e.containerConfig(ctConfig{VMID: 4170, Unprivileged: true, Extra: fmt.Sprintf(`  console_mode = %q
  console      = false
  tty_count    = %d
  hookscript   = %q
  allow_lxc_hooks = true
  entrypoint   = %q
  environment  = %s
  lxc_config   = [{ key = "lxc.cgroup2.devices.allow", value = "c 10:200 rwm" }]
`, cmode, tty, hook, entrypoint, env)}) + `
data "phoenix_lxc_container" "lookup" {
  vmid = phoenix_lxc_container.test.vmid
}
`
	}
	first := keys("local:snippets/hook.sh", "shell", 4, "/sbin/init", `{ APP_MODE = "prod", TOKEN = "s3cr3t" }`)
	second := keys("local:snippets/other.sh", "shell", 4, "/sbin/init", `{ APP_MODE = "prod", TOKEN = "s3cr3t" }`)
	third := keys("local:snippets/other.sh", "console", 6, "/usr/local/bin/app --serve", `{ APP_MODE = "test" }`)
	ds := "data.phoenix_lxc_container.lookup"
	env := func(kv map[string]string) knownvalue.Check {
		m := map[string]knownvalue.Check{}
		for k, v := range kv {
			m[k] = knownvalue.StringExact(v)
		}
		return knownvalue.MapExact(m)
	}
	unchanged := func(cfg string) resource.TestStep {
		return resource.TestStep{
			PreConfig: e.resetLog,
			Config:    cfg,
			ConfigPlanChecks: resource.ConfigPlanChecks{
				PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
			},
			Check: e.checkNoMutations(),
		}
	}
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: first,
				ConfigStateChecks: []statecheck.StateCheck{
					// arch is detected from the template when unset.
					statecheck.ExpectKnownValue(ctAddr, tfjsonpath.New("arch"), knownvalue.StringExact("amd64")),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("console_mode"), knownvalue.StringExact("shell")),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("console"), knownvalue.Bool(false)),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("tty_count"), knownvalue.Int64Exact(4)),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("hookscript"), knownvalue.StringExact("local:snippets/hook.sh")),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("entrypoint"), knownvalue.StringExact("/sbin/init")),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("environment"), env(map[string]string{"APP_MODE": "prod", "TOKEN": "s3cr3t"})),
				},
				Check: resource.ComposeTestCheckFunc(
					e.checkSetAsRoot(4170, "--hookscript local:snippets/hook.sh"),
					checkDataSourceMatchesResource(ctAddr, ds),
				),
			},
			// Nothing changed: no write at all.
			unchanged(first),
			{
				// The hookscript applies at once: no restart.
				PreConfig:        e.resetLog,
				Config:           second,
				ConfigPlanChecks: planAction(plancheck.ResourceActionUpdate),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("hookscript"), knownvalue.StringExact("local:snippets/other.sh")),
				},
				Check: resource.ComposeTestCheckFunc(
					e.checkSetAsRoot(4170, "--hookscript local:snippets/other.sh"),
					e.checkNoRestart(4170),
				),
			},
			{
				// The console settings, the entrypoint and the environment
				// wait for the next start: one PUT, one restart.
				PreConfig:        e.resetLog,
				Config:           third,
				ConfigPlanChecks: planAction(plancheck.ResourceActionUpdate),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("console_mode"), knownvalue.StringExact("console")),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("tty_count"), knownvalue.Int64Exact(6)),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("entrypoint"), knownvalue.StringExact("/usr/local/bin/app --serve")),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("environment"), env(map[string]string{"APP_MODE": "test"})),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("status"), knownvalue.StringExact("running")),
				},
				Check: resource.ComposeTestCheckFunc(
					e.checkOnePut(),
					e.checkRequests("POST", "/status/reboot", 1),
					e.checkPendingEmpty(4170),
					checkDataSourceMatchesResource(ctAddr, ds),
				),
			},
			unchanged(third),
		},
		CheckDestroy: e.checkNoContainers(),
	})
}

// checkPendingEmpty asserts that container vmid holds no pending change.
func (e *accEnv) checkPendingEmpty(vmid int) resource.TestCheckFunc {
	return func(*terraform.State) error {
		var items []map[string]any
		if err := e.client.API().Get(context.Background(), fmt.Sprintf("/nodes/%s/lxc/%d/pending", e.node, vmid), &items); err != nil {
			return err
		}
		for _, it := range items {
			if _, ok := it["pending"]; ok {
				return fmt.Errorf("pending change left: %v", it)
			}
			if _, ok := it["delete"]; ok {
				return fmt.Errorf("pending delete left: %v", it)
			}
		}
		return nil
	}
}
