package provider

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/pve"
)

// needsRestartKey reports whether a change of key only takes effect at the
// next start (the table's live and hotplugNew columns; keys outside the
// table restart). existed: the container has the key already (always so
// for a removal).
func needsRestartKey(k string, existed bool) bool {
	st := settingFor(k)
	return st == nil || !st.live && (!st.hotplugNew || existed)
}

func boolStr(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// netIndex is the interface number of a key net0 to net31.
func netIndex(k string) (int, bool) {
	n, ok := keyIndex(k, "net")
	return n, ok && n < 32
}

func isNetKey(k string) bool {
	_, ok := netIndex(k)
	return ok
}

// desiredConfig returns the settings a model asks for, as Proxmox VE config
// values, from the settings table. Keys the model leaves unset are absent.
func desiredConfig(ctx context.Context, m *lxcContainerModel) (map[string]string, diag.Diagnostics) {
	var diags diag.Diagnostics
	out := map[string]string{}
	for i := range containerSettings {
		if d := containerSettings[i].desired; d != nil {
			diags.Append(d(ctx, m, out)...)
		}
	}
	return out, diags
}

func intPtr(v types.Int64) *int {
	if !known(v) {
		return nil
	}
	i := int(v.ValueInt64())
	return &i
}

func boolPtr(v types.Bool) *bool {
	if !known(v) {
		return nil
	}
	b := v.ValueBool()
	return &b
}

func netFromModel(n networkModel) pve.Net {
	out := pve.Net{
		Name:     n.Name.ValueString(),
		Bridge:   n.Bridge.ValueString(),
		IP:       n.IP.ValueString(),
		Gw:       n.Gw.ValueString(),
		IP6:      n.IP6.ValueString(),
		Gw6:      n.Gw6.ValueString(),
		Firewall: boolPtr(n.Firewall),
		Tag:      intPtr(n.VLAN),
		MTU:      intPtr(n.MTU),
	}
	if known(n.HWAddr) {
		out.HWAddr = strings.ToUpper(n.HWAddr.ValueString())
	}
	if known(n.Rate) {
		r := n.Rate.ValueFloat64()
		out.Rate = &r
	}
	return out
}

// sameValue compares a desired and an actual config value the way Proxmox VE
// means them (the table's same column), so that spelling differences never
// cause an update.
func sameValue(key, want, got string) bool {
	if want == got {
		return true
	}
	if st := settingFor(key); st != nil && st.same != nil {
		return st.same(want, got)
	}
	return false
}

func dropDefaultNetKeys(extra map[string]string) map[string]string {
	if extra["type"] == "veth" {
		delete(extra, "type")
	}
	if len(extra) == 0 {
		return nil
	}
	return extra
}

// configChange is one PUT .../config worth of changes.
type configChange struct {
	Set    map[string]string
	Delete []string
	// existing are the keys of Set the container has already.
	existing map[string]bool
}

func (c configChange) empty() bool { return len(c.Set) == 0 && len(c.Delete) == 0 }

// needsRestart reports whether the change only takes effect at the next start.
func (c configChange) needsRestart() bool { return len(c.restartKeys()) > 0 }

// restartKeys lists, sorted, the keys of the change that take effect only
// at the next start.
func (c configChange) restartKeys() []string {
	var keys []string
	for k := range c.Set {
		if needsRestartKey(k, c.existing[k]) {
			keys = append(keys, k)
		}
	}
	for _, k := range c.Delete {
		if needsRestartKey(k, true) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// diffConfig compares the desired managed settings with the container's
// actual configuration.
func diffConfig(desired, actual map[string]string) configChange {
	ch := configChange{Set: map[string]string{}, existing: map[string]bool{}}
	for k, v := range desired {
		if st := settingFor(k); st != nil && st.carry != nil && actual[k] != "" {
			v = st.carry(v, actual[k])
		}
		if got, ok := actual[k]; !ok || !sameValue(k, v, got) {
			ch.Set[k] = v
			ch.existing[k] = ok
		}
	}
	// A key the provider owns and the configuration leaves unset goes,
	// unless it holds the value PVE uses when it is absent.
	for k, v := range actual {
		st := settingFor(k)
		if _, want := desired[k]; want || st == nil || !st.managed || (st.absent != "" && v == st.absent) {
			continue
		}
		ch.Delete = append(ch.Delete, k)
	}
	sort.Strings(ch.Delete)
	return ch
}

// createParams returns the parameters of POST /nodes/{node}/lxc for a model.
func createParams(ctx context.Context, m *lxcContainerModel, vmid int64, password string) (map[string]string, diag.Diagnostics) {
	p, diags := desiredConfig(ctx, m)
	p["vmid"] = strconv.FormatInt(vmid, 10)
	p["ostemplate"] = m.Template.ValueString()
	p["unprivileged"] = boolStr(m.Unprivileged.ValueBool())
	if m.RootFS != nil {
		size, err := pve.ParseSize(m.RootFS.Size.ValueString())
		if err != nil {
			diags.AddError("Invalid rootfs size", err.Error())
			return nil, diags
		}
		vol, err := pve.NewVolume(m.RootFS.Storage.ValueString(), size)
		if err != nil {
			diags.AddError("Invalid rootfs", err.Error())
			return nil, diags
		}
		p["rootfs"] = vol
	}
	if password != "" {
		p["password"] = password
	}
	if known(m.SSHPublicKeys) {
		var keys []string
		diags.Append(m.SSHPublicKeys.ElementsAs(ctx, &keys, false)...)
		if len(keys) > 0 {
			p["ssh-public-keys"] = strings.Join(keys, "\n") + "\n"
		}
	}
	return p, diags
}

// flagFromConfig maps a Proxmox VE boolean that defaults to false, keeping
// the prior spelling (null or false) when the container says false.
func flagFromConfig(got bool, prior types.Bool) types.Bool {
	if got {
		return types.BoolValue(true)
	}
	if prior.IsNull() || prior.IsUnknown() {
		return types.BoolNull()
	}
	return types.BoolValue(false)
}

func optInt(values map[string]string, key string) (types.Int64, error) {
	v, ok := values[key]
	if !ok || v == "" {
		return types.Int64Null(), nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(v, 64)
		if ferr != nil {
			return types.Int64Null(), fmt.Errorf("%s=%q is not a number", key, v)
		}
		n = int64(f)
	}
	return types.Int64Value(n), nil
}

// applyConfig maps a container's configuration onto m, which holds the
// prior state (or the plan) so that values Proxmox VE cannot report and
// equivalent spellings are kept: each row of the settings table reads its
// keys, then the raw lxc.* lines are read.
//
// Right after an import, and for the data source, m holds no configuration
// yet (only id, node_name and vmid are known) and all of it is read back.
// Otherwise an absent rootfs block (a clone keeping its source's disk) stays
// absent.
func applyConfig(ctx context.Context, m *lxcContainerModel, cfg *pve.RawConfig) diag.Diagnostics {
	var diags diag.Diagnostics
	keepRootFSAbsent := m.RootFS == nil && !m.Unprivileged.IsNull()
	for i := range containerSettings {
		st := &containerSettings[i]
		if st.read == nil || (keepRootFSAbsent && st.attr == "rootfs") {
			continue
		}
		diags.Append(st.read(ctx, m, cfg)...)
	}
	diags.Append(applyRawLXC(ctx, m, cfg.LXC)...)
	return diags
}

func int64OrNull(p *int) types.Int64 {
	if p == nil {
		return types.Int64Null()
	}
	return types.Int64Value(int64(*p))
}

func applyNetworks(ctx context.Context, m *lxcContainerModel, v map[string]string) diag.Diagnostics {
	var diags diag.Diagnostics
	var idx []int
	for k := range v {
		if n, ok := netIndex(k); ok {
			idx = append(idx, n)
		}
	}
	sort.Ints(idx)
	prior, d := m.networks(ctx)
	diags.Append(d...)
	var out []networkModel
	for i, n := range idx {
		net, err := pve.ParseNet(v["net"+strconv.Itoa(n)])
		if err != nil {
			diags.AddError("Unexpected network device", err.Error())
			continue
		}
		var p networkModel
		if i < len(prior) {
			p = prior[i]
		} else {
			p = networkModel{Firewall: types.BoolNull()}
		}
		nm := networkModel{
			Name:     types.StringValue(net.Name),
			Bridge:   strOrNull(net.Bridge),
			IP:       strOrNull(net.IP),
			Gw:       strOrNull(net.Gw),
			IP6:      strOrNull(net.IP6),
			Gw6:      strOrNull(net.Gw6),
			HWAddr:   strOrNull(net.HWAddr),
			VLAN:     int64OrNull(net.Tag),
			MTU:      int64OrNull(net.MTU),
			Firewall: types.BoolNull(),
			Rate:     types.Float64Null(),
		}
		if known(p.HWAddr) && strings.EqualFold(p.HWAddr.ValueString(), net.HWAddr) {
			nm.HWAddr = p.HWAddr
		}
		if net.Firewall != nil {
			nm.Firewall = flagFromConfig(*net.Firewall, p.Firewall)
			if !*net.Firewall && known(p.Firewall) {
				nm.Firewall = types.BoolValue(false)
			}
		}
		if net.Rate != nil {
			nm.Rate = types.Float64Value(*net.Rate)
		}
		out = append(out, nm)
	}
	if len(out) == 0 && m.Network.IsNull() {
		return diags
	}
	diags.Append(m.setNetworks(ctx, out)...)
	return diags
}

func strOrNull(s string) types.String {
	if s == "" {
		return types.StringNull()
	}
	return types.StringValue(s)
}

func applyFeatures(m *lxcContainerModel, v map[string]string) diag.Diagnostics {
	var diags diag.Diagnostics
	f, err := pve.ParseFeatures(v["features"])
	if err != nil {
		diags.AddError("Unexpected features", err.Error())
		return diags
	}
	obj, d := featuresFromPVE(f).object()
	diags.Append(d...)
	m.Features = obj
	return diags
}

// applyRawLXC maps the configuration file's raw lxc.* lines: the AppArmor
// profile to effective_apparmor_profile, the ID mapping lines to id_map,
// every other line to lxc_config. An lxc.idmap line that does not parse
// (PVE would not start the container) stays in lxc_config, where the plan
// shows it for removal.
func applyRawLXC(ctx context.Context, m *lxcContainerModel, lines [][2]string) diag.Diagnostics {
	m.EffectiveAA = types.StringValue(apparmorGenerated)
	own := []lxcLineModel{}
	var maps []idMapModel
	for _, kv := range lines {
		switch {
		case kv[0] == "lxc.apparmor.profile":
			m.EffectiveAA = types.StringValue(kv[1])
		case strings.HasPrefix(kv[0], "lxc.apparmor."):
		case kv[0] == lxcKeyIDMap:
			if im, ok := parseIDMapLine(kv[1]); ok {
				maps = append(maps, im)
				continue
			}
			own = append(own, lxcLineModel{Key: types.StringValue(kv[0]), Value: types.StringValue(kv[1])})
		default:
			own = append(own, lxcLineModel{Key: types.StringValue(kv[0]), Value: types.StringValue(kv[1])})
		}
	}
	diags := m.setIDMaps(ctx, maps)
	if len(own) == 0 && (m.LXCConfig.IsNull() || m.LXCConfig.IsUnknown()) {
		m.LXCConfig = types.ListNull(lxcLineObjectType)
		return diags
	}
	v, d := types.ListValueFrom(ctx, lxcLineObjectType, own)
	diags.Append(d...)
	m.LXCConfig = v
	return diags
}
