package provider

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/pve"
)

// The id_map blocks: the user and group ID mapping of an unprivileged
// container, kept as raw "lxc.idmap: u 0 100000 65536" lines of its config
// file. Proxmox VE has no API key for them (raw lxc.* lines cannot be set
// through the API), so they are written over SSH with the other raw lines
// (lxc_container_node.go). Without any lxc.idmap line PVE maps container
// IDs 0-65535 to host IDs 100000-165535 (PVE::LXC::update_lxc_config and
// parse_id_maps); with one, that default is dropped for both kinds.

// lxcKeyIDMap is the raw key of an ID mapping line.
const lxcKeyIDMap = "lxc.idmap"

// idMapMaxID is the largest ID of a mapping.
const idMapMaxID = pve.MaxID

// idMapSystemIDs: host IDs below it belong to the node's system users and
// groups (Debian's dynamic system range ends at 999).
const idMapSystemIDs = 1000

// privilegedGroups are Debian's groups whose members read the node's disks
// (disk), memory (kmem) or password hashes (shadow), or may become root
// (sudo).
var privilegedGroups = []int64{6, 15, 27, 42}

// rangeHolds reports whether first..first+size-1 holds one of ids.
func rangeHolds(first, size int64, ids ...int64) bool {
	for _, id := range ids {
		if id >= first && id < first+size {
			return true
		}
	}
	return false
}

// idMapRequired is the container range every kind must cover: the IDs a
// Linux system uses, root and nobody (65534) included.
const idMapRequired = 65535

// idMapKinds maps the kind attribute to PVE's letter.
var idMapKinds = map[string]string{"uid": "u", "gid": "g"}

type idMapModel struct {
	Kind        types.String `tfsdk:"kind"`
	ContainerID types.Int64  `tfsdk:"container_id"`
	HostID      types.Int64  `tfsdk:"host_id"`
	Size        types.Int64  `tfsdk:"size"`
}

var idMapObjectType = types.ObjectType{AttrTypes: map[string]attr.Type{
	"kind": types.StringType, "container_id": types.Int64Type, "host_id": types.Int64Type, "size": types.Int64Type,
}}

func idMapBlock() schema.ListNestedBlock {
	return schema.ListNestedBlock{
		MarkdownDescription: "User and group ID mapping of an unprivileged container, written as `lxc.idmap` lines of its " +
			"configuration file over SSH (Proxmox VE's API cannot set raw `lxc.*` lines). Without any block Proxmox VE's " +
			"default applies (container IDs 0-65535 on host IDs 100000-165535, for users and groups) and no line is " +
			"written. With blocks, each kind must map container IDs 0 to 65535 exactly once (the plan names missing or " +
			"doubled IDs), host ranges of a kind must not overlap, and `unprivileged` must be `true`. A host range that " +
			"contains 0 gives the container the node's root and is refused: a container that is meant to be root on the node is " +
			"a privileged one (`unprivileged = false`, without `id_map`). LXC applies " +
			"the map when the container starts, so a change restarts a running container. Proxmox VE does not change the " +
			"owners of existing files: after a change, files in the root file system and mount points keep their host " +
			"owners and must be shifted by the administrator (the plan warns). A new container's template is unpacked with " +
			"the default map, before the blocks are written. `lxc.idmap` lines belong to these blocks, never to `lxc_config`.",
		Validators: []validator.List{listvalidator.SizeAtMost(256)},
		NestedObject: schema.NestedBlockObject{Attributes: map[string]schema.Attribute{
			"kind":         reqString("`uid` (users, PVE's `u`) or `gid` (groups, PVE's `g`).", stringvalidator.OneOf("uid", "gid")),
			"container_id": reqInt64("First ID of the range inside the container.", int64validator.Between(0, idMapMaxID)),
			"host_id":      reqInt64("First ID of the range on the node.", int64validator.Between(0, idMapMaxID)),
			"size":         reqInt64("Number of IDs in the range (at least 1).", int64validator.Between(1, idMapMaxID+1)),
		}},
	}
}

// idMaps returns the id_map blocks; nil when null or unknown.
func (m *lxcContainerModel) idMaps(ctx context.Context) ([]idMapModel, diag.Diagnostics) {
	return listElements[idMapModel](ctx, m.IDMap)
}

