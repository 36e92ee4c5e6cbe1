package pvesim

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/lxcconf"
	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/pvesim/params"
)

// reKnownOption matches the options PVE's LXC config schema defines
// (option_exists).
var reKnownOption = regexp.MustCompile(`^(?:arch|cmode|console|cores|cpulimit|cpuunits|debug|description|entrypoint|env|features|hookscript|hostname|lock|memory|nameserver|onboot|ostype|protection|rootfs|searchdomain|startup|swap|tags|template|timezone|tty|unprivileged|(?:dev|mp|unused)(?:\d|[1-9]\d|1\d\d|2[0-4]\d|25[0-5])|net(?:\d|[12]\d|3[01]))$`)

// fastplug are PVE's LXC_FASTPLUG_OPTIONS: written to a running
// container's config at once, set or deleted.
var fastplug = map[string]bool{
	"description": true, "onboot": true, "startup": true, "protection": true,
	"hostname": true, "hookscript": true, "cores": true, "tags": true, "lock": true,
}

// hotplugSet reports whether PVE applies setting key on a running container
// at once (vmconfig_hotplug_pending, add/change loop): the fast-plug
// options, the cgroup limits, networks, and a mount point or device only
// when the key is new ("don't try to hotplug over existing mp"). Every
// other change waits in [pve:pending] until the next start.
func hotplugSet(key string, exists bool) bool {
	switch {
	case fastplug[key], key == "cpulimit", key == "cpuunits", key == "memory", key == "swap", reNet.MatchString(key):
		return true
	case reMP.MatchString(key), reDev.MatchString(key):
		return !exists
	}
	return false
}

// hotplugDelete reports whether PVE deletes key from a running container's
// config at once (vmconfig_hotplug_pending, delete loop): the fast-plug
// options, unusedN (its volume is destroyed), swap, cpulimit, cpuunits and
// networks. A mount point, a device or memory stays a pending delete.
func hotplugDelete(key string) bool {
	return fastplug[key] || key == "swap" || key == "cpulimit" || key == "cpuunits" ||
		reNet.MatchString(key) || reUnused.MatchString(key)
}

// newHWAddr is PVE::Tools::random_ether_addr with the default BC:24:11
// prefix.
func newHWAddr() string {
	b := randBytes(3)
	return fmt.Sprintf("BC:24:11:%02X:%02X:%02X", b[0], b[1], b[2])
}

// parseProp parses a request's property-string value with the parameter
// table, answering PVE's 400 when it is invalid.
func parseProp(param, value string) (map[string]string, error) {
	schemaName := param
	switch {
	case reNet.MatchString(param):
		schemaName = "net[n]"
	case reMP.MatchString(param):
		schemaName = "mp[n]"
	case reUnused.MatchString(param):
		schemaName = "unused[n]"
	case reDev.MatchString(param):
		schemaName = "dev[n]"
	}
	m, err := params.ParseProperty(schemaName, value)
	if err != nil {
		return nil, paramErr1(param, err.Error())
	}
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	return out, nil
}

// normalizeParam returns the value PVE writes to the config for a set
// parameter: property strings reprinted in PVE's order (with a generated
// MAC for a network device without one), booleans as 1 or 0.
func normalizeParam(key, value string) (string, error) {
	if strings.ContainsAny(value, "\r\n") {
		return "", errf("detected invalid newline inside property '%s'", key)
	}
	// PVE's config parser trims values, so surrounding blanks never survive.
	value = strings.TrimSpace(value)
	if key == envKey {
		// Kept as one raw line per entry (write_pct_config).
		return strings.Join(envEntries(value), "\x00"), nil
	}
	nv, err := normalizeParamValue(key, value)
	if err != nil || nv == "" {
		return nv, err
	}
	scratch, _ := lxcconf.Parse(nil)
	if err := scratch.Main().Check(key, nv); err != nil {
		return "", paramErr1(key, err.Error())
	}
	return nv, nil
}

func normalizeParamValue(key, value string) (string, error) {
	f, ok := formatFor(key)
	if !ok {
		return normalizeValue(key, value), nil
	}
	props, err := parseProp(key, value)
	if err != nil {
		return "", err
	}
	if key == "rootfs" || reMP.MatchString(key) {
		if err := checkVolname(props["volume"]); err != nil {
			return "", err
		}
	}
	if reNet.MatchString(key) {
		props["type"] = "veth"
		if props["hwaddr"] == "" {
			props["hwaddr"] = newHWAddr()
		}
	}
	return printProps(props, f), nil
}

// sortSection rewrites a section's keys in alphabetical order, the way PVE
// writes every config it saves (description first, raw lxc lines last).
func sortSection(sec *lxcconf.Section) {
	keys := sec.Keys()
	vals := map[string]string{}
	var names []string
	for _, k := range keys {
		if k == "description" {
			continue
		}
		v, _ := sec.Get(k)
		vals[k] = v
		names = append(names, k)
	}
	if slices.IsSorted(names) {
		return
	}
	for _, k := range names {
		sec.Delete(k)
	}
	slices.Sort(names)
	for _, k := range names {
		if vals[k] != "" {
			sec.Set(k, vals[k])
		}
	}
}

