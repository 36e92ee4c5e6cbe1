package provider

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/pve"
)

// Mount points (mpN) and passed-through devices (devN). Each block names
// its slot, so adding, removing or reordering blocks never moves another
// mount: the plan shows exactly the slots that change.

type mountPointModel struct {
	Slot         types.Int64  `tfsdk:"slot"`
	Path         types.String `tfsdk:"path"`
	Storage      types.String `tfsdk:"storage"`
	Size         types.String `tfsdk:"size"`
	Volume       types.String `tfsdk:"volume"`
	ReadOnly     types.Bool   `tfsdk:"read_only"`
	Backup       types.Bool   `tfsdk:"backup"`
	ACL          types.Bool   `tfsdk:"acl"`
	Quota        types.Bool   `tfsdk:"quota"`
	Replicate    types.Bool   `tfsdk:"replicate"`
	Shared       types.Bool   `tfsdk:"shared"`
	MountOptions types.Set    `tfsdk:"mount_options"`
}

type deviceModel struct {
	Slot      types.Int64  `tfsdk:"slot"`
	Path      types.String `tfsdk:"path"`
	Mode      types.String `tfsdk:"mode"`
	UID       types.Int64  `tfsdk:"uid"`
	GID       types.Int64  `tfsdk:"gid"`
	DenyWrite types.Bool   `tfsdk:"deny_write"`
}

var (
	mountPointObjectType = types.ObjectType{AttrTypes: map[string]attr.Type{
		"slot": types.Int64Type, "path": types.StringType, "storage": types.StringType, "size": types.StringType,
		"volume": types.StringType, "read_only": types.BoolType, "backup": types.BoolType, "acl": types.BoolType,
		"quota": types.BoolType, "replicate": types.BoolType, "shared": types.BoolType,
		"mount_options": types.SetType{ElemType: types.StringType},
	}}
	deviceObjectType = types.ObjectType{AttrTypes: map[string]attr.Type{
		"slot": types.Int64Type, "path": types.StringType, "mode": types.StringType,
		"uid": types.Int64Type, "gid": types.Int64Type, "deny_write": types.BoolType,
	}}
	containerPathPattern = regexp.MustCompile(`^/[^,;=\s]*$`)
	mountVolumePattern   = regexp.MustCompile(`^(?:/[^,;=\s]*|[a-zA-Z][a-zA-Z0-9\-_.]*[a-zA-Z0-9]:[^,;=\s]+)$`)
	devicePathPattern    = regexp.MustCompile(`^/dev/[^,;=\s]+$`)
)

// slotBlock is a list of blocks that each name their slot (prefix0 ..
// prefix255): the slot attribute and a unique-slot check around attrs.
func slotBlock(desc, prefix, what string, attrs map[string]schema.Attribute) schema.ListNestedBlock {
	attrs["slot"] = schema.Int64Attribute{MarkdownDescription: "Slot: `0` is `" + prefix + "0`.", Required: true, Validators: []validator.Int64{int64validator.Between(0, 255)}}
	return schema.ListNestedBlock{
		MarkdownDescription: desc,
		Validators:          []validator.List{listvalidator.SizeAtMost(256), uniqueSlots{what: what}},
		NestedObject:        schema.NestedBlockObject{Attributes: attrs},
	}
}

