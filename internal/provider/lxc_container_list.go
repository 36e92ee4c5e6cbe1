package provider

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/list"
	"github.com/hashicorp/terraform-plugin-framework/list/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/docker"
	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/pve"
)

// The list resource phoenix_lxc_container (Terraform 1.14 or newer): what
// "terraform query" finds in the cluster, each result with its identity and,
// when asked (-generate-config-out), its state as Read maps it, from which
// Terraform writes a resource block and an import block.

var (
	_ list.ListResource                   = &lxcContainerList{}
	_ list.ListResourceWithConfigure      = &lxcContainerList{}
	_ list.ListResourceWithValidateConfig = &lxcContainerList{}
)

// NewLXCContainerList returns the phoenix_lxc_container list resource.
func NewLXCContainerList() list.ListResource { return &lxcContainerList{} }

type lxcContainerList struct {
	data *providerData
}

// lxcListFilter is the list block's configuration.
type lxcListFilter struct {
	NodeName        types.String `tfsdk:"node_name"`
	Tags            types.List   `tfsdk:"tags"`
	VMIDMin         types.Int64  `tfsdk:"vmid_min"`
	VMIDMax         types.Int64  `tfsdk:"vmid_max"`
	HostnamePattern types.String `tfsdk:"hostname_pattern"`
	HasDocker       types.Bool   `tfsdk:"has_docker"`
}

func (l *lxcContainerList) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_lxc_container"
}

func (l *lxcContainerList) ListResourceConfigSchema(_ context.Context, _ list.ListResourceSchemaRequest, resp *list.ListResourceSchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "The cluster's containers (templates left out), for `terraform query`; every filter set must match.",
		Attributes: map[string]schema.Attribute{
			"node_name": schema.StringAttribute{
				MarkdownDescription: "Only containers on this node.",
				Optional:            true,
				Validators:          []validator.String{stringvalidator.RegexMatches(nodeNamePattern, "must be a Proxmox VE node name")},
			},
			"tags": schema.ListAttribute{
				MarkdownDescription: "Only containers that carry all of these tags.",
				Optional:            true,
				ElementType:         types.StringType,
				Validators: []validator.List{listvalidator.ValueStringsAre(
					stringvalidator.RegexMatches(tagPattern, "must start with a letter, digit or '_' and hold only letters, digits, '_', '-', '+' and '.'"))},
			},
			"vmid_min": schema.Int64Attribute{
				MarkdownDescription: "Only containers whose ID is at least this.",
				Optional:            true,
				Validators:          []validator.Int64{int64validator.Between(100, 999999999)},
			},
			"vmid_max": schema.Int64Attribute{
				MarkdownDescription: "Only containers whose ID is at most this.",
				Optional:            true,
				Validators:          []validator.Int64{int64validator.Between(100, 999999999)},
			},
			"hostname_pattern": schema.StringAttribute{
				MarkdownDescription: "Only containers whose host name matches this regular expression (RE2 syntax, e.g. `^web-`).",
				Optional:            true,
				Validators: []validator.String{
					stringvalidator.LengthAtMost(maxHostnamePattern),
					checkWith("Invalid regular expression", "an RE2 regular expression", checkRegexp),
				},
			},
			"has_docker": schema.BoolAttribute{
				MarkdownDescription: "Only running containers with (`true`) or without (`false`) an active Docker, found by " +
					"`check_docker_service.sh` over the provider's SSH access (required). Stopped containers cannot be checked: " +
					"they are left out, and a warning names them.",
				Optional: true,
			},
		},
	}
}

// maxHostnamePattern bounds hostname_pattern: a host name is at most 253
// characters, and a longer pattern only costs memory to compile.
const maxHostnamePattern = 1024

func checkRegexp(s string) error {
	_, err := regexp.Compile(s)
	return err
}

func (l *lxcContainerList) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	if d := configuredData(req.ProviderData, &resp.Diagnostics); d != nil {
		l.data = d
	}
}

