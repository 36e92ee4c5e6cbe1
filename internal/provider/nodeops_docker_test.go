package provider

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-log/tflogtest"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/docker"
	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/nodeexec"
	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/pvesim/sshd"
)

// dockerCTConf is an unprivileged Debian CT ready for Docker but for its
// AppArmor profile, which the test applies.
func dockerCTConf(vmid int) string {
	return fmt.Sprintf(`arch: amd64
cores: 2
features: nesting=1,keyctl=1
hostname: docker%d
memory: 2048
net0: name=eth0,bridge=vmbr0,ip=dhcp,type=veth
ostype: debian
rootfs: local-lvm:vm-%d-disk-0,size=8G
unprivileged: 1
`, vmid, vmid)
}

// prepareDockerCT creates a running CT and gives it the lxc-docker-secure
// profile the way the resource does, through e.data's node operations.
func (e *nodeEnv) prepareDockerCT(vmid int) {
	e.t.Helper()
	e.addCT(vmid, dockerCTConf(vmid), true)
	if _, err := e.applyProfile(e.data, vmid, dockerProfile.Name, true); err != nil {
		e.t.Fatal(err)
	}
}

// dockerPlanOf is the plan of valid options.
func dockerPlanOf(t testing.TB, o docker.Options) docker.Plan {
	t.Helper()
	p, err := docker.NewPlan(o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDockerInstallCheckAndTest(t *testing.T) {
	t.Parallel()
	e := newNodeEnv(t)
	ops := e.data.NodeOps()
	e.prepareDockerCT(120)
	var logs bytes.Buffer
	ctx := tflogtest.RootLogger(t.Context(), &logs)
	opts := dockerPlanOf(t, docker.DefaultOptions())

	res, err := ops.InstallDocker(ctx, testNode, 120, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Changed || !strings.HasPrefix(res.InstalledVersion, "5:") {
		t.Errorf("first install = %+v, want a change and a docker-ce version", res)
	}
	installs, err := sshd.CTInstalls(e.state, testNode, 120)
	if err != nil || installs == 0 {
		t.Fatalf("packages installed in the CT: %d, %v", installs, err)
	}

	before := ops.Counts()
	check, err := ops.CheckDocker(ctx, testNode, 120)
	if err != nil {
		t.Fatal(err)
	}
	if !check.ServiceActive || check.InstalledVersion != res.InstalledVersion {
		t.Errorf("check = %+v, want active with version %s", check, res.InstalledVersion)
	}
	if c := ops.Counts(); c.Commands != before.Commands+1 || c.Writes != before.Writes {
		t.Errorf("CheckDocker sent %d commands and %d writes, want one read-only command", c.Commands-before.Commands, c.Writes-before.Writes)
	}

	report, err := ops.TestDocker(ctx, testNode, 120, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range docker.Cases() {
		if report.Cases[c] != docker.Passed {
			t.Errorf("%s = %q, want passed", c, report.Cases[c])
		}
	}
	if report.Passed != 3 || report.Failed != 0 {
		t.Errorf("report = %+v", report)
	}

	// Again: nothing to do, nothing installed, nothing written on the node.
	n := len(e.waitEvents(ops.Counts().Commands))
	res, err = ops.InstallDocker(ctx, testNode, 120, opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Changed {
		t.Errorf("second install reported a change: %+v", res)
	}
	if got, _ := sshd.CTInstalls(e.state, testNode, 120); got != installs {
		t.Errorf("second install installed packages: %d installs, was %d", got, installs)
	}
	if w := writesSince(e.waitEvents(n+1), n); len(w) > 0 {
		t.Errorf("the idempotent install wrote on the node: %q", w)
	}

	// The scripts' lines reached the log, with their node, CT and step.
	entries, err := tflogtest.MultilineJSONDecode(&logs)
	if err != nil {
		t.Fatal(err)
	}
	steps := map[string]bool{}
	for _, en := range entries {
		msg, _ := en["@message"].(string)
		if !strings.HasPrefix(msg, docker.OutputPrefix) && !strings.HasPrefix(msg, "test_case_") {
			continue
		}
		if en["node"] != testNode || fmt.Sprint(en["vmid"]) != "120" {
			t.Errorf("script line logged without its node and vmid: %v", en)
		}
		step, _ := en["step"].(string)
		steps[step] = true
	}
	for _, s := range []string{opDockerInstall, opDockerCheck, opDockerTest} {
		if !steps[s] {
			t.Errorf("no output of step %s in the log", s)
		}
	}

	// Docker stopped inside the CT: a result, not an error.
	pool, err := e.data.Nodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Run(ctx, testNode, nodeexec.PctExec(120, "systemctl", "stop", "docker")); err != nil {
		t.Fatal(err)
	}
	check, err = ops.CheckDocker(ctx, testNode, 120)
	if err != nil || check.ServiceActive || check.InstalledVersion == "" {
		t.Errorf("check with docker stopped = %+v, %v; want inactive, installed, no error", check, err)
	}
}

func TestDockerInstallFailureCarriesTheFatalLine(t *testing.T) {
	t.Parallel()
	e := newNodeEnv(t)
	ops := e.data.NodeOps()
	e.prepareDockerCT(121)
	ctx := t.Context()
	pool, err := e.data.Nodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Seed the CT's system so that the fault file has somewhere to live.
	if _, err := pool.Run(ctx, testNode, nodeexec.PctExec(121, "true")); err != nil {
		t.Fatal(err)
	}
	if err := sshd.SetCTFault(e.state, testNode, 121, sshd.FaultAptFail, 0); err != nil {
		t.Fatal(err)
	}
	_, err = ops.InstallDocker(ctx, testNode, 121, dockerPlanOf(t, docker.DefaultOptions()))
	var se *scriptError
	if !errors.As(err, &se) {
		t.Fatalf("error = %v (%T), want a script error", err, err)
	}
	if !strings.HasPrefix(se.Fatal, docker.FatalPrefix) || se.ExitCode <= 0 {
		t.Errorf("script error = %+v, want a FATAL line and a non-zero exit", se)
	}
	if len(se.Tail) == 0 || len(se.Tail) > outputTailLines || se.Tail[len(se.Tail)-1] != se.Fatal {
		t.Errorf("tail = %q, want at most %d lines ending with the FATAL line", se.Tail, outputTailLines)
	}
	msg := err.Error()
	t.Logf("install error:\n%s", msg)
	for _, want := range []string{docker.InstallScriptName, se.Fatal, "container 121", `node "pve1"`} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not contain %q:\n%s", want, msg)
		}
	}

	// Once the fault is gone, one run converges.
	if err := sshd.ClearCTFault(e.state, testNode, 121, sshd.FaultAptFail); err != nil {
		t.Fatal(err)
	}
	if res, err := ops.InstallDocker(ctx, testNode, 121, dockerPlanOf(t, docker.DefaultOptions())); err != nil || !res.Changed {
		t.Errorf("install after clearing the fault = %+v, %v", res, err)
	}
	if check, err := ops.CheckDocker(ctx, testNode, 121); err != nil || !check.ServiceActive {
		t.Errorf("check = %+v, %v", check, err)
	}

	// A failing case is named, with its output, and the report still comes
	// back.
	if err := sshd.SetCTFault(e.state, testNode, 121, sshd.FaultNetworkDown, 0); err != nil {
		t.Fatal(err)
	}
	report, err := ops.TestDocker(ctx, testNode, 121, dockerPlanOf(t, docker.DefaultOptions()))
	if !errors.As(err, &se) {
		t.Fatalf("TestDocker error = %v, want a script error", err)
	}
	if report.Cases[docker.CaseNetworkAccess] != docker.Failed || report.Cases[docker.CaseServiceIsRunning] != docker.Passed {
		t.Errorf("report = %+v", report)
	}
	msg = err.Error()
	t.Logf("test error:\n%s", msg)
	for _, want := range []string{docker.TestScriptName, docker.CaseNetworkAccess + ": failed", "\n  | "} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not contain %q:\n%s", want, msg)
		}
	}
	if len(se.CaseOutput[docker.CaseNetworkAccess]) == 0 {
		t.Errorf("no output for the failed case: %+v", se)
	}
}

func TestDockerScriptsInAStoppedCT(t *testing.T) {
	e := newNodeEnv(t)
	ops := e.data.NodeOps()
	e.addCT(122, dockerCTConf(122), false)
	_, err := ops.CheckDocker(t.Context(), testNode, 122)
	var se *scriptError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), docker.CheckScriptName) {
		t.Fatalf("error = %v, want a script error naming %s", err, docker.CheckScriptName)
	}
	if !strings.Contains(strings.Join(se.Tail, "\n"), "not running!") {
		t.Errorf("the tail does not carry pct's complaint: %q", se.Tail)
	}
}
