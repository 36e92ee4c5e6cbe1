package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/nodeexec"
	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/pve"
)

// The plan checks host paths by their names; the names may lie: a bind
// source may hold a symlink (PVE's mount follows it at every start), a
// /dev/disk/by-id name leads to any disk, and the node's own root file
// system, swap or an LVM member has the plain name of a partition. Before a
// bind mount, device mount or device is set, the apply asks the node what
// each new host path is.

// opCheckHostPaths is the operation name of the host path check.
const opCheckHostPaths = "check-host-paths"

// hostPathCheckScript prints, for each path argument after $1 (a root
// prefix, "" on a node, a fake root in tests), one line of tab-separated
// fields: the path, its kind (dir, file, block, char, other or missing),
// where it leads with every symlink resolved (realpath; for a missing path,
// its deepest existing part resolved and the rest as given), and for a
// block device why the node needs it ("" when nothing says so): a device
// mapper, RAID, ZFS, RBD, loop or network block device, one with holders
// (LVM, RAID, bcache), or a disk one of whose partitions is mounted on the
// node (by mountinfo's device number or its source, as for btrfs), is a
// device of a mounted btrfs file system, is its swap or, for a whole disk,
// has holders; or a signature of a
// member of a ZFS pool, LVM, RAID or encrypted volume (blkid). It changes
// nothing.
const hostPathCheckScript = `set -u
root=$1
shift
strip() { r=${1#"$root"}; [ -n "$r" ] || r=/; printf '%s' "$r"; }
devnum() { printf '%d:%d' "0x$(stat -L -c %t -- "$1")" "0x$(stat -L -c %T -- "$1")"; }
# The device numbers of the block devices named as mount sources. A btrfs
# mount shows an anonymous device number in mountinfo's third field; its
# source field still names the device.
srcmounts=$(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { print $(i + 2), $5; break } }' "$root/proc/self/mountinfo" 2>/dev/null |
	while read -r src mp; do
		case $src in /dev/*) ;; *) continue ;; esac
		[ -b "$root$src" ] && printf '%s %s\n' "$(devnum "$root$src")" "$mp"
	done)
for p in "$@"; do
	kind=missing
	if [ -b "$root$p" ]; then kind=block
	elif [ -c "$root$p" ]; then kind=char
	elif [ -d "$root$p" ]; then kind=dir
	elif [ -f "$root$p" ]; then kind=file
	elif [ -e "$root$p" ]; then kind=other
	fi
	resolved=$(strip "$(realpath -m -- "$root$p")")
	why=
	if [ "$kind" = block ]; then
		mm=$(devnum "$root$p")
		sys=$root/sys/dev/block/$mm
		if [ ! -e "$sys" ]; then
			why="the node's /sys/dev/block has no entry for it ($mm)"
		else
			dev=$(readlink -f -- "$sys")
			name=${dev##*/}
			case $name in
			dm-*|zd*|rbd*|md*|loop*|nbd*|drbd*|bcache*|zram*)
				why="it is $name, a device mapper (LVM), RAID, ZFS, Ceph RBD or virtual block device of the node" ;;
			esac
			for h in "$dev"/holders/*; do
				{ [ -e "$h" ] || [ -L "$h" ]; } && [ -z "$why" ] && why="it is in use by ${h##*/} (LVM, RAID, device mapper or bcache)"
			done
			disk=$dev
			[ -e "$dev/partition" ] && disk=${dev%/*}
			devs=$(cat "$disk/dev")
			for part in "$disk"/*/partition; do
				[ -e "$part" ] || continue
				pd=${part%/partition}
				devs="$devs $(cat "$pd/dev")"
				if [ "$disk" = "$dev" ]; then
					for h in "$pd"/holders/*; do
						{ [ -e "$h" ] || [ -L "$h" ]; } && [ -z "$why" ] && why="its partition ${pd##*/} is in use by ${h##*/} (LVM, RAID, device mapper or bcache)"
					done
				fi
			done
			for d in $devs; do
				m=$(awk -v d="$d" '$3 == d { print $5; exit }' "$root/proc/self/mountinfo" 2>/dev/null)
				[ -n "$m" ] || m=$(printf '%s\n' "$srcmounts" | awk -v d="$d" '$1 == d { print $2; exit }')
				[ -n "$m" ] && [ -z "$why" ] && why="it or a partition of its disk ($d) is mounted on the node at $m"
			done
			# Every device of a mounted btrfs file system, also those
			# mountinfo does not name (a multi-device file system).
			for f in "$root"/sys/fs/btrfs/*/devices/*; do
				[ -e "$f" ] || continue
				bd=$(cat "$(readlink -f -- "$f")/dev" 2>/dev/null)
				for d in $devs; do
					[ "$bd" = "$d" ] && [ -z "$why" ] && why="it or a partition of its disk (${f##*/}) is a device of a btrfs file system mounted on the node"
				done
			done
			while read -r f _; do
				[ "$f" = Filename ] && continue
				[ -b "$root$f" ] || continue
				s=$(devnum "$root$f")
				for d in $devs; do
					[ "$s" = "$d" ] && [ -z "$why" ] && why="it or a partition of its disk is the node's swap ($f)"
				done
			done <"$root/proc/swaps"
			if [ -z "$why" ] && command -v blkid >/dev/null 2>&1; then
				t=$(blkid -p -o value -s TYPE -- "$root$p" 2>/dev/null || true)
				case $t in
				zfs_member|LVM2_member|linux_raid_member|swap|crypto_LUKS|ceph_bluestore|bcache|drbd)
					why="it holds a $t signature (a part of the node's storage)" ;;
				esac
			fi
		fi
	fi
	printf '%s\t%s\t%s\t%s\n' "$p" "$kind" "$resolved" "$why"
done
`

