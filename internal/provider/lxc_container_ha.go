package provider

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/pve"
)

// The container's resource pool and its HA resource. Neither is a key of
// the container's config: PVE keeps pools in user.cfg (the pool field of
// /cluster/resources reports them, read from the fleet cache at no cost per
// container) and HA resources in ha/resources.cfg (GET
// /cluster/ha/resources, read once per run and only when a container has
// an ha block or the fleet's hastate says it has an HA resource).

// poolPattern is pve-access-control's verify_poolname: up to three levels.
var poolPattern = regexp.MustCompile(`^[A-Za-z0-9.\-_]+(?:/[A-Za-z0-9.\-_]+){0,2}$`)

func poolAttribute() schema.StringAttribute {
	return optString("Resource pool the container belongs to; the pool must exist. Changing it moves the container "+
		"to the other pool in place, in one call (Proxmox VE 8.1 or later); removing it takes the container out of its "+
		"pool. Reading it needs `Pool.Audit` on the pool; moving or removing needs `Pool.Allocate` on the pools "+
		"involved (see the permissions guide).",
		stringvalidator.RegexMatches(poolPattern, "must be a pool name (letters, digits, '.', '-', '_', up to three levels separated by '/')"))
}

// haStates are the requested states PVE's HA stack knows.
var haStates = []string{"started", "stopped", "enabled", "disabled", "ignored"}

