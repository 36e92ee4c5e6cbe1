package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/docker"
	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/pvesim"
)

// adoptContainer creates container vmid on the simulator outside Terraform,
// as another provider (or a person) would have, and starts it.
func (e *accEnv) adoptContainer(t *testing.T, params map[string]string) {
	t.Helper()
	e.adoptContainerOn(t, e.node, params)
}

// adoptContainerOn is adoptContainer on another node.
func (e *accEnv) adoptContainerOn(t *testing.T, node string, params map[string]string) {
	t.Helper()
	ctx := context.Background()
	upid, err := e.client.CreateContainer(ctx, node, params)
	if err == nil {
		err = e.client.WaitTask(ctx, upid)
	}
	var vmid int
	if err == nil {
		_, err = fmt.Sscan(params["vmid"], &vmid)
	}
	if err == nil {
		upid, err = e.client.Start(ctx, node, vmid)
		if err == nil {
			err = e.client.WaitTask(ctx, upid)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
}

// sourceProviderDir is a directory holding a provider binary under the
// name terraform-provider-proxmox. Terraform refuses to plan a state whose
// resources belong to a provider it cannot start, even when a moved block
// hands them to another provider; it never asks that provider for the
// source resource type's schema (the stand-in, this provider's own binary,
// has none): the raw state goes to MoveResourceState.
func sourceProviderDir(t *testing.T) string {
	t.Helper()
	buildDevProvider(t)
	dir := t.TempDir()
	if err := os.Symlink(filepath.Join(devProviderDir, "terraform-provider-phoenix"), filepath.Join(dir, "terraform-provider-proxmox")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// stateFile is a Terraform state (format 4) holding one resource of
// another provider, as the CLI the tests run would have written it (its
// version, its default registry host).
func stateFile(t *testing.T, provider, typ string, attrs string) string {
	t.Helper()
	var a map[string]any
	if err := json.Unmarshal([]byte(attrs), &a); err != nil {
		t.Fatalf("source state: %v", err)
	}
	doc := map[string]any{
		"version": 4, "terraform_version": testCLI(t).version, "serial": 1, "lineage": "0c7e64d0-1d0e-4b5c-9a43-5d8e0ad0b001",
		"outputs": map[string]any{},
		"resources": []any{map[string]any{
			"mode": "managed", "type": typ, "name": "ct",
			"provider": fmt.Sprintf("provider[%q]", envOr("TF_ACC_PROVIDER_HOST", "registry.terraform.io")+"/"+provider),
			"instances": []any{map[string]any{
				"schema_version": 0, "attributes": a, "sensitive_attributes": []any{},
			}},
		}},
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// cli is the Terraform-compatible CLI the tests run.
type cli struct {
	// name is "Terraform" or "OpenTofu"; version is its version without
	// the "v".
	name, version string
	err           error
}

var (
	testCLIOnce sync.Once
	testCLIInfo cli
)

// testCLI tells which CLI the tests run (TF_ACC_TERRAFORM_PATH, else
// terraform on PATH) from its "version" output: OpenTofu prints
// "OpenTofu v1.x.y" and, in -json, the same terraform_version key.
func testCLI(t *testing.T) cli {
	t.Helper()
	testCLIOnce.Do(func() {
		tf := envOr("TF_ACC_TERRAFORM_PATH", "terraform")
		cmd := exec.Command(tf, "version")
		cmd.Env = append(os.Environ(), "CHECKPOINT_DISABLE=1")
		plain, err := cmd.Output()
		if err != nil {
			testCLIInfo.err = fmt.Errorf("%s version: %w", tf, err)
			return
		}
		first, _, _ := strings.Cut(string(plain), "\n")
		f := strings.Fields(first)
		if len(f) < 2 || !strings.HasPrefix(f[1], "v") {
			testCLIInfo.err = fmt.Errorf("%s version printed %q", tf, first)
			return
		}
		testCLIInfo = cli{name: f[0], version: strings.TrimPrefix(f[1], "v")}
	})
	if testCLIInfo.err != nil {
		t.Skipf("cannot tell which Terraform CLI the tests run: %v", testCLIInfo.err)
	}
	return testCLIInfo
}

// cliFeature is what a test needs of the CLI: the first Terraform and
// OpenTofu releases that have it, "" for an OpenTofu that has none.
type cliFeature struct{ what, terraform, openTofu string }

var (
	// OpenTofu 1.10 added moves between resource types
	// (opentofu/opentofu#2370).
	featureMoveAcrossTypes = cliFeature{"moved blocks between resource types", "1.8", "1.10"}
	// OpenTofu added resource identity after 1.11.0
	// (opentofu/opentofu#3671).
	featureImportIdentity = cliFeature{"import blocks with an identity", "1.12", "1.12"}
	// OpenTofu has no list resources nor query command.
	featureQuery = cliFeature{"list resources and terraform query", "1.14", ""}
)

// needCLI skips a test, saying why in one line, when the CLI the tests run
// lacks f.
func needCLI(t *testing.T, f cliFeature) {
	t.Helper()
	c := testCLI(t)
	least := f.terraform
	if c.name == "OpenTofu" {
		if f.openTofu == "" {
			t.Skipf("OpenTofu %s: OpenTofu has no %s", c.version, f.what)
		}
		least = f.openTofu
	}
	if !versionAtLeast(c.version, least) {
		t.Skipf("%s %s is older than %s, which %s need (make testacc-next builds a newer Terraform)", c.name, c.version, least, f.what)
	}
}

// versionAtLeast compares the major and minor numbers of two versions.
func versionAtLeast(have, least string) bool {
	var hMaj, hMin, mMaj, mMin int
	if _, err := fmt.Sscanf(have, "%d.%d", &hMaj, &hMin); err != nil {
		return false
	}
	if _, err := fmt.Sscanf(least, "%d.%d", &mMaj, &mMin); err != nil {
		return false
	}
	return hMaj > mMaj || hMaj == mMaj && hMin >= mMin
}

// planActions returns the actions of a saved plan by resource address,
// with the address each resource moved from.
func planActions(t *testing.T, dir string, overrides map[string]string) (actions map[string]string, movedFrom map[string]string) {
	t.Helper()
	out, err := runTerraformWith(t, dir, overrides, "show", "-json", "tfplan")
	if err != nil {
		t.Fatalf("terraform show: %v\n%s", err, out)
	}
	var plan struct {
		ResourceChanges []struct {
			Address         string `json:"address"`
			PreviousAddress string `json:"previous_address"`
			Change          struct {
				Actions []string `json:"actions"`
			} `json:"change"`
		} `json:"resource_changes"`
	}
	if err := json.Unmarshal([]byte(out), &plan); err != nil {
		t.Fatal(err)
	}
	actions, movedFrom = map[string]string{}, map[string]string{}
	for _, rc := range plan.ResourceChanges {
		actions[rc.Address] = strings.Join(rc.Change.Actions, ",")
		movedFrom[rc.Address] = rc.PreviousAddress
	}
	return actions, movedFrom
}

// TestAccAdoptMoved adopts containers that bpg/proxmox and Telmate/proxmox
// managed with a moved block: the first plan moves the state and changes
// nothing, the plan and its apply send no write to Proxmox VE, and the
// provider manages the container from then on.
func TestAccAdoptMoved(t *testing.T) {
	t.Parallel()
	e, _ := simConfigDir(t, "writes state files for containers the test creates, and counts the API writes: needs the simulator")
	needCLI(t, featureMoveAcrossTypes)
	for _, tc := range []struct {
		name, provider, typ string
		vmid                int
		create              map[string]string
		state               string
		config              string
		warning             string
	}{
		{
			name: "bpg", provider: "bpg/proxmox", typ: "proxmox_virtual_environment_container", vmid: 4310,
			create: map[string]string{
				"hostname": "web1", "description": "web front", "memory": "1024", "swap": "256", "cores": "2",
				"rootfs": e.storage + ":8", "unprivileged": "1", "tags": "prod;web", "onboot": "1",
				"net0": "name=eth0,bridge=" + e.bridge + ",ip=10.0.0.21/24,gw=10.0.0.1,hwaddr=BC:24:11:00:43:10",
			},
			state: `{
  "id": "4310", "node_name": "pve1", "vm_id": 4310, "description": "web front", "tags": ["prod", "web"],
  "unprivileged": true, "start_on_boot": true, "started": true, "protection": false, "template": false,
  "timeout_create": 1800, "timeout_clone": 1800, "timeout_update": 1800, "timeout_delete": 60,
  "ipv4": {"eth0": "10.0.0.21"}, "ipv6": {},
  "cpu": [{"architecture": "amd64", "cores": 2, "units": 1024, "limit": 0}],
  "memory": [{"dedicated": 1024, "swap": 256}],
  "disk": [{"datastore_id": "local-lvm", "size": 8, "replicate": true, "acl": true, "mount_options": [], "path_in_datastore": "vm-4310-disk-0"}],
  "console": [{"enabled": true, "type": "tty", "tty_count": 2}],
  "initialization": [{"hostname": "web1",
    "ip_config": [{"ipv4": [{"address": "10.0.0.21/24", "gateway": "10.0.0.1"}], "ipv6": []}],
    "user_account": [{"keys": [], "password": "s3cret-pw"}]}],
  "network_interface": [{"name": "eth0", "bridge": "vmbr0", "enabled": true, "firewall": false,
    "mac_address": "BC:24:11:00:43:10", "mtu": 0, "rate_limit": 0, "vlan_id": 0}],
  "operating_system": [{"template_file_id": "` + e.template + `", "type": "debian"}]
}`,
			config: `
  hostname      = "web1"
  description   = "web front"
  tags          = ["prod", "web"]
  memory        = 1024
  swap          = 256
  cores         = 2
  start_on_boot = true
` + diskAndNIC("local-lvm", "8G", "vmbr0", "10.0.0.21/24", "10.0.0.1"),
			warning: "disk[0].acl",
		},
		{
			name: "telmate", provider: "telmate/proxmox", typ: "proxmox_lxc", vmid: 4311,
			create: map[string]string{
				"hostname": "db1", "memory": "2048", "cores": "1", "rootfs": e.storage + ":8", "unprivileged": "1",
				"tags": "db", "net0": "name=eth0,bridge=" + e.bridge + ",ip=dhcp,hwaddr=BC:24:11:00:43:11",
			},
			state: `{
  "id": "pve1/lxc/4311", "target_node": "pve1", "vmid": 4311, "hostname": "db1", "tags": "db",
  "ostemplate": "` + e.template + `", "unprivileged": true, "onboot": false, "start": true,
  "cores": 1, "cpulimit": 0, "cpuunits": 0, "memory": 2048, "swap": 512, "password": "s3cret-pw",
  "hagroup": "db-nodes",
  "rootfs": [{"storage": "local-lvm", "size": "8G", "volume": "local-lvm:vm-4311-disk-0"}],
  "network": [{"id": 0, "name": "eth0", "bridge": "vmbr0", "ip": "dhcp", "hwaddr": "BC:24:11:00:43:11", "type": "veth"}]
}`,
			config: `
  hostname = "db1"
  tags     = ["db"]
  memory   = 2048
  cores    = 1
` + diskAndNIC("local-lvm", "8G", "vmbr0", "dhcp", ""),
			warning: "hagroup",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			create := map[string]string{"vmid": fmt.Sprint(tc.vmid), "ostemplate": e.template}
			for k, v := range tc.create {
				create[k] = v
			}
			e.adoptContainer(t, create)
			m := e.newMoveRun(t, tc.provider, tc.typ, tc.state)
			m.configure(tc.vmid, tc.config)
			m.move(tc.warning)
			// From here on the provider manages it.
			m.configure(tc.vmid, strings.Replace(tc.config, "  cores ", "  cpu_units = 2048\n  cores ", 1))
			m.applyCPUUnits(tc.vmid)
		})
	}
}

// TestAccAdoptMovedDocker adopts, with a moved block, containers that run
// Docker and that bpg/proxmox or Telmate/proxmox managed (neither knows of
// Docker): the refresh after the move reads the running Docker back, so a
// configuration with a docker block plans nothing, the plan and its apply
// write nothing to Proxmox VE nor to the node and never run the install,
// and the provider updates the container afterwards.
func TestAccAdoptMovedDocker(t *testing.T) {
	e := newSimSSHEnv(t, "containers with Docker made outside the configuration, and the API and SSH logs")
	needCLI(t, featureMoveAcrossTypes)
	for _, tc := range []struct {
		name, provider, typ, host, ip string
		vmid                          int
		// state is the source's state, given the container's MAC address
		// and root volume.
		state func(hwaddr, volume string) string
	}{
		{
			name: "bpg", provider: "bpg/proxmox", typ: "proxmox_virtual_environment_container",
			host: "dock1", ip: "10.0.0.34/24", vmid: 4314,
			state: func(hwaddr, volume string) string {
				return fmt.Sprintf(`{
  "id": "4314", "node_name": %[1]q, "vm_id": 4314, "tags": [], "unprivileged": true, "started": true,
  "start_on_boot": false, "protection": false, "template": false,
  "timeout_create": 1800, "timeout_clone": 1800, "timeout_update": 1800, "timeout_delete": 60,
  "cpu": [{"architecture": "amd64", "cores": 1, "units": 0, "limit": 0}],
  "memory": [{"dedicated": 1024, "swap": 512}],
  "disk": [{"datastore_id": %[2]q, "size": 8, "replicate": true, "mount_options": [], "path_in_datastore": %[3]q}],
  "features": [{"nesting": true, "keyctl": true, "fuse": false, "mount": []}],
  "initialization": [{"hostname": "dock1",
    "ip_config": [{"ipv4": [{"address": "10.0.0.34/24", "gateway": "10.0.0.1"}], "ipv6": []}]}],
  "network_interface": [{"name": "eth0", "bridge": %[4]q, "enabled": true, "firewall": false,
    "mac_address": %[5]q, "mtu": 0, "rate_limit": 0, "vlan_id": 0}],
  "operating_system": [{"template_file_id": %[6]q, "type": "debian"}]
}`, e.node, e.storage, strings.TrimPrefix(volume, e.storage+":"), e.bridge, hwaddr, e.template)
			},
		},
		{
			name: "telmate", provider: "telmate/proxmox", typ: "proxmox_lxc",
			host: "dock2", ip: "10.0.0.35/24", vmid: 4315,
			state: func(hwaddr, volume string) string {
				return fmt.Sprintf(`{
  "id": "%[1]s/lxc/4315", "target_node": %[1]q, "vmid": 4315, "hostname": "dock2", "ostemplate": %[2]q,
  "unprivileged": true, "onboot": false, "start": true, "cores": 1, "memory": 1024, "swap": 512,
  "features": [{"nesting": true, "keyctl": true, "fuse": false, "mount": ""}],
  "rootfs": [{"storage": %[3]q, "size": "8G", "volume": %[4]q}],
  "network": [{"id": 0, "name": "eth0", "bridge": %[5]q, "ip": "10.0.0.35/24", "gw": "10.0.0.1", "hwaddr": %[6]q, "type": "veth"}]
}`, e.node, e.template, e.storage, volume, e.bridge, hwaddr)
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := fmt.Sprintf("  hostname     = %q\n  unprivileged = true\n  memory       = 1024\n  cores        = 1\n", tc.host) +
				diskAndNIC(e.storage, "8G", e.bridge, tc.ip, "10.0.0.1") + "  docker {}\n"
			// The container and its Docker, made by a configuration of
			// their own; the state the move starts from is the source
			// provider's.
			made := t.TempDir()
			writeFile(t, filepath.Join(made, "main.tf"), requirePhoenix+e.providerHCL()+
				fmt.Sprintf("resource \"phoenix_lxc_container\" \"ct\" {\n  node_name = %q\n  vmid      = %d\n  template  = %q\n%s}\n",
					e.node, tc.vmid, e.template, body))
			if out, err := runTerraform(t, made, "apply", "-no-color", "-auto-approve", "-input=false"); err != nil {
				t.Fatalf("apply: %v\n%s", err, out)
			}
			cfg, err := e.client.ContainerConfig(t.Context(), e.node, tc.vmid)
			if err != nil {
				t.Fatal(err)
			}
			hwaddr := regexp.MustCompile(`hwaddr=([0-9A-Fa-f:]+)`).FindStringSubmatch(cfg.Values["net0"])
			volume, _, _ := strings.Cut(cfg.Values["rootfs"], ",")
			if hwaddr == nil || volume == "" {
				t.Fatalf("net0 %q or rootfs %q without a MAC address or volume", cfg.Values["net0"], cfg.Values["rootfs"])
			}

			m := e.newMoveRun(t, tc.provider, tc.typ, tc.state(hwaddr[1], volume))
			m.configure(tc.vmid, body)
			m.move("")
			if err := e.checkNoSSHWrites()(nil); err != nil {
				t.Error(err)
			}
			if n := e.installRuns(); n != 0 {
				t.Errorf("the install script ran %d times for the moved container", n)
			}
			docker := m.stateDocker()
			if docker["service_active"] != true || docker["installed_version"] == "" || docker["fingerprint"] == "" {
				t.Errorf("the moved state's docker block does not hold the Docker found running: %v", docker)
			}

			m.configure(tc.vmid, strings.Replace(body, "  cores ", "  cpu_units = 2048\n  cores ", 1))
			m.applyCPUUnits(tc.vmid)
			if n := e.installRuns(); n != 0 {
				t.Errorf("the install script ran %d times after the move", n)
			}
		})
	}
}

// stateDocker is the docker block of phoenix_lxc_container.ct in the state.
func (m *moveRun) stateDocker() map[string]any {
	t := m.t
	t.Helper()
	out, err := m.terraform("show", "-json")
	if err != nil {
		t.Fatalf("terraform show: %v\n%s", err, out)
	}
	var st struct {
		Values struct {
			RootModule struct {
				Resources []struct {
					Address string         `json:"address"`
					Values  map[string]any `json:"values"`
				} `json:"resources"`
			} `json:"root_module"`
		} `json:"values"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatal(err)
	}
	for _, r := range st.Values.RootModule.Resources {
		if r.Address == "phoenix_lxc_container.ct" {
			d, _ := r.Values["docker"].(map[string]any)
			return d
		}
	}
	t.Fatalf("phoenix_lxc_container.ct not in the state:\n%s", out)
	return nil
}

// moveRun is a configuration directory whose state holds one resource, ct,
// of another provider, and whose configuration moves it to
// phoenix_lxc_container.ct.
type moveRun struct {
	e         *accEnv
	t         *testing.T
	dir, typ  string
	overrides map[string]string
}

// newMoveRun writes the source provider's state (typ's attributes as JSON).
func (e *accEnv) newMoveRun(t *testing.T, provider, typ, state string) *moveRun {
	t.Helper()
	m := &moveRun{e: e, t: t, dir: t.TempDir(), typ: typ, overrides: map[string]string{provider: sourceProviderDir(t)}}
	writeFile(t, filepath.Join(m.dir, "terraform.tfstate"), stateFile(t, provider, typ, state))
	return m
}

// configure writes the configuration: the moved block and container vmid
// with body.
func (m *moveRun) configure(vmid int, body string) {
	m.t.Helper()
	e := m.e
	writeFile(m.t, filepath.Join(m.dir, "main.tf"), requirePhoenix+e.providerHCL()+
		fmt.Sprintf("moved {\n  from = %s.ct\n  to   = phoenix_lxc_container.ct\n}\n", m.typ)+
		fmt.Sprintf("resource \"phoenix_lxc_container\" \"ct\" {\n  node_name = %q\n  vmid      = %d\n  template  = %q\n%s}\n",
			e.node, vmid, e.template, body))
}

func (m *moveRun) terraform(args ...string) (string, error) {
	m.t.Helper()
	return runTerraformWith(m.t, m.dir, m.overrides, args...)
}

// move plans the move: the resource moves and nothing else is to do; the
// plan's warning names warning, or there is none when it is empty. Then it
// applies the plan; neither sends a write to Proxmox VE.
func (m *moveRun) move(warning string) {
	t := m.t
	t.Helper()
	m.e.resetLog()
	out, err := m.terraform("plan", "-no-color", "-input=false", "-out=tfplan")
	if err != nil {
		t.Fatalf("plan: %v\n%s", err, out)
	}
	actions, from := planActions(t, m.dir, m.overrides)
	if got := actions["phoenix_lxc_container.ct"]; got != "no-op" || from["phoenix_lxc_container.ct"] != m.typ+".ct" {
		t.Fatalf("plan: %s from %q, want no-op from %s.ct\n%s", got, from["phoenix_lxc_container.ct"], m.typ, out)
	}
	if !strings.Contains(out, m.typ+".ct has moved to phoenix_lxc_container.ct") {
		t.Errorf("plan output does not show the move:\n%s", out)
	}
	if warned := strings.Contains(out, "Settings not carried over"); warned != (warning != "") || !strings.Contains(out, warning) {
		t.Errorf("plan output: want the warning naming %q (none if empty):\n%s", warning, out)
	}
	if out, err := m.terraform("apply", "-no-color", "-input=false", "tfplan"); err != nil {
		t.Fatalf("apply of the move: %v\n%s", err, out)
	}
	if err := m.e.checkNoMutations()(nil); err != nil {
		t.Error(err)
	}
}

// applyCPUUnits applies a configuration that sets cpu_units to 2048: the
// provider manages the moved container, so the change is applied in place,
// and then nothing is left to do.
func (m *moveRun) applyCPUUnits(vmid int) {
	t := m.t
	t.Helper()
	if out, err := m.terraform("apply", "-no-color", "-input=false", "-auto-approve"); err != nil {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	cfg, err := m.e.client.ContainerConfig(context.Background(), m.e.node, vmid)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Values["cpuunits"] != "2048" {
		t.Errorf("cpuunits = %q after the update, want 2048", cfg.Values["cpuunits"])
	}
	if out, err := m.terraform("plan", "-no-color", "-input=false", "-detailed-exitcode"); err != nil {
		t.Errorf("plan after the update is not empty: %v\n%s", err, out)
	}
}

// TestAccAdoptImportByIdentity adopts a container with an import block that
// names its identity (Terraform 1.12 or newer; make testacc-next runs it
// with a Terraform built for it): nothing to change, and the state's
// identity names the container.
func TestAccAdoptImportByIdentity(t *testing.T) {
	e := newAccEnv(t)
	needCLI(t, featureImportIdentity)
	e.adoptContainer(t, map[string]string{
		"vmid": "4320", "ostemplate": e.template, "hostname": "byidentity", "memory": "768",
		"rootfs": e.storage + ":4", "unprivileged": "1",
		"net0": "name=eth0,bridge=" + e.bridge + ",ip=dhcp",
	})
	cfg := e.providerHCL() + fmt.Sprintf(`
import {
  to       = phoenix_lxc_container.test
  identity = { node_name = %[1]q, vmid = 4320 }
}

resource "phoenix_lxc_container" "test" {
  node_name = %[1]q
  vmid      = 4320
  hostname  = "byidentity"
  memory    = 768
%[2]s}
`, e.node, diskAndNIC(e.storage, "4G", e.bridge, "dhcp", ""))
	identity := statecheck.ExpectIdentity(ctAddr, map[string]knownvalue.Check{
		"node_name": knownvalue.StringExact(e.node),
		"vmid":      knownvalue.Int64Exact(4320),
	})
	e.resetLog()
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config:            cfg,
				ConfigPlanChecks:  planAction(plancheck.ResourceActionNoop),
				ConfigStateChecks: []statecheck.StateCheck{identity},
				Check:             e.checkNoMutations(),
			},
			{
				// Adopted: a change is an update in place, and keeps the identity.
				Config:            strings.Replace(cfg, "memory    = 768", "memory    = 1024", 1),
				ConfigStateChecks: []statecheck.StateCheck{identity},
				ConfigPlanChecks:  planAction(plancheck.ResourceActionUpdate),
			},
		},
	})
}

// TestAccAdoptQuery finds containers with "terraform query" (Terraform 1.14
// or newer; make testacc-next runs it with a Terraform built for it) in a
// cluster of 20 containers on two nodes, and adopts what
// -generate-config-out writes: a list block without filters finds all 20,
// one with every filter set finds exactly the four that pass them all, and
// the generated configuration imports those with nothing to change.
func TestAccAdoptQuery(t *testing.T) {
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance test: set TF_ACC=1 (make test does) to run it")
	}
	needCLI(t, featureQuery)
	e := newAccEnv(t, func(o *pvesim.Options) { o.Nodes = []string{"pve1", "pve2"} })
	if e.sim == nil {
		t.Skip("creates 20 containers the filters must tell apart in a cluster that holds nothing else: needs the simulator")
	}
	dir := t.TempDir()
	// Containers 4330-4339 on pve1, 4340-4349 on pve2; every third one a
	// "db-" host name, every fourth one tagged db instead of web.
	for i := range 20 {
		node, host, tags := "pve1", fmt.Sprintf("web-%02d", i), "prod;web"
		if i >= 10 {
			node = "pve2"
		}
		if i%3 == 2 {
			host = fmt.Sprintf("db-%02d", i)
		}
		if i%4 == 3 {
			tags = "db"
		}
		e.adoptContainerOn(t, node, map[string]string{
			"vmid": fmt.Sprint(4330 + i), "ostemplate": e.template, "hostname": host, "tags": tags, "memory": "512",
			"rootfs": e.storage + ":4", "unprivileged": "1", "net0": "name=eth0,bridge=" + e.bridge + ",ip=dhcp",
		})
	}
	writeFile(t, filepath.Join(dir, "main.tf"), requirePhoenix+e.providerHCL())
	// Terraform generates configuration for every list block of a query:
	// the unfiltered list runs on its own first.
	writeFile(t, filepath.Join(dir, "all.tfquery.hcl"), `
list "phoenix_lxc_container" "all" {
  provider = phoenix
}
`)
	out, err := runTerraform(t, dir, "query", "-no-color")
	if err != nil {
		t.Fatalf("terraform query: %v\n%s", err, out)
	}
	if err := os.Remove(filepath.Join(dir, "all.tfquery.hcl")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "web.tfquery.hcl"), `
list "phoenix_lxc_container" "web" {
  provider         = phoenix
  include_resource = true
  config {
    node_name        = "pve2"
    tags             = ["web"]
    hostname_pattern = "^web-"
    vmid_max         = 4347
  }
}
`)
	webOut, err := runTerraform(t, dir, "query", "-no-color", "-generate-config-out=generated.tf")
	if err != nil {
		t.Fatalf("terraform query: %v\n%s", err, webOut)
	}
	out += webOut
	var all, web []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 0:
		case f[0] == "list.phoenix_lxc_container.all":
			all = append(all, f[len(f)-1])
		case f[0] == "list.phoenix_lxc_container.web":
			web = append(web, f[len(f)-1])
		}
	}
	if len(all) != 20 {
		t.Errorf("the unfiltered list found %d containers, want 20:\n%s", len(all), out)
	}
	// 4341 and 4344 are "db-" hosts, 4345 is tagged db, 4348 and 4349 are
	// past vmid_max, 4330-4339 are on pve1.
	if want := []string{"(pve2/4340)", "(pve2/4342)", "(pve2/4343)", "(pve2/4346)"}; !slices.Equal(web, want) {
		t.Errorf("the filtered list found %v, want %v:\n%s", web, want, out)
	}
	e.planGeneratedImports(dir, 4)
}

// planGeneratedImports plans the configuration query -generate-config-out
// wrote in dir (its query files removed): n imports with nothing to change;
// applies them, which must write nothing; and plans again, empty.
func (e *accEnv) planGeneratedImports(dir string, n int) {
	t := e.t
	t.Helper()
	gen, err := os.ReadFile(filepath.Join(dir, "generated.tf"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(string(gen), "resource \"phoenix_lxc_container\""); !strings.Contains(string(gen), "identity") || got != n {
		t.Fatalf("generated configuration holds %d containers, want %d with their identity:\n%s", got, n, gen)
	}
	queries, _ := filepath.Glob(filepath.Join(dir, "*.tfquery.hcl"))
	for _, q := range queries {
		if err := os.Remove(q); err != nil {
			t.Fatal(err)
		}
	}
	e.resetLog()
	out, err := runTerraform(t, dir, "plan", "-no-color", "-input=false", "-out=tfplan")
	if err != nil {
		t.Fatalf("plan of the generated configuration: %v\n%s", err, out)
	}
	if want := fmt.Sprintf("Plan: %d to import, 0 to add, 0 to change, 0 to destroy.", n); !strings.Contains(out, want) {
		t.Errorf("plan of the generated configuration, want %q:\n%s", want, out)
	}
	actions, _ := planActions(t, dir, nil)
	if len(actions) != n {
		t.Errorf("plan changes %v, want the %d imports", actions, n)
	}
	for addr, a := range actions {
		if a != "no-op" {
			t.Errorf("%s: %s, want an import with nothing to change\n%s", addr, a, gen)
		}
	}
	if out, err := runTerraform(t, dir, "apply", "-no-color", "-input=false", "tfplan"); err != nil {
		t.Fatalf("apply of the imports: %v\n%s", err, out)
	}
	if err := e.checkNoMutations()(nil); err != nil {
		t.Error(err)
	}
	if out, err := runTerraform(t, dir, "plan", "-no-color", "-input=false", "-detailed-exitcode"); err != nil {
		t.Errorf("plan after the imports is not empty: %v\n%s", err, out)
	}
}

// TestAccAdoptQueryDocker finds the containers that run Docker with the
// has_docker filter (one read-only check per running container, over SSH,
// in one node command a list) and adopts them: the generated configuration holds the docker block read
// from the container, and its import plans nothing and installs nothing.
func TestAccAdoptQueryDocker(t *testing.T) {
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance test: set TF_ACC=1 (make test does) to run it")
	}
	needCLI(t, featureQuery)
	e := newSimSSHEnv(t, "containers with and without Docker made outside the configuration")
	// 4350 gets Docker from a configuration of its own; 4351 runs without
	// it and 4352 is stopped.
	made := t.TempDir()
	writeFile(t, filepath.Join(made, "main.tf"), requirePhoenix+e.containerConfig(ctConfig{VMID: 4350, Unprivileged: true, Extra: "  docker {}\n"}))
	if out, err := runTerraform(t, made, "apply", "-no-color", "-auto-approve", "-input=false"); err != nil {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	e.adoptContainer(t, map[string]string{
		"vmid": "4351", "ostemplate": e.template, "hostname": "plain", "memory": "512",
		"rootfs": e.storage + ":4", "unprivileged": "1", "net0": "name=eth0,bridge=" + e.bridge + ",ip=dhcp",
	})
	upid, err := e.client.CreateContainer(t.Context(), e.node, map[string]string{
		"vmid": "4352", "ostemplate": e.template, "hostname": "stopped", "rootfs": e.storage + ":4", "unprivileged": "1",
	})
	if err == nil {
		err = e.client.WaitTask(t.Context(), upid)
	}
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "main.tf"), requirePhoenix+e.providerHCL())
	writeFile(t, filepath.Join(dir, "docker.tfquery.hcl"), `
list "phoenix_lxc_container" "docker" {
  provider         = phoenix
  include_resource = true
  config {
    has_docker = true
  }
}

list "phoenix_lxc_container" "plain" {
  provider = phoenix
  config {
    has_docker = false
  }
}
`)
	e.resetLog()
	out, err := runTerraform(t, dir, "query", "-no-color", "-generate-config-out=generated.tf")
	if err != nil {
		t.Fatalf("terraform query: %v\n%s", err, out)
	}
	if err := e.checkNoMutations()(nil); err != nil {
		t.Errorf("query: %v", err)
	}
	if err := e.checkNoSSHWrites()(nil); err != nil {
		t.Errorf("query: %v", err)
	}
	// Each list checks the node's running containers with one command.
	var cmds []string
	for _, r := range e.sim.Requests() {
		if r.Source == "ssh" {
			cmds = append(cmds, r.Path)
		}
	}
	if len(cmds) != 2 {
		t.Errorf("the query ran %d SSH commands, want one for each list: %q", len(cmds), cmds)
	}
	for _, c := range cmds {
		words := strings.Fields(c)
		if !strings.Contains(c, docker.CheckBatchScriptName) || !slices.Contains(words, "4350") || !slices.Contains(words, "4351") || slices.Contains(words, "4352") {
			t.Errorf("a list's command does not check 4350 and 4351 (and only they) with %s: %.300s", docker.CheckBatchScriptName, c)
		}
	}
	listed := map[string][]string{}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], "list.phoenix_lxc_container.") {
			listed[f[0]] = append(listed[f[0]], f[len(f)-1])
		}
	}
	want := map[string][]string{
		"list.phoenix_lxc_container.docker": {"(" + e.node + "/4350)"},
		"list.phoenix_lxc_container.plain":  {"(" + e.node + "/4351)"},
	}
	if !reflect.DeepEqual(listed, want) {
		t.Errorf("query listed %v, want %v:\n%s", listed, want, out)
	}
	if !strings.Contains(strings.Join(strings.Fields(out), " "), "not checked, so not listed: "+e.node+"/4352.") {
		t.Errorf("query output does not name the stopped container it could not check:\n%s", out)
	}
	gen, err := os.ReadFile(filepath.Join(dir, "generated.tf"))
	if err != nil {
		t.Fatal(err)
	}
	// Terraform writes configuration for both lists' results; only 4350's
	// has a docker block.
	if n := len(regexp.MustCompile(`(?m)^\s*docker\s*{`).FindAll(gen, -1)); n != 1 {
		t.Errorf("the generated configuration has %d docker blocks, want 1:\n%s", n, gen)
	}
	e.planGeneratedImports(dir, 2)
	if n := e.installRuns(); n != 0 {
		t.Errorf("the install script ran %d times for the adopted container", n)
	}
	if out, err := runTerraform(t, made, "destroy", "-no-color", "-auto-approve", "-input=false"); err != nil {
		t.Errorf("destroy: %v\n%s", err, out)
	}
}
