package provider

import (
	"context"
	"fmt"
	"strings"
	"unicode"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/docker"
	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/pve"
)

// ModifyPlan decides at plan time what the apply will enforce, so that the
// plan shows it: the effective AppArmor profile, the features Docker needs,
// the Docker results that will be recomputed. It also refuses what Proxmox
// VE cannot do and warns about restarts.
func (r *lxcContainerResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		if !req.State.Raw.IsNull() {
			var state lxcContainerModel
			resp.Diagnostics.Append(getContainer(ctx, req.State.Raw, &state, req.State.Get)...)
			if known(state.Protection) && state.Protection.ValueBool() {
				resp.Diagnostics.AddWarning("Protected container",
					fmt.Sprintf("Container %s has protection = true: Proxmox VE refuses to destroy it until protection is set to false.", state.ID.ValueString()))
			}
			r.planVolumeLoss(ctx, &state, nil, &resp.Diagnostics)
		}
		return
	}
	var plan, config lxcContainerModel
	resp.Diagnostics.Append(getContainer(ctx, req.Plan.Raw, &plan, req.Plan.Get)...)
	resp.Diagnostics.Append(getContainer(ctx, req.Config.Raw, &config, req.Config.Get)...)
	if resp.Diagnostics.HasError() {
		return
	}
	var state *lxcContainerModel
	if !req.State.Raw.IsNull() {
		state = &lxcContainerModel{}
		resp.Diagnostics.Append(getContainer(ctx, req.State.Raw, state, req.State.Get)...)
		if resp.Diagnostics.HasError() {
			return
		}
	}

	if state == nil && plan.Template.IsNull() && plan.Clone == nil {
		resp.Diagnostics.AddAttributeError(path.Root("template"), "No source for a new container",
			"Set template (an OS template volume) or a clone block to create the container. Only an imported container may leave both unset.")
	}

	resp.Diagnostics.Append(planFeatures(&plan, &config)...)
	planAppArmor(&plan, &config, &resp.Diagnostics)
	planIsolation(ctx, &plan, &resp.Diagnostics)
	if state != nil {
		resp.Diagnostics.Append(planMounts(ctx, &plan, state)...)
		resp.Diagnostics.Append(planDevices(ctx, &plan, state)...)
	}
	resp.Diagnostics.Append(planForeignVolumes(ctx, &plan)...)
	resp.Diagnostics.Append(planAddresses(ctx, &plan, state)...)
	resp.Diagnostics.Append(planDocker(&plan, state, dockerSourceSHA256(ctx, req.Private))...)
	planRootOnly(ctx, r.data, &plan, state, &resp.Diagnostics)
	planBindRoots(ctx, r.data, &plan, state, &resp.Diagnostics)
	planHookscriptOptIn(&plan, state, &resp.Diagnostics)
	planNodeAccess(ctx, r.data, &plan, state, &resp.Diagnostics)
	planIDMap(ctx, &plan, state, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}

	if state != nil {
		if replaced := replacedBy(ctx, req, &plan, &config, state); len(replaced) > 0 {
			r.planVolumeLoss(ctx, state, replaced, &resp.Diagnostics)
		} else {
			planUpdateChecks(ctx, &plan, state, &resp.Diagnostics)
		}
	}
	resp.Diagnostics.Append(setContainer(ctx, &plan, resp.Plan.Set)...)
}

// planFeatures completes the features (unset ones off) and turns on what a
// docker block needs; an explicit false that Docker needs is an error.
func planFeatures(plan, config *lxcContainerModel) diag.Diagnostics {
	var diags diag.Diagnostics
	cf := readFeatures(config.Features)
	if config.Features.IsUnknown() || !cf.known() {
		plan.Features = types.ObjectUnknown(featuresAttrTypes)
		return diags
	}
	f := cf
	if plan.Docker != nil {
		fp := path.Root("features")
		if known(cf.Nesting) && !cf.Nesting.ValueBool() {
			diags.AddAttributeError(fp.AtName("nesting"), "Docker needs nesting",
				"The docker block needs features.nesting = true: Docker's runtime creates nested containers and mounts proc and sysfs, "+
					"which the container may only do with nesting. Remove nesting = false (it is then planned true).")
		}
		f.Nesting = types.BoolValue(true)
		unprivileged := plan.Unprivileged.IsUnknown() || plan.Unprivileged.ValueBool()
		if unprivileged {
			if known(cf.Keyctl) && !cf.Keyctl.ValueBool() {
				diags.AddAttributeError(fp.AtName("keyctl"), "Docker needs keyctl",
					"The docker block in an unprivileged container needs features.keyctl = true: Docker and containerd use the "+
						"keyring syscalls, which fail without it. Remove keyctl = false (it is then planned true).")
			}
			f.Keyctl = types.BoolValue(true)
		}
		if known(plan.Docker.StorageDriver) && plan.Docker.StorageDriver.ValueString() == docker.StorageDriverFuseOverlayfs &&
			(!known(cf.Fuse) || !cf.Fuse.ValueBool()) {
			diags.AddAttributeError(path.Root("docker").AtName("storage_driver"), "fuse-overlayfs needs FUSE",
				"storage_driver = \"fuse-overlayfs\" needs features.fuse = true, so that the container may mount FUSE file systems.")
		}
	}
	obj, d := f.complete().object()
	diags.Append(d...)
	plan.Features = obj
	return diags
}

