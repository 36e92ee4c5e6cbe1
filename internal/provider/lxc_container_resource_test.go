package provider

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
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

const ctAddr = "phoenix_lxc_container.test"

// ctConfig is the knobs of testAccContainerConfig.
type ctConfig struct {
	VMID         int
	Template     string
	Cores        int
	Memory       int
	Size         string
	Tags         []string
	Nesting      bool
	Unprivileged bool
	Bridge       string
	IP           string
	Started      *bool
	Extra        string
}

func (e *accEnv) containerConfig(c ctConfig) string {
	if c.Template == "" {
		c.Template = e.template
	}
	if c.Size == "" {
		c.Size = "8G"
	}
	if c.Bridge == "" {
		c.Bridge = e.bridge
	}
	if c.IP == "" {
		c.IP = "10.0.0.202/24"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "resource \"phoenix_lxc_container\" \"test\" {\n")
	fmt.Fprintf(&b, "  node_name    = %q\n", e.node)
	if c.VMID != 0 {
		fmt.Fprintf(&b, "  vmid         = %d\n", c.VMID)
	}
	fmt.Fprintf(&b, "  hostname     = \"acc-test\"\n  template     = %q\n  unprivileged = %v\n", c.Template, c.Unprivileged)
	if c.Cores != 0 {
		fmt.Fprintf(&b, "  cores        = %d\n", c.Cores)
	}
	if c.Memory != 0 {
		fmt.Fprintf(&b, "  memory       = %d\n", c.Memory)
	}
	if c.Tags != nil {
		fmt.Fprintf(&b, "  tags         = [%s]\n", quoteList(c.Tags))
	}
	if c.Started != nil {
		fmt.Fprintf(&b, "  started      = %v\n", *c.Started)
	}
	b.WriteString(diskAndNIC(e.storage, c.Size, c.Bridge, c.IP, "10.0.0.1"))
	if c.Nesting {
		fmt.Fprintf(&b, "  features = {\n    nesting = true\n    keyctl  = true\n  }\n")
	}
	b.WriteString(c.Extra)
	b.WriteString("}\n")
	return e.providerHCL() + b.String()
}

func quoteList(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}