func (l *lxcContainerList) ValidateListResourceConfig(ctx context.Context, req list.ValidateConfigRequest, resp *list.ValidateConfigResponse) {
	var f lxcListFilter
	resp.Diagnostics.Append(req.Config.Get(ctx, &f)...)
	if known(f.VMIDMin) && known(f.VMIDMax) && f.VMIDMin.ValueInt64() > f.VMIDMax.ValueInt64() {
		resp.Diagnostics.AddAttributeError(path.Root("vmid_max"), "Empty ID range",
			fmt.Sprintf("vmid_max (%d) is less than vmid_min (%d).", f.VMIDMax.ValueInt64(), f.VMIDMin.ValueInt64()))
	}
}

// matches reports whether a container of /cluster/resources passes the
// filters.
func (f *lxcListFilter) matches(ctx context.Context, r pve.Resource, host *regexp.Regexp) (bool, diag.Diagnostics) {
	if r.Type != "lxc" || bool(r.Template) {
		return false, nil
	}
	vmid := int64(r.VMID)
	switch {
	case known(f.NodeName) && r.Node != f.NodeName.ValueString(),
		known(f.VMIDMin) && vmid < f.VMIDMin.ValueInt64(),
		known(f.VMIDMax) && vmid > f.VMIDMax.ValueInt64(),
		host != nil && !host.MatchString(r.Name):
		return false, nil
	}
	if !known(f.Tags) {
		return true, nil
	}
	var want []string
	diags := f.Tags.ElementsAs(ctx, &want, false)
	have := map[string]bool{}
	for _, t := range pve.SplitTags(r.Tags) {
		have[t] = true
	}
	for _, t := range want {
		if !have[t] {
			return false, diags
		}
	}
	return true, diags
}

func (l *lxcContainerList) List(ctx context.Context, req list.ListRequest, stream *list.ListResultsStream) {
	var f lxcListFilter
	var diags diag.Diagnostics
	diags.Append(req.Config.Get(ctx, &f)...)
	var host *regexp.Regexp
	if known(f.HostnamePattern) {
		var err error
		if host, err = regexp.Compile(f.HostnamePattern.ValueString()); err != nil {
			diags.AddAttributeError(path.Root("hostname_pattern"), "Invalid regular expression", err.Error())
		}
	}
	r := &lxcContainerResource{data: l.data}
	c := r.client(&diags)
	if diags.HasError() {
		stream.Results = list.ListResultsStreamDiagnostics(diags)
		return
	}
	all, err := c.ClusterResources(ctx, "vm")
	if err != nil {
		diags.AddError("Cannot list the cluster's containers", err.Error())
		stream.Results = list.ListResultsStreamDiagnostics(diags)
		return
	}
	var found []pve.Resource
	for _, res := range all {
		ok, d := f.matches(ctx, res, host)
		diags.Append(d...)
		if ok {
			found = append(found, res)
		}
	}
	sort.Slice(found, func(i, j int) bool { return found[i].VMID < found[j].VMID })
	if !known(f.HasDocker) && req.Limit > 0 && int64(len(found)) > req.Limit {
		found = found[:req.Limit]
	}
	checks := map[pve.Resource]docker.CheckResult{}
	sshReady := l.data != nil && l.data.hasSSHAuth()
	switch {
	case known(f.HasDocker) && !sshReady:
		diags.AddAttributeError(path.Root("has_docker"), "Docker cannot be looked for",
			"has_docker runs check_docker_service.sh in each container over SSH: configure the provider's ssh block.")
		stream.Results = list.ListResultsStreamDiagnostics(diags)
		return
	case known(f.HasDocker) || (req.IncludeResource && sshReady):
		// The docker block of each result, and the has_docker filter, come
		// from one read-only check per running container, one node
		// command a node.
		checks = l.checkDocker(ctx, found, &diags)
	}
	if known(f.HasDocker) {
		found = filterHasDocker(found, checks, f.HasDocker.ValueBool(), &diags)
	}
	if len(found) == 0 {
		stream.Results = list.NoListResults
		if len(diags) > 0 {
			// No result to carry the warnings.
			stream.Results = list.ListResultsStreamDiagnostics(diags)
		}
		return
	}
	stream.Results = func(push func(list.ListResult) bool) {
		for i, res := range found {
			if req.Limit > 0 && int64(i) >= req.Limit {
				return
			}
			result := req.NewListResult(ctx)
			if i == 0 {
				result.Diagnostics.Append(diags...)
			}
			m := nullModel()
			m.NodeName = types.StringValue(res.Node)
			m.VMID = types.Int64Value(int64(res.VMID))
			m.ID = types.StringValue(containerRef(res))
			result.DisplayName = fmt.Sprintf("%s (%s)", res.Name, m.ID.ValueString())
			result.Diagnostics.Append(result.Identity.Set(ctx, identityOf(m))...)
			if req.IncludeResource {
				if err := r.read(ctx, c, m, &result.Diagnostics, readRefresh); err != nil {
					result.Diagnostics.AddError("Cannot read the container", fmt.Sprintf("%s: %v", m.ID.ValueString(), err))
				}
				if check, ok := checks[res]; ok && dockerFound(check) && m.Docker == nil {
					// As the first Read after an import adopts it.
					adoptDockerCheck(m, check)
				}
				// As after an import: every value is read back, and nothing
				// Proxmox VE cannot report is set.
				result.Diagnostics.Append(result.Resource.Set(ctx, m)...)
			}
			if !push(result) {
				return
			}
		}
	}
}

