package provider

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework-jsontypes/jsontypes"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/docker"
	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/lxcconf"
)

// Table tests of the plan's pure decisions: what Docker needs re-run, the
// features and AppArmor profile a plan shows, which raw lines weaken
// isolation, and the raw lines a container is given.

// testSourceSHA256 stands for the digest of the source list an install left.
var testSourceSHA256 = strings.Repeat("5a", 32)

// installedDocker is a docker block as the state holds it after a
// successful install of the defaults with journald logging, read back by
// the check.
func installedDocker() *dockerModel {
	d := &dockerModel{
		PackageSource:    types.StringValue(docker.PackageSourceDockerCE),
		Version:          types.StringNull(),
		Compose:          types.BoolValue(true),
		StorageDriver:    types.StringValue(docker.StorageDriverOverlay2),
		DaemonJSON:       jsontypes.NewNormalizedValue(`{"log-driver":"journald"}`),
		HealthChecks:     &healthChecksModel{HelloWorld: types.BoolValue(true), HelloWorldImage: types.StringNull(), NetworkTarget: types.StringValue("1.1.1.1")},
		VerifyOnRefresh:  types.BoolValue(true),
		InstalledVersion: types.StringValue("5:27.3.1-1~debian.12~bookworm"),
		ServiceActive:    types.BoolValue(true),
		Tests: testResults(map[string]string{
			docker.CaseServiceIsRunning: docker.Passed, docker.CaseHelloWorld: docker.Passed, docker.CaseNetworkAccess: docker.Passed,
		}),
		StorageDriverUsed: types.StringValue(docker.StorageDriverOverlay2),
		AppArmorSHA256:    types.StringValue(dockerProfile.SHA256()),
		ContainerdVersion: types.StringValue("2.2.1-1~debian.12~bookworm"),
		ComposeVersion:    types.StringValue("2.40.3-1~debian.12~bookworm"),
		AptKeySHA256:      types.StringValue(docker.AptKeySHA256()),
		AptSourceSHA256:   types.StringValue(testSourceSHA256),
	}
	p, err := docker.NewPlan(dockerOptions(d))
	if err != nil {
		panic(err)
	}
	d.Fingerprint = types.StringValue(p.Fingerprint())
	d.TestsFingerprint = types.StringValue(p.TestFingerprint())
	d.DaemonJSONSHA256 = types.StringValue(p.DaemonJSONSHA256())
	return d
}

// testResults is a docker.tests value with the given results.
func testResults(results map[string]string) types.Map {
	elems := map[string]attr.Value{}
	for name, r := range results {
		elems[name] = types.ObjectValueMust(dockerTestType.AttrTypes, map[string]attr.Value{
			"result": types.StringValue(r), "duration_ms": types.Int64Value(12), "ran_at": types.StringValue("2026-01-02T03:04:05Z"),
		})
	}
	return types.MapValueMust(dockerTestType, elems)
}

// planDockerFor runs planDocker for a container whose state holds prior and
// whose configuration holds planned; it returns the planned block and the
// diagnostics.
func planDockerFor(prior, planned *dockerModel, sourceSHA256 string) (*dockerModel, diag.Diagnostics) {
	state := &lxcContainerModel{ID: types.StringValue("pve1/100"), EffectiveAA: types.StringValue(dockerProfile.Name), Docker: prior}
	plan := &lxcContainerModel{ID: state.ID, EffectiveAA: state.EffectiveAA, Docker: planned}
	diags := planDocker(plan, state, sourceSHA256)
	return plan.Docker, diags
}

// A change of the raw lines alone (an lxc_config line added to a Docker
// container) makes the apply rewrite them and rerun the install and the
// tests, so the plan must not promise the tests' old results.
func TestPlanDockerRunOnRawLineChange(t *testing.T) {
	block := installedDocker
	state := &lxcContainerModel{ID: types.StringValue("pve1/100"), EffectiveAA: types.StringValue(dockerProfile.Name), Docker: block()}
	same := &lxcContainerModel{ID: state.ID, EffectiveAA: state.EffectiveAA, Docker: block()}
	if diags := planDocker(same, state, ""); diags.HasError() {
		t.Fatal(diags)
	}
	if !known(same.Docker.Tests) {
		t.Fatalf("unchanged raw lines: tests planned unknown")
	}
	lines := types.ListValueMust(lxcLineObjectType, []attr.Value{types.ObjectValueMust(lxcLineObjectType.AttrTypes, map[string]attr.Value{
		"key": types.StringValue("lxc.cgroup2.devices.allow"), "value": types.StringValue("c 10:200 rwm"),
	})})
	changed := &lxcContainerModel{ID: state.ID, EffectiveAA: state.EffectiveAA, LXCConfig: lines, Docker: block()}
	if diags := planDocker(changed, state, ""); diags.HasError() {
		t.Fatal(diags)
	}
	if !changed.Docker.Tests.IsUnknown() {
		t.Fatalf("an added lxc_config line reruns the install and the tests, but the plan kept the tests: %v", changed.Docker.Tests)
	}
}

