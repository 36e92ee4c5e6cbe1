package phoenixcfg

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/pve"
)

// unmappedKinds holds the JSON types, from the document's schema, of the
// container fields that reach no resource argument.
var unmappedKinds = map[string]string{
	"portainer_role":              "string",
	"vllm_model":                  "string|null",
	"vllm_served_model_name":      "string",
	"vllm_model_type":             "string",
	"vllm_port":                   "integer",
	"vllm_tensor_parallel_size":   "integer",
	"vllm_gpu_memory_utilization": "number",
	"vllm_max_model_len":          "integer",
	"vllm_args":                   "array<string>",
	"application_script":          "string",
	"ports":                       "array<string>",
	"health_check":                "object",
	"dependencies":                "array<string>",
	"run_integration_tests":       "boolean",
	"apparmor_manages_nesting":    "boolean",
}

// requiredFields lists the container fields a conversion needs. Phoenix's
// schema also requires portainer_role and apparmor_manages_nesting, which
// Phoenix itself does without, and unprivileged, which a clone inherits
// from its source (clonedFields): real files omit them.
var requiredFields = []string{
	"name", "memory_mb", "cores", "storage_pool", "storage_size_gb", "network_config", "apparmor_profile",
}

// clonedFields are required of a container created from a template, and
// inherited by a clone from its source entry.
var clonedFields = []string{"unprivileged"}

// topLevelFields lists the document-level fields besides lxc_configs. They
// describe the host (NVIDIA driver) and reach no container argument.
var topLevelFields = []string{"$schema", "nvidia_driver_version", "nvidia_repo_url", "nvidia_runfile_url"}

var (
	lxcOptionKeyPattern = regexp.MustCompile(`^lxc\.[A-Za-z0-9_.\-]+$`)
	ctidKeyPattern      = regexp.MustCompile(`^[0-9]+$`)
)

// Docker tests of the Phoenix scripts that the docker block's own checks
// cover, by script file name.
var (
	dockerHealthChecks = []string{"check_docker_service.sh", "check_network_access.sh"}
	dockerHelloWorld   = "test_docker_hello_world.sh"
)

// converted is one container while the document is read.
type converted struct {
	key            string
	entry          Container
	cloneFrom      int64
	snapshotToMake string
	// inherit lists the clonedFields the entry leaves to its source.
	inherit []string
}

