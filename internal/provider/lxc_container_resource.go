package provider

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/pve"
)

// Each of these interfaces embeds resource.Resource.
var (
	_ resource.ResourceWithConfigure      = &lxcContainerResource{}
	_ resource.ResourceWithImportState    = &lxcContainerResource{}
	_ resource.ResourceWithModifyPlan     = &lxcContainerResource{}
	_ resource.ResourceWithValidateConfig = &lxcContainerResource{}
	_ resource.ResourceWithMoveState      = &lxcContainerResource{}
	_ resource.ResourceWithIdentity       = &lxcContainerResource{}
)

const (
	defaultCreateTimeout = 20 * time.Minute
	defaultUpdateTimeout = 20 * time.Minute
	defaultDeleteTimeout = 10 * time.Minute
	// vmidAttempts bounds the retries of a create that lost the race for a
	// free ID.
	vmidAttempts = 10
)

// NewLXCContainerResource returns the phoenix_lxc_container resource.
func NewLXCContainerResource() resource.Resource { return &lxcContainerResource{} }

type lxcContainerResource struct {
	data *providerData
}

func (r *lxcContainerResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_lxc_container"
}

func (r *lxcContainerResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = lxcContainerSchema(ctx)
}

func (r *lxcContainerResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	if d := configuredData(req.ProviderData, &resp.Diagnostics); d != nil {
		r.data = d
	}
}

func (r *lxcContainerResource) client(diags *diag.Diagnostics) *pve.Client {
	if r.data == nil {
		diags.AddError("Provider not configured", "The phoenix provider was not configured before use.")
		return nil
	}
	c, err := r.data.Client()
	if err != nil {
		diags.AddError("Proxmox VE API not configured", err.Error())
		return nil
	}
	return c
}

// begin prepares a create, update or delete: the context bounded by the
// operation's timeout (its timeouts attribute, else def) and the API
// client, nil when the provider cannot reach the API or diags already hold
// an error (from reading the plan or the state); diags then say why.
func (r *lxcContainerResource) begin(ctx context.Context, timeout func(context.Context, time.Duration) (time.Duration, diag.Diagnostics),
	def time.Duration, diags *diag.Diagnostics) (context.Context, context.CancelFunc, *pve.Client) {
	if diags.HasError() {
		return ctx, func() {}, nil
	}
	c := r.client(diags)
	d, ds := timeout(ctx, def)
	diags.Append(ds...)
	ctx, cancel := context.WithTimeout(ctx, d)
	return ctx, cancel, c
}

// ValidateConfig checks rules that span attributes.
func (r *lxcContainerResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var m lxcContainerModel
	resp.Diagnostics.Append(getContainer(ctx, req.Config.Raw, &m, req.Config.Get)...)
	if resp.Diagnostics.HasError() {
		return
	}
	// A dynamic block over a value not known yet (for_each in a module) shows
	// up as a block of unknown values: only known values can conflict.
	if known(m.Template) && m.Clone != nil {
		resp.Diagnostics.AddAttributeError(path.Root("clone"), "Conflicting sources",
			"Set either template or a clone block, not both.")
	}
	if m.Clone != nil && m.Clone.SourceVMID.IsNull() {
		resp.Diagnostics.AddAttributeError(path.Root("clone").AtName("source_vmid"), "Missing clone source",
			"A clone block needs source_vmid.")
	}
	if m.RootFS != nil {
		if m.RootFS.Storage.IsNull() && m.Clone == nil {
			resp.Diagnostics.AddAttributeError(path.Root("rootfs").AtName("storage"), "Missing rootfs storage",
				"rootfs needs storage, e.g. local-lvm.")
		}
		if m.RootFS.Size.IsNull() && m.Clone == nil {
			resp.Diagnostics.AddAttributeError(path.Root("rootfs").AtName("size"), "Missing rootfs size",
				"rootfs needs size, e.g. 8G.")
		}
		if known(m.RootFS.Size) {
			if n, err := pve.ParseSize(m.RootFS.Size.ValueString()); err == nil && n < 1<<20 {
				resp.Diagnostics.AddAttributeError(path.Root("rootfs").AtName("size"), "rootfs too small",
					fmt.Sprintf("%s is less than 1M.", m.RootFS.Size.ValueString()))
			}
		}
	}
	validateMounts(ctx, &m, &resp.Diagnostics)
	validateIDMap(ctx, &m, &resp.Diagnostics)
	validateHA(&m, &resp.Diagnostics)
	if known(m.Template) && m.RootFS == nil {
		resp.Diagnostics.AddAttributeError(path.Root("rootfs"), "Missing rootfs",
			"A container created from a template needs a rootfs block, e.g. rootfs { storage = \"local-lvm\"  size = \"8G\" }.")
	}
	if known(m.AppArmor) && m.AppArmor.ValueString() == "unconfined" && m.Docker == nil {
		resp.Diagnostics.AddAttributeWarning(path.Root("apparmor_profile"), "Container runs unconfined",
			"apparmor_profile = \"unconfined\" removes AppArmor confinement: root in the container is then only held back by "+
				"user namespaces (if unprivileged) and seccomp, and a privileged container is not confined at all. For Docker, "+
				"use a docker block: it applies the hardened "+dockerProfile.Name+" profile instead.")
	}
	seen := map[string]int{}
	nets, _ := m.networks(ctx)
	for i, n := range nets {
		if !known(n.Name) {
			continue
		}
		if j, dup := seen[n.Name.ValueString()]; dup {
			resp.Diagnostics.AddAttributeError(path.Root("network").AtListIndex(i).AtName("name"), "Duplicate interface name",
				fmt.Sprintf("network[%d] and network[%d] are both named %q.", j, i, n.Name.ValueString()))
		}
		seen[n.Name.ValueString()] = i
	}
}