func TestPlanDockerRun(t *testing.T) {
	other := strings.Repeat("0e", 32)
	cases := []struct {
		name  string
		prior func(d *dockerModel)
		plan  func(d *dockerModel)
		want  bool
		// tests: the tests run alone (always with an install).
		tests bool
		// drift is a part of the drift warning, "" when none is expected.
		drift string
	}{
		{name: "nothing changed", want: false},
		{name: "daemon_json spelled differently", plan: func(d *dockerModel) {
			d.DaemonJSON = jsontypes.NewNormalizedValue("{ \"log-driver\" :  \"journald\" }")
		}, want: false},
		{name: "verify_on_refresh changed", plan: func(d *dockerModel) { d.VerifyOnRefresh = types.BoolValue(false) }, want: false},
		{name: "prior tests null", prior: func(d *dockerModel) { d.Tests = types.MapNull(dockerTestType) }, want: false},
		{name: "adopted: no tests fingerprint, default checks", prior: func(d *dockerModel) {
			d.Tests, d.TestsFingerprint, d.HealthChecks = types.MapNull(dockerTestType), types.StringNull(), nil
		}, want: false},
		{name: "adopted: no tests fingerprint, other checks configured", prior: func(d *dockerModel) {
			d.Tests, d.TestsFingerprint, d.HealthChecks = types.MapNull(dockerTestType), types.StringNull(), nil
		}, plan: func(d *dockerModel) {
			d.HealthChecks.HelloWorldImage = types.StringValue("mirror.lan:5000/library/hello-world")
		}, tests: true},
		{name: "unset in the plan, the default in the state", plan: func(d *dockerModel) {
			d.PackageSource, d.Compose, d.StorageDriver = types.StringNull(), types.BoolNull(), types.StringNull()
		}, want: false},
		{name: "health checks removed: the defaults they held", plan: func(d *dockerModel) { d.HealthChecks = nil }, want: false},
		{name: "state from before the read-back (results null)", prior: func(d *dockerModel) {
			d.Fingerprint, d.DaemonJSONSHA256, d.AptKeySHA256, d.AptSourceSHA256 = types.StringNull(), types.StringNull(), types.StringNull(), types.StringNull()
		}, want: false},
		{name: "no fingerprint recorded, the rest as planned", prior: func(d *dockerModel) { d.Fingerprint = types.StringValue("") }, want: false},
		{name: "source list digest not recorded: not compared", prior: func(d *dockerModel) { d.AptSourceSHA256 = types.StringValue(other) }, want: false},

		{name: "service not active", prior: func(d *dockerModel) { d.ServiceActive = types.BoolValue(false) }, want: true, drift: "not active"},
		{name: "installed with another profile", prior: func(d *dockerModel) { d.AppArmorSHA256 = types.StringValue(strings.Repeat("0", 64)) }, want: true},
		{name: "installed before the profile had a hash", prior: func(d *dockerModel) { d.AppArmorSHA256 = types.StringNull() }, want: true},
		{name: "package source", plan: func(d *dockerModel) { d.PackageSource = types.StringValue(docker.PackageSourceDistro) }, want: true},
		{name: "version", plan: func(d *dockerModel) { d.Version = types.StringValue("5:27.3.1-1~debian.12~bookworm") }, want: true},
		{name: "compose", plan: func(d *dockerModel) { d.Compose = types.BoolValue(false) }, want: true},
		{name: "daemon_json", plan: func(d *dockerModel) { d.DaemonJSON = jsontypes.NewNormalizedValue(`{"log-driver":"local"}`) }, want: true},
		{name: "daemon_json removed", plan: func(d *dockerModel) { d.DaemonJSON = jsontypes.NewNormalizedNull() }, want: true},
		{name: "hello_world check", plan: func(d *dockerModel) { d.HealthChecks.HelloWorld = types.BoolValue(false) }, tests: true},
		{name: "hello_world image", plan: func(d *dockerModel) {
			d.HealthChecks.HelloWorldImage = types.StringValue("hello-world@sha256:" + strings.Repeat("ab", 32))
		}, tests: true},
		{name: "hello_world image spelled as the default", plan: func(d *dockerModel) { d.HealthChecks.HelloWorldImage = types.StringValue("hello-world") }},
		{name: "network target", plan: func(d *dockerModel) { d.HealthChecks.NetworkTarget = types.StringValue("9.9.9.9") }, tests: true},
		{name: "a test failed", prior: func(d *dockerModel) {
			d.Tests = testResults(map[string]string{docker.CaseServiceIsRunning: docker.Passed, docker.CaseHelloWorld: docker.Failed})
		}, want: true},
		{name: "another storage driver in use", prior: func(d *dockerModel) { d.StorageDriverUsed = types.StringValue("vfs") },
			want: true, drift: "Docker runs with the storage driver vfs, not the configured overlay2 (storage_driver_in_use)"},
		{name: "no storage driver read (service not active)", prior: func(d *dockerModel) {
			d.StorageDriverUsed, d.ServiceActive = types.StringValue(""), types.BoolValue(false)
		}, want: true, drift: "not active"},
		{name: "storage driver changed in the configuration: a run, no drift", plan: func(d *dockerModel) {
			d.StorageDriver = types.StringValue(docker.StorageDriverFuseOverlayfs)
		}, want: true},
		{name: "another fingerprint recorded in the container", prior: func(d *dockerModel) { d.Fingerprint = types.StringValue(other) }, want: true},
		{name: "an invalid fingerprint file", prior: func(d *dockerModel) { d.Fingerprint = types.StringValue(docker.FingerprintInvalid) }, want: true},

		{name: "daemon.json edited in the container", prior: func(d *dockerModel) { d.DaemonJSONSHA256 = types.StringValue(other) },
			want: true, drift: "/etc/docker/daemon.json differs"},
		{name: "daemon.json removed in the container", prior: func(d *dockerModel) { d.DaemonJSONSHA256 = types.StringValue("") },
			want: true, drift: "daemon_json_sha256"},
		{name: "apt key replaced", prior: func(d *dockerModel) { d.AptKeySHA256 = types.StringValue(other) }, want: true, drift: "apt key"},
		{name: "apt source list edited", prior: func(d *dockerModel) { d.AptSourceSHA256 = types.StringValue(other) }, want: true, drift: "apt source list"},
		{name: "distro source: Docker's key and list are not managed", prior: func(d *dockerModel) {
			d.PackageSource = types.StringValue(docker.PackageSourceDistro)
			d.AptKeySHA256, d.AptSourceSHA256 = types.StringValue(""), types.StringValue(other)
			p, _ := docker.NewPlan(dockerOptions(d))
			d.Fingerprint = types.StringValue(p.Fingerprint())
		}, plan: func(d *dockerModel) { d.PackageSource = types.StringValue(docker.PackageSourceDistro) }, want: false},
		{name: "pinned version upgraded by hand", prior: func(d *dockerModel) {
			d.Version = types.StringValue("28.5.2")
			d.InstalledVersion = types.StringValue("5:29.1.3-1~debian.12~bookworm")
			p, _ := docker.NewPlan(dockerOptions(d))
			d.Fingerprint = types.StringValue(p.Fingerprint())
		}, plan: func(d *dockerModel) { d.Version = types.StringValue("28.5.2") }, want: true, drift: "docker-ce is at version 5:29.1.3-1~debian.12~bookworm, not at the pinned 28.5.2"},
		{name: "pin changed: a run, no drift", plan: func(d *dockerModel) { d.Version = types.StringValue("28.5.2") }, want: true},

		{name: "package source unknown", plan: func(d *dockerModel) { d.PackageSource = types.StringUnknown() }, want: true},
		{name: "version unknown", plan: func(d *dockerModel) { d.Version = types.StringUnknown() }, want: true},
		{name: "daemon_json unknown", plan: func(d *dockerModel) { d.DaemonJSON = jsontypes.NewNormalizedUnknown() }, want: true},
		{name: "storage driver unknown", plan: func(d *dockerModel) { d.StorageDriver = types.StringUnknown() }, want: true},
		{name: "compose unknown", plan: func(d *dockerModel) { d.Compose = types.BoolUnknown() }, want: true},
		{name: "network target unknown", plan: func(d *dockerModel) { d.HealthChecks.NetworkTarget = types.StringUnknown() }, want: true},
		{name: "hello_world image unknown", plan: func(d *dockerModel) { d.HealthChecks.HelloWorldImage = types.StringUnknown() }, want: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			prior, planned := installedDocker(), installedDocker()
			source := testSourceSHA256
			if strings.HasPrefix(tc.name, "source list digest not recorded") {
				source = ""
			}
			if tc.prior != nil {
				tc.prior(prior)
			}
			if tc.plan != nil {
				tc.plan(planned)
			}
			got, diags := planDockerFor(prior, planned, source)
			if diags.HasError() {
				t.Fatal(diags)
			}
			if run := dockerRunPlanned(got); run != tc.want {
				t.Errorf("install planned = %v, want %v", run, tc.want)
			}
			if tests := dockerTestsPlanned(got); tests != (tc.want || tc.tests) {
				t.Errorf("tests planned = %v, want %v", tests, tc.want || tc.tests)
			}
			if tc.tests && !tc.want {
				p, _ := docker.NewPlan(dockerOptions(planned))
				if got.TestsFingerprint.ValueString() != p.TestFingerprint() || got.TestsFingerprint.Equal(prior.TestsFingerprint) {
					t.Errorf("tests_fingerprint planned %s, want the configuration's %s", got.TestsFingerprint, p.TestFingerprint())
				}
			}
			var warning string
			for _, w := range diags.Warnings() {
				if w.Summary() == "Docker drifted in the container" {
					warning = w.Detail()
				}
			}
			switch {
			case tc.drift == "" && warning != "":
				t.Errorf("unexpected drift warning: %s", warning)
			case tc.drift != "" && !strings.Contains(warning, tc.drift):
				t.Errorf("drift warning %q does not mention %q", warning, tc.drift)
			}
			if !tc.want && !got.Fingerprint.Equal(prior.Fingerprint) {
				t.Errorf("without a run the fingerprint changes: %s -> %s", prior.Fingerprint, got.Fingerprint)
			}
		})
	}
}