// sortAll sorts the main section and every other section.
func sortAll(c *ct) {
	sortSection(c.main())
	for _, sec := range c.cfg.Sections() {
		sortSection(sec)
	}
}

// newConfig builds a config file from key/value pairs, sorted as PVE
// writes them.
func newConfig(vals map[string]string, description string, lxc []lxcconf.KV) *lxcconf.Config {
	cfg, _ := lxcconf.Parse(nil)
	main := cfg.Main()
	if description != "" {
		main.SetDescription(description)
	}
	keys := slices.Sorted(maps.Keys(vals))
	for _, k := range keys {
		if vals[k] != "" {
			setValue(main, k, vals[k])
		}
	}
	for _, kv := range lxc {
		main.AddLXC(kv.Key, kv.Value)
	}
	return cfg
}

// checkLock is PVE's check_lock: a config lock (or a hold_lock fault)
// refuses the operation.
func (s *server) checkLock(c *ct) error {
	if l := c.get("lock"); l != "" {
		return errf("CT is locked (%s)", l)
	}
	if l := s.faults.heldLock(c.vmid); l != "" {
		s.faults.consumeLock(c.vmid)
		return errf("CT is locked (%s)", l)
	}
	return nil
}

// effectiveLock is the lock reported by status and config reads.
func (s *server) effectiveLock(c *ct) string {
	if l := c.get("lock"); l != "" {
		return l
	}
	return s.faults.heldLock(c.vmid)
}

func isTemplate(c *ct) bool { return normBool(c.get("template")) == "1" }

// ctMemory is the container's memory in bytes.
func ctMemory(c *ct) int64 {
	mb, err := strconv.ParseInt(c.get("memory"), 10, 64)
	if err != nil || mb <= 0 {
		mb = 512
	}
	return mb << 20
}

// vmStatus is PVE::LXC::vmstatus for one container.
func (s *server) vmStatus(c *ct) map[string]any {
	ri, running := s.store.running(c.node, c.vmid)
	name := c.get("hostname")
	if name == "" {
		name = fmt.Sprintf("CT%d", c.vmid)
	}
	cpus := any(nodeCPUs)
	if v, err := strconv.Atoi(c.get("cores")); err == nil {
		cpus = v
	}
	if v, err := strconv.ParseFloat(c.get("cpulimit"), 64); err == nil && v > 0 {
		cpus = v
	}
	swapMB, err := strconv.ParseInt(c.get("swap"), 10, 64)
	if err != nil {
		swapMB = 512
	}
	maxdisk := volumeSize(splitProps(c.get("rootfs"), "volume"))
	maxmem := ctMemory(c)
	out := map[string]any{
		"vmid":      c.vmid,
		"name":      name,
		"type":      "lxc",
		"status":    "stopped",
		"cpus":      cpus,
		"cpu":       0,
		"maxmem":    maxmem,
		"mem":       0,
		"maxswap":   swapMB << 20,
		"swap":      0,
		"maxdisk":   maxdisk,
		"disk":      0,
		"uptime":    0,
		"netin":     0,
		"netout":    0,
		"diskread":  0,
		"diskwrite": 0,
	}
	if running {
		up := max(s.now().Unix()-ri.Started, 0)
		out["status"] = "running"
		out["pid"] = ri.PID
		out["uptime"] = up
		out["mem"] = maxmem / 8
		out["disk"] = maxdisk / 10
		out["cpu"] = 0.0021
		out["netin"] = 1024 * up
		out["netout"] = 512 * up
	}
	if l := s.effectiveLock(c); l != "" {
		out["lock"] = l
	}
	if t := c.get("tags"); t != "" {
		out["tags"] = t
	}
	if isTemplate(c) {
		out["template"] = 1
	}
	return out
}

// handleCTList serves GET /nodes/{node}/lxc.
func (s *server) handleCTList(r *request) (any, error) {
	out := []map[string]any{}
	for _, id := range s.store.list(r.node) {
		if !s.has(r.user, "/vms/"+strconv.Itoa(id), "VM.Audit") {
			continue
		}
		c, err := s.store.load(r.node, id)
		if err != nil {
			continue
		}
		out = append(out, s.vmStatus(c))
	}
	return out, nil
}

// handleCTIndex serves GET /nodes/{node}/lxc/{vmid}.
func (s *server) handleCTIndex(r *request) (any, error) {
	if _, err := s.store.load(r.node, r.vmid); err != nil {
		return nil, err
	}
	var out []map[string]string
	for _, d := range []string{"config", "pending", "status", "vncproxy", "termproxy", "vncwebsocket", "spiceproxy", "migrate", "clone", "rrd", "rrddata", "firewall", "snapshot", "resize", "interfaces"} {
		out = append(out, map[string]string{"subdir": d})
	}
	return out, nil
}

