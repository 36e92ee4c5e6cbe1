package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"regexp"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/float64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/mapvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/boolplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/pve"
)

// Patterns shared by validation and documentation. They follow the formats
// of the Proxmox VE API schema; those the lxc_configs function checks too
// live in internal/pve.
var (
	hostnamePattern   = pve.HostnamePattern
	tagPattern        = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9_\-+.]*$`)
	storageIDPattern  = pve.StorageIDPattern
	templatePattern   = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9\-_.]*[a-zA-Z0-9]:vztmpl/[^/\s,]+\.(?:tar|tar\.gz|tgz|tar\.xz|tar\.zst)$`)
	sizePattern       = regexp.MustCompile(`^[0-9]+(?:\.[0-9]+)?[KMGT]?$`)
	ifaceNamePattern  = pve.InterfaceNamePattern
	bridgePattern     = pve.BridgePattern
	macPattern        = pve.MACPattern
	snapshotPattern   = pve.SnapshotNamePattern
	searchDomainRegex = regexp.MustCompile(`^[a-zA-Z0-9.\-]+(?:\s+[a-zA-Z0-9.\-]+)*$`)
	// A snippet volume: PVE runs a hookscript only from a storage's
	// snippets directory (PVE::GuestHelpers::check_hookscript).
	hookscriptPattern = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9\-_.]*[a-zA-Z0-9]:snippets/[^/\s]+$`)
	// entrypoint and environment values: no control characters but tab
	// (the patterns of PVE::LXC::Config's entrypoint and env).
	noControlPattern = regexp.MustCompile(`^[^\x00-\x08\x0a-\x1f\x7f]*$`)
	envNamePattern   = regexp.MustCompile(`^\w+$`)
)

const (
	defaultMemory      = 512
	defaultSwap        = 512
	defaultTTYCount    = 2
	defaultConsoleMode = "tty"
)

// lxcContainerModel maps the phoenix_lxc_container resource.
type lxcContainerModel struct {
	ID            types.String   `tfsdk:"id"`
	NodeName      types.String   `tfsdk:"node_name"`
	VMID          types.Int64    `tfsdk:"vmid"`
	Template      types.String   `tfsdk:"template"`
	Clone         *cloneModel    `tfsdk:"clone"`
	Hostname      types.String   `tfsdk:"hostname"`
	Description   types.String   `tfsdk:"description"`
	Tags          types.Set      `tfsdk:"tags"`
	Unprivileged  types.Bool     `tfsdk:"unprivileged"`
	OSType        types.String   `tfsdk:"os_type"`
	Cores         types.Int64    `tfsdk:"cores"`
	CPULimit      types.Float64  `tfsdk:"cpu_limit"`
	CPUUnits      types.Int64    `tfsdk:"cpu_units"`
	Memory        types.Int64    `tfsdk:"memory"`
	Swap          types.Int64    `tfsdk:"swap"`
	RootFS        *rootfsModel   `tfsdk:"rootfs"`
	Network       types.List     `tfsdk:"network"`
	MountPoints   types.List     `tfsdk:"mount_point"`
	IPAddresses   types.List     `tfsdk:"ip_addresses"`
	WaitForIP     types.Bool     `tfsdk:"wait_for_ip"`
	Devices       types.List     `tfsdk:"device"`
	Nameserver    types.String   `tfsdk:"nameserver"`
	Searchdomain  types.String   `tfsdk:"searchdomain"`
	Timezone      types.String   `tfsdk:"timezone"`
	Features      types.Object   `tfsdk:"features"`
	StartOnBoot   types.Bool     `tfsdk:"start_on_boot"`
	Startup       *startupModel  `tfsdk:"startup"`
	Arch          types.String   `tfsdk:"arch"`
	ConsoleMode   types.String   `tfsdk:"console_mode"`
	Console       types.Bool     `tfsdk:"console"`
	TTYCount      types.Int64    `tfsdk:"tty_count"`
	Hookscript    types.String   `tfsdk:"hookscript"`
	Entrypoint    types.String   `tfsdk:"entrypoint"`
	Environment   types.Map      `tfsdk:"environment"`
	Started       types.Bool     `tfsdk:"started"`
	Protection    types.Bool     `tfsdk:"protection"`
	Password      types.String   `tfsdk:"password"`
	SSHPublicKeys types.List     `tfsdk:"ssh_public_keys"`
	AppArmor      types.String   `tfsdk:"apparmor_profile"`
	EffectiveAA   types.String   `tfsdk:"effective_apparmor_profile"`
	LXCConfig     types.List     `tfsdk:"lxc_config"`
	AllowLXCHooks types.Bool     `tfsdk:"allow_lxc_hooks"`
	IDMap         types.List     `tfsdk:"id_map"`
	Docker        *dockerModel   `tfsdk:"docker"`
	Pool          types.String   `tfsdk:"pool"`
	HA            *haModel       `tfsdk:"ha"`
	Timeouts      timeouts.Value `tfsdk:"timeouts"`
}

type lxcLineModel struct {
	Key   types.String `tfsdk:"key"`
	Value types.String `tfsdk:"value"`
}

type cloneModel struct {
	SourceVMID types.Int64  `tfsdk:"source_vmid"`
	SourceNode types.String `tfsdk:"source_node"`
	Snapshot   types.String `tfsdk:"snapshot"`
	Full       types.Bool   `tfsdk:"full"`
	Storage    types.String `tfsdk:"storage"`
}

type rootfsModel struct {
	Storage types.String `tfsdk:"storage"`
	Size    types.String `tfsdk:"size"`
	Volume  types.String `tfsdk:"volume"`
}

type networkModel struct {
	Name     types.String  `tfsdk:"name"`
	Bridge   types.String  `tfsdk:"bridge"`
	IP       types.String  `tfsdk:"ip"`
	Gw       types.String  `tfsdk:"gw"`
	IP6      types.String  `tfsdk:"ip6"`
	Gw6      types.String  `tfsdk:"gw6"`
	HWAddr   types.String  `tfsdk:"hwaddr"`
	Firewall types.Bool    `tfsdk:"firewall"`
	VLAN     types.Int64   `tfsdk:"vlan"`
	MTU      types.Int64   `tfsdk:"mtu"`
	Rate     types.Float64 `tfsdk:"rate"`
}

type startupModel struct {
	Order     types.Int64 `tfsdk:"order"`
	UpDelay   types.Int64 `tfsdk:"up_delay"`
	DownDelay types.Int64 `tfsdk:"down_delay"`
}

// Constructors of the plain optional arguments: a description and the
// validators, nothing else.
func optString(desc string, v ...validator.String) schema.StringAttribute {
	return schema.StringAttribute{MarkdownDescription: desc, Optional: true, Validators: v}
}

func optInt64(desc string, v ...validator.Int64) schema.Int64Attribute {
	return schema.Int64Attribute{MarkdownDescription: desc, Optional: true, Validators: v}
}

func optFloat64(desc string, v ...validator.Float64) schema.Float64Attribute {
	return schema.Float64Attribute{MarkdownDescription: desc, Optional: true, Validators: v}
}

func optBool(desc string) schema.BoolAttribute {
	return schema.BoolAttribute{MarkdownDescription: desc, Optional: true}
}

func reqString(desc string, v ...validator.String) schema.StringAttribute {
	return schema.StringAttribute{MarkdownDescription: desc, Required: true, Validators: v}
}

func reqInt64(desc string, v ...validator.Int64) schema.Int64Attribute {
	return schema.Int64Attribute{MarkdownDescription: desc, Required: true, Validators: v}
}

// Optional arguments with a default, which the plan shows when the
// configuration leaves them unset.
func defaultString(desc, def string, v ...validator.String) schema.StringAttribute {
	return schema.StringAttribute{MarkdownDescription: desc, Optional: true, Computed: true, Default: stringdefault.StaticString(def), Validators: v}
}

func defaultInt64(desc string, def int64, v ...validator.Int64) schema.Int64Attribute {
	return schema.Int64Attribute{MarkdownDescription: desc, Optional: true, Computed: true, Default: int64default.StaticInt64(def), Validators: v}
}

func defaultBool(desc string, def bool) schema.BoolAttribute {
	return schema.BoolAttribute{MarkdownDescription: desc, Optional: true, Computed: true, Default: booldefault.StaticBool(def)}
}

// keptString is an optional argument that Proxmox VE fills in when it is
// unset: the prior value stands in the plan until the configuration sets
// one. more are further plan modifiers.
func keptString(desc string, v validator.String, more ...planmodifier.String) schema.StringAttribute {
	return schema.StringAttribute{
		MarkdownDescription: desc, Optional: true, Computed: true, Validators: []validator.String{v},
		PlanModifiers: append([]planmodifier.String{stringplanmodifier.UseStateForUnknown()}, more...),
	}
}

func lxcContainerSchema(ctx context.Context) schema.Schema {
	return schema.Schema{
		MarkdownDescription: "A Proxmox VE LXC container. Create, update, delete and import map onto the Proxmox VE API; " +
			"settings that Proxmox VE applies in place are updated in place (one configuration change per apply), " +
			"the others replace the container, and the plan says which.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				MarkdownDescription: "`<node_name>/<vmid>`.",
				Computed:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"node_name": schema.StringAttribute{
				MarkdownDescription: "Node the container lives on. Changing it replaces the container.",
				Required:            true,
				Validators:          []validator.String{stringvalidator.RegexMatches(nodeNamePattern, "must be a Proxmox VE node name")},
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"vmid": schema.Int64Attribute{
				MarkdownDescription: "Container ID (100 to 999999999). When omitted, the next free ID of the cluster is used; " +
					"parallel creates that race for an ID retry with a fresh one. Changing it replaces the container.",
				Optional:      true,
				Computed:      true,
				Validators:    []validator.Int64{int64validator.Between(100, 999999999)},
				PlanModifiers: []planmodifier.Int64{int64planmodifier.UseStateForUnknown(), int64planmodifier.RequiresReplaceIfConfigured()},
			},
			"template": schema.StringAttribute{
				MarkdownDescription: "OS template volume to create the container from, e.g. " +
					"`local:vztmpl/ubuntu-24.04-standard_24.04-2_amd64.tar.zst`. Conflicts with `clone`. Changing it replaces the " +
					"container. An imported container may leave both `template` and `clone` unset.",
				Optional: true,
				Validators: []validator.String{
					stringvalidator.RegexMatches(templatePattern, "must be a template volume such as local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"),
				},
				PlanModifiers: []planmodifier.String{replaceUnlessImported{what: "the template changes"}},
			},
			"hostname": schema.StringAttribute{
				MarkdownDescription: "Host name of the container.",
				Optional:            true,
				Computed:            true,
				Validators: []validator.String{
					stringvalidator.LengthBetween(1, 253),
					stringvalidator.RegexMatches(hostnamePattern, "must be a DNS name (letters, digits and '-', labels separated by '.')"),
				},
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"description": optString("Notes shown in the Proxmox VE interface.", stringvalidator.LengthAtMost(8192)),
			"tags": schema.SetAttribute{
				MarkdownDescription: "Tags. Order and Proxmox VE's `;`-joined form never cause a difference.",
				Optional:            true,
				ElementType:         types.StringType,
				Validators: []validator.Set{
					setvalidator.ValueStringsAre(stringvalidator.RegexMatches(tagPattern, "must start with a letter, digit or '_' and hold only letters, digits, '_', '-', '+' and '.'")),
				},
			},
			"unprivileged": schema.BoolAttribute{
				MarkdownDescription: "Run the container unprivileged (user namespaces). Defaults to `true`. Changing it replaces the container.",
				Optional:            true,
				Computed:            true,
				Default:             booldefault.StaticBool(true),
				PlanModifiers:       []planmodifier.Bool{boolplanmodifier.RequiresReplace()},
			},
			"os_type": schema.StringAttribute{
				MarkdownDescription: "OS type, used by Proxmox VE to set up the container (`debian`, `ubuntu`, `alpine`, ...). " +
					"Detected from the template when unset.",
				Optional: true,
				Computed: true,
				Validators: []validator.String{stringvalidator.OneOf(
					"debian", "devuan", "ubuntu", "centos", "fedora", "opensuse", "archlinux", "alpine", "gentoo", "nixos", "unmanaged",
				)},
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"cores":        optInt64("CPU cores the container may use; all of the host's when unset.", int64validator.Between(1, 8192)),
			"cpu_limit":    optFloat64("CPU usage limit in cores (0 to 8192; 0 means no limit).", float64validator.Between(0, 8192)),
			"cpu_units":    optInt64("CPU weight relative to other guests (0 to 500000).", int64validator.Between(0, 500000)),
			"memory":       defaultInt64("Memory in MiB. Defaults to `512`.", defaultMemory, int64validator.AtLeast(16)),
			"swap":         defaultInt64("Swap in MiB. Defaults to `512`.", defaultSwap, int64validator.AtLeast(0)),
			"nameserver":   optString("DNS servers, separated by spaces; the host's settings when unset.", checkWith("Invalid nameserver", "IP addresses separated by spaces", checkNameservers)),
			"searchdomain": optString("DNS search domains, separated by spaces; the host's settings when unset.", stringvalidator.RegexMatches(searchDomainRegex, "must be domain names separated by spaces")),
			"timezone": optString("Time zone of the container: `host` (the node's), or a zone such as `Europe/Berlin`; "+
				"the container's own setting when unset. A change takes effect at the next start (a running container restarts).",
				stringvalidator.RegexMatches(regexp.MustCompile(`^(host|UTC|[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*)$`),
					"must be host, UTC or a zone name such as Europe/Berlin")),
			"start_on_boot": defaultBool("Start the container when its node boots. Defaults to `false`.", false),
			"pool":          poolAttribute(),
			"started":       defaultBool("Whether the container runs. Defaults to `true`. A container stopped outside Terraform shows as a change.", true),
			"protection": defaultBool("Protect the container from removal and from changes to its disks. Defaults to `false`; "+
				"destroying a protected container fails until it is set to `false`.", false),
			"password": schema.StringAttribute{
				MarkdownDescription: "Password of the container's root user, set at creation. Write-only: it is never stored in " +
					"the plan or the state (Terraform 1.11 or newer).",
				Optional:   true,
				Sensitive:  true,
				WriteOnly:  true,
				Validators: []validator.String{stringvalidator.LengthAtLeast(5)},
			},
			"features": schema.SingleNestedAttribute{
				MarkdownDescription: "Container features; unset ones are off. With a `docker` block, `nesting` (and `keyctl` for an " +
					"unprivileged container) are planned `true`, and setting them to `false` is an error. Changing features restarts a " +
					"running container (the plan warns).",
				Optional: true,
				Computed: true,
				Attributes: map[string]schema.Attribute{
					"nesting": schema.BoolAttribute{MarkdownDescription: "Allow nested containers (needed by Docker).", Optional: true, Computed: true},
					"keyctl":  schema.BoolAttribute{MarkdownDescription: "Allow the keyctl() system call (needed by Docker in unprivileged containers).", Optional: true, Computed: true},
					"fuse":    schema.BoolAttribute{MarkdownDescription: "Allow FUSE mounts (needed by the `fuse-overlayfs` storage driver).", Optional: true, Computed: true},
					"mknod":   schema.BoolAttribute{MarkdownDescription: "Allow mknod() of a safe set of device nodes (experimental in Proxmox VE).", Optional: true, Computed: true},
					"mount": schema.SetAttribute{
						MarkdownDescription: "File system types the container may mount, e.g. `nfs`, `cifs`.",
						Optional:            true,
						Computed:            true,
						ElementType:         types.StringType,
						Validators:          []validator.Set{setvalidator.ValueStringsAre(stringvalidator.RegexMatches(regexp.MustCompile(`^[a-z0-9_]+$`), "must be a file system type"))},
					},
				},
			},
			"apparmor_profile": optString("AppArmor profile to confine the container with, set as the raw line `lxc.apparmor.profile` over SSH. "+
				"Unset: Proxmox VE's generated profile. `unconfined` removes confinement (a warning says what that means). With a "+
				"`docker` block the profile is always `"+dockerProfile.Name+"` and a different value here draws a warning.",
				stringvalidator.RegexMatches(regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$`), "must be an AppArmor profile name such as lxc-docker-secure"),
				stringvalidator.NoneOf("generated")),
			"effective_apparmor_profile": schema.StringAttribute{
				MarkdownDescription: "Profile the container runs under: `" + dockerProfile.Name + "` with a `docker` block, else " +
					"`apparmor_profile`, else `generated` (Proxmox VE's own). Decided at plan time, so the plan shows it.",
				Computed: true,
			},
			"lxc_config": schema.ListNestedAttribute{
				MarkdownDescription: "Raw `lxc.*` lines of the container's configuration file that you own, in order, e.g. " +
					"`{ key = \"lxc.mount.entry\", value = \"/dev/fuse dev/fuse none bind,create=file 0 0\" }`. Written over SSH under " +
					"Proxmox VE's config lock; a change restarts a running container. `lxc.apparmor.*` keys belong to `apparmor_profile`, " +
					"`lxc.idmap` to the `id_map` blocks.",
				Optional: true,
				NestedObject: schema.NestedAttributeObject{
					Attributes: map[string]schema.Attribute{
						"key":   reqString("Key, e.g. `lxc.cgroup2.devices.allow`.", lxcKeyValidator{}),
						"value": reqString("Value.", stringvalidator.RegexMatches(regexp.MustCompile(`^[^\n\r]*\S[^\n\r]*$`), "must be one non-empty line")),
					},
				},
			},
			"allow_lxc_hooks": optBool("Accept `lxc.hook.*` lines in `lxc_config` and a new or changed `hookscript`. A hook or a " +
				"hookscript is a command the node runs as root at each start of the container, so they are refused unless this is " +
				"`true`; hook lines are then allowed with a warning. Defaults to `false`."),
			"ip_addresses": schema.ListAttribute{
				MarkdownDescription: "The container's IP addresses (without prefix length): those its networks set, known at plan " +
					"time; with a network on `dhcp` or `auto`, what the running container reports (loopback and link-local left out).",
				Computed:    true,
				ElementType: types.StringType,
			},
			"wait_for_ip": optBool("On create, and whenever an update starts or reboots the container, wait (within the create or " +
				"update timeout) until the container reports an address, so that `ip_addresses` holds its DHCP or SLAAC " +
				"address. Defaults to `false`."),
			"arch": keptString("Architecture of the container's OS: `amd64`, `i386`, `arm64`, `armhf`, `riscv32` or `riscv64`. "+
				"Proxmox VE detects it from the template when unset and keeps it. A change takes effect at the next start "+
				"(a running container restarts); it does not convert the root file system.",
				stringvalidator.OneOf("amd64", "i386", "arm64", "armhf", "riscv32", "riscv64")),
			"console_mode": defaultString("What the Proxmox VE console opens: `tty` (one of the container's ttys, the default), `console` "+
				"(`/dev/console`) or `shell` (a shell in the container, without login). A change takes effect at the next start "+
				"(a running container restarts).",
				defaultConsoleMode, stringvalidator.OneOf("tty", "console", "shell")),
			"console": defaultBool("Attach a console device (`/dev/console`) to the container. Defaults to `true`. A change takes "+
				"effect at the next start (a running container restarts).", true),
			"tty_count": defaultInt64("Number of ttys the container gets (0 to 6). Defaults to `2`. A change takes effect at the next "+
				"start (a running container restarts).",
				defaultTTYCount, int64validator.Between(0, 6)),
			"hookscript": optString("Script Proxmox VE runs at the container's lifecycle steps, a snippet volume such as "+
				"`local:snippets/hook.sh` (it must exist on the node and be executable). Applied at once. Proxmox VE lets only "+
				"root@pam set it: with another API identity the provider sets it on the node with `pct set` over its SSH access. "+
				"The node runs it as root: a new or changed hookscript needs `allow_lxc_hooks = true`.",
				stringvalidator.RegexMatches(hookscriptPattern, "must be a snippet volume such as local:snippets/hook.sh")),
			"entrypoint": optString("Command the container runs as init, with optional arguments (Proxmox VE's default is "+
				"`/sbin/init`), for application containers. A change takes effect at the next start (a running container restarts).",
				stringvalidator.LengthAtLeast(1),
				stringvalidator.RegexMatches(noControlPattern, "must hold no control characters other than tab")),
			"environment": schema.MapAttribute{
				MarkdownDescription: "Environment variables of the container's init process, by name (Proxmox VE's `env`, kept as " +
					"`lxc.environment.runtime` lines). Sensitive, since such variables often carry credentials; Proxmox VE shows " +
					"them only to users with VM.Config.Options. A change takes effect at the next start (a running container restarts).",
				Optional:    true,
				Sensitive:   true,
				ElementType: types.StringType,
				Validators: []validator.Map{
					mapvalidator.KeysAre(stringvalidator.RegexMatches(envNamePattern, "must be a variable name (letters, digits and '_')")),
					mapvalidator.ValueStringsAre(stringvalidator.RegexMatches(noControlPattern, "must hold no control characters other than tab")),
				},
			},
			"ssh_public_keys": schema.ListAttribute{
				MarkdownDescription: "Public SSH keys for the container's root user, set at creation. Changing them replaces the " +
					"container (Proxmox VE cannot change them later).",
				Optional:    true,
				ElementType: types.StringType,
				Validators: []validator.List{listvalidator.ValueStringsAre(
					checkWith("Invalid SSH public key", "an OpenSSH public key line", checkPublicKey),
				)},
				PlanModifiers: []planmodifier.List{replaceUnlessImported{what: "the SSH keys change"}},
			},
		},
		Blocks: map[string]schema.Block{
			"clone": schema.SingleNestedBlock{
				MarkdownDescription: "Create the container as a clone of another container or template, instead of `template`. " +
					"Changing it replaces the container.",
				PlanModifiers: []planmodifier.Object{replaceUnlessImported{what: "the clone source changes"}},
				Attributes: map[string]schema.Attribute{
					"source_vmid": optInt64("ID of the container or template to clone.", int64validator.Between(100, 999999999)),
					"source_node": optString("Node of the source; defaults to `node_name`.", stringvalidator.RegexMatches(nodeNamePattern, "must be a Proxmox VE node name")),
					"snapshot":    optString("Snapshot of the source to clone from.", stringvalidator.RegexMatches(snapshotPattern, "must be a snapshot name")),
					"full":        optBool("Full copy (`true`, the default) or linked clone of a template (`false`)."),
					"storage":     optString("Target storage of a full clone; the source's storage when unset.", stringvalidator.RegexMatches(storageIDPattern, "must be a storage ID"), linkedCloneStorage{}),
				},
			},
			"rootfs": schema.SingleNestedBlock{
				MarkdownDescription: "Root file system. Growing `size` resizes in place; shrinking is refused; changing " +
					"`storage` replaces the container.",
				Attributes: map[string]schema.Attribute{
					"storage": keptString("Storage to allocate the volume on, e.g. `local-lvm`. A clone keeps its source's when unset.", stringvalidator.RegexMatches(storageIDPattern, "must be a storage ID such as local-lvm"), stringplanmodifier.RequiresReplaceIfConfigured()),
					"size":    keptString("Size with a unit, e.g. `8G` or `512M`. A clone keeps its source's when unset.", stringvalidator.RegexMatches(sizePattern, "must be a number with an optional unit K, M, G or T, e.g. 8G")),
					"volume": schema.StringAttribute{
						MarkdownDescription: "Volume ID Proxmox VE allocated, e.g. `local-lvm:vm-102-disk-0`.",
						Computed:            true,
						PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
					},
				},
			},
			"network": schema.ListNestedBlock{
				MarkdownDescription: "Network interfaces, in order: the first block is `net0`.",
				Validators:          []validator.List{listvalidator.SizeAtMost(32)},
				NestedObject: schema.NestedBlockObject{
					Attributes: map[string]schema.Attribute{
						"name": reqString("Interface name inside the container, e.g. `eth0`.", stringvalidator.RegexMatches(ifaceNamePattern, "must be an interface name of at most 15 characters")),
						"bridge": optString("Bridge on the host, e.g. `vmbr0`.",
							stringvalidator.RegexMatches(bridgePattern, "must be a bridge name such as vmbr0"), stringvalidator.LengthBetween(1, 15)),
						"ip":       optString("IPv4 address in CIDR form, `dhcp` or `manual`.", ipConfigCheck(false)),
						"gw":       optString("IPv4 gateway.", ipAddrCheck(false), gatewayNeedsAddress{addr: "ip"}),
						"ip6":      optString("IPv6 address in CIDR form, `auto`, `dhcp` or `manual`.", ipConfigCheck(true)),
						"gw6":      optString("IPv6 gateway.", ipAddrCheck(true), gatewayNeedsAddress{addr: "ip6"}),
						"hwaddr":   keptString("MAC address. Proxmox VE generates one when unset; it then stays stable.", stringvalidator.RegexMatches(macPattern, "must be a unicast MAC address such as BC:24:11:00:00:01")),
						"firewall": optBool("Apply the Proxmox VE firewall to this interface."),
						"vlan":     optInt64("VLAN tag (1 to 4094).", int64validator.Between(1, 4094)),
						"mtu":      optInt64("MTU (64 to 65535).", int64validator.Between(64, 65535)),
						"rate":     optFloat64("Rate limit in MB/s.", float64validator.AtLeast(0)),
					},
				},
			},
			"startup": schema.SingleNestedBlock{
				MarkdownDescription: "Boot order and delays, used with `start_on_boot`.",
				Attributes: map[string]schema.Attribute{
					"order":      optInt64("Position in the node's start order.", int64validator.AtLeast(0)),
					"up_delay":   optInt64("Seconds to wait after starting before starting the next guest.", int64validator.AtLeast(0)),
					"down_delay": optInt64("Seconds to wait for the container to stop at shutdown.", int64validator.AtLeast(0)),
				},
			},
			"mount_point": mountPointBlock(),
			"device":      deviceBlock(),
			"id_map":      idMapBlock(),
			"docker":      dockerBlock(),
			"ha":          haBlock(),
			"timeouts":    timeouts.Block(ctx, timeouts.Opts{Create: true, Update: true, Delete: true}),
		},
	}
}

