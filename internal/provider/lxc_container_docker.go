package provider

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-jsontypes/jsontypes"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/apparmor"
	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/docker"
	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/pve"
)

// dockerProfile is the AppArmor profile that a docker block runs its
// container under: EnsureProfile installs it on the node, its name goes to
// lxc.apparmor.profile and its hash to docker.apparmor_profile_sha256.
var dockerProfile = apparmor.DockerSecure

// apparmorGenerated names Proxmox VE's own profile, used when the
// configuration file carries no lxc.apparmor.profile line.
const apparmorGenerated = "generated"

type dockerModel struct {
	PackageSource    types.String         `tfsdk:"package_source"`
	Version          types.String         `tfsdk:"version"`
	Compose          types.Bool           `tfsdk:"compose"`
	StorageDriver    types.String         `tfsdk:"storage_driver"`
	DaemonJSON       jsontypes.Normalized `tfsdk:"daemon_json"`
	HealthChecks     *healthChecksModel   `tfsdk:"health_checks"`
	VerifyOnRefresh  types.Bool           `tfsdk:"verify_on_refresh"`
	InstalledVersion types.String         `tfsdk:"installed_version"`
	ServiceActive    types.Bool           `tfsdk:"service_active"`
	Tests            types.Map            `tfsdk:"tests"`
	AppArmorSHA256   types.String         `tfsdk:"apparmor_profile_sha256"`
}

type healthChecksModel struct {
	HelloWorld    types.Bool   `tfsdk:"hello_world"`
	NetworkTarget types.String `tfsdk:"network_target"`
}

func dockerBlock() schema.SingleNestedBlock {
	return schema.SingleNestedBlock{
		MarkdownDescription: "Docker inside the container. Its presence enforces the hardened AppArmor profile `" +
			dockerProfile.Name + "` (with `nesting`, and `keyctl` when unprivileged), installs Docker idempotently over SSH " +
			"(`pct exec` of `" + docker.InstallScriptName + "`), checks that the service is active and runs the tests " +
			"(service running, `hello-world`, network access). Removing the block restores Proxmox VE's profile and leaves Docker installed.",
		Attributes: map[string]schema.Attribute{
			"package_source": schema.StringAttribute{
				MarkdownDescription: "`docker-ce` (Docker's apt repository, the default) or `distro` (the OS's `docker.io`).",
				Optional:            true,
				Computed:            true,
				Default:             stringdefault.StaticString(docker.PackageSourceDockerCE),
				Validators:          []validator.String{stringvalidator.OneOf(docker.PackageSources()...)},
			},
			"version": schema.StringAttribute{
				MarkdownDescription: "Package version to pin, e.g. `27.3.1` or the full Debian version; the newest when unset.",
				Optional:            true,
				Validators:          []validator.String{checkWith("Invalid Docker version", "a package version", docker.ValidateVersion)},
			},
			"compose": schema.BoolAttribute{
				MarkdownDescription: "Install the Compose plugin. Defaults to `true`.",
				Optional:            true,
				Computed:            true,
				Default:             booldefault.StaticBool(true),
			},
			"storage_driver": schema.StringAttribute{
				MarkdownDescription: "`overlay2` (the default) or `fuse-overlayfs`, which needs `features.fuse = true`.",
				Optional:            true,
				Computed:            true,
				Default:             stringdefault.StaticString(docker.StorageDriverOverlay2),
				Validators:          []validator.String{stringvalidator.OneOf(docker.StorageDrivers()...)},
			},
			"daemon_json": schema.StringAttribute{
				MarkdownDescription: "Content of `/etc/docker/daemon.json` as JSON (`jsonencode({...})`); key order and white space never " +
					"cause a difference. The storage driver's setting is merged in; a conflicting `storage-driver` is an error. " +
					"A change restarts Docker without reinstalling it.",
				Optional:   true,
				CustomType: jsontypes.NormalizedType{},
			},
			"verify_on_refresh": schema.BoolAttribute{
				MarkdownDescription: "On refresh, check inside the container (one read-only `pct exec`) that Docker is installed and " +
					"active; a stopped or missing Docker then shows as a planned update that reruns the idempotent install. Defaults to `true`.",
				Optional: true,
				Computed: true,
				Default:  booldefault.StaticBool(true),
			},
			"installed_version": schema.StringAttribute{
				MarkdownDescription: "Docker version found after the install.",
				Computed:            true,
			},
			"service_active": schema.BoolAttribute{
				MarkdownDescription: "Whether the docker service was active when last checked.",
				Computed:            true,
			},
			"tests": schema.MapAttribute{
				MarkdownDescription: "Result of each test case (`" + strings.Join(docker.Cases(), "`, `") + "`): `passed`, `failed` or `skipped`.",
				Computed:            true,
				ElementType:         types.StringType,
			},
			"apparmor_profile_sha256": schema.StringAttribute{
				MarkdownDescription: "SHA-256 of the `" + dockerProfile.Name + "` profile this provider version ships. A provider " +
					"upgrade that changes the profile shows here in the plan and reinstalls it on apply.",
				Computed: true,
			},
		},
		Blocks: map[string]schema.Block{
			"health_checks": schema.SingleNestedBlock{
				MarkdownDescription: "What the tests check after the install.",
				Attributes: map[string]schema.Attribute{
					"hello_world": schema.BoolAttribute{
						MarkdownDescription: "Run `docker run --rm hello-world`. Defaults to `true`.",
						Optional:            true,
					},
					"network_target": schema.StringAttribute{
						MarkdownDescription: "Host or IP address a container pings to prove network access. Defaults to `" + docker.DefaultNetworkTarget + "`.",
						Optional:            true,
						Validators:          []validator.String{checkWith("Invalid network target", "a host name or IP address", docker.ValidateNetworkTarget)},
					},
				},
			},
		},
	}
}

