package provider

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/docker"
	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/lxcconf"
	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/nodeexec"
	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/pvesim/simssh"
	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/pvesim/sshd"
)

// confPath is a container's config file in the simulator's state.
func (e *accEnv) confPath(vmid int) string {
	return filepath.Join(e.sim.StateDir, "nodes", e.node, "lxc", strconv.Itoa(vmid)+".conf")
}

// conf parses a container's config file from the simulator's state.
func (e *accEnv) conf(vmid int) *lxcconf.Config {
	e.t.Helper()
	b, err := os.ReadFile(e.confPath(vmid))
	if err != nil {
		e.t.Fatal(err)
	}
	c, err := lxcconf.Parse(b)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// ctExec runs a command inside a container over SSH, as an administrator would.
func (e *accEnv) ctExec(vmid int, argv ...string) {
	e.t.Helper()
	e.ctOutput(vmid, argv...)
}

// ctOutput runs a command inside a container over SSH and returns its
// standard output.
func (e *accEnv) ctOutput(vmid int, argv ...string) string {
	e.t.Helper()
	return e.ctOutputOn(e.node, vmid, argv...)
}

// ctOutputOn is ctOutput for a container of node.
func (e *accEnv) ctOutputOn(node string, vmid int, argv ...string) string {
	e.t.Helper()
	key, err := os.ReadFile(e.sshKeyFile)
	if err != nil {
		e.t.Fatal(err)
	}
	pool, err := nodeexec.NewPool(nodeexec.Config{PrivateKey: string(key), KnownHostsFile: e.sshKnownHosts},
		func(_ context.Context, name string) (nodeexec.Node, error) {
			n := e.sshNodes[name]
			return nodeexec.Node{Name: name, Address: n.Host, Port: n.Port}, nil
		})
	if err != nil {
		e.t.Fatal(err)
	}
	defer pool.Close()
	r, err := pool.Run(context.Background(), node, nodeexec.PctExec(vmid, argv...))
	if err != nil {
		e.t.Fatal(err)
	}
	return string(r.Stdout)
}

// testRun checks one element of docker.tests: the result, a duration and
// the time it ran (RFC 3339 in UTC, within the last hour).
func testRun(result string) knownvalue.Check {
	return knownvalue.ObjectExact(map[string]knownvalue.Check{
		"result": knownvalue.StringExact(result),
		"duration_ms": knownvalue.Int64Func(func(v int64) error {
			if v < 0 || v > 600_000 || (result == docker.Skipped && v != 0) {
				return fmt.Errorf("duration_ms = %d", v)
			}
			return nil
		}),
		"ran_at": knownvalue.StringFunc(func(v string) error {
			at, err := time.Parse(time.RFC3339, v)
			if err != nil || !strings.HasSuffix(v, "Z") {
				return fmt.Errorf("ran_at %q is not an RFC 3339 time in UTC: %v", v, err)
			}
			if d := time.Since(at); d < -time.Minute || d > time.Hour {
				return fmt.Errorf("ran_at %s is %s away from now", v, d)
			}
			return nil
		}),
	})
}

// commandsWith counts the commands of the SSH log that hold one of parts.
func (e *accEnv) commandsWith(parts ...string) int {
	reads, writes := simssh.SSHCommands(e.sim)
	n := 0
	for _, c := range append(reads, writes...) {
		for _, p := range parts {
			if strings.Contains(c, p) {
				n++
				break
			}
		}
	}
	return n
}

// installRuns counts the runs of the install script in the SSH log.
func (e *accEnv) installRuns() int { return e.commandsWith("--package-source") }

// aptInstalls counts the package installs the container's apt-get made.
func (e *accEnv) aptInstalls(vmid int) int {
	e.t.Helper()
	n, err := sshd.CTInstalls(e.sim.StateDir, e.node, vmid)
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *accEnv) checkNoSSHWrites() resource.TestCheckFunc {
	return func(*terraform.State) error {
		if !e.simOnly("checking that no SSH command changed a node") {
			return nil
		}
		if _, writes := simssh.SSHCommands(e.sim); len(writes) > 0 {
			return fmt.Errorf("expected no SSH write, got %d: %v", len(writes), writes)
		}
		return nil
	}
}

func TestAccLXCContainer_docker(t *testing.T) {
	e := newSimSSHEnv(t, "the Docker lifecycle with drift injected in the container")
	const vmid = 4300
	cfg := func(dockerBody string) string {
		return e.containerConfig(ctConfig{VMID: vmid, Unprivileged: true, Extra: "  docker {\n" + dockerBody + "  }\n"})
	}
	base := cfg("    daemon_json = jsonencode({ \"log-driver\" = \"journald\" })\n")
	// The same JSON with other key order and spacing: no difference.
	same := cfg("    daemon_json = \"{\\\"log-driver\\\":  \\\"journald\\\"}\"\n")
	reconfigured := cfg("    daemon_json = jsonencode({ \"log-driver\" = \"local\", \"debug\" = true })\n")

	var installs int
	var snapshotBefore []lxcconf.KV
	emptyReapply := resource.TestStep{
		PreConfig: e.resetLog,
		Config:    same,
		ConfigPlanChecks: resource.ConfigPlanChecks{
			PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
		},
		Check: resource.ComposeTestCheckFunc(e.checkNoMutations(), e.checkNoSSHWrites(), func(*terraform.State) error {
			if n := e.installRuns(); n != 0 {
				return fmt.Errorf("the install script ran %d times on an unchanged configuration", n)
			}
			if n := e.aptInstalls(vmid); n != installs {
				return fmt.Errorf("apt installs went from %d to %d on an unchanged configuration", installs, n)
			}
			return nil
		}),
	}
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				// Create: hardened profile, Docker installed once, verified and tested.
				PreConfig: e.resetLog,
				Config:    base,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(ctAddr, tfjsonpath.New("effective_apparmor_profile"), knownvalue.StringExact("lxc-docker-secure")),
					statecheck.ExpectKnownValue(ctAddr, tfjsonpath.New("docker").AtMapKey("service_active"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue(ctAddr, tfjsonpath.New("docker").AtMapKey("installed_version"), knownvalue.StringRegexp(regexp.MustCompile(`^(\d+:)?\d+\.\d+`))),
					statecheck.ExpectKnownValue(ctAddr, tfjsonpath.New("docker").AtMapKey("tests"), knownvalue.MapExact(map[string]knownvalue.Check{
						docker.CaseServiceIsRunning: testRun("passed"),
						docker.CaseHelloWorld:       testRun("passed"),
						docker.CaseNetworkAccess:    testRun("passed"),
					})),
					statecheck.ExpectKnownValue(ctAddr, tfjsonpath.New("features").AtMapKey("nesting"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue(ctAddr, tfjsonpath.New("features").AtMapKey("keyctl"), knownvalue.Bool(true)),
				},
				Check: resource.ComposeTestCheckFunc(
					// The least-privilege token cannot set keyctl: it goes to the
					// node with pct set, and PVE refuses nothing.
					e.checkSetAsRoot(vmid, "--features 'keyctl=1,nesting=1'"),
					e.checkNoForbidden(),
					func(*terraform.State) error {
						main := e.conf(vmid).Main()
						got := map[string]string{}
						for _, kv := range main.LXC() {
							got[kv.Key] = kv.Value
						}
						if got["lxc.apparmor.profile"] != "lxc-docker-secure" || got["lxc.apparmor.allow_nesting"] != "1" {
							return fmt.Errorf("main section raw lines = %v", got)
						}
						if n := e.installRuns(); n != 1 {
							return fmt.Errorf("the install script ran %d times, want 1", n)
						}
						installs = e.aptInstalls(vmid)
						if installs == 0 {
							return fmt.Errorf("no package was installed")
						}
						return nil
					}),
			},
			emptyReapply,
			emptyReapply,
			{
				// Docker stopped inside the container: the plan shows it, the apply
				// restores it without reinstalling.
				PreConfig:          func() { e.ctExec(vmid, "systemctl", "stop", "docker") },
				Config:             base,
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(ctAddr, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(ctAddr, tfjsonpath.New("docker").AtMapKey("service_active"), knownvalue.Bool(true)),
					},
				},
			},
			{
				Config: base,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(ctAddr, tfjsonpath.New("docker").AtMapKey("service_active"), knownvalue.Bool(true)),
				},
				Check: func(*terraform.State) error {
					if n := e.aptInstalls(vmid); n != installs {
						return fmt.Errorf("restarting Docker reinstalled packages (%d -> %d)", installs, n)
					}
					return nil
				},
			},
			{
				// A daemon_json change restarts Docker, it does not reinstall it.
				PreConfig: e.resetLog,
				Config:    reconfigured,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(ctAddr, plancheck.ResourceActionUpdate)},
				},
				Check: func(*terraform.State) error {
					if n := e.aptInstalls(vmid); n != installs {
						return fmt.Errorf("a daemon_json change reinstalled packages (%d -> %d)", installs, n)
					}
					if n := e.installRuns(); n != 1 {
						return fmt.Errorf("the install script ran %d times, want 1", n)
					}
					return nil
				},
			},
			{
				// The profile line removed out of band: drift, restored on apply,
				// in the main section only: a snapshot taken before stays as it was.
				PreConfig: func() {
					if err := e.createSnapshot(vmid, "before", ""); err != nil {
						t.Fatal(err)
					}
					snapshotBefore = e.conf(vmid).Section("before").LXC()
					c := e.conf(vmid)
					c.Main().DeleteLXC("lxc.apparmor.profile")
					if err := os.WriteFile(e.confPath(vmid), c.Bytes(), 0o640); err != nil {
						t.Fatal(err)
					}
				},
				Config: reconfigured,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(ctAddr, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(ctAddr, tfjsonpath.New("effective_apparmor_profile"), knownvalue.StringExact("lxc-docker-secure")),
					},
				},
				Check: func(*terraform.State) error {
					if v, _ := lxcValue(e.conf(vmid).Main(), "lxc.apparmor.profile"); v != "lxc-docker-secure" {
						return fmt.Errorf("profile line not restored: %q", v)
					}
					if got := e.conf(vmid).Section("before").LXC(); fmt.Sprint(got) != fmt.Sprint(snapshotBefore) || len(got) == 0 {
						return fmt.Errorf("the snapshot section changed: %v -> %v", snapshotBefore, got)
					}
					return e.deleteSnapshot(vmid, "before")
				},
			},
			{
				// A failing install (apt broken for good) fails the apply with the
				// script's name and FATAL line; the container stays in state.
				PreConfig: func() {
					if err := sshd.SetCTFault(e.sim.StateDir, e.node, vmid, sshd.FaultAptFail, 0); err != nil {
						t.Fatal(err)
					}
				},
				Config:      cfg("    package_source = \"distro\"\n"),
				ExpectError: regexp.MustCompile(`(?s)phoenix_hypervisor_feature_install_docker\.sh.*FATAL:`),
			},
			{
				// Once apt works again, one apply converges.
				PreConfig: func() {
					if err := sshd.ClearCTFault(e.sim.StateDir, e.node, vmid, sshd.FaultAptFail); err != nil {
						t.Fatal(err)
					}
				},
				Config: cfg("    package_source = \"distro\"\n"),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(ctAddr, tfjsonpath.New("docker").AtMapKey("service_active"), knownvalue.Bool(true)),
				},
			},
			{
				Config: cfg("    package_source = \"distro\"\n"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
			{
				// Without the docker block the container returns to Proxmox VE's
				// own profile (Docker stays installed).
				Config: e.containerConfig(ctConfig{VMID: vmid, Unprivileged: true, Nesting: true}),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(ctAddr, tfjsonpath.New("effective_apparmor_profile"), knownvalue.StringExact("generated")),
					statecheck.ExpectKnownValue(ctAddr, tfjsonpath.New("docker"), knownvalue.Null()),
				},
				Check: func(*terraform.State) error {
					if lines := e.conf(vmid).Main().LXC(); len(lines) != 0 {
						return fmt.Errorf("raw lines left after removing the docker block: %v", lines)
					}
					return nil
				},
			},
		},
		CheckDestroy: e.checkNoContainers(),
	})
}