// idMapEntry is one mapping with known values; kind is PVE's letter.
type idMapEntry struct {
	kind           string
	ct, host, size int64
	index          int // position in the id_map list
}

func (e idMapEntry) line() string {
	return pve.IDMap{Kind: e.kind, Container: e.ct, Host: e.host, Size: e.size}.String()
}

// kindName is the kind attribute's value for PVE's letter.
func kindName(letter string) string {
	for k, l := range idMapKinds {
		if l == letter {
			return k
		}
	}
	return letter
}

// idMapEntries returns the blocks as entries; complete is false when a
// value is not known yet (a block over a value known only at apply).
func idMapEntries(ctx context.Context, m *lxcContainerModel) (entries []idMapEntry, complete bool, diags diag.Diagnostics) {
	if m.IDMap.IsUnknown() {
		return nil, false, nil
	}
	blocks, diags := m.idMaps(ctx)
	complete = true
	for i, b := range blocks {
		if !known(b.Kind) || !known(b.ContainerID) || !known(b.HostID) || !known(b.Size) {
			complete = false
			continue
		}
		entries = append(entries, idMapEntry{
			kind: idMapKinds[b.Kind.ValueString()], ct: b.ContainerID.ValueInt64(), host: b.HostID.ValueInt64(),
			size: b.Size.ValueInt64(), index: i,
		})
	}
	return entries, complete, diags
}

// desiredIDMapLines are the raw lines of the id_map blocks, in order.
func desiredIDMapLines(ctx context.Context, m *lxcContainerModel) ([][2]string, diag.Diagnostics) {
	entries, _, diags := idMapEntries(ctx, m)
	out := make([][2]string, 0, len(entries))
	for _, e := range entries {
		out = append(out, [2]string{lxcKeyIDMap, e.line()})
	}
	return out, diags
}

// parseIDMapLine reads the value of an lxc.idmap line; ok is false for one
// PVE would refuse to start with, or with IDs beyond 32 bits.
func parseIDMapLine(v string) (idMapModel, bool) {
	im, ok := pve.ParseIDMap(v)
	if !ok {
		return idMapModel{}, false
	}
	return idMapModel{
		Kind: types.StringValue(kindName(im.Kind)), ContainerID: types.Int64Value(im.Container),
		HostID: types.Int64Value(im.Host), Size: types.Int64Value(im.Size),
	}, true
}

// setIDMaps stores what the config file's lxc.idmap lines say: null when
// there is none and the model had none.
func (m *lxcContainerModel) setIDMaps(ctx context.Context, maps []idMapModel) diag.Diagnostics {
	if len(maps) == 0 && (m.IDMap.IsNull() || m.IDMap.IsUnknown()) {
		m.IDMap = types.ListNull(idMapObjectType)
		return nil
	}
	if maps == nil {
		maps = []idMapModel{}
	}
	v, diags := types.ListValueFrom(ctx, idMapObjectType, maps)
	m.IDMap = v
	return diags
}

// idMapIssue is one problem of a map: at is the list index of the block it
// is about (-1: the list) and attr its attribute ("" for the block).
type idMapIssue struct {
	at      int
	attr    string
	warning bool
	summary string
	detail  string
}

// idRange prints a range of IDs.
func idRange(first, last int64) string {
	if first == last {
		return strconv.FormatInt(first, 10)
	}
	return fmt.Sprintf("%d-%d", first, last)
}