func mountPointBlock() schema.ListNestedBlock {
	return slotBlock("Mount points (`mp0` .. `mp255`). A new volume (`storage` and `size`), an existing volume "+
		"(`volume = \"local-lvm:vm-101-disk-1\"`), a host directory (bind mount, `volume = \"/srv/data\"`) or a host block "+
		"device (`volume = \"/dev/sdb1\"`). Bind and device mounts are reserved to `root@pam` by Proxmox VE: with an API token "+
		"the provider sets them with `pct set` over its SSH access. Growing `size` resizes in place; shrinking is refused. "+
		"Removing a block detaches the mount point: a volume stays on its storage as `unusedN` (Proxmox VE's own handling) "+
		"and the plan warns; it is destroyed only from Proxmox VE. Changing an existing mount point of a running container "+
		"takes effect at its restart.", "mp", "mount_point", map[string]schema.Attribute{
		"path": reqString("Path inside the container, e.g. `/data`.", stringvalidator.RegexMatches(containerPathPattern, "must be an absolute path without commas, semicolons, '=' or spaces")),
		"storage": schema.StringAttribute{
			MarkdownDescription: "Storage to allocate a new volume on, with `size`, e.g. `local-lvm`; read back from the volume ID " +
				"otherwise. Changing it allocates a new volume (the old one stays as `unusedN`).",
			Optional: true, Computed: true,
			Validators: []validator.String{stringvalidator.RegexMatches(storageIDPattern, "must be a storage ID such as local-lvm"),
				stringvalidator.ConflictsWith(path.MatchRelative().AtParent().AtName("volume"))},
		},
		// size and volume are kept from the state by slot in planMounts:
		// UseStateForUnknown would match list elements by position.
		"size": schema.StringAttribute{
			MarkdownDescription: "Size of the volume with a unit, e.g. `8G`: required with `storage`, read back for an attached volume.",
			Optional:            true, Computed: true,
			Validators: []validator.String{stringvalidator.RegexMatches(sizePattern, "must be a number with an optional unit K, M, G or T, e.g. 8G")},
		},
		"volume": schema.StringAttribute{
			MarkdownDescription: "What is mounted: the volume ID Proxmox VE allocated (read back), an existing volume to attach, " +
				"an absolute host directory (bind mount) or a `/dev/` path (device mount).",
			Optional: true, Computed: true,
			Validators: []validator.String{stringvalidator.RegexMatches(mountVolumePattern, "must be a volume ID such as local-lvm:vm-101-disk-1 or an absolute host path")},
		},
		"read_only": optBool("Mount read-only."),
		"backup":    optBool("Include the volume in backups (volumes only)."),
		"acl":       optBool("Enable (`true`) or disable (`false`) POSIX ACLs; the storage's default when unset."),
		"quota":     optBool("Enable user quotas inside the container."),
		"replicate": optBool("Include the volume in storage replication (Proxmox VE's default is `true`)."),
		"shared":    optBool("Mark a bind or device mount as available on every node (it is not shared by this)."),
		"mount_options": schema.SetAttribute{
			MarkdownDescription: "Mount options: `discard`, `lazytime`, `noatime`, `nodev`, `noexec`, `nosuid`.",
			Optional:            true,
			ElementType:         types.StringType,
			Validators: []validator.Set{setvalidator.ValueStringsAre(stringvalidator.OneOf(
				"discard", "lazytime", "noatime", "nodev", "noexec", "nosuid"))},
		},
	})
}

func deviceBlock() schema.ListNestedBlock {
	return slotBlock("Devices passed through to the container (`dev0` .. `dev255`), e.g. a GPU's `/dev/dri/renderD128` "+
		"or `/dev/nvidia0`. Proxmox VE reserves them to `root@pam`: with an API token the provider sets them with `pct set` "+
		"over its SSH access. A change to an existing device of a running container takes effect at its restart.", "dev", "device", map[string]schema.Attribute{
		"path":       reqString("Device node on the host, e.g. `/dev/dri/renderD128`.", stringvalidator.RegexMatches(devicePathPattern, "must be a path under /dev/")),
		"mode":       optString("Access mode of the device node in the container, octal, e.g. `0660`.", stringvalidator.RegexMatches(regexp.MustCompile(`^0[0-7]{3}$`), "must be an octal mode such as 0660")),
		"uid":        optInt64("Owner of the device node in the container.", int64validator.AtLeast(0)),
		"gid":        optInt64("Group of the device node in the container, e.g. the `render` group.", int64validator.AtLeast(0)),
		"deny_write": optBool("Deny the container writing to the device."),
	})
}

