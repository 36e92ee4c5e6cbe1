package provider

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/pve"
)

// The container's resource pool and its HA resource. Neither is a key of
// the container's config: PVE keeps pools in user.cfg (the pool field of
// /cluster/resources reports them, read from the fleet cache at no cost per
// container) and HA resources in ha/resources.cfg (GET
// /cluster/ha/resources, read once per run and only for containers that
// have an ha block).

// poolPattern is pve-access-control's verify_poolname: up to three levels.
var poolPattern = regexp.MustCompile(`^[A-Za-z0-9.\-_]+(?:/[A-Za-z0-9.\-_]+){0,2}$`)

func poolAttribute() schema.StringAttribute {
	return schema.StringAttribute{
		MarkdownDescription: "Resource pool the container belongs to; the pool must exist. Changing it moves the container " +
			"to the other pool in place; removing it takes the container out of its pool. Moving or removing needs " +
			"`Pool.Allocate` on the pools involved (see the permissions guide).",
		Optional: true,
		Validators: []validator.String{
			stringvalidator.RegexMatches(poolPattern, "must be a pool name (letters, digits, '.', '-', '_', up to three levels separated by '/')"),
		},
	}
}

// haStates are the requested states PVE's HA stack knows.
var haStates = []string{"started", "stopped", "enabled", "disabled", "ignored"}

func haBlock() schema.SingleNestedBlock {
	return schema.SingleNestedBlock{
		MarkdownDescription: "Manage the container with Proxmox VE's HA stack (the HA resource `ct:<vmid>`). While HA manages " +
			"it (any state but `ignored`), HA starts and stops the container: `started` must agree with `state`, and the " +
			"provider changes the run state through HA. HA groups (Proxmox VE 8) and HA rules (Proxmox VE 9) are left " +
			"alone. Needs `Sys.Console` and `Sys.Audit` on `/`.",
		Attributes: map[string]schema.Attribute{
			"state": schema.StringAttribute{
				MarkdownDescription: "Requested state: `started` (the default; `enabled` is its alias), `stopped`, `disabled` " +
					"(stopped, and not recovered on node failure) or `ignored` (HA leaves the container alone).",
				Optional:   true,
				Validators: []validator.String{stringvalidator.OneOf(haStates...)},
			},
			"max_restart": schema.Int64Attribute{
				MarkdownDescription: "Restart attempts on the node after a failed start; Proxmox VE's default (1) when unset.",
				Optional:            true,
				Validators:          []validator.Int64{int64validator.AtLeast(0)},
			},
			"max_relocate": schema.Int64Attribute{
				MarkdownDescription: "Relocations to another node after failed starts; Proxmox VE's default (1) when unset.",
				Optional:            true,
				Validators:          []validator.Int64{int64validator.AtLeast(0)},
			},
			"comment": schema.StringAttribute{
				MarkdownDescription: "Comment of the HA resource.",
				Optional:            true,
				Validators:          []validator.String{stringvalidator.LengthAtMost(4096)},
			},
		},
	}
}

type haModel struct {
	State       types.String `tfsdk:"state"`
	MaxRestart  types.Int64  `tfsdk:"max_restart"`
	MaxRelocate types.Int64  `tfsdk:"max_relocate"`
	Comment     types.String `tfsdk:"comment"`
}

// haRunState is what an HA state asks of the container: managed is false
// for ignored (HA leaves the run state to the provider), running whether
// HA keeps it running.
func haRunState(state string) (managed, running bool) {
	switch state {
	case "", "started", "enabled":
		return true, true
	case "ignored":
		return false, false
	}
	return true, false
}

// haDrives reports whether h makes HA manage the run state.
func haDrives(h *haModel) bool {
	if h == nil || h.State.IsUnknown() {
		return false
	}
	managed, _ := haRunState(h.State.ValueString())
	return managed
}