// planAppArmor decides the effective profile: the Docker profile wins over
// any other, and the plan says so.
func planAppArmor(plan, config *lxcContainerModel, diags *diag.Diagnostics) {
	switch {
	case plan.Docker != nil:
		plan.EffectiveAA = types.StringValue(dockerProfile.Name)
		if known(config.AppArmor) && config.AppArmor.ValueString() != dockerProfile.Name {
			diags.AddAttributeWarning(path.Root("apparmor_profile"), "AppArmor profile overridden by the docker block",
				fmt.Sprintf("apparmor_profile = %q is overridden: a container with a docker block always runs under %q, "+
					"the hardened profile that lets Docker work without unconfined. Remove apparmor_profile or set it to %q.",
					config.AppArmor.ValueString(), dockerProfile.Name, dockerProfile.Name))
		}
	case config.AppArmor.IsUnknown():
		plan.EffectiveAA = types.StringUnknown()
	case known(config.AppArmor):
		plan.EffectiveAA = config.AppArmor
	default:
		plan.EffectiveAA = types.StringValue(apparmorGenerated)
	}
}

// planDocker plans the docker block's computed results: the profile hash of
// this provider version, an active service, and results that are only
// recomputed when the apply will run the install. The install runs when the
// block is new, when the fingerprint of the configured options differs from
// the one the container records (or, without one, from the options in
// state), when the service is not active or a test failed, when the profile
// changes, and when what the check read back in the container has drifted
// from what the plan expects: daemon.json, Docker's apt key and source list,
// the pinned version. A drift is named in a warning, and the attributes it
// concerns are planned with their expected values, so the plan shows them.
// sourceSHA256 is the digest of the source list the last apply left, "" when
// unknown. The tests run with every install; without one, they run again
// alone when the health_checks options differ from those the tests in state
// ran with (tests_fingerprint).
func planDocker(plan, state *lxcContainerModel, sourceSHA256 string) diag.Diagnostics {
	var diags diag.Diagnostics
	d := plan.Docker
	if d == nil {
		return diags
	}
	d.AppArmorSHA256 = types.StringValue(dockerProfile.SHA256())
	d.ServiceActive = types.BoolValue(true)
	var prior *dockerModel
	if state != nil {
		prior = state.Docker
	}
	// The same JSON spelled differently is no change: keep the prior text.
	if prior != nil && known(prior.DaemonJSON) && known(d.DaemonJSON) {
		if eq, dd := d.DaemonJSON.StringSemanticEquals(context.Background(), prior.DaemonJSON); !dd.HasError() && eq {
			d.DaemonJSON = prior.DaemonJSON
		}
	}
	if !dockerOptionsKnown(d) {
		planDockerRun(d, nil, "")
		return diags
	}
	p, err := docker.NewPlan(dockerOptions(d))
	if err != nil {
		diags.AddAttributeError(path.Root("docker").AtName("daemon_json"), "Invalid docker block", err.Error())
		return diags
	}
	if prior == nil || rawLinesChange(plan, state) {
		// The apply reruns the install and the tests after it rewrites the
		// raw lines (they restart the container), so their results are new.
		planDockerRun(d, &p, sourceSHA256)
		return diags
	}
	run, drift := dockerRunReasons(prior, p, sourceSHA256)
	if state.EffectiveAA.ValueString() != dockerProfile.Name {
		run = true
	}
	if len(drift) > 0 {
		diags.AddAttributeWarning(path.Root("docker"), "Docker drifted in the container",
			fmt.Sprintf("In container %s, %s. The apply runs the install, which repairs only what differs: "+
				"a rewritten daemon.json restarts Docker, and no package is installed unless one is missing or not at the pinned version.",
				state.ID.ValueString(), joinReasons(drift)))
	}
	if run || len(drift) > 0 {
		planDockerRun(d, &p, sourceSHA256)
		return diags
	}
	for dst, src := range map[*types.String]types.String{
		&d.InstalledVersion: prior.InstalledVersion, &d.Fingerprint: prior.Fingerprint,
		&d.ContainerdVersion: prior.ContainerdVersion, &d.ComposeVersion: prior.ComposeVersion,
		&d.DaemonJSONSHA256: prior.DaemonJSONSHA256, &d.AptKeySHA256: prior.AptKeySHA256, &d.AptSourceSHA256: prior.AptSourceSHA256,
		&d.StorageDriverUsed: prior.StorageDriverUsed,
	} {
		*dst = src
	}
	d.Tests, d.TestsFingerprint = prior.Tests, prior.TestsFingerprint
	if dockerTestsChanged(prior, p) {
		d.Tests = types.MapUnknown(dockerTestType)
		d.TestsFingerprint = types.StringValue(p.TestFingerprint())
	}
	return diags
}