// Host paths a bind mount may never expose to a container, and device
// nodes never passed through: each gives root in the container the node
// (its configuration, its cluster secrets, other guests' disks, its
// memory). Proxmox VE refuses only ".." and, for devices, paths outside
// /dev/ (verify_lxc_mp_string, verify_lxc_dev_string); the provider sets
// these over SSH as root, so it refuses the rest at plan time.
var (
	forbiddenBindPaths = []string{"/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib64", "/opt", "/proc", "/root",
		"/run", "/sbin", "/sys", "/usr", "/var/lib/lxc", "/var/lib/pve-cluster", "/var/lib/pve-manager", "/var/lib/pve-firewall",
		"/var/lib/ceph", "/var/lib/vz", "/var/run", "/var/lib/docker", "/var/lib/containerd", "/var/lib/dpkg", "/var/lib/apt",
		"/var/cache/apt", "/var/lib/systemd", "/var/spool/cron", "/var/spool/anacron"}
	// The node's container runtimes: their sockets and state are root on
	// the node.
	dockerSockets = []string{"/run/docker.sock", "/var/run/docker.sock", "/run/docker", "/var/run/docker",
		"/run/containerd", "/var/run/containerd"}
	// Raw passthrough (device blocks) of a disk, volume or memory device.
	// The names under /dev/block and /dev/char are links to any of them.
	forbiddenDevices = regexp.MustCompile(`^/dev/(?:mem|kmem|port|sd[a-z]+\d*|nvme\d+(?:n\d+)?(?:p\d+)?|ng\d+n\d+|vd[a-z]+\d*|xvd[a-z]+\d*|hd[a-z]+\d*|dm-\d+|mapper/.*|md\d+(?:p\d+)?|md/.*|loop\d+|zd\d+(?:p\d+)?|zvol/.*|disk/.*|pve/.*|block/.*|char/.*|bsg/.*|sg\d+|sr\d+|st\d+|nst\d+|nbd\d+(?:p\d+)?|rbd\d+(?:p\d+)?|rbd/.*|rbd-pve/.*|mmcblk\d+(?:p\d+|boot\d+|rpmb)?|ubd[a-z]+\d*|drbd\d+|bcache\d+|zram\d+|mtd.*)$`)
	// Device mount points mount a file system: a dedicated disk is a normal
	// use; the node's own volumes (PVE's LVM, device mapper, RAID, ZFS
	// volumes, Ceph and RBD images, loop and network block devices, memory)
	// are not. A plain disk or partition the node itself uses (its root file
	// system, swap, an LVM or RAID member) has no telling name: the apply
	// checks it on the node (see hostPathCheckScript).
	forbiddenDeviceMounts = regexp.MustCompile(`^/dev/(?:mem|kmem|port|mapper/.*|pve/.*|dm-\d+|md\d+(?:p\d+)?|md/.*|zd\d+(?:p\d+)?|zvol/.*|rbd\d+(?:p\d+)?|rbd/.*|rbd-pve/.*|nbd\d+(?:p\d+)?|loop\d+|drbd\d+|bcache\d+|zram\d+|block/.*|char/.*|disk/by-id/(?:dm-|md-|lvm-).*)$`)
	// Every guest's disk, whatever the volume group, pool or Ceph cluster
	// holds it: PVE's volume names (vm-100-disk-0, base-100-disk-0,
	// subvol-100-disk-0) and Ceph's OSD volumes. Refused for devices and
	// device mounts alike.
	guestDisk = regexp.MustCompile(`^/dev/(?:.*/)?(?:(?:vm|base)-\d+-disk-\d+|(?:subvol|basevol)-\d+-disk-\d+|osd-block-|osd-(?:db|wal)-)[^/]*$|^/dev/ceph-[^/]*/`)
)

// matcher is a set of refused device names (a regexp).
type matcher interface{ MatchString(s string) bool }

// hasDotDot reports a path with a "." or ".." component, which PVE refuses
// and which would hide where a path leads.
func hasDotDot(p string) bool {
	for _, c := range strings.Split(p, "/") {
		if c == ".." || c == "." {
			return true
		}
	}
	return false
}

// validateMounts checks the mount_point and device blocks as a whole: what
// each mounts, sizes, paths and host paths that give away the node.
func validateMounts(ctx context.Context, m *lxcContainerModel, diags *diag.Diagnostics) {
	mps, d := m.mountPoints(ctx)
	diags.Append(d...)
	paths := map[string]int64{}
	for i, mm := range mps {
		at := path.Root("mount_point").AtListIndex(i)
		hasVolume, hasStorage := !mm.Volume.IsNull(), !mm.Storage.IsNull()
		switch {
		case !hasVolume && !hasStorage:
			diags.AddAttributeError(at, "Nothing to mount",
				"A mount_point needs storage and size (a new volume) or volume (an existing volume, a host directory or a /dev/ path).")
		case hasStorage && mm.Size.IsNull():
			diags.AddAttributeError(at.AtName("size"), "Missing size", "A new volume (storage) needs size, e.g. 8G.")
		case !hasStorage && !mm.Size.IsNull():
			diags.AddAttributeError(at.AtName("size"), "size without storage",
				"size is set only for a new volume (with storage); an attached volume keeps its size, which is read back.")
		}
		if known(mm.Size) {
			if n, err := pve.ParseSize(mm.Size.ValueString()); err == nil && (n < 1<<20 || n%1024 != 0) {
				diags.AddAttributeError(at.AtName("size"), "Invalid size", fmt.Sprintf("%s is less than 1M or not a whole number of KiB.", mm.Size.ValueString()))
			}
		}
		if known(mm.Path) {
			p := mm.Path.ValueString()
			if p == "/" || hasDotDot(p) {
				diags.AddAttributeError(at.AtName("path"), "Invalid mount path", fmt.Sprintf("%q: a mount point cannot be / nor hold . or .. components.", p))
			}
			if j, dup := paths[p]; dup && known(mm.Slot) {
				diags.AddAttributeError(at.AtName("path"), "Duplicate mount path", fmt.Sprintf("mp%d and mp%d both mount at %s.", j, mm.Slot.ValueInt64(), p))
			}
			paths[p] = mm.Slot.ValueInt64()
		}
		if known(mm.Volume) {
			checkHostPath(mm.Volume.ValueString(), at.AtName("volume"), forbiddenDeviceMounts, diags)
		}
	}
	devs, d := m.devices(ctx)
	diags.Append(d...)
	for i, dm := range devs {
		if known(dm.Path) {
			checkHostPath(dm.Path.ValueString(), path.Root("device").AtListIndex(i).AtName("path"), forbiddenDevices, diags)
		}
	}
}