// Convert validates a phoenix_lxc_configs.json document and returns its
// containers keyed by CTID, as the document writes it. The error lists
// every problem found (at most 25, then their count), one a line, each
// starting with its JSON path, e.g.
//
//	lxc_configs["950"].memory_mb: expected an integer, got "2G"
func Convert(doc []byte) (map[string]Container, error) {
	if !json.Valid(doc) {
		return nil, syntaxError(doc)
	}
	p := &parser{}
	top, ok := p.object("(document)", doc)
	if !ok {
		return nil, p.err()
	}
	var configs json.RawMessage
	for _, m := range top {
		switch {
		case m.key == "lxc_configs":
			configs = m.raw
		case slices.Contains(topLevelFields, m.key):
			p.check(m.key, "string", m.raw)
		default:
			p.fail(m.key, "unknown top-level field (a phoenix_lxc_configs.json document holds %s and lxc_configs)",
				strings.Join(topLevelFields, ", "))
		}
	}
	if configs == nil {
		p.fail("lxc_configs", "required field is missing")
		return nil, p.err()
	}
	containers, ok := p.object("lxc_configs", configs)
	if !ok {
		return nil, p.err()
	}
	all := make([]*converted, 0, len(containers))
	byID := map[int64]*converted{}
	for _, m := range containers {
		at := fmt.Sprintf("lxc_configs[%q]", m.key)
		if !ctidKeyPattern.MatchString(m.key) {
			p.fail(at, "a CTID must be a decimal number, got %q", m.key)
			continue
		}
		ctid, err := strconv.ParseInt(m.key, 10, 64)
		if err != nil || ctid < 100 || ctid > 999999999 || strconv.FormatInt(ctid, 10) != m.key {
			p.fail(at, "a CTID must be a number from 100 to 999999999 without leading zeros, got %q", m.key)
			continue
		}
		c := p.container(at, ctid, m.raw)
		if c == nil {
			continue
		}
		c.key = m.key
		all = append(all, c)
		byID[ctid] = c
	}
	// Clones: a source in the document lends its snapshot; chains must end.
	for _, c := range all {
		if c.cloneFrom == 0 {
			continue
		}
		at := fmt.Sprintf("lxc_configs[%q].clone_from_ctid", c.key)
		if src := byID[c.cloneFrom]; src != nil && src.snapshotToMake != "" {
			snapshot := src.snapshotToMake
			c.entry.Clone.Snapshot = &snapshot
		}
		seen := map[int64]bool{c.entry.CTID: true}
		for next := c.cloneFrom; next != 0; {
			if seen[next] {
				p.fail(at, "clone chain loops back to %d", next)
				break
			}
			seen[next] = true
			src := byID[next]
			if src == nil {
				break
			}
			next = src.cloneFrom
		}
	}
	for _, c := range all {
		inheritFromSource(c, byID)
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	out := make(map[string]Container, len(all))
	for _, c := range all {
		out[c.key] = c.entry
	}
	return out, nil
}

// container converts one lxc_configs entry; nil when it is not an object.
func (p *parser) container(at string, ctid int64, raw json.RawMessage) *converted {
	members, ok := p.object(at, raw)
	if !ok {
		return nil
	}
	e := Container{CTID: ctid, Unmapped: []string{}}
	c := &converted{}
	field := func(key string) string { return at + "." + key }
	unmapped := func(rel string, value json.RawMessage) {
		e.Unmapped = append(e.Unmapped, rel+": "+compactJSON(value))
	}
	seen := map[string]bool{}
	// Fields that decide how others are read; their own errors are reported
	// in the loop below.
	hasDocker, profile := false, ""
	for _, m := range members {
		var names []string
		if m.key == "features" && json.Unmarshal(m.raw, &names) == nil {
			hasDocker = slices.Contains(names, "docker")
		}
		if m.key == "apparmor_profile" {
			_ = json.Unmarshal(m.raw, &profile) // A non-string is reported below.
		}
	}
	var startup Startup
	var features *Features
	var idmapLines []IDMapEntry
	idmapOption, idmapsField := "", ""
	var pct pctOptions
	for _, m := range members {
		seen[m.key] = true
		fa := field(m.key)
		switch m.key {
		case "name":
			if s, ok := p.nonEmpty(fa, m.raw); ok {
				if len(s) > 253 || !pve.HostnamePattern.MatchString(s) {
					p.fail(fa, "must be a valid host name (letters, digits and '-', labels separated by '.'), got %q", s)
				}
				e.Hostname = s
			}
		case "memory_mb":
			if n, ok := p.integer(fa, m.raw, 512, 131072); ok {
				e.Memory = n
			}
		case "swap_mb":
			if n, ok := p.integer(fa, m.raw, 0, math.MaxInt64); ok {
				e.Swap = &n
			}
		case "cores":
			if n, ok := p.integer(fa, m.raw, 1, 32); ok {
				e.Cores = n
			}
		case "template":
			if s, ok := p.nonEmpty(fa, m.raw); ok {
				e.Template = &s
			}
		case "storage_pool":
			if s, ok := p.nonEmpty(fa, m.raw); ok {
				if !pve.StorageIDPattern.MatchString(s) {
					p.fail(fa, "must be a Proxmox VE storage ID such as local-lvm, got %q", s)
				}
				e.RootFS.Storage = s
			}
		case "storage_size_gb":
			if n, ok := p.integer(fa, m.raw, 10, 1024); ok {
				e.RootFS.Size = strconv.FormatInt(n, 10) + "G"
			}
		case "network_config":
			p.network(fa, m.raw, &e.Network, unmapped)
		case "mac_address":
			if s, ok := p.str(fa, m.raw); ok {
				if !pve.MACPattern.MatchString(s) {
					p.fail(fa, "must be a unicast MAC address such as 52:54:00:12:34:56, got %q", s)
				}
				e.Network.HWAddr = &s
			}
		case "firewall":
			p.firewall(fa, m.raw, &e.Network, unmapped)
		case "features":
			items := p.stringList(fa, m.raw)
			for i, name := range items {
				if name != "docker" {
					unmapped(fmt.Sprintf("features[%d]", i), jsonString(name))
				}
			}
		case "pct_options":
			items := p.stringList(fa, m.raw)
			for i, opt := range items {
				if features == nil {
					features = &Features{}
				}
				rel := fmt.Sprintf("pct_options[%d]", i)
				if key, value, ok := pctOption(opt); ok {
					if !pct.apply(rel, opt, key, value, features) {
						unmapped(rel, jsonString(opt))
					}
					continue
				}
				if !applyPctFeatures(opt, features) {
					unmapped(rel, jsonString(opt))
				}
			}
		case "lxc_options":
			items := p.stringList(fa, m.raw)
			for i, opt := range items {
				key, value, ok := splitLXCOption(opt)
				if !ok {
					p.fail(fmt.Sprintf("%s[%d]", fa, i), `expected "lxc.<key>=<value>" or "lxc.<key>: <value>", got %q`, opt)
					continue
				}
				if key == "lxc.idmap" {
					// ID mapping lines belong to the id_map blocks.
					if im, ok := pve.ParseIDMap(value); ok {
						kind := map[string]string{"u": "uid", "g": "gid"}[im.Kind]
						idmapLines = append(idmapLines, IDMapEntry{Kind: kind, ContainerID: im.Container, HostID: im.Host, Size: im.Size})
						idmapOption = fmt.Sprintf("%s[%d]", fa, i)
					} else {
						p.fail(fmt.Sprintf("%s[%d]", fa, i), `expected "lxc.idmap: <u|g> <container id> <host id> <count>", got %q`, opt)
					}
					continue
				}
				if strings.HasPrefix(key, "lxc.apparmor.") {
					// AppArmor lines belong to apparmor_profile (and the
					// docker block), never to lxc_config: the same profile
					// as apparmor_profile is covered by it, others are listed.
					if key != "lxc.apparmor.profile" || value != profile {
						unmapped(fmt.Sprintf("lxc_options[%d]", i), jsonString(opt))
					}
					continue
				}
				e.LXCConfig = append(e.LXCConfig, LXCLine{Key: key, Value: value})
			}
		case "clone_from_ctid":
			if s, ok := p.str(fa, m.raw); ok {
				n, err := strconv.ParseInt(s, 10, 64)
				switch {
				case !ctidKeyPattern.MatchString(s) || err != nil || n < 100 || n > 999999999:
					p.fail(fa, "must be a CTID from 100 to 999999999 as a string, got %q", s)
				case n == ctid:
					p.fail(fa, "a container cannot be cloned from itself")
				default:
					c.cloneFrom = n
					e.Clone = &Clone{SourceVMID: n}
				}
			}
		case "template_snapshot_name":
			if s, ok := p.nonEmpty(fa, m.raw); ok {
				if !pve.SnapshotNamePattern.MatchString(s) {
					p.fail(fa, "must be a Proxmox VE snapshot name (a letter, then 1 to 39 letters, digits, '_' or '-'), got %q", s)
				}
				c.snapshotToMake = s
				unmapped(m.key, m.raw)
			}
		case "apparmor_profile":
			if s, ok := p.str(fa, m.raw); ok {
				e.ApparmorProfile = s
			}
		case "unprivileged":
			if b, ok := p.boolean(fa, m.raw); ok {
				e.Unprivileged = b
			}
		case "start_at_boot":
			if b, ok := p.boolean(fa, m.raw); ok {
				e.StartOnBoot = &b
			}
		case "boot_order":
			if n, ok := p.integer(fa, m.raw, 0, math.MaxInt64); ok {
				startup.Order = &n
			}
		case "boot_delay":
			if n, ok := p.integer(fa, m.raw, 0, math.MaxInt64); ok {
				startup.UpDelay = &n
			}
		case "id_maps":
			e.IDMap = p.idMaps(fa, m.raw)
			idmapsField = fa
		case "volumes", "zfs_volumes":
			p.volumes(fa, m.key, m.raw, &e, unmapped)
		case "gpu_assignment":
			p.gpus(fa, m.raw, &e, unmapped)
		case "tests":
			if hasDocker {
				e.Docker = p.dockerBlock(fa, m.raw, unmapped)
			} else {
				unmapped(m.key, m.raw)
			}
		default:
			if kind, known := unmappedKinds[m.key]; known {
				p.check(fa, kind, m.raw)
			}
			unmapped(m.key, m.raw)
		}
	}
	p.require(at, members, requiredFields...)
	for _, key := range clonedFields {
		switch {
		case seen[key]:
		case c.cloneFrom != 0:
			c.inherit = append(c.inherit, key)
		default:
			p.fail(field(key), "required field is missing (only a clone inherits it from its source)")
		}
	}
	if seen["template"] && seen["clone_from_ctid"] {
		p.fail(field("template"), "template and clone_from_ctid cannot both be set: a container is created from one source")
	}
	if hasDocker && e.Docker == nil {
		e.Docker = p.dockerBlock(field("tests"), nil, unmapped)
	}
	if idmapLines != nil {
		if idmapsField != "" {
			p.fail(idmapsField, "id_maps and the lxc.idmap line %s both set the ID map: keep one", idmapOption)
		}
		e.IDMap = idmapLines
	}
	pct.merge(&e, &startup)
	if startup.Order != nil || startup.UpDelay != nil || startup.DownDelay != nil {
		e.Startup = &startup
	}
	if features != nil && (features.Nesting != nil || features.Keyctl != nil || features.Fuse != nil ||
		features.Mknod != nil || features.Mount != nil) {
		e.Features = features
	}
	c.entry = e
	return c
}

// network maps network_config onto the first network interface.
func (p *parser) network(at string, raw json.RawMessage, n *Network, unmapped func(string, json.RawMessage)) {
	members, ok := p.object(at, raw)
	if !ok {
		return
	}
	for _, m := range members {
		fa := at + "." + m.key
		switch m.key {
		case "name":
			if s, ok := p.nonEmpty(fa, m.raw); ok {
				if !pve.InterfaceNamePattern.MatchString(s) {
					p.fail(fa, "must be an interface name of at most 15 letters, digits, '-', '_' or '.', got %q", s)
				}
				n.Name = s
			}
		case "bridge":
			if s, ok := p.nonEmpty(fa, m.raw); ok {
				if !pve.BridgePattern.MatchString(s) {
					p.fail(fa, "must be a bridge name such as vmbr0, got %q", s)
				}
				n.Bridge = s
			}
		case "ip":
			if s, ok := p.str(fa, m.raw); ok {
				if pfx, err := netip.ParsePrefix(s); err != nil || !pfx.Addr().Is4() {
					p.fail(fa, "must be an IPv4 address with a prefix length such as 10.0.0.5/24, got %q", s)
				}
				n.IP = s
			}
		case "gw":
			if s, ok := p.str(fa, m.raw); ok {
				if addr, err := netip.ParseAddr(s); err != nil || !addr.Is4() {
					p.fail(fa, "must be an IPv4 address such as 10.0.0.1, got %q", s)
				}
				n.Gw = s
			}
		default:
			unmapped("network_config."+m.key, m.raw)
		}
	}
	p.require(at, members, "name", "bridge", "ip", "gw")
}

// firewall maps firewall.enabled onto the interface's firewall flag; the
// rules belong to the Proxmox VE firewall configuration and are listed.
func (p *parser) firewall(at string, raw json.RawMessage, n *Network, unmapped func(string, json.RawMessage)) {
	members, ok := p.object(at, raw)
	if !ok {
		return
	}
	for _, m := range members {
		switch m.key {
		case "enabled":
			if b, ok := p.boolean(at+".enabled", m.raw); ok {
				n.Firewall = &b
			}
		case "rules":
			p.check(at+".rules", "array<object>", m.raw)
			unmapped("firewall.rules", m.raw)
		default:
			unmapped("firewall."+m.key, m.raw)
		}
	}
}

// dockerBlock returns the docker block of a container with the "docker"
// feature, hello_world following the Phoenix tests when they list
// integration tests. Test entries the block's checks do not cover are
// listed as unmapped.
func (p *parser) dockerBlock(at string, tests json.RawMessage, unmapped func(string, json.RawMessage)) *Docker {
	d := &Docker{HelloWorld: true}
	switch {
	case tests == nil:
	case jsonKind(tests) != "object":
		unmapped("tests", tests)
	default:
		if members, ok := p.object(at, tests); ok {
			for _, m := range members {
				var covered []string
				switch m.key {
				case "health_checks":
					covered = dockerHealthChecks
				case "integration_tests":
					covered = []string{dockerHelloWorld}
				default:
					unmapped("tests."+m.key, m.raw)
					continue
				}
				var items []json.RawMessage
				if jsonKind(m.raw) != "array" || json.Unmarshal(m.raw, &items) != nil {
					unmapped("tests."+m.key, m.raw)
					continue
				}
				hello := false
				for i, item := range items {
					script := testScript(item)
					if script != "" && slices.Contains(covered, script) {
						hello = hello || script == dockerHelloWorld
						continue
					}
					unmapped(fmt.Sprintf("tests.%s[%d]", m.key, i), item)
				}
				if m.key == "integration_tests" {
					d.HelloWorld = hello
				}
			}
		}
	}
	return d
}

// testScript returns the file name of the script a Phoenix test entry
// runs, or "" when the entry is not a script object.
func testScript(raw json.RawMessage) string {
	var t struct {
		Type string `json:"type"`
		Path string `json:"path"`
	}
	if jsonKind(raw) != "object" || json.Unmarshal(raw, &t) != nil || t.Path == "" {
		return ""
	}
	if t.Type != "" && t.Type != "script" {
		return ""
	}
	return t.Path[strings.LastIndexByte(t.Path, '/')+1:]
}

// applyPctFeatures applies a pct option that is a Proxmox VE features value
// made only of the resource's features ("nesting=1", "keyctl=1,fuse=0",
// "mount=nfs;cifs") and reports whether it was one. Other options change
// nothing; so does an option that names no file system after mount=.
func applyPctFeatures(opt string, f *Features) bool {
	pf, keys, err := pve.ParseFeaturesWithKeys(opt)
	if err != nil || len(keys) == 0 {
		return false
	}
	for _, k := range keys {
		switch k {
		case "nesting", "keyctl", "fuse", "mknod":
		case "mount":
			if len(pf.Mount) == 0 {
				return false
			}
		default:
			return false
		}
	}
	for _, k := range keys {
		switch k {
		case "nesting":
			f.Nesting = &pf.Nesting
		case "keyctl":
			f.Keyctl = &pf.Keyctl
		case "fuse":
			f.Fuse = &pf.Fuse
		case "mknod":
			f.Mknod = &pf.Mknod
		case "mount":
			f.Mount = pf.Mount
		}
	}
	return true
}

// splitLXCOption splits "lxc.key=value" or "lxc.key: value" (spaces around
// the separator allowed) at the first ':' or '='.
func splitLXCOption(opt string) (string, string, bool) {
	i := strings.IndexAny(opt, ":=")
	if i < 0 {
		return "", "", false
	}
	key := strings.TrimSpace(opt[:i])
	value := strings.TrimSpace(opt[i+1:])
	if !lxcOptionKeyPattern.MatchString(key) {
		return "", "", false
	}
	return key, value, true
}

// inheritFromSource gives a clone the unprivileged setting of the nearest
// source up its chain that states it, as the clone inherits it in Proxmox
// VE, and records the assumption in unmapped. A chain that leaves the
// document keeps the resource's default (unprivileged), said so too.
func inheritFromSource(c *converted, byID map[int64]*converted) {
	if !slices.Contains(c.inherit, "unprivileged") {
		return
	}
	seen := map[int64]bool{}
	for next := c.cloneFrom; next != 0 && !seen[next]; {
		seen[next] = true
		src := byID[next]
		if src == nil {
			break
		}
		if !slices.Contains(src.inherit, "unprivileged") {
			c.entry.Unprivileged = src.entry.Unprivileged
			c.entry.Unmapped = append(c.entry.Unmapped, fmt.Sprintf("unprivileged: not given; inherited from %d (%v)", next, src.entry.Unprivileged))
			return
		}
		next = src.cloneFrom
	}
	c.entry.Unprivileged = true
	c.entry.Unmapped = append(c.entry.Unmapped, fmt.Sprintf("unprivileged: not given and no source in the document states it; assumed true (the resource's default), the clone source %d decides", c.cloneFrom))
}

// nvidiaControlDevices are the device nodes every NVIDIA GPU container
// needs besides /dev/nvidiaN, as Phoenix's GPU feature passes them.
var nvidiaControlDevices = []string{"/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools"}

// gpus maps gpu_assignment ("none", "0", "0,1") to device entries: one
// /dev/nvidiaN per GPU, then the control nodes. The driver on the host and
// the libraries in the container stay Phoenix's GPU feature (unmapped).
func (p *parser) gpus(at string, raw json.RawMessage, e *Container, unmapped func(string, json.RawMessage)) {
	s, ok := p.str(at, raw)
	if !ok || s == "none" || s == "" {
		unmapped("gpu_assignment", raw)
		return
	}
	var paths []string
	for _, part := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(part))
		if err != nil || n < 0 || n > 63 {
			p.fail(at, `expected "none" or GPU numbers separated by commas, got %q`, s)
			return
		}
		paths = append(paths, "/dev/nvidia"+strconv.Itoa(n))
	}
	for i, path := range append(paths, nvidiaControlDevices...) {
		e.Devices = append(e.Devices, Device{Slot: int64(i), Path: path})
	}
	// Also listed: the driver and libraries part has no counterpart.
	unmapped("gpu_assignment", raw)
}

