package provider

import (
	"context"
	"fmt"
	"reflect"
	"sort"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	dschema "github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	rschema "github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

var (
	_ datasource.DataSource              = &lxcContainerDataSource{}
	_ datasource.DataSourceWithConfigure = &lxcContainerDataSource{}
)

// NewLXCContainerDataSource returns the phoenix_lxc_container data source.
func NewLXCContainerDataSource() datasource.DataSource { return &lxcContainerDataSource{} }

// The data source reads a container the way the resource does: its schema is
// the resource's readable attributes, computed and in the same shapes, and
// Read fills them with the resource's own mapping (applyConfig). A new
// attribute of the resource appears here without an edit; one that cannot
// be read back is listed in notInDataSource with the reason.

// notInDataSource are the resource attributes the data source leaves out.
var notInDataSource = map[string]string{
	"template":         "Proxmox VE keeps no record of the template a container was created from",
	"clone":            "Proxmox VE keeps no record of a clone's source",
	"password":         "write-only",
	"ssh_public_keys":  "Proxmox VE keeps no record of them",
	"apparmor_profile": "an input; effective_apparmor_profile is what the container runs under",
	"docker":           "needs SSH into the container; the data source reads the API only",
	"started":          "the data source reports status instead",
	"timeouts":         "a setting of the resource's operations",
	"wait_for_ip":      "an option of the resource's create",
	"allow_lxc_hooks":  "an opt-in of the resource's plan",
	"ha":               "needs Sys.Audit on /, which the documented role does not hold",
}

// dataSourceOwn are the data source's attributes of its own.
var dataSourceOwn = map[string]dschema.Attribute{
	"id": dschema.StringAttribute{MarkdownDescription: "`<node_name>/<vmid>`.", Computed: true},
	"node_name": dschema.StringAttribute{
		MarkdownDescription: "Node of the container; looked up in the cluster when omitted.",
		Optional:            true,
		Computed:            true,
		Validators:          []validator.String{stringvalidator.RegexMatches(nodeNamePattern, "must be a Proxmox VE node name")},
	},
	"vmid": dschema.Int64Attribute{
		MarkdownDescription: "Container ID.",
		Required:            true,
		Validators:          []validator.Int64{int64validator.Between(100, 999999999)},
	},
	"status": dschema.StringAttribute{MarkdownDescription: "`running` or `stopped`.", Computed: true},
}

type lxcContainerDataSource struct {
	data *providerData
}

func (d *lxcContainerDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_lxc_container"
}

// dataSourceSchema builds the data source's schema from the resource's.
func dataSourceSchema(ctx context.Context) dschema.Schema {
	rs := lxcContainerSchema(ctx)
	attrs := map[string]dschema.Attribute{}
	for name, a := range dataSourceOwn {
		attrs[name] = a
	}
	for name, a := range rs.Attributes {
		if _, own := attrs[name]; !own && notInDataSource[name] == "" {
			attrs[name] = computedAttr(a)
		}
	}
	for name, b := range rs.Blocks {
		if notInDataSource[name] == "" {
			attrs[name] = computedBlock(b)
		}
	}
	return dschema.Schema{
		MarkdownDescription: "Reads an existing LXC container: its configuration as Proxmox VE reports it, in the shapes of the " +
			"`phoenix_lxc_container` resource's attributes, and whether it runs.",
		Attributes: attrs,
	}
}

// computedAttr is a resource attribute as a computed data source attribute.
func computedAttr(a rschema.Attribute) dschema.Attribute {
	desc := a.GetMarkdownDescription()
	switch a := a.(type) {
	case rschema.StringAttribute:
		return dschema.StringAttribute{MarkdownDescription: desc, Computed: true, Sensitive: a.Sensitive}
	case rschema.Int64Attribute:
		return dschema.Int64Attribute{MarkdownDescription: desc, Computed: true}
	case rschema.Float64Attribute:
		return dschema.Float64Attribute{MarkdownDescription: desc, Computed: true}
	case rschema.BoolAttribute:
		return dschema.BoolAttribute{MarkdownDescription: desc, Computed: true}
	case rschema.SetAttribute:
		return dschema.SetAttribute{MarkdownDescription: desc, Computed: true, ElementType: a.ElementType}
	case rschema.ListAttribute:
		return dschema.ListAttribute{MarkdownDescription: desc, Computed: true, ElementType: a.ElementType}
	case rschema.MapAttribute:
		return dschema.MapAttribute{MarkdownDescription: desc, Computed: true, ElementType: a.ElementType, Sensitive: a.Sensitive}
	case rschema.SingleNestedAttribute:
		return dschema.SingleNestedAttribute{MarkdownDescription: desc, Computed: true, Attributes: computedAttrs(a.Attributes, nil)}
	case rschema.ListNestedAttribute:
		return dschema.ListNestedAttribute{MarkdownDescription: desc, Computed: true,
			NestedObject: dschema.NestedAttributeObject{Attributes: computedAttrs(a.NestedObject.Attributes, nil)}}
	case rschema.SetNestedAttribute:
		return dschema.SetNestedAttribute{MarkdownDescription: desc, Computed: true,
			NestedObject: dschema.NestedAttributeObject{Attributes: computedAttrs(a.NestedObject.Attributes, nil)}}
	}
	panic(fmt.Sprintf("data source: no computed form for resource attribute type %T", a))
}

// computedBlock is a resource block as a computed data source attribute of
// the same shape (a data source reports what it reads in attributes).
func computedBlock(b rschema.Block) dschema.Attribute {
	desc := b.GetMarkdownDescription()
	switch b := b.(type) {
	case rschema.SingleNestedBlock:
		return dschema.SingleNestedAttribute{MarkdownDescription: desc, Computed: true, Attributes: computedAttrs(b.Attributes, b.Blocks)}
	case rschema.ListNestedBlock:
		return dschema.ListNestedAttribute{MarkdownDescription: desc, Computed: true,
			NestedObject: dschema.NestedAttributeObject{Attributes: computedAttrs(b.NestedObject.Attributes, b.NestedObject.Blocks)}}
	}
	panic(fmt.Sprintf("data source: no computed form for resource block type %T", b))
}

func computedAttrs(as map[string]rschema.Attribute, bs map[string]rschema.Block) map[string]dschema.Attribute {
	out := map[string]dschema.Attribute{}
	for name, a := range as {
		out[name] = computedAttr(a)
	}
	for name, b := range bs {
		out[name] = computedBlock(b)
	}
	return out
}

func (d *lxcContainerDataSource) Schema(ctx context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = dataSourceSchema(ctx)
}

func (d *lxcContainerDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	if pd := configuredData(req.ProviderData, &resp.Diagnostics); pd != nil {
		d.data = pd
	}
}

func (d *lxcContainerDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var vmidV types.Int64
	var nodeV types.String
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, pathVMID, &vmidV)...)
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("node_name"), &nodeV)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if d.data == nil {
		resp.Diagnostics.AddError("Provider not configured", "The phoenix provider was not configured before use.")
		return
	}
	c, err := d.data.Client()
	if err != nil {
		resp.Diagnostics.AddError("Proxmox VE API not configured", err.Error())
		return
	}
	vmid := int(vmidV.ValueInt64())
	node := nodeV.ValueString()
	if node == "" {
		found, ok, err := c.FindContainer(ctx, vmid)
		if err != nil {
			resp.Diagnostics.AddError("Cannot look up the container", err.Error())
			return
		}
		if !ok {
			resp.Diagnostics.AddAttributeError(pathVMID, "Container not found", fmt.Sprintf("No container %d exists in the cluster.", vmid))
			return
		}
		node = found
	}
	cfg, err := c.ContainerConfig(ctx, node, vmid)
	if err != nil {
		resp.Diagnostics.AddError("Cannot read the container", err.Error())
		return
	}
	st, err := c.ContainerStatus(ctx, node, vmid)
	if err != nil {
		resp.Diagnostics.AddError("Cannot read the container's status", err.Error())
		return
	}
	full := lxcContainerModel{
		NodeName:  types.StringValue(node),
		VMID:      types.Int64Value(int64(vmid)),
		ID:        types.StringValue(fmt.Sprintf("%s/%d", node, vmid)),
		Network:   types.ListNull(networkObjectType),
		LXCConfig: types.ListNull(lxcLineObjectType),
		IDMap:     types.ListNull(idMapObjectType),
		// A data source reports empty collections, not nulls.
		Tags: types.SetValueMust(types.StringType, nil),
	}
	resp.Diagnostics.Append(applyConfig(ctx, &full, cfg)...)
	d.data.readFleet(ctx, c, &full)
	if full.Tags.IsNull() {
		full.Tags = types.SetValueMust(types.StringType, nil)
	}
	if full.Network.IsNull() {
		full.Network = types.ListValueMust(networkObjectType, nil)
	}
	if full.LXCConfig.IsNull() {
		full.LXCConfig = types.ListValueMust(lxcLineObjectType, nil)
	}
	if full.IDMap.IsNull() {
		full.IDMap = types.ListValueMust(idMapObjectType, nil)
	}
	if full.MountPoints.IsNull() {
		full.MountPoints = types.ListValueMust(mountPointObjectType, nil)
	}
	if full.Devices.IsNull() {
		full.Devices = types.ListValueMust(deviceObjectType, nil)
	}
	resp.Diagnostics.Append(readAddresses(ctx, c, &full, st.Running())...)
	sch := dataSourceSchema(ctx)
	values, diags := modelValues(ctx, &full, sch)
	resp.Diagnostics.Append(diags...)
	values["status"] = types.StringValue(st.Status)
	names := make([]string, 0, len(values))
	for n := range values {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root(n), values[n])...)
	}
}

