package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/pve"
)

// Adoption through a moved block: the state of another provider's container
// resource becomes the state of phoenix_lxc_container (Terraform 1.8 or
// newer calls MoveResourceState with the source's state as raw JSON).
//
// The conversion is data. Each source is a table of rows, from a path of
// the source's state to a Proxmox VE config key (or one property of a
// key's property string). The rows build the config the source's state
// describes; the resource's own Read mapping (applyConfig, the settings
// table) turns that config into the new state, so that there is one
// mapping from Proxmox VE to this resource's attributes. A few rows fill
// attributes Read cannot see (template, clone, SSH keys) or reads only once
// they are set (the HA resource). Nothing is sent
// to the cluster: Terraform's refresh right after the move reads the
// container itself. Source attributes no row takes and that hold more than
// their default are named in a warning.

// moveSource is another provider's container resource type.
type moveSource struct {
	// provider is the source provider's namespace/type, e.g. bpg/proxmox
	// (any registry host).
	provider string
	typeName string
	// node and vmid are the paths that hold the container's node and ID,
	// tried in order; a vmid may also be the last part of an ID such as
	// pve1/lxc/101.
	node, vmid []string
	rows       []moveRow
	// quiet are paths that no row takes and that are never named: values
	// computed by the source provider, settings of the source provider
	// itself, and values at the source's default (the value given; ""
	// means any value).
	quiet map[string]string
}

// moveRow maps one path of the source's state.
type moveRow struct {
	// from is the path, its parts joined by "."; "#" matches the index of
	// a list element (a nested block in the source's state is a list).
	from string
	// to is the Proxmox VE key the value goes to; "#" in it is the matched
	// index, or the number held by the element's slot attribute. A key
	// starting with "lxc." is a raw line. A key starting with "@" is an
	// attribute of this resource that Read cannot see (template, clone,
	// ssh_public_keys). An empty key takes the path without writing (a
	// sibling row reads it).
	to string
	// prop is the property of the key's property string the value is
	// ("bridge" in net0); "-" the leading value without a name (a volume);
	// empty: the whole value.
	prop string
	// slot names the element's attribute that holds the key's number.
	slot string
	// conv converts the value (elem is the object that holds it); ok false
	// writes nothing. nil: asText.
	conv func(v any, elem map[string]any) (s string, ok bool)
}

// The numbered keys rows write to, "#" standing for the number.
const (
	netN = "net#"
	mpN  = "mp#"
)

// moveSources are the resource types phoenix_lxc_container takes over.
var moveSources = []moveSource{bpgContainerSource, telmateLXCSource}

