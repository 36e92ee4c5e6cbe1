package provider

import (
	"context"
	"sync"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/function"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/docker"
	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/phoenixcfg"
)

var _ function.Function = &LXCConfigsFunction{}

// LXCConfigsFunction is the provider-defined function lxc_configs: it reads a
// Phoenix Hypervisor phoenix_lxc_configs.json document and returns, for each
// container, the arguments of a phoenix_lxc_container resource. The reading
// and the rules are internal/phoenixcfg's; this file turns its result into
// Terraform values.
type LXCConfigsFunction struct{}

// NewLXCConfigsFunction returns the lxc_configs provider-defined function.
func NewLXCConfigsFunction() function.Function { return &LXCConfigsFunction{} }

// Metadata returns the function name.
func (f *LXCConfigsFunction) Metadata(_ context.Context, _ function.MetadataRequest, resp *function.MetadataResponse) {
	resp.Name = "lxc_configs"
}

// Definition returns the parameter and the return type.
func (f *LXCConfigsFunction) Definition(_ context.Context, _ function.DefinitionRequest, resp *function.DefinitionResponse) {
	resp.Definition = function.Definition{
		Summary: "Convert a Phoenix Hypervisor phoenix_lxc_configs.json document into phoenix_lxc_container arguments",
		MarkdownDescription: "Validates a `phoenix_lxc_configs.json` document of the Phoenix Hypervisor scripts and returns a map " +
			"keyed by CTID (a string, as in the file) whose values hold the arguments of a `phoenix_lxc_container`, so that " +
			"the file can stay the single source of truth with `for_each`. It needs no reachable cluster.\n\n" +
			"Each value is an object with `ctid` (number), `unmapped` (list of strings) and one attribute per resource " +
			"argument, of the argument's type (every argument but `password`, `ssh_public_keys` and `timeouts`). An " +
			"attribute the document does not set is `null`, so the resource's default applies; `node_name` is always " +
			"`null` (the file does not name nodes).\n\n" +
			"Mapping: `name` → `hostname`; `memory_mb` → `memory`; `swap_mb` → `swap`; `cores` → `cores`; " +
			"`storage_pool`, `storage_size_gb` → `rootfs { storage, size = \"<n>G\" }`; `network_config` and `mac_address` → " +
			"`network[0] { name, bridge, ip, gw, hwaddr }`, with `firewall.enabled` → `network[0].firewall`; " +
			"`template` → `template` (verbatim: a file path must be changed into a `storage:vztmpl/...` volume); " +
			"`clone_from_ctid` → `clone.source_vmid`, and the source's `template_snapshot_name` → `clone.snapshot`; " +
			"`unprivileged` → `unprivileged`; `apparmor_profile` → `apparmor_profile`; `lxc_options` (`lxc.key=value` or " +
			"`lxc.key: value`) → `lxc_config { key, value }`, except `lxc.apparmor.*` lines, which belong to `apparmor_profile`: " +
			"`lxc.apparmor.profile` with the value of `apparmor_profile` is covered by it, any other is listed in `unmapped`; `pct_options` feature flags (`nesting=1`, `keyctl=1`, `fuse=1`, " +
			"`mknod=1`, `mount=nfs;cifs`) → `features`; `start_at_boot` → `start_on_boot`; `boot_order`, `boot_delay` → " +
			"`startup { order, up_delay }`; the feature `docker` → a `docker` object with the block's defaults, whose " +
			"`health_checks.hello_world` is `false` only when `tests.integration_tests` lists no `test_docker_hello_world.sh`.\n\n" +
			"Nothing is dropped silently: every field without a counterpart (`gpu_assignment`, `portainer_role`, `ports`, " +
			"`volumes`, `dependencies`, `firewall.rules`, features other than `docker`, `vllm_*`, the container's own " +
			"`template_snapshot_name`, fields the schema does not know, ...) is listed in `unmapped` as " +
			"`<path>: <JSON value>`, e.g. `gpu_assignment: \"0\"`. For a Docker container the `tests` entries running " +
			"`check_docker_service.sh`, `check_network_access.sh` and `test_docker_hello_world.sh` are covered by the " +
			"docker block's own checks; the other entries are listed.\n\n" +
			"Validation follows the document's JSON schema for structure and types (an error names the CTID and the JSON " +
			"path, e.g. `lxc_configs[\"950\"].memory_mb: expected an integer, got \"2G\"`), the schema's required fields, " +
			"and the value rules of every field that reaches a resource argument. Fields that reach no argument are only " +
			"type-checked, and unknown fields and feature names are listed in `unmapped` rather than refused, as real " +
			"files carry them. An empty `lxc_options` is returned as `null`.",
		Parameters: []function.Parameter{
			function.StringParameter{
				Name:                "json",
				MarkdownDescription: "Text of a `phoenix_lxc_configs.json` document, e.g. `file(\"phoenix_lxc_configs.json\")`.",
			},
		},
		Return: function.MapReturn{ElementType: lxcConfigsEntryType()},
	}
}