// dockerTestsChanged reports whether the health checks of p differ from
// those the tests in the prior state ran with: by tests_fingerprint, or,
// when the state holds none (an adopted Docker), by the health_checks
// options in state, whose tests never ran unless recorded.
func dockerTestsChanged(prior *dockerModel, p docker.Plan) bool {
	if fp := prior.TestsFingerprint.ValueString(); known(prior.TestsFingerprint) && fp != "" {
		return fp != p.TestFingerprint()
	}
	was, err := docker.NewPlan(dockerOptions(prior))
	return err != nil || was.TestFingerprint() != p.TestFingerprint()
}

// dockerOptionsKnown reports whether every option of the block is known.
func dockerOptionsKnown(d *dockerModel) bool {
	for _, v := range []attr.Value{d.PackageSource, d.Version, d.Compose, d.StorageDriver, d.DaemonJSON} {
		if v.IsUnknown() {
			return false
		}
	}
	return d.HealthChecks == nil || (!d.HealthChecks.HelloWorld.IsUnknown() && !d.HealthChecks.HelloWorldImage.IsUnknown() &&
		!d.HealthChecks.NetworkTarget.IsUnknown() && !d.HealthChecks.NetworkImage.IsUnknown())
}

// planDockerRun plans the results of an install run: what p fixes is known
// (fingerprint, daemon.json digest, Docker's key and, once recorded, source
// list), the rest is unknown until the apply reads it back.
func planDockerRun(d *dockerModel, p *docker.Plan, sourceSHA256 string) {
	for _, v := range []*types.String{&d.InstalledVersion, &d.Fingerprint, &d.ContainerdVersion, &d.ComposeVersion,
		&d.DaemonJSONSHA256, &d.AptKeySHA256, &d.AptSourceSHA256, &d.StorageDriverUsed} {
		*v = types.StringUnknown()
	}
	d.Tests = types.MapUnknown(dockerTestType)
	d.TestsFingerprint = types.StringUnknown()
	if p == nil {
		return
	}
	d.Fingerprint = types.StringValue(p.Fingerprint())
	d.TestsFingerprint = types.StringValue(p.TestFingerprint())
	// The install restarts a daemon that runs with another driver.
	d.StorageDriverUsed = types.StringValue(p.Options.StorageDriver)
	d.DaemonJSONSHA256 = types.StringValue(p.DaemonJSONSHA256())
	if p.ManagesAptRepository() {
		d.AptKeySHA256 = types.StringValue(docker.AptKeySHA256())
		if sourceSHA256 != "" {
			d.AptSourceSHA256 = types.StringValue(sourceSHA256)
		}
	}
}

