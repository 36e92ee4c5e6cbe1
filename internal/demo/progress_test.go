package demo

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Lines as Terraform writes the provider's log to TF_LOG_PATH.
const (
	logCreate  = `2026-11-27T06:05:53.871Z [INFO]  provider.terraform-provider-phoenix: container creation started: tf_resource_type=phoenix_lxc_container tf_rpc=ApplyResourceChange @module=phoenix node=pve1 tf_provider_addr=registry.terraform.io/phoenix-hypervisor/phoenix tf_req_id=c8358761 upid="UPID:pve1:000056EA:00650B85:6B091DC1:vzcreate:9101:root@pam!phoenix:" vmid=9101 @caller=/work/main/internal/provider/lxc_container_resource.go:172 timestamp=2026-11-27T06:05:53.868Z`
	logNodeCmd = `2026-11-27T06:05:57.083Z [DEBUG] provider.terraform-provider-phoenix: running node command: tf_req_id=277a00fd tf_resource_type=phoenix_lxc_container tf_rpc=ApplyResourceChange @caller=/work/main/internal/provider/nodeops.go:290 @module=phoenix node=pve1 op=docker-install write=true timestamp=2026-11-27T06:05:57.083Z`
	logResult  = `2026-11-27T06:06:01.657Z [DEBUG] provider.terraform-provider-phoenix: phoenix-docker: result installed_version=5:29.1.3-1~debian.12~bookworm changed=1: tf_resource_type=phoenix_lxc_container vmid=9100 @module=phoenix node=pve1 step=docker-install stream=stdout tf_req_id=277a00fd timestamp=2026-11-27T06:06:01.656Z`
	logTest    = `2026-11-27T06:06:02.990Z [DEBUG] provider.terraform-provider-phoenix: test_case_docker_hello_world: passed: tf_resource_type=phoenix_lxc_container stream=stdout tf_req_id=277a00fd step=docker-test vmid=9100 @module=phoenix node=pve1 script=test_docker_feature.sh timestamp=2026-11-27T06:06:02.990Z`
	logAA      = `2026-11-27T06:05:55.999Z [DEBUG] provider.terraform-provider-phoenix: apparmor profile install: @module=phoenix loaded=true tf_req_id=277a00fd node=pve1 installed=[/etc/apparmor.d/lxc/lxc-docker-secure] removed=<nil> timestamp=2026-11-27T06:05:55.997Z`
	logSDK     = `2026-11-27T06:05:53.852Z [DEBUG] provider.terraform-provider-phoenix: Calling provider defined Resource Create: @module=sdk.framework tf_req_id=277a00fd timestamp=2026-11-27T06:05:53.852Z`
)

func TestParseLogLine(t *testing.T) {
	cases := []struct {
		line, level, msg string
		fields           map[string]string
	}{
		{logCreate, "INFO", "container creation started", map[string]string{
			"vmid": "9101", "tf_req_id": "c8358761", "@module": "phoenix",
			"upid": "UPID:pve1:000056EA:00650B85:6B091DC1:vzcreate:9101:root@pam!phoenix:",
		}},
		{logNodeCmd, "DEBUG", "running node command", map[string]string{"op": "docker-install", "write": "true"}},
		// The message holds ": " and "=": the fields start after the last
		// ": " that only k=v pairs follow.
		{logResult, "DEBUG", "phoenix-docker: result installed_version=5:29.1.3-1~debian.12~bookworm changed=1", map[string]string{"vmid": "9100", "step": "docker-install"}},
		{logTest, "DEBUG", "test_case_docker_hello_world: passed", map[string]string{"script": "test_docker_feature.sh"}},
		{logAA, "DEBUG", "apparmor profile install", map[string]string{"installed": "[/etc/apparmor.d/lxc/lxc-docker-secure]", "removed": "<nil>"}},
	}
	for _, c := range cases {
		l, ok := parseLogLine(c.line)
		if !ok {
			t.Fatalf("not parsed: %s", c.line)
		}
		if l.Level != c.level || l.Message != c.msg {
			t.Errorf("level %q message %q, want %q %q", l.Level, l.Message, c.level, c.msg)
		}
		for k, v := range c.fields {
			if l.Fields[k] != v {
				t.Errorf("%s: field %s = %q, want %q", c.msg, k, l.Fields[k], v)
			}
		}
	}
	for _, s := range []string{
		"",
		"2026-11-27T06:05:52.425Z [INFO]  backend/local: starting Apply operation",
		"  a continuation line",
	} {
		if _, ok := parseLogLine(s); ok {
			t.Errorf("parsed a line that is not the provider's: %q", s)
		}
	}
}