// checkHostPath refuses a bind source or device that gives away the node.
func checkHostPath(p string, at path.Path, devices matcher, diags *diag.Diagnostics) {
	if !strings.HasPrefix(p, "/") {
		return
	}
	if hasDotDot(p) || (p != "/" && plainPath(p) != strings.TrimRight(p, "/")) {
		diags.AddAttributeError(at, "Invalid host path", fmt.Sprintf("%q is not in its plain form (%s): doubled slashes, . or .. "+
			"components hide where a path leads.", p, plainPath(p)))
		return
	}
	summary := "Host path refused"
	if d := strings.TrimRight(p, "/"); strings.HasPrefix(p, "/dev/") && (devices.MatchString(d) || guestDisk.MatchString(d)) {
		summary = "Host device refused"
	}
	if why := hostPathRefusal(p, devices); why != "" {
		diags.AddAttributeError(at, summary, fmt.Sprintf("%s: it exposes %s to the container; "+
			"bind a directory made for sharing, e.g. under /srv or /mnt.", p, why))
	}
}

// plainPath is a host path in its plain form: no doubled slashes, no "."
// or ".." components, no trailing slash.
func plainPath(p string) string {
	return filepath.Clean(p)
}

// guestStorage matches the directories of Proxmox VE storages that hold
// guests' disks, root file systems, backups, hookscripts and templates: a
// storage mounted under /mnt/pve (or its images, private, dump, snippets and
// template directories), and ZFS or directory subvolumes. The local
// storage, /var/lib/vz, is in forbiddenBindPaths.
var guestStorage = regexp.MustCompile(`^/mnt/pve(?:/[^/]+(?:/(?:images|private|dump|snippets|template)(?:/.*)?)?)?$|(?:^|/)(?:subvol|basevol)-\d+-disk-\d+(?:/|$)`)

// hostPathRefusal says what of the node a host path would hand to the
// container ("" when none): its root, system, configuration or guests'
// trees (also through a parent directory of one of them), the kernel's
// /proc and /sys, /dev as a whole, a disk, volume or memory device
// (devices), the container runtime, or another guest's storage.
func hostPathRefusal(p string, devices matcher) string {
	if !strings.HasPrefix(p, "/") {
		return ""
	}
	clean := plainPath(p)
	if strings.HasPrefix(clean, "/dev/") && guestDisk.MatchString(clean) {
		return clean + ", a guest's disk (another container's or VM's data)"
	}
	if strings.HasPrefix(clean, "/dev/") && devices.MatchString(clean) {
		return clean + ", a host disk, volume or memory device (the node's data)"
	}
	for _, s := range dockerSockets {
		if clean == s || strings.HasPrefix(clean, s+"/") {
			return clean + ", the node's container runtime (root on the node)"
		}
	}
	if guestStorage.MatchString(clean) {
		return clean + ", storage of Proxmox VE's guests (their disks and root file systems)"
	}
	for _, f := range forbiddenBindPaths {
		// Below /dev, /run and /var/run only the directory itself is
		// refused: single device nodes and runtime sockets are normal binds.
		below := f != "/" && strings.HasPrefix(clean, f+"/") && f != "/dev" && f != "/run" && f != "/var/run"
		if clean == f || below || (clean != "/" && strings.HasPrefix(f, clean+"/")) {
			return clean + ", " + f + " of the node (its system, configuration or other guests)"
		}
	}
	return ""
}

// uniqueSlots refuses two blocks with the same slot.
type uniqueSlots struct{ what string }

func (u uniqueSlots) Description(context.Context) string {
	return "each " + u.what + " block has its own slot"
}

func (u uniqueSlots) MarkdownDescription(ctx context.Context) string { return u.Description(ctx) }

func (u uniqueSlots) ValidateList(_ context.Context, req validator.ListRequest, resp *validator.ListResponse) {
	seen := map[int64]int{}
	for i, el := range req.ConfigValue.Elements() {
		obj, ok := el.(types.Object)
		if !ok {
			continue
		}
		s, ok := obj.Attributes()["slot"].(types.Int64)
		if !ok || !known(s) {
			continue
		}
		if j, dup := seen[s.ValueInt64()]; dup {
			resp.Diagnostics.AddAttributeError(req.Path.AtListIndex(i).AtName("slot"), "Duplicate slot",
				fmt.Sprintf("%s blocks %d and %d both use slot %d; each needs its own.", u.what, j, i, s.ValueInt64()))
			continue
		}
		seen[s.ValueInt64()] = i
	}
}