// dockerRunReasons compares the prior state, whose results Read took from
// the container, with the plan p. run says the install must run; drift
// lists what changed inside the container (not through the configuration).
// Results the state does not hold (null, as before they were read) are
// not compared.
func dockerRunReasons(prior *dockerModel, p docker.Plan, sourceSHA256 string) (run bool, drift []string) {
	if !prior.ServiceActive.ValueBool() {
		drift = append(drift, "the docker service is not active")
	}
	if prior.AppArmorSHA256.ValueString() != dockerProfile.SHA256() {
		run = true
	}
	for _, result := range dockerTestResults(prior.Tests) {
		if result == docker.Failed {
			run = true
		}
	}
	// What the prior configuration asked for: a difference from it is drift,
	// a difference from p only is a configuration change.
	was, wasErr := docker.NewPlan(dockerOptions(prior))
	if fp := prior.Fingerprint.ValueString(); fp != "" {
		run = run || fp != p.Fingerprint()
	} else {
		run = run || wasErr != nil || was.Fingerprint() != p.Fingerprint()
	}
	check := func(v types.String, want, wasWant, what string) {
		if !known(v) || want == "" {
			return
		}
		if v.ValueString() == want {
			return
		}
		run = true
		// What matches neither the plan nor the prior request changed
		// inside the container.
		if wasErr == nil && v.ValueString() != wasWant {
			drift = append(drift, what)
		}
	}
	check(prior.DaemonJSONSHA256, p.DaemonJSONSHA256(), was.DaemonJSONSHA256(),
		"/etc/docker/daemon.json differs from the configured content (daemon_json_sha256)")
	if p.ManagesAptRepository() {
		check(prior.AptKeySHA256, docker.AptKeySHA256(), docker.AptKeySHA256(),
			"Docker's apt key file is not the release key this provider ships (apt_key_sha256)")
		check(prior.AptSourceSHA256, sourceSHA256, sourceSHA256,
			"Docker's apt source list differs from the one the install wrote (apt_source_sha256)")
	}
	// The driver in use ("" while the service is not active, already a
	// drift of its own) against the one daemon.json sets.
	if v := prior.StorageDriverUsed.ValueString(); known(prior.StorageDriverUsed) && v != "" && v != p.Options.StorageDriver {
		run = true
		if wasErr == nil && v != was.Options.StorageDriver {
			drift = append(drift, fmt.Sprintf("Docker runs with the storage driver %s, not the configured %s (storage_driver_in_use)", v, p.Options.StorageDriver))
		}
	}
	if v := prior.InstalledVersion.ValueString(); known(prior.InstalledVersion) && v != "" && !p.VersionMatches(v) {
		run = true
		if wasErr == nil && was.Options.Version == p.Options.Version {
			drift = append(drift, fmt.Sprintf("%s is at version %s, not at the pinned %s (installed_version)", p.EnginePackage(), v, p.Options.Version))
		}
	}
	return run, drift
}

// dockerRunPlanned reports whether the plan of a docker block runs the
// install: planDocker leaves the installed version unknown only then.
func dockerRunPlanned(d *dockerModel) bool {
	return d != nil && d.InstalledVersion.IsUnknown()
}

// dockerTestsPlanned reports whether the plan of a docker block runs the
// tests (with the install, or alone): their results are unknown only then.
func dockerTestsPlanned(d *dockerModel) bool {
	return d != nil && d.Tests.IsUnknown()
}

// planUpdateChecks refuses impossible updates and warns about restarts.
func planUpdateChecks(ctx context.Context, plan, state *lxcContainerModel, diags *diag.Diagnostics) {
	if plan.RootFS != nil && state.RootFS != nil && known(plan.RootFS.Size) && known(state.RootFS.Size) {
		want, err1 := pve.ParseSize(plan.RootFS.Size.ValueString())
		have, err2 := pve.ParseSize(state.RootFS.Size.ValueString())
		if err1 == nil && err2 == nil && want < have {
			diags.AddAttributeError(path.Root("rootfs").AtName("size"), "rootfs cannot shrink",
				fmt.Sprintf("The root file system is %s; Proxmox VE can only grow a volume, and shrinking a file system in place "+
					"would lose data. Keep size at %s or more, or replace the container.", state.RootFS.Size.ValueString(), state.RootFS.Size.ValueString()))
		}
	}
	if reasons := restartReasons(ctx, plan, state); len(reasons) > 0 {
		diags.AddWarning("Container restart",
			fmt.Sprintf("Container %s will be rebooted during apply because %s: Proxmox VE applies these at the next start.",
				state.ID.ValueString(), joinReasons(reasons)))
	}
	if state.Docker != nil && plan.Docker == nil {
		diags.AddAttributeWarning(path.Root("docker"), "Docker stays installed",
			fmt.Sprintf("Removing the docker block of %s restores Proxmox VE's AppArmor profile and restarts the container; "+
				"Docker itself stays installed inside it and is no longer checked.", state.ID.ValueString()))
	}
}

