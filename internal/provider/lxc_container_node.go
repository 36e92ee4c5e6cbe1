package provider

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/docker"
	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/lxcconf"
)

// What the resource does on the node itself, over SSH: the raw lxc.* lines
// (AppArmor profile and lxc_config) and the Docker feature.

// desiredRawLXC returns the raw lines m asks for: its id_map lines, its
// lxc_config lines in order, then the AppArmor lines.
func desiredRawLXC(ctx context.Context, m *lxcContainerModel) ([][2]string, diag.Diagnostics) {
	out, diags := desiredIDMapLines(ctx, m)
	lines, d := m.lxcLines(ctx)
	diags.Append(d...)
	for _, l := range lines {
		out = append(out, [2]string{l.Key.ValueString(), l.Value.ValueString()})
	}
	profile := m.EffectiveAA.ValueString()
	if profile != "" && profile != apparmorGenerated {
		out = append(out, [2]string{lxcKeyAppArmorProfile, profile})
		f := readFeatures(m.Features)
		if m.Docker != nil || f.Nesting.ValueBool() {
			out = append(out, [2]string{lxcKeyAppArmorAllowNesting, "1"})
		}
	}
	return out, diags
}

// sameRawLXC compares raw lines: the ID mapping lines in order, the lines
// of other keys in order, the AppArmor lines by value.
func sameRawLXC(a, b [][2]string) bool {
	split := func(lines [][2]string) (own, idmap []string, aa map[string]string) {
		aa = map[string]string{}
		for _, kv := range lines {
			switch {
			case strings.HasPrefix(kv[0], "lxc.apparmor."):
				aa[kv[0]] = kv[1]
			case kv[0] == lxcKeyIDMap:
				idmap = append(idmap, kv[1])
			default:
				own = append(own, kv[0]+"\x00"+kv[1])
			}
		}
		return own, idmap, aa
	}
	ownA, mapA, aaA := split(a)
	ownB, mapB, aaB := split(b)
	if !slices.Equal(ownA, ownB) || !slices.Equal(mapA, mapB) || len(aaA) != len(aaB) {
		return false
	}
	for k, v := range aaA {
		if aaB[k] != v {
			return false
		}
	}
	return true
}

// envLXCKey is the raw key Proxmox VE keeps its env key in
// (write_pct_config).
const envLXCKey = "lxc.environment.runtime"

// nodeNeeded reports whether m needs SSH access at all.
func nodeNeeded(ctx context.Context, m *lxcContainerModel, current [][2]string) bool {
	if m.Docker != nil {
		return true
	}
	want, _ := desiredRawLXC(ctx, m)
	return !sameRawLXC(want, current)
}

// parserWarningSummary heads the warning of a node whose apparmor_parser
// does not enforce the profile's mount rules.
const parserWarningSummary = "AppArmor mount rules not fully enforced on this node"

// applyNodeConfig brings the container's raw lines to what m asks for, under
// Proxmox VE's config lock, and installs the Docker profile on the node
// first when m has a docker block. It reports whether the file changed (the
// container then needs a restart to see it), and the warning of the
// profile's install ("" when none), which the caller adds to the apply's
// diagnostics.
func (r *lxcContainerResource) applyNodeConfig(ctx context.Context, m *lxcContainerModel, current [][2]string) (changed bool, warning string, err error) {
	want, diags := desiredRawLXC(ctx, m)
	if diags.HasError() {
		return false, "", fmt.Errorf("%s", diags.Errors()[0].Detail())
	}
	node, vmid := m.NodeName.ValueString(), int(m.VMID.ValueInt64())
	if m.Docker != nil || m.EffectiveAA.ValueString() == dockerProfile.Name {
		installed, w, err := r.data.NodeOps().EnsureProfile(ctx, node, dockerProfile)
		if err != nil {
			return false, "", fmt.Errorf("installing the %s AppArmor profile on node %s: %w", dockerProfile.Name, node, err)
		}
		warning = w
		tflog.Debug(ctx, "AppArmor profile on node", map[string]any{"node": node, "changed": installed})
	}
	if sameRawLXC(want, current) {
		return false, warning, nil
	}
	var refused error
	changed, err = r.data.NodeOps().SetRawLXC(ctx, node, vmid, func(main *lxcconf.Section) bool {
		if refused = refuseDockerProfileOnPrivileged(m.EffectiveAA.ValueString(), main); refused != nil {
			return false
		}
		// lxc.environment.runtime lines are Proxmox VE's env key (the
		// environment attribute): PVE's API never lists them among the raw
		// lines, and they stay.
		var cur [][2]string
		for _, kv := range main.LXC() {
			if kv.Key != envLXCKey {
				cur = append(cur, [2]string{kv.Key, kv.Value})
			}
		}
		if sameRawLXC(want, cur) {
			return false
		}
		for _, kv := range cur {
			main.DeleteLXC(kv[0])
		}
		for _, kv := range want {
			main.AddLXC(kv[0], kv[1])
		}
		return true
	})
	if err == nil && refused != nil {
		err = refused
	}
	if err != nil {
		return false, warning, fmt.Errorf("writing the raw lxc lines of %s: %w", m.ID.ValueString(), err)
	}
	tflog.Info(ctx, "raw lxc lines written", map[string]any{"id": m.ID.ValueString(), "profile": m.EffectiveAA.ValueString(), "changed": changed})
	return changed, warning, nil
}