// handleStatusIndex serves GET /nodes/{node}/lxc/{vmid}/status.
func (s *server) handleStatusIndex(r *request) (any, error) {
	if _, err := s.store.load(r.node, r.vmid); err != nil {
		return nil, err
	}
	var out []map[string]string
	for _, d := range []string{"current", "start", "stop", "shutdown", "reboot", "suspend", "resume"} {
		out = append(out, map[string]string{"subdir": d})
	}
	return out, nil
}

// handleStatusCurrent serves GET /nodes/{node}/lxc/{vmid}/status/current.
func (s *server) handleStatusCurrent(r *request) (any, error) {
	c, err := s.store.load(r.node, r.vmid)
	if err != nil {
		return nil, err
	}
	st := s.vmStatus(c)
	st["ha"] = s.haStatus(r.vmid)
	return st, nil
}

// sectionJSON converts a section to the JSON object PVE returns.
func sectionJSON(sec *lxcconf.Section) map[string]any {
	out := map[string]any{}
	for _, k := range optionKeys(sec) {
		if k == "description" {
			out[k] = sec.Description()
			continue
		}
		v, _ := getOption(sec, k)
		out[k] = jsonValue(k, v)
	}
	if kvs := rawLXC(sec); len(kvs) > 0 {
		arr := make([][]string, 0, len(kvs))
		for _, kv := range kvs {
			arr = append(arr, []string{kv.Key, kv.Value})
		}
		out["lxc"] = arr
	}
	return out
}

// pendingDeletes parses a pending "delete" value ("swap,!features") into
// option -> forced.
func pendingDeletes(v string) map[string]bool {
	out := map[string]bool{}
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ';' || r == ' ' || r == '\t' }) {
		force := strings.HasPrefix(f, "!")
		out[strings.TrimPrefix(f, "!")] = force
	}
	return out
}

func printPendingDeletes(m map[string]bool) string {
	keys := slices.Sorted(maps.Keys(m))
	for i, k := range keys {
		if m[k] {
			keys[i] = "!" + k
		}
	}
	return strings.Join(keys, ",")
}

// readRestricted are pve-container's $options_with_restricted_read: options
// a reader sees only with the privilege on /vms/{vmid}.
var readRestricted = map[string]string{envKey: "VM.Config.Options"}

// hideRestricted is delete_read_restricted_options: it drops from a
// config's JSON (and from its pending values) the options the reader may
// not see.
func (s *server) hideRestricted(user string, vmid int, outs ...map[string]any) {
	for key, priv := range readRestricted {
		if s.has(user, "/vms/"+strconv.Itoa(vmid), priv) {
			continue
		}
		for _, out := range outs {
			delete(out, key)
		}
	}
}

// handleConfigGet serves GET /nodes/{node}/lxc/{vmid}/config.
func (s *server) handleConfigGet(r *request) (any, error) {
	c, err := s.store.load(r.node, r.vmid)
	if err != nil {
		return nil, err
	}
	sec := c.main()
	if name, ok := r.params["snapshot"]; ok && name != "" {
		sec = c.cfg.Section(name)
		if sec == nil || name == lxcconf.PendingSection {
			return nil, errf("snapshot '%s' does not exist", name)
		}
		out := sectionJSON(sec)
		s.hideRestricted(r.user, c.vmid, out)
		out["digest"] = c.digest
		return out, nil
	}
	out := sectionJSON(sec)
	s.hideRestricted(r.user, c.vmid, out)
	if pend := c.cfg.Section(lxcconf.PendingSection); pend != nil && !r.flag("current") {
		pj := sectionJSON(pend)
		s.hideRestricted(r.user, c.vmid, pj)
		for k, v := range pj {
			if k != "delete" && k != "lxc" {
				out[k] = v
			}
		}
		if d, ok := pend.Get("delete"); ok {
			for k := range pendingDeletes(d) {
				delete(out, k)
			}
		}
	}
	if _, ok := out["lock"]; !ok {
		if l := s.faults.heldLock(c.vmid); l != "" {
			out["lock"] = l
		}
	}
	out["digest"] = c.digest
	return out, nil
}

// handlePending serves GET /nodes/{node}/lxc/{vmid}/pending.
func (s *server) handlePending(r *request) (any, error) {
	c, err := s.store.load(r.node, r.vmid)
	if err != nil {
		return nil, err
	}
	cur := sectionJSON(c.main())
	delete(cur, "lxc")
	s.hideRestricted(r.user, c.vmid, cur)
	cur["digest"] = c.digest
	pend := map[string]any{}
	dels := map[string]bool{}
	if p := c.cfg.Section(lxcconf.PendingSection); p != nil {
		pend = sectionJSON(p)
		delete(pend, "lxc")
		s.hideRestricted(r.user, c.vmid, pend)
		if d, ok := p.Get("delete"); ok {
			dels = pendingDeletes(d)
		}
		delete(pend, "delete")
	}
	names := slices.Sorted(maps.Keys(addKeys(addKeys(map[string]bool{}, cur, pend), dels)))
	out := []map[string]any{}
	for _, k := range names {
		item := map[string]any{"key": k}
		if v, ok := cur[k]; ok {
			item["value"] = v
		}
		if v, ok := pend[k]; ok {
			item["pending"] = v
		}
		if force, ok := dels[k]; ok {
			item["delete"] = 1
			if force {
				item["delete"] = 2
			}
		}
		out = append(out, item)
	}
	return out, nil
}