// volumes maps volumes and zfs_volumes entries ({name, pool, size_gb,
// mount_point}) to new volumes in the next free slots; the name, Phoenix's
// own label, stays unmapped.
func (p *parser) volumes(at, key string, raw json.RawMessage, e *Container, unmapped func(string, json.RawMessage)) {
	var vols []struct {
		Name       *string `json:"name"`
		Pool       *string `json:"pool"`
		SizeGB     *int64  `json:"size_gb"`
		MountPoint *string `json:"mount_point"`
	}
	if err := json.Unmarshal(raw, &vols); err != nil {
		p.fail(at, "expected an array of {name, pool, size_gb, mount_point} objects")
		return
	}
	for i, v := range vols {
		vat := fmt.Sprintf("%s[%d]", at, i)
		switch {
		case v.Pool == nil || !pve.StorageIDPattern.MatchString(*v.Pool):
			p.fail(vat+".pool", "expected a Proxmox VE storage ID")
		case v.SizeGB == nil || *v.SizeGB < 1:
			p.fail(vat+".size_gb", "expected a size in GiB of at least 1")
		case v.MountPoint == nil || !strings.HasPrefix(*v.MountPoint, "/") || *v.MountPoint == "/":
			p.fail(vat+".mount_point", "expected an absolute path inside the container")
		default:
			e.MountPoints = append(e.MountPoints, MountPoint{
				Slot: int64(len(e.MountPoints)), Path: *v.MountPoint, Storage: *v.Pool, Size: strconv.FormatInt(*v.SizeGB, 10) + "G",
			})
			if v.Name != nil {
				unmapped(fmt.Sprintf("%s[%d].name", key, i), json.RawMessage(strconv.Quote(*v.Name)))
			}
		}
	}
}

