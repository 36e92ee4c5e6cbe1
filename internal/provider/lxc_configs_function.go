package provider

import (
	"context"
	"sync"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/function"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
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
			"`lxc.apparmor.profile` with the value of `apparmor_profile` is covered by it, any other is listed in `unmapped`; " +
			"and `lxc.idmap` lines, which become `id_map` entries; `id_maps` (`{ type = uid|gid, container_id, host_id, size }`, " +
			"exceptions to Proxmox VE's default map) → `id_map` entries, each kind completed with the default offset " +
			"(container ID + 100000) around its exceptions, e.g. gid 33 on 33 gives `gid 0-32 → 100000`, `gid 33 → 33`, " +
			"`gid 34-65535 → 100034`, and a kind without exceptions `0-65535 → 100000`; `pct_options` feature flags (`nesting=1`, `keyctl=1`, `fuse=1`, " +
			"`mknod=1`, `mount=nfs;cifs`, or `--features ...`) → `features`; `start_at_boot` (or the `pct_options` entry `--onboot 1`) → " +
			"`start_on_boot`; `boot_order`, `boot_delay` (or `--startup order=N,up=N,down=N`) → `startup { order, up_delay, down_delay }`, " +
			"where the document's own fields decide over a `pct_options` entry that says otherwise (which is then listed in `unmapped`); the feature `docker` → a `docker` object with the block's defaults, whose " +
			"`health_checks.hello_world` is `false` only when `tests.integration_tests` lists no `test_docker_hello_world.sh`.\n\n" +
			"`volumes` and `zfs_volumes` → `mount_point` entries (a new volume of `size_gb` on `pool` at `mount_point`, slots in " +
			"order); `gpu_assignment` (`\"0,1\"`) → `device` entries `/dev/nvidia0`, `/dev/nvidia1`, `/dev/nvidiactl`, " +
			"`/dev/nvidia-uvm`, `/dev/nvidia-uvm-tools` (the driver and the container's libraries stay Phoenix's, so the " +
			"field is listed in `unmapped` too). A clone without `unprivileged` takes its source's (said in `unmapped`); " +
			"`portainer_role` and `apparmor_manages_nesting` may be absent.\n\n" +
			"Nothing is dropped silently: every field without a counterpart (`portainer_role`, `ports`, the volumes' `name`, " +
			"`dependencies`, `firewall.rules`, features other than `docker`, `vllm_*`, the container's own " +
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
		obj, d := lxcConfigsEntry(ctx, c)
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

// lxcConfigsNotFed are the resource's arguments that a document does not
// feed: secrets set at creation, and the framework's timeouts block.
var lxcConfigsNotFed = map[string]bool{"password": true, "ssh_public_keys": true, "timeouts": true}

// lxcConfigsEntryType is the static type of one element of the result: ctid,
// unmapped, and every argument of phoenix_lxc_container but lxcConfigsNotFed
// with the resource's type, less the computed-only attributes (rootfs.volume;
// the docker block's results and read-back values). A new argument joins the
// result without an edit
// here; the document leaves it null.
var lxcConfigsEntryType = sync.OnceValue(func() types.ObjectType {
	s := lxcContainerSchema(context.Background())
	attrs := map[string]schema.Attribute{}
	for name, a := range s.Attributes {
		if !lxcConfigsNotFed[name] {
			attrs[name] = a
		}
	}
	blocks := map[string]schema.Block{}
	for name, b := range s.Blocks {
		if !lxcConfigsNotFed[name] {
			blocks[name] = b
		}
	}
	t := argumentsType(attrs, blocks)
	t.AttrTypes["ctid"] = types.Int64Type
	t.AttrTypes["unmapped"] = types.ListType{ElemType: types.StringType}
	return t
})

// argumentsType is the object type of the arguments among attrs and blocks:
// computed-only attributes are left out, at every level.
func argumentsType(attrs map[string]schema.Attribute, blocks map[string]schema.Block) types.ObjectType {
	out := map[string]attr.Type{}
	for name, a := range attrs {
		if !a.IsComputed() || a.IsOptional() || a.IsRequired() {
			out[name] = a.GetType()
		}
	}
	for name, b := range blocks {
		switch b := b.(type) {
		case schema.SingleNestedBlock:
			out[name] = argumentsType(b.Attributes, b.Blocks)
		case schema.ListNestedBlock:
			out[name] = types.ListType{ElemType: argumentsType(b.NestedObject.Attributes, b.NestedObject.Blocks)}
		default:
			out[name] = b.Type()
		}
	}
	return types.ObjectType{AttrTypes: out}
}

// attrsOf is the attribute types of an object type; nil for another type.
func attrsOf(t attr.Type) map[string]attr.Type {
	if o, ok := t.(types.ObjectType); ok {
		return o.AttrTypes
	}
	return nil
}

// objectOf is an object with attrTypes holding vals, and null for every
// attribute vals lacks.
func objectOf(ctx context.Context, attrTypes map[string]attr.Type, vals map[string]attr.Value) (types.Object, diag.Diagnostics) {
	var diags diag.Diagnostics
	attrs := make(map[string]attr.Value, len(attrTypes))
	for name, t := range attrTypes {
		if v, ok := vals[name]; ok {
			attrs[name] = v
			continue
		}
		null, err := t.ValueFromTerraform(ctx, tftypes.NewValue(t.TerraformType(ctx), nil))
		if err != nil {
			diags.AddError("lxc_configs result", err.Error())
			continue
		}
		attrs[name] = null
	}
	obj, d := types.ObjectValue(attrTypes, attrs)
	diags.Append(d...)
	return obj, diags
}

// lxcConfigsEntry turns a converted container into the function's element,
// built with the resource's models: what the document leaves unset is null,
// and a docker block holds the block's defaults (internal/docker) but for
// hello_world.
func lxcConfigsEntry(ctx context.Context, c phoenixcfg.Container) (types.Object, diag.Diagnostics) {
	t := lxcConfigsEntryType().AttrTypes
	var diags diag.Diagnostics
	v := map[string]attr.Value{
		"ctid":             types.Int64Value(c.CTID),
		"vmid":             types.Int64Value(c.CTID),
		"template":         types.StringPointerValue(c.Template),
		"hostname":         types.StringValue(c.Hostname),
		"unprivileged":     types.BoolValue(c.Unprivileged),
		"cores":            types.Int64Value(c.Cores),
		"memory":           types.Int64Value(c.Memory),
		"swap":             types.Int64PointerValue(c.Swap),
		"start_on_boot":    types.BoolPointerValue(c.StartOnBoot),
		"apparmor_profile": types.StringValue(c.ApparmorProfile),
	}
	set := func(name string) func(attr.Value, diag.Diagnostics) {
		return func(val attr.Value, d diag.Diagnostics) {
			diags.Append(d...)
			v[name] = val
		}
	}
	set("unmapped")(types.ListValueFrom(ctx, types.StringType, c.Unmapped))
	set("rootfs")(objectOf(ctx, attrsOf(t["rootfs"]), map[string]attr.Value{
		"storage": types.StringValue(c.RootFS.Storage), "size": types.StringValue(c.RootFS.Size),
	}))
	set("network")(types.ListValueFrom(ctx, networkObjectType, []networkModel{{
		Name: types.StringValue(c.Network.Name), Bridge: types.StringValue(c.Network.Bridge),
		IP: types.StringValue(c.Network.IP), Gw: types.StringValue(c.Network.Gw),
		HWAddr: types.StringPointerValue(c.Network.HWAddr), Firewall: types.BoolPointerValue(c.Network.Firewall),
	}}))
	if c.Clone != nil {
		set("clone")(types.ObjectValueFrom(ctx, attrsOf(t["clone"]),
			cloneModel{SourceVMID: types.Int64Value(c.Clone.SourceVMID), Snapshot: types.StringPointerValue(c.Clone.Snapshot)}))
	}
	if f := c.Features; f != nil {
		mount := types.SetNull(types.StringType)
		if f.Mount != nil {
			var d diag.Diagnostics
			mount, d = types.SetValueFrom(ctx, types.StringType, f.Mount)
			diags.Append(d...)
		}
		set("features")(featuresValue{
			Nesting: types.BoolPointerValue(f.Nesting), Keyctl: types.BoolPointerValue(f.Keyctl),
			Fuse: types.BoolPointerValue(f.Fuse), Mknod: types.BoolPointerValue(f.Mknod), Mount: mount,
		}.object())
	}
	if c.Startup != nil {
		set("startup")(types.ObjectValueFrom(ctx, attrsOf(t["startup"]),
			startupModel{Order: types.Int64PointerValue(c.Startup.Order), UpDelay: types.Int64PointerValue(c.Startup.UpDelay),
				DownDelay: types.Int64PointerValue(c.Startup.DownDelay)}))
	}
	var lines []lxcLineModel
	for _, l := range c.LXCConfig {
		lines = append(lines, lxcLineModel{Key: types.StringValue(l.Key), Value: types.StringValue(l.Value)})
	}
	set("lxc_config")(types.ListValueFrom(ctx, lxcLineObjectType, lines))
	if len(c.IDMap) > 0 {
		maps := make([]idMapModel, 0, len(c.IDMap))
		for _, m := range c.IDMap {
			maps = append(maps, idMapModel{Kind: types.StringValue(m.Kind), ContainerID: types.Int64Value(m.ContainerID),
				HostID: types.Int64Value(m.HostID), Size: types.Int64Value(m.Size)})
		}
		set("id_map")(types.ListValueFrom(ctx, idMapObjectType, maps))
	}
	if len(c.MountPoints) > 0 {
		var mps []mountPointModel
		for _, mp := range c.MountPoints {
			mps = append(mps, mountPointModel{
				Slot: types.Int64Value(mp.Slot), Path: types.StringValue(mp.Path), Storage: types.StringValue(mp.Storage),
				Size: types.StringValue(mp.Size), Volume: types.StringNull(), ReadOnly: types.BoolNull(), Backup: types.BoolNull(),
				ACL: types.BoolNull(), Quota: types.BoolNull(), Replicate: types.BoolNull(), Shared: types.BoolNull(),
				MountOptions: types.SetNull(types.StringType),
			})
		}
		set("mount_point")(types.ListValueFrom(ctx, mountPointObjectType, mps))
	}
	if len(c.Devices) > 0 {
		var devs []deviceModel
		for _, d := range c.Devices {
			devs = append(devs, deviceModel{Slot: types.Int64Value(d.Slot), Path: types.StringValue(d.Path), Mode: types.StringNull(),
				UID: types.Int64Null(), GID: types.Int64Null(), DenyWrite: types.BoolNull()})
		}
		set("device")(types.ListValueFrom(ctx, deviceObjectType, devs))
	}
	if c.Docker != nil {
		def := docker.DefaultOptions()
		dt := attrsOf(t["docker"])
		checks, d := objectOf(ctx, attrsOf(dt["health_checks"]), map[string]attr.Value{
			"hello_world": types.BoolValue(c.Docker.HelloWorld), "network_target": types.StringValue(def.Tests.NetworkTarget),
			"hello_world_image": types.StringValue(def.Tests.HelloWorldImage), "network_image": types.StringValue(docker.DefaultNetworkImage),
		})
		diags.Append(d...)
		set("docker")(objectOf(ctx, dt, map[string]attr.Value{
			"package_source": types.StringValue(def.PackageSource),
			"compose":        types.BoolValue(def.Compose),
			"storage_driver": types.StringValue(def.StorageDriver),
			"health_checks":  checks,
		}))
	}
	if diags.HasError() {
		return types.Object{}, diags
	}
	return objectOf(ctx, t, v)
}