func haBlock() schema.SingleNestedBlock {
	return schema.SingleNestedBlock{
		MarkdownDescription: "Manage the container with Proxmox VE's HA stack (the HA resource `ct:<vmid>`). While HA manages " +
			"it (any state but `ignored`), HA starts and stops the container: `started` must agree with `state`, and the " +
			"provider changes the run state through HA. HA groups (Proxmox VE 8) and HA rules (Proxmox VE 9) are left " +
			"alone. An HA resource added outside Terraform shows as a change. Needs `Sys.Audit` on `/`, and `Sys.Console` on " +
			"`/` to add, change or remove the HA resource.",
		Attributes: map[string]schema.Attribute{
			"state": optString("Requested state: `started` (the default; `enabled` is its alias), `stopped`, `disabled` "+
				"(stopped, and not recovered on node failure) or `ignored` (HA leaves the container alone).",
				stringvalidator.OneOf(haStates...)),
			"max_restart":  optInt64("Restart attempts on the node after a failed start; Proxmox VE's default (1) when unset.", int64validator.AtLeast(0)),
			"max_relocate": optInt64("Relocations to another node after failed starts; Proxmox VE's default (1) when unset.", int64validator.AtLeast(0)),
			"comment":      optString("Comment of the HA resource.", stringvalidator.LengthAtMost(4096)),
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
// The rule needs both values; while either is unknown no value of the
// other contradicts it, and Terraform validates the configuration again
// once they are known, before the apply changes anything.
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

// readFleet sets m.Pool from the cluster's view (the fleet cache: no
// request of its own during a refresh) and returns the container's HA
// state there ("" without an HA resource; known false when the cache
// cannot answer).
func (d *providerData) readFleet(ctx context.Context, c *pve.Client, m *lxcContainerModel) (haState string, known bool) {
	r, ok := d.fleet.lookup(ctx, c, m.NodeName.ValueString(), int(m.VMID.ValueInt64()))
	if !ok {
		return "", false
	}
	if r.Pool == "" {
		m.Pool = types.StringNull()
	} else {
		m.Pool = types.StringValue(r.Pool)
	}
	return r.HAState, true
}

// readHA sets m.HA from the cluster's HA resources. A container without
// an ha block costs no HA request: the fleet's hastate tells whether it
// has an HA resource (added outside Terraform), and only then are the
// resources read, so that the plan shows its removal. Without Sys.Audit
// to read them, the block is built from the hastate alone.
func (d *providerData) readHA(ctx context.Context, c *pve.Client, m *lxcContainerModel, haState string, fleetKnown bool) error {
	if m.HA == nil && (!fleetKnown || haState == "") {
		// No ha block and no hastate to say otherwise: when the fleet
		// cannot answer (a container it does not list yet), nothing is
		// read, and the next refresh sees an HA resource added meanwhile.
		return nil
	}
	r, found, err := d.ha.lookup(ctx, c, int(m.VMID.ValueInt64()))
	var ae *pve.APIError
	switch {
	case err != nil && m.HA == nil && errors.As(err, &ae) && ae.Status == http.StatusForbidden:
		m.HA = &haModel{State: types.StringValue(haState), MaxRestart: types.Int64Null(), MaxRelocate: types.Int64Null(), Comment: types.StringNull()}
		return nil
	case err != nil:
		return err
	case !found:
		m.HA = nil
		return nil
	}
	m.HA = haFromResource(r, m.HA)
	return nil
}

// movePool puts container vmid into pool to, out of pool from: one call
// (MoveToPool), or the removal from its pool when to is empty.
func (d *providerData) movePool(ctx context.Context, c *pve.Client, vmid int, from, to string) error {
	defer d.fleet.invalidate()
	switch {
	case from == to:
		return nil
	case to == "":
		if err := c.RemoveFromPool(ctx, from, vmid); err != nil {
			return fmt.Errorf("taking the container out of pool %s: %w", from, err)
		}
	default:
		if err := c.MoveToPool(ctx, to, vmid); err != nil {
			return fmt.Errorf("moving the container to pool %s: %w", to, err)
		}
	}
	return nil
}

// poolNeeds are the privileges of moving container vmid between pools
// (PVE::API2::Pool update_pool: Pool.Allocate on the pool, on the pool the
// guest leaves too, and check_perm_modify on the guest) and of reading its
// pool back (PVE::API2::Cluster resources shows a guest's pool only to
// holders of Pool.Audit on it).
func poolNeeds(vmid, from, to string) []privNeed {
	var out []privNeed
	for _, p := range []string{from, to} {
		if p != "" {
			out = append(out, privNeed{path: "/pool/" + p, privs: []string{"Pool.Allocate"}, attr: "pool"})
		}
	}
	if len(out) > 0 {
		out = append(out, privNeed{path: vmsPath(vmid), privs: []string{"VM.Allocate", "Permissions.Modify"}, attr: "pool"})
	}
	if to != "" {
		out = append(out, poolAuditNeed(to))
	}
	return out
}

// poolAuditNeed is the privilege of reading a container's pool back.
func poolAuditNeed(pool string) privNeed {
	return privNeed{path: "/pool/" + pool, privs: []string{"Pool.Audit"}, attr: "pool (reading it back)"}
}

// haReadNeeds are the privileges of reading an HA resource (Sys.Audit on
// /), haWriteNeeds those of adding, changing or removing one (Sys.Console
// on /).
func haReadNeeds() []privNeed {
	return []privNeed{{path: "/", privs: []string{"Sys.Audit"}, attr: "ha (reading it back)"}}
}

func haWriteNeeds() []privNeed {
	return []privNeed{{path: "/", privs: []string{"Sys.Console"}, attr: "ha"}}
}

// haNeeds are the privileges of creating an HA resource and reading it
// back.
func haNeeds() []privNeed { return append(haWriteNeeds(), haReadNeeds()...) }

// haSame reports whether two ha blocks ask the same of HA.
func haSame(a, b *haModel) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.State.Equal(b.State) && a.MaxRestart.Equal(b.MaxRestart) && a.MaxRelocate.Equal(b.MaxRelocate) && a.Comment.Equal(b.Comment)
}

// updateHANeeds are the HA privileges of an update: reading the resource
// whenever there is one, and writing it only when the block changes or
// the run state goes through HA (a Docker install in a container kept
// stopped starts and stops it through HA).
func updateHANeeds(plan, state *lxcContainerModel) []privNeed {
	if plan.HA == nil && state.HA == nil {
		return nil
	}
	out := haReadNeeds()
	if !haSame(plan.HA, state.HA) || haDrives(plan.HA) && plan.Docker != nil && !plan.Started.ValueBool() {
		out = append(out, haWriteNeeds()...)
	}
	return out
}

// waitRunState waits until HA has brought the container to the run state
// it asks for. It gives up at once when HA stops managing the container
// (the resource was removed or set to ignored) or puts it in the error
// state, which HA leaves only when the resource is disabled.
func waitRunState(ctx context.Context, c *pve.Client, node string, vmid int, running bool) error {
	verb := map[bool]string{true: "started", false: "stopped"}[running]
	delay := 200 * time.Millisecond
	for {
		st, err := c.ContainerStatus(ctx, node, vmid)
		if err != nil {
			return err
		}
		if st.Running() == running {
			return nil
		}
		switch {
		case st.HA.Managed == 0:
			return fmt.Errorf("container %d is no longer managed by HA (its HA resource %s was removed or set to ignored) "+
				"while the provider waited for HA to have it %s", vmid, pve.ContainerSID(vmid), verb)
		case st.HA.State == "error":
			return fmt.Errorf("the HA stack put %s in the error state instead of having it %s: see `ha-manager status` and the "+
				"HA task log on node %s; HA leaves the error state only when the resource is disabled (ha.state = \"disabled\"), "+
				"after which it can be started again", pve.ContainerSID(vmid), verb, node)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the HA stack has not %s container %d yet: %w", verb, vmid, ctx.Err())
		case <-time.After(delay):
		}
		if delay < 2*time.Second {
			delay *= 2
		}
	}
}

// createHA adds the container's HA resource. When PVE already has one
// (made outside Terraform, or by a request of this apply whose answer was
// lost), it is updated to the configuration instead, refusing a change
// made meanwhile (digest); a warning names what differed.
func (d *providerData) createHA(ctx context.Context, c *pve.Client, vmid int, h *haModel, diags *diag.Diagnostics) error {
	defer d.fleet.invalidate()
	defer d.ha.invalidate()
	sid := pve.ContainerSID(vmid)
	err := c.CreateHAResource(ctx, sid, haCreateOptions(h))
	if err == nil || !pve.IsHAAlreadyDefined(err) {
		return err
	}
	cur, err := c.GetHAResource(ctx, sid)
	if err != nil {
		return fmt.Errorf("%s exists already and cannot be read: %w", sid, err)
	}
	set, del := haUpdate(&cur, h)
	if len(set) == 0 && len(del) == 0 {
		return nil
	}
	if err := c.UpdateHAResource(ctx, sid, set, del, cur.Digest); err != nil {
		return fmt.Errorf("%s exists already with other settings and cannot be updated to the configuration: %w", sid, err)
	}
	changed := make([]string, 0, len(set)+len(del))
	for _, k := range slices.Sorted(maps.Keys(set)) {
		changed = append(changed, k+" = "+set[k])
	}
	for _, k := range del {
		changed = append(changed, k+" reset to Proxmox VE's default")
	}
	diags.AddAttributeWarning(path.Root("ha"), "Existing HA resource taken over",
		fmt.Sprintf("Container %d already had the HA resource %s, with other settings; it now has the configuration's (%s).",
			vmid, sid, strings.Join(changed, ", ")))
	return nil
}

// setHAState sets the HA resource's state (one HA manages the run state
// with: started, stopped or disabled) and waits for the run state it asks.
func (d *providerData) setHAState(ctx context.Context, c *pve.Client, node string, vmid int, state string) error {
	defer d.fleet.invalidate()
	defer d.ha.invalidate()
	_, running := haRunState(state)
	if err := c.UpdateHAResource(ctx, pve.ContainerSID(vmid), map[string]string{"state": state}, nil); err != nil {
		return err
	}
	return waitRunState(ctx, c, node, vmid, running)
}

// haStopState is the HA state that stops the container for h: its own
// when that keeps the container stopped (stopped, disabled), so that a
// container started for a while (to install Docker) ends in the planned
// HA state, else stopped.
func haStopState(h *haModel) string {
	if h != nil && known(h.State) {
		if managed, running := haRunState(h.State.ValueString()); managed && !running {
			return h.State.ValueString()
		}
	}
	return "stopped"
}