func TestAccLXCContainer_lifecycle(t *testing.T) {
	// The provider has SSH access: with its least-privilege token, keyctl
	// (reserved to root@pam) is set on the node with pct set. A privileged
	// container needs Sys.Modify on "/" (create_vm), which the test grants.
	e := newAccEnv(t, withSSH, withPrivilegedContainers)
	base := ctConfig{VMID: 4102, Cores: 1, Memory: 1024, Tags: []string{"web", "acc"}, Unprivileged: true}
	grown := base
	grown.Cores, grown.Memory, grown.Tags, grown.Nesting, grown.IP = 2, 2048, []string{"acc", "docker", "web"}, true, "10.0.0.203/24"
	resized := grown
	resized.Size = "12G"
	shrunk := resized
	shrunk.Size = "10G"
	privileged := resized
	privileged.Unprivileged = false
	retemplated := privileged
	retemplated.Template = e.template2

	var hwaddr string
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				// Create from a template.
				Config: e.containerConfig(base),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(ctAddr, tfjsonpath.New("id"), knownvalue.StringExact(e.node+"/4102")),
					statecheck.ExpectKnownValue(ctAddr, tfjsonpath.New("memory"), knownvalue.Int64Exact(1024)),
					statecheck.ExpectKnownValue(ctAddr, tfjsonpath.New("swap"), knownvalue.Int64Exact(512)),
					statecheck.ExpectKnownValue(ctAddr, tfjsonpath.New("started"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue(ctAddr, tfjsonpath.New("unprivileged"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue(ctAddr, tfjsonpath.New("tags"), knownvalue.SetExact([]knownvalue.Check{
						knownvalue.StringExact("acc"), knownvalue.StringExact("web"),
					})),
					statecheck.ExpectKnownValue(ctAddr, tfjsonpath.New("rootfs").AtMapKey("volume"), knownvalue.StringRegexp(regexp.MustCompile(`^local-lvm:vm-4102-disk-0$`))),
					statecheck.ExpectKnownValue(ctAddr, tfjsonpath.New("network").AtSliceIndex(0).AtMapKey("hwaddr"),
						knownvalue.StringRegexp(regexp.MustCompile(`^([0-9A-F]{2}:){5}[0-9A-F]{2}$`))),
				},
				Check: func(s *terraform.State) error {
					hwaddr = s.RootModule().Resources[ctAddr].Primary.Attributes["network.0.hwaddr"]
					return nil
				},
			},
			{
				// Unchanged configuration: an empty plan and not a single mutating call.
				PreConfig: e.resetLog,
				Config:    e.containerConfig(base),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: e.checkNoMutations(),
			},
			// Import by node/vmid reads back exactly what was created.
			importVerify(""),
			// Import by bare vmid finds the node.
			importVerify("4102"),
			{
				// Cores, memory, network, tags and features change in place.
				PreConfig:        e.resetLog,
				Config:           e.containerConfig(grown),
				ConfigPlanChecks: planAction(plancheck.ResourceActionUpdate),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(ctAddr, tfjsonpath.New("cores"), knownvalue.Int64Exact(2)),
					statecheck.ExpectKnownValue(ctAddr, tfjsonpath.New("memory"), knownvalue.Int64Exact(2048)),
					statecheck.ExpectKnownValue(ctAddr, tfjsonpath.New("features").AtMapKey("nesting"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue(ctAddr, tfjsonpath.New("network").AtSliceIndex(0).AtMapKey("ip"), knownvalue.StringExact("10.0.0.203/24")),
				},
				Check: resource.ComposeTestCheckFunc(
					func(s *terraform.State) error {
						if got := s.RootModule().Resources[ctAddr].Primary.Attributes["network.0.hwaddr"]; got != hwaddr {
							return fmt.Errorf("hwaddr changed from %s to %s", hwaddr, got)
						}
						return nil
					},
					e.checkOnePut(),
					e.checkSetAsRoot(4102, "--features 'keyctl=1,nesting=1'"),
				),
			},
			{
				// Growing the root file system resizes in place.
				Config:           e.containerConfig(resized),
				ConfigPlanChecks: planAction(plancheck.ResourceActionUpdate),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(ctAddr, tfjsonpath.New("rootfs").AtMapKey("size"), knownvalue.StringExact("12G")),
				},
			},
			{
				// Shrinking is refused at plan time, saying why.
				Config:      e.containerConfig(shrunk),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)rootfs cannot shrink.*can only grow`),
			},
			{
				// unprivileged cannot change in place: the container is replaced.
				Config:           e.containerConfig(privileged),
				ConfigPlanChecks: planAction(plancheck.ResourceActionDestroyBeforeCreate),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(ctAddr, tfjsonpath.New("unprivileged"), knownvalue.Bool(false)),
				},
			},
			{
				// So does another template.
				Config:           e.containerConfig(retemplated),
				ConfigPlanChecks: planAction(plancheck.ResourceActionDestroyBeforeCreate),
			},
			{
				// And SSH keys added after creation: PVE only takes them at create.
				Config:           e.containerConfig(withKeys(retemplated)),
				ConfigPlanChecks: planAction(plancheck.ResourceActionDestroyBeforeCreate),
			},
		},
		CheckDestroy: e.checkNoContainers(),
	})
}

// checkOnePut asserts that the last step changed the configuration with
// exactly one PUT .../config through the API (a node's own pct set is not
// counted).
func (e *accEnv) checkOnePut() resource.TestCheckFunc {
	return func(*terraform.State) error {
		if !e.simOnly("counting PUT calls") {
			return nil
		}
		n := 0
		for _, r := range e.sim.Requests() {
			if r.Source == "" && r.Method == "PUT" && strings.HasSuffix(r.Path, "/config") {
				n++
			}
		}
		if n != 1 {
			return fmt.Errorf("expected exactly one PUT .../config, got %d", n)
		}
		return nil
	}
}

// checkNoContainers asserts that nothing is left on the cluster.
func (e *accEnv) checkNoContainers() resource.TestCheckFunc {
	return func(*terraform.State) error {
		if !e.simOnly("checking that no container is left (a real cluster holds others)") {
			return nil
		}
		if cts := e.containers(); len(cts) != 0 {
			return fmt.Errorf("%d container(s) left after destroy: %v", len(cts), cts)
		}
		return nil
	}
}

// failingTaskTest applies cfg while a task fails once: the apply fails with
// errRe, the plan after it (checked by check, if not nil) takes action on the
// container, and once the fault is gone one apply converges, leaving exactly
// one container and an empty plan.
func (e *accEnv) failingTaskTest(t *testing.T, cfg string, fault pvesim.TaskFault, errRe *regexp.Regexp, action plancheck.ResourceActionType, check resource.TestCheckFunc) {
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				PreConfig: func() {
					if err := e.sim.AddFault(pvesim.Fault{TaskFail: &fault}); err != nil {
						t.Fatal(err)
					}
				},
				Config:      cfg,
				ExpectError: errRe,
			},
			{
				Config:             cfg,
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectResourceAction(ctAddr, action)},
				},
				Check: check,
			},
			{
				PreConfig: e.sim.ClearFaults,
				Config:    cfg,
				Check: func(*terraform.State) error {
					if n := len(e.containers()); n != 1 {
						return fmt.Errorf("the cluster holds %d containers, want exactly 1", n)
					}
					return nil
				},
			},
			{
				Config: cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
		},
		CheckDestroy: e.checkNoContainers(),
	})
}

func TestAccLXCContainer_drift(t *testing.T) {
	e := newAccEnv(t)
	cfg := e.containerConfig(ctConfig{VMID: 4110, Memory: 1024, Unprivileged: true})
	ctx := context.Background()
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: cfg},
			{
				// Memory changed in the PVE UI and the container stopped: the
				// plan shows exactly those two changes.
				PreConfig: func() {
					raw, err := e.client.ContainerConfig(ctx, e.node, 4110)
					if err != nil {
						t.Fatal(err)
					}
					if err := e.client.UpdateContainerConfig(ctx, e.node, 4110, map[string]string{"memory": "4096"}, nil, raw.Digest); err != nil {
						t.Fatal(err)
					}
					upid, err := e.client.Stop(ctx, e.node, 4110)
					if err == nil {
						err = e.client.WaitTask(ctx, upid)
					}
					if err != nil {
						t.Fatal(err)
					}
				},
				Config:             cfg,
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(ctAddr, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(ctAddr, tfjsonpath.New("memory"), knownvalue.Int64Exact(1024)),
						plancheck.ExpectKnownValue(ctAddr, tfjsonpath.New("started"), knownvalue.Bool(true)),
					},
				},
			},
			{
				// Apply restores both.
				Config: cfg,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(ctAddr, tfjsonpath.New("memory"), knownvalue.Int64Exact(1024)),
					statecheck.ExpectKnownValue(ctAddr, tfjsonpath.New("started"), knownvalue.Bool(true)),
				},
			},
			{
				// Deleted out of band: removed from state, created again.
				PreConfig: func() {
					upid, err := e.client.Stop(ctx, e.node, 4110)
					if err == nil {
						err = e.client.WaitTask(ctx, upid)
					}
					if err == nil {
						upid, err = e.client.DeleteContainer(ctx, e.node, 4110, pve.DeleteOptions{Purge: true})
					}
					if err == nil {
						err = e.client.WaitTask(ctx, upid)
					}
					if err != nil {
						t.Fatal(err)
					}
				},
				Config:           cfg,
				ConfigPlanChecks: planAction(plancheck.ResourceActionCreate),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(ctAddr, tfjsonpath.New("id"), knownvalue.StringExact(e.node+"/4110")),
				},
			},
		},
		CheckDestroy: e.checkNoContainers(),
	})
}

func TestAccLXCContainer_clone(t *testing.T) {
	e := newAccEnv(t)
	source := e.containerConfig(ctConfig{VMID: 4120, Unprivileged: true})
	clone := source + fmt.Sprintf(`
resource "phoenix_lxc_container" "clone" {
  node_name = %[1]q
  vmid      = 4121
  hostname  = "acc-clone"
  memory    = 768
  clone {
    source_vmid = phoenix_lxc_container.test.vmid
    snapshot    = "base"
  }
  rootfs {
    size = "10G"
  }
}

# A clone that keeps its source's disk as it is: no rootfs block.
resource "phoenix_lxc_container" "clone2" {
  node_name  = %[1]q
  vmid       = 4122
  hostname   = "acc-clone2"
  depends_on = [phoenix_lxc_container.clone]
  clone {
    source_vmid = phoenix_lxc_container.test.vmid
    snapshot    = "base"
  }
}
`, e.node)
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: source},
			{
				PreConfig: func() {
					if err := e.createSnapshot(4120, "base", "before cloning"); err != nil {
						t.Fatal(err)
					}
				},
				Config: clone,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("phoenix_lxc_container.clone", tfjsonpath.New("hostname"), knownvalue.StringExact("acc-clone")),
					statecheck.ExpectKnownValue("phoenix_lxc_container.clone", tfjsonpath.New("memory"), knownvalue.Int64Exact(768)),
					statecheck.ExpectKnownValue("phoenix_lxc_container.clone", tfjsonpath.New("rootfs").AtMapKey("size"), knownvalue.StringExact("10G")),
					statecheck.ExpectKnownValue("phoenix_lxc_container.clone", tfjsonpath.New("rootfs").AtMapKey("volume"), knownvalue.StringExact("local-lvm:vm-4121-disk-0")),
				},
			},
			{
				PreConfig: e.resetLog,
				Config:    clone,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: e.checkNoMutations(),
			},
			{
				// The snapshot must go before the source can be destroyed.
				PreConfig: func() {
					if err := e.deleteSnapshot(4120, "base"); err != nil {
						t.Fatal(err)
					}
				},
				Config: clone,
			},
		},
		CheckDestroy: e.checkNoContainers(),
	})
}

func TestAccLXCContainer_importBlock(t *testing.T) {
	e := newAccEnv(t)
	ctx := context.Background()
	// A container made outside Terraform, e.g. by the Phoenix scripts.
	upid, err := e.client.CreateContainer(ctx, e.node, map[string]string{
		"vmid": "4130", "ostemplate": e.template, "hostname": "adopted", "memory": "1024", "cores": "2",
		"rootfs": e.storage + ":8", "unprivileged": "1", "tags": "legacy;phoenix",
		"net0": "name=eth0,bridge=" + e.bridge + ",ip=dhcp",
	})
	if err == nil {
		err = e.client.WaitTask(ctx, upid)
	}
	if err == nil {
		upid, err = e.client.Start(ctx, e.node, 4130)
		if err == nil {
			err = e.client.WaitTask(ctx, upid)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	cfg := e.providerHCL() + fmt.Sprintf(`
resource "phoenix_lxc_container" "test" {
  node_name = %q
  vmid      = 4130
  hostname  = "adopted"
  memory    = 1024
  cores     = 2
  tags      = ["phoenix", "legacy"]
%s}
`, e.node, diskAndNIC(e.storage, "8G", e.bridge, "dhcp", ""))
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				// An import {} block adopts it with nothing to change.
				Config:          cfg,
				ResourceName:    ctAddr,
				ImportState:     true,
				ImportStateKind: resource.ImportBlockWithID,
				ImportStateId:   e.node + "/4130",
				ImportPlanChecks: resource.ImportPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(ctAddr, plancheck.ResourceActionNoop)},
				},
			},
			{
				// terraform import adopts it into the state...
				Config:             cfg,
				ResourceName:       ctAddr,
				ImportState:        true,
				ImportStateId:      e.node + "/4130",
				ImportStatePersist: true,
			},
			{
				// ...and naming the template the adopted container came from records it,
				// without replacing the container.
				Config:           strings.Replace(cfg, "  cores     = 2\n", "  cores     = 2\n  template  = \""+e.template+"\"\n", 1),
				ConfigPlanChecks: planAction(plancheck.ResourceActionUpdate),
			},
		},
	})
}

func TestAccLXCContainer_parallelNextID(t *testing.T) {
	e := newAccEnv(t)
	cfg := e.providerHCL() + fmt.Sprintf(`
resource "phoenix_lxc_container" "fleet" {
  count     = 10
  node_name = %q
  hostname  = "fleet-${count.index}"
  template  = %q
  started   = false
  rootfs {
    storage = %q
    size    = "2G"
  }
}
`, e.node, e.template, e.storage)
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: cfg,
			Check: func(s *terraform.State) error {
				seen := map[string]string{}
				for i := 0; i < 10; i++ {
					addr := fmt.Sprintf("phoenix_lxc_container.fleet.%d", i)
					rs, ok := s.RootModule().Resources[addr]
					if !ok {
						return fmt.Errorf("%s missing", addr)
					}
					id := rs.Primary.Attributes["vmid"]
					if other, dup := seen[id]; dup {
						return fmt.Errorf("%s and %s share vmid %s", other, addr, id)
					}
					seen[id] = addr
				}
				if e.simOnly("counting the cluster's containers (a real cluster holds others)") {
					if n := len(e.containers()); n != 10 {
						return fmt.Errorf("the cluster holds %d containers, want 10", n)
					}
				}
				return nil
			},
		}},
		CheckDestroy: e.checkNoContainers(),
	})
}

// TestAccLXCContainer_taskFails applies a container while one of its tasks
// fails once, for each task whose failure leaves a different state behind.
func TestAccLXCContainer_taskFails(t *testing.T) {
	for _, tc := range []struct {
		name   string
		vmid   int
		fault  pvesim.TaskFault
		errRe  string // %s is the node
		action plancheck.ResourceActionType
		// noneLeft: the failed task left no container behind.
		noneLeft bool
	}{
		{
			// Proxmox VE removes a container whose create task failed: the
			// refresh finds nothing, nothing is orphaned, the plan creates it.
			name: "createTaskFails", vmid: 4140,
			fault:  pvesim.TaskFault{Type: "vzcreate", Times: 1, Message: "unable to create CT 4140 - disk quota exceeded"},
			errRe:  `(?s)disk quota exceeded.*UPID:%s:`,
			action: plancheck.ResourceActionCreate, noneLeft: true,
		},
		{
			// The created container is in state, tainted: the plan replaces it.
			name: "startFailsKeepsContainer", vmid: 4150,
			fault:  pvesim.TaskFault{Type: "vzstart", Times: 1, Message: "startup for container '4150' failed"},
			errRe:  `(?s)Cannot start the container.*startup for container '4150' failed.*UPID:%s:`,
			action: plancheck.ResourceActionDestroyBeforeCreate,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newAccEnv(t)
			if !e.simOnly("a failing " + tc.fault.Type + " task") {
				t.Skip("needs the simulator's fault injection")
			}
			var check resource.TestCheckFunc
			if tc.noneLeft {
				check = func(*terraform.State) error {
					if n := len(e.containers()); n != 0 {
						return fmt.Errorf("a failed create left %d container(s) behind", n)
					}
					return nil
				}
			}
			e.failingTaskTest(t, e.containerConfig(ctConfig{VMID: tc.vmid, Unprivileged: true}), tc.fault,
				regexp.MustCompile(fmt.Sprintf(tc.errRe, regexp.QuoteMeta(e.node))), tc.action, check)
		})
	}
}

func TestAccLXCContainer_dataSourceAndWriteOnlyPassword(t *testing.T) {
	e := newAccEnv(t)
	const secret = "s3cret-Root-pw"
	cfg := e.containerConfig(ctConfig{VMID: 4160, Memory: 768, Tags: []string{"db"}, Unprivileged: true,
		Extra: fmt.Sprintf("  password = %q\n  timezone = \"Europe/Berlin\"\n", secret)}) + `
data "phoenix_lxc_container" "lookup" {
  vmid = phoenix_lxc_container.test.vmid
}
`
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: cfg,
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("data.phoenix_lxc_container.lookup", tfjsonpath.New("node_name"), knownvalue.StringExact(e.node)),
				statecheck.ExpectKnownValue("data.phoenix_lxc_container.lookup", tfjsonpath.New("status"), knownvalue.StringExact("running")),
				statecheck.ExpectKnownValue("data.phoenix_lxc_container.lookup", tfjsonpath.New("memory"), knownvalue.Int64Exact(768)),
				statecheck.ExpectKnownValue("data.phoenix_lxc_container.lookup", tfjsonpath.New("timezone"), knownvalue.StringExact("Europe/Berlin")),
				statecheck.ExpectKnownValue("data.phoenix_lxc_container.lookup", tfjsonpath.New("hostname"), knownvalue.StringExact("acc-test")),
				statecheck.ExpectKnownValue("data.phoenix_lxc_container.lookup", tfjsonpath.New("tags"), knownvalue.SetExact([]knownvalue.Check{knownvalue.StringExact("db")})),
				statecheck.ExpectKnownValue("data.phoenix_lxc_container.lookup", tfjsonpath.New("network").AtSliceIndex(0).AtMapKey("ip"), knownvalue.StringExact("10.0.0.202/24")),
				statecheck.ExpectKnownValue(ctAddr, tfjsonpath.New("password"), knownvalue.Null()),
			},
			Check: resource.ComposeTestCheckFunc(func(s *terraform.State) error {
				for addr, rs := range s.RootModule().Resources {
					for k, v := range rs.Primary.Attributes {
						if strings.Contains(v, secret) {
							return fmt.Errorf("the password is stored in state at %s.%s", addr, k)
						}
					}
				}
				return nil
			}, checkDataSourceMatchesResource(ctAddr, "data.phoenix_lxc_container.lookup")),
		}},
	})
}

// checkDataSourceMatchesResource asserts that the data source reads every
// attribute it shares with the resource exactly as the resource holds it.
func checkDataSourceMatchesResource(res, ds string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		r, d := s.RootModule().Resources[res], s.RootModule().Resources[ds]
		if r == nil || d == nil {
			return fmt.Errorf("missing %s or %s in state", res, ds)
		}
		compared := 0
		for k, v := range r.Primary.Attributes {
			top, _, _ := strings.Cut(k, ".")
			if notInDataSource[top] != "" || top == "%" {
				continue
			}
			if strings.HasSuffix(k, ".#") || strings.HasSuffix(k, ".%") {
				if v == "0" {
					continue // null in one, empty in the other
				}
			}
			got, ok := d.Primary.Attributes[k]
			if !ok {
				return fmt.Errorf("the data source has no %s (resource: %q)", k, v)
			}
			if got != v {
				return fmt.Errorf("%s: data source %q, resource %q", k, got, v)
			}
			compared++
		}
		if compared < 20 {
			return fmt.Errorf("only %d attributes compared", compared)
		}
		return nil
	}
}

func withKeys(c ctConfig) ctConfig {
	c.Extra += "  ssh_public_keys = [\"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOqA+jbMZiNElEauU0KILBWrTrJqGqQxvPePQ5FX6X0+ test\"]\n"
	return c
}