// Run validates the document and returns the converted containers.
func (f *LXCConfigsFunction) Run(ctx context.Context, req function.RunRequest, resp *function.RunResponse) {
	var doc string
	resp.Error = req.Arguments.Get(ctx, &doc)
	if resp.Error != nil {
		return
	}
	containers, err := phoenixcfg.Convert([]byte(doc))
	if err != nil {
		resp.Error = function.NewArgumentFuncError(0, err.Error())
		return
	}
	entries := make(map[string]attr.Value, len(containers))
	var diags diag.Diagnostics
	for id, c := range containers {
		e, d := lxcConfigsEntry(ctx, c)
		diags.Append(d...)
		if d.HasError() {
			continue
		}
		obj, d := lxcConfigsEntryObject(ctx, e)
		diags.Append(d...)
		entries[id] = obj
	}
	if diags.HasError() {
		resp.Error = function.FuncErrorFromDiags(ctx, diags)
		return
	}
	result, diags := types.MapValue(lxcConfigsEntryType(), entries)
	if diags.HasError() {
		resp.Error = function.FuncErrorFromDiags(ctx, diags)
		return
	}
	resp.Error = resp.Result.Set(ctx, result)
}

// lxcConfigsEntryModel is one element of the function's result. Every
// attribute but ctid and unmapped is named after, and has the type of, the
// phoenix_lxc_container argument it feeds, and uses the resource's model
// where the whole argument is returned; null means the document does not
// set it. The zero value of a types.String, Bool, Int64 or Float64 is null.
type lxcConfigsEntryModel struct {
	CTID            types.Int64    `tfsdk:"ctid"`
	NodeName        types.String   `tfsdk:"node_name"`
	VMID            types.Int64    `tfsdk:"vmid"`
	Template        types.String   `tfsdk:"template"`
	Clone           *cloneModel    `tfsdk:"clone"`
	Hostname        types.String   `tfsdk:"hostname"`
	Description     types.String   `tfsdk:"description"`
	Tags            types.Set      `tfsdk:"tags"`
	Unprivileged    types.Bool     `tfsdk:"unprivileged"`
	OSType          types.String   `tfsdk:"os_type"`
	Cores           types.Int64    `tfsdk:"cores"`
	CPULimit        types.Float64  `tfsdk:"cpu_limit"`
	CPUUnits        types.Int64    `tfsdk:"cpu_units"`
	Memory          types.Int64    `tfsdk:"memory"`
	Swap            types.Int64    `tfsdk:"swap"`
	RootFS          types.Object   `tfsdk:"rootfs"`
	Network         []networkModel `tfsdk:"network"`
	Nameserver      types.String   `tfsdk:"nameserver"`
	Searchdomain    types.String   `tfsdk:"searchdomain"`
	Features        types.Object   `tfsdk:"features"`
	StartOnBoot     types.Bool     `tfsdk:"start_on_boot"`
	Startup         *startupModel  `tfsdk:"startup"`
	Started         types.Bool     `tfsdk:"started"`
	Protection      types.Bool     `tfsdk:"protection"`
	ApparmorProfile types.String   `tfsdk:"apparmor_profile"`
	LXCConfig       []lxcLineModel `tfsdk:"lxc_config"`
	Docker          types.Object   `tfsdk:"docker"`
	Unmapped        []string       `tfsdk:"unmapped"`
}