// handleInterfaces serves GET /nodes/{node}/lxc/{vmid}/interfaces.
func (s *server) handleInterfaces(r *request) (any, error) {
	c, err := s.store.load(r.node, r.vmid)
	if err != nil {
		return nil, err
	}
	ri, ok := s.store.running(r.node, r.vmid)
	if !ok {
		return nil, errf("CT %d not running", r.vmid)
	}
	// A DHCP lease arrives some time after the start (Options.LeaseDelay).
	leased := ri.since(s.now()) >= s.opts.LeaseDelay
	iface := func(name, mac, inet, inet6 string) map[string]any {
		e := map[string]any{"name": name, "hwaddr": mac, "hardware-address": mac}
		var addrs []map[string]any
		if inet != "" {
			e["inet"] = inet
			ip, prefix, _ := strings.Cut(inet, "/")
			n, _ := strconv.Atoi(prefix)
			addrs = append(addrs, map[string]any{"ip-address": ip, "ip-address-type": "inet", "prefix": n})
		}
		if inet6 != "" {
			e["inet6"] = inet6
			ip, prefix, _ := strings.Cut(inet6, "/")
			n, _ := strconv.Atoi(prefix)
			addrs = append(addrs, map[string]any{"ip-address": ip, "ip-address-type": "inet6", "prefix": n})
		}
		if addrs == nil {
			addrs = []map[string]any{}
		}
		e["ip-addresses"] = addrs
		return e
	}
	out := []map[string]any{iface("lo", "00:00:00:00:00:00", "127.0.0.1/8", "::1/128")}
	var nets []string
	for _, k := range c.main().Keys() {
		if reNet.MatchString(k) {
			nets = append(nets, k)
		}
	}
	slices.SortFunc(nets, func(a, b string) int {
		x, _ := strconv.Atoi(a[3:])
		y, _ := strconv.Atoi(b[3:])
		return x - y
	})
	for _, k := range nets {
		p := splitProps(c.get(k), "")
		inet := p["ip"]
		if inet == "dhcp" || inet == "manual" || inet == "" {
			inet = ""
			if p["ip"] == "dhcp" && leased {
				inet = fmt.Sprintf("192.168.%d.%d/24", 100+c.vmid%100, 2+(c.vmid/100)%250)
			}
		}
		inet6 := p["ip6"]
		if inet6 == "dhcp" || inet6 == "auto" || inet6 == "manual" {
			inet6 = ""
		}
		out = append(out, iface(p["name"], strings.ToLower(p["hwaddr"]), inet, inet6))
	}
	return out, nil
}

// extractedCreateParams are the create parameters that are not config keys.
var extractedCreateParams = map[string]bool{
	"node": true, "vmid": true, "ostemplate": true, "storage": true, "password": true,
	"ssh-public-keys": true, "pool": true, "force": true, "restore": true, "unique": true,
	"ignore-unpack-errors": true, "bwlimit": true, "start": true, "ha-managed": true, "unprivileged": true,
}

var reNumberOnly = regexp.MustCompile(`^\d+(?:\.\d+)?$`)

// checkStorageForCT is create's check_and_activate_storage.
func checkStorageForCT(sid string) error {
	d, err := storageConfig(sid)
	if err != nil {
		return err
	}
	if !d.has("rootdir") {
		return paramErr1("storage", fmt.Sprintf("storage '%s' does not support container directories", sid))
	}
	return nil
}

// checkOSTemplate is check_volume_access for the ostemplate volume. It
// returns the template file name; whether the file exists is found out by
// the create task, as in PVE.
func checkOSTemplate(volid string) (string, error) {
	sid, name, ok := strings.Cut(volid, ":")
	if !ok || strings.HasPrefix(volid, "/") {
		// A path: allowed for root@pam; the task looks for the file.
		const cache = "/var/lib/vz/template/cache/"
		if rest, ok := strings.CutPrefix(volid, cache); ok && !strings.Contains(rest, "/") {
			return rest, nil
		}
		return "", nil
	}
	d, err := storageConfig(sid)
	if err != nil {
		return "", err
	}
	vtype, file, _ := strings.Cut(name, "/")
	if d.typ == "lvmthin" {
		return "", errf("unable to parse lvm volume name '%s'", name)
	}
	if vtype != "vztmpl" || file == "" || strings.Contains(file, "/") {
		return "", errf("unable to use volume %s - content type needs to be 'vztmpl'", volid)
	}
	return file, nil
}

