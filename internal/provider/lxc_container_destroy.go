package provider

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/pve"
)

// What a destroy or a replacement takes with it. Proxmox VE's destroy
// (destroy_lxc_container) frees every volume the config references, the
// mount points' and the unusedN ones included, when the container owns it
// (delete_mountpoint_volume skips a volume named for another guest); the
// provider does not ask it to free the container's unreferenced volumes
// too (destroy-unreferenced-disks), so a volume it does not reference
// survives. The plan names the volumes that go, since a mount point's
// data is often what the container is for.

// replacingAttributes are the attributes whose change replaces the
// container, with how: replaceUnlessImported (template, ssh_public_keys,
// clone), RequiresReplace (node_name, unprivileged) or
// RequiresReplaceIfConfigured (vmid, rootfs.storage).
// TestReplacingAttributesMatchSchema keeps the list in step with the schema.
var replacingAttributes = []string{"node_name", "vmid", "template", "unprivileged", "ssh_public_keys", "clone", "rootfs.storage"}

// replacedBy lists the attributes whose planned change replaces the
// container (as the attributes' plan modifiers decide), empty for an
// update in place.
func replacedBy(ctx context.Context, req resource.ModifyPlanRequest, plan, config, state *lxcContainerModel) []string {
	var out []string
	if !plan.NodeName.Equal(state.NodeName) {
		out = append(out, "node_name")
	}
	if !config.VMID.IsNull() && !config.VMID.Equal(state.VMID) {
		out = append(out, "vmid")
	}
	if !plan.Unprivileged.Equal(state.Unprivileged) {
		out = append(out, "unprivileged")
	}
	var m replaceUnlessImported
	if m.needsReplace(ctx, req.State.Raw, req.Private, state.Template, plan.Template) {
		out = append(out, "template")
	}
	if m.needsReplace(ctx, req.State.Raw, req.Private, state.SSHPublicKeys, plan.SSHPublicKeys) {
		out = append(out, "ssh_public_keys")
	}
	var planClone, stateClone types.Object
	diags := req.Plan.GetAttribute(ctx, path.Root("clone"), &planClone)
	diags.Append(req.State.GetAttribute(ctx, path.Root("clone"), &stateClone)...)
	if !diags.HasError() && m.needsReplace(ctx, req.State.Raw, req.Private, stateClone, planClone) {
		out = append(out, "clone")
	}
	if config.RootFS != nil && state.RootFS != nil && !config.RootFS.Storage.IsNull() && !config.RootFS.Storage.Equal(state.RootFS.Storage) {
		out = append(out, "rootfs.storage")
	}
	return out
}

var reUnusedKey = regexp.MustCompile(`^unused\d+$`)

// lostVolumes are the volumes besides the root file system that a destroy
// of the container frees (mount points and unusedN volumes it owns, as
// "volume (mpN, path)"), and those it leaves because another guest owns
// them. cfg is the container's config when it could be read, else the
// state's mount points alone are known.
func lostVolumes(ctx context.Context, state *lxcContainerModel, cfg *pve.RawConfig) (freed, kept []string) {
	vmid := strconv.FormatInt(state.VMID.ValueInt64(), 10)
	add := func(volume, what string) {
		if pve.MountKind(volume) != "volume" {
			return
		}
		if m := volumeOwnerPattern.FindStringSubmatch(volume); m != nil && m[1] != vmid {
			kept = append(kept, fmt.Sprintf("%s (%s, guest %s's)", volume, what, m[1]))
			return
		}
		freed = append(freed, fmt.Sprintf("%s (%s)", volume, what))
	}
	if cfg != nil {
		for k, v := range cfg.Values {
			if reUnusedKey.MatchString(k) {
				add(v, k)
				continue
			}
			if _, ok := keyIndex(k, "mp"); !ok {
				continue
			}
			mp, err := pve.ParseMountPoint(v)
			if err != nil {
				continue
			}
			what := k
			if mp.Path != "" {
				what += ", " + mp.Path
			}
			add(mp.Volume, what)
		}
	} else {
		mps, _ := state.mountPoints(ctx)
		for _, mp := range mps {
			if known(mp.Volume) {
				add(mp.Volume.ValueString(), fmt.Sprintf("mp%d, %s", mp.Slot.ValueInt64(), mp.Path.ValueString()))
			}
		}
	}
	sort.Strings(freed)
	sort.Strings(kept)
	return freed, kept
}

// planVolumeLoss warns, for a plan that destroys or replaces the container
// (replaced: the attributes that replace it), which volumes go with it. It
// reads the container's config once for the unusedN volumes the state does
// not hold; without the API it names the state's mount points.
func (r *lxcContainerResource) planVolumeLoss(ctx context.Context, state *lxcContainerModel, replaced []string, diags *diag.Diagnostics) {
	var cfg *pve.RawConfig
	if r.data != nil && !r.data.Settings.Unknown && r.data.Settings.Missing == "" {
		if c, err := r.data.Client(); err == nil {
			cfg, _ = c.ContainerConfig(ctx, state.NodeName.ValueString(), int(state.VMID.ValueInt64()))
		}
	}
	freed, kept := lostVolumes(ctx, state, cfg)
	if len(freed) == 0 {
		return
	}
	what := "Destroying"
	if len(replaced) > 0 {
		what = "Replacing (" + strings.Join(replaced, ", ") + " changes)"
	}
	detail := fmt.Sprintf("%s container %s destroys its volumes with it, the data of the mount points included: %s.",
		what, state.ID.ValueString(), strings.Join(freed, ", "))
	if cfg == nil {
		detail += " Volumes listed as unusedN in its configuration (detached mount points) are destroyed too."
	}
	if len(kept) > 0 {
		detail += " Volumes of other guests stay: " + strings.Join(kept, ", ") + "."
	}
	detail += " Back up what they hold first, or reassign a volume to another guest (pct move-volume with --target-vmid) and " +
		"remove its mount_point block."
	diags.AddWarning("Volumes destroyed with the container", detail)
}
