package provider

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/nodeexec"
	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/pve"
)

// Proxmox VE reserves some container settings to root@pam itself: only a
// ticket login as root@pam may change them over the API, never an API token
// (not even root@pam's own). The provider applies them on the node with
// "pct set" over its SSH access, as root, where PVE still validates them.
// Everything else goes through the API and PVE's ACLs.

// apiIsRootPam reports whether the provider's API identity is root@pam
// logged in with a ticket: the only identity PVE lets change root-only
// settings over the API.
func (d *providerData) apiIsRootPam() bool {
	return d.Settings.API.APIToken == "" && d.Settings.API.Username == "root@pam"
}

// apiIdentity names the provider's API identity for messages.
func (d *providerData) apiIdentity() string {
	if tok := d.Settings.API.APIToken; tok != "" {
		id, _, _ := strings.Cut(tok, "=")
		return "the API token " + id
	}
	if u := d.Settings.API.Username; u != "" {
		return "the user " + u
	}
	return "no identity"
}

// hasSSHAuth reports whether the ssh block configures a way to log in.
func (d *providerData) hasSSHAuth() bool {
	s := d.Settings.SSH
	return s.PrivateKey != "" || s.Agent || s.Password != ""
}

// featureFlags parses a features value with internal/pve's parser into
// flag -> value as PVE's parse_features leaves it: booleans as 0 or 1,
// mount as its list, an absent flag absent (PVE compares absent as "", so
// keyctl=0 differs from no keyctl).
func featureFlags(v string) map[string]string {
	out := map[string]string{}
	f, named, err := pve.ParseFeaturesWithKeys(v)
	if err != nil {
		return out
	}
	flags := map[string]bool{"nesting": f.Nesting, "keyctl": f.Keyctl, "fuse": f.Fuse, "mknod": f.Mknod, "force_rw_sys": f.ForceRwSys}
	for _, k := range named {
		switch on, isFlag := flags[k]; {
		case isFlag:
			out[k] = boolStr(on)
		case k == "mount":
			out[k] = strings.Join(f.Mount, ";")
		default:
			out[k] = f.Extra[k]
		}
	}
	return out
}

// rootOnlyReason says why changing key from old to value ("" deletes it)
// is reserved to root@pam, following pve-container's
// check_ct_modify_config_perm; "" when it is not.
func rootOnlyReason(key, old, value string, unprivileged bool) string {
	switch {
	case key == "features":
		if old == value {
			return ""
		}
		if !unprivileged {
			return "changing feature flags of a privileged container is only allowed for root@pam"
		}
		oldF, newF := featureFlags(old), featureFlags(value)
		var changed []string
		for k := range oldF {
			if k != "nesting" && oldF[k] != newF[k] {
				changed = append(changed, k)
			}
		}
		for k := range newF {
			if _, seen := oldF[k]; !seen && k != "nesting" {
				changed = append(changed, k)
			}
		}
		if len(changed) == 0 {
			return ""
		}
		sort.Strings(changed)
		return "changing feature flags other than nesting (" + strings.Join(changed, ", ") + ") is only allowed for root@pam"
	case key == "rootfs" || isMountKey(key):
		if value == "" {
			return ""
		}
		vol, _, _ := strings.Cut(value, ",")
		vol = strings.TrimPrefix(vol, "volume=")
		switch {
		case strings.HasPrefix(vol, "/dev/"):
			return "device mount points are only allowed for root@pam"
		case strings.HasPrefix(vol, "/"):
			return "bind mount points are only allowed for root@pam"
		}
	case isDevKey(key):
		return "device passthrough (dev[n]) is only allowed for root@pam"
	case key == "hookscript":
		return "changing the hookscript is only allowed for root@pam"
	}
	return ""
}

func isMountKey(k string) bool {
	_, ok := keyIndex(k, "mp")
	return ok
}

func isDevKey(k string) bool {
	_, ok := keyIndex(k, "dev")
	return ok
}