// restartReasons says why the apply reboots a container that runs and
// stays running (nothing when it does not run on both sides): keys PVE
// applies at the next start, and the raw lines (AppArmor profile,
// lxc_config, id_map) LXC reads at start.
func restartReasons(ctx context.Context, plan, state *lxcContainerModel) []string {
	if !state.Started.ValueBool() || !plan.Started.ValueBool() {
		return nil
	}
	var reasons []string
	want, d1 := desiredConfig(ctx, plan)
	have, d2 := desiredConfig(ctx, state)
	if !d1.HasError() && !d2.HasError() {
		if keys := diffConfig(want, have).restartKeys(); len(keys) > 0 {
			reasons = append(reasons, strings.Join(keys, ", ")+" change")
		}
	}
	if known(plan.EffectiveAA) && plan.EffectiveAA.ValueString() != state.EffectiveAA.ValueString() {
		reasons = append(reasons, fmt.Sprintf("the AppArmor profile changes (%s -> %s)", state.EffectiveAA.ValueString(), plan.EffectiveAA.ValueString()))
	}
	if !plan.LXCConfig.Equal(state.LXCConfig) && (len(plan.LXCConfig.Elements()) != 0 || len(state.LXCConfig.Elements()) != 0) {
		reasons = append(reasons, "lxc_config changes")
	}
	if !plan.IDMap.Equal(state.IDMap) && (len(plan.IDMap.Elements()) != 0 || len(state.IDMap.Elements()) != 0) {
		reasons = append(reasons, "id_map changes (LXC applies the map at start)")
	}
	return reasons
}

func joinReasons(r []string) string {
	switch len(r) {
	case 1:
		return r[0]
	default:
		out := r[0]
		for _, s := range r[1 : len(r)-1] {
			out += ", " + s
		}
		return out + " and " + r[len(r)-1]
	}
}

// dockerHardened: the container runs under the Docker profile (through
// the docker block or apparmor_profile), whose protection the raw lines and
// ID map must not void.
func dockerHardened(m *lxcContainerModel) bool {
	return m.Docker != nil || (known(m.EffectiveAA) && m.EffectiveAA.ValueString() == dockerProfile.Name)
}

// planHookscriptOptIn refuses a new or changed hookscript without
// allow_lxc_hooks: like an lxc.hook.* line, Proxmox VE runs it as root on
// the node at each step of the container's life (PVE::GuestHelpers::
// exec_hookscript). One the container already has (an import) stays.
func planHookscriptOptIn(plan, state *lxcContainerModel, diags *diag.Diagnostics) {
	if !known(plan.Hookscript) || plan.Hookscript.ValueString() == "" || plan.AllowLXCHooks.ValueBool() {
		return
	}
	if state != nil && state.Hookscript.Equal(plan.Hookscript) {
		return
	}
	diags.AddAttributeError(path.Root("hookscript"), "Hookscript without opt-in",
		fmt.Sprintf("hookscript = %q: Proxmox VE runs the script as root on the node before and after each start and stop "+
			"of the container, so whoever can write the snippet is root on the node. Set allow_lxc_hooks = true to accept "+
			"that, after reviewing the script and who may change it.", plan.Hookscript.ValueString()))
}

// hostCommandKeys are raw keys that make the node run a command as root,
// or feed such commands: they need allow_lxc_hooks.
var hostCommandKeys = []string{"lxc.hook.", "lxc.environment"}

// dockerRawKeys are the raw keys allowed beside the Docker profile (each
// still checked by isolationRisk): resource limits, device rules, mounts,
// capabilities dropped, namespaced sysctls and start/stop settings. Every
// other key is refused there.
var dockerRawKeys = []string{"lxc.cgroup.", "lxc.cgroup2.", "lxc.mount.entry", "lxc.mount.auto", "lxc.cap.drop", "lxc.prlimit.",
	"lxc.sysctl.", "lxc.start.", "lxc.signal.", "lxc.tty.", "lxc.pty.", "lxc.autodev", "lxc.time.", "lxc.keyring."}