// bpgContainerSource is bpg/proxmox's proxmox_virtual_environment_container:
// an SDKv2 resource whose nested blocks are lists of one element; the ID
// is the VMID.
var bpgContainerSource = moveSource{
	provider: "bpg/proxmox",
	typeName: "proxmox_virtual_environment_container",
	node:     []string{"node_name"},
	vmid:     []string{"vm_id", "id"},
	rows: withRows([]moveRow{
		{from: "description", to: "description"},
		{from: "tags", to: "tags", conv: joinedWith(";")},
		{from: "unprivileged", to: "unprivileged", conv: asFlag},
		{from: "start_on_boot", to: "onboot", conv: asFlag},
		{from: "protection", to: "protection", conv: asFlag},
		{from: "hook_script_file_id", to: "hookscript"},
		{from: "environment_variables", to: "env", conv: asEnv},
		{from: "cpu.0.architecture", to: "arch"},
		{from: "cpu.0.cores", to: "cores"},
		{from: "cpu.0.units", to: "cpuunits"},
		{from: "cpu.0.limit", to: "cpulimit"},
		{from: "memory.0.dedicated", to: "memory"},
		{from: "memory.0.swap", to: "swap"},
		{from: "console.0.enabled", to: "console", conv: asFlag},
		{from: "console.0.type", to: "cmode"},
		{from: "console.0.tty_count", to: "tty"},
		{from: "operating_system.0.type", to: "ostype"},
		{from: "operating_system.0.template_file_id", to: "@template"},
		{from: "initialization.0.hostname", to: "hostname"},
		{from: "initialization.0.entrypoint", to: "entrypoint"},
		{from: "initialization.0.dns.0.domain", to: "searchdomain"},
		{from: "initialization.0.dns.0.servers", to: "nameserver", conv: joinedWith(" ")},
		{from: "initialization.0.dns.0.server", to: "nameserver"},
		{from: "initialization.0.user_account.0.keys", to: "@ssh_public_keys", conv: joinedWith("\n")},
		// The password is write-only here: never in the state.
		{from: "initialization.0.user_account.0.password"},
		{from: "initialization.0.ip_config.#.ipv4.0.address", to: netN, prop: "ip"},
		{from: "initialization.0.ip_config.#.ipv4.0.gateway", to: netN, prop: "gw"},
		{from: "initialization.0.ip_config.#.ipv6.0.address", to: netN, prop: "ip6"},
		{from: "initialization.0.ip_config.#.ipv6.0.gateway", to: netN, prop: "gw6"},
		{from: "network_interface.#.name", to: netN, prop: "name"},
		{from: "network_interface.#.bridge", to: netN, prop: "bridge"},
		{from: "network_interface.#.mac_address", to: netN, prop: "hwaddr"},
		{from: "network_interface.#.firewall", to: netN, prop: "firewall", conv: asFlag},
		{from: "network_interface.#.vlan_id", to: netN, prop: "tag", conv: nonZero},
		{from: "network_interface.#.mtu", to: netN, prop: "mtu", conv: nonZero},
		{from: "network_interface.#.rate_limit", to: netN, prop: "rate", conv: nonZero},
		{from: "disk.0.path_in_datastore", to: "rootfs", prop: "-", conv: onStorage("datastore_id")},
		{from: "disk.0.datastore_id"},
		{from: "disk.0.size", to: "rootfs", prop: "size", conv: gibibytes},
		{from: "mount_point.#.path_in_datastore", to: mpN, prop: "-", conv: mountVolume},
		{from: "mount_point.#.volume"},
		{from: "mount_point.#.path", to: mpN, prop: "mp"},
		{from: "mount_point.#.size", to: mpN, prop: "size"},
		{from: "mount_point.#.read_only", to: mpN, prop: "ro", conv: asFlag},
		{from: "mount_point.#.mount_options", to: mpN, prop: "mountoptions", conv: joinedWith(";")},
		{from: "device_passthrough.#.deny_write", to: "dev#", prop: "deny-write", conv: asFlag},
		{from: "features.0.mount", to: "features", prop: "mount", conv: joinedWith(";")},
		{from: "startup.0.order", to: "startup", prop: "order", conv: nonNegative},
		{from: "startup.0.up_delay", to: "startup", prop: "up", conv: nonNegative},
		{from: "startup.0.down_delay", to: "startup", prop: "down", conv: nonNegative},
		{from: "idmap.#.type", to: "lxc.idmap#", conv: idMapLine},
		{from: "idmap.#.container_id"},
		{from: "idmap.#.host_id"},
		{from: "idmap.#.size"},
		{from: "clone.0.vm_id", to: "@clone.source_vmid"},
		{from: "clone.0.node_name", to: "@clone.source_node"},
		{from: "clone.0.datastore_id", to: "@clone.storage"},
		{from: "clone.0.full", to: "@clone.full"},
		{from: "started", to: "@started"},
		{from: "pool_id", to: "@pool"},
	},
		sameProps("device_passthrough.#.", "dev#", "", nil, "path", "mode", "uid", "gid"),
		sameProps("features.0.", "features", "", asFlag, "nesting", "keyctl", "fuse", "mknod"),
		sameProps("mount_point.#.", mpN, "", asFlag, "backup", "acl", "quota", "replicate", "shared")),
	quiet: map[string]string{
		"id": "", "node_name": "", "vm_id": "",
		"ipv4": "", "ipv6": "",
		"timeout_create": "1800", "timeout_clone": "1800", "timeout_update": "1800", "timeout_delete": "60",
		"network_interface.#.enabled": "true",
		"disk.0.replicate":            "true",
		"template":                    "false",
		"wait_for_ip.0.ipv4":          "", "wait_for_ip.0.ipv6": "",
	},
}

