// Package provider implements the Phoenix Terraform provider: schemas,
// models, plan modifiers, validators wiring and the orchestration of the
// Proxmox VE API and node access.
package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/function"
	"github.com/hashicorp/terraform-plugin-framework/list"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"
)

// Both interfaces embed provider.Provider.
var (
	_ provider.ProviderWithValidateConfig = &PhoenixProvider{}
	_ provider.ProviderWithFunctions      = &PhoenixProvider{}
	_ provider.ProviderWithListResources  = &PhoenixProvider{}
)

// PhoenixProvider is the provider implementation.
type PhoenixProvider struct {
	version string
	// getenv reads the environment; tests replace it.
	getenv func(string) string
}

// phoenixProviderModel maps the provider configuration.
type phoenixProviderModel struct {
	Endpoint      types.String `tfsdk:"endpoint"`
	APIToken      types.String `tfsdk:"api_token"`
	Username      types.String `tfsdk:"username"`
	Password      types.String `tfsdk:"password"`
	Insecure      types.Bool   `tfsdk:"insecure"`
	CACertificate types.String `tfsdk:"ca_certificate"`
	BindRoots     types.List   `tfsdk:"bind_mount_roots"`
	NodeWide      types.Bool   `tfsdk:"docker_checks_node_wide"`
	SSH           *sshModel    `tfsdk:"ssh"`
}

// sshModel maps the ssh block.
type sshModel struct {
	Username        types.String `tfsdk:"username"`
	PrivateKey      types.String `tfsdk:"private_key"`
	Password        types.String `tfsdk:"password"`
	Agent           types.Bool   `tfsdk:"agent"`
	AgentSocket     types.String `tfsdk:"agent_socket"`
	KnownHostsFile  types.String `tfsdk:"known_hosts_file"`
	TrustOnFirstUse types.Bool   `tfsdk:"trust_on_first_use"`
	Nodes           types.List   `tfsdk:"node"`
}

// sshNodeModel maps one ssh.node block.
type sshNodeModel struct {
	Name    types.String `tfsdk:"name"`
	Address types.String `tfsdk:"address"`
	Port    types.Int64  `tfsdk:"port"`
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
	resp.Schema = providerSchema()
}