// addKeys adds the keys of each map to set and returns set.
func addKeys[V any](set map[string]bool, ms ...map[string]V) map[string]bool {
	for _, m := range ms {
		for k := range m {
			set[k] = true
		}
	}
	return set
}

// mountKeysSorted orders rootfs and mpN keys like PVE's foreach_mountpoint.
func mountKeysSorted(m map[string]string) []string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		ia, ib := -1, -1
		if a != "rootfs" {
			ia, _ = strconv.Atoi(a[2:])
		}
		if b != "rootfs" {
			ib, _ = strconv.Atoi(b[2:])
		}
		return ia - ib
	})
	return keys
}

// mountType classifies a mount point volume: "volume", "bind" or "device".
func mountType(vol string) string {
	switch {
	case strings.HasPrefix(vol, "/dev/"):
		return "device"
	case strings.HasPrefix(vol, "/"):
		return "bind"
	}
	return "volume"
}

// handleCreate serves POST /nodes/{node}/lxc.
func (s *server) handleCreate(r *request) (any, error) {
	p := r.params
	missing := map[string]string{}
	for _, k := range []string{"vmid", "ostemplate"} {
		if _, ok := p[k]; !ok {
			missing[k] = "property is missing and it is not optional"
		}
	}
	if len(missing) > 0 {
		return nil, paramErr(missing)
	}
	vmid, err := strconv.Atoi(p["vmid"])
	if err != nil {
		return nil, paramErr1("vmid", "type check ('integer') failed - got '"+p["vmid"]+"'")
	}
	// create_vm's permission checks, in its order: Sys.Modify on "/" for a
	// privileged container, the vmid, the pool, VM.Allocate, every config
	// key (check_ct_modify_config_perm), the template, then the storages.
	unprivileged := !r.has("unprivileged") || r.flag("unprivileged")
	if !unprivileged {
		if err := s.check(r.user, "/", "Sys.Modify"); err != nil {
			return nil, err
		}
	}
	if err := s.store.checkVMIDUnused(vmid); err != nil {
		return nil, err
	}
	pool, inPool := p["pool"]
	if inPool {
		if err := s.checkPoolExist(pool); err != nil {
			return nil, err
		}
	}
	if !s.has(r.user, "/vms/"+strconv.Itoa(vmid), "VM.Allocate") && (!inPool || !s.has(r.user, "/pool/"+pool, "VM.Allocate")) {
		return nil, permError("")
	}
	if r.flag("ha-managed") {
		if err := s.check(r.user, "/", "Sys.Console"); err != nil {
			return nil, err
		}
	}
	confParams := map[string]string{}
	for k, v := range p {
		if !extractedCreateParams[k] {
			confParams[k] = v
		}
	}
	if err := s.checkCTModifyConfigPerm(r.user, vmid, pool, nil, confParams, nil, unprivileged); err != nil {
		return nil, err
	}
	ostemplate := p["ostemplate"]
	tmplName, err := checkOSTemplate(ostemplate)
	if err != nil {
		return nil, err
	}
	if err := s.checkVolumeAccess(r.user, vmid, ostemplate); err != nil {
		return nil, err
	}
	storage := p["storage"]
	if storage == "" {
		storage = "local"
	}

	mounts := map[string]string{}
	noDisk := map[string]string{}
	for k, v := range p {
		switch {
		case extractedCreateParams[k]:
		case k == "rootfs" || reMP.MatchString(k):
			if reNumberOnly.MatchString(v) {
				v = storage + ":" + v
			}
			mounts[k] = v
		case reUnused.MatchString(k):
		default:
			noDisk[k] = v
		}
	}
	if len(mounts) > 0 && mounts["rootfs"] == "" {
		return nil, errf("mount points configured, but 'rootfs' not set - aborting")
	}
	mountProps := map[string]map[string]string{}
	for _, k := range mountKeysSorted(mounts) {
		props, err := parseProp(k, mounts[k])
		if err != nil {
			return nil, err
		}
		mountProps[k] = props
		if mountType(props["volume"]) != "volume" {
			continue
		}
		sid, _, ok := strings.Cut(props["volume"], ":")
		if !ok {
			return nil, errf("unable to parse volume ID '%s'", props["volume"])
		}
		if err := checkStorageForCT(sid); err != nil {
			return nil, err
		}
		if err := s.check(r.user, "/storage/"+sid, "Datastore.AllocateSpace"); err != nil {
			return nil, err
		}
	}
	if _, ok := mounts["rootfs"]; !ok {
		if err := checkStorageForCT(storage); err != nil {
			return nil, err
		}
		if err := s.check(r.user, "/storage/"+storage, "Datastore.AllocateSpace"); err != nil {
			return nil, err
		}
	}

	conf := map[string]string{}
	description := ""
	for k, v := range noDisk {
		if k == "description" {
			description = v
			continue
		}
		nv, err := normalizeParam(k, v)
		if err != nil {
			return nil, err
		}
		if k == "hookscript" {
			// update_pct_config, which create_vm runs on the new options
			// before it reserves the id.
			if err := s.checkHookscript(r.node, nv); err != nil {
				return nil, err
			}
		}
		conf[k] = nv
	}
	if unprivileged {
		conf["unprivileged"] = "1"
	}

	// create_and_lock_config: reserve the id with a "lock: create" config.
	err = s.store.withLock(vmid, func() error {
		if err := s.store.checkVMIDUnused(vmid); err != nil {
			return err
		}
		return s.store.create(r.node, vmid, newConfig(map[string]string{"lock": "create"}, "", nil))
	})
	if err != nil {
		return nil, errf("unable to create CT %d - %s", vmid, asAPIError(err).msg)
	}

	job := createJob{
		node: r.node, vmid: vmid, template: tmplName, ostemplate: ostemplate, storage: storage,
		mounts: mountProps, conf: conf, description: description,
		sshKeys: p["ssh-public-keys"], start: r.flag("start"), user: r.user,
		pool: pool, haManaged: r.flag("ha-managed"),
	}
	return s.tasks.start(r.node, "vzcreate", strconv.Itoa(vmid), r.user, nil, job.run(s)), nil
}