func lxcValue(s *lxcconf.Section, key string) (string, bool) {
	for _, kv := range s.LXC() {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return "", false
}

func TestAccLXCContainer_wrongHostKey(t *testing.T) {
	e := newSimSSHEnv(t, "a wrong host key")
	// A known_hosts file that holds another key for the node.
	bad := filepath.Join(t.TempDir(), "known_hosts")
	n := e.sshNodes[e.node]
	writeFile(t, bad, fmt.Sprintf("[%s]:%d ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOqA+jbMZiNElEauU0KILBWrTrJqGqQxvPePQ5FX6X0+\n", n.Host, n.Port))
	e.sshKnownHosts = bad
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			PreConfig:   e.resetLog,
			Config:      e.containerConfig(ctConfig{VMID: 4310, Unprivileged: true, Extra: "  docker {}\n"}),
			ExpectError: regexp.MustCompile(`(?s)host key.*` + regexp.QuoteMeta(n.HostKeyFingerprint)),
			Check:       nil,
		}, {
			// Nothing ran on the node.
			PreConfig: func() {
				reads, writes := simssh.SSHCommands(e.sim)
				if len(reads)+len(writes) != 0 {
					t.Errorf("commands ran despite the wrong host key: %v %v", reads, writes)
				}
			},
			Config:  e.containerConfig(ctConfig{VMID: 4310, Unprivileged: true}),
			Destroy: true,
		}},
	})
}