// splitRootOnly separates from a change what the API identity may not set:
// root gets the keys PVE reserves to root@pam, api the rest. With a
// root@pam identity everything stays on the API.
func splitRootOnly(ch configChange, actual map[string]string, rootPam bool) (api, root configChange) {
	api = configChange{Set: map[string]string{}}
	root = configChange{Set: map[string]string{}}
	if rootPam {
		return ch, root
	}
	unpriv := actual["unprivileged"] == "1"
	for k, v := range ch.Set {
		if rootOnlyReason(k, actual[k], v, unpriv) != "" {
			root.Set[k] = v
		} else {
			api.Set[k] = v
		}
	}
	for _, k := range ch.Delete {
		if rootOnlyReason(k, actual[k], "", unpriv) != "" {
			root.Delete = append(root.Delete, k)
		} else {
			api.Delete = append(api.Delete, k)
		}
	}
	return api, root
}

// deferRootOnly removes from create parameters the mount points and
// devices PVE reserves to root@pam (bind and device mounts, devN), to be set
// once the container exists; it reports whether it removed any. Features
// have their own rule (withoutRootOnlyFeatures).
func deferRootOnly(params map[string]string) bool {
	removed := false
	for k, v := range params {
		if k != "features" && rootOnlyReason(k, "", v, params["unprivileged"] == "1") != "" {
			delete(params, k)
			removed = true
		}
	}
	return removed
}

// withoutRootOnlyFeatures returns the features a create request may carry
// for a non-root@pam identity (nesting alone, which PVE lets anyone with
// VM.Allocate set) and whether the full value must be set afterwards as
// root.
func withoutRootOnlyFeatures(features string, unprivileged bool) (string, bool) {
	if features == "" || rootOnlyReason("features", "", features, unprivileged) == "" {
		return features, false
	}
	if !unprivileged {
		return "", true
	}
	if v, ok := featureFlags(features)["nesting"]; ok {
		return "nesting=" + v, true
	}
	return "", true
}

// opSetConfigAsRoot is the operation name of "pct set" on a node.
const opSetConfigAsRoot = "pct-set"

// purposeRootOnly names what needs SSH when a setting is reserved to
// root@pam.
const purposeRootOnly = "a setting Proxmox VE reserves to root@pam"