func providerSchema() schema.Schema {
	return schema.Schema{
		MarkdownDescription: "The Phoenix provider manages Proxmox VE LXC containers, and Docker inside them, " +
			"through the Proxmox VE API and SSH access to the cluster nodes.",
		Attributes: map[string]schema.Attribute{
			"endpoint": schema.StringAttribute{
				MarkdownDescription: "URL of the API of any node of the cluster, e.g. `https://pve1.lan:8006/`. " +
					envDoc(envEndpoint),
				Optional:   true,
				Validators: []validator.String{endpointCheck},
			},
			"api_token": schema.StringAttribute{
				MarkdownDescription: "API token in the form `USER@REALM!TOKENID=SECRET`. Conflicts with `username`/`password`. " +
					envDoc(envAPIToken),
				Optional:  true,
				Sensitive: true,
				Validators: []validator.String{
					apiTokenCheck,
					stringvalidator.ConflictsWith(path.MatchRoot("password")),
				},
			},
			"username": schema.StringAttribute{
				MarkdownDescription: "User for ticket authentication, e.g. `root@pam`; needs `password`. " +
					envDoc(envUsername),
				Optional:   true,
				Validators: []validator.String{stringvalidator.RegexMatches(userPattern, "must be USER@REALM, e.g. root@pam")},
			},
			"password": schema.StringAttribute{
				MarkdownDescription: "Password for ticket authentication with `username`. The provider logs in with a ticket and " +
					"sends the CSRF prevention token on every write. " + envDoc(envPassword),
				Optional:  true,
				Sensitive: true,
			},
			"insecure": schema.BoolAttribute{
				MarkdownDescription: "Skip the TLS certificate check of the API. Defaults to `false`; prefer `ca_certificate`. " +
					"A warning is printed on every run while it is on. " + envDoc(envInsecure),
				Optional: true,
			},
			"ca_certificate": schema.StringAttribute{
				MarkdownDescription: "PEM certificate of a CA to trust in addition to the system roots, for example the " +
					"cluster's `/etc/pve/pve-root-ca.pem`, so that a self-signed Proxmox VE certificate is verified without `insecure`. " +
					envDoc(envCACertificate),
				Optional:   true,
				Validators: []validator.String{pemCheck},
			},
			"bind_mount_roots": schema.ListAttribute{
				MarkdownDescription: "Host directories that bind mounts may come from, e.g. `[\"/srv/shared\", \"/mnt/media\"]`. " +
					"When set, every `mount_point` whose `volume` is a host directory must be one of them or below one, at plan " +
					"time by its name and at apply, over SSH, where it leads (symlinks resolved). A mount a container already has " +
					"keeps working, with a warning. Recommended: the provider's own " +
					"list of refused host paths cannot know every directory of a node that root there trusts. Unset: any " +
					"directory the provider does not refuse.",
				Optional:    true,
				ElementType: types.StringType,
				Validators: []validator.List{listvalidator.ValueStringsAre(stringvalidator.RegexMatches(bindRootPattern,
					"must be an absolute path in its plain form, e.g. /srv/shared"))},
			},
			"docker_checks_node_wide": schema.BoolAttribute{
				MarkdownDescription: "During a plan, when one SSH command checks Docker in several containers of a node " +
					"(`docker.verify_on_refresh`), it also checks the node's other running containers whose configuration runs " +
					"them under `lxc-docker-secure` and holds no lock (read-only, at most 15 s each), and the refreshes Terraform " +
					"starts later in the plan use those results instead of a command each. Set `false` to enter only the containers " +
					"being refreshed, e.g. where other workspaces' Docker containers share the nodes (a container whose own resource sets " +
					"`verify_on_refresh = false` is entered too). Defaults to `true`. " +
					envDoc(envDockerChecksNodeWide),
				Optional: true,
			},
		},
		Blocks: map[string]schema.Block{
			"ssh": schema.SingleNestedBlock{
				MarkdownDescription: "SSH access to the nodes, used where the API cannot act: installing the AppArmor profile, " +
					"raw `lxc.*` configuration lines and running the Docker feature scripts inside containers (`pct exec`).",
				Attributes: map[string]schema.Attribute{
					"username": schema.StringAttribute{
						MarkdownDescription: "User on the nodes. Defaults to `root`; any other user runs commands through `sudo -n`. " +
							envDoc(envSSHUsername),
						Optional: true,
					},
					"private_key": schema.StringAttribute{
						MarkdownDescription: "Unencrypted private key in PEM or OpenSSH format. " + envDoc(envSSHPrivateKey),
						Optional:            true,
						Sensitive:           true,
						Validators:          []validator.String{privateKeyCheck},
					},
					"password": schema.StringAttribute{
						MarkdownDescription: "Password of the SSH user. " + envDoc(envSSHPassword),
						Optional:            true,
						Sensitive:           true,
					},
					"agent": schema.BoolAttribute{
						MarkdownDescription: "Authenticate with the keys of a running SSH agent. Defaults to `false`. " + envDoc(envSSHAgent),
						Optional:            true,
					},
					"agent_socket": schema.StringAttribute{
						MarkdownDescription: "Path of the SSH agent's socket. " + envDoc(envSSHAgentSocket),
						Optional:            true,
					},
					"known_hosts_file": schema.StringAttribute{
						MarkdownDescription: "known_hosts file against which node host keys are verified. Defaults to `~/.ssh/known_hosts`. " +
							envDoc(envSSHKnownHosts),
						Optional: true,
					},
					"trust_on_first_use": schema.BoolAttribute{
						MarkdownDescription: "Accept and record the host key of a node that is not yet in `known_hosts_file`. " +
							"A changed host key is always an error. Defaults to `false`. " + envDoc(envSSHTrustOnFirstUse),
						Optional: true,
					},
				},
				Blocks: map[string]schema.Block{
					"node": schema.ListNestedBlock{
						MarkdownDescription: "Address override for one node. Without it a node is reached at the address the cluster reports for it.",
						Validators:          []validator.List{listvalidator.UniqueValues()},
						NestedObject: schema.NestedBlockObject{
							Attributes: map[string]schema.Attribute{
								"name": schema.StringAttribute{
									MarkdownDescription: "Node name as Proxmox VE knows it, e.g. `pve1`.",
									Required:            true,
									Validators:          []validator.String{stringvalidator.RegexMatches(nodeNamePattern, "must be a Proxmox VE node name")},
								},
								"address": schema.StringAttribute{
									MarkdownDescription: "Host name or IP address to connect to.",
									Required:            true,
									Validators:          []validator.String{stringvalidator.LengthAtLeast(1)},
								},
								"port": schema.Int64Attribute{
									MarkdownDescription: "SSH port. Defaults to `22`.",
									Optional:            true,
									Validators:          []validator.Int64{int64validator.Between(1, 65535)},
								},
							},
						},
					},
				},
			},
		},
	}
}