// checkWith adapts a package's own check to a string validator, so that
// plan-time validation is the same code the scripts' arguments go through.
func checkWith(summary, desc string, f func(string) error) stringCheck {
	return stringCheck{summary: summary, desc: "must be " + desc, check: f}
}

// dockerOptions turns the block into the feature's options.
func dockerOptions(d *dockerModel) docker.Options {
	o := docker.DefaultOptions()
	if known(d.PackageSource) {
		o.PackageSource = d.PackageSource.ValueString()
	}
	if known(d.Version) {
		o.Version = d.Version.ValueString()
	}
	if known(d.Compose) {
		o.Compose = d.Compose.ValueBool()
	}
	if known(d.StorageDriver) {
		o.StorageDriver = d.StorageDriver.ValueString()
	}
	if known(d.DaemonJSON) {
		o.DaemonJSON = d.DaemonJSON.ValueString()
	}
	if d.HealthChecks != nil {
		if known(d.HealthChecks.HelloWorld) {
			o.HelloWorld = d.HealthChecks.HelloWorld.ValueBool()
		}
		if known(d.HealthChecks.NetworkTarget) {
			o.NetworkTarget = d.HealthChecks.NetworkTarget.ValueString()
		}
	}
	return o
}

// lxcKeyValidator accepts the raw keys Proxmox VE lets a configuration file
// carry, and points the keys it manages itself to their attributes.
type lxcKeyValidator struct{}

func (lxcKeyValidator) Description(context.Context) string {
	return "a raw lxc.* key that Proxmox VE accepts in a container's configuration file"
}