// refuseDockerProfileOnPrivileged is the last guard, read from the file
// under Proxmox VE's config lock, against the Docker profile on a privileged
// container (one cloned from a privileged source, or made privileged out of
// band): there root in the container is root on the node, and the profile's
// mount rules would become ways out.
func refuseDockerProfileOnPrivileged(profile string, main *lxcconf.Section) error {
	if profile != dockerProfile.Name {
		return nil
	}
	if v, _ := main.Get("unprivileged"); v != "1" {
		return fmt.Errorf("the container is privileged (unprivileged: %q in its configuration): %s is only written to "+
			"unprivileged containers, whose user namespace its rules rely on", v, dockerProfile.Name)
	}
	return nil
}

// runDocker installs (idempotently), checks and tests Docker in the
// container and records the results in m.Docker: the plan is built once
// from the block and serves the install and the tests. With install false
// only the tests run (health_checks changed, nothing else).
func (r *lxcContainerResource) runDocker(ctx context.Context, m *lxcContainerModel, install bool) error {
	node, vmid := m.NodeName.ValueString(), int(m.VMID.ValueInt64())
	ops := r.data.NodeOps()
	plan, err := docker.NewPlan(dockerOptions(m.Docker))
	if err != nil {
		return fmt.Errorf("docker block: %w", err)
	}
	if !install {
		tflog.Info(ctx, "running the Docker tests", map[string]any{"id": m.ID.ValueString(), "tests_fingerprint": plan.TestFingerprint()})
		return r.testDocker(ctx, m, plan)
	}
	tflog.Info(ctx, "installing Docker", map[string]any{"id": m.ID.ValueString(), "source": plan.Options.PackageSource,
		"driver": plan.Options.StorageDriver, "fingerprint": plan.Fingerprint()})
	inst, err := ops.InstallDocker(ctx, node, vmid, plan)
	if err != nil {
		return err
	}
	tflog.Info(ctx, "Docker install finished", map[string]any{"id": m.ID.ValueString(), "changed": inst.Changed,
		"packages": inst.Packages, "items": inst.Items})
	check, err := ops.CheckDocker(ctx, node, vmid)
	if err != nil {
		return err
	}
	setDockerCheck(m.Docker, check)
	if check.InstalledVersion == "" {
		m.Docker.InstalledVersion = types.StringValue(inst.InstalledVersion)
	}
	if !check.ServiceActive {
		return fmt.Errorf("check_docker_service.sh: the docker service in container %d is not active after the install", vmid)
	}
	return r.testDocker(ctx, m, plan)
}

// testDocker runs the tests of plan and records their results and the
// fingerprint of the options they ran with.
func (r *lxcContainerResource) testDocker(ctx context.Context, m *lxcContainerModel, plan docker.Plan) error {
	report, err := r.data.NodeOps().TestDocker(ctx, m.NodeName.ValueString(), int(m.VMID.ValueInt64()), plan)
	if len(report.Cases) > 0 {
		tests, d := dockerTests(report)
		if !d.HasError() {
			m.Docker.Tests = tests
			m.Docker.TestsFingerprint = types.StringValue(plan.TestFingerprint())
		}
	}
	return err
}

// setDockerCheck records what the check read back in the container.
func setDockerCheck(d *dockerModel, c docker.CheckResult) {
	d.ServiceActive = types.BoolValue(c.ServiceActive)
	d.InstalledVersion = types.StringValue(c.InstalledVersion)
	d.Fingerprint = types.StringValue(c.Fingerprint)
	d.ContainerdVersion = types.StringValue(c.ContainerdVersion)
	d.ComposeVersion = types.StringValue(c.ComposeVersion)
	d.DaemonJSONSHA256 = types.StringValue(c.DaemonJSONSHA256)
	d.AptKeySHA256 = types.StringValue(c.AptKeySHA256)
	d.AptSourceSHA256 = types.StringValue(c.AptSourceSHA256)
	d.StorageDriverUsed = types.StringValue(c.StorageDriver)
}

// nullDockerUnknowns makes the docker block's unknown results null, for a
// state that is saved without them.
func nullDockerUnknowns(d *dockerModel) {
	if d == nil {
		return
	}
	for _, v := range []*types.String{&d.InstalledVersion, &d.Fingerprint, &d.ContainerdVersion, &d.ComposeVersion,
		&d.DaemonJSONSHA256, &d.AptKeySHA256, &d.AptSourceSHA256, &d.StorageDriverUsed} {
		if v.IsUnknown() {
			*v = types.StringNull()
		}
	}
	if d.Tests.IsUnknown() {
		d.Tests = types.MapNull(dockerTestType)
	}
	if d.TestsFingerprint.IsUnknown() {
		d.TestsFingerprint = types.StringNull()
	}
}

// refreshDocker checks the service and reads back what the install
// manages, when the block asks for it, with the read-only check that the
// refreshes of the node's containers share (CheckDockerShared: one node
// command for the containers whose reads arrive together); a check that
// cannot run keeps the prior values and warns.
func (r *lxcContainerResource) refreshDocker(ctx context.Context, m *lxcContainerModel, running bool, diags *diag.Diagnostics) {
	d := m.Docker
	if d == nil || !running || (known(d.VerifyOnRefresh) && !d.VerifyOnRefresh.ValueBool()) || r.data == nil {
		return
	}
	check, err := r.data.NodeOps().CheckDockerShared(ctx, m.NodeName.ValueString(), int(m.VMID.ValueInt64()), dockerTicketFrom(ctx))
	if err != nil {
		var noSSH *noSSHAccessError
		if errors.As(err, &noSSH) {
			diags.AddWarning("Docker not verified", err.Error())
			return
		}
		diags.AddWarning("Docker not verified",
			fmt.Sprintf("Checking Docker in %s failed, the prior result is kept: %s", m.ID.ValueString(), err))
		return
	}
	setDockerCheck(d, check)
}