func testPrinter() (*printer, *bytes.Buffer) {
	var b bytes.Buffer
	return &printer{w: &b, start: time.Now()}, &b
}

// stripTimes removes the elapsed-time prefixes.
func stripTimes(s string) string {
	return regexp.MustCompile(`(?m)^\[\s*[0-9.]+s\] `).ReplaceAllString(s, "")
}

// wantPrinted checks the lines printed to out, without their times.
func wantPrinted(t *testing.T, out *bytes.Buffer, lines ...string) {
	t.Helper()
	want := strings.Join(lines, "\n") + "\n"
	if got := stripTimes(out.String()); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestLogRendererNamesContainers(t *testing.T) {
	p, out := testPrinter()
	r := newLogRenderer(p, map[string]string{"9100": "phoenix_lxc_container.docker"})
	// The node command comes before any line naming the container: it
	// waits for one from the same request.
	r.render(logNodeCmd)
	if out.Len() != 0 {
		t.Fatalf("printed before the container was known: %s", out)
	}
	for _, l := range []string{logResult, logTest, logCreate, logSDK, logAA} {
		r.render(l)
	}
	wantPrinted(t, out,
		"    phoenix_lxc_container.docker: container: Docker install script (idempotent)",
		"    phoenix_lxc_container.docker:   test_case_docker_hello_world: passed",
		"    CT 9101: create task UPID:pve1:000056EA:00650B85:6B091DC1:vzcreate:9101:root@pam!phoenix:",
	)
	// A request whose container never shows is printed at the end.
	out.Reset()
	r.render(strings.Replace(logNodeCmd, "277a00fd", "other", 1))
	r.flush()
	if got := stripTimes(out.String()); got != "    provider: container: Docker install script (idempotent)\n" {
		t.Errorf("flush printed %q", got)
	}
}

func TestUIRenderer(t *testing.T) {
	p, out := testPrinter()
	synced := 0
	r := &uiRenderer{p: p, applyOnly: true, sync: func() { synced++ }}
	for _, l := range []string{
		`{"@level":"info","@message":"Terraform 1.11.4","type":"version"}`,
		`{"@level":"info","@message":"phoenix_lxc_container.plain: Plan to create","type":"planned_change","change":{"action":"create"}}`,
		`{"@level":"info","@message":"Plan: 2 to add, 0 to change, 0 to destroy.","type":"change_summary"}`,
		`{"@level":"warn","@message":"Warning: Provider development overrides are in effect","type":"diagnostic","diagnostic":{"severity":"warning","summary":"Provider development overrides are in effect","detail":"..."}}`,
		`{"@level":"info","@message":"phoenix_lxc_container.docker: Creating...","type":"apply_start","hook":{"resource":{"addr":"phoenix_lxc_container.docker"},"action":"create"}}`,
		`{"@level":"info","@message":"phoenix_lxc_container.docker: Still creating... [10s elapsed]","type":"apply_progress","hook":{"resource":{"addr":"phoenix_lxc_container.docker"},"action":"create","elapsed_seconds":10}}`,
		`{"@level":"info","@message":"phoenix_lxc_container.plain: Creation complete after 1s [id=pve1/9101]","type":"apply_complete","hook":{"resource":{"addr":"phoenix_lxc_container.plain"},"action":"create","id_key":"id","id_value":"pve1/9101","elapsed_seconds":1}}`,
		`{"@level":"error","@message":"Error: Docker tests failed","type":"diagnostic","diagnostic":{"severity":"error","summary":"Docker tests failed","detail":"test_case_docker_hello_world: failed\nlast lines","address":"phoenix_lxc_container.docker"}}`,
		`{"@level":"info","@message":"Apply complete! Resources: 1 added, 0 changed, 0 destroyed.","type":"change_summary"}`,
		`not json`,
	} {
		r.render(l)
	}
	wantPrinted(t, out,
		"    note: the provider built from this tree is used (dev_overrides)",
		"    phoenix_lxc_container.docker: creating",
		"    phoenix_lxc_container.docker: still creating (10s elapsed)",
		"    phoenix_lxc_container.plain: created in 1s [id=pve1/9101]",
		"    error: phoenix_lxc_container.docker: Docker tests failed",
		"           test_case_docker_hello_world: failed",
		"           last lines",
		"    Apply complete! Resources: 1 added, 0 changed, 0 destroyed.",
		"    not json",
	)
	if len(r.errors) != 1 || !strings.Contains(r.errors[0], "Docker tests failed") {
		t.Errorf("errors = %q", r.errors)
	}
	// Logs are caught up before the plan summary (skipped here), the
	// completion, both diagnostics and the apply summary.
	if synced != 5 {
		t.Errorf("synced %d times, want 5", synced)
	}
}

func TestFormatOutputs(t *testing.T) {
	got, err := formatOutputs([]byte(`{
 "docker_container": {"sensitive": false, "type": ["object", {}], "value": {"id": "pve1/9100", "docker_tests": {"b": "passed", "a": "failed"}, "nesting": true, "docker_version": null}},
 "secret": {"sensitive": true, "value": "x"}
}`))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"docker_container:",
		"  docker_tests.a = failed",
		"  docker_tests.b = passed",
		"  docker_version = null",
		"  id             = pve1/9100",
		"  nesting        = true",
		"secret:",
		"  (sensitive)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if _, err := formatOutputs([]byte("not json")); err == nil {
		t.Error("no error for output that is not JSON")
	}
}