// A run plans the values the plan fixes, so the drifting attributes show
// their way back.
func TestPlanDockerShowsTheExpectedValues(t *testing.T) {
	prior := installedDocker()
	want := prior.DaemonJSONSHA256
	prior.DaemonJSONSHA256 = types.StringValue(strings.Repeat("0e", 32))
	prior.AptKeySHA256 = types.StringValue("")
	got, _ := planDockerFor(prior, installedDocker(), testSourceSHA256)
	if !got.DaemonJSONSHA256.Equal(want) {
		t.Errorf("daemon_json_sha256 planned %s, want %s", got.DaemonJSONSHA256, want)
	}
	if got.AptKeySHA256.ValueString() != docker.AptKeySHA256() || got.AptSourceSHA256.ValueString() != testSourceSHA256 {
		t.Errorf("apt digests planned %s %s", got.AptKeySHA256, got.AptSourceSHA256)
	}
	if !got.Fingerprint.Equal(prior.Fingerprint) {
		t.Errorf("fingerprint planned %s, want the configuration's %s", got.Fingerprint, prior.Fingerprint)
	}
	if !got.InstalledVersion.IsUnknown() || !got.Tests.IsUnknown() || !got.ContainerdVersion.IsUnknown() {
		t.Errorf("results read after the run are not unknown: %+v", got)
	}
}