func keyIn(key string, list []string) bool {
	for _, k := range list {
		if key == k || (strings.HasSuffix(k, ".") && strings.HasPrefix(key, k)) || (!strings.HasSuffix(k, ".") && strings.HasPrefix(key, k+".")) {
			return true
		}
	}
	return false
}

// isolationRisk says why a raw line undoes the container's isolation, or ""
// when it does not: host ID mappings, commands run as root on the node,
// node files written with what the container prints, shared host
// namespaces, wider capabilities, seccomp or proc/sys mounts, the node's
// block devices or every device, and binds of the node's kernel
// interfaces, system or container runtime.
func isolationRisk(key, value string) string {
	switch {
	case key == "lxc.idmap":
		return "it maps host IDs into the container"
	case strings.HasPrefix(key, "lxc.hook."):
		return "it runs a command as root on the node"
	case keyIn(key, []string{"lxc.environment"}):
		return "it sets the environment of the container's start, which Proxmox VE's hooks run as root on the node inherit"
	case keyIn(key, []string{"lxc.log", "lxc.console.logfile", "lxc.console.path"}):
		return "it makes the node write (as root) a file whose path it names, with output the container controls"
	case strings.HasPrefix(key, "lxc.namespace."):
		return "it shares a namespace of the node"
	case key == "lxc.cap.keep":
		return "it keeps capabilities Proxmox VE drops"
	case strings.HasPrefix(key, "lxc.seccomp."):
		return "it changes the seccomp filter"
	case key == "lxc.mount.auto" && strings.Contains(value, "shmounts:"):
		return "it binds a host directory (shmounts) into the container unchecked"
	case key == "lxc.mount.auto" && strings.Contains(value, ":rw"):
		return "it mounts the node's proc, sys or cgroup trees writable"
	case key == "lxc.mount.fstab":
		return "it mounts what an fstab file on the node lists, which the plan cannot check"
	case key == "lxc.cgroup2.devices.allow" || key == "lxc.cgroup.devices.allow":
		return deviceRuleRisk(value)
	case key == "lxc.mount.entry":
		return mountEntryRisk(value)
	}
	return ""
}

// deviceRuleRisk judges a devices.allow rule ("type major:minor access"):
// every device ("a"), any block device, or a whole class (a wildcard
// major).
func deviceRuleRisk(value string) string {
	f := strings.Fields(value)
	switch {
	case len(f) == 0:
		return ""
	case f[0] == "a":
		return "it allows every device of the node"
	case f[0] == "b":
		return "it allows block devices of the node (its disks)"
	case len(f) > 1 && strings.HasPrefix(f[1], "*"):
		return "it allows every device of a kind (a wildcard major number)"
	}
	return ""
}

// kernelFileSystems are file systems that expose the node's kernel when
// mounted by LXC on the container's behalf.
var kernelFileSystems = map[string]bool{
	"proc": true, "sysfs": true, "securityfs": true, "debugfs": true, "tracefs": true, "efivarfs": true,
	"bpf": true, "configfs": true, "cgroup": true, "cgroup2": true,
}

// mountEntryRisk judges an lxc.mount.entry ("source target fstype options
// dump pass", fields split on spaces and tabs only, as getmntent reads
// them): a spelling LXC may read otherwise than the plan (other white
// space, control characters, octal escapes), an ID-mapped mount, a kernel
// file system, or a bind whose source is relative, not in its plain form,
// or a host path the mount point rules refuse (the node's root, system and
// configuration trees, /proc, /sys, /dev as a whole, disks and memory
// devices, the container runtime, other guests' storage).
func mountEntryRisk(value string) string {
	for _, r := range value {
		if r != ' ' && r != '\t' && (unicode.IsSpace(r) || unicode.IsControl(r) || r > unicode.MaxASCII) {
			return fmt.Sprintf("it holds the character %U, which LXC may read otherwise than the plan", r)
		}
	}
	if strings.Contains(value, "\\") {
		return "it holds an escape sequence, which LXC may read otherwise than the plan"
	}
	f := strings.FieldsFunc(value, func(r rune) bool { return r == ' ' || r == '\t' })
	if len(f) < 3 {
		return ""
	}
	if kernelFileSystems[f[2]] {
		return fmt.Sprintf("it mounts the node's %s file system", f[2])
	}
	bind := false
	if len(f) > 3 {
		for _, o := range strings.Split(f[3], ",") {
			if strings.HasPrefix(o, "idmap") {
				return "it ID-maps the mount, so the container's root owns what the node's root owns there"
			}
			bind = bind || o == "bind" || o == "rbind"
		}
	}
	if !bind {
		return ""
	}
	src := f[0]
	switch {
	case !strings.HasPrefix(src, "/"):
		return fmt.Sprintf("it binds %q, a relative path, which the plan cannot check", src)
	case plainPath(src) != strings.TrimRight(src, "/") && src != "/":
		return fmt.Sprintf("it binds %q, which is %s in its plain form", src, plainPath(src))
	}
	if why := hostPathRefusal(src, forbiddenDevices); why != "" {
		return "it binds " + why
	}
	return ""
}