// hostPathFact is what the node says of one host path.
type hostPathFact struct {
	Kind     string // dir, file, block, char, other or missing
	Resolved string // the path with every symlink resolved
	Refusal  string // for a block device: why the node needs it
}

// parseHostPathFacts reads hostPathCheckScript's output.
func parseHostPathFacts(out string) (map[string]hostPathFact, error) {
	facts := map[string]hostPathFact{}
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if line == "" {
			continue
		}
		f := strings.SplitN(line, "\t", 4)
		if len(f) != 4 {
			return nil, fmt.Errorf("unexpected line from the host path check: %q", line)
		}
		facts[f[0]] = hostPathFact{Kind: f[1], Resolved: f[2], Refusal: f[3]}
	}
	return facts, nil
}

// CheckHostPaths runs hostPathCheckScript on node for paths (read-only).
func (o *nodeOps) CheckHostPaths(ctx context.Context, node string, paths []string) (map[string]hostPathFact, error) {
	argv := append([]string{"sh", "-c", hostPathCheckScript, opCheckHostPaths, ""}, paths...)
	res, err := o.run(ctx, node, purposeRootOnly, nodeexec.Command{Op: opCheckHostPaths, Argv: argv, Sudo: true, Retry: true}, false)
	if err != nil {
		return nil, err
	}
	facts, err := parseHostPathFacts(string(res.Stdout))
	if err != nil {
		return nil, err
	}
	for _, p := range paths {
		if _, ok := facts[p]; !ok {
			return nil, fmt.Errorf("the host path check said nothing of %s", p)
		}
	}
	return facts, nil
}

// hostPathVerdict says why the host path p, as the node describes it in f,
// is refused ("" when it is not): a bind source must lead where its name
// says (no symlink), a /dev path may be a link (udev's names are) but what
// it leads to must pass the plan's checks and the node's; a bind source
// outside /dev is no device node. roots are the provider's bind_mount_roots.
func hostPathVerdict(p string, f hostPathFact, devices matcher, roots []string) string {
	clean := plainPath(p)
	isDev := strings.HasPrefix(clean, "/dev/")
	if !isDev {
		if f.Resolved != clean {
			return fmt.Sprintf("it leads to %s through a symlink; Proxmox VE's bind mount follows symlinks at every start, so "+
				"whoever can change the link chooses what the container gets: bind the directory itself", f.Resolved)
		}
		if f.Kind == "block" || f.Kind == "char" || f.Kind == "other" {
			return "it is a device node or special file outside /dev on the node"
		}
	}
	if why := hostPathRefusal(f.Resolved, devices); why != "" && f.Resolved != clean {
		return "it leads to " + why
	}
	if !isDev && !underRoots(f.Resolved, roots) {
		return fmt.Sprintf("it leads to %s, outside the provider's bind_mount_roots (%s)", f.Resolved, strings.Join(roots, ", "))
	}
	if f.Kind == "block" && f.Refusal != "" {
		return fmt.Sprintf("it is a block device the node itself uses (%s): %s", f.Resolved, f.Refusal)
	}
	return ""
}

// underRoots reports whether p is one of roots or below one ("" roots:
// anywhere).
func underRoots(p string, roots []string) bool {
	if len(roots) == 0 {
		return true
	}
	for _, r := range roots {
		if hasDotDot(r) || r != "/" && plainPath(r) != r {
			continue
		}
		if p == r || r == "/" || strings.HasPrefix(p, r+"/") {
			return true
		}
	}
	return false
}

// hostPathUse is one host path a plan sets: where it is in the
// configuration and which device names the plan refuses for it.
type hostPathUse struct {
	at      path.Path
	path    string
	devices matcher
}

// hadHostPaths names the mount sources ("mpN=source") and device paths
// ("devN=path") state has, by slot.
func hadHostPaths(ctx context.Context, state *lxcContainerModel, diags *diag.Diagnostics) map[string]bool {
	had := map[string]bool{}
	if state == nil {
		return had
	}
	mps, d := state.mountPoints(ctx)
	diags.Append(d...)
	for _, mm := range mps {
		had[fmt.Sprintf("mp%d=%s", mm.Slot.ValueInt64(), mm.Volume.ValueString())] = true
	}
	devs, d := state.devices(ctx)
	diags.Append(d...)
	for _, dm := range devs {
		had[fmt.Sprintf("dev%d=%s", dm.Slot.ValueInt64(), dm.Path.ValueString())] = true
	}
	return had
}

