// Command floorprovider is the smallest useful plugin provider: one
// resource, floor_data, with one input and an id, that calls nothing. make
// bench times a plan of N floor_data next to N terraform_data and N
// containers: it is what Terraform's plugin protocol itself costs (a
// process to start, four RPCs per resource), below which no plugin
// provider can plan.
package main

import (
	"context"
	"log"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	pschema "github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/sdklog"
)

func main() {
	sdklog.Quiet()
	if err := providerserver.Serve(context.Background(), func() provider.Provider { return floor{} }, providerserver.ServeOpts{
		Address: "registry.terraform.io/phoenix-hypervisor/floor",
	}); err != nil {
		log.Fatal(err)
	}
}

type floor struct{}

func (floor) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "floor"
}

func (floor) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	resp.Schema = pschema.Schema{}
}

func (floor) Configure(context.Context, provider.ConfigureRequest, *provider.ConfigureResponse) {}

func (floor) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{func() resource.Resource { return data{} }}
}

func (floor) DataSources(context.Context) []func() datasource.DataSource { return nil }

// data mirrors terraform_data: an input kept in state and an id.
type data struct{}

type dataModel struct {
	ID    types.String `tfsdk:"id"`
	Input types.String `tfsdk:"input"`
}

func (data) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_data"
}

func (data) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{Attributes: map[string]schema.Attribute{
		"id":    schema.StringAttribute{Computed: true, PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()}},
		"input": schema.StringAttribute{Required: true},
	}}
}

func (data) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var m dataModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	m.ID = types.StringValue("floor-" + m.Input.ValueString())
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

func (data) Read(context.Context, resource.ReadRequest, *resource.ReadResponse) {}

func (data) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var m dataModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

func (data) Delete(context.Context, resource.DeleteRequest, *resource.DeleteResponse) {}