// ValidateConfig checks the combinations of attributes that single-attribute
// validators cannot see. Unknown values are tolerated here and checked again
// in Configure.
func (p *PhoenixProvider) ValidateConfig(ctx context.Context, req provider.ValidateConfigRequest, resp *provider.ValidateConfigResponse) {
	var cfg phoenixProviderModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if known(cfg.Username) && cfg.Password.IsNull() {
		resp.Diagnostics.AddAttributeWarning(path.Root("password"), "Password not set in configuration",
			"`username` is set without `password`: the password must then come from PHOENIX_PASSWORD or PROXMOX_VE_PASSWORD.")
	}
	if known(cfg.Password) && cfg.Username.IsNull() {
		resp.Diagnostics.AddAttributeWarning(path.Root("username"), "Username not set in configuration",
			"`password` is set without `username`: the user must then come from PHOENIX_USERNAME or PROXMOX_VE_USERNAME.")
	}
	if cfg.SSH != nil {
		seen := map[string]bool{}
		nodes, d := sshNodes(ctx, cfg.SSH)
		resp.Diagnostics.Append(d...)
		for i, n := range nodes {
			if !known(n.Name) {
				continue
			}
			if seen[n.Name.ValueString()] {
				resp.Diagnostics.AddAttributeError(path.Root("ssh").AtName("node").AtListIndex(i).AtName("name"),
					"Duplicate node override", fmt.Sprintf("Node %q has more than one ssh.node block; keep one.", n.Name.ValueString()))
			}
			seen[n.Name.ValueString()] = true
		}
	}
}

// Configure resolves the configuration against the environment and builds the
// API client. It never dials the network.
func (p *PhoenixProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var cfg phoenixProviderModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	getenv := p.getenv
	if getenv == nil {
		getenv = lookupEnv
	}
	settings, diags := resolveSettings(cfg, getenv)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	data, diags := newProviderData(settings, p.version)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	tflog.Debug(ctx, "provider configured", map[string]any{
		"endpoint":    settings.API.Endpoint,
		"auth":        settings.authMethod(),
		"insecure":    settings.API.Insecure,
		"ssh_user":    settings.SSH.Username,
		"ssh_auth":    settings.SSH.authMethods(),
		"ssh_tofu":    settings.SSH.TrustOnFirstUse,
		"ssh_nodes":   len(settings.SSH.Nodes),
		"has_ca_cert": settings.API.CACertificatePEM != "",
	})
	resp.ResourceData = data
	resp.DataSourceData = data
	resp.ListResourceData = data
}

// Resources lists the provider's resources.
func (p *PhoenixProvider) Resources(_ context.Context) []func() resource.Resource {
	return []func() resource.Resource{NewLXCContainerResource}
}

// ListResources lists the provider's list resources (terraform query).
func (p *PhoenixProvider) ListResources(_ context.Context) []func() list.ListResource {
	return []func() list.ListResource{NewLXCContainerList}
}

// DataSources lists the provider's data sources.
func (p *PhoenixProvider) DataSources(_ context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{NewLXCContainerDataSource}
}

// Functions lists the provider-defined functions.
func (p *PhoenixProvider) Functions(_ context.Context) []func() function.Function {
	return []func() function.Function{NewLXCConfigsFunction}
}

// sshNodes returns the ssh.node blocks; nil while they are unknown (a
// dynamic block over a value not known yet).
func sshNodes(ctx context.Context, m *sshModel) ([]sshNodeModel, diag.Diagnostics) {
	if m == nil || m.Nodes.IsNull() || m.Nodes.IsUnknown() {
		return nil, nil
	}
	var out []sshNodeModel
	diags := m.Nodes.ElementsAs(ctx, &out, false)
	return out, diags
}
