package provider

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	tfjson "github.com/hashicorp/terraform-json"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/docker"
	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/phoenixcfg"
)

// realPhoenixConfigs is the Phoenix Hypervisor project's own
// phoenix_lxc_configs.json, in the repository's testdata.
const realPhoenixConfigs = "../../testdata/phoenix/phoenix_lxc_configs.json"

// phoenixConfigsPlan is how the examples/phoenix-configs module is applied
// to one document: the containers by clone depth and the snapshots the
// clones of each depth start from.
type phoenixConfigsPlan struct {
	levels    [][]string          // CTIDs by clone depth
	snapshots map[int][][2]string // depth -> {source CTID, snapshot} to take before applying it
	docker    []string            // CTIDs with a docker block
}

// planPhoenixConfigs reads a document with the function's own conversion
// and works out, for the CTIDs in only (all when nil) and their sources, the
// clone depths and the snapshots the clones need.
func planPhoenixConfigs(t *testing.T, doc []byte, only []string) phoenixConfigsPlan {
	t.Helper()
	entries, err := phoenixcfg.Convert(doc)
	if err != nil {
		t.Fatal(err)
	}
	parent := map[string]string{}
	for id, e := range entries {
		if e.Clone != nil {
			src := strconv.FormatInt(e.Clone.SourceVMID, 10)
			if _, inFile := entries[src]; inFile {
				parent[id] = src
			}
		}
	}
	selected := map[string]bool{}
	for id := range entries {
		if only == nil || slices.Contains(only, id) {
			for at := id; at != ""; at = parent[at] {
				selected[at] = true
			}
		}
	}
	p := phoenixConfigsPlan{snapshots: map[int][][2]string{}}
	ids := make([]string, 0, len(selected))
	for id := range selected {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		depth := 0
		for at := parent[id]; at != ""; at = parent[at] {
			depth++
		}
		for len(p.levels) <= depth {
			p.levels = append(p.levels, nil)
		}
		p.levels[depth] = append(p.levels[depth], id)
		e := entries[id]
		if e.Clone != nil && e.Clone.Snapshot != nil && parent[id] != "" {
			snap := [2]string{parent[id], *e.Clone.Snapshot}
			if !slices.Contains(p.snapshots[depth], snap) {
				p.snapshots[depth] = append(p.snapshots[depth], snap)
			}
		}
		if e.Docker != nil {
			p.docker = append(p.docker, id)
		}
	}
	return p
}

// snapshot takes a snapshot of a container, as the Phoenix scripts do of a
// template container once it is configured, and waits for it.
func (e *accEnv) snapshot(ctid, name string) {
	e.t.Helper()
	vmid, err := strconv.Atoi(ctid)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.createSnapshot(vmid, name, "taken by the test before cloning"); err != nil {
		e.t.Fatal(err)
	}
}

// phoenixConfigsRun applies examples/phoenix-configs the way a user does,
// with the Terraform CLI (TF_ACC_TERRAFORM_PATH: Terraform or OpenTofu) and
// the provider built from this tree: terraform-plugin-testing cannot hold a
// configuration with child modules in its state checks, and the module is
// made of them.
type phoenixConfigsRun struct {
	e    *accEnv
	dir  string
	file string
	vars string
}

func (e *accEnv) newPhoenixConfigsRun(configFile, vars string) *phoenixConfigsRun {
	e.t.Helper()
	file, err := filepath.Abs(configFile)
	if err != nil {
		e.t.Fatal(err)
	}
	return &phoenixConfigsRun{e: e, dir: e.t.TempDir(), file: file, vars: vars}
}

