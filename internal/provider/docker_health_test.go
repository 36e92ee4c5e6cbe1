package provider

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/docker"
	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/pvesim/sshd"
)

// testRuns counts the runs of the test script in the SSH log.
func (e *accEnv) testRuns() int { return e.commandsWith("--hello-world-image") }

// The tests' results, durations and times are in state; a change of the
// health checks alone (another hello-world image: a registry mirror's, one
// pinned by digest) reruns the tests and never the install.
func TestAccLXCContainer_dockerHealthChecks(t *testing.T) {
	e := newSimSSHEnv(t, "counting install and test runs in the SSH log")
	const vmid = 4340
	const mirror = "mirror.lan:5000/library/hello-world:latest"
	digest := "hello-world@sha256:" + strings.Repeat("d1", 32)
	cfg := func(checks string) string {
		return e.containerConfig(ctConfig{VMID: vmid, Unprivileged: true, Extra: "  docker {\n" + checks + "  }\n"})
	}
	withImage := func(image string) string {
		return cfg("    health_checks {\n      hello_world_image = \"" + image + "\"\n    }\n")
	}
	var testsFP, ranAt string
	var starts int
	allPassed := statecheck.ExpectKnownValue(ctAddr, tfjsonpath.New("docker").AtMapKey("tests"), knownvalue.MapExact(map[string]knownvalue.Check{
		docker.CaseServiceIsRunning: testRun(docker.Passed),
		docker.CaseHelloWorld:       testRun(docker.Passed),
		docker.CaseNetworkAccess:    testRun(docker.Passed),
	}))
	// testsOnly: the step ran the tests once with image and no install.
	testsOnly := func(image string) resource.TestCheckFunc {
		return func(s *terraform.State) error {
			if n := e.installRuns(); n != 0 {
				return fmt.Errorf("the install script ran %d times for a change of the health checks, want 0", n)
			}
			if n := e.dockerStarts(vmid); n != starts {
				return fmt.Errorf("docker was started %d times by a run of the tests alone", n-starts)
			}
			runs := e.commandsWith("--hello-world-image "+image, "--hello-world-image '"+image+"'")
			if runs != 1 || e.testRuns() != 1 {
				return fmt.Errorf("the test script ran %d times with %s (%d in all), want once", runs, image, e.testRuns())
			}
			fp := dockerState(s, "tests_fingerprint")
			at := s.RootModule().Resources[ctAddr].Primary.Attributes["docker.tests."+docker.CaseHelloWorld+".ran_at"]
			if fp == testsFP || at == "" || at < ranAt {
				return fmt.Errorf("tests_fingerprint %s (was %s), hello-world ran at %s (was %s)", fp, testsFP, at, ranAt)
			}
			testsFP, ranAt = fp, at
			return nil
		}
	}
	rerunPlan := resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
		plancheck.ExpectResourceAction(ctAddr, plancheck.ResourceActionUpdate),
		plancheck.ExpectUnknownValue(ctAddr, tfjsonpath.New("docker").AtMapKey("tests")),
		plancheck.ExpectKnownValue(ctAddr, tfjsonpath.New("docker").AtMapKey("installed_version"), knownvalue.NotNull()),
		plancheck.ExpectKnownValue(ctAddr, tfjsonpath.New("docker").AtMapKey("tests_fingerprint"), knownvalue.StringRegexp(regexp.MustCompile(`^[0-9a-f]{64}$`))),
	}}
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				PreConfig: e.resetLog,
				Config:    cfg(""),
				ConfigStateChecks: []statecheck.StateCheck{
					allPassed,
					statecheck.ExpectKnownValue(ctAddr, tfjsonpath.New("docker").AtMapKey("tests_fingerprint"), knownvalue.StringRegexp(regexp.MustCompile(`^[0-9a-f]{64}$`))),
					statecheck.ExpectKnownValue(ctAddr, tfjsonpath.New("docker").AtMapKey("storage_driver_in_use"), knownvalue.StringExact(docker.StorageDriverOverlay2)),
				},
				Check: func(s *terraform.State) error {
					if n, m := e.installRuns(), e.testRuns(); n != 1 || m != 1 {
						return fmt.Errorf("create ran the install %d and the tests %d times, want once each", n, m)
					}
					testsFP, starts = dockerState(s, "tests_fingerprint"), e.dockerStarts(vmid)
					ranAt = s.RootModule().Resources[ctAddr].Primary.Attributes["docker.tests."+docker.CaseHelloWorld+".ran_at"]
					return nil
				},
			},
			{
				// A registry mirror's hello-world: the tests run again, alone.
				PreConfig:         e.resetLog,
				Config:            withImage(mirror),
				ConfigPlanChecks:  rerunPlan,
				ConfigStateChecks: []statecheck.StateCheck{allPassed},
				Check:             testsOnly(mirror),
			},
			{
				Config:           withImage(mirror),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
			{
				// Pinned by digest.
				PreConfig:         e.resetLog,
				Config:            withImage(digest),
				ConfigPlanChecks:  rerunPlan,
				ConfigStateChecks: []statecheck.StateCheck{allPassed},
				Check:             testsOnly(digest),
			},
			{
				// The network case from a registry mirror's busybox: the
				// tests run again, alone, with it.
				PreConfig:         e.resetLog,
				Config:            cfg("    health_checks {\n      network_image = \"mirror.lan:5000/library/busybox:latest\"\n    }\n"),
				ConfigPlanChecks:  rerunPlan,
				ConfigStateChecks: []statecheck.StateCheck{allPassed},
				Check: func(*terraform.State) error {
					with := e.commandsWith("--network-image mirror.lan:5000/library/busybox:latest")
					if n, m := e.installRuns(), e.testRuns(); n != 0 || m != 1 || with != 1 {
						return fmt.Errorf("the install ran %d and the tests %d times (%d with the network image), want 0, 1 and 1", n, m, with)
					}
					return nil
				},
			},
			{
				// The hello-world case turned off: skipped, 0 ms.
				PreConfig:        e.resetLog,
				Config:           cfg("    health_checks {\n      hello_world = false\n    }\n"),
				ConfigPlanChecks: rerunPlan,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(ctAddr, tfjsonpath.New("docker").AtMapKey("tests").AtMapKey(docker.CaseHelloWorld), testRun(docker.Skipped)),
				},
				Check: func(*terraform.State) error {
					if n, m := e.installRuns(), e.testRuns(); n != 0 || m != 1 {
						return fmt.Errorf("the install ran %d and the tests %d times, want 0 and 1", n, m)
					}
					return nil
				},
			},
		},
		CheckDestroy: e.checkNoContainers(),
	})
}