// checkIDMap checks a complete map: each range within 32 bits; per kind the
// container IDs 0-65535 mapped exactly once and no container or host ID
// mapped twice (PVE::LXC::validate_id_maps refuses overlaps on either
// side); and a host range holding 0, the node's root, refused always (that
// container is privileged: unprivileged = false says so). The node's
// privileged groups are refused when rootForbidden (a docker block), a
// warning otherwise.
func checkIDMap(entries []idMapEntry, rootForbidden bool) []idMapIssue {
	var issues []idMapIssue
	byKind := map[string][]idMapEntry{}
	for _, e := range entries {
		for _, side := range []struct {
			name  string
			first int64
		}{{"container", e.ct}, {"host", e.host}} {
			if last := side.first + e.size - 1; last > idMapMaxID {
				issues = append(issues, idMapIssue{at: e.index, attr: "size", summary: "ID range too large",
					detail: fmt.Sprintf("%s %ss %s go past %d, the largest ID.", side.name, kindName(e.kind), idRange(side.first, last), int64(idMapMaxID))})
			}
		}
		byKind[e.kind] = append(byKind[e.kind], e)
		if e.host > 0 && e.host < idMapSystemIDs {
			detail := fmt.Sprintf("host %ss %s are the node's system %ss (below %d): the container's processes get their "+
				"rights on the node's files.", kindName(e.kind), idRange(e.host, e.host+e.size-1), kindName(e.kind), idMapSystemIDs)
			danger := e.kind == "g" && rangeHolds(e.host, e.size, privilegedGroups...)
			if danger {
				detail += " They include a group that reads the node's disks, memory or passwords, or may become root " +
					"(disk 6, kmem 15, sudo 27, shadow 42)."
			}
			issues = append(issues, idMapIssue{at: e.index, attr: "host_id", warning: !danger || !rootForbidden,
				summary: "ID map hands over system IDs of the node", detail: detail})
		}
		if e.host == 0 {
			detail := fmt.Sprintf("host %ss %s include 0: container %s %d is root on the node, so a process that escapes "+
				"the container owns the node.", kindName(e.kind), idRange(e.host, e.host+e.size-1), kindName(e.kind), e.ct)
			detail += " An unprivileged container whose root is the node's root is a privileged container in disguise: map " +
				"to host IDs above 0 (e.g. from 100000), or, if the container is meant to run as the node's root, say so with " +
				"unprivileged = false (Proxmox VE's privileged container) and no id_map."
			if rootForbidden {
				detail += " The docker block's " + dockerProfile.Name + " profile relies on the container's root being " +
					"unprivileged on the node."
			}
			issues = append(issues, idMapIssue{at: e.index, attr: "host_id", summary: "ID map gives the container the node's root", detail: detail})
		}
	}
	for _, letter := range []string{"u", "g"} {
		name := kindName(letter)
		list := byKind[letter]
		if len(list) == 0 {
			issues = append(issues, idMapIssue{at: -1, summary: "Incomplete ID map",
				detail: fmt.Sprintf("no %s block: container %ss 0-%d are not mapped. With id_map blocks Proxmox VE writes no "+
					"default mapping, for either kind; add e.g. { kind = %q, container_id = 0, host_id = 100000, size = 65536 }.",
					name, name, idMapRequired, name)})
			continue
		}
		issues = append(issues, overlaps(list, "container", func(e idMapEntry) int64 { return e.ct })...)
		issues = append(issues, overlaps(list, "host", func(e idMapEntry) int64 { return e.host })...)
		if gaps := missing(list); len(gaps) > 0 {
			issues = append(issues, idMapIssue{at: -1, summary: "Incomplete ID map",
				detail: fmt.Sprintf("container %ss %s are not mapped: the %s blocks must map container IDs 0-%d with no gap.",
					name, strings.Join(gaps, ", "), name, idMapRequired)})
		}
	}
	return issues
}

// overlaps reports the IDs of one side that two entries of a kind both map,
// at the later block.
func overlaps(list []idMapEntry, side string, start func(idMapEntry) int64) []idMapIssue {
	sorted := append([]idMapEntry(nil), list...)
	sort.SliceStable(sorted, func(i, j int) bool { return start(sorted[i]) < start(sorted[j]) })
	var issues []idMapIssue
	var reach idMapEntry // the entry reaching furthest so far
	for i, e := range sorted {
		if i > 0 {
			end := start(reach) + reach.size - 1
			if s := start(e); s <= end {
				last := min(end, s+e.size-1)
				first, second := reach, e
				if first.index > second.index {
					first, second = second, first
				}
				attr := "container_id"
				if side == "host" {
					attr = "host_id"
				}
				issues = append(issues, idMapIssue{at: second.index, attr: attr, summary: "Overlapping ID map",
					detail: fmt.Sprintf("%s %ss %s are mapped twice, by id_map[%d] and id_map[%d]: each %s ID may be mapped once.",
						side, kindName(e.kind), idRange(s, last), first.index, second.index, side)})
			}
		}
		if i == 0 || start(e)+e.size > start(reach)+reach.size {
			reach = e
		}
	}
	return issues
}