// ctFile is the path of a file inside a container's root volume.
func (e *accEnv) ctFile(vmid int, name string) string {
	e.t.Helper()
	root, err := sshd.CTRootfs(e.sim.StateDir, e.node, vmid)
	if err != nil {
		e.t.Fatal(err)
	}
	return filepath.Join(root, name)
}

// dockerStarts counts the starts of docker.service in the container's
// journal: a restart adds one.
func (e *accEnv) dockerStarts(vmid int) int {
	e.t.Helper()
	b, err := os.ReadFile(e.ctFile(vmid, "var/log/phoenix-sim/journal/docker.service"))
	if err != nil {
		e.t.Fatal(err)
	}
	return strings.Count(string(b), "Started docker.service")
}

// dockerState reads an attribute of the docker block from the state.
func dockerState(s *terraform.State, name string) string {
	return s.RootModule().Resources[ctAddr].Primary.Attributes["docker."+name]
}

// Drift inside the container, fixed item by item: what the check reads back
// shows in the plan, and the apply repairs only that.
func TestAccLXCContainer_dockerDrift(t *testing.T) {
	e := newSimSSHEnv(t, "drift injected inside the container")
	const vmid = 4320
	cfg := func(version string) string {
		return e.containerConfig(ctConfig{VMID: vmid, Unprivileged: true,
			Extra: "  docker {\n    version     = \"" + version + "\"\n    daemon_json = jsonencode({ \"log-driver\" = \"local\" })\n  }\n"})
	}
	pinned := cfg("28.5.2")
	var installs, starts int
	var installed, daemonSHA string
	// remember records the counters after a step.
	remember := func(s *terraform.State) {
		installs, starts = e.aptInstalls(vmid), e.dockerStarts(vmid)
		installed, daemonSHA = dockerState(s, "installed_version"), dockerState(s, "daemon_json_sha256")
	}
	rememberCheck := func(s *terraform.State) error {
		remember(s)
		return nil
	}
	// noPackages fails when the step installed a package.
	noPackages := func(*terraform.State) error {
		if n := e.aptInstalls(vmid); n != installs {
			return fmt.Errorf("the repair installed packages: %d -> %d", installs, n)
		}
		return nil
	}
	driftPlan := func(checks ...plancheck.PlanCheck) resource.ConfigPlanChecks {
		return resource.ConfigPlanChecks{PreApply: append([]plancheck.PlanCheck{plancheck.ExpectResourceAction(ctAddr, plancheck.ResourceActionUpdate)}, checks...)}
	}
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: pinned,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(ctAddr, tfjsonpath.New("docker").AtMapKey("installed_version"), knownvalue.StringRegexp(regexp.MustCompile(`^5:28\.5\.2-`))),
					statecheck.ExpectKnownValue(ctAddr, tfjsonpath.New("docker").AtMapKey("apt_key_sha256"), knownvalue.StringExact(docker.AptKeySHA256())),
					statecheck.ExpectKnownValue(ctAddr, tfjsonpath.New("docker").AtMapKey("fingerprint"), knownvalue.StringRegexp(regexp.MustCompile(`^[0-9a-f]{64}$`))),
					statecheck.ExpectKnownValue(ctAddr, tfjsonpath.New("docker").AtMapKey("containerd_version"), knownvalue.StringRegexp(regexp.MustCompile(`^\d`))),
					statecheck.ExpectKnownValue(ctAddr, tfjsonpath.New("docker").AtMapKey("compose_version"), knownvalue.StringRegexp(regexp.MustCompile(`^\d`))),
				},
				Check: rememberCheck,
			},
			{
				// daemon.json edited inside the container: the plan shows its
				// digest going back, the apply rewrites it and restarts Docker.
				PreConfig: func() {
					writeFile(t, e.ctFile(vmid, "etc/docker/daemon.json"), `{"storage-driver":"overlay2","debug":true}`+"\n")
					e.resetLog()
				},
				Config: pinned,
				ConfigPlanChecks: driftPlan(plancheck.ExpectKnownValue(ctAddr, tfjsonpath.New("docker").AtMapKey("daemon_json_sha256"),
					knownvalue.StringFunc(func(v string) error {
						if v != daemonSHA {
							return fmt.Errorf("planned %s, want the configured content's %s", v, daemonSHA)
						}
						return nil
					}))),
				Check: resource.ComposeTestCheckFunc(noPackages, func(*terraform.State) error {
					b, err := os.ReadFile(e.ctFile(vmid, "etc/docker/daemon.json"))
					if err != nil || string(b) != `{"log-driver":"local","storage-driver":"overlay2"}`+"\n" {
						return fmt.Errorf("daemon.json = %q, %v", b, err)
					}
					if n := e.dockerStarts(vmid); n != starts+1 {
						return fmt.Errorf("docker started %d times during the repair, want one restart", n-starts)
					}
					if n := e.installRuns(); n != 1 {
						return fmt.Errorf("the install script ran %d times, want 1", n)
					}
					return nil
				}, rememberCheck),
			},
			{
				// The pinned package upgraded by hand: put back, nothing else.
				PreConfig: func() {
					e.ctExec(vmid, "apt-get", "install", "-y", "docker-ce="+strings.Replace(installed, "28.5.2", "29.1.3", 1))
				},
				Config:           pinned,
				ConfigPlanChecks: driftPlan(plancheck.ExpectUnknownValue(ctAddr, tfjsonpath.New("docker").AtMapKey("installed_version"))),
				Check: func(s *terraform.State) error {
					if got := dockerState(s, "installed_version"); got != installed {
						return fmt.Errorf("installed_version = %s, want %s back", got, installed)
					}
					// The hand upgrade and the downgrade back: docker-ce alone.
					if n := e.aptInstalls(vmid); n != installs+2 {
						return fmt.Errorf("apt installs went %d -> %d, want the upgrade and one downgrade", installs, n)
					}
					remember(s)
					return nil
				},
			},
			{
				// Docker's apt key replaced: restored, no package installed.
				PreConfig: func() {
					writeFile(t, e.ctFile(vmid, "etc/apt/keyrings/docker.asc"), "not a key\n")
				},
				Config: pinned,
				ConfigPlanChecks: driftPlan(plancheck.ExpectKnownValue(ctAddr, tfjsonpath.New("docker").AtMapKey("apt_key_sha256"),
					knownvalue.StringExact(docker.AptKeySHA256()))),
				Check: resource.ComposeTestCheckFunc(noPackages, func(*terraform.State) error {
					got, err := os.ReadFile(e.ctFile(vmid, "etc/apt/keyrings/docker.asc"))
					want, _ := os.ReadFile(filepath.Join("..", "docker", "keys", "docker-release-key.asc"))
					if err != nil || !bytes.Equal(got, want) {
						return fmt.Errorf("the key file was not restored (%d bytes, %v)", len(got), err)
					}
					return nil
				}),
			},
			{
				// The source list edited: written again, no package installed.
				PreConfig: func() {
					writeFile(t, e.ctFile(vmid, "etc/apt/sources.list.d/docker.list"), "deb [trusted=yes] http://mirror.invalid/docker bookworm stable\n")
				},
				Config:           pinned,
				ConfigPlanChecks: driftPlan(),
				Check: resource.ComposeTestCheckFunc(noPackages, func(*terraform.State) error {
					b, err := os.ReadFile(e.ctFile(vmid, "etc/apt/sources.list.d/docker.list"))
					if err != nil || !strings.Contains(string(b), "https://download.docker.com/linux/") {
						return fmt.Errorf("source list = %q, %v", b, err)
					}
					return nil
				}),
			},
			{
				// The daemon restarted with another storage driver, daemon.json
				// put back without a restart: the driver in use is drift, the
				// apply restarts Docker and installs nothing.
				PreConfig: func() {
					good, err := os.ReadFile(e.ctFile(vmid, "etc/docker/daemon.json"))
					if err != nil {
						t.Fatal(err)
					}
					writeFile(t, e.ctFile(vmid, "etc/docker/daemon.json"), `{"log-driver":"local","storage-driver":"vfs"}`+"\n")
					e.ctExec(vmid, "systemctl", "restart", "docker")
					writeFile(t, e.ctFile(vmid, "etc/docker/daemon.json"), string(good))
					starts = e.dockerStarts(vmid)
				},
				Config: pinned,
				ConfigPlanChecks: driftPlan(plancheck.ExpectKnownValue(ctAddr, tfjsonpath.New("docker").AtMapKey("storage_driver_in_use"),
					knownvalue.StringExact(docker.StorageDriverOverlay2))),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(ctAddr, tfjsonpath.New("docker").AtMapKey("storage_driver_in_use"), knownvalue.StringExact(docker.StorageDriverOverlay2)),
				},
				Check: resource.ComposeTestCheckFunc(noPackages, func(*terraform.State) error {
					if n := e.dockerStarts(vmid); n != starts+1 {
						return fmt.Errorf("docker started %d times during the repair, want one restart", n-starts)
					}
					return nil
				}),
			},
			{
				Config: pinned,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
			{
				// dpkg killed in the middle of an upgrade: the apply fails...
				PreConfig: func() {
					if err := sshd.SetCTFault(e.sim.StateDir, e.node, vmid, sshd.FaultDpkgInterrupt, 1); err != nil {
						t.Fatal(err)
					}
				},
				Config:      cfg("29.1.3"),
				ExpectError: regexp.MustCompile(`(?s)phoenix_hypervisor_feature_install_docker\.sh.*FATAL:`),
			},
			{
				// ...and the next one completes dpkg's run and converges.
				Config: cfg("29.1.3"),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(ctAddr, tfjsonpath.New("docker").AtMapKey("installed_version"), knownvalue.StringRegexp(regexp.MustCompile(`^5:29\.1\.3-`))),
					statecheck.ExpectKnownValue(ctAddr, tfjsonpath.New("docker").AtMapKey("service_active"), knownvalue.Bool(true)),
				},
			},
			{
				Config: cfg("29.1.3"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
		},
		CheckDestroy: e.checkNoContainers(),
	})
}