func TestHumanFilter(t *testing.T) {
	in := []string{
		"",
		"Warning: Provider development overrides are in effect",
		"",
		"The following provider development overrides are set in the CLI",
		"releases.",
		"phoenix_lxc_container.docker: Refreshing state... [id=pve1/9100]",
		"No changes. Your infrastructure matches the configuration.",
		"Outputs:",
		"docker_container = {",
	}
	var got []string
	f := &humanFilter{}
	for _, l := range in {
		if k, ok := f.keep(l); ok {
			got = append(got, k)
		}
	}
	want := []string{
		"",
		"(warning: provider development overrides are in effect, as the demo intends)",
		"phoenix_lxc_container.docker: Refreshing state... [id=pve1/9100]",
		"No changes. Your infrastructure matches the configuration.",
		"Outputs: as above",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestTerraformEnv(t *testing.T) {
	env := terraformEnv([]string{
		"PATH=/usr/bin", "HOME=/root", "TF_CLI_CONFIG_FILE=/root/.terraformrc", "TF_LOG=TRACE",
		"TF_VAR_endpoint=https://real:8006/", "PHOENIX_API_TOKEN=secret", "PROXMOX_VE_ENDPOINT=https://real:8006/",
		"TF_CLI_ARGS_apply=-parallelism=1", "TF_INPUT=1",
	})
	want := "PATH=/usr/bin HOME=/root TF_INPUT=0 TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1"
	if got := strings.Join(env, " "); got != want {
		t.Errorf("env = %s, want %s", got, want)
	}
}

func TestCLIConfig(t *testing.T) {
	got := cliConfig("/tmp/x/bin")
	if !strings.Contains(got, `"phoenix-hypervisor/phoenix" = "/tmp/x/bin"`) || !strings.Contains(got, "direct {}") {
		t.Errorf("config:\n%s", got)
	}
}

func TestFindRepo(t *testing.T) {
	root, err := FindRepo(".")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := FindRepo(t.TempDir()); err == nil {
		t.Error("found a repository in an empty temporary directory")
	}
	sub, err := FindRepo(root + "/internal/demo/cmd/demo")
	if err != nil || sub != root {
		t.Errorf("from a subdirectory: %q, %v; want %q", sub, err, root)
	}
}

func TestCheckBubblewrap(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	err := CheckBubblewrap()
	if err == nil || !strings.Contains(err.Error(), "sudo apt-get install bubblewrap") {
		t.Errorf("without bwrap on PATH: %v", err)
	}
}
