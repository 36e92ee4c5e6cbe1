package docker

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/nodeexec"
)

// scriptFiles are the shipped scripts and the stand-in commands of the tests.
func scriptFiles(t *testing.T) []string {
	t.Helper()
	files := []string{
		filepath.Join("scripts", InstallScriptName),
		filepath.Join("scripts", CheckScriptName),
		filepath.Join("scripts", TestScriptName),
		filepath.Join("scripts", CheckBatchScriptName),
	}
	fakes, err := filepath.Glob(filepath.Join("testdata", "fakebin", "*"))
	if err != nil || len(fakes) == 0 {
		t.Fatalf("no stand-in commands under testdata/fakebin: %v", err)
	}
	return append(files, fakes...)
}

func TestShellcheck(t *testing.T) {
	sc, err := exec.LookPath("shellcheck")
	if err != nil {
		t.Skip("shellcheck not installed (apt-get install shellcheck): the scripts were not linted")
	}
	args := append([]string{"-x", "--shell=bash", "--severity=style"}, scriptFiles(t)...)
	out, err := exec.CommandContext(t.Context(), sc, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("shellcheck %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func TestBats(t *testing.T) {
	bats, err := exec.LookPath("bats")
	if err != nil {
		t.Skip("bats not installed (apt-get install bats): the script tests under testdata/*.bats did not run")
	}
	files, err := filepath.Glob(filepath.Join("testdata", "*.bats"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no bats files under testdata: %v", err)
	}
	out, err := exec.CommandContext(t.Context(), bats, append([]string{"--tap"}, files...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("bats: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("\nok ")) {
		t.Fatalf("bats ran no test:\n%s", out)
	}
	t.Logf("%s", out)
}

// fakeContainer runs the embedded scripts the way the provider does (on the
// stdin of "bash -s --") against the stand-in commands, so the parsers are
// exercised on the scripts' real output.
type fakeContainer struct {
	t     *testing.T
	state string
	env   []string
}

func newFakeContainer(t *testing.T) *fakeContainer {
	t.Helper()
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash not installed: the scripts cannot run")
	}
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	root := filepath.Join(dir, "root")
	for _, d := range []string{filepath.Join(state, "pkg"), filepath.Join(root, "etc")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "etc", "os-release"), []byte("ID=debian\nVERSION_CODENAME=bookworm\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fakebin, err := filepath.Abs(filepath.Join("testdata", "fakebin"))
	if err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(),
		"PATH="+fakebin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"FAKE_STATE="+state, "PHOENIX_ROOT="+root,
		"PHOENIX_RETRY_DELAY=0", "PHOENIX_NETWORK_ATTEMPTS=2", "PHOENIX_APT_ATTEMPTS=2", "PHOENIX_VERIFY_ATTEMPTS=1")
	return &fakeContainer{t: t, state: state, env: env}
}

func (c *fakeContainer) run(inv Invocation) (string, error) {
	c.t.Helper()
	// What the provider runs in the container: pct exec VMID -- then this.
	node := nodeexec.PctExecScript(100, inv.Script, inv.Args...)
	argv := node.Argv[slices.Index(node.Argv, "--")+1:]
	cmd := exec.CommandContext(c.t.Context(), argv[0], argv[1:]...)
	cmd.Stdin = bytes.NewReader(inv.Script)
	cmd.Env = c.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (c *fakeContainer) touch(name string) {
	c.t.Helper()
	if err := os.WriteFile(filepath.Join(c.state, name), nil, 0o644); err != nil {
		c.t.Fatal(err)
	}
}

func TestScriptsEndToEnd(t *testing.T) {
	c := newFakeContainer(t)
	o := DefaultOptions()
	o.DaemonJSON = `{"log-driver":"journald"}`
	plan := mustPlan(t, o)
	install := plan.Install()

	out, err := c.run(install)
	if err != nil {
		t.Fatalf("install: %v\n%s", err, out)
	}
	res, err := ParseInstallResult(out)
	if err != nil {
		t.Fatal(err)
	}
	want := InstallResult{InstalledVersion: "5:27.3.1-1~debian.12~bookworm", Changed: true,
		Packages: []string{"docker-ce", "docker-ce-cli", "containerd.io", "docker-compose-plugin"},
		Items:    []string{"apt-key", "apt-source", "packages", "daemon.json", "marker", "service-start", "fingerprint"}}
	if !reflect.DeepEqual(res, want) {
		t.Errorf("first install = %+v, want %+v", res, want)
	}

	out, err = c.run(install)
	if err != nil {
		t.Fatalf("second install: %v\n%s", err, out)
	}
	if res, err = ParseInstallResult(out); err != nil || res.Changed {
		t.Errorf("second install = %+v, %v; want unchanged", res, err)
	}

	out, err = c.run(Check())
	if err != nil {
		t.Fatalf("check: %v\n%s", err, out)
	}
	chk, err := ParseCheckResult(out)
	if err != nil || !chk.ServiceActive || chk.InstalledVersion != res.InstalledVersion {
		t.Errorf("check = %+v, %v", chk, err)
	}
	// What the check reads back is what the plan expects.
	if chk.Fingerprint != plan.Fingerprint() || chk.DaemonJSONSHA256 != plan.DaemonJSONSHA256() ||
		chk.AptKeySHA256 != AptKeySHA256() || chk.StorageDriver != o.StorageDriver || chk.Package != plan.EnginePackage() {
		t.Errorf("check = %+v; want the plan's fingerprint %s, daemon.json %s, key %s", chk, plan.Fingerprint(), plan.DaemonJSONSHA256(), AptKeySHA256())
	}

	test := mustPlan(t, o).Test()
	out, err = c.run(test)
	if err != nil {
		t.Fatalf("tests: %v\n%s", err, out)
	}
	rep, err := ParseTestResults(out)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Passed != 3 || rep.Failed != 0 || len(rep.FailedCases()) != 0 {
		t.Errorf("report = %+v", rep)
	}

	// The network goes away: the network case fails, with its output.
	c.touch("net.down")
	out, err = c.run(test)
	if err == nil {
		t.Fatalf("tests passed without network:\n%s", out)
	}
	rep, err = ParseTestResults(out)
	if err != nil {
		t.Fatal(err)
	}
	if got := rep.FailedCases(); len(got) != 1 || got[0] != CaseNetworkAccess || len(rep.Output[CaseNetworkAccess]) == 0 {
		t.Errorf("failed cases = %v, output %q", got, rep.Output)
	}

	// Docker stopped: the check reports it, and is an error exit.
	if err := os.Remove(filepath.Join(c.state, "docker.active")); err != nil {
		t.Fatal(err)
	}
	out, err = c.run(Check())
	if err == nil {
		t.Fatalf("check passed with docker stopped:\n%s", out)
	}
	if chk, err := ParseCheckResult(out); err != nil || chk.ServiceActive {
		t.Errorf("check = %+v, %v; want inactive", chk, err)
	}
}

func TestScriptsEndToEndFailure(t *testing.T) {
	c := newFakeContainer(t)
	c.touch("docker.fail_start")
	install := mustPlan(t, DefaultOptions()).Install()
	out, err := c.run(install)
	if err == nil {
		t.Fatalf("install succeeded although docker cannot start:\n%s", out)
	}
	_, perr := ParseInstallResult(out)
	if perr == nil || !strings.HasPrefix(perr.Error(), "FATAL: docker service is not active") {
		t.Errorf("ParseInstallResult error = %v", perr)
	}
	tail := Tail(out, 20)
	if len(tail) == 0 || tail[len(tail)-1] != FatalLine(out) {
		t.Errorf("the tail does not end with the FATAL line: %q", tail)
	}
}
