package provider

import (
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

// dockerCT renders a container with a docker block; extra goes inside the
// resource, dockerBody inside the docker block.
func (e *accEnv) dockerCT(extra, dockerBody string) string {
	return e.containerConfig(ctConfig{VMID: 4200, Unprivileged: true, Extra: extra + "  docker {\n" + dockerBody + "  }\n"})
}

// TestAccLXCContainer_dockerPlan checks what the plan of a Docker container
// shows and refuses, before anything is created.
func TestAccLXCContainer_dockerPlan(t *testing.T) {
	e := newAccEnv(t, withSSH)
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				// The docker block alone plans the hardened profile, nesting and
				// keyctl, and the profile hash of this provider version.
				Config:             e.dockerCT(`  apparmor_profile = "unconfined"`+"\n", ""),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(ctAddr, plancheck.ResourceActionCreate),
						plancheck.ExpectKnownValue(ctAddr, tfjsonpath.New("effective_apparmor_profile"), knownvalue.StringExact("lxc-docker-secure")),
						plancheck.ExpectKnownValue(ctAddr, tfjsonpath.New("features").AtMapKey("nesting"), knownvalue.Bool(true)),
						plancheck.ExpectKnownValue(ctAddr, tfjsonpath.New("features").AtMapKey("keyctl"), knownvalue.Bool(true)),
						plancheck.ExpectKnownValue(ctAddr, tfjsonpath.New("docker").AtMapKey("apparmor_profile_sha256"), knownvalue.StringExact(dockerProfile.SHA256())),
						plancheck.ExpectKnownValue(ctAddr, tfjsonpath.New("docker").AtMapKey("service_active"), knownvalue.Bool(true)),
						plancheck.ExpectUnknownValue(ctAddr, tfjsonpath.New("docker").AtMapKey("tests")),
					},
				},
			},
			{
				Config:      e.dockerCT("  features = {\n    nesting = false\n  }\n", ""),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)Docker needs nesting.*features.nesting = true`),
			},
			{
				Config:      e.dockerCT("  features = {\n    keyctl = false\n  }\n", ""),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`Docker needs keyctl`),
			},
			{
				Config:      e.dockerCT("", `    storage_driver = "fuse-overlayfs"`+"\n"),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)fuse-overlayfs needs FUSE.*features.fuse = true`),
			},
			{
				Config:      e.dockerCT("", `    daemon_json = jsonencode({ "storage-driver" = "vfs" })`+"\n"),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)Invalid docker block.*conflicts with\s+storage_driver`),
			},
			{
				Config:      e.dockerCT("", `    package_source = "snap"`+"\n"),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)package_source.*docker-ce`),
			},
			{
				Config:      e.dockerCT("", "    health_checks {\n      network_target = \"not a host!\"\n    }\n"),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`Invalid network target`),
			},
			{
				Config: e.containerConfig(ctConfig{VMID: 4201, Unprivileged: true,
					Extra: "  lxc_config = [{ key = \"lxc.apparmor.profile\", value = \"unconfined\" }]\n"}),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)lxc.apparmor.profile is managed through\s+apparmor_profile`),
			},
			{
				Config: e.containerConfig(ctConfig{VMID: 4201, Unprivileged: true,
					Extra: "  lxc_config = [{ key = \"lxc.rootfs.path\", value = \"/x\" }]\n"}),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`lxc.rootfs.path is managed through the rootfs block`),
			},
			{
				// Without Docker the configured profile is the effective one.
				Config: e.containerConfig(ctConfig{VMID: 4201, Unprivileged: true,
					Extra: "  apparmor_profile = \"lxc-container-default-cgns\"\n"}),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{
						plancheck.ExpectKnownValue(ctAddr, tfjsonpath.New("effective_apparmor_profile"), knownvalue.StringExact("lxc-container-default-cgns")),
					},
				},
			},
		},
	})
}

// TestDockerOverridesProfileWarning checks the warning a user sees when the
// docker block overrides a configured profile.
func TestDockerOverridesProfileWarning(t *testing.T) {
	diags := planDiagnostics(t, `
resource "phoenix_lxc_container" "test" {
  node_name        = "pve1"
  template         = "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"
  apparmor_profile = "unconfined"
  rootfs {
    storage = "local-lvm"
    size    = "8G"
  }
  docker {}
}
`)
	diags = strings.Join(strings.Fields(diags), " ")
	want := `apparmor_profile = "unconfined" is overridden: a container with a docker block always runs under "lxc-docker-secure"`
	if !strings.Contains(diags, want) {
		t.Errorf("plan output lacks the override warning %q:\n%s", want, diags)
	}
	if !strings.Contains(diags, "Warning: AppArmor profile overridden by the docker block") {
		t.Errorf("no warning summary in:\n%s", diags)
	}
}

// TestValidateDynamicBlocks validates a configuration whose network blocks
// and lxc_config come from a variable, unknown while validating.
func TestValidateDynamicBlocks(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir+"/main.tf", requirePhoenix+`variable "cts" {
  type = map(object({ nets = list(object({ name = string, bridge = string })), lxc = list(object({ key = string, value = string })) }))
}
resource "phoenix_lxc_container" "ct" {
  for_each   = var.cts
  node_name  = "pve1"
  template   = "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"
  lxc_config = each.value.lxc
  rootfs {
    storage = "local-lvm"
    size    = "8G"
  }
  dynamic "network" {
    for_each = each.value.nets
    content {
      name   = network.value.name
      bridge = network.value.bridge
    }
  }
}
`)
	if out, err := runTerraform(t, dir, "validate", "-no-color"); err != nil {
		t.Fatalf("terraform validate: %v\n%s", err, out)
	}
}