// idMapDefaultHost is where Proxmox VE maps container ID 0 without
// lxc.idmap lines (PVE::LXC::parse_id_maps): IDs 0-65535 on 100000-165535.
const (
	idMapDefaultHost = 100000
	idMapDefaultSize = 65536
)

var idMapKindLetter = map[string]string{"uid": "u", "gid": "g"}

// idMaps maps id_maps, a list of {type: uid|gid, container_id, host_id,
// size}, each an exception to Proxmox VE's default map, onto complete
// id_map entries: per kind, the container IDs 0-65535 the exceptions leave
// are mapped with the default offset around them (a kind without an
// exception gets the default line), as the resource needs each kind to map
// 0-65535 once.
func (p *parser) idMaps(at string, raw json.RawMessage) []IDMapEntry {
	items, ok := p.array(at, raw)
	if !ok {
		return nil
	}
	byKind := map[string][]IDMapEntry{}
	for i, item := range items {
		ia := fmt.Sprintf("%s[%d]", at, i)
		members, ok := p.object(ia, item)
		if !ok {
			continue
		}
		var e IDMapEntry
		for _, m := range members {
			fa := ia + "." + m.key
			switch m.key {
			case "type":
				if s, ok := p.str(fa, m.raw); ok {
					if idMapKindLetter[s] == "" {
						p.fail(fa, `must be "uid" or "gid", got %q`, s)
					}
					e.Kind = s
				}
			case "container_id":
				e.ContainerID, _ = p.integer(fa, m.raw, 0, pve.MaxID)
			case "host_id":
				e.HostID, _ = p.integer(fa, m.raw, 0, pve.MaxID)
			case "size":
				e.Size, _ = p.integer(fa, m.raw, 1, pve.MaxID+1)
			default:
				p.fail(fa, "unknown field: an id_maps entry has type, container_id, host_id and size")
			}
		}
		p.require(ia, members, "type", "container_id", "host_id", "size")
		if e.Kind != "" {
			byKind[e.Kind] = append(byKind[e.Kind], e)
		}
	}
	var out []IDMapEntry
	for _, kind := range []string{"uid", "gid"} {
		out = append(out, completeIDMap(p, at, kind, byKind[kind])...)
	}
	return out
}