// A container that already runs the Docker a configuration asks for is
// adopted by import {} without a change: the first plan is empty and the
// install never runs.
func TestAccLXCContainer_dockerImportAdopts(t *testing.T) {
	e := newSimSSHEnv(t, "a container with Docker made outside the configuration")
	const vmid = 4330
	cfg := e.containerConfig(ctConfig{VMID: vmid, Unprivileged: true, Extra: "  docker {}\n"})
	// The import configuration names no template: an imported container has
	// none to read back.
	imported := regexp.MustCompile(`(?m)^  template +=.*\n`).ReplaceAllString(cfg, "")
	noInstall := func(*terraform.State) error {
		if n := e.installRuns(); n != 0 {
			return fmt.Errorf("the install script ran %d times for an adopted container", n)
		}
		return nil
	}
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: cfg},
			{
				// The import step starts from a state without the container,
				// which keeps running its Docker.
				PreConfig:       e.resetLog,
				Config:          imported,
				ResourceName:    ctAddr,
				ImportState:     true,
				ImportStateKind: resource.ImportBlockWithID,
				ImportStateId:   fmt.Sprintf("%s/%d", e.node, vmid),
				ImportPlanChecks: resource.ImportPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(ctAddr, plancheck.ResourceActionNoop)},
				},
				Check: noInstall,
			},
			{
				// Nothing ran the install meanwhile either.
				PreConfig: func() {
					if err := noInstall(nil); err != nil {
						t.Fatal(err)
					}
				},
				Config: cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
		},
		CheckDestroy: e.checkNoContainers(),
	})
}