func (m *lxcContainerModel) mountPoints(ctx context.Context) ([]mountPointModel, diag.Diagnostics) {
	return listElements[mountPointModel](ctx, m.MountPoints)
}

func (m *lxcContainerModel) devices(ctx context.Context) ([]deviceModel, diag.Diagnostics) {
	return listElements[deviceModel](ctx, m.Devices)
}

// mountFlag is one boolean attribute of a mount point, its field in
// pve.MountPoint and the value Proxmox VE assumes when the key is absent
// (nil: no default, e.g. acl falls back to the storage's).
type mountFlag struct {
	attr *types.Bool
	pve  **bool
	def  *bool
}

// mountFlags pairs the boolean attributes of mm with the fields of p.
func mountFlags(mm *mountPointModel, p *pve.MountPoint) []mountFlag {
	f, t := false, true
	return []mountFlag{
		{&mm.ReadOnly, &p.ReadOnly, &f}, {&mm.Backup, &p.Backup, &f}, {&mm.ACL, &p.ACL, nil},
		{&mm.Quota, &p.Quota, &f}, {&mm.Replicate, &p.Replicate, &t}, {&mm.Shared, &p.Shared, &f},
	}
}

// desiredMount is the mpN value of a block: its volume when known, else a
// new volume on storage of size.
func desiredMount(ctx context.Context, mm mountPointModel) (string, diag.Diagnostics) {
	var diags diag.Diagnostics
	p := pve.MountPoint{Path: mm.Path.ValueString()}
	switch {
	case known(mm.Volume):
		p.Volume = mm.Volume.ValueString()
		// The size PVE has: a value equal to the current one leaves nothing
		// pending on a running container (cleanup_pending compares text).
		if n, err := pve.ParseSize(mm.Size.ValueString()); known(mm.Size) && err == nil && pve.MountKind(p.Volume) == "volume" {
			p.Size = pve.FormatSize(n)
		}
	case known(mm.Storage) && known(mm.Size):
		n, err := pve.ParseSize(mm.Size.ValueString())
		if err == nil {
			p.Volume, err = pve.NewVolume(mm.Storage.ValueString(), n)
		}
		if err != nil {
			diags.AddError("Invalid mount point", fmt.Sprintf("mp%d: %v", mm.Slot.ValueInt64(), err))
			return "", diags
		}
	default:
		return "", diags
	}
	for _, f := range mountFlags(&mm, &p) {
		*f.pve = boolPtr(*f.attr)
	}
	if known(mm.MountOptions) {
		var opts []string
		diags.Append(mm.MountOptions.ElementsAs(ctx, &opts, false)...)
		sort.Strings(opts)
		p.MountOptions = opts
	}
	return p.String(), diags
}

var newDiskPattern = regexp.MustCompile(`^[^:\s]+:\d+(?:\.\d+)?$`)

// sameMount compares two mpN values the way Proxmox VE means them: the size
// is PVE's to report, absent flags are their defaults and mount options are
// a set. A request for a new volume (STORAGE:SIZE) is met by a volume on
// that storage: the one the create allocated (the plan keeps a slot's
// volume while its storage stays, so an update asks for a new one only on
// another storage).
func sameMount(want, got string) bool {
	a, err1 := pve.ParseMountPoint(want)
	b, err2 := pve.ParseMountPoint(got)
	if err1 != nil || err2 != nil {
		return false
	}
	if newDiskPattern.MatchString(a.Volume) {
		storage, _, _ := strings.Cut(a.Volume, ":")
		if pve.MountKind(b.Volume) != "volume" || !strings.HasPrefix(b.Volume, storage+":") {
			return false
		}
		a.Volume = b.Volume
	}
	norm := func(p *pve.MountPoint) string {
		p.Size = ""
		var mm mountPointModel
		for _, f := range mountFlags(&mm, p) {
			if *f.pve == nil && f.def != nil {
				v := *f.def
				*f.pve = &v
			}
		}
		sort.Strings(p.MountOptions)
		return p.String()
	}
	return norm(&a) == norm(&b)
}

// carryMount keeps the mount point keys the provider does not model
// (keepattrs, idmap and any other) from the container's value, for the same
// volume.
func carryMount(want, got string) string {
	a, err1 := pve.ParseMountPoint(want)
	b, err2 := pve.ParseMountPoint(got)
	if err1 != nil || err2 != nil || a.Volume != b.Volume {
		return want
	}
	if a.KeepAttrs == nil {
		a.KeepAttrs = b.KeepAttrs
	}
	for k, v := range b.Extra {
		if _, set := a.Extra[k]; !set {
			if a.Extra == nil {
				a.Extra = map[string]string{}
			}
			a.Extra[k] = v
		}
	}
	return a.String()
}