// containerRef names a listed container as its ID does: node/vmid.
func containerRef(res pve.Resource) string { return fmt.Sprintf("%s/%d", res.Node, int64(res.VMID)) }

// dockerFound reports whether a check found an installed, active Docker.
func dockerFound(c docker.CheckResult) bool { return c.Package != "" && c.ServiceActive }

// checkDocker runs check_docker_service.sh in each running container of
// found: one node command a node (check_docker_batch.sh, a pct exec per
// container, as a plan's refresh checks run), the nodes at once. A
// container whose check cannot run gets a warning and no result.
func (l *lxcContainerList) checkDocker(ctx context.Context, found []pve.Resource, diags *diag.Diagnostics) map[pve.Resource]docker.CheckResult {
	byNode := map[string][]pve.Resource{}
	for _, res := range found {
		if res.Status == "running" {
			byNode[res.Node] = append(byNode[res.Node], res)
		}
	}
	out := map[pve.Resource]docker.CheckResult{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	ops := l.data.NodeOps()
	for node, list := range byNode {
		wg.Go(func() {
			vmids := make([]int, len(list))
			for i, res := range list {
				vmids[i] = int(res.VMID)
			}
			results, _, failed := ops.runCheckBatch(ctx, node, vmids, nil, batchHooks{})
			mu.Lock()
			defer mu.Unlock()
			if failed != nil {
				// The node's command did not run: one warning for the node.
				names := make([]string, len(list))
				for i, res := range list {
					names[i] = containerRef(res)
				}
				diags.AddWarning("Docker not checked", fmt.Sprintf("%s: %v", strings.Join(names, ", "), failed))
				return
			}
			for _, res := range list {
				r := results[int(res.VMID)] // runCheckBatch answers every container asked
				if r.err != nil {
					diags.AddWarning("Docker not checked", fmt.Sprintf("%s (%s): %v", containerRef(res), res.Name, r.err))
					continue
				}
				out[res] = r.check
			}
		})
	}
	wg.Wait()
	return out
}

// filterHasDocker keeps the containers whose check found Docker (want) or
// found none (!want); a container with no check (stopped, or the check
// failed) is left out and named in a warning.
func filterHasDocker(found []pve.Resource, checks map[pve.Resource]docker.CheckResult, want bool, diags *diag.Diagnostics) []pve.Resource {
	var kept []pve.Resource
	var unchecked []string
	for _, res := range found {
		check, ok := checks[res]
		switch {
		case !ok:
			unchecked = append(unchecked, containerRef(res))
		case dockerFound(check) == want:
			kept = append(kept, res)
		}
	}
	if len(unchecked) > 0 {
		diags.AddAttributeWarning(path.Root("has_docker"), "Containers left out unchecked",
			fmt.Sprintf("Docker can only be looked for in a running container; not checked, so not listed: %s.", strings.Join(unchecked, ", ")))
	}
	return kept
}