// modelValues returns the value of each data source attribute from the
// resource model field of the same tfsdk name; blocks (pointers to
// structs) become objects of the attribute's type.
func modelValues(ctx context.Context, m *lxcContainerModel, sch dschema.Schema) (map[string]attr.Value, diag.Diagnostics) {
	var diags diag.Diagnostics
	out := map[string]attr.Value{}
	rv := reflect.ValueOf(m).Elem()
	rt := rv.Type()
	for i := range rt.NumField() {
		name := rt.Field(i).Tag.Get("tfsdk")
		a, ok := sch.Attributes[name]
		if name == "" || name == "-" || !ok {
			continue
		}
		switch f := rv.Field(i).Interface().(type) {
		case attr.Value:
			out[name] = f
		default:
			ot, isObj := a.GetType().(types.ObjectType)
			fv := rv.Field(i)
			if !isObj || fv.Kind() != reflect.Pointer {
				diags.AddError("Data source mapping", fmt.Sprintf("attribute %s: unsupported field type %s", name, fv.Type()))
				continue
			}
			if fv.IsNil() {
				out[name] = types.ObjectNull(ot.AttrTypes)
				continue
			}
			obj, d := types.ObjectValueFrom(ctx, ot.AttrTypes, fv.Interface())
			diags.Append(d...)
			out[name] = obj
		}
	}
	return out, diags
}

var pathVMID = path.Root("vmid")
