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

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/lxcconf"
	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/pve"
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
// container and records the results in m.Docker.
func (r *lxcContainerResource) runDocker(ctx context.Context, m *lxcContainerModel) error {
	node, vmid := m.NodeName.ValueString(), int(m.VMID.ValueInt64())
	ops := r.data.NodeOps()
	opts := dockerOptions(m.Docker)
	tflog.Info(ctx, "installing Docker", map[string]any{"id": m.ID.ValueString(), "source": opts.PackageSource, "driver": opts.StorageDriver})
	inst, err := ops.InstallDocker(ctx, node, vmid, opts)
	if err != nil {
		return err
	}
	check, err := ops.CheckDocker(ctx, node, vmid)
	if err != nil {
		return err
	}
	m.Docker.ServiceActive = types.BoolValue(check.ServiceActive)
	version := check.InstalledVersion
	if version == "" {
		version = inst.InstalledVersion
	}
	m.Docker.InstalledVersion = types.StringValue(version)
	if !check.ServiceActive {
		return fmt.Errorf("check_docker_service.sh: the docker service in container %d is not active after the install", vmid)
	}
	report, err := ops.TestDocker(ctx, node, vmid, opts)
	if len(report.Cases) > 0 {
		tests, d := types.MapValueFrom(ctx, types.StringType, report.Cases)
		if !d.HasError() {
			m.Docker.Tests = tests
		}
	}
	return err
}

// refreshDocker checks the service with one read-only command when the
// block asks for it; a check that cannot run keeps the prior values and warns.
func (r *lxcContainerResource) refreshDocker(ctx context.Context, m *lxcContainerModel, running bool, diags *diag.Diagnostics) {
	d := m.Docker
	if d == nil || !running || (known(d.VerifyOnRefresh) && !d.VerifyOnRefresh.ValueBool()) || r.data == nil {
		return
	}
	check, err := r.data.NodeOps().CheckDocker(ctx, m.NodeName.ValueString(), int(m.VMID.ValueInt64()))
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
	d.ServiceActive = types.BoolValue(check.ServiceActive)
	if check.InstalledVersion != "" || !check.ServiceActive {
		d.InstalledVersion = types.StringValue(check.InstalledVersion)
	}
}

// currentRawLXC reads the raw lines through the API.
func currentRawLXC(ctx context.Context, c *pve.Client, node string, vmid int) ([][2]string, *pve.RawConfig, error) {
	cfg, err := c.ContainerConfig(ctx, node, vmid)
	if err != nil {
		return nil, nil, err
	}
	return cfg.LXC, cfg, nil
}