// missing lists the container IDs of 0-65535 that no entry maps.
func missing(list []idMapEntry) []string {
	sorted := append([]idMapEntry(nil), list...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].ct < sorted[j].ct })
	var gaps []string
	next := int64(0) // first ID not covered yet
	for _, e := range sorted {
		if next > idMapRequired {
			break
		}
		if e.ct > next {
			gaps = append(gaps, idRange(next, min(e.ct-1, idMapRequired)))
		}
		next = max(next, e.ct+e.size)
	}
	if next <= idMapRequired {
		gaps = append(gaps, idRange(next, idMapRequired))
	}
	return gaps
}

// validateIDMap checks the id_map blocks at plan time (ValidateConfig).
func validateIDMap(ctx context.Context, m *lxcContainerModel, diags *diag.Diagnostics) {
	entries, complete, d := idMapEntries(ctx, m)
	diags.Append(d...)
	blocks := len(m.IDMap.Elements())
	if m.IDMap.IsNull() || m.IDMap.IsUnknown() || blocks == 0 {
		return
	}
	root := path.Root("id_map")
	if known(m.Unprivileged) && !m.Unprivileged.ValueBool() {
		diags.AddAttributeError(root, "ID map needs an unprivileged container",
			"id_map blocks map the IDs of an unprivileged container's user namespace; set unprivileged = true (the default). "+
				"In a privileged container Proxmox VE would turn the map on too, silently changing what the container is.")
	}
	if !complete {
		return
	}
	for _, is := range checkIDMap(entries, dockerHardened(m)) {
		at := root
		if is.at >= 0 {
			at = root.AtListIndex(is.at)
			if is.attr != "" {
				at = at.AtName(is.attr)
			}
		}
		if is.warning {
			diags.AddAttributeWarning(at, is.summary, is.detail)
		} else {
			diags.AddAttributeError(at, is.summary, is.detail)
		}
	}
}

// effectiveIDMap is the mapping a container gets: its lines, or PVE's
// default when there are none; "" when not known yet.
func effectiveIDMap(ctx context.Context, m *lxcContainerModel) string {
	entries, complete, _ := idMapEntries(ctx, m)
	if !complete {
		return ""
	}
	if len(entries) == 0 {
		return "u 0 100000 65536\ng 0 100000 65536"
	}
	lines := make([]string, 0, len(entries))
	for _, e := range entries {
		lines = append(lines, e.line())
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// planIDMap warns when the plan changes the mapping of a container: its
// files keep their owners on the node. On create it warns when the map
// differs from the default the template is unpacked with.
func planIDMap(ctx context.Context, plan, state *lxcContainerModel, diags *diag.Diagnostics) {
	want := effectiveIDMap(ctx, plan)
	if want == "" {
		return
	}
	def := effectiveIDMap(ctx, &lxcContainerModel{IDMap: types.ListNull(idMapObjectType)})
	if state == nil {
		if want != def && plan.Clone == nil {
			diags.AddAttributeWarning(path.Root("id_map"), "Template unpacked with the default ID map",
				"Proxmox VE unpacks the template with its default map (container IDs 0-65535 on host IDs 100000-165535) "+
					"before the id_map lines can be written: files whose owners the new map places elsewhere show as nobody "+
					"(65534) in the container until their ownership is shifted on the node.")
		}
		return
	}
	have := effectiveIDMap(ctx, state)
	if have == "" || have == want {
		return
	}
	diags.AddAttributeWarning(path.Root("id_map"), "ID map changes: files keep their owners",
		fmt.Sprintf("The ID map of %s changes. Proxmox VE does not change the owners of existing files: in the root file "+
			"system and the mount points they keep their host IDs, so IDs the new map places elsewhere show as nobody (65534) "+
			"in the container. Shift their ownership on the node (with the container stopped) to match the new map.",
			state.ID.ValueString()))
}