// createJob is the work of a vzcreate task.
type createJob struct {
	node, template, ostemplate, storage string
	vmid                                int
	mounts                              map[string]map[string]string
	conf                                map[string]string
	description, sshKeys                string
	start                               bool
	user                                string
	// pool is the pool the container joins at the end (add_vm_to_pool).
	pool string
	// haManaged adds the container as an HA resource at the end.
	haManaged bool
}

func (j createJob) run(s *server) func(t *task) error {
	return func(t *task) error {
		var vols []string
		err := s.store.withLock(j.vmid, func() error {
			if _, err := s.store.load(j.node, j.vmid); err != nil {
				return err
			}
			if err := t.fault(); err != nil {
				return err
			}
			mounts := j.mounts
			if len(mounts) == 0 {
				mounts = map[string]map[string]string{"rootfs": {"volume": j.storage + ":4"}}
			}
			var err error
			vols, err = s.createDisks(t, j.node, j.vmid, mounts, j.conf)
			if err != nil {
				return err
			}
			tmpl, ok := s.findTemplate(j.template)
			if !ok {
				return errf("can't find file '%s'", j.ostemplate)
			}
			t.logf("extracting archive '/var/lib/vz/template/cache/%s'", tmpl.name)
			t.logf("Total bytes read: %d (%dMiB, 312MiB/s)", tmpl.size*3, tmpl.size*3>>20)
			arch := "amd64"
			if strings.Contains(tmpl.name, "_arm64") {
				arch = "arm64"
			}
			if j.conf["arch"] == "" {
				j.conf["arch"] = arch
			}
			t.logf("Detected container architecture: %s", j.conf["arch"])
			if j.conf["ostype"] == "" {
				j.conf["ostype"] = tmpl.distro
			}
			if j.conf["hostname"] == "" {
				j.conf["hostname"] = fmt.Sprintf("CT%d", j.vmid)
			}
			if j.conf["memory"] == "" || j.conf["memory"] == "0" {
				j.conf["memory"] = "512"
			}
			if j.conf["swap"] == "" {
				j.conf["swap"] = "512"
			}
			rootVol := splitProps(j.conf["rootfs"], "volume")["volume"]
			if mountType(rootVol) == "volume" {
				if err := populateRootfs(s.store.volumeDir(j.node, rootVol), tmpl, j.conf["hostname"], j.sshKeys); err != nil {
					return err
				}
			}
			if tmpl.distro != "alpine" {
				t.logf("Creating SSH host key 'ssh_host_ed25519_key' - this may take some time ...")
				t.logf("done: SHA256:%s root@%s", strings.TrimRight(newUUID(), "-")[:20], j.conf["hostname"])
			}
			c := &ct{node: j.node, vmid: j.vmid, cfg: newConfig(j.conf, j.description, nil)}
			return s.store.save(c)
		})
		if err != nil {
			for _, v := range vols {
				_ = os.RemoveAll(s.store.volumeDir(j.node, v))
			}
			_ = s.store.withLock(j.vmid, func() error { return s.store.destroy(j.node, j.vmid) })
			return errf("unable to create CT %d - %s", j.vmid, strings.TrimRight(err.Error(), "\n"))
		}
		if j.pool != "" {
			if err := s.store.addVMToPool(j.vmid, j.pool); err != nil {
				return errf("can't add VM %d to pool '%s': %s", j.vmid, j.pool, asAPIError(err).msg)
			}
		}
		if j.start {
			// create_vm's worker calls vm_start, which forks a vzstart task
			// of its own (no permission check: it is called as a method)
			// and returns without waiting for it.
			unlock, err := s.store.lock(j.vmid)
			if err != nil {
				return err
			}
			s.tasks.start(j.node, "vzstart", strconv.Itoa(j.vmid), j.user, unlock, func(st *task) error {
				if err := st.fault(); err != nil {
					return err
				}
				return s.startCT(j.node, j.vmid, false)
			})
		}
		if j.haManaged {
			// "ha-manager add ct:<vmid> --state ...": a failure is only
			// warned about.
			state := "stopped"
			if j.start {
				state = "started"
			}
			t.logf("Add as HA resource")
			sid := "ct:" + strconv.Itoa(j.vmid)
			if err := s.store.addHAResource(sid, "ct", map[string]string{"state": state}); err != nil {
				t.logf("WARN: %s", err.Error())
			} else {
				s.haApply(sid)
			}
		}
		return nil
	}
}