// planIsolation refuses what would void the hardened profile of a Docker
// container, and warns about it elsewhere: the profile relies on the user
// namespace of an unprivileged container.
func planIsolation(ctx context.Context, plan *lxcContainerModel, diags *diag.Diagnostics) {
	if plan.Docker != nil && known(plan.Unprivileged) && !plan.Unprivileged.ValueBool() {
		diags.AddAttributeError(path.Root("unprivileged"), "Docker needs an unprivileged container",
			"The docker block runs Docker under the "+dockerProfile.Name+" profile, whose protection relies on the user "+
				"namespace of an unprivileged container: in a privileged one, root in the container is root on the node. "+
				"Set unprivileged = true (the default).")
	}
	if plan.Docker == nil && known(plan.AppArmor) && plan.AppArmor.ValueString() == dockerProfile.Name &&
		known(plan.Unprivileged) && !plan.Unprivileged.ValueBool() {
		diags.AddAttributeError(path.Root("apparmor_profile"), "The Docker profile needs an unprivileged container",
			dockerProfile.Name+" relies on the user namespace of an unprivileged container: in a privileged one, root in the "+
				"container is root on the node, and the mounts the profile allows for Docker become ways out. "+
				"Set unprivileged = true (the default), or choose another profile.")
	}
	hardened := dockerHardened(plan)
	lines, _ := plan.lxcLines(ctx)
	for i, l := range lines {
		if !known(l.Key) || !known(l.Value) {
			continue
		}
		key := l.Key.ValueString()
		p := path.Root("lxc_config").AtListIndex(i).AtName("key")
		// Terraform cannot point at an element of a list attribute: the
		// messages name it.
		hostCommand := keyIn(key, hostCommandKeys)
		if hardened && !hostCommand && !keyIn(key, dockerRawKeys) {
			diags.AddAttributeError(p, "Raw key not allowed with the Docker profile",
				fmt.Sprintf("lxc_config[%d], %s: beside the %s profile only these raw keys are accepted: %s (and hooks, with "+
					"allow_lxc_hooks). Others can undo what the profile relies on.", i, key, dockerProfile.Name, strings.Join(dockerRawKeys, ", ")))
			continue
		}
		risk := isolationRisk(key, l.Value.ValueString())
		if risk == "" {
			continue
		}
		msg := fmt.Sprintf("lxc_config[%d], %s = %q, weakens the container's isolation: %s.", i, key, l.Value.ValueString(), risk)
		switch {
		case hostCommand && !plan.AllowLXCHooks.ValueBool():
			diags.AddAttributeError(p, "LXC hook without opt-in",
				msg+" Hooks are commands the node runs as root at each start of the container; set "+
					"allow_lxc_hooks = true to accept that, after reviewing them.")
		case hostCommand:
			diags.AddAttributeWarning(p, "LXC hook runs as root on the node", msg+" allow_lxc_hooks = true accepts it.")
		case hardened:
			diags.AddAttributeError(p, "Raw line voids the Docker hardening",
				msg+" The "+dockerProfile.Name+" profile cannot protect the node then; remove the line.")
		default:
			diags.AddAttributeWarning(p, "Raw line weakens isolation", msg+" Make sure this is intended.")
		}
	}
}

// rawLinesChange reports whether the plan asks for other raw lxc lines
// (id_map, lxc_config, AppArmor) than the state holds, or for lines not
// known yet.
func rawLinesChange(plan, state *lxcContainerModel) bool {
	ctx := context.Background()
	want, d1 := desiredRawLXC(ctx, plan)
	have, d2 := desiredRawLXC(ctx, state)
	if d1.HasError() || d2.HasError() || plan.EffectiveAA.IsUnknown() {
		return true
	}
	return !sameRawLXC(want, have)
}