// telmateLXCSource is Telmate/proxmox's proxmox_lxc (3.x): flat keys named
// after Proxmox VE's, an ID of the form node/lxc/vmid.
var telmateLXCSource = moveSource{
	provider: "telmate/proxmox",
	typeName: "proxmox_lxc",
	node:     []string{"current_node", "target_node"},
	vmid:     []string{"vmid", "id"},
	rows: withRows([]moveRow{
		{from: "ostemplate", to: "@template"},
		{from: "ssh_public_keys", to: "@ssh_public_keys"},
		// The password is write-only here: never in the state.
		{from: "password"},
		{from: "start", to: "@started"},
		{from: "clone", to: "@clone.source_vmid"},
		{from: "clone_storage", to: "@clone.storage"},
		{from: "full", to: "@clone.full"},
		{from: "pool", to: "@pool"},
		{from: "hastate", to: "@ha.state"},
		{from: "features.0.mount", to: "features", prop: "mount"},
		{from: "rootfs.0.volume", to: "rootfs", prop: "-"},
		{from: "rootfs.0.storage"},
		{from: "rootfs.0.size", to: "rootfs", prop: "size"},
		{from: "network.#.firewall", to: netN, slot: "id", prop: "firewall", conv: asFlag},
		{from: "network.#.id"},
		{from: "mountpoint.#.volume", to: mpN, slot: "slot", prop: "-", conv: mountVolume},
		{from: "mountpoint.#.storage"},
		{from: "mountpoint.#.slot"},
		{from: "mountpoint.#.key"},
	},
		sameKeys(nil, "hostname", "description", "tags", "hookscript", "arch", "ostype", "swap", "nameserver",
			"searchdomain", "cmode", "tty", "startup"),
		sameKeys(asFlag, "unprivileged", "onboot", "protection", "console"),
		sameKeys(nonZero, "cores", "cpulimit", "cpuunits", "memory"),
		sameProps("network.#.", netN, "id", nil, "name", "bridge", "hwaddr", "ip", "gw", "ip6", "gw6"),
		sameProps("network.#.", netN, "id", nonZero, "tag", "mtu", "rate"),
		sameProps("mountpoint.#.", mpN, "slot", nil, "mp", "size"),
		sameProps("features.0.", "features", "", asFlag, "nesting", "keyctl", "fuse", "mknod"),
		sameProps("mountpoint.#.", mpN, "slot", asFlag, "backup", "acl", "quota", "replicate", "shared")),
	quiet: map[string]string{
		"id": "", "vmid": "", "target_node": "", "current_node": "", "target_nodes": "",
		"unused": "", "mountpoint.#.file": "", "network.#.type": "veth",
		"force": "", "restore": "", "unique": "", "ignore_unpack_errors": "", "bwlimit": "",
		"template": "false", "timeouts": "",
	},
}

// withRows joins row lists.
func withRows(lists ...[]moveRow) []moveRow {
	var out []moveRow
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// sameKeys maps paths named like the Proxmox VE keys they hold; conv nil:
// asText.
func sameKeys(conv func(v any, elem map[string]any) (string, bool), names ...string) []moveRow {
	rows := make([]moveRow, len(names))
	for i, n := range names {
		rows[i] = moveRow{from: n, to: n, conv: conv}
	}
	return rows
}

// sameProps maps the paths prefix+name that hold the properties of the
// same name of key's property string.
func sameProps(prefix, key, slot string, conv func(v any, elem map[string]any) (string, bool), names ...string) []moveRow {
	rows := make([]moveRow, len(names))
	for i, n := range names {
		rows[i] = moveRow{from: prefix + n, to: key, slot: slot, prop: n, conv: conv}
	}
	return rows
}

// asText is a string, number or boolean as Proxmox VE writes it.
func asText(v any, _ map[string]any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, x != ""
	case json.Number:
		return x.String(), true
	case bool:
		return boolStr(x), true
	}
	return "", false
}

func asFlag(v any, _ map[string]any) (string, bool) {
	b, ok := v.(bool)
	return boolStr(b), ok
}

// nonZero is a number other than 0 (Telmate and bpg keep 0 for unset).
func nonZero(v any, elem map[string]any) (string, bool) {
	s, ok := asText(v, elem)
	if f, err := strconv.ParseFloat(s, 64); err == nil && f == 0 {
		return "", false
	}
	return s, ok
}

// nonNegative leaves out bpg's -1 for "no startup order".
func nonNegative(v any, elem map[string]any) (string, bool) {
	s, ok := asText(v, elem)
	return s, ok && !strings.HasPrefix(s, "-")
}