// featuresObject is a features block with the given flags set and the
// others null; nil gives a null block.
func featuresObject(flags map[string]bool) types.Object {
	if flags == nil {
		return types.ObjectNull(featuresAttrTypes)
	}
	v := map[string]attr.Value{
		"nesting": types.BoolNull(), "keyctl": types.BoolNull(), "fuse": types.BoolNull(), "mknod": types.BoolNull(),
		"mount": types.SetNull(types.StringType),
	}
	for k, b := range flags {
		v[k] = types.BoolValue(b)
	}
	return types.ObjectValueMust(featuresAttrTypes, v)
}

// diagSummaries lists the summaries of the errors and warnings.
func diagSummaries(diags diag.Diagnostics) []string {
	var out []string
	for _, d := range diags {
		out = append(out, d.Severity().String()+": "+d.Summary())
	}
	return out
}

func TestPlanFeatures(t *testing.T) {
	cases := []struct {
		name         string
		config       types.Object
		docker       *dockerModel
		unprivileged types.Bool
		// want is nesting, keyctl, fuse, mknod of the planned block; nil
		// when the block must be unknown.
		want  []bool
		diags []string
	}{
		{name: "no block, no docker: all off", config: featuresObject(nil), unprivileged: types.BoolValue(true),
			want: []bool{false, false, false, false}},
		{name: "the set flags are kept, the rest off", config: featuresObject(map[string]bool{"nesting": true, "mknod": true}),
			unprivileged: types.BoolValue(true), want: []bool{true, false, false, true}},
		{name: "unknown block", config: types.ObjectUnknown(featuresAttrTypes), unprivileged: types.BoolValue(true)},
		{name: "unknown flag", config: types.ObjectValueMust(featuresAttrTypes, map[string]attr.Value{
			"nesting": types.BoolUnknown(), "keyctl": types.BoolNull(), "fuse": types.BoolNull(), "mknod": types.BoolNull(),
			"mount": types.SetNull(types.StringType),
		}), unprivileged: types.BoolValue(true)},
		{name: "docker, unprivileged: nesting and keyctl on", config: featuresObject(nil), docker: &dockerModel{},
			unprivileged: types.BoolValue(true), want: []bool{true, true, false, false}},
		{name: "docker, unprivileged unknown: keyctl on", config: featuresObject(nil), docker: &dockerModel{},
			unprivileged: types.BoolUnknown(), want: []bool{true, true, false, false}},
		{name: "docker, privileged: nesting only", config: featuresObject(nil), docker: &dockerModel{},
			unprivileged: types.BoolValue(false), want: []bool{true, false, false, false}},
		{name: "docker keeps the other flags", config: featuresObject(map[string]bool{"fuse": true, "mknod": true}), docker: &dockerModel{},
			unprivileged: types.BoolValue(true), want: []bool{true, true, true, true}},
		{name: "docker with nesting = false", config: featuresObject(map[string]bool{"nesting": false}), docker: &dockerModel{},
			unprivileged: types.BoolValue(true), want: []bool{true, true, false, false}, diags: []string{"Error: Docker needs nesting"}},
		{name: "docker with keyctl = false, unprivileged", config: featuresObject(map[string]bool{"keyctl": false}), docker: &dockerModel{},
			unprivileged: types.BoolValue(true), want: []bool{true, true, false, false}, diags: []string{"Error: Docker needs keyctl"}},
		{name: "docker with keyctl = false, privileged", config: featuresObject(map[string]bool{"keyctl": false}), docker: &dockerModel{},
			unprivileged: types.BoolValue(false), want: []bool{true, false, false, false}},
		{name: "fuse-overlayfs without fuse", config: featuresObject(nil),
			docker:       &dockerModel{StorageDriver: types.StringValue(docker.StorageDriverFuseOverlayfs)},
			unprivileged: types.BoolValue(true), want: []bool{true, true, false, false}, diags: []string{"Error: fuse-overlayfs needs FUSE"}},
		{name: "fuse-overlayfs with fuse", config: featuresObject(map[string]bool{"fuse": true}),
			docker:       &dockerModel{StorageDriver: types.StringValue(docker.StorageDriverFuseOverlayfs)},
			unprivileged: types.BoolValue(true), want: []bool{true, true, true, false}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			config := &lxcContainerModel{Features: tc.config}
			plan := &lxcContainerModel{Features: tc.config, Docker: tc.docker, Unprivileged: tc.unprivileged}
			diags := planFeatures(plan, config)
			if got := diagSummaries(diags); fmt.Sprint(got) != fmt.Sprint(tc.diags) {
				t.Errorf("diagnostics = %q, want %q", got, tc.diags)
			}
			if tc.want == nil {
				if !plan.Features.IsUnknown() {
					t.Errorf("features = %v, want unknown", plan.Features)
				}
				return
			}
			f := readFeatures(plan.Features)
			got := []bool{f.Nesting.ValueBool(), f.Keyctl.ValueBool(), f.Fuse.ValueBool(), f.Mknod.ValueBool()}
			if !f.known() || f.Nesting.IsNull() || f.Keyctl.IsNull() || f.Fuse.IsNull() || f.Mknod.IsNull() || f.Mount.IsNull() {
				t.Errorf("features = %v, want every flag known", plan.Features)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("nesting, keyctl, fuse, mknod = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPlanAppArmor(t *testing.T) {
	cases := []struct {
		name   string
		config types.String
		docker bool
		want   types.String
		diags  []string
	}{
		{name: "docker, unset", config: types.StringNull(), docker: true, want: types.StringValue("lxc-docker-secure")},
		{name: "docker, the same profile", config: types.StringValue("lxc-docker-secure"), docker: true, want: types.StringValue("lxc-docker-secure")},
		{name: "docker overrides another", config: types.StringValue("unconfined"), docker: true, want: types.StringValue("lxc-docker-secure"),
			diags: []string{"Warning: AppArmor profile overridden by the docker block"}},
		{name: "docker, unknown", config: types.StringUnknown(), docker: true, want: types.StringValue("lxc-docker-secure")},
		{name: "set", config: types.StringValue("lxc-default-cgns"), want: types.StringValue("lxc-default-cgns")},
		{name: "unconfined", config: types.StringValue("unconfined"), want: types.StringValue("unconfined")},
		{name: "unknown", config: types.StringUnknown(), want: types.StringUnknown()},
		{name: "unset: Proxmox VE's own", config: types.StringNull(), want: types.StringValue("generated")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			config := &lxcContainerModel{AppArmor: tc.config}
			plan := &lxcContainerModel{AppArmor: tc.config}
			if tc.docker {
				plan.Docker = &dockerModel{}
			}
			var diags diag.Diagnostics
			planAppArmor(plan, config, &diags)
			if !plan.EffectiveAA.Equal(tc.want) {
				t.Errorf("effective profile = %v, want %v", plan.EffectiveAA, tc.want)
			}
			if got := diagSummaries(diags); fmt.Sprint(got) != fmt.Sprint(tc.diags) {
				t.Errorf("diagnostics = %q, want %q", got, tc.diags)
			}
		})
	}
}

func TestIsolationRisk(t *testing.T) {
	cases := []struct {
		key, value string
		want       string // a word of the reason; "" for none
	}{
		{"lxc.idmap", "u 0 100000 65536", "host IDs"},
		{"lxc.hook.pre-start", "/usr/local/bin/hook", "root on the node"},
		{"lxc.hook.autodev", "sh -c 'mknod ...'", "root on the node"},
		{"lxc.namespace.share.net", "1", "namespace"},
		{"lxc.namespace.keep", "user net", "namespace"},
		{"lxc.cap.keep", "sys_admin", "capabilities"},
		{"lxc.seccomp.profile", "", "seccomp"},
		{"lxc.seccomp.allow_nesting", "1", "seccomp"},
		{"lxc.mount.auto", "proc:rw sys:rw", "writable"},
		{"lxc.mount.auto", "cgroup:rw", "writable"},
		{"lxc.mount.auto", "proc:mixed sys:ro", ""},
		{"lxc.mount.auto", "", ""},
		{"lxc.mount.fstab", "/etc/pve/ct.fstab", "fstab"},
		{"lxc.cgroup2.devices.allow", "a", "every device"},
		{"lxc.cgroup.devices.allow", "a *:* rwm", "every device"},
		{"lxc.cgroup2.devices.allow", "c 10:200 rwm", ""},
		{"lxc.cap.drop", "mac_admin", ""},
		// Binds of device nodes and shared directories are normal.
		{"lxc.mount.entry", "/dev/net dev/net none bind,create=dir 0 0", ""},
		{"lxc.mount.entry", "/dev/fuse dev/fuse none bind,create=file 0 0", ""},
		{"lxc.mount.entry", "/dev/dri dev/dri none bind,optional,create=dir", ""},
		{"lxc.mount.entry", "/srv/data srv/data none rbind,create=dir 0 0", ""},
		{"lxc.mount.entry", "tmpfs tmp tmpfs rw,nosuid 0 0", ""},
		// The node's kernel interfaces, system, devices and runtime.
		{"lxc.mount.entry", "/proc/sys proc/sys none bind 0 0", "/proc"},
		{"lxc.mount.entry", "/sys/kernel sys/kernel none rbind,create=dir 0 0", "/sys"},
		{"lxc.mount.entry", "/dev dev none rbind,create=dir 0 0", "/dev"},
		{"lxc.mount.entry", "/dev/sda dev/sda none bind,create=file 0 0", "disk"},
		{"lxc.mount.entry", "/etc/pve etc/pve none bind,create=dir 0 0", "/etc"},
		{"lxc.mount.entry", "/ host none rbind,create=dir 0 0", "/ of the node"},
		{"lxc.mount.entry", "/var/run/docker.sock var/run/docker.sock none bind,create=file 0 0", "container runtime"},
		{"lxc.mount.entry", "/run/docker.sock run/docker.sock none bind,create=file 0 0", "container runtime"},
		{"lxc.mount.entry", "/run/containerd/containerd.sock x none bind,create=file 0 0", "container runtime"},
		{"lxc.mount.entry", "proc mnt/proc proc rw 0 0", "proc file system"},
		{"lxc.mount.entry", "sysfs mnt/sys sysfs rw 0 0", "sysfs file system"},
		// Spellings LXC reads otherwise than a plain split (review findings).
		{"lxc.mount.entry", "etc mnt/etc none bind,create=dir 0 0", "relative"},
		{"lxc.mount.entry", "/dev/../etc mnt/etc none bind,create=dir 0 0", "plain form"},
		{"lxc.mount.entry", "/srv/../etc mnt/etc none bind,create=dir 0 0", "plain form"},
		{"lxc.mount.entry", "//etc mnt/etc none bind,create=dir 0 0", "plain form"},
		{"lxc.mount.entry", "/./etc mnt/etc none bind,create=dir 0 0", "plain form"},
		{"lxc.mount.entry", "dev/sda mnt/sda none bind,create=file 0 0", "relative"},
		{"lxc.mount.entry", "/etc mnt\u00a0x none bind,create=dir 0 0", "U+00A0"},
		{"lxc.mount.entry", "/etc mnt\vx none bind,create=dir 0 0", "U+000B"},
		{"lxc.mount.entry", "/etc\\040x mnt/x none bind,create=dir 0 0", "escape"},
		{"lxc.mount.entry", "/srv/data srv/data none bind,idmap=container,create=dir 0 0", "ID-maps"},
		{"lxc.mount.entry", "/dev/block/8:0 dev/x none bind,create=file 0 0", "disk"},
		{"lxc.mount.entry", "/var/lib/vz var/lib/vz none rbind,create=dir 0 0", "/var/lib/vz"},
		{"lxc.mount.entry", "/var srv/var none rbind,create=dir 0 0", "/var"},
		{"lxc.mount.entry", "/rpool/data/subvol-102-disk-0 mnt/x none rbind,create=dir 0 0", "guests"},
		{"lxc.mount.entry", "/mnt/pve/nfs/images mnt/x none rbind,create=dir 0 0", "guests"},
		{"lxc.mount.entry", "/mnt/pve/nfs/media mnt/x none rbind,create=dir 0 0", ""},
		{"lxc.mount.auto", "shmounts:/etc:/mnt/x", "shmounts"},
		{"lxc.console.logfile", "/root/.ssh/authorized_keys", "write"},
		{"lxc.log.file", "/etc/cron.d/x", "write"},
		{"lxc.environment.hooks", "PERL5OPT=-Mbase", "hooks"},
		{"lxc.environment", "HOOK=lxc.hook.x", "hooks"},
		{"lxc.cgroup2.devices.allow", "b *:* rwm", "block devices"},
		{"lxc.cgroup2.devices.allow", "b 8:0 rwm", "block devices"},
		{"lxc.cgroup2.devices.allow", "c *:* rwm", "wildcard"},
		{"lxc.cgroup2.devices.allow", "c 226:* rwm", ""},
		{"lxc.idmapx", "u 0 0 1", ""},
		{"lxc.hook", "x", ""},
	}
	for _, tc := range cases {
		got := isolationRisk(tc.key, tc.value)
		if (got == "") != (tc.want == "") || !strings.Contains(got, tc.want) {
			t.Errorf("isolationRisk(%q, %q) = %q, want a reason naming %q", tc.key, tc.value, got, tc.want)
		}
	}
}

// TestPlanIsolation: the Docker profile is refused on a privileged
// container however it is asked for; risky raw lines are errors beside a
// docker block and warnings otherwise; hooks need allow_lxc_hooks.
func TestPlanIsolation(t *testing.T) {
	line := func(k, v string) types.List {
		return types.ListValueMust(lxcLineObjectType, []attr.Value{types.ObjectValueMust(lxcLineObjectType.AttrTypes, map[string]attr.Value{
			"key": types.StringValue(k), "value": types.StringValue(v),
		})})
	}
	none := types.ListNull(lxcLineObjectType)
	cases := []struct {
		name         string
		unprivileged bool
		profile      types.String
		docker       bool
		hooks        bool
		effective    string
		lines        types.List
		want         []string
	}{
		{name: "docker profile, unprivileged", unprivileged: true, profile: types.StringValue("lxc-docker-secure"), lines: none},
		{name: "docker profile asked for on a privileged container", profile: types.StringValue("lxc-docker-secure"), lines: none,
			want: []string{"Error: The Docker profile needs an unprivileged container"}},
		{name: "docker block on a privileged container", docker: true, profile: types.StringNull(), lines: none,
			want: []string{"Error: Docker needs an unprivileged container"}},
		{name: "another profile on a privileged container", profile: types.StringValue("lxc-container-default"), lines: none},
		{name: "every device, docker", unprivileged: true, docker: true, lines: line("lxc.cgroup2.devices.allow", "a"),
			want: []string{"Error: Raw line voids the Docker hardening"}},
		{name: "every device, no docker", unprivileged: true, lines: line("lxc.cgroup2.devices.allow", "a"),
			want: []string{"Warning: Raw line weakens isolation"}},
		{name: "docker socket, docker", unprivileged: true, docker: true,
			lines: line("lxc.mount.entry", "/var/run/docker.sock var/run/docker.sock none bind,create=file 0 0"),
			want:  []string{"Error: Raw line voids the Docker hardening"}},
		{name: "hook without opt-in", unprivileged: true, lines: line("lxc.hook.pre-start", "/usr/local/bin/x"),
			want: []string{"Error: LXC hook without opt-in"}},
		{name: "hook without opt-in, docker", unprivileged: true, docker: true, lines: line("lxc.hook.pre-start", "/usr/local/bin/x"),
			want: []string{"Error: LXC hook without opt-in"}},
		{name: "hook with opt-in", unprivileged: true, hooks: true, lines: line("lxc.hook.pre-start", "/usr/local/bin/x"),
			want: []string{"Warning: LXC hook runs as root on the node"}},
		{name: "fuse device", unprivileged: true, docker: true, lines: line("lxc.mount.entry", "/dev/fuse dev/fuse none bind,create=file 0 0")},
		{name: "docker profile without the block: errors too", unprivileged: true, profile: types.StringValue("lxc-docker-secure"),
			effective: "lxc-docker-secure", lines: line("lxc.cgroup2.devices.allow", "a"), want: []string{"Error: Raw line voids the Docker hardening"}},
		{name: "a key outside the Docker allow-list", unprivileged: true, docker: true, lines: line("lxc.apparmor.raw", "x"),
			want: []string{"Error: Raw key not allowed with the Docker profile"}},
		{name: "console log file, docker", unprivileged: true, docker: true, lines: line("lxc.console.logfile", "/root/.ssh/authorized_keys"),
			want: []string{"Error: Raw key not allowed with the Docker profile"}},
		{name: "console log file, no docker", unprivileged: true, lines: line("lxc.console.logfile", "/root/.ssh/authorized_keys"),
			want: []string{"Warning: Raw line weakens isolation"}},
		{name: "hook environment without opt-in", unprivileged: true, lines: line("lxc.environment.hooks", "PERL5OPT=-Mbase"),
			want: []string{"Error: LXC hook without opt-in"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			plan := &lxcContainerModel{Unprivileged: types.BoolValue(tc.unprivileged), AppArmor: tc.profile, LXCConfig: tc.lines,
				AllowLXCHooks: types.BoolValue(tc.hooks), EffectiveAA: types.StringValue(tc.effective)}
			if tc.docker {
				plan.Docker = &dockerModel{}
			}
			var diags diag.Diagnostics
			planIsolation(t.Context(), plan, &diags)
			if got := diagSummaries(diags); fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("diagnostics = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSameRawLXC(t *testing.T) {
	profile := [2]string{lxcKeyAppArmorProfile, "lxc-docker-secure"}
	nesting := [2]string{lxcKeyAppArmorAllowNesting, "1"}
	dev := [2]string{"lxc.cgroup2.devices.allow", "c 10:200 rwm"}
	mount := [2]string{"lxc.mount.entry", "/dev/net dev/net none bind,create=dir 0 0"}
	idmapU := [2]string{lxcKeyIDMap, "u 0 100000 65536"}
	idmapG := [2]string{lxcKeyIDMap, "g 0 100000 65536"}
	cases := []struct {
		name string
		a, b [][2]string
		want bool
	}{
		{"both empty", nil, [][2]string{}, true},
		{"the same lines", [][2]string{dev, mount, profile, nesting}, [][2]string{dev, mount, profile, nesting}, true},
		{"AppArmor lines elsewhere", [][2]string{dev, mount, profile, nesting}, [][2]string{nesting, dev, profile, mount}, true},
		{"other lines reordered", [][2]string{dev, mount}, [][2]string{mount, dev}, false},
		{"another profile", [][2]string{profile}, [][2]string{{lxcKeyAppArmorProfile, "unconfined"}}, false},
		{"allow_nesting missing", [][2]string{profile, nesting}, [][2]string{profile}, false},
		{"a line more", [][2]string{dev}, [][2]string{dev, dev}, false},
		{"a value differs", [][2]string{dev}, [][2]string{{"lxc.cgroup2.devices.allow", "c 10:229 rwm"}}, false},
		{"ID map lines among the others", [][2]string{idmapU, idmapG, dev, mount}, [][2]string{dev, idmapU, mount, idmapG}, true},
		{"ID map lines reordered", [][2]string{idmapU, idmapG}, [][2]string{idmapG, idmapU}, false},
		{"ID map line missing", [][2]string{idmapU, idmapG, dev}, [][2]string{idmapU, dev}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := sameRawLXC(tc.a, tc.b); got != tc.want {
				t.Errorf("sameRawLXC(a, b) = %v, want %v", got, tc.want)
			}
			if got := sameRawLXC(tc.b, tc.a); got != tc.want {
				t.Errorf("sameRawLXC(b, a) = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDesiredRawLXC(t *testing.T) {
	ctx := context.Background()
	lines := func(kv ...[2]string) types.List {
		var ls []lxcLineModel
		for _, l := range kv {
			ls = append(ls, lxcLineModel{Key: types.StringValue(l[0]), Value: types.StringValue(l[1])})
		}
		v, diags := types.ListValueFrom(ctx, lxcLineObjectType, ls)
		if diags.HasError() {
			t.Fatal(diags)
		}
		return v
	}
	dev := [2]string{"lxc.cgroup2.devices.allow", "c 10:200 rwm"}
	mount := [2]string{"lxc.mount.entry", "/dev/net dev/net none bind,create=dir 0 0"}
	cases := []struct {
		name string
		m    lxcContainerModel
		want [][2]string
	}{
		{name: "nothing", m: lxcContainerModel{EffectiveAA: types.StringNull()}},
		{name: "Proxmox VE's own profile: no line", m: lxcContainerModel{LXCConfig: lines(dev), EffectiveAA: types.StringValue(apparmorGenerated)},
			want: [][2]string{dev}},
		{name: "lxc_config in order, then the profile", m: lxcContainerModel{LXCConfig: lines(mount, dev), EffectiveAA: types.StringValue("unconfined")},
			want: [][2]string{mount, dev, {lxcKeyAppArmorProfile, "unconfined"}}},
		{name: "docker: allow_nesting", m: lxcContainerModel{EffectiveAA: types.StringValue(dockerProfile.Name), Docker: &dockerModel{}},
			want: [][2]string{{lxcKeyAppArmorProfile, "lxc-docker-secure"}, {lxcKeyAppArmorAllowNesting, "1"}}},
		{name: "nesting: allow_nesting", m: lxcContainerModel{EffectiveAA: types.StringValue("lxc-default-cgns"),
			Features: featuresObject(map[string]bool{"nesting": true})},
			want: [][2]string{{lxcKeyAppArmorProfile, "lxc-default-cgns"}, {lxcKeyAppArmorAllowNesting, "1"}}},
		{name: "nesting off", m: lxcContainerModel{EffectiveAA: types.StringValue("lxc-default-cgns"),
			Features: featuresObject(map[string]bool{"nesting": false})},
			want: [][2]string{{lxcKeyAppArmorProfile, "lxc-default-cgns"}}},
		{name: "nesting without a profile of ours", m: lxcContainerModel{EffectiveAA: types.StringValue(apparmorGenerated),
			Features: featuresObject(map[string]bool{"nesting": true})}},
		{name: "unknown lxc_config", m: lxcContainerModel{LXCConfig: types.ListUnknown(lxcLineObjectType), EffectiveAA: types.StringValue("unconfined")},
			want: [][2]string{{lxcKeyAppArmorProfile, "unconfined"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, diags := desiredRawLXC(ctx, &tc.m)
			if diags.HasError() {
				t.Fatal(diags)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("desiredRawLXC = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestRefuseDockerProfileOnPrivileged: the last guard before the raw lines
// are written reads unprivileged from the file itself, so a container made
// privileged out of band (or cloned from a privileged source) never gets
// the Docker profile.
func TestRefuseDockerProfileOnPrivileged(t *testing.T) {
	for _, tc := range []struct {
		conf, profile string
		refused       bool
	}{
		{"arch: amd64\nunprivileged: 1\n", "lxc-docker-secure", false},
		{"arch: amd64\nunprivileged: 0\n", "lxc-docker-secure", true},
		{"arch: amd64\n", "lxc-docker-secure", true},
		{"arch: amd64\n", "unconfined", false},
	} {
		c, err := lxcconf.Parse([]byte(tc.conf))
		if err != nil {
			t.Fatal(err)
		}
		if err := refuseDockerProfileOnPrivileged(tc.profile, c.Main()); (err != nil) != tc.refused {
			t.Errorf("%q with %s: %v, want refused = %v", tc.conf, tc.profile, err, tc.refused)
		}
	}
}