// validateHA refuses a configuration whose started contradicts the HA
// state: while HA manages the container, it alone starts and stops it.
func validateHA(m *lxcContainerModel, diags *diag.Diagnostics) {
	if m.HA == nil || m.HA.State.IsUnknown() || m.Started.IsUnknown() {
		return
	}
	state := m.HA.State.ValueString()
	managed, running := haRunState(state)
	if !managed {
		return
	}
	started := m.Started.IsNull() || m.Started.ValueBool()
	if started == running {
		return
	}
	if state == "" {
		state = "started (the default)"
	}
	diags.AddAttributeError(path.Root("ha").AtName("state"), "started contradicts the HA state",
		fmt.Sprintf("ha.state is %s, so Proxmox VE's HA stack keeps the container %s, but started = %v. "+
			"Set started = %v, or ha.state = \"ignored\" to leave the run state to started.",
			state, map[bool]string{true: "running", false: "stopped"}[running], started, running))
}

// haCreateOptions are the options of a new HA resource for h.
func haCreateOptions(h *haModel) map[string]string {
	out := map[string]string{}
	if known(h.State) {
		out["state"] = h.State.ValueString()
	}
	if known(h.MaxRestart) {
		out["max_restart"] = strconv.FormatInt(h.MaxRestart.ValueInt64(), 10)
	}
	if known(h.MaxRelocate) {
		out["max_relocate"] = strconv.FormatInt(h.MaxRelocate.ValueInt64(), 10)
	}
	if known(h.Comment) && h.Comment.ValueString() != "" {
		out["comment"] = h.Comment.ValueString()
	}
	return out
}

// haUpdate is what changes the HA resource cur into h: the options to set
// and those to delete (an unset option goes back to PVE's default).
func haUpdate(cur *pve.HAResource, h *haModel) (set map[string]string, del []string) {
	set = map[string]string{}
	want := haCreateOptions(h)
	have := map[string]string{}
	if cur.State != "" {
		have["state"] = cur.State
	}
	if cur.HasMaxRestart {
		have["max_restart"] = strconv.FormatInt(int64(cur.MaxRestart), 10)
	}
	if cur.HasMaxRelocate {
		have["max_relocate"] = strconv.FormatInt(int64(cur.MaxRelocate), 10)
	}
	if cur.Comment != "" {
		have["comment"] = cur.Comment
	}
	for _, k := range []string{"state", "max_restart", "max_relocate", "comment"} {
		w, ok := want[k]
		switch {
		case ok && have[k] != w:
			set[k] = w
		case !ok && have[k] != "":
			del = append(del, k)
		}
	}
	return set, del
}

// haFromResource maps an HA resource onto the model, keeping the prior
// spelling of values PVE leaves out (null) or aliases.
func haFromResource(r pve.HAResource, prior *haModel) *haModel {
	if prior == nil {
		prior = &haModel{State: types.StringNull(), MaxRestart: types.Int64Null(), MaxRelocate: types.Int64Null(), Comment: types.StringNull()}
	}
	out := &haModel{State: types.StringNull(), MaxRestart: types.Int64Null(), MaxRelocate: types.Int64Null(), Comment: types.StringNull()}
	if r.State != "" || known(prior.State) {
		out.State = types.StringValue(r.State)
		if r.State == "" {
			out.State = types.StringValue("started")
		}
	}
	if r.HasMaxRestart {
		out.MaxRestart = types.Int64Value(int64(r.MaxRestart))
	}
	if r.HasMaxRelocate {
		out.MaxRelocate = types.Int64Value(int64(r.MaxRelocate))
	}
	if r.Comment != "" {
		out.Comment = types.StringValue(r.Comment)
	}
	return out
}

// haTTL bounds how long one GET /cluster/ha/resources serves every
// container's read.
const haTTL = 15 * time.Second

// haCache holds the cluster's HA resources, fetched once for many reads.
type haCache struct {
	mu      sync.Mutex
	fetched time.Time
	bySID   map[string]pve.HAResource
	gen     uint64
}

func (h *haCache) invalidate() {
	h.mu.Lock()
	h.bySID = nil
	h.gen++
	h.mu.Unlock()
}

