package provider

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/nodeexec"
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

// featureFlags parses a features value into flag -> value as PVE's
// parse_features leaves it: booleans as 0 or 1, an absent flag absent (PVE
// compares absent as "", so keyctl=0 differs from no keyctl).
func featureFlags(v string) map[string]string {
	out := map[string]string{}
	for item := range strings.SplitSeq(v, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok || k == "" {
			continue
		}
		if k != "mount" {
			switch strings.ToLower(val) {
			case "1", "on", "yes", "true":
				val = "1"
			case "0", "off", "no", "false":
				val = "0"
			}
		}
		out[k] = val
	}
	return out
}

// rootOnlyReason says why changing key from old to new (new "" deletes it)
// is reserved to root@pam, following pve-container's
// check_ct_modify_config_perm; "" when it is not.
func rootOnlyReason(key, old, new string, unprivileged bool) string {
	switch {
	case key == "features":
		if old == new {
			return ""
		}
		if !unprivileged {
			return "changing feature flags of a privileged container is only allowed for root@pam"
		}
		oldF, newF := featureFlags(old), featureFlags(new)
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
		if new == "" {
			return ""
		}
		vol, _, _ := strings.Cut(new, ",")
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

func isMountKey(k string) bool { return numberedKey(k, "mp") }

func isDevKey(k string) bool { return numberedKey(k, "dev") }

func numberedKey(k, prefix string) bool {
	n, ok := strings.CutPrefix(k, prefix)
	if !ok || n == "" {
		return false
	}
	_, err := strconv.Atoi(n)
	return err == nil
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
	_, err := o.run(ctx, node, purposeRootOnly, cmd, true)
	if err == nil {
		return nil
	}
	var ce *nodeexec.CommandError
	if errors.As(err, &ce) {
		out := strings.Join(ce.StderrTail, "\n")
		if strings.Contains(out, "detected modified configuration") {
			return errDigestChanged
		}
		return fmt.Errorf("pct set %d on node %q failed: %s", vmid, node, strings.TrimSpace(out))
	}
	return err
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
