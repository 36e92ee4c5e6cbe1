package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/pve"
)

var (
	_ datasource.DataSource              = &lxcContainerDataSource{}
	_ datasource.DataSourceWithConfigure = &lxcContainerDataSource{}
)

// NewLXCContainerDataSource returns the phoenix_lxc_container data source.
func NewLXCContainerDataSource() datasource.DataSource { return &lxcContainerDataSource{} }

type lxcContainerDataSource struct {
	data *providerData
}

type lxcContainerDataModel struct {
	ID           types.String `tfsdk:"id"`
	NodeName     types.String `tfsdk:"node_name"`
	VMID         types.Int64  `tfsdk:"vmid"`
	Hostname     types.String `tfsdk:"hostname"`
	Description  types.String `tfsdk:"description"`
	Status       types.String `tfsdk:"status"`
	Tags         types.Set    `tfsdk:"tags"`
	Unprivileged types.Bool   `tfsdk:"unprivileged"`
	OSType       types.String `tfsdk:"os_type"`
	Cores        types.Int64  `tfsdk:"cores"`
	Memory       types.Int64  `tfsdk:"memory"`
	Swap         types.Int64  `tfsdk:"swap"`
	RootFSVolume types.String `tfsdk:"rootfs_volume"`
	RootFSSize   types.String `tfsdk:"rootfs_size"`
	Features     types.String `tfsdk:"features"`
	Network      types.List   `tfsdk:"network"`
	LXCConfig    types.List   `tfsdk:"lxc_config"`
}

var dataNetworkType = types.ObjectType{AttrTypes: map[string]attr.Type{
	"name": types.StringType, "bridge": types.StringType, "ip": types.StringType, "gw": types.StringType,
	"ip6": types.StringType, "gw6": types.StringType, "hwaddr": types.StringType,
}}

var dataLXCType = types.ObjectType{AttrTypes: map[string]attr.Type{"key": types.StringType, "value": types.StringType}}

func (d *lxcContainerDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_lxc_container"
}

func (d *lxcContainerDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	computedStr := func(desc string) schema.StringAttribute {
		return schema.StringAttribute{MarkdownDescription: desc, Computed: true}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Reads an existing LXC container: its configuration as Proxmox VE reports it and whether it runs.",
		Attributes: map[string]schema.Attribute{
			"id": computedStr("`<node_name>/<vmid>`."),
			"node_name": schema.StringAttribute{
				MarkdownDescription: "Node of the container; looked up in the cluster when omitted.",
				Optional:            true,
				Computed:            true,
				Validators:          []validator.String{stringvalidator.RegexMatches(nodeNamePattern, "must be a Proxmox VE node name")},
			},
			"vmid": schema.Int64Attribute{
				MarkdownDescription: "Container ID.",
				Required:            true,
				Validators:          []validator.Int64{int64validator.Between(100, 999999999)},
			},
			"hostname":      computedStr("Host name."),
			"description":   computedStr("Notes."),
			"status":        computedStr("`running` or `stopped`."),
			"tags":          schema.SetAttribute{MarkdownDescription: "Tags.", Computed: true, ElementType: types.StringType},
			"unprivileged":  schema.BoolAttribute{MarkdownDescription: "Whether the container is unprivileged.", Computed: true},
			"os_type":       computedStr("OS type."),
			"cores":         schema.Int64Attribute{MarkdownDescription: "CPU cores (null: all of the host's).", Computed: true},
			"memory":        schema.Int64Attribute{MarkdownDescription: "Memory in MiB.", Computed: true},
			"swap":          schema.Int64Attribute{MarkdownDescription: "Swap in MiB.", Computed: true},
			"rootfs_volume": computedStr("Volume ID of the root file system."),
			"rootfs_size":   computedStr("Size of the root file system, e.g. `8G`."),
			"features":      computedStr("Features as Proxmox VE writes them, e.g. `keyctl=1,nesting=1`."),
			"network": schema.ListAttribute{
				MarkdownDescription: "Network interfaces in order (`net0` first): name, bridge, ip, gw, ip6, gw6, hwaddr.",
				Computed:            true,
				ElementType:         dataNetworkType,
			},
			"lxc_config": schema.ListAttribute{
				MarkdownDescription: "Raw `lxc.*` lines of the configuration file, in order, such as `lxc.apparmor.profile`.",
				Computed:            true,
				ElementType:         dataLXCType,
			},
		},
	}
}

func (d *lxcContainerDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	if req.ProviderData == nil {
		return
	}
	pd, ok := req.ProviderData.(*providerData)
	if !ok {
		resp.Diagnostics.AddError("Unexpected provider data", fmt.Sprintf("got %T", req.ProviderData))
		return
	}
	d.data = pd
}

func (d *lxcContainerDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m lxcContainerDataModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
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
	vmid := int(m.VMID.ValueInt64())
	node := m.NodeName.ValueString()
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
	var full lxcContainerModel
	full.NodeName = types.StringValue(node)
	full.Network = types.ListNull(networkObjectType)
	full.LXCConfig = types.ListNull(lxcLineObjectType)
	resp.Diagnostics.Append(applyConfig(ctx, &full, cfg)...)

	m.ID = types.StringValue(fmt.Sprintf("%s/%d", node, vmid))
	m.NodeName = types.StringValue(node)
	m.Hostname = full.Hostname
	m.Description = full.Description
	m.Status = types.StringValue(st.Status)
	m.Tags = full.Tags
	if m.Tags.IsNull() {
		m.Tags = types.SetValueMust(types.StringType, nil)
	}
	m.Unprivileged = full.Unprivileged
	m.OSType = full.OSType
	m.Cores = full.Cores
	m.Memory = full.Memory
	m.Swap = full.Swap
	m.RootFSVolume, m.RootFSSize = types.StringNull(), types.StringNull()
	if full.RootFS != nil {
		m.RootFSVolume, m.RootFSSize = full.RootFS.Volume, full.RootFS.Size
	}
	m.Features = types.StringNull()
	if f, ok := cfg.Values["features"]; ok {
		if pf, err := pve.ParseFeatures(f); err == nil {
			m.Features = types.StringValue(pf.String())
		}
	}
	fullNets, nd := full.networks(ctx)
	resp.Diagnostics.Append(nd...)
	nets := make([]attr.Value, 0, len(fullNets))
	for _, n := range fullNets {
		nets = append(nets, types.ObjectValueMust(dataNetworkType.AttrTypes, map[string]attr.Value{
			"name": n.Name, "bridge": n.Bridge, "ip": n.IP, "gw": n.Gw, "ip6": n.IP6, "gw6": n.Gw6, "hwaddr": n.HWAddr,
		}))
	}
	m.Network = types.ListValueMust(dataNetworkType, nets)
	lines := make([]attr.Value, 0, len(cfg.LXC))
	for _, kv := range cfg.LXC {
		lines = append(lines, types.ObjectValueMust(dataLXCType.AttrTypes, map[string]attr.Value{
			"key": types.StringValue(kv[0]), "value": types.StringValue(kv[1]),
		}))
	}
	m.LXCConfig = types.ListValueMust(dataLXCType, lines)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

var pathVMID = path.Root("vmid")