// sameDevice compares two devN values, keys in any order.
func sameDevice(want, got string) bool {
	a, err1 := pve.ParseDevice(want)
	b, err2 := pve.ParseDevice(got)
	if err1 != nil || err2 != nil {
		return false
	}
	f := false
	if a.DenyWrite == nil {
		a.DenyWrite = &f
	}
	if b.DenyWrite == nil {
		b.DenyWrite = &f
	}
	return a.String() == b.String()
}

func desiredMounts(ctx context.Context, m *lxcContainerModel, out map[string]string) diag.Diagnostics {
	mps, diags := m.mountPoints(ctx)
	for _, mm := range mps {
		v, d := desiredMount(ctx, mm)
		diags.Append(d...)
		if v != "" {
			out["mp"+strconv.FormatInt(mm.Slot.ValueInt64(), 10)] = v
		}
	}
	return diags
}

func desiredDevices(ctx context.Context, m *lxcContainerModel, out map[string]string) diag.Diagnostics {
	devs, diags := m.devices(ctx)
	for _, dm := range devs {
		d := pve.Device{Path: dm.Path.ValueString(), Mode: dm.Mode.ValueString(), UID: intPtr(dm.UID), GID: intPtr(dm.GID), DenyWrite: boolPtr(dm.DenyWrite)}
		out["dev"+strconv.FormatInt(dm.Slot.ValueInt64(), 10)] = d.String()
	}
	return diags
}

// numberedValues returns the values of the numbered keys prefix0.. of a
// config by number, and the numbers in the order of the blocks: the slots
// of prior (the configuration's order) first, then the others ascending.
func numberedValues(values map[string]string, prefix string, prior []int64) ([]int, map[int]string) {
	byN := map[int]string{}
	var rest []int
	for k, v := range values {
		if n, ok := keyIndex(k, prefix); ok {
			byN[n] = v
			rest = append(rest, n)
		}
	}
	sort.Ints(rest)
	var idx []int
	seen := map[int]bool{}
	for _, s := range prior {
		if _, ok := byN[int(s)]; ok && !seen[int(s)] {
			idx = append(idx, int(s))
			seen[int(s)] = true
		}
	}
	for _, n := range rest {
		if !seen[n] {
			idx = append(idx, n)
		}
	}
	return idx, byN
}

// readFlag is a mount flag as read: the configured spelling when Proxmox VE
// means the same, else the value PVE reports (null when absent).
func readFlag(got *bool, prior types.Bool, def *bool) types.Bool {
	switch {
	case got != nil && known(prior) && prior.ValueBool() == *got:
		return prior
	case got != nil:
		return types.BoolValue(*got)
	case known(prior) && def != nil && prior.ValueBool() == *def:
		return prior
	}
	return types.BoolNull()
}

// readSlots reads the numbered keys prefix0.. of values into a list of
// slot blocks: in the order of the prior blocks, then new slots ascending.
// one converts the value of slot n, given the prior block of that slot (the
// zero value when there was none).
func readSlots[T any](ctx context.Context, list *types.List, objType types.ObjectType, prefix, what string, values map[string]string,
	slotOf func(T) int64, one func(n int, v string, prior T) (T, error)) diag.Diagnostics {
	prior, diags := listElements[T](ctx, *list)
	bySlot := map[int64]T{}
	var order []int64
	for _, p := range prior {
		bySlot[slotOf(p)] = p
		order = append(order, slotOf(p))
	}
	idx, byN := numberedValues(values, prefix, order)
	out := make([]T, 0, len(idx))
	for _, n := range idx {
		el, err := one(n, byN[n], bySlot[int64(n)])
		if err != nil {
			diags.AddError("Unexpected "+what, err.Error())
			continue
		}
		out = append(out, el)
	}
	if len(out) == 0 && list.IsNull() {
		// Typed, also when the model started as a zero value (the data
		// source).
		*list = types.ListNull(objType)
		return diags
	}
	l, d := types.ListValueFrom(ctx, objType, out)
	diags.Append(d...)
	*list = l
	return diags
}