// gibibytes is bpg's rootfs size, a number of GiB.
func gibibytes(v any, elem map[string]any) (string, bool) {
	s, ok := nonZero(v, elem)
	if !ok {
		return "", false
	}
	return s + "G", true
}

func joinedWith(sep string) func(v any, elem map[string]any) (string, bool) {
	return func(v any, elem map[string]any) (string, bool) {
		l, ok := v.([]any)
		if !ok {
			return asText(v, elem)
		}
		parts := make([]string, 0, len(l))
		for _, e := range l {
			if s, ok := asText(e, nil); ok {
				parts = append(parts, s)
			}
		}
		return strings.Join(parts, sep), len(parts) > 0
	}
}

func asEnv(v any, _ map[string]any) (string, bool) {
	m, ok := v.(map[string]any)
	if !ok || len(m) == 0 {
		return "", false
	}
	env := map[string]string{}
	for k, e := range m {
		env[k], _ = asText(e, nil)
	}
	return pve.JoinEnv(env), true
}

// onStorage prefixes bpg's path in the datastore with the datastore, which
// makes a volume ID.
func onStorage(storageAttr string) func(v any, elem map[string]any) (string, bool) {
	return func(v any, elem map[string]any) (string, bool) {
		p, ok := asText(v, elem)
		st, _ := asText(elem[storageAttr], nil)
		if !ok || st == "" {
			return "", false
		}
		if strings.Contains(p, ":") {
			return p, true
		}
		return st + ":" + p, true
	}
}

// mountVolume is a mount point's volume: the volume ID the source read back
// (its in-datastore path, on the storage), else what was configured (a
// host path for a bind mount).
func mountVolume(v any, elem map[string]any) (string, bool) {
	p, _ := asText(v, elem)
	vol, _ := asText(elem["volume"], nil)
	st, _ := asText(elem["storage"], nil)
	switch {
	case strings.HasPrefix(vol, "/") || strings.Contains(vol, ":"):
		return vol, true
	case strings.Contains(p, ":") || strings.HasPrefix(p, "/"):
		return p, true
	case p != "" && (vol != "" || st != ""):
		return firstOf(vol, st) + ":" + p, true
	}
	return firstOf(vol, st), firstOf(vol, st) != ""
}