// Element types of the list attributes, for building their values.
var (
	networkObjectType = types.ObjectType{AttrTypes: map[string]attr.Type{
		"name": types.StringType, "bridge": types.StringType, "ip": types.StringType, "gw": types.StringType,
		"ip6": types.StringType, "gw6": types.StringType, "hwaddr": types.StringType, "firewall": types.BoolType,
		"vlan": types.Int64Type, "mtu": types.Int64Type, "rate": types.Float64Type,
	}}
	lxcLineObjectType = types.ObjectType{AttrTypes: map[string]attr.Type{"key": types.StringType, "value": types.StringType}}
)

// networks returns the network blocks; nil when they are null or unknown
// (a dynamic block over a collection not known yet).
func (m *lxcContainerModel) networks(ctx context.Context) ([]networkModel, diag.Diagnostics) {
	return listElements[networkModel](ctx, m.Network)
}

func (m *lxcContainerModel) setNetworks(ctx context.Context, n []networkModel) diag.Diagnostics {
	if n == nil {
		n = []networkModel{}
	}
	v, diags := types.ListValueFrom(ctx, networkObjectType, n)
	m.Network = v
	return diags
}

// lxcLines returns the lxc_config lines; nil when null or unknown.
func (m *lxcContainerModel) lxcLines(ctx context.Context) ([]lxcLineModel, diag.Diagnostics) {
	return listElements[lxcLineModel](ctx, m.LXCConfig)
}

// listElements decodes the elements of a list; nil when it is null or
// unknown.
func listElements[T any](ctx context.Context, l types.List) ([]T, diag.Diagnostics) {
	if l.IsNull() || l.IsUnknown() {
		return nil, nil
	}
	// Objects into model structs without the framework's reflection, when
	// every element fits (see objectAs); else ElementsAs, which reports why.
	elems := l.Elements()
	out := make([]T, len(elems))
	for i, e := range elems {
		o, ok := e.(types.Object)
		if !ok || !objectAs(o, &out[i]) {
			out = nil
			diags := l.ElementsAs(ctx, &out, false)
			return out, diags
		}
	}
	return out, nil
}