// The result's rootfs and docker are the resource's blocks without their
// computed-only attributes (rootfs.volume; docker.installed_version,
// service_active, tests and apparmor_profile_sha256).
var (
	lxcConfigsRootFSType       = types.ObjectType{AttrTypes: map[string]attr.Type{"storage": types.StringType, "size": types.StringType}}
	lxcConfigsHealthChecksType = types.ObjectType{AttrTypes: map[string]attr.Type{"hello_world": types.BoolType, "network_target": types.StringType}}
	lxcConfigsDockerType       = types.ObjectType{AttrTypes: map[string]attr.Type{
		"package_source": types.StringType, "version": types.StringType, "compose": types.BoolType,
		"storage_driver": types.StringType, "daemon_json": types.StringType, "health_checks": lxcConfigsHealthChecksType,
		"verify_on_refresh": types.BoolType,
	}}
)

// lxcConfigsEntryType is the static type of one element of the result: the
// mapped arguments of lxcConfigsMappedType, and every other setting of the
// settings table with its attribute's type (null: the document does not set
// it), so that a new setting joins the result without an edit here.
var lxcConfigsEntryType = sync.OnceValue(func() types.ObjectType {
	s := lxcContainerSchema(context.Background())
	out := map[string]attr.Type{}
	for k, v := range lxcConfigsMappedType().AttrTypes {
		out[k] = v
	}
	for _, st := range containerSettings {
		if _, ok := out[st.attr]; ok {
			continue
		}
		if a, ok := s.Attributes[st.attr]; ok {
			out[st.attr] = a.GetType()
		}
	}
	return types.ObjectType{AttrTypes: out}
})

// lxcConfigsEntryObject is an element of the result: the mapped arguments
// and null for the other settings.
func lxcConfigsEntryObject(ctx context.Context, e lxcConfigsEntryModel) (types.Object, diag.Diagnostics) {
	mapped, diags := types.ObjectValueFrom(ctx, lxcConfigsMappedType().AttrTypes, e)
	if diags.HasError() {
		return types.Object{}, diags
	}
	attrs := mapped.Attributes()
	for name, typ := range lxcConfigsEntryType().AttrTypes {
		if _, ok := attrs[name]; ok {
			continue
		}
		null, err := typ.ValueFromTerraform(ctx, tftypes.NewValue(typ.TerraformType(ctx), nil))
		if err != nil {
			diags.AddError("lxc_configs result", err.Error())
			continue
		}
		attrs[name] = null
	}
	obj, d := types.ObjectValue(lxcConfigsEntryType().AttrTypes, attrs)
	diags.Append(d...)
	return obj, diags
}

// lxcConfigsMappedType is the type of the arguments the conversion sets.
// The arguments returned whole (clone, network, features, startup,
// lxc_config) take their types from the resource's schema.
var lxcConfigsMappedType = sync.OnceValue(func() types.ObjectType {
	s := lxcContainerSchema(context.Background())
	str, num, flt, boolean := types.StringType, types.Int64Type, types.Float64Type, types.BoolType
	return types.ObjectType{AttrTypes: map[string]attr.Type{
		"ctid":             num,
		"node_name":        str,
		"vmid":             num,
		"template":         str,
		"clone":            s.Blocks["clone"].Type(),
		"hostname":         str,
		"description":      str,
		"tags":             types.SetType{ElemType: str},
		"unprivileged":     boolean,
		"os_type":          str,
		"cores":            num,
		"cpu_limit":        flt,
		"cpu_units":        num,
		"memory":           num,
		"swap":             num,
		"rootfs":           lxcConfigsRootFSType,
		"network":          s.Blocks["network"].Type(),
		"nameserver":       str,
		"searchdomain":     str,
		"features":         s.Attributes["features"].GetType(),
		"start_on_boot":    boolean,
		"startup":          s.Blocks["startup"].Type(),
		"started":          boolean,
		"protection":       boolean,
		"apparmor_profile": str,
		"lxc_config":       s.Attributes["lxc_config"].GetType(),
		"docker":           lxcConfigsDockerType,
		"unmapped":         types.ListType{ElemType: str},
	}}
})