// Tests that fail during an update are recorded in state, with the
// fingerprint of the health checks they ran with, as on create: the apply
// fails, and the state says which case failed. Here a hello-world image
// that greets nobody (busybox) fails test_case_docker_hello_world.
func TestAccLXCContainer_dockerUpdateTestFailureInState(t *testing.T) {
	e := newSimSSHEnv(t, "an image from the simulated registry")
	const vmid = 4341
	cfg := func(checks string) string {
		return e.containerConfig(ctConfig{VMID: vmid, Unprivileged: true, Extra: "  docker {\n" + checks + "  }\n"})
	}
	silent := cfg("    health_checks {\n      hello_world_image = \"busybox\"\n    }\n")
	var passedFP string
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: cfg(""),
				Check: func(s *terraform.State) error {
					passedFP = dockerState(s, "tests_fingerprint")
					return nil
				},
			},
			{
				Config:      silent,
				ExpectError: regexp.MustCompile(docker.CaseHelloWorld),
			},
			{
				// The state after the failed update, as it was saved; its
				// plan reruns the failed tests (the next step).
				RefreshState:       true,
				ExpectNonEmptyPlan: true,
				Check: func(s *terraform.State) error {
					if got := dockerState(s, "tests."+docker.CaseHelloWorld+".result"); got != docker.Failed {
						return fmt.Errorf("%s in state after the failed update: %q, want %q", docker.CaseHelloWorld, got, docker.Failed)
					}
					if got := dockerState(s, "tests."+docker.CaseServiceIsRunning+".result"); got != docker.Passed {
						return fmt.Errorf("%s in state: %q, want %q", docker.CaseServiceIsRunning, got, docker.Passed)
					}
					if got := dockerState(s, "service_active"); got != "true" {
						return fmt.Errorf("service_active %q after a failed test, want true: the install and the check had succeeded", got)
					}
					if fp := dockerState(s, "tests_fingerprint"); fp == "" || fp == passedFP {
						return fmt.Errorf("tests_fingerprint %q: want the failed run's, not the create's %q", fp, passedFP)
					}
					return nil
				},
			},
			{
				// The failed tests run again on the next apply.
				Config: silent,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(ctAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectUnknownValue(ctAddr, tfjsonpath.New("docker").AtMapKey("tests")),
				}},
				ExpectError: regexp.MustCompile(docker.CaseHelloWorld),
			},
		},
		CheckDestroy: e.checkNoContainers(),
	})
}

// An install that fails during an update (a version the repository does
// not have) is saved with the service inactive, so that the next plan runs
// the install again, also with verify_on_refresh off, where no check on
// refresh would find out.
func TestAccLXCContainer_dockerUpdateInstallFailureRetried(t *testing.T) {
	e := newSimSSHEnv(t, "a version the simulated repository lacks")
	const vmid = 4342
	cfg := func(version string) string {
		return e.containerConfig(ctConfig{VMID: vmid, Unprivileged: true,
			Extra: "  docker {\n    verify_on_refresh = false\n" + version + "  }\n"})
	}
	missing := cfg("    version = \"27.9.9\"\n")
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: cfg("")},
			{Config: missing, ExpectError: regexp.MustCompile(`27\.9\.9`)},
			{
				Config: missing,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(ctAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectUnknownValue(ctAddr, tfjsonpath.New("docker").AtMapKey("installed_version")),
				}},
				ExpectError: regexp.MustCompile(`27\.9\.9`),
			},
		},
		CheckDestroy: e.checkNoContainers(),
	})
}