func readMounts(ctx context.Context, m *lxcContainerModel, values map[string]string) diag.Diagnostics {
	return readSlots(ctx, &m.MountPoints, mountPointObjectType, "mp", "mount point", values,
		func(mm mountPointModel) int64 { return mm.Slot.ValueInt64() },
		func(n int, v string, pr mountPointModel) (mountPointModel, error) {
			p, err := pve.ParseMountPoint(v)
			if err != nil {
				return pr, err
			}
			mm := mountPointModel{
				Slot: types.Int64Value(int64(n)), Path: types.StringValue(p.Path), Volume: types.StringValue(p.Volume),
				Storage: types.StringNull(), Size: strOrNull(p.Size), MountOptions: types.SetNull(types.StringType),
			}
			// storage is where the volume lives (none for a bind or device
			// mount), so that an imported container plans no change of it.
			if st, _, ok := strings.Cut(p.Volume, ":"); ok && pve.MountKind(p.Volume) == "volume" {
				mm.Storage = types.StringValue(st)
			}
			if known(pr.Size) && p.Size != "" {
				a, e1 := pve.ParseSize(pr.Size.ValueString())
				b, e2 := pve.ParseSize(p.Size)
				if e1 == nil && e2 == nil && a == b {
					mm.Size = pr.Size
				}
			}
			priorFlags := mountFlags(&pr, &pve.MountPoint{})
			for i, f := range mountFlags(&mm, &p) {
				*f.attr = readFlag(*f.pve, *priorFlags[i].attr, f.def)
			}
			if len(p.MountOptions) > 0 {
				s, d := types.SetValueFrom(ctx, types.StringType, p.MountOptions)
				if d.HasError() {
					return mm, fmt.Errorf("mp%d: mount options %v", n, p.MountOptions)
				}
				mm.MountOptions = s
			} else if known(pr.MountOptions) && len(pr.MountOptions.Elements()) == 0 {
				mm.MountOptions = pr.MountOptions
			}
			return mm, nil
		})
}

func readDevices(ctx context.Context, m *lxcContainerModel, values map[string]string) diag.Diagnostics {
	return readSlots(ctx, &m.Devices, deviceObjectType, "dev", "device", values,
		func(dm deviceModel) int64 { return dm.Slot.ValueInt64() },
		func(n int, v string, pr deviceModel) (deviceModel, error) {
			d, err := pve.ParseDevice(v)
			f := false
			return deviceModel{
				Slot: types.Int64Value(int64(n)), Path: types.StringValue(d.Path), Mode: strOrNull(d.Mode),
				UID: int64OrNull(d.UID), GID: int64OrNull(d.GID), DenyWrite: readFlag(d.DenyWrite, pr.DenyWrite, &f),
			}, err
		})
}

// planMounts keeps, in the plan, what Proxmox VE already allocated for a
// slot (its volume and size) while the block still asks for the same, and
// says at plan time what the apply will do to volumes: a shrink is refused,
// a new volume in place of one and a removed block leave the old volume as
// unusedN.
func planMounts(ctx context.Context, plan, state *lxcContainerModel) diag.Diagnostics {
	planned, diags := plan.mountPoints(ctx)
	current, d := state.mountPoints(ctx)
	diags.Append(d...)
	if diags.HasError() || planned == nil && current == nil {
		return diags
	}
	bySlot := map[int64]mountPointModel{}
	for _, c := range current {
		bySlot[c.Slot.ValueInt64()] = c
	}
	changed := false
	for i := range planned {
		p := &planned[i]
		at := path.Root("mount_point").AtListIndex(i)
		c, had := bySlot[p.Slot.ValueInt64()]
		delete(bySlot, p.Slot.ValueInt64())
		if !had && len(current) > 0 && p.Volume.IsUnknown() && known(p.Storage) {
			diags.AddAttributeWarning(at, "New volume for a mount point",
				fmt.Sprintf("mp%d is not attached, so a new empty volume is allocated on %s. If the container's former volume "+
					"for it is listed as unusedN in Proxmox VE, set volume to that volume ID instead to attach it again.",
					p.Slot.ValueInt64(), p.Storage.ValueString()))
		}
		if !had || !known(c.Volume) {
			continue
		}
		oldKind := pve.MountKind(c.Volume.ValueString())
		if p.Volume.IsUnknown() {
			if known(p.Storage) && oldKind == "volume" && !strings.HasPrefix(c.Volume.ValueString(), p.Storage.ValueString()+":") {
				diags.AddAttributeWarning(at.AtName("storage"), "New volume for a mount point",
					fmt.Sprintf("mp%d moves to a new volume on %s; its current volume %s stays on its storage as unusedN "+
						"(its data is not copied).", p.Slot.ValueInt64(), p.Storage.ValueString(), c.Volume.ValueString()))
				continue
			}
			// The slot's volume stays while the block still asks for a
			// volume on its storage; a bind or device mount never stands
			// in for a new volume.
			if known(p.Storage) && oldKind == "volume" {
				p.Volume = c.Volume
				changed = true
			}
		}
		if p.Volume.Equal(c.Volume) && p.Size.IsUnknown() {
			p.Size = c.Size
			changed = true
		}
		if p.Volume.Equal(c.Volume) && p.Storage.IsUnknown() {
			p.Storage = c.Storage
			changed = true
		}
		if p.Volume.Equal(c.Volume) && oldKind == "volume" {
			want, e1 := pve.ParseSize(p.Size.ValueString())
			have, e2 := pve.ParseSize(c.Size.ValueString())
			if known(p.Size) && known(c.Size) && e1 == nil && e2 == nil && want < have {
				diags.AddAttributeError(at.AtName("size"), "Mount point cannot shrink",
					fmt.Sprintf("mp%d is %s; Proxmox VE can only grow a volume. Keep size at %s or more.", p.Slot.ValueInt64(), c.Size.ValueString(), c.Size.ValueString()))
			}
		}
	}
	var gone, unmounted []string
	for slot, c := range bySlot {
		if !known(c.Volume) {
			continue
		}
		what := fmt.Sprintf("mp%d (%s, %s)", slot, c.Path.ValueString(), c.Volume.ValueString())
		if pve.MountKind(c.Volume.ValueString()) == "volume" {
			gone = append(gone, what)
		} else {
			unmounted = append(unmounted, what)
		}
	}
	if len(gone) > 0 {
		sort.Strings(gone)
		diags.AddAttributeWarning(path.Root("mount_point"), "Mount points detached",
			"Detached, not destroyed: "+strings.Join(gone, ", ")+". Each volume stays on its storage as unusedN, as Proxmox VE "+
				"keeps it; attach it again with volume = \"<volume ID>\". Destroying or replacing the container destroys its "+
				"unusedN volumes too.")
	}
	if len(unmounted) > 0 {
		sort.Strings(unmounted)
		diags.AddAttributeWarning(path.Root("mount_point"), "Mount points removed",
			"Removed from the container (the host paths are not touched): "+strings.Join(unmounted, ", ")+
				". If they were set outside Terraform, add mount_point blocks for them to keep them.")
	}
	if changed {
		l, d := types.ListValueFrom(ctx, mountPointObjectType, planned)
		diags.Append(d...)
		plan.MountPoints = l
	}
	return diags
}

