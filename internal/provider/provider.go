// Package provider implements the Phoenix Terraform provider.
package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
)

var _ provider.Provider = &PhoenixProvider{}

// PhoenixProvider is the provider implementation.
type PhoenixProvider struct {
	version string
}

// New returns a function that creates the provider for the given version.
func New(version string) func() provider.Provider {
	return func() provider.Provider { return &PhoenixProvider{version: version} }
}

// Metadata returns the provider type name and version.
func (p *PhoenixProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "phoenix"
	resp.Version = p.version
}

// Schema returns the provider configuration schema.
func (p *PhoenixProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	resp.Schema = schema.Schema{}
}

// Configure builds the API client.
func (p *PhoenixProvider) Configure(_ context.Context, _ provider.ConfigureRequest, _ *provider.ConfigureResponse) {
}

// Resources lists the provider's resources.
func (p *PhoenixProvider) Resources(_ context.Context) []func() resource.Resource { return nil }

// DataSources lists the provider's data sources.
func (p *PhoenixProvider) DataSources(_ context.Context) []func() datasource.DataSource { return nil }
