// Package phoenixcfg reads the phoenix_lxc_configs.json document of the
// Phoenix Hypervisor scripts and converts each container into the arguments
// of a phoenix_lxc_container resource. It is the whole of the lxc_configs
// provider-defined function but its framework types: it validates the
// document (every problem named by its JSON path), maps each field onto an
// argument, and lists the fields without a counterpart as unmapped.
//
// It uses only the standard library and internal/pve (for the Proxmox VE
// formats: features, names), and does no I/O.
package phoenixcfg

// Container is one converted entry of lxc_configs. Every field but CTID and
// Unmapped is named, in JSON, after the phoenix_lxc_container argument it
// feeds; a nil pointer or slice means the document does not set it, so the
// resource's default applies. The fields without a pointer are required by
// the document's schema.
//
// Arguments the document never sets (node_name, description, tags, os_type,
// cpu_limit, cpu_units, nameserver, searchdomain, started, protection) have
// no field; vmid is CTID.
type Container struct {
	// CTID is the container's key in lxc_configs.
	CTID int64 `json:"ctid"`
	// Template is template, verbatim (a file path stays a file path).
	Template *string `json:"template"`
	// Clone is clone_from_ctid, with the source's template_snapshot_name.
	Clone *Clone `json:"clone"`
	// Hostname is name.
	Hostname string `json:"hostname"`
	// Unprivileged is unprivileged.
	Unprivileged bool `json:"unprivileged"`
	// Cores is cores.
	Cores int64 `json:"cores"`
	// Memory is memory_mb.
	Memory int64 `json:"memory"`
	// Swap is swap_mb.
	Swap *int64 `json:"swap"`
	// RootFS is storage_pool and storage_size_gb.
	RootFS RootFS `json:"rootfs"`
	// Network is the first interface: network_config, mac_address and
	// firewall.enabled.
	Network Network `json:"network"`
	// Features are the feature flags among pct_options; nil when none is.
	Features *Features `json:"features"`
	// StartOnBoot is start_at_boot.
	StartOnBoot *bool `json:"start_on_boot"`
	// Startup is boot_order and boot_delay; nil when neither is set.
	Startup *Startup `json:"startup"`
	// ApparmorProfile is apparmor_profile.
	ApparmorProfile string `json:"apparmor_profile"`
	// LXCConfig are the lxc_options lines but the lxc.apparmor.* ones; nil
	// when there is none.
	LXCConfig []LXCLine `json:"lxc_config"`
	// IDMap is id_maps, completed per kind with Proxmox VE's default
	// offset, or the lxc.idmap lines of lxc_options; nil when neither is set.
	IDMap []IDMapEntry `json:"id_map"`
	// Docker is set for a container with the "docker" feature.
	Docker *Docker `json:"docker"`
	// MountPoints are volumes and zfs_volumes, new volumes in slot order;
	// nil when there is none.
	MountPoints []MountPoint `json:"mount_point"`
	// Devices are the NVIDIA device nodes of gpu_assignment; nil for none.
	Devices []Device `json:"device"`
	// Unmapped lists, as "<path>: <JSON value>", every field without a
	// counterpart, in document order. Never nil.
	Unmapped []string `json:"unmapped"`
}

// Clone is the clone argument: the source container and, when the source is
// in the document and names a template_snapshot_name, that snapshot.
type Clone struct {
	SourceVMID int64   `json:"source_vmid"`
	Snapshot   *string `json:"snapshot"`
}

// RootFS is the rootfs argument.
type RootFS struct {
	Storage string `json:"storage"`
	// Size is storage_size_gb with the unit G, e.g. "32G".
	Size string `json:"size"`
}

// Network is the first network interface (net0).
type Network struct {
	Name     string  `json:"name"`
	Bridge   string  `json:"bridge"`
	IP       string  `json:"ip"`
	Gw       string  `json:"gw"`
	HWAddr   *string `json:"hwaddr"`
	Firewall *bool   `json:"firewall"`
}

// Features are the container features set by pct_options; a nil field is
// not named by any of them.
type Features struct {
	Nesting *bool `json:"nesting"`
	Keyctl  *bool `json:"keyctl"`
	Fuse    *bool `json:"fuse"`
	Mknod   *bool `json:"mknod"`
	// Mount lists the file systems of the last mount= option, in order.
	Mount []string `json:"mount"`
}

// Startup is the startup argument's order and delays.
type Startup struct {
	Order     *int64 `json:"order"`
	UpDelay   *int64 `json:"up_delay"`
	DownDelay *int64 `json:"down_delay"`
}

// LXCLine is one raw lxc line: lxc.<key> and its value.
type LXCLine struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// IDMapEntry is an id_map block: Size IDs from ContainerID in the container
// on HostID on the node; Kind is "uid" or "gid".
type IDMapEntry struct {
	Kind        string `json:"kind"`
	ContainerID int64  `json:"container_id"`
	HostID      int64  `json:"host_id"`
	Size        int64  `json:"size"`
}

// Docker is the docker block of a container with the "docker" feature. The
// block keeps its defaults but for HelloWorld: false when
// tests.integration_tests is a list without test_docker_hello_world.sh,
// true otherwise.
type Docker struct {
	HelloWorld bool `json:"hello_world"`
}

// MountPoint is a mount_point block: a new volume of Size on Storage at Path.
type MountPoint struct {
	Slot    int64  `json:"slot"`
	Path    string `json:"path"`
	Storage string `json:"storage"`
	Size    string `json:"size"`
}

// Device is a device block.
type Device struct {
	Slot int64  `json:"slot"`
	Path string `json:"path"`
}