// newHostPaths lists the bind sources, device mounts and devices that plan
// sets and state (nil on create) does not have in the same slot.
func newHostPaths(ctx context.Context, plan, state *lxcContainerModel) ([]hostPathUse, diag.Diagnostics) {
	var diags diag.Diagnostics
	had := hadHostPaths(ctx, state, &diags)
	var out []hostPathUse
	mps, d := plan.mountPoints(ctx)
	diags.Append(d...)
	for i, mm := range mps {
		v := mm.Volume.ValueString()
		if !known(mm.Volume) || pve.MountKind(v) == "volume" || had[fmt.Sprintf("mp%d=%s", mm.Slot.ValueInt64(), v)] {
			continue
		}
		out = append(out, hostPathUse{at: path.Root("mount_point").AtListIndex(i).AtName("volume"), path: v, devices: forbiddenDeviceMounts})
	}
	devs, d := plan.devices(ctx)
	diags.Append(d...)
	for i, dm := range devs {
		v := dm.Path.ValueString()
		if !known(dm.Path) || had[fmt.Sprintf("dev%d=%s", dm.Slot.ValueInt64(), v)] {
			continue
		}
		out = append(out, hostPathUse{at: path.Root("device").AtListIndex(i).AtName("path"), path: v, devices: forbiddenDevices})
	}
	return out, diags
}

// checkHostPathsOnNode refuses, before anything changes, a new bind source,
// device mount or device that is not what its name says (see
// hostPathVerdict). Without SSH access (a root@pam login through the API
// alone) the node cannot be asked: the plan's checks of the names are all
// there is, and a warning says so.
func (r *lxcContainerResource) checkHostPathsOnNode(ctx context.Context, plan, state *lxcContainerModel, diags *diag.Diagnostics) {
	uses, d := newHostPaths(ctx, plan, state)
	diags.Append(d...)
	if len(uses) == 0 || diags.HasError() || r.data == nil {
		return
	}
	if !r.data.hasSSHAuth() {
		for _, u := range uses {
			diags.AddAttributeWarning(u.at, "Host path not checked on the node",
				fmt.Sprintf("%s = %s was checked by its name only: without an ssh block the provider cannot ask the node whether it "+
					"is a symlink or a disk the node uses. Add an ssh block to have it checked.", u.at, u.path))
		}
		return
	}
	paths := make([]string, len(uses))
	for i, u := range uses {
		paths[i] = u.path
	}
	node := plan.NodeName.ValueString()
	facts, err := r.data.NodeOps().CheckHostPaths(ctx, node, paths)
	if err != nil {
		var noSSH *noSSHAccessError
		if errors.As(err, &noSSH) {
			diags.AddError("Cannot check host paths on the node", err.Error())
			return
		}
		diags.AddError("Cannot check host paths on the node", fmt.Sprintf("node %s: %s; nothing was changed", node, err))
		return
	}
	roots := r.data.Settings.BindMountRoots
	for _, u := range uses {
		f := facts[u.path]
		tflog.Debug(ctx, "host path on the node", map[string]any{"path": u.path, "kind": f.Kind, "resolved": f.Resolved})
		if why := hostPathVerdict(u.path, f, u.devices, roots); why != "" {
			diags.AddAttributeError(u.at, "Host path refused on the node", fmt.Sprintf("%s = %s on node %s: %s. Nothing was changed.", u.at, u.path, node, why))
		}
	}
}

// planBindRoots refuses at plan time a bind source outside the provider's
// bind_mount_roots, by its name (the apply checks where it leads). A mount
// the state already has in the same slot with the same source is left as it
// is, with a warning: setting bind_mount_roots does not block the updates
// of containers that predate it.
func planBindRoots(ctx context.Context, d *providerData, plan, state *lxcContainerModel, diags *diag.Diagnostics) {
	if d == nil || len(d.Settings.BindMountRoots) == 0 {
		return
	}
	had := hadHostPaths(ctx, state, diags)
	roots := strings.Join(d.Settings.BindMountRoots, ", ")
	mps, ds := plan.mountPoints(ctx)
	diags.Append(ds...)
	for i, mm := range mps {
		v := mm.Volume.ValueString()
		if !known(mm.Volume) || pve.MountKind(v) != "bind" || underRoots(plainPath(v), d.Settings.BindMountRoots) {
			continue
		}
		at := path.Root("mount_point").AtListIndex(i).AtName("volume")
		if had[fmt.Sprintf("mp%d=%s", mm.Slot.ValueInt64(), v)] {
			diags.AddAttributeWarning(at, "Bind source outside bind_mount_roots",
				fmt.Sprintf("%s is not below any of the provider's bind_mount_roots (%s). The container has this mount already, so it is kept; a new or changed bind source outside them is refused.", v, roots))
			continue
		}
		diags.AddAttributeError(at, "Bind source outside bind_mount_roots",
			fmt.Sprintf("%s is not below any of the provider's bind_mount_roots (%s).", v, roots))
	}
}