// lxcConfigsEntry turns a converted container into the function's element:
// what the document leaves unset is null, and a docker block holds the
// block's defaults (internal/docker) but for hello_world.
func lxcConfigsEntry(ctx context.Context, c phoenixcfg.Container) (lxcConfigsEntryModel, diag.Diagnostics) {
	var diags diag.Diagnostics
	e := lxcConfigsEntryModel{
		CTID:         types.Int64Value(c.CTID),
		VMID:         types.Int64Value(c.CTID),
		Template:     types.StringPointerValue(c.Template),
		Hostname:     types.StringValue(c.Hostname),
		Tags:         types.SetNull(types.StringType),
		Unprivileged: types.BoolValue(c.Unprivileged),
		Cores:        types.Int64Value(c.Cores),
		Memory:       types.Int64Value(c.Memory),
		Swap:         types.Int64PointerValue(c.Swap),
		RootFS: types.ObjectValueMust(lxcConfigsRootFSType.AttrTypes, map[string]attr.Value{
			"storage": types.StringValue(c.RootFS.Storage), "size": types.StringValue(c.RootFS.Size),
		}),
		Network: []networkModel{{
			Name: types.StringValue(c.Network.Name), Bridge: types.StringValue(c.Network.Bridge),
			IP: types.StringValue(c.Network.IP), Gw: types.StringValue(c.Network.Gw),
			HWAddr: types.StringPointerValue(c.Network.HWAddr), Firewall: types.BoolPointerValue(c.Network.Firewall),
		}},
		Features:        types.ObjectNull(featuresAttrTypes),
		StartOnBoot:     types.BoolPointerValue(c.StartOnBoot),
		ApparmorProfile: types.StringValue(c.ApparmorProfile),
		Docker:          types.ObjectNull(lxcConfigsDockerType.AttrTypes),
		Unmapped:        c.Unmapped,
	}
	if c.Clone != nil {
		e.Clone = &cloneModel{SourceVMID: types.Int64Value(c.Clone.SourceVMID), Snapshot: types.StringPointerValue(c.Clone.Snapshot)}
	}
	if f := c.Features; f != nil {
		mount := types.SetNull(types.StringType)
		if f.Mount != nil {
			var d diag.Diagnostics
			mount, d = types.SetValueFrom(ctx, types.StringType, f.Mount)
			diags.Append(d...)
		}
		var d diag.Diagnostics
		e.Features, d = featuresValue{
			Nesting: types.BoolPointerValue(f.Nesting), Keyctl: types.BoolPointerValue(f.Keyctl),
			Fuse: types.BoolPointerValue(f.Fuse), Mknod: types.BoolPointerValue(f.Mknod), Mount: mount,
		}.object()
		diags.Append(d...)
	}
	if c.Startup != nil {
		e.Startup = &startupModel{Order: types.Int64PointerValue(c.Startup.Order), UpDelay: types.Int64PointerValue(c.Startup.UpDelay)}
	}
	for _, l := range c.LXCConfig {
		e.LXCConfig = append(e.LXCConfig, lxcLineModel{Key: types.StringValue(l.Key), Value: types.StringValue(l.Value)})
	}
	if c.Docker != nil {
		def := docker.DefaultOptions()
		var d diag.Diagnostics
		e.Docker, d = types.ObjectValue(lxcConfigsDockerType.AttrTypes, map[string]attr.Value{
			"package_source": types.StringValue(def.PackageSource),
			"version":        types.StringNull(),
			"compose":        types.BoolValue(def.Compose),
			"storage_driver": types.StringValue(def.StorageDriver),
			"daemon_json":    types.StringNull(),
			"health_checks": types.ObjectValueMust(lxcConfigsHealthChecksType.AttrTypes, map[string]attr.Value{
				"hello_world": types.BoolValue(c.Docker.HelloWorld), "network_target": types.StringValue(def.NetworkTarget),
			}),
			"verify_on_refresh": types.BoolNull(),
		})
		diags.Append(d...)
	}
	return e, diags
}