func (r *lxcContainerResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan lxcContainerModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	var password types.String
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("password"), &password)...)
	ctx, cancel, c := r.begin(ctx, plan.Timeouts.Create, defaultCreateTimeout, &resp.Diagnostics)
	defer cancel()
	if c == nil {
		return
	}

	r.checkHostPathsOnNode(ctx, &plan, nil, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	node := plan.NodeName.ValueString()
	var vmid int
	var upid string
	var err error
	// rootDeferred: the create request left out settings PVE reserves to
	// root@pam; they are set on the node once the container exists.
	rootDeferred := false
	release := func() {}
	if plan.Clone != nil {
		// Proxmox VE locks a clone's source while the clone task runs: clones
		// of one source in this run take turns here, each starting as soon
		// as the previous task ends, instead of retrying on "CT is locked".
		release = r.data.cloneSourceLock(cloneSourceKey(&plan))
		defer release()
		vmid, upid, err = r.cloneContainer(ctx, c, &plan)
	} else {
		vmid, upid, rootDeferred, err = r.createContainer(ctx, c, &plan, password.ValueString())
	}
	if err != nil {
		summary := "Cannot create the container"
		var mp *missingPrivilegesError
		if errors.As(err, &mp) {
			summary = "Missing Proxmox VE privileges"
		}
		resp.Diagnostics.AddError(summary, err.Error())
		return
	}
	plan.VMID = types.Int64Value(int64(vmid))
	plan.ID = types.StringValue(fmt.Sprintf("%s/%d", node, vmid))
	tflog.Info(ctx, "container creation started", map[string]any{"node": node, "vmid": vmid, "upid": upid})

	// From here on the container exists (or may): whatever fails, it is
	// saved in state so that Terraform taints it and the next apply replaces
	// it; nothing is orphaned.
	fail := func(summary string, err error) {
		resp.Diagnostics.AddError(summary, err.Error())
		r.saveInterim(ctx, &plan, &resp.State, &resp.Diagnostics)
	}
	r.data.fleet.invalidate()
	err = waitCreation(ctx, c, node, vmid, upid)
	release()
	if err != nil {
		// A failed creation that PVE cleaned up leaves nothing to track.
		if exists, cerr := c.ContainerExists(ctx, node, vmid); cerr == nil && !exists {
			resp.Diagnostics.AddError("Container creation failed", err.Error())
			return
		}
		fail("Container creation failed", err)
		return
	}
	// read is the configuration as read after the task: its raw lxc lines
	// are what the node has, as the API writes below never touch them.
	var read *pve.RawConfig
	if plan.Clone != nil {
		if read, err = r.configureClone(ctx, c, &plan); err != nil {
			fail("Cannot configure the cloned container", err)
			return
		}
	}
	if rootDeferred {
		if read, err = r.applyDeferred(ctx, c, &plan); err != nil {
			fail("Cannot apply the settings reserved to root@pam", err)
			return
		}
	}
	if read == nil {
		if read, err = c.ContainerConfig(ctx, node, vmid); err != nil {
			fail("Cannot read the container", err)
			return
		}
	}
	current := read.LXC
	if nodeNeeded(ctx, &plan, current) {
		_, warning, err := r.applyNodeConfig(ctx, &plan, current)
		if warning != "" {
			resp.Diagnostics.AddWarning(parserWarningSummary, warning)
		}
		if err != nil {
			fail("Cannot configure the container on its node", err)
			return
		}
	}
	if plan.Started.ValueBool() || plan.Docker != nil {
		if err := r.start(ctx, c, node, vmid); err != nil {
			fail("Cannot start the container", err)
			return
		}
	}
	if plan.WaitForIP.ValueBool() && plan.Started.ValueBool() {
		if err := waitForAddress(ctx, c, node, vmid); err != nil {
			fail("The container reported no IP address", err)
			return
		}
	}
	if plan.Docker != nil {
		if err := r.runDocker(ctx, &plan, true); err != nil {
			fail(scriptSummary(err, "Docker feature failed"), err)
			return
		}
		resp.Diagnostics.Append(recordDockerSource(ctx, plan.Docker, resp.Private)...)
		if !plan.Started.ValueBool() {
			if err := r.stop(ctx, c, node, vmid); err != nil {
				fail("Cannot stop the container", err)
				return
			}
		}
	}
	if plan.HA != nil {
		// The container is in its planned run state already: HA takes it
		// over from here.
		if err := r.data.createHA(ctx, c, vmid, plan.HA, &resp.Diagnostics); err != nil {
			fail("Cannot add the container to HA", err)
			return
		}
	}
	resp.Diagnostics.Append(r.refresh(ctx, c, &plan)...)
	if resp.Diagnostics.HasError() {
		r.saveInterim(ctx, &plan, &resp.State, &resp.Diagnostics)
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	if resp.Identity != nil {
		resp.Diagnostics.Append(resp.Identity.Set(ctx, identityOf(&plan))...)
	}
}

// createContainer posts the create request, retrying with a fresh ID when
// the ID was taken meanwhile. A POST that may have reached Proxmox VE is
// never repeated blindly.
//
// Settings PVE reserves to root@pam are left out of the request unless the
// identity is root@pam (deferred reports that); Create sets them on the
// node once the container exists.
func (r *lxcContainerResource) createContainer(ctx context.Context, c *pve.Client, plan *lxcContainerModel, password string) (vmid int, upid string, deferred bool, err error) {
	node := plan.NodeName.ValueString()
	chosen := known(plan.VMID)
	for attempt := 1; ; attempt++ {
		vmid, err := r.pickVMID(ctx, c, plan)
		if err != nil {
			return 0, "", false, err
		}
		params, diags := createParams(ctx, plan, int64(vmid), password)
		if diags.HasError() {
			return 0, "", false, fmt.Errorf("%s", diags.Errors()[0].Detail())
		}
		if known(plan.Pool) {
			params["pool"] = plan.Pool.ValueString()
		}
		// The privileges are those of the whole request: what goes to
		// the node needs them as well.
		needs := createNeeds(maps.Clone(params), strconv.Itoa(vmid), plan.Started.ValueBool() || plan.Docker != nil)
		if !r.data.apiIsRootPam() && deferRootOnly(params) {
			deferred = true
		}
		if f, ok := params["features"]; ok && !r.data.apiIsRootPam() {
			if v, later := withoutRootOnlyFeatures(f, params["unprivileged"] == "1"); later {
				deferred = true
				if v == "" {
					delete(params, "features")
				} else {
					params["features"] = v
				}
			}
		}
		if plan.HA != nil {
			needs = append(needs, haNeeds()...)
		}
		if err := r.data.checkPrivileges(ctx, c, needs); err != nil {
			return 0, "", false, err
		}
		upid, err := c.CreateContainer(ctx, node, params)
		if err == nil {
			return vmid, upid, deferred, nil
		}
		if pve.IsAlreadyExists(err) && !chosen && attempt < vmidAttempts {
			tflog.Debug(ctx, "vmid taken meanwhile, retrying with a fresh one", map[string]any{"vmid": vmid, "attempt": attempt})
			continue
		}
		return 0, "", false, err
	}
}

// applyDeferred sets what the create request left out (see createContainer)
// and returns the configuration it read before.
func (r *lxcContainerResource) applyDeferred(ctx context.Context, c *pve.Client, plan *lxcContainerModel) (*pve.RawConfig, error) {
	cfg, desired, err := currentAndDesired(ctx, c, plan)
	if err != nil {
		return nil, err
	}
	return cfg, r.updateConfig(ctx, c, plan.NodeName.ValueString(), int(plan.VMID.ValueInt64()), desired, cfg)
}

// currentAndDesired reads a new container's configuration and renders what
// the plan wants of it.
func currentAndDesired(ctx context.Context, c *pve.Client, plan *lxcContainerModel) (*pve.RawConfig, map[string]string, error) {
	cfg, err := c.ContainerConfig(ctx, plan.NodeName.ValueString(), int(plan.VMID.ValueInt64()))
	if err != nil {
		return nil, nil, err
	}
	desired, diags := desiredConfig(ctx, plan)
	if diags.HasError() {
		return nil, nil, fmt.Errorf("%s", diags.Errors()[0].Detail())
	}
	return cfg, desired, nil
}

func (r *lxcContainerResource) pickVMID(ctx context.Context, c *pve.Client, plan *lxcContainerModel) (int, error) {
	if known(plan.VMID) {
		return int(plan.VMID.ValueInt64()), nil
	}
	return c.NextID(ctx)
}

func (r *lxcContainerResource) cloneContainer(ctx context.Context, c *pve.Client, plan *lxcContainerModel) (int, string, error) {
	node := plan.NodeName.ValueString()
	src := plan.Clone
	srcNode := node
	if known(src.SourceNode) {
		srcNode = src.SourceNode.ValueString()
	}
	chosen := known(plan.VMID)
	for attempt := 1; ; attempt++ {
		vmid, err := r.pickVMID(ctx, c, plan)
		if err != nil {
			return 0, "", err
		}
		params := map[string]string{"newid": strconv.Itoa(vmid)}
		if known(plan.Hostname) {
			params["hostname"] = plan.Hostname.ValueString()
		}
		if known(plan.Description) {
			params["description"] = plan.Description.ValueString()
		}
		if srcNode != node {
			params["target"] = node
		}
		if known(plan.Pool) {
			params["pool"] = plan.Pool.ValueString()
		}
		full := !known(src.Full) || src.Full.ValueBool()
		params["full"] = boolStr(full)
		if known(src.Snapshot) {
			params["snapname"] = src.Snapshot.ValueString()
		}
		if known(src.Storage) {
			params["storage"] = src.Storage.ValueString()
		}
		if err := r.data.checkPrivileges(ctx, c, cloneNeeds(ctx, plan, params, r.data.hasSSHAuth())); err != nil {
			return 0, "", err
		}
		if err := r.checkCloneRootOnly(ctx, c, srcNode, plan); err != nil {
			return 0, "", err
		}
		upid, err := c.CloneContainer(ctx, srcNode, int(src.SourceVMID.ValueInt64()), params)
		if err == nil {
			return vmid, upid, nil
		}
		if pve.IsAlreadyExists(err) && !chosen && attempt < vmidAttempts {
			continue
		}
		return 0, "", err
	}
}

// configureClone applies the settings a clone request cannot carry and grows
// the root file system when asked; it returns the configuration it read
// before.
func (r *lxcContainerResource) configureClone(ctx context.Context, c *pve.Client, plan *lxcContainerModel) (*pve.RawConfig, error) {
	node, vmid := plan.NodeName.ValueString(), int(plan.VMID.ValueInt64())
	cfg, desired, err := currentAndDesired(ctx, c, plan)
	if err != nil {
		return nil, err
	}
	if !plan.Unprivileged.IsUnknown() {
		if got := cfg.Values["unprivileged"] == "1"; got != plan.Unprivileged.ValueBool() {
			return nil, fmt.Errorf("the clone source is %s, but unprivileged = %v: set unprivileged to match the source",
				map[bool]string{true: "unprivileged", false: "privileged"}[got], plan.Unprivileged.ValueBool())
		}
	}
	if err := r.updateConfig(ctx, c, node, vmid, desired, cfg); err != nil {
		return nil, err
	}
	if err := r.growRootFS(ctx, c, plan, cfg); err != nil {
		return nil, err
	}
	return cfg, r.growMountPoints(ctx, c, plan)
}

// growMountPoints resizes, after the configuration is written, the volume
// mount points whose planned size is larger than their volume's.
func (r *lxcContainerResource) growMountPoints(ctx context.Context, c *pve.Client, plan *lxcContainerModel) error {
	if plan.MountPoints.IsNull() || len(plan.MountPoints.Elements()) == 0 {
		return nil
	}
	node, vmid := plan.NodeName.ValueString(), int(plan.VMID.ValueInt64())
	cfg, err := c.ContainerConfig(ctx, node, vmid)
	if err != nil {
		return err
	}
	return growMounts(ctx, plan, cfg.Values, func(disk, size string) error {
		upid, err := c.Resize(ctx, node, vmid, disk, size)
		if err == nil {
			err = c.WaitTask(ctx, upid)
		}
		return err
	})
}

func (r *lxcContainerResource) growRootFS(ctx context.Context, c *pve.Client, plan *lxcContainerModel, cfg *pve.RawConfig) error {
	if plan.RootFS == nil || !known(plan.RootFS.Size) {
		return nil
	}
	want, err := pve.ParseSize(plan.RootFS.Size.ValueString())
	if err != nil {
		return err
	}
	cur, err := pve.ParseRootFS(cfg.Values["rootfs"])
	if err != nil {
		return err
	}
	have, err := pve.ParseSize(cur.Size)
	if err != nil {
		return fmt.Errorf("rootfs of the container has no readable size: %w", err)
	}
	switch {
	case want == have:
		return nil
	case want < have:
		return fmt.Errorf("rootfs is %s and cannot shrink to %s", cur.Size, plan.RootFS.Size.ValueString())
	}
	upid, err := c.Resize(ctx, plan.NodeName.ValueString(), int(plan.VMID.ValueInt64()), "rootfs", pve.FormatSize(want))
	if err != nil {
		return err
	}
	return c.WaitTask(ctx, upid)
}

func (r *lxcContainerResource) start(ctx context.Context, c *pve.Client, node string, vmid int) error {
	defer r.data.fleet.invalidate()
	return powerTask(ctx, c, "start", func() (string, error) { return c.Start(ctx, node, vmid) })
}

func (r *lxcContainerResource) stop(ctx context.Context, c *pve.Client, node string, vmid int) error {
	defer r.data.fleet.invalidate()
	return powerTask(ctx, c, "stop", func() (string, error) { return c.Stop(ctx, node, vmid) })
}

// powerTask starts a start or stop task and waits for it. A task that
// failed because the config was locked (PVE checks the lock in the worker
// too) did nothing, so it is started again with backoff, like a locked call.
func powerTask(ctx context.Context, c *pve.Client, op string, call func() (string, error)) error {
	p := pve.DefaultWritePolicy()
	p.RetryIf = func(err error) bool {
		var te *pve.TaskError
		return errors.As(err, &te) && pve.IsLocked(err)
	}
	return pve.Retry(ctx, op, func() error {
		upid, err := call()
		if err != nil {
			return err
		}
		return c.WaitTask(ctx, upid)
	}, p)
}

// saveInterim stores what is known of a container after a failed step, with
// every unknown value made null, so that Terraform records (and taints) it.
func (r *lxcContainerResource) saveInterim(ctx context.Context, m *lxcContainerModel, state interface {
	Set(context.Context, any) diag.Diagnostics
}, diags *diag.Diagnostics) {
	if m.OSType.IsUnknown() {
		m.OSType = types.StringNull()
	}
	if m.Hostname.IsUnknown() {
		m.Hostname = types.StringNull()
	}
	if m.Docker != nil {
		m.Docker.ServiceActive = types.BoolValue(false)
		nullDockerUnknowns(m.Docker)
	}
	if m.Features.IsUnknown() {
		m.Features = types.ObjectNull(featuresAttrTypes)
	}
	if m.EffectiveAA.IsUnknown() {
		m.EffectiveAA = types.StringNull()
	}
	if m.RootFS != nil && m.RootFS.Volume.IsUnknown() {
		m.RootFS.Volume = types.StringNull()
	}
	if nets, _ := m.networks(ctx); nets != nil {
		for i := range nets {
			if nets[i].HWAddr.IsUnknown() {
				nets[i].HWAddr = types.StringNull()
			}
		}
		diags.Append(m.setNetworks(ctx, nets)...)
	}
	diags.Append(state.Set(ctx, m)...)
}

// refresh reads the container's configuration and status into m.
func (r *lxcContainerResource) refresh(ctx context.Context, c *pve.Client, m *lxcContainerModel) diag.Diagnostics {
	var diags diag.Diagnostics
	if err := r.read(ctx, c, m, &diags, readAfterChange); err != nil {
		diags.AddError("Cannot read the container", err.Error())
	}
	return diags
}

// readMode is why the provider reads a container.
type readMode int

const (
	// readAfterChange follows the provider's own change: the run state is
	// asked of the node, and Docker was just verified by the apply.
	readAfterChange readMode = iota
	// readRefresh is Terraform's refresh: run states come from the fleet
	// cache (one /cluster/resources per run), and the docker block is
	// verified inside the container when verify_on_refresh asks for it.
	readRefresh
)

// read maps the container's configuration and status onto m; API errors are
// returned so that callers can tell a missing container.
func (r *lxcContainerResource) read(ctx context.Context, c *pve.Client, m *lxcContainerModel, diags *diag.Diagnostics, mode readMode) error {
	refresh := mode == readRefresh
	node, vmid := m.NodeName.ValueString(), int(m.VMID.ValueInt64())
	cfg, err := c.ContainerConfig(ctx, node, vmid)
	if err != nil {
		return err
	}
	diags.Append(applyConfig(ctx, m, cfg)...)
	running, err := r.data.runState(ctx, c, node, vmid, refresh)
	if err != nil {
		return err
	}
	m.Started = types.BoolValue(running)
	haState, fleetKnown := r.data.readFleet(ctx, c, m)
	if err := r.data.readHA(ctx, c, m, haState, fleetKnown); err != nil {
		return err
	}
	diags.Append(readAddresses(ctx, c, m, running)...)
	if refresh {
		r.refreshDocker(ctx, m, running, diags)
	}
	nullDockerUnknowns(m.Docker)
	return nil
}

func (r *lxcContainerResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state lxcContainerModel
	resp.Diagnostics.Append(getContainer(ctx, req.State.Raw, &state, req.State.Get)...)
	if resp.Diagnostics.HasError() {
		return
	}
	// The identity first: Terraform wants one even for a container that
	// turns out to be gone (a state written before identities had none).
	if resp.Identity != nil {
		resp.Diagnostics.Append(resp.Identity.Set(ctx, identityOf(&state))...)
	}
	c := r.client(&resp.Diagnostics)
	if c == nil {
		return
	}
	if t := r.expectDockerCheck(&state); t != nil {
		// Until this read has asked, the node's batch of checks waits.
		defer t.release()
		ctx = withDockerTicket(ctx, t)
	}
	if err := r.read(ctx, c, &state, &resp.Diagnostics, readRefresh); err != nil {
		if pve.IsNotFound(err) {
			resp.Diagnostics.AddWarning("Container no longer exists",
				fmt.Sprintf("Container %s was deleted outside Terraform; it is removed from the state and will be created again on apply.", state.ID.ValueString()))
			resp.State.RemoveResource(ctx)
			return
		}
		resp.Diagnostics.AddError("Cannot read the container", err.Error())
		return
	}
	if resp.Diagnostics.HasError() {
		return
	}
	if state.ID.IsNull() || state.ID.ValueString() == "" {
		state.ID = types.StringValue(fmt.Sprintf("%s/%d", state.NodeName.ValueString(), state.VMID.ValueInt64()))
	}
	if v, _ := req.Private.GetKey(ctx, dockerAdoptKey); len(v) > 0 {
		r.adoptDocker(ctx, &state)
		resp.Diagnostics.Append(resp.Private.SetKey(ctx, dockerAdoptKey, nil)...)
	}
	resp.Diagnostics.Append(setContainer(ctx, &state, resp.State.Set)...)
}

func (r *lxcContainerResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state lxcContainerModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	ctx, cancel, c := r.begin(ctx, plan.Timeouts.Update, defaultUpdateTimeout, &resp.Diagnostics)
	defer cancel()
	if c == nil {
		return
	}

	node, vmid := plan.NodeName.ValueString(), int(plan.VMID.ValueInt64())
	cfg, err := c.ContainerConfig(ctx, node, vmid)
	if err != nil {
		resp.Diagnostics.AddError("Cannot read the container", err.Error())
		return
	}
	desired, diags := desiredConfig(ctx, &plan)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	ch := diffConfig(desired, cfg.Values)
	st, err := c.ContainerStatus(ctx, node, vmid)
	if err != nil {
		resp.Diagnostics.AddError("Cannot read the container's status", err.Error())
		return
	}
	running := st.Running()
	needs := updateNeeds(&plan, &state, ch, cfg, running)
	needs = append(needs, poolNeeds(strconv.Itoa(vmid), state.Pool.ValueString(), plan.Pool.ValueString())...)
	needs = append(needs, updateHANeeds(&plan, &state)...)
	if plan.Pool.ValueString() == state.Pool.ValueString() {
		needs = slices.DeleteFunc(needs, func(n privNeed) bool { return n.attr == "pool" })
	}
	if err := r.data.checkPrivileges(ctx, c, needs); err != nil {
		resp.Diagnostics.AddError("Missing Proxmox VE privileges", err.Error())
		return
	}
	r.checkHostPathsOnNode(ctx, &plan, &state, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	rawChanged := false
	if nodeNeeded(ctx, &plan, cfg.LXC) {
		var warning string
		rawChanged, warning, err = r.applyNodeConfig(ctx, &plan, cfg.LXC)
		if warning != "" {
			resp.Diagnostics.AddWarning(parserWarningSummary, warning)
		}
		if err != nil {
			resp.Diagnostics.AddError("Cannot configure the container on its node", err.Error())
			return
		}
	}
	if !ch.empty() {
		tflog.Info(ctx, "updating container configuration", map[string]any{"id": plan.ID.ValueString(), "set": keys(ch.Set), "delete": ch.Delete})
		if err := r.updateConfig(ctx, c, node, vmid, desired, cfg); err != nil {
			resp.Diagnostics.AddError("Cannot update the container", err.Error())
			return
		}
	}
	if err := r.growRootFS(ctx, c, &plan, cfg); err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("rootfs").AtName("size"), "Cannot resize the root file system", err.Error())
		return
	}
	if err := r.growMountPoints(ctx, c, &plan); err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("mount_point"), "Cannot resize a mount point", err.Error())
		return
	}
	if err := r.data.movePool(ctx, c, vmid, state.Pool.ValueString(), plan.Pool.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("pool"), "Cannot change the container's pool", err.Error())
		return
	}
	// HA first: a resource that goes is removed before the provider starts
	// or stops the container itself; one that stays is updated, and then
	// HA brings the container to its run state.
	haFound, viaHA := false, false
	if plan.HA != nil || state.HA != nil {
		r.data.ha.invalidate()
		cur, found, err := r.data.ha.lookup(ctx, c, vmid)
		if err != nil {
			resp.Diagnostics.AddError("Cannot read the container's HA resource", err.Error())
			return
		}
		haFound = found
		switch {
		case found && plan.HA == nil:
			err = c.DeleteHAResource(ctx, pve.ContainerSID(vmid))
		case found:
			set, del := haUpdate(&cur, plan.HA)
			err = c.UpdateHAResource(ctx, pve.ContainerSID(vmid), set, del)
			viaHA = haDrives(plan.HA)
		}
		r.data.ha.invalidate()
		r.data.fleet.invalidate()
		if err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("ha"), "Cannot change the container's HA resource", err.Error())
			return
		}
	}
	start, stop := r.start, r.stop
	if viaHA {
		start = func(ctx context.Context, c *pve.Client, node string, vmid int) error {
			return r.data.setHAState(ctx, c, node, vmid, "started")
		}
		// Back to the planned state (disabled stays disabled), not to
		// stopped, after the container ran for the Docker install.
		stop = func(ctx context.Context, c *pve.Client, node string, vmid int) error {
			return r.data.setHAState(ctx, c, node, vmid, haStopState(plan.HA))
		}
	}
	wantRunning := plan.Started.ValueBool()
	booted := false // the container (re)started: a DHCP or SLAAC address comes back later
	switch {
	case viaHA && running != wantRunning:
		err = waitRunState(ctx, c, node, vmid, wantRunning)
		r.data.fleet.invalidate()
		booted = wantRunning
	case running && !wantRunning:
		err = stop(ctx, c, node, vmid)
	case !running && wantRunning:
		err = start(ctx, c, node, vmid)
		booted = true
	case running && (ch.needsRestart() || rawChanged):
		tflog.Info(ctx, "rebooting the container so that the new settings take effect", map[string]any{"id": plan.ID.ValueString()})
		r.data.fleet.invalidate()
		var upid string
		if upid, err = c.Reboot(ctx, node, vmid); err == nil {
			err = c.WaitTask(ctx, upid)
		}
		booted = true
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot change the container's run state", err.Error())
		return
	}
	if booted && plan.WaitForIP.ValueBool() {
		if err := waitForAddress(ctx, c, node, vmid); err != nil {
			resp.Diagnostics.AddError("The container reported no IP address", err.Error())
			return
		}
	}
	install := plan.Docker != nil && (state.Docker == nil || rawChanged || dockerRunPlanned(plan.Docker))
	if install || dockerTestsPlanned(plan.Docker) {
		// Docker is installed and tested in a running container; one kept
		// stopped is started for it and stopped again, as on create.
		if !wantRunning {
			if err := start(ctx, c, node, vmid); err != nil {
				resp.Diagnostics.AddError("Cannot start the container", err.Error())
				return
			}
		}
		if err := r.runDocker(ctx, &plan, install); err != nil {
			// The configuration is written and the tests that ran are
			// results: the state keeps both, so that the next plan
			// reruns what failed.
			resp.Diagnostics.AddError(scriptSummary(err, "Docker feature failed"), err.Error())
			// Tests with results ran after a successful install and check
			// (or alone): the service's state is what the check read. Any
			// earlier failure saves it inactive, so that the next plan
			// reruns the install.
			active := known(plan.Docker.Tests) && plan.Docker.ServiceActive.ValueBool()
			r.saveInterim(ctx, &plan, &resp.State, &resp.Diagnostics)
			if active {
				resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("docker").AtName("service_active"), true)...)
			}
			return
		}
		resp.Diagnostics.Append(recordDockerSource(ctx, plan.Docker, resp.Private)...)
		if !wantRunning {
			if err := stop(ctx, c, node, vmid); err != nil {
				resp.Diagnostics.AddError("Cannot stop the container", err.Error())
				return
			}
		}
	}
	if plan.HA != nil && !haFound {
		if err := r.data.createHA(ctx, c, vmid, plan.HA, &resp.Diagnostics); err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("ha"), "Cannot add the container to HA", err.Error())
			return
		}
	}
	resp.Diagnostics.Append(r.refresh(ctx, c, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	if resp.Identity != nil {
		resp.Diagnostics.Append(resp.Identity.Set(ctx, identityOf(&plan))...)
	}
}

// digestAttempts bounds how often an update reads the config again after
// another client changed it between the read and the write.
const digestAttempts = 5

// updateConfig writes what desired changes in cfg, guarded by cfg's digest.
// What the API identity may set goes through the API first; settings PVE
// reserves to root@pam follow, with "pct set" on the node (unless the API
// identity is root@pam). When the config changed meanwhile (PVE refuses the
// stale digest, also when an earlier attempt whose answer was lost went
// through), it reads the config again and writes what is still missing.
func (r *lxcContainerResource) updateConfig(ctx context.Context, c *pve.Client, node string, vmid int, desired map[string]string, cfg *pve.RawConfig) error {
	for attempt := 1; ; attempt++ {
		ch := diffConfig(desired, cfg.Values)
		if ch.empty() {
			return nil
		}
		if attempt > 2*digestAttempts {
			return fmt.Errorf("the configuration of container %d keeps changing under another client: %d writes did not settle it", vmid, attempt-1)
		}
		api, root := splitRootOnly(ch, cfg.Values, r.data.apiIsRootPam())
		var err error
		if api.empty() {
			logRootOnly(ctx, node, vmid, root)
			err = r.data.NodeOps().SetConfigAsRoot(ctx, node, vmid, root.Set, root.Delete, cfg.Digest)
			if err == nil || !errors.Is(err, errDigestChanged) || attempt >= digestAttempts {
				return err
			}
		} else {
			err = c.UpdateContainerConfig(ctx, node, vmid, api.Set, api.Delete, cfg.Digest)
			switch {
			case err == nil && root.empty():
				return nil
			case err != nil && (!pve.IsDigestMismatch(err) || attempt >= digestAttempts):
				return err
			}
			// Written (the digest changed) or refused as stale: read the
			// config again for what is left.
		}
		tflog.Debug(ctx, "config changed since it was read: reading it again", map[string]any{"node": node, "vmid": vmid, "attempt": attempt})
		if cfg, err = c.ContainerConfig(ctx, node, vmid); err != nil {
			return err
		}
	}
}

// waitCreation waits for a create or clone task, or, when the request's
// answer was lost but the container appeared (no UPID), for its creation
// lock to go.
func waitCreation(ctx context.Context, c *pve.Client, node string, vmid int, upid string) error {
	if upid == "" {
		return c.WaitCreated(ctx, node, vmid)
	}
	return c.WaitTask(ctx, upid)
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func (r *lxcContainerResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state lxcContainerModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	ctx, cancel, c := r.begin(ctx, state.Timeouts.Delete, defaultDeleteTimeout, &resp.Diagnostics)
	defer cancel()
	node, vmid := state.NodeName.ValueString(), int(state.VMID.ValueInt64())
	if c == nil || node == "" || vmid == 0 {
		return
	}
	st, err := c.ContainerStatus(ctx, node, vmid)
	if pve.IsNotFound(err) {
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot read the container's status", err.Error())
		return
	}
	if st.Lock != "" {
		tflog.Debug(ctx, "container is locked; destroy waits for the lock", map[string]any{"lock": st.Lock})
	}
	needs := []privNeed{{path: vmsPath(strconv.Itoa(vmid)), privs: []string{"VM.Allocate"}, attr: "the destroy"}}
	if st.Running() {
		needs = append(needs, privNeed{path: vmsPath(strconv.Itoa(vmid)), privs: []string{"VM.PowerMgmt"}, attr: "stopping before the destroy"})
	}
	if state.HA != nil {
		needs = append(needs, privNeed{path: "/", privs: []string{"Sys.Console"}, attr: "removing the HA resource before the destroy"})
	}
	if err := r.data.checkPrivileges(ctx, c, needs); err != nil {
		resp.Diagnostics.AddError("Missing Proxmox VE privileges", err.Error())
		return
	}
	if state.HA != nil {
		// Out of HA first, so that HA does not start the container again
		// while it is stopped and destroyed.
		if err := c.DeleteHAResource(ctx, pve.ContainerSID(vmid)); err != nil {
			resp.Diagnostics.AddError("Cannot remove the container's HA resource", err.Error())
			return
		}
		r.data.ha.invalidate()
	}
	if st.Running() {
		if err := r.stop(ctx, c, node, vmid); err != nil && !pve.IsNotFound(err) {
			resp.Diagnostics.AddError("Cannot stop the container", err.Error())
			return
		}
	}
	// Not destroy-unreferenced-disks: PVE frees what the config references
	// (unusedN included); a volume named for this container that it does
	// not reference (reassigned to it outside its config, or held by
	// another guest) is left alone.
	upid, err := c.DeleteContainer(ctx, node, vmid, pve.DeleteOptions{Purge: true})
	if pve.IsNotFound(err) || (err == nil && upid == "") {
		return
	}
	if err == nil {
		err = c.WaitTask(ctx, upid)
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot destroy the container", err.Error())
	}
}

// ImportState adopts a container by "node/vmid" or by bare "vmid", or by
// its identity (an import block's identity, Terraform 1.12 or newer).
func (r *lxcContainerResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	var node string
	var vmid int
	if req.ID == "" && req.Identity != nil {
		var id lxcContainerIdentity
		resp.Diagnostics.Append(req.Identity.Get(ctx, &id)...)
		if resp.Diagnostics.HasError() {
			return
		}
		node, vmid = id.NodeName.ValueString(), int(id.VMID.ValueInt64())
		if vmid < 100 || vmid > 999999999 {
			resp.Diagnostics.AddAttributeError(path.Root("vmid"), "Invalid import identity",
				fmt.Sprintf("vmid = %d is not a container ID (100 to 999999999).", vmid))
			return
		}
		if node != "" && !nodeNamePattern.MatchString(node) {
			resp.Diagnostics.AddAttributeError(path.Root("node_name"), "Invalid import identity",
				fmt.Sprintf("node_name = %q is not a Proxmox VE node name.", node))
			return
		}
	} else {
		n, idStr, hasNode := strings.Cut(req.ID, "/")
		if !hasNode {
			idStr, n = n, ""
		}
		id, err := strconv.Atoi(idStr)
		if err != nil || id < 100 || id > 999999999 {
			resp.Diagnostics.AddError("Invalid import ID",
				fmt.Sprintf("%q is not NODE/VMID or VMID (e.g. pve1/102 or 102).", req.ID))
			return
		}
		node, vmid = n, id
	}
	if node == "" {
		c := r.client(&resp.Diagnostics)
		if c == nil {
			return
		}
		found, ok, err := c.FindContainer(ctx, vmid)
		if err != nil {
			resp.Diagnostics.AddError("Cannot look up the container", err.Error())
			return
		}
		if !ok {
			resp.Diagnostics.AddError("Container not found", fmt.Sprintf("No container %d exists in the cluster.", vmid))
			return
		}
		node = found
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), fmt.Sprintf("%s/%d", node, vmid))...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("node_name"), node)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("vmid"), int64(vmid))...)
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, importedKey, []byte("true"))...)
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, dockerAdoptKey, []byte("true"))...)
	if resp.Identity != nil {
		resp.Diagnostics.Append(resp.Identity.Set(ctx, &lxcContainerIdentity{NodeName: types.StringValue(node), VMID: types.Int64Value(int64(vmid))})...)
	}
}

// scriptSummary is the diagnostic title for an error from the node.
func scriptSummary(err error, fallback string) string {
	var se *scriptError
	if errors.As(err, &se) {
		return se.Summary()
	}
	return fallback
}