// completeIDMap fills the container IDs 0-65535 that the exceptions of one
// kind leave with Proxmox VE's default offset, in container ID order.
func completeIDMap(p *parser, at, kind string, exceptions []IDMapEntry) []IDMapEntry {
	sorted := slices.Clone(exceptions)
	slices.SortStableFunc(sorted, func(a, b IDMapEntry) int { return cmp.Compare(a.ContainerID, b.ContainerID) })
	var out []IDMapEntry
	next := int64(0)
	for _, e := range sorted {
		if e.ContainerID < next {
			p.fail(at, "container %ss %s are mapped twice", kind, idRange(e.ContainerID, min(next, e.ContainerID+e.Size)-1))
			continue
		}
		if e.ContainerID > next && next < idMapDefaultSize {
			end := min(e.ContainerID, idMapDefaultSize)
			out = append(out, IDMapEntry{Kind: kind, ContainerID: next, HostID: idMapDefaultHost + next, Size: end - next})
		}
		out = append(out, e)
		next = e.ContainerID + e.Size
	}
	if next < idMapDefaultSize {
		out = append(out, IDMapEntry{Kind: kind, ContainerID: next, HostID: idMapDefaultHost + next, Size: idMapDefaultSize - next})
	}
	// PVE::LXC::validate_id_maps refuses host IDs mapped twice, which an
	// exception into the default range would cause.
	byHost := slices.Clone(out)
	slices.SortStableFunc(byHost, func(a, b IDMapEntry) int { return cmp.Compare(a.HostID, b.HostID) })
	for i := 1; i < len(byHost); i++ {
		if prev := byHost[i-1]; prev.HostID+prev.Size > byHost[i].HostID {
			p.fail(at, "host %ss %s are mapped twice once the container IDs the entries leave are mapped with Proxmox VE's default (container ID + %d)",
				kind, idRange(byHost[i].HostID, min(prev.HostID+prev.Size, byHost[i].HostID+byHost[i].Size)-1), idMapDefaultHost)
		}
	}
	return out
}