// createDisks allocates the new volumes among mounts ("storage:size") and
// records every mount point in conf. It returns the allocated volume ids.
func (s *server) createDisks(t *task, node string, vmid int, mounts map[string]map[string]string, conf map[string]string) ([]string, error) {
	var vols []string
	for _, key := range mountKeysSorted(func() map[string]string {
		m := map[string]string{}
		for k := range mounts {
			m[k] = ""
		}
		return m
	}()) {
		props := mounts[key]
		f, _ := formatFor(key)
		if m := reNewDisk.FindStringSubmatch(props["volume"]); m != nil && mountType(props["volume"]) == "volume" {
			sid := m[1]
			d, err := storageConfig(sid)
			if err != nil {
				return vols, err
			}
			gb, _ := strconv.ParseFloat(m[2], 64)
			sizeKB := int64(gb*1024) * 1024
			if sizeKB <= 0 {
				return vols, errf("unable to create containers on storage type '%s' with size 0", d.typ)
			}
			name := s.store.freeVolumeName(node, sid, vmid, nil)
			volid := sid + ":" + name
			if err := os.MkdirAll(s.store.volumeDir(node, volid), 0o755); err != nil {
				return vols, err
			}
			vols = append(vols, volid)
			t.logf("  Logical volume \"%s\" created.", name)
			t.logf("Creating filesystem with %d 4k blocks and %d inodes", sizeKB/4, sizeKB/16)
			props["volume"] = volid
			props["size"] = formatSize(sizeKB * 1024)
		}
		conf[key] = printProps(props, f)
	}
	return vols, nil
}

// configVolumes lists the volumes (volid) referenced by the rootfs, mpN and
// unusedN keys of a section.
func configVolumes(sec *lxcconf.Section) map[string]string {
	out := map[string]string{}
	for _, k := range sec.Keys() {
		if k != "rootfs" && !reMP.MatchString(k) && !reUnused.MatchString(k) {
			continue
		}
		v, _ := sec.Get(k)
		vol := splitProps(v, "volume")["volume"]
		if mountType(vol) == "volume" && strings.Contains(vol, ":") {
			out[k] = vol
		}
	}
	return out
}

// handleDestroy serves DELETE /nodes/{node}/lxc/{vmid}.
func (s *server) handleDestroy(r *request) (any, error) {
	c, err := s.store.load(r.node, r.vmid)
	if err != nil {
		return nil, err
	}
	purge := r.flag("purge")
	early := func(c *ct) error {
		if normBool(c.get("protection")) == "1" {
			return errf("can't remove CT %d - protection mode enabled", c.vmid)
		}
		if err := s.checkLock(c); err != nil {
			return err
		}
		// destroy_vm refuses a guest that has an HA resource unless purge
		// removes it (service_is_configured: an ignored one counts too).
		if !purge && s.store.haResourceOf(c.vmid) != nil {
			return errf("unable to remove CT %d - used in HA resources and purge parameter not set.", c.vmid)
		}
		return nil
	}
	if err := early(c); err != nil {
		return nil, err
	}
	runningMsg := errf("unable to destroy CT %d - container is running", r.vmid)
	force := r.flag("force")
	if _, running := s.store.running(r.node, r.vmid); running && !force {
		return nil, runningMsg
	}
	node, vmid := r.node, r.vmid
	unref := r.flag("destroy-unreferenced-disks")
	return s.tasks.start(node, "vzdestroy", strconv.Itoa(vmid), r.user, nil, func(t *task) error {
		return s.store.withLock(vmid, func() error {
			c, err := s.loadInTask(t, node, vmid)
			if err != nil {
				return err
			}
			if err := early(c); err != nil {
				return err
			}
			if _, running := s.store.running(node, vmid); running {
				if !force {
					return runningMsg
				}
				t.logf("forced to stop CT %d before destroying!", vmid)
				if err := s.store.setRunning(node, vmid, false, 0); err != nil {
					return err
				}
			}
			vols := map[string]bool{}
			for _, v := range configVolumes(c.main()) {
				vols[v] = true
			}
			for _, sec := range c.cfg.Snapshots() {
				for _, v := range configVolumes(sec) {
					vols[v] = true
				}
			}
			for v := range vols {
				if err := s.checkBaseUnused(node, vmid, v); err != nil {
					return err
				}
			}
			c.main().Set("lock", "destroyed")
			sortSection(c.main())
			if err := s.store.save(c); err != nil {
				return err
			}
			for v := range vols {
				// delete_mountpoint_volume frees only what the container
				// owns.
				if volumeOwner(v) != vmid {
					t.logf("ignore deletion of '%s', CT %d isn't the owner!", v, vmid)
					continue
				}
				s.removeVolume(node, v, c)
				_, name, _ := strings.Cut(v, ":")
				t.logf("  Logical volume \"%s\" successfully removed.", name)
			}
			if unref {
				s.removeUnreferenced(t, node, vmid)
			}
			// remove_vm_access: the guest leaves its pool whether or not
			// purge is set.
			if err := s.store.removeVMFromPools(vmid); err != nil {
				return err
			}
			if purge {
				t.logf("purging CT %d from related configurations..", vmid)
				sid := "ct:" + strconv.Itoa(vmid)
				if s.store.haResourceOf(vmid) != nil {
					if err := s.store.removeHAResource(sid); err != nil {
						return err
					}
					t.logf("NOTE: removed CT %d from HA resource configuration.", vmid)
				}
			}
			return s.store.destroy(node, vmid)
		})
	}), nil
}