var volumeOwnerPattern = regexp.MustCompile(`^[^:]+:(?:.*/)?(?:vm|subvol|base|basevol)-(\d+)-`)

// planForeignVolumes warns when a mount point attaches a volume named for
// another guest: its disk, seen and written by this container too (with a
// root@pam login PVE does not stop it).
func planForeignVolumes(ctx context.Context, plan *lxcContainerModel) diag.Diagnostics {
	mps, diags := plan.mountPoints(ctx)
	if !known(plan.VMID) {
		return diags
	}
	for i, mm := range mps {
		if !known(mm.Volume) {
			continue
		}
		if m := volumeOwnerPattern.FindStringSubmatch(mm.Volume.ValueString()); m != nil && m[1] != strconv.FormatInt(plan.VMID.ValueInt64(), 10) {
			diags.AddAttributeWarning(path.Root("mount_point").AtListIndex(i).AtName("volume"), "Volume of another guest",
				fmt.Sprintf("%s belongs to guest %s: mounted here, this container reads and writes that guest's disk.", mm.Volume.ValueString(), m[1]))
		}
	}
	return diags
}

// planDevices warns when devices leave the container (also those set
// outside Terraform, which a configuration without device blocks removes).
func planDevices(ctx context.Context, plan, state *lxcContainerModel) diag.Diagnostics {
	planned, diags := plan.devices(ctx)
	current, d := state.devices(ctx)
	diags.Append(d...)
	kept := map[int64]bool{}
	for _, p := range planned {
		kept[p.Slot.ValueInt64()] = true
	}
	var gone []string
	for _, c := range current {
		if !kept[c.Slot.ValueInt64()] {
			gone = append(gone, fmt.Sprintf("dev%d (%s)", c.Slot.ValueInt64(), c.Path.ValueString()))
		}
	}
	if len(gone) > 0 {
		diags.AddAttributeWarning(path.Root("device"), "Devices removed",
			"No longer passed through: "+strings.Join(gone, ", ")+". If they were set outside Terraform, add device blocks for them to keep them.")
	}
	return diags
}

// growMounts resizes the volume mount points whose planned size is larger
// than the container's.
func growMounts(ctx context.Context, plan *lxcContainerModel, values map[string]string, resize func(disk, size string) error) error {
	mps, diags := plan.mountPoints(ctx)
	if diags.HasError() {
		return fmt.Errorf("mount points: %v", diags)
	}
	for _, mm := range mps {
		key := "mp" + strconv.FormatInt(mm.Slot.ValueInt64(), 10)
		cur, err := pve.ParseMountPoint(values[key])
		// Only the planned volume grows: never one the slot is leaving.
		if err != nil || !known(mm.Size) || pve.MountKind(cur.Volume) != "volume" || cur.Size == "" ||
			known(mm.Volume) && mm.Volume.ValueString() != cur.Volume {
			continue
		}
		want, e1 := pve.ParseSize(mm.Size.ValueString())
		have, e2 := pve.ParseSize(cur.Size)
		if e1 != nil || e2 != nil || want <= have {
			continue
		}
		if err := resize(key, pve.FormatSize(want)); err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
	}
	return nil
}