// idRange prints a range of IDs.
func idRange(first, last int64) string {
	if first == last {
		return strconv.FormatInt(first, 10)
	}
	return fmt.Sprintf("%d-%d", first, last)
}

// pctOption splits a pct command line option, "--key value" or
// "--key=value", as Phoenix passes them to pct create.
func pctOption(opt string) (key, value string, ok bool) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(opt), "--")
	if !ok {
		return "", "", false
	}
	i := strings.IndexAny(rest, " \t=")
	if i < 0 {
		return rest, "", true
	}
	return rest[:i], strings.TrimSpace(rest[i+1:]), true
}

// pctOptions are the pct command line options of pct_options that map onto
// the container: --onboot, --startup and --features. The document's own
// fields (start_at_boot, boot_order, boot_delay) decide where both say
// something; a pct option they override is listed in unmapped with that
// reason.
type pctOptions struct {
	onboot                *bool
	onbootAt, onbootOpt   string
	startup               *pve.Startup
	startupAt, startupOpt string
}

// apply records one pct option; false when it maps onto nothing.
func (o *pctOptions) apply(at, opt, key, value string, f *Features) bool {
	switch key {
	case "onboot":
		// PVE's boolean spellings (PVE::JSONSchema).
		switch strings.ToLower(value) {
		case "1", "on", "yes", "true":
			b := true
			o.onboot = &b
		case "0", "off", "no", "false":
			b := false
			o.onboot = &b
		default:
			return false
		}
		o.onbootAt, o.onbootOpt = at, opt
		return true
	case "startup":
		st, err := pve.ParseStartup(value)
		if err != nil {
			return false
		}
		o.startup, o.startupAt, o.startupOpt = &st, at, opt
		return true
	case "features":
		return applyPctFeatures(value, f)
	}
	return false
}

// merge applies the recorded options where the document's fields left the
// setting unset.
func (o *pctOptions) merge(e *Container, st *Startup) {
	overridden := func(at, opt, by string) {
		e.Unmapped = append(e.Unmapped, fmt.Sprintf("%s: %s (%s decides)", at, jsonString(opt), by))
	}
	if o.onboot != nil {
		switch {
		case e.StartOnBoot == nil:
			e.StartOnBoot = o.onboot
		case *e.StartOnBoot != *o.onboot:
			overridden(o.onbootAt, o.onbootOpt, "start_at_boot")
		}
	}
	if o.startup == nil {
		return
	}
	var by []string
	take := func(dst **int64, src *int, field string) {
		if src == nil {
			return
		}
		if *dst == nil {
			n := int64(*src)
			*dst = &n
		} else if **dst != int64(*src) {
			by = append(by, field)
		}
	}
	take(&st.Order, o.startup.Order, "boot_order")
	take(&st.UpDelay, o.startup.Up, "boot_delay")
	take(&st.DownDelay, o.startup.Down, "")
	if len(by) > 0 {
		overridden(o.startupAt, o.startupOpt, strings.Join(by, " and "))
	}
}