// checkBaseUnused refuses to free a template's base volume that linked
// clones still use.
func (s *server) checkBaseUnused(node string, vmid int, volid string) error {
	sid, name, _ := strings.Cut(volid, ":")
	if !strings.HasPrefix(name, "base-") || strings.Contains(name, "/") {
		return nil
	}
	for _, id := range s.store.list(node) {
		if id == vmid {
			continue
		}
		c, err := s.store.load(node, id)
		if err != nil {
			continue
		}
		for _, v := range configVolumes(c.main()) {
			if strings.HasPrefix(v, sid+":"+name+"/") {
				return errf("base volume '%s' is still in use by linked cloned", name)
			}
		}
	}
	return nil
}

// removeVolume deletes a volume's directory and its snapshot copies.
func (s *server) removeVolume(node, volid string, c *ct) {
	_ = os.RemoveAll(s.store.volumeDir(node, volid))
	if c == nil {
		return
	}
	for _, sec := range c.cfg.Snapshots() {
		_ = os.RemoveAll(s.store.snapshotDir(node, volid, sec.Name()))
	}
}

// removeUnreferenced deletes every disk of vmid left on the node's storages.
func (s *server) removeUnreferenced(t *task, node string, vmid int) {
	for _, d := range storages {
		dir := VolumeDir(s.store.dir, node, d.id+":x")
		entries, err := os.ReadDir(strings.TrimSuffix(dir, "x"))
		if err != nil {
			continue
		}
		for _, e := range entries {
			n := e.Name()
			if strings.HasPrefix(n, fmt.Sprintf("vm-%d-disk-", vmid)) || strings.HasPrefix(n, fmt.Sprintf("base-%d-disk-", vmid)) {
				_ = os.RemoveAll(s.store.volumeDir(node, d.id+":"+n))
				t.logf("  Logical volume \"%s\" successfully removed.", n)
			}
		}
	}
}

// randomPID is a plausible container init pid.
func randomPID() int { return 100000 + rand.IntN(800000) } //nolint:gosec // only needs to look plausible.

// reVolname is what the storage plugins' parse_volname accept for the
// simulated storages' images: PVE's LVM name rule (parse_lvm_name: no "/",
// no "..") for vm- and base- volumes, and the simulator's linked clone
// form base-<id>-<name>/vm-<id>-<name>.
var reVolname = regexp.MustCompile(`(?i)^(?:base-\d+-[a-z0-9][a-z0-9_.\-]*[a-z0-9]/)?(?:vm|base)-\d+-[a-z0-9][a-z0-9_.\-]*[a-z0-9]$`)

// checkVolname refuses a mount point volume whose name the storage could
// not parse, as PVE's parse_volname does ("unable to parse lvm volume
// name"). New volumes (STORAGE:SIZE), bind and device mounts pass.
func checkVolname(vol string) error {
	if mountType(vol) != "volume" {
		return nil
	}
	sid, name, ok := strings.Cut(vol, ":")
	if !ok {
		return nil
	}
	if _, isNew := parseNewDisk(vol); isNew {
		return nil
	}
	if strings.Contains(name, "..") || !reVolname.MatchString(name) {
		d, _ := storageByID(sid)
		if d.typ == "dir" {
			return errf("unable to parse directory volume name '%s'", name)
		}
		return errf("unable to parse lvm volume name '%s'", name)
	}
	return nil
}