// pctSetCommand is "pct set <vmid> --key value ... [--delete a,b] [--digest d]".
func pctSetCommand(vmid int, set map[string]string, del []string, digest string) nodeexec.Command {
	argv := []string{"pct", "set", strconv.Itoa(vmid)}
	ks := make([]string, 0, len(set))
	for k := range set {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	for _, k := range ks {
		argv = append(argv, "--"+k, set[k])
	}
	if len(del) > 0 {
		d := append([]string(nil), del...)
		sort.Strings(d)
		argv = append(argv, "--delete", strings.Join(d, ","))
	}
	if digest != "" {
		argv = append(argv, "--digest", digest)
	}
	return nodeexec.Command{Op: opSetConfigAsRoot, Argv: argv, Sudo: true}
}

// errDigestChanged is returned when pct set refused a stale digest.
var errDigestChanged = errors.New("the container's configuration changed since it was read")

// SetConfigAsRoot applies a config change on node with "pct set" as root:
// PVE validates it, takes the config lock and checks digest (when given).
func (o *nodeOps) SetConfigAsRoot(ctx context.Context, node string, vmid int, set map[string]string, del []string, digest string) error {
	if err := checkVMID(vmid); err != nil {
		return err
	}
	cmd := pctSetCommand(vmid, set, del, digest)
	wait := 500 * time.Millisecond
	for {
		_, err := o.run(ctx, node, purposeRootOnly, cmd, true)
		if err == nil {
			return nil
		}
		var ce *nodeexec.CommandError
		if !errors.As(err, &ce) {
			return err
		}
		out := strings.TrimSpace(strings.Join(ce.StderrTail, "\n"))
		switch {
		case strings.Contains(out, "detected modified configuration"):
			return errDigestChanged
		case strings.Contains(out, "is locked") || strings.Contains(out, "can't lock file"):
			// A backup, a clone of this container or another writer holds
			// its lock: wait for it like the API calls do.
			tflog.Debug(ctx, "container locked; pct set waits", map[string]any{"node": node, "vmid": vmid, "wait": wait.String()})
			select {
			case <-ctx.Done():
				return fmt.Errorf("pct set %d on node %q: %s (still locked when the timeout ran out)", vmid, node, out)
			case <-time.After(wait):
			}
			wait = min(2*wait, 5*time.Second)
			continue
		}
		return fmt.Errorf("pct set %d on node %q failed: %s", vmid, node, out)
	}
}

// rootOnlyPlanError is the plan-time message when a root-only setting
// cannot be applied: the provider's identity is not root@pam and it has no
// SSH access.
func rootOnlyPlanError(d *providerData, what, reason string) string {
	return fmt.Sprintf("%s: Proxmox VE allows this only to root@pam itself (%s; pve-container's "+
		"check_ct_modify_config_perm), and the provider authenticates with %s, which PVE refuses it whatever its "+
		"privileges. Either add an ssh block to the provider (the provider then applies the setting on the node as root "+
		"with \"pct set\", where PVE still validates it), or log in as root@pam with username and password instead of an API token.",
		what, reason, d.apiIdentity())
}

// logRootOnly notes that a change goes to the node instead of the API.
func logRootOnly(ctx context.Context, node string, vmid int, root configChange) {
	tflog.Info(ctx, "applying settings reserved to root@pam on the node with pct set", map[string]any{
		"node": node, "vmid": vmid, "set": keys(root.Set), "delete": root.Delete,
	})
}

// planRootOnly fails the plan when it changes a setting PVE reserves to
// root@pam and the provider can neither send it as root@pam nor apply it
// on the node: its API identity is not root@pam and it has no SSH access.
// Planning needs no network: the identity is in the provider block. A
// provider without credentials plans as far as it can (the apply stops on
// the missing credentials).
func planRootOnly(ctx context.Context, d *providerData, plan, state *lxcContainerModel, diags *diag.Diagnostics) {
	if d == nil || d.Settings.Unknown || d.Settings.Missing != "" || d.apiIsRootPam() || d.hasSSHAuth() {
		return
	}
	// A hookscript is the configuration's own, for a clone too.
	planRootOnlyHookscript(d, plan, state, diags)
	if state == nil && plan.Clone != nil {
		// A clone starts from its source's features and mounts, which
		// planning cannot read: the apply checks them before cloning
		// (checkCloneRootOnly).
		return
	}
	planRootOnlyMounts(ctx, d, plan, state, diags)
	want := readFeatures(plan.Features)
	if !want.known() {
		return
	}
	newF, ds := want.pveString(ctx)
	diags.Append(ds...)
	oldF := ""
	if state != nil {
		if have := readFeatures(state.Features); have.known() {
			oldF, ds = have.pveString(ctx)
			diags.Append(ds...)
		}
	}
	unpriv := !known(plan.Unprivileged) || plan.Unprivileged.ValueBool()
	reason := rootOnlyReason("features", oldF, newF, unpriv)
	if reason == "" {
		return
	}
	what := "features = " + newF
	if plan.Docker != nil {
		what += " (the docker block needs nesting and keyctl)"
	}
	diags.AddAttributeError(path.Root("features"), "Setting reserved to root@pam", rootOnlyPlanError(d, what, reason))
}

// planNodeAccess fails the plan when the id_map lines must be written and
// the provider has no SSH access: Proxmox VE's API cannot set raw lxc.*
// lines for any identity, root@pam included (the API's config schema has no
// key for them; PVE::LXC::Config::parse_pct_config reads them from the file
// only), so a root@pam login does not help.
func planNodeAccess(ctx context.Context, d *providerData, plan, state *lxcContainerModel, diags *diag.Diagnostics) {
	if d == nil || d.Settings.Unknown || d.Settings.Missing != "" || d.hasSSHAuth() {
		return
	}
	want, ds := desiredIDMapLines(ctx, plan)
	diags.Append(ds...)
	var have [][2]string
	if state != nil {
		have, ds = desiredIDMapLines(ctx, state)
		diags.Append(ds...)
	}
	if slices.Equal(want, have) {
		return
	}
	diags.AddAttributeError(path.Root("id_map"), "id_map needs SSH access to the node",
		"The id_map blocks are lxc.idmap lines of the container's configuration file, and Proxmox VE's API cannot set raw "+
			"lxc.* lines for any identity, root@pam included: the provider writes them over SSH, under Proxmox VE's config "+
			"lock. Add an ssh block to the provider (ssh.private_key, ssh.agent or ssh.password, or PHOENIX_SSH_PRIVATE_KEY, "+
			"PHOENIX_SSH_AGENT, PHOENIX_SSH_PASSWORD), or remove the id_map blocks to keep Proxmox VE's default mapping.")
}

// planRootOnlyMounts refuses at plan time the mount points and devices PVE
// reserves to root@pam (bind and device mounts, devN) when neither SSH nor
// a root@pam login can set them.
func planRootOnlyMounts(ctx context.Context, d *providerData, plan, state *lxcContainerModel, diags *diag.Diagnostics) {
	want, have := map[string]string{}, map[string]string{}
	diags.Append(desiredMounts(ctx, plan, want)...)
	diags.Append(desiredDevices(ctx, plan, want)...)
	if state != nil {
		diags.Append(desiredMounts(ctx, state, have)...)
		diags.Append(desiredDevices(ctx, state, have)...)
	}
	unpriv := !known(plan.Unprivileged) || plan.Unprivileged.ValueBool()
	ch := diffConfig(want, have)
	keys := append(slices.Sorted(maps.Keys(ch.Set)), ch.Delete...)
	for _, k := range keys {
		if reason := rootOnlyReason(k, have[k], ch.Set[k], unpriv); reason != "" {
			at := path.Root("mount_point")
			if isDevKey(k) {
				at = path.Root("device")
			}
			diags.AddAttributeError(at, "Setting reserved to root@pam", rootOnlyPlanError(d, k+" = "+ch.Set[k], reason))
			return
		}
	}
}

// planRootOnlyHookscript refuses at plan time a hookscript set, changed or
// removed when neither SSH nor a root@pam login can apply it
// (check_ct_modify_config_perm reserves any change of it to root@pam).
func planRootOnlyHookscript(d *providerData, plan, state *lxcContainerModel, diags *diag.Diagnostics) {
	if plan.Hookscript.IsUnknown() {
		return
	}
	want, have := plan.Hookscript.ValueString(), ""
	if state != nil {
		have = state.Hookscript.ValueString()
	}
	if want == have {
		return
	}
	what := "hookscript = " + want
	if want == "" {
		what = "removing hookscript " + have
	}
	diags.AddAttributeError(path.Root("hookscript"), "Setting reserved to root@pam",
		rootOnlyPlanError(d, what, rootOnlyReason("hookscript", have, want, true)))
}

// privNeed is one privilege (any of privs) an operation needs on a path,
// and the attribute that needs it.
type privNeed struct {
	path  string
	privs []string
	attr  string
	// pool, when set, is a pool whose privileges also meet the need: a
	// create or clone into a pool checks the new guest's privileges there
	// (RPCEnvironment::check_vm_perm), and a pool's member gets them.
	pool string
}

func (n privNeed) String() string {
	where := n.path
	if n.pool != "" {
		where += " (or /pool/" + n.pool + ")"
	}
	return strings.Join(n.privs, " or ") + " on " + where + ", for " + n.attr
}

// inPool lets the container's own needs (on vms) be met on pool too, but
// for tags: pve-guest-common's assert_tag_permissions checks
// VM.Config.Options on /vms/{vmid} only, pool or not.
func inPool(needs []privNeed, vms, pool string, tagsAsSent bool) []privNeed {
	if pool == "" {
		return needs
	}
	for i := range needs {
		if needs[i].path == vms && (!tagsAsSent || needs[i].attr != settingAttr("tags")) {
			needs[i].pool = pool
		}
	}
	return needs
}

// settingAttr names the resource attribute behind a Proxmox VE key (the
// settings table's attribute column).
func settingAttr(key string) string {
	if isNetKey(key) {
		return "network[" + strings.TrimPrefix(key, "net") + "]"
	}
	if st := settingFor(key); st != nil {
		return st.attr
	}
	return key
}

// configNeeds are the privileges setting (or, with value "", deleting) a
// config key needs, after pve-container's check_ct_modify_config_perm: the
// key's VM.Config.* privilege on the container, Datastore.AllocateSpace for
// a new volume, SDN.Use on a network's bridge (zone localnetwork for a
// plain bridge, bridge/tag with a VLAN tag), VM.Allocate for nesting.
//
// A setting reserved to root@pam goes to the node, where pct set runs as
// root and checks nothing: the API identity still needs what PVE would
// check were the key not root@pam's, so that SSH access does not lift an
// identity above its ACLs. VM.Config.Disk for a bind or device mount point
// (PVE checks it before it refuses the type), VM.Allocate for feature flags
// (what nesting, the one flag PVE leaves to others, takes), and
// VM.Config.Options for devN and hookscript (PVE's privilege for the keys
// it does not name).
func configNeeds(vms, key, old, value string, unprivileged bool) []privNeed {
	attr := settingAttr(key)
	need := func(path, attr string, privs ...string) privNeed {
		return privNeed{path: path, privs: privs, attr: attr}
	}
	if rootOnlyReason(key, old, value, unprivileged) != "" {
		switch {
		case key == "rootfs" || isMountKey(key):
			return []privNeed{need(vms, attr, "VM.Config.Disk")}
		case key == "features":
			return []privNeed{need(vms, "features", "VM.Allocate")}
		}
		return []privNeed{need(vms, attr, privOptions)}
	}
	switch {
	case key == "rootfs" || isMountKey(key):
		out := []privNeed{need(vms, attr, "VM.Config.Disk")}
		if vol, _, _ := strings.Cut(value, ","); value != "" {
			if sid, size, ok := strings.Cut(strings.TrimPrefix(vol, "volume="), ":"); ok {
				if _, err := strconv.ParseFloat(size, 64); err == nil {
					out = append(out, need("/storage/"+sid, attr+".storage", "Datastore.AllocateSpace"))
				}
			}
		}
		return out
	case isNetKey(key):
		out := []privNeed{need(vms, attr, "VM.Config.Network")}
		for _, v := range []string{old, value} {
			if v == "" {
				continue
			}
			n, err := pve.ParseNet(v)
			if err != nil || n.Bridge == "" {
				continue
			}
			p := "/sdn/zones/localnetwork/" + n.Bridge
			if n.Tag != nil {
				p += "/" + strconv.Itoa(*n.Tag)
			}
			out = append(out, need(p, attr+".bridge", "SDN.Use"))
		}
		return out
	case key == "features":
		// Nesting alone may change; PVE then wants VM.Allocate.
		if featureFlags(old)["nesting"] != featureFlags(value)["nesting"] {
			return []privNeed{need(vms, "features.nesting", "VM.Allocate")}
		}
		return nil
	}
	// The table's privilege column; keys outside it are VM.Config.Options.
	if st := settingFor(key); st != nil && st.priv != "" {
		return []privNeed{need(vms, attr, st.priv)}
	}
	return []privNeed{need(vms, attr, privOptions)}
}

// vmsPath is a container's ACL path. A create or clone checks after
// choosing its vmid, so the path is always a container's own.
func vmsPath(vmid string) string { return "/vms/" + vmid }

// createNeeds are the privileges of a create from a template and of what
// follows it: params are the whole request, root-only settings included
// (they are set on the node afterwards, see configNeeds).
func createNeeds(params map[string]string, vmid string, start bool) []privNeed {
	vms := vmsPath(vmid)
	unpriv := params["unprivileged"] != "0"
	out := []privNeed{{path: vms, privs: []string{"VM.Allocate"}, attr: "vmid"}, {path: vms, privs: []string{"VM.Audit"}, attr: "id (reading the container back)"}}
	if !unpriv {
		out = append(out, privNeed{path: "/", privs: []string{"Sys.Modify"}, attr: "unprivileged = false"})
	}
	ks := make([]string, 0, len(params))
	for k := range params {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	for _, k := range ks {
		switch k {
		case "vmid", "ostemplate", "storage", "password", "ssh-public-keys", "pool", "start", "unprivileged":
			continue
		}
		out = append(out, configNeeds(vms, k, "", params[k], unpriv)...)
	}
	if sid, _, ok := strings.Cut(params["ostemplate"], ":"); ok {
		out = append(out, privNeed{path: "/storage/" + sid, privs: []string{"Datastore.AllocateSpace", "Datastore.Audit"}, attr: "template"})
	}
	if start {
		out = append(out, privNeed{path: vms, privs: []string{"VM.PowerMgmt"}, attr: "started"})
	}
	if pool := params["pool"]; pool != "" {
		// create_vm takes VM.Allocate and the keys' privileges on the pool
		// (check_vm_perm); what follows the create, on the pool's member.
		out = append(inPool(out, vms, pool, true), poolAuditNeed(pool))
	}
	return out
}

// permissionsCache holds the API identity's privileges per path, as
// Proxmox VE answered them during this run (successful answers only).
type permissionsCache struct {
	mu      sync.Mutex
	paths   map[string]map[string]int
	pending map[string]chan struct{} // paths being asked, closed when answered
	all     pve.Permissions          // GET /access/permissions without a path, for SDN zones
}

// privilegesAt returns the identity's privileges on path, from the cache
// unless fresh is set. Concurrent callers for a path not yet cached share
// one request (creates that start together ask for the same storages and
// bridges).
func (d *providerData) privilegesAt(ctx context.Context, c *pve.Client, path string, fresh bool) (map[string]int, error) {
	for !fresh {
		d.perms.mu.Lock()
		cached, ok := d.perms.paths[path]
		wait, asking := d.perms.pending[path]
		if !ok && !asking {
			if d.perms.pending == nil {
				d.perms.pending = map[string]chan struct{}{}
			}
			done := make(chan struct{})
			d.perms.pending[path] = done
			defer func() {
				d.perms.mu.Lock()
				delete(d.perms.pending, path)
				d.perms.mu.Unlock()
				close(done)
			}()
		}
		d.perms.mu.Unlock()
		if ok {
			return cached, nil
		}
		if !asking {
			break
		}
		// Another caller asks: take its answer, or ask when it failed.
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	got, err := c.PermissionsAt(ctx, path)
	if err != nil {
		return nil, err
	}
	if got == nil {
		got = map[string]int{}
	}
	d.perms.mu.Lock()
	if d.perms.paths == nil {
		d.perms.paths = map[string]map[string]int{}
	}
	d.perms.paths[path] = got
	d.perms.mu.Unlock()
	return got, nil
}

// sdnUseElsewhere reports whether the identity may use bridge as an SDN
// VNet of some zone: SDN.Use on /sdn/zones/<zone>/<bridge> (or below it),
// or propagated from a zone, /sdn/zones or /sdn. Without the zone a VNet
// belongs to (reading it needs SDN.Audit), the check accepts any zone.
func (d *providerData) sdnUseElsewhere(ctx context.Context, c *pve.Client, bridge string) bool {
	d.perms.mu.Lock()
	all := d.perms.all
	d.perms.mu.Unlock()
	if all == nil {
		var err error
		if all, err = c.Permissions(ctx); err != nil {
			return false
		}
		d.perms.mu.Lock()
		d.perms.all = all
		d.perms.mu.Unlock()
	}
	for p, privs := range all {
		v, ok := privs["SDN.Use"]
		if !ok {
			continue
		}
		parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
		switch {
		case len(parts) >= 4 && parts[0] == "sdn" && parts[1] == "zones" && parts[3] == bridge:
			return true
		case v == 1 && (p == "/sdn" || p == "/sdn/zones" || len(parts) == 3 && parts[0] == "sdn" && parts[1] == "zones"):
			return true
		}
	}
	return false
}

// checkPrivileges asks Proxmox VE for the API identity's privileges on each
// path the operation needs (GET /access/permissions?path=..., each path once
// per run, so PVE applies its own inheritance, NoAccess and pool rules) and
// reports every need it does not meet, so that a change stops before it
// starts instead of half way. A path that looks short of a privilege is
// asked again before it is reported (an ACL may have been granted since).
// root@pam needs no check. When a question fails, the check is skipped:
// Proxmox VE still enforces its rules.
func (d *providerData) checkPrivileges(ctx context.Context, c *pve.Client, needs []privNeed) error {
	if d.apiIsRootPam() || len(needs) == 0 {
		return nil
	}
	met := func(n privNeed, fresh bool) (bool, error) {
		paths := []string{n.path}
		if n.pool != "" {
			paths = append(paths, "/pool/"+n.pool)
		}
		for _, path := range paths {
			privs, err := d.privilegesAt(ctx, c, path, fresh)
			if err != nil {
				return false, err
			}
			for _, p := range n.privs {
				if _, ok := privs[p]; ok {
					return true, nil
				}
			}
		}
		if bridge, ok := strings.CutPrefix(n.path, "/sdn/zones/localnetwork/"); ok && slices.Contains(n.privs, "SDN.Use") {
			bridge, _, _ = strings.Cut(bridge, "/")
			return d.sdnUseElsewhere(ctx, c, bridge), nil
		}
		return false, nil
	}
	var missing []string
	seen := map[string]bool{}
	for _, n := range needs {
		ok, err := met(n, false)
		if err == nil && !ok {
			ok, err = met(n, true)
		}
		if err != nil {
			tflog.Warn(ctx, "cannot read the API identity's privileges; Proxmox VE will refuse what it lacks", map[string]any{"path": n.path, "error": err.Error()})
			continue
		}
		if !ok && !seen[n.String()] {
			seen[n.String()] = true
			missing = append(missing, "- "+n.String())
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return &missingPrivilegesError{fmt.Sprintf("%s lacks Proxmox VE privileges this operation needs (from GET /access/permissions); nothing was changed:\n%s\n"+
		"Grant them to the user and, for a privilege-separated token, to the token as well (see the provider's permissions guide: "+
		"the role PhoenixProvider on / covers them)", d.apiIdentity(), strings.Join(missing, "\n"))}
}

// missingPrivilegesError is checkPrivileges' answer when privileges lack.
type missingPrivilegesError struct{ msg string }

func (e *missingPrivilegesError) Error() string { return e.msg }

// cloneNeeds are the privileges of a clone and of the configuration that
// follows it: VM.Clone on the source, VM.Allocate on the new container,
// Datastore.AllocateSpace on a target storage, the settings' privileges.
func cloneNeeds(ctx context.Context, plan *lxcContainerModel, params map[string]string, ssh bool) []privNeed {
	vms := vmsPath(params["newid"])
	src := "/vms/" + strconv.FormatInt(plan.Clone.SourceVMID.ValueInt64(), 10)
	out := []privNeed{
		{path: src, privs: []string{"VM.Clone"}, attr: "clone.source_vmid"},
		{path: vms, privs: []string{"VM.Allocate"}, attr: "vmid"},
		{path: vms, privs: []string{"VM.Audit"}, attr: "id (reading the container back)"},
	}
	if !ssh {
		out = append(out, privNeed{path: src, privs: []string{"VM.Audit"}, attr: "clone.source_vmid (its features are read first)"})
	}
	if s := params["storage"]; s != "" {
		out = append(out, privNeed{path: "/storage/" + s, privs: []string{"Datastore.AllocateSpace"}, attr: "clone.storage"})
	}
	desired, _ := desiredConfig(ctx, plan)
	unpriv := !known(plan.Unprivileged) || plan.Unprivileged.ValueBool()
	ks := make([]string, 0, len(desired))
	for k := range desired {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	for _, k := range ks {
		if k == "features" {
			continue // the source's flags are not known before the clone
		}
		out = append(out, configNeeds(vms, k, "", desired[k], unpriv)...)
	}
	if plan.Started.ValueBool() || plan.Docker != nil {
		out = append(out, privNeed{path: vms, privs: []string{"VM.PowerMgmt"}, attr: "started"})
	}
	if pool := params["pool"]; pool != "" {
		// The clone checks VM.Allocate on the pool; the settings follow on
		// the pool's new member.
		out = append(inPool(out, vms, pool, false), poolAuditNeed(pool))
	}
	return out
}

// updateNeeds are the privileges of an update: each changed key's (also
// of those that go to the node, see configNeeds), VM.PowerMgmt for a start,
// stop or restart, and a resize's VM.Config.Disk, VM.Config.Options and
// Datastore.AllocateSpace.
func updateNeeds(plan, state *lxcContainerModel, ch configChange, cfg *pve.RawConfig, running bool) []privNeed {
	vms := vmsPath(strconv.FormatInt(plan.VMID.ValueInt64(), 10))
	unpriv := cfg.Values["unprivileged"] == "1"
	api := ch
	var out []privNeed
	ks := keys(api.Set)
	sort.Strings(ks)
	for _, k := range ks {
		out = append(out, configNeeds(vms, k, cfg.Values[k], api.Set[k], unpriv)...)
	}
	for _, k := range api.Delete {
		out = append(out, configNeeds(vms, k, cfg.Values[k], "", unpriv)...)
	}
	want := plan.Started.ValueBool()
	if want != running || running && ch.needsRestart() || plan.Docker != nil && !want {
		out = append(out, privNeed{path: vms, privs: []string{"VM.PowerMgmt"}, attr: "started"})
	}
	if plan.RootFS != nil && state.RootFS != nil && known(plan.RootFS.Size) && !plan.RootFS.Size.Equal(state.RootFS.Size) {
		out = append(out, privNeed{path: vms, privs: []string{"VM.Config.Disk"}, attr: "rootfs.size"}, privNeed{path: vms, privs: []string{"VM.Config.Options"}, attr: "rootfs.size"})
		if rf, err := pve.ParseRootFS(cfg.Values["rootfs"]); err == nil && rf.Storage != "" {
			out = append(out, privNeed{path: "/storage/" + rf.Storage, privs: []string{"Datastore.AllocateSpace"}, attr: "rootfs.size"})
		}
	}
	return out
}

// checkCloneRootOnly stops a clone before it starts when the clone would
// then need a setting PVE reserves to root@pam (turning the source's
// feature flags into the planned ones) and the provider can apply it
// neither as root@pam nor on the node.
func (r *lxcContainerResource) checkCloneRootOnly(ctx context.Context, c *pve.Client, srcNode string, plan *lxcContainerModel) error {
	d := r.data
	if d.apiIsRootPam() || d.hasSSHAuth() {
		return nil
	}
	src, err := c.ContainerConfig(ctx, srcNode, int(plan.Clone.SourceVMID.ValueInt64()))
	if err != nil {
		return fmt.Errorf("read the clone source's features: %w", err)
	}
	desired, diags := desiredConfig(ctx, plan)
	if diags.HasError() {
		return fmt.Errorf("%s", diags.Errors()[0].Detail())
	}
	have, want := src.Values["features"], desired["features"]
	reason := rootOnlyReason("features", have, want, src.Values["unprivileged"] == "1")
	if reason == "" {
		return nil
	}
	what := fmt.Sprintf("the clone of %d would turn its source's features %q into %q", plan.Clone.SourceVMID.ValueInt64(), have, want)
	return errors.New(rootOnlyPlanError(d, what, reason) + " Or set features to the source's.")
}