// lookup returns the HA resource of container vmid (found false when it
// has none). Concurrent reads share one request.
func (h *haCache) lookup(ctx context.Context, c *pve.Client, vmid int) (pve.HAResource, bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.bySID == nil || time.Since(h.fetched) >= haTTL {
		res, err := c.HAResources(ctx)
		if err != nil {
			return pve.HAResource{}, false, err
		}
		h.bySID = make(map[string]pve.HAResource, len(res))
		for _, r := range res {
			h.bySID[r.SID] = r
		}
		h.fetched = time.Now()
	}
	r, ok := h.bySID[pve.ContainerSID(vmid)]
	return r, ok, nil
}

// readPool sets m.Pool from the cluster's view (the fleet cache): no
// request of its own during a refresh.
func (d *providerData) readPool(ctx context.Context, c *pve.Client, m *lxcContainerModel) {
	r, ok := d.fleet.lookup(ctx, c, m.NodeName.ValueString(), int(m.VMID.ValueInt64()))
	if !ok {
		return
	}
	if r.Pool == "" {
		m.Pool = types.StringNull()
		return
	}
	m.Pool = types.StringValue(r.Pool)
}

// readHA sets m.HA from the cluster's HA resources.
func (d *providerData) readHA(ctx context.Context, c *pve.Client, m *lxcContainerModel) error {
	r, found, err := d.ha.lookup(ctx, c, int(m.VMID.ValueInt64()))
	if err != nil {
		return err
	}
	if !found {
		m.HA = nil
		return nil
	}
	m.HA = haFromResource(r, m.HA)
	return nil
}

// movePool takes container vmid out of pool from and into pool to.
func (d *providerData) movePool(ctx context.Context, c *pve.Client, vmid int, from, to string) error {
	defer d.fleet.invalidate()
	if from == to {
		return nil
	}
	if from != "" {
		if err := c.RemoveFromPool(ctx, from, vmid); err != nil {
			return fmt.Errorf("taking the container out of pool %s: %w", from, err)
		}
	}
	if to != "" {
		if err := c.AddToPool(ctx, to, vmid); err != nil {
			return fmt.Errorf("adding the container to pool %s: %w", to, err)
		}
	}
	return nil
}

// poolNeeds are the privileges of moving container vmid between pools
// (PVE::API2::Pool update_pool: Pool.Allocate on the pool, and
// check_perm_modify on the guest).
func poolNeeds(vmid, from, to string) []privNeed {
	var out []privNeed
	for _, p := range []string{from, to} {
		if p != "" {
			out = append(out, privNeed{"/pool/" + p, []string{"Pool.Allocate"}, "pool"})
		}
	}
	if len(out) > 0 {
		out = append(out, privNeed{vmsPath(vmid), []string{"VM.Allocate", "Permissions.Modify"}, "pool"})
	}
	return out
}

// haNeeds are the privileges of changing an HA resource (Sys.Console on /)
// and of reading it back (Sys.Audit on /).
func haNeeds() []privNeed {
	return []privNeed{{"/", []string{"Sys.Console"}, "ha"}, {"/", []string{"Sys.Audit"}, "ha (reading it back)"}}
}

// waitRunState waits until HA has brought the container to the run state
// it asks for.
func waitRunState(ctx context.Context, c *pve.Client, node string, vmid int, running bool) error {
	delay := 200 * time.Millisecond
	for {
		st, err := c.ContainerStatus(ctx, node, vmid)
		if err != nil {
			return err
		}
		if st.Running() == running {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the HA stack has not %s container %d yet: %w", map[bool]string{true: "started", false: "stopped"}[running], vmid, ctx.Err())
		case <-time.After(delay):
		}
		if delay < 2*time.Second {
			delay *= 2
		}
	}
}

// setHAState asks HA for a run state and waits for it.
func (d *providerData) setHAState(ctx context.Context, c *pve.Client, node string, vmid int, running bool) error {
	defer d.fleet.invalidate()
	defer d.ha.invalidate()
	state := "stopped"
	if running {
		state = "started"
	}
	if err := c.UpdateHAResource(ctx, pve.ContainerSID(vmid), map[string]string{"state": state}, nil); err != nil {
		return err
	}
	return waitRunState(ctx, c, node, vmid, running)
}