func firstOf(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// idMapLine is bpg's idmap block as the raw lxc.idmap line.
func idMapLine(v any, elem map[string]any) (string, bool) {
	kind, _ := asText(v, nil)
	ct, ok1 := asText(elem["container_id"], nil)
	host, ok2 := asText(elem["host_id"], nil)
	n, ok3 := asText(elem["size"], nil)
	if !ok1 || !ok2 || !ok3 || kind == "" {
		return "", false
	}
	return strings.ToLower(kind[:1]) + " " + ct + " " + host + " " + n, true
}

// leaf is one value of the source's state with its path.
type leaf struct {
	path  []string
	value any
	// elem is the object that holds the value.
	elem map[string]any
}

// flatten lists the values of a decoded state: objects and lists of
// objects are walked, anything else (strings, numbers, lists and maps of
// scalars) is a value.
func flatten(prefix []string, obj map[string]any, out *[]leaf) {
	for k, v := range obj {
		p := append(append([]string{}, prefix...), k)
		switch x := v.(type) {
		case map[string]any:
			if scalars(x) {
				*out = append(*out, leaf{path: p, value: x, elem: obj})
				continue
			}
			flatten(p, x, out)
		case []any:
			if len(x) > 0 {
				if _, ok := x[0].(map[string]any); ok {
					for i, e := range x {
						if m, ok := e.(map[string]any); ok {
							flatten(append(append([]string{}, p...), strconv.Itoa(i)), m, out)
						}
					}
					continue
				}
			}
			*out = append(*out, leaf{path: p, value: x, elem: obj})
		default:
			*out = append(*out, leaf{path: p, value: x, elem: obj})
		}
	}
}

func scalars(m map[string]any) bool {
	for _, v := range m {
		switch v.(type) {
		case map[string]any, []any:
			return false
		}
	}
	return true
}

// matchPath matches a path against a pattern; idx is the index "#" matched
// (-1 when the pattern has none).
func matchPath(pattern string, path []string) (idx int, ok bool) {
	parts := strings.Split(pattern, ".")
	if len(parts) != len(path) {
		return 0, false
	}
	idx = -1
	for i, p := range parts {
		switch {
		case p == "#":
			n, err := strconv.Atoi(path[i])
			if err != nil {
				return 0, false
			}
			idx = n
		case p != path[i]:
			return 0, false
		}
	}
	return idx, true
}

// isDefault reports values that say nothing: null, empty, false, zero.
func isDefault(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case bool:
		return !x
	case json.Number:
		f, err := x.Float64()
		return err == nil && f == 0
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

// displayPath writes a path as Terraform shows it: disk[0].acl.
func displayPath(path []string) string {
	var b strings.Builder
	for i, p := range path {
		if _, err := strconv.Atoi(p); err == nil && i > 0 {
			b.WriteString("[" + p + "]")
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(p)
	}
	return b.String()
}

// pveEntry collects one key's value: a whole value, or a leading value and
// properties.
type pveEntry struct {
	whole, lead string
	props       map[string]string
	order       []string
}

func (e *pveEntry) String() string {
	if e.whole != "" || len(e.props) == 0 && e.lead == "" {
		return e.whole
	}
	parts := []string{}
	if e.lead != "" {
		parts = append(parts, e.lead)
	}
	for _, p := range e.order {
		parts = append(parts, p+"="+e.props[p])
	}
	return strings.Join(parts, ",")
}

// moved is what a source's state says of the container.
type moved struct {
	node   string
	vmid   int64
	config *pve.RawConfig
	// blind are the values of attributes Read cannot see, by "@" key.
	blind map[string]string
	// dropped are the source paths not carried over, as Terraform shows
	// them, sorted.
	dropped []string
}

// convert maps a source's state (raw JSON) through the source's rows.
func (s *moveSource) convert(raw []byte) (*moved, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var state map[string]any
	if err := dec.Decode(&state); err != nil {
		return nil, fmt.Errorf("the %s state is not a JSON object: %w", s.typeName, err)
	}
	mv := &moved{config: &pve.RawConfig{Values: map[string]string{}}, blind: map[string]string{}}
	for _, p := range s.node {
		if n, ok := asText(state[p], nil); ok {
			mv.node = n
			break
		}
	}
	for _, p := range s.vmid {
		t, _ := asText(state[p], nil)
		if i := strings.LastIndex(t, "/"); i >= 0 {
			t = t[i+1:]
		}
		if n, err := strconv.ParseInt(t, 10, 64); err == nil && n > 0 {
			mv.vmid = n
			break
		}
	}
	if mv.node == "" || mv.vmid == 0 {
		return nil, fmt.Errorf("the %s state names no node and container ID (%s, %s)", s.typeName,
			strings.Join(s.node, " or "), strings.Join(s.vmid, " or "))
	}
	// As an import checks them: the refresh after the move calls the API
	// with these in its paths.
	if !nodeNamePattern.MatchString(mv.node) || mv.vmid < 100 || mv.vmid > 999999999 {
		return nil, fmt.Errorf("the %s state names node %q and container ID %d: not a Proxmox VE node name and a "+
			"container ID from 100 to 999999999", s.typeName, mv.node, mv.vmid)
	}

	var leaves []leaf
	flatten(nil, state, &leaves)
	sort.Slice(leaves, func(i, j int) bool { return strings.Join(leaves[i].path, ".") < strings.Join(leaves[j].path, ".") })
	entries := map[string]*pveEntry{}
	var keys []string
	for _, l := range leaves {
		taken := false
		for _, r := range s.rows {
			idx, ok := matchPath(r.from, l.path)
			if !ok {
				continue
			}
			taken = true
			if r.to == "" || l.value == nil {
				break
			}
			conv := r.conv
			if conv == nil {
				conv = asText
			}
			v, ok := conv(l.value, l.elem)
			if !ok {
				break
			}
			key := r.to
			if idx >= 0 {
				n := strconv.Itoa(idx)
				if r.slot != "" {
					if sv, ok := asText(l.elem[r.slot], nil); ok {
						n = sv
					}
				}
				key = strings.ReplaceAll(key, "#", n)
			}
			e := entries[key]
			if e == nil {
				e = &pveEntry{props: map[string]string{}}
				entries[key] = e
				keys = append(keys, key)
			}
			switch r.prop {
			case "":
				if e.whole == "" {
					e.whole = v
				}
			case "-":
				e.lead = v
			default:
				if _, dup := e.props[r.prop]; !dup {
					e.props[r.prop] = v
					e.order = append(e.order, r.prop)
				}
			}
			break
		}
		if !taken && !isDefault(l.value) && !s.isQuiet(l) {
			mv.dropped = append(mv.dropped, displayPath(l.path))
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := entries[k].String()
		switch {
		case v == "":
		case strings.HasPrefix(k, "@"):
			mv.blind[k] = v
		case strings.HasPrefix(k, "lxc."):
			// The raw lines keep the list's order (keys sort by index).
			mv.config.LXC = append(mv.config.LXC, [2]string{strings.TrimRight(k, "0123456789"), v})
		default:
			mv.config.Values[k] = v
		}
	}
	sort.Strings(mv.dropped)
	return mv, nil
}

func (s *moveSource) isQuiet(l leaf) bool {
	for pattern, def := range s.quiet {
		parts := strings.Split(pattern, ".")
		if len(l.path) < len(parts) {
			continue
		}
		if _, ok := matchPath(pattern, l.path[:len(parts)]); !ok {
			continue
		}
		if def == "" || len(l.path) > len(parts) {
			return true
		}
		if quietText(l.value) == def {
			return true
		}
	}
	return false
}

// quietText is a value as the quiet column spells it.
func quietText(v any) string {
	switch x := v.(type) {
	case bool:
		return strconv.FormatBool(x)
	case json.Number:
		return x.String()
	case string:
		return x
	}
	return ""
}

// matches reports whether a moved block's source is this one. The address
// is the source provider's full address (any registry host), or, from
// OpenTofu before 1.11.12 and 1.12.4, its type name alone ("proxmox"): the
// resource type tells the sources apart.
func (s *moveSource) matches(providerAddr, typeName string) bool {
	addr := strings.ToLower(providerAddr)
	return typeName == s.typeName && (strings.HasSuffix(addr, "/"+s.provider) || addr == s.provider ||
		addr == s.provider[strings.LastIndex(s.provider, "/")+1:])
}

// MoveState lets a moved block adopt a container managed by bpg/proxmox or
// Telmate/proxmox.
func (r *lxcContainerResource) MoveState(context.Context) []resource.StateMover {
	movers := make([]resource.StateMover, 0, len(moveSources))
	for i := range moveSources {
		src := &moveSources[i]
		movers = append(movers, resource.StateMover{StateMover: func(ctx context.Context, req resource.MoveStateRequest, resp *resource.MoveStateResponse) {
			if !src.matches(req.SourceProviderAddress, req.SourceTypeName) || req.SourceRawState == nil {
				return
			}
			m, diags := src.move(ctx, req.SourceRawState.JSON)
			resp.Diagnostics.Append(diags...)
			if diags.HasError() {
				return
			}
			resp.Diagnostics.Append(resp.TargetState.Set(ctx, m)...)
			if resp.TargetPrivate != nil {
				// As after an import: the template, clone and SSH keys the
				// configuration names never replace the adopted container,
				// and the refresh right after the move reads a running
				// Docker back into the docker block (the source provider
				// knew nothing of it), so that a docker block plans no
				// install.
				resp.Diagnostics.Append(resp.TargetPrivate.SetKey(ctx, importedKey, []byte("true"))...)
				resp.Diagnostics.Append(resp.TargetPrivate.SetKey(ctx, movedKey, []byte("true"))...)
				resp.Diagnostics.Append(resp.TargetPrivate.SetKey(ctx, dockerAdoptKey, []byte("true"))...)
			}
			if resp.TargetIdentity != nil {
				resp.Diagnostics.Append(resp.TargetIdentity.Set(ctx, identityOf(m))...)
			}
		}})
	}
	return movers
}

// move converts a source's state into this resource's model.
func (s *moveSource) move(ctx context.Context, raw []byte) (*lxcContainerModel, diag.Diagnostics) {
	var diags diag.Diagnostics
	mv, err := s.convert(raw)
	if err != nil {
		diags.AddError("Cannot move the container's state", err.Error())
		return nil, diags
	}
	m := nullModel()
	m.ID = types.StringValue(fmt.Sprintf("%s/%d", mv.node, mv.vmid))
	m.NodeName = types.StringValue(mv.node)
	m.VMID = types.Int64Value(mv.vmid)
	diags.Append(applyConfig(ctx, m, mv.config)...)
	diags.Append(m.setBlind(ctx, mv.blind)...)
	if len(mv.dropped) > 0 {
		diags.AddWarning("Settings not carried over from "+s.typeName,
			fmt.Sprintf("phoenix_lxc_container does not manage these attributes of the %s state: %s. "+
				"Proxmox VE keeps whatever they set on container %d; nothing was changed on the cluster.",
				s.typeName, strings.Join(mv.dropped, ", "), mv.vmid))
	}
	return m, diags
}

// setBlind sets the attributes Read cannot see from the source's values.
func (m *lxcContainerModel) setBlind(ctx context.Context, blind map[string]string) diag.Diagnostics {
	var diags diag.Diagnostics
	if v, ok := blind["@template"]; ok {
		m.Template = types.StringValue(v)
	}
	if v, ok := blind["@ssh_public_keys"]; ok {
		var keys []string
		for _, k := range strings.Split(v, "\n") {
			if k = strings.TrimSpace(k); k != "" {
				keys = append(keys, k)
			}
		}
		m.SSHPublicKeys, diags = types.ListValueFrom(ctx, types.StringType, keys)
	}
	// Read refreshes the pool and, once the block is there, the HA
	// resource from the cluster.
	if v, ok := blind["@pool"]; ok {
		m.Pool = types.StringValue(v)
	}
	if v, ok := blind["@ha.state"]; ok {
		m.HA = &haModel{State: types.StringValue(v), MaxRestart: types.Int64Null(), MaxRelocate: types.Int64Null(), Comment: types.StringNull()}
	}
	if v, ok := blind["@started"]; ok {
		m.Started = types.BoolValue(v == "1")
	}
	if v, ok := blind["@clone.source_vmid"]; ok {
		if id, err := strconv.ParseInt(v, 10, 64); err == nil && id > 0 {
			c := &cloneModel{SourceVMID: types.Int64Value(id), SourceNode: types.StringNull(), Snapshot: types.StringNull(),
				Full: types.BoolNull(), Storage: types.StringNull()}
			if n := blind["@clone.source_node"]; n != "" {
				c.SourceNode = types.StringValue(n)
			}
			if st := blind["@clone.storage"]; st != "" {
				c.Storage = types.StringValue(st)
			}
			if f, ok := blind["@clone.full"]; ok {
				c.Full = types.BoolValue(f == "1")
			}
			m.Clone = c
		}
	}
	return diags
}

// nullModel is a model with every attribute null, as an import starts.
func nullModel() *lxcContainerModel {
	null := func() types.List { return types.ListNull(types.StringType) }
	return &lxcContainerModel{
		ID: types.StringNull(), NodeName: types.StringNull(), VMID: types.Int64Null(), Template: types.StringNull(),
		Hostname: types.StringNull(), Description: types.StringNull(), Tags: types.SetNull(types.StringType),
		Unprivileged: types.BoolNull(), OSType: types.StringNull(), Cores: types.Int64Null(), CPULimit: types.Float64Null(),
		CPUUnits: types.Int64Null(), Memory: types.Int64Null(), Swap: types.Int64Null(),
		Network:     types.ListNull(networkObjectType),
		MountPoints: types.ListNull(mountPointObjectType), IPAddresses: null(), WaitForIP: types.BoolNull(),
		Devices: types.ListNull(deviceObjectType), Nameserver: types.StringNull(), Searchdomain: types.StringNull(),
		Timezone: types.StringNull(), Features: types.ObjectNull(featuresAttrTypes), StartOnBoot: types.BoolNull(),
		Arch: types.StringNull(), ConsoleMode: types.StringNull(), Console: types.BoolNull(), TTYCount: types.Int64Null(),
		Hookscript: types.StringNull(), Entrypoint: types.StringNull(), Environment: types.MapNull(types.StringType),
		Started: types.BoolNull(), Protection: types.BoolNull(), Password: types.StringNull(), SSHPublicKeys: null(),
		AppArmor: types.StringNull(), EffectiveAA: types.StringNull(), LXCConfig: types.ListNull(lxcLineObjectType),
		AllowLXCHooks: types.BoolNull(), IDMap: types.ListNull(idMapObjectType), Pool: types.StringNull(),
		Timeouts: timeouts.Value{Object: types.ObjectNull(map[string]attr.Type{
			"create": types.StringType, "update": types.StringType, "delete": types.StringType,
		})},
	}
}