func (v lxcKeyValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

// lxcKeyOwners are raw keys the resource sets through other attributes.
var lxcKeyOwners = map[string]string{
	"lxc.apparmor.": "apparmor_profile (or the docker block)",
	"lxc.rootfs":    "the rootfs block",
	"lxc.uts.name":  "hostname",
	"lxc.utsname":   "hostname",
	"lxc.net.":      "the network blocks",
	"lxc.network.":  "the network blocks",
	"lxc.arch":      "the template (Proxmox VE sets it)",
}

// lxcKeyPrefixes are the keys Proxmox VE copies into the runtime
// configuration.
var lxcKeyPrefixes = []string{
	"lxc.autodev", "lxc.cap.drop", "lxc.cap.keep", "lxc.cgroup.", "lxc.cgroup2.", "lxc.console.", "lxc.environment",
	"lxc.hook.", "lxc.idmap", "lxc.init.", "lxc.log.", "lxc.mount.auto", "lxc.mount.entry", "lxc.mount.fstab",
	"lxc.namespace.", "lxc.prlimit.", "lxc.proc.", "lxc.pty.", "lxc.seccomp.", "lxc.signal.", "lxc.start.",
	"lxc.sysctl.", "lxc.tty.", "lxc.keyring.", "lxc.time.",
}

func checkLXCKey(key string) error {
	if !strings.HasPrefix(key, "lxc.") {
		return fmt.Errorf("%q is not a raw LXC key: they start with lxc. (Proxmox VE settings have attributes of their own)", key)
	}
	for prefix, owner := range lxcKeyOwners {
		if strings.HasPrefix(key, prefix) {
			return fmt.Errorf("%s is managed through %s, not lxc_config", key, owner)
		}
	}
	for _, p := range lxcKeyPrefixes {
		if key == strings.TrimSuffix(p, ".") || strings.HasPrefix(key, p) {
			if strings.ContainsAny(key, " \t:=") {
				break
			}
			return nil
		}
	}
	return fmt.Errorf("%s is not a key Proxmox VE accepts in a container's configuration file", key)
}

func (lxcKeyValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if err := checkLXCKey(req.ConfigValue.ValueString()); err != nil {
		// Terraform cannot point at an element of a list attribute, so the
		// message names it.
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid lxc_config key", fmt.Sprintf("%s (at %s).", err, req.Path))
	}
}

// Features as an object value.

var featuresAttrTypes = map[string]attr.Type{
	"nesting": types.BoolType, "keyctl": types.BoolType, "fuse": types.BoolType, "mknod": types.BoolType,
	"mount": types.SetType{ElemType: types.StringType},
}

// featuresValue holds the features with unknowns marked.
type featuresValue struct {
	Nesting, Keyctl, Fuse, Mknod types.Bool
	Mount                        types.Set
}

func readFeatures(obj types.Object) featuresValue {
	var f featuresValue
	f.Nesting, f.Keyctl, f.Fuse, f.Mknod = types.BoolNull(), types.BoolNull(), types.BoolNull(), types.BoolNull()
	f.Mount = types.SetNull(types.StringType)
	if obj.IsNull() || obj.IsUnknown() {
		return f
	}
	attrs := obj.Attributes()
	get := func(name string) types.Bool {
		if v, ok := attrs[name].(types.Bool); ok {
			return v
		}
		return types.BoolNull()
	}
	f.Nesting, f.Keyctl, f.Fuse, f.Mknod = get("nesting"), get("keyctl"), get("fuse"), get("mknod")
	if m, ok := attrs["mount"].(types.Set); ok {
		f.Mount = m
	}
	return f
}

func (f featuresValue) object() (types.Object, diag.Diagnostics) {
	return types.ObjectValue(featuresAttrTypes, map[string]attr.Value{
		"nesting": f.Nesting, "keyctl": f.Keyctl, "fuse": f.Fuse, "mknod": f.Mknod, "mount": f.Mount,
	})
}

// complete replaces nulls by the Proxmox VE default (off).
func (f featuresValue) complete() featuresValue {
	def := func(b types.Bool) types.Bool {
		if b.IsNull() {
			return types.BoolValue(false)
		}
		return b
	}
	f.Nesting, f.Keyctl, f.Fuse, f.Mknod = def(f.Nesting), def(f.Keyctl), def(f.Fuse), def(f.Mknod)
	if f.Mount.IsNull() {
		f.Mount = types.SetValueMust(types.StringType, []attr.Value{})
	}
	return f
}

func (f featuresValue) known() bool {
	return !f.Nesting.IsUnknown() && !f.Keyctl.IsUnknown() && !f.Fuse.IsUnknown() && !f.Mknod.IsUnknown() && !f.Mount.IsUnknown()
}

// pveString renders the features as Proxmox VE writes them.
func (f featuresValue) pveString(ctx context.Context) (string, diag.Diagnostics) {
	var diags diag.Diagnostics
	pf := pve.Features{Nesting: f.Nesting.ValueBool(), Keyctl: f.Keyctl.ValueBool(), Fuse: f.Fuse.ValueBool(), Mknod: f.Mknod.ValueBool()}
	if known(f.Mount) {
		diags.Append(f.Mount.ElementsAs(ctx, &pf.Mount, false)...)
		sort.Strings(pf.Mount)
	}
	return pf.String(), diags
}

// featuresFromPVE maps Proxmox VE's features onto a complete value.
func featuresFromPVE(pf pve.Features) featuresValue {
	mounts := make([]attr.Value, 0, len(pf.Mount))
	for _, m := range pf.Mount {
		mounts = append(mounts, types.StringValue(m))
	}
	return featuresValue{
		Nesting: types.BoolValue(pf.Nesting), Keyctl: types.BoolValue(pf.Keyctl),
		Fuse: types.BoolValue(pf.Fuse), Mknod: types.BoolValue(pf.Mknod),
		Mount: types.SetValueMust(types.StringType, mounts),
	}
}