// write writes the root module: the module call with max_depth and the
// module's outputs re-exported.
func (r *phoenixConfigsRun) write(maxDepth string) {
	t := r.e.t
	t.Helper()
	module, err := filepath.Abs(filepath.Join("..", "..", "examples", "phoenix-configs"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(r.dir, "main.tf"), requirePhoenix+r.e.providerHCL()+fmt.Sprintf(`
module "phoenix" {
  source      = %q
  config_file = %q
  node_name   = %q
  max_depth   = %s
%s}

output "clone_levels" { value = module.phoenix.clone_levels }
output "effective_apparmor_profiles" { value = module.phoenix.effective_apparmor_profiles }
output "docker" { value = module.phoenix.docker }
output "unmapped" { value = module.phoenix.unmapped }
`, module, r.file, r.e.node, maxDepth, r.vars))
}

// tf runs the CLI in the run's directory and fails the test on an error.
func (r *phoenixConfigsRun) tf(args ...string) string {
	t := r.e.t
	t.Helper()
	out, err := runTerraform(t, r.dir, append(args, "-no-color")...)
	if err != nil {
		t.Fatalf("terraform %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// applyByDepth applies the module depth by depth (max_depth = 0, 1, ...),
// taking before each depth the snapshots its clones start from, as the
// Phoenix scripts take them of a configured template container. It checks
// the module's clone_levels output after each apply.
func (r *phoenixConfigsRun) applyByDepth(p phoenixConfigsPlan) {
	t := r.e.t
	t.Helper()
	for depth := range p.levels {
		for _, s := range p.snapshots[depth] {
			r.e.snapshot(s[0], s[1])
		}
		maxDepth := strconv.Itoa(depth)
		if depth == len(p.levels)-1 {
			maxDepth = "null"
		}
		r.write(maxDepth)
		if depth == 0 {
			r.tf("get")
		}
		start := time.Now()
		r.tf("apply", "-auto-approve", "-input=false")
		t.Logf("depth %d: %d containers applied in %s", depth, len(p.levels[depth]), time.Since(start).Round(time.Millisecond))
		var levels [][]string
		r.output("clone_levels", &levels)
		want := make([][]string, 5)
		for i := range want {
			want[i] = []string{}
			if i <= depth {
				want[i] = p.levels[i]
			}
		}
		if !reflect.DeepEqual(levels, want) {
			t.Fatalf("after applying depth %d: clone_levels = %v, want %v", depth, levels, want)
		}
	}
}

// output decodes one output of the root module.
func (r *phoenixConfigsRun) output(name string, into any) {
	t := r.e.t
	t.Helper()
	if err := json.Unmarshal([]byte(r.tf("output", "-json", name)), into); err != nil {
		t.Fatalf("output %s: %v", name, err)
	}
}

// reapplyChangesNothing plans again (the plan must be empty, checked with
// plancheck.ExpectEmptyPlan on the saved plan) and applies that plan, which
// must call no mutating API and run nothing over SSH that writes.
func (r *phoenixConfigsRun) reapplyChangesNothing() {
	t := r.e.t
	t.Helper()
	r.e.resetLog()
	r.tf("plan", "-input=false", "-out=tfplan")
	var plan tfjson.Plan
	if err := json.Unmarshal([]byte(r.tf("show", "-json", "tfplan")), &plan); err != nil {
		t.Fatal(err)
	}
	var resp plancheck.CheckPlanResponse
	plancheck.ExpectEmptyPlan().CheckPlan(t.Context(), plancheck.CheckPlanRequest{Plan: &plan}, &resp)
	if resp.Error != nil {
		t.Fatalf("re-apply: %v", resp.Error)
	}
	if n := len(plan.ResourceChanges); n == 0 {
		t.Fatal("the plan lists no resource at all")
	}
	r.tf("apply", "-input=false", "tfplan")
	if err := r.e.checkNoMutations()(nil); err != nil {
		t.Fatalf("re-apply: %v", err)
	}
	if err := r.e.checkNoSSHWrites()(nil); err != nil {
		t.Fatalf("re-apply: %v", err)
	}
}

// phoenixDocker is one value of the module's docker output.
type phoenixDocker struct {
	InstalledVersion *string                `json:"installed_version"`
	ServiceActive    bool                   `json:"service_active"`
	Tests            map[string]phoenixTest `json:"tests"`
}

// phoenixTest is one test case's run in the docker output.
type phoenixTest struct {
	Result     string `json:"result"`
	DurationMS int64  `json:"duration_ms"`
	RanAt      string `json:"ran_at"`
}

// checkDocker checks that Docker was installed, is active and passed its
// tests in every container of ids, and in no other.
func (r *phoenixConfigsRun) checkDocker(ids []string) {
	t := r.e.t
	t.Helper()
	var got map[string]phoenixDocker
	r.output("docker", &got)
	if len(got) != len(ids) {
		t.Errorf("docker output holds %d containers, want %v", len(got), ids)
	}
	for _, id := range ids {
		d, ok := got[id]
		switch {
		case !ok:
			t.Errorf("CT %s: no docker output", id)
		case d.InstalledVersion == nil || *d.InstalledVersion == "" || !d.ServiceActive:
			t.Errorf("CT %s: Docker not verified: %+v", id, d)
		case len(d.Tests) != 3 || d.Tests[docker.CaseServiceIsRunning].Result != "passed" ||
			d.Tests[docker.CaseNetworkAccess].Result != "passed" || d.Tests[docker.CaseHelloWorld].Result == "failed" ||
			d.Tests[docker.CaseServiceIsRunning].RanAt == "":
			t.Errorf("CT %s: tests %v", id, d.Tests)
		}
	}
}

// TestAccPhoenixConfigsExample_small applies examples/phoenix-configs to a
// document of three containers: a template container (its template given as
// a file path, as Phoenix files do) with a snapshot, a Docker container
// cloned from that snapshot, and a container with raw lxc lines and another
// AppArmor profile; the module's overrides map the storage pool, the bridge
// and the template path. Destroying removes everything, clones first.
func TestAccPhoenixConfigsExample_small(t *testing.T) {
	t.Parallel()
	e := newAccEnv(t, withSSH)
	e.needSSH()
	const file = "../phoenixcfg/testdata/phoenix_lxc_configs_migration.json"
	doc, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	p := planPhoenixConfigs(t, doc, nil)
	if got := fmt.Sprint(p.levels, p.snapshots, p.docker); got != "[[700 702] [701]] map[1:[[700 pre-configured]]] [701]" {
		t.Fatalf("fixture changed: levels, snapshots, docker = %s", got)
	}
	// 701 runs Docker beside "lxc.cgroup2.devices.allow=a" (every device of
	// the node), which the provider refuses: the module leaves it out.
	r := e.newPhoenixConfigsRun(file, fmt.Sprintf(`  storage_pools   = { "lxc-disks" = %q }
  bridge          = %q
  templates       = { "/srv/shared-iso/template/cache/debian-12-standard_12.7-1_amd64.tar.zst" = %q }
  drop_lxc_config = { "701" = ["lxc.cgroup2.devices.allow"] }
`, e.storage, e.bridge, e.template))
	r.applyByDepth(p)

	var profiles map[string]string
	r.output("effective_apparmor_profiles", &profiles)
	if want := map[string]string{"700": "unconfined", "701": dockerProfile.Name, "702": "lxc-default-cgns"}; !reflect.DeepEqual(profiles, want) {
		t.Errorf("effective_apparmor_profiles = %v, want %v", profiles, want)
	}
	r.checkDocker([]string{"701"})
	var unmapped map[string][]string
	r.output("unmapped", &unmapped)
	wantUnmapped := map[string][]string{
		"700": {`gpu_assignment: "none"`, `portainer_role: "none"`, `features[0]: "base_setup"`,
			`template_snapshot_name: "pre-configured"`, `apparmor_manages_nesting: true`},
		"701": {`gpu_assignment: "none"`, `portainer_role: "agent"`,
			`firewall.rules: [{"type":"in","action":"ACCEPT","source":"10.20.0.5","proto":"tcp","port":"9001"}]`,
			`ports: ["9001:9001"]`, `apparmor_manages_nesting: true`,
			`tests.health_checks[1]: {"name":"Check DNS Resolution","type":"script","path":"docker/check_dns_resolution.sh"}`,
			`lxc_options: "lxc.cgroup2.devices.allow=a" (left out by drop_lxc_config)`},
		"702": {`gpu_assignment: "none"`, `portainer_role: "none"`, `apparmor_manages_nesting: false`},
	}
	if !reflect.DeepEqual(unmapped, wantUnmapped) {
		t.Errorf("unmapped = %q\nwant %q", unmapped, wantUnmapped)
	}
	if e.simOnly("checking the clone's config file on the node") {
		e.checkSmallClone()
	}

	r.reapplyChangesNothing()

	r.tf("destroy", "-auto-approve", "-input=false")
	if cts := e.containers(); len(cts) != 0 {
		t.Errorf("after destroy the cluster still holds %d containers", len(cts))
	}
}

// checkSmallClone checks that what the file says of the Docker clone 701
// reached its configuration file.
func (e *accEnv) checkSmallClone() {
	t := e.t
	t.Helper()
	want := map[string]string{
		"hostname": "docker-01", "memory": "2048", "swap": "256", "cores": "2", "onboot": "1",
		"features": "keyctl=1,nesting=1",
	}
	main := e.conf(701).Main()
	for k, v := range want {
		if got, _ := main.Get(k); got != v {
			t.Errorf("CT 701: %s = %q, want %q", k, got, v)
		}
	}
	// Proxmox VE reads "order=" as optional.
	if startup, _ := main.Get("startup"); strings.TrimPrefix(startup, "order=") != "2,up=5" {
		t.Errorf("CT 701: startup = %q, want order=2,up=5", startup)
	}
	net0, _ := main.Get("net0")
	for _, part := range []string{"name=eth0", "bridge=" + e.bridge, "firewall=1", "gw=10.20.0.1", "hwaddr=BC:24:11:00:07:01", "ip=10.20.0.71/24"} {
		if !slices.Contains(strings.Split(net0, ","), part) {
			t.Errorf("CT 701: net0 = %q, want %s in it", net0, part)
		}
	}
	if rootfs, _ := main.Get("rootfs"); !strings.HasPrefix(rootfs, e.storage+":") || !strings.HasSuffix(rootfs, ",size=16G") {
		t.Errorf("CT 701: rootfs = %q, want %s:...,size=16G", rootfs, e.storage)
	}
	var lxc []string
	for _, kv := range main.LXC() {
		lxc = append(lxc, kv.Key+": "+kv.Value)
	}
	for _, line := range []string{
		"lxc.mount.entry: /dev/fuse dev/fuse none bind,create=file",
		"lxc.apparmor.profile: " + dockerProfile.Name,
	} {
		if !slices.Contains(lxc, line) {
			t.Errorf("CT 701: raw lxc lines %q lack %q", lxc, line)
		}
	}
	if slices.Contains(lxc, "lxc.cgroup2.devices.allow: a") {
		t.Errorf("CT 701: raw lxc lines %q hold the line the module was told to leave out", lxc)
	}
}

// TestAccPhoenixConfigsExample_realFixture applies examples/phoenix-configs
// to the Phoenix Hypervisor project's own phoenix_lxc_configs.json: all of
// its containers, depth by depth (the template container, its clones, their
// clones...), with the snapshots the clones start from taken in between.
// Only the storage pools are mapped to the simulator's, the template the
// file names by path is mapped with the module's templates variable, and one
// raw line the provider refuses for Docker is left out. The volumes become
// mount points and the GPU assignments devices (set with pct set over SSH,
// as Proxmox VE reserves devices to root@pam). Every container with the
// docker feature must end up with Docker verified under lxc-docker-secure,
// and a last apply must change nothing.
func TestAccPhoenixConfigsExample_realFixture(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile(realPhoenixConfigs)
	if err != nil {
		t.Fatal(err)
	}
	e := newAccEnv(t, withSSH)
	e.needSSH()
	if !e.simOnly("applying the real fixture") {
		t.Skip("creates the fixture's own CTIDs 900 to 960: only on the simulator")
	}
	p := planPhoenixConfigs(t, doc, nil)
	if len(p.docker) == 0 {
		t.Fatal("the fixture has no Docker container")
	}
	t.Logf("clone levels %v, snapshots by depth %v, Docker containers %v", p.levels, p.snapshots, p.docker)
	const ubuntu = "/fastData/shared-iso/template/cache/ubuntu-24.04-standard_24.04-2_amd64.tar.zst"
	// 910 (Portainer) runs Docker with "lxc.mount.auto=sys:rw", a writable
	// /sys that no AppArmor profile can make safe, and 902 with
	// "lxc.cgroup2.devices.allow=a", every device of the node: the provider
	// refuses both beside a docker block, so the module leaves those lines
	// out (and lists them in unmapped).
	// The pools of its volumes and zfs_volumes (mount points, some of them
	// next to GPU devices, which need the provider's SSH access) map to the
	// simulator's storage as well.
	r := e.newPhoenixConfigsRun(realPhoenixConfigs, fmt.Sprintf(`  storage_pools   = { "quickOS-lxc-disks" = %[1]q, "quickOS-shared-prod-data-volumes" = %[1]q, "fastData-shared-bulk-data" = %[1]q }
  templates       = { %[2]q = %[3]q }
  drop_lxc_config = { "910" = ["lxc.mount.auto"], "902" = ["lxc.cgroup2.devices.allow"] }
`, e.storage, ubuntu, e.template2))
	r.applyByDepth(p)

	var profiles map[string]string
	r.output("effective_apparmor_profiles", &profiles)
	n := 0
	for _, level := range p.levels {
		n += len(level)
	}
	if len(profiles) != n {
		t.Errorf("%d containers in effective_apparmor_profiles, want %d", len(profiles), n)
	}
	for _, id := range p.docker {
		if profiles[id] != dockerProfile.Name {
			t.Errorf("CT %s runs %q, want %s", id, profiles[id], dockerProfile.Name)
		}
	}
	r.checkDocker(p.docker)
	var unmapped map[string][]string
	r.output("unmapped", &unmapped)
	for id, line := range map[string]string{"910": "lxc.mount.auto=sys:rw", "902": "lxc.cgroup2.devices.allow=a"} {
		if want := fmt.Sprintf("lxc_options: %q (left out by drop_lxc_config)", line); !slices.Contains(unmapped[id], want) {
			t.Errorf("unmapped[%s] does not list the line left out: %q", id, unmapped[id])
		}
	}
	r.reapplyChangesNothing()
}