// Two provider processes (two terraform CLIs, each with its own working
// directory and state) apply the same Docker upgrade to one container at
// the same time. The first holds dpkg's frontend lock (FaultAptSlow keeps
// it there until the second has arrived); the second waits on the install
// script's own lock, /run/phoenix-docker.lock, not on apt's: the stand-in's
// apt-get, like apt, fails at once on a held frontend lock unless given
// DPkg::Lock::Timeout. Both applies succeed, the second finds everything
// done, and dpkg is left consistent ("dpkg --audit" reports nothing).
func TestAccLXCContainer_dockerRacingApplies(t *testing.T) {
	e := newSimSSHEnv(t, "a fault held inside the container")
	const vmid = 4350
	cfg := func(version string) string {
		return requirePhoenix + e.containerConfig(ctConfig{VMID: vmid, Unprivileged: true,
			Extra: "  docker {\n    version = \"" + version + "\"\n  }\n"})
	}
	dirA, dirB := t.TempDir(), t.TempDir()
	apply := []string{"apply", "-auto-approve", "-input=false", "-no-color"}
	writeFile(t, filepath.Join(dirA, "main.tf"), cfg("28.5.2"))
	if out, err := runTerraform(t, dirA, apply...); err != nil {
		t.Fatalf("create: %v\n%s", err, lastLines(out, 40))
	}
	t.Cleanup(func() {
		if out, err := runTerraform(t, dirA, "destroy", "-auto-approve", "-input=false", "-no-color"); err != nil {
			t.Errorf("destroy: %v\n%s", err, lastLines(out, 40))
		}
	})
	state, err := os.ReadFile(filepath.Join(dirA, "terraform.tfstate"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dirB, "terraform.tfstate"), string(state))
	for _, dir := range []string{dirA, dirB} {
		writeFile(t, filepath.Join(dir, "main.tf"), cfg("29.1.3"))
	}
	installs := e.aptInstalls(vmid)
	if err := sshd.SetCTFault(e.sim.StateDir, e.node, vmid, sshd.FaultAptSlow, 1); err != nil {
		t.Fatal(err)
	}

	logs := map[string]string{dirA: filepath.Join(dirA, "provider.log"), dirB: filepath.Join(dirB, "provider.log")}
	var wg sync.WaitGroup
	outs, errs := map[string]string{}, map[string]error{}
	var mu sync.Mutex
	start := func(dir string) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := runTerraformEnv(t, dir, nil, []string{"TF_LOG_PROVIDER=DEBUG", "TF_LOG_PATH=" + logs[dir]}, apply...)
			mu.Lock()
			outs[dir], errs[dir] = out, err
			mu.Unlock()
		}()
	}
	// waitFor polls cond for up to two minutes.
	waitFor := func(what string, cond func() bool) {
		deadline := time.Now().Add(2 * time.Minute)
		for !cond() {
			if time.Now().After(deadline) {
				_ = sshd.ReleaseCTFault(e.sim.StateDir, e.node, vmid, sshd.FaultAptSlow)
				wg.Wait()
				t.Fatalf("timed out waiting until %s; outputs: %v", what, outs)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	logHas := func(dir, text string) bool {
		b, _ := os.ReadFile(logs[dir])
		return strings.Contains(string(b), text)
	}
	const waiting = "another run holds /run/phoenix-docker.lock"
	start(dirA)
	waitFor("the first apply holds apt-get", func() bool {
		held, err := sshd.CTFaultWaiting(e.sim.StateDir, e.node, vmid, sshd.FaultAptSlow)
		return err == nil && held
	})
	start(dirB)
	waitFor("the second apply waits on the install script's lock", func() bool { return logHas(dirB, waiting) })
	if err := sshd.ReleaseCTFault(e.sim.StateDir, e.node, vmid, sshd.FaultAptSlow); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for dir, name := range map[string]string{dirA: "first", dirB: "second"} {
		if errs[dir] != nil {
			t.Errorf("the %s apply failed: %v\n%s", name, errs[dir], lastLines(outs[dir], 40))
		}
	}
	if logHas(dirA, waiting) {
		t.Error("the first apply waited on the install script's lock too")
	}
	if !logHas(dirB, "docker is active and configured as requested; nothing to do") {
		t.Error("the second apply did not find the first one's work done")
	}
	// docker-ce and docker-ce-cli upgraded once, by the first apply.
	if n := e.aptInstalls(vmid); n != installs+2 {
		t.Errorf("apt installs went %d -> %d, want the two pinned packages once", installs, n)
	}
	if out := e.ctOutput(vmid, "dpkg", "--audit"); out != "" {
		t.Errorf("dpkg --audit after the racing applies:\n%s", out)
	}
	for _, dir := range []string{dirA, dirB} {
		if out, err := runTerraform(t, dir, "plan", "-detailed-exitcode", "-input=false", "-no-color"); err != nil {
			t.Errorf("plan after the racing applies in %s: %v\n%s", dir, err, lastLines(out, 30))
		}
	}
}
