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

// managedKeys are the config keys the resource owns through PUT .../config;
// a managed key missing from the desired configuration is deleted. hostname
// and ostype are computed when unset and so never deleted.
var managedKeys = []string{
	"description", "tags", "cores", "cpulimit", "cpuunits", "memory", "swap",
	"nameserver", "searchdomain", "features", "onboot", "startup", "protection",
}

// hotplugKeys are the keys Proxmox VE applies to a running container at
// once (its fast-plug and hot-plug options); a change to any other key
// waits in [pve:pending] until the next start, so the provider restarts the
// container for it.
var hotplugKeys = map[string]bool{
	"description": true, "onboot": true, "startup": true, "protection": true, "hostname": true, "tags": true,
	"cores": true, "cpulimit": true, "cpuunits": true, "memory": true, "swap": true,
}

func needsRestartKey(k string) bool { return !hotplugKeys[k] && !isNetKey(k) }

func boolStr(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func isNetKey(k string) bool {
	if !strings.HasPrefix(k, "net") {
		return false
	}
	n, err := strconv.Atoi(k[3:])
	return err == nil && n >= 0 && n < 32
}

// desiredConfig returns the managed settings a model asks for, as Proxmox VE
// config values. Keys the model leaves unset are absent.
func desiredConfig(ctx context.Context, m *lxcContainerModel) (map[string]string, diag.Diagnostics) {
	var diags diag.Diagnostics
	out := map[string]string{}
	setStr := func(key string, v types.String) {
		if known(v) && v.ValueString() != "" {
			out[key] = v.ValueString()
		}
	}
	setInt := func(key string, v types.Int64) {
		if known(v) {
			out[key] = strconv.FormatInt(v.ValueInt64(), 10)
		}
	}
	setStr("hostname", m.Hostname)
	setStr("description", m.Description)
	setStr("ostype", m.OSType)
	setInt("cores", m.Cores)
	if known(m.CPULimit) {
		out["cpulimit"] = strconv.FormatFloat(m.CPULimit.ValueFloat64(), 'f', -1, 64)
	}
	setInt("cpuunits", m.CPUUnits)
	setInt("memory", m.Memory)
	setInt("swap", m.Swap)
	setStr("nameserver", m.Nameserver)
	setStr("searchdomain", m.Searchdomain)
	if known(m.Tags) {
		var tags []string
		diags.Append(m.Tags.ElementsAs(ctx, &tags, false)...)
		if j := pve.JoinTags(tags); j != "" {
			out["tags"] = j
		}
	}
	if known(m.Features) {
		f := readFeatures(m.Features)
		s, d := f.pveString(ctx)
		diags.Append(d...)
		if s != "" {
			out["features"] = s
		}
	}
	if known(m.StartOnBoot) && m.StartOnBoot.ValueBool() {
		out["onboot"] = "1"
	}
	if m.Startup != nil {
		st := pve.Startup{Order: intPtr(m.Startup.Order), Up: intPtr(m.Startup.UpDelay), Down: intPtr(m.Startup.DownDelay)}
		if s := st.String(); s != "" {
			out["startup"] = s
		}
	}
	if known(m.Protection) && m.Protection.ValueBool() {
		out["protection"] = "1"
	}
	nets, d := m.networks(ctx)
	diags.Append(d...)
	for i, n := range nets {
		out["net"+strconv.Itoa(i)] = netFromModel(n).String()
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
// means them, so that spelling differences never cause an update.
func sameValue(key, want, got string) bool {
	if want == got {
		return true
	}
	switch {
	case isNetKey(key):
		a, err1 := pve.ParseNet(want)
		b, err2 := pve.ParseNet(got)
		if err1 != nil || err2 != nil {
			return false
		}
		if a.HWAddr == "" {
			a.HWAddr = b.HWAddr
		}
		b.Extra = dropDefaultNetKeys(b.Extra)
		a.Extra = dropDefaultNetKeys(a.Extra)
		return a.String() == b.String()
	case key == "features":
		a, err1 := pve.ParseFeatures(want)
		b, err2 := pve.ParseFeatures(got)
		return err1 == nil && err2 == nil && a.String() == b.String()
	case key == "startup":
		a, err1 := pve.ParseStartup(want)
		b, err2 := pve.ParseStartup(got)
		return err1 == nil && err2 == nil && a.String() == b.String()
	case key == "tags":
		return pve.JoinTags([]string{want}) == pve.JoinTags([]string{got})
	case key == "description":
		return strings.TrimRight(want, "\n") == strings.TrimRight(got, "\n")
	case key == "cpulimit":
		a, err1 := strconv.ParseFloat(want, 64)
		b, err2 := strconv.ParseFloat(got, 64)
		return err1 == nil && err2 == nil && a == b
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
}

func (c configChange) empty() bool { return len(c.Set) == 0 && len(c.Delete) == 0 }

// needsRestart reports whether the change only takes effect at the next start.
func (c configChange) needsRestart() bool {
	for k := range c.Set {
		if needsRestartKey(k) {
			return true
		}
	}
	for _, k := range c.Delete {
		if needsRestartKey(k) {
			return true
		}
	}
	return false
}

// diffConfig compares the desired managed settings with the container's
// actual configuration.
func diffConfig(desired, actual map[string]string) configChange {
	ch := configChange{Set: map[string]string{}}
	for k, v := range desired {
		if got, ok := actual[k]; !ok || !sameValue(k, v, got) {
			ch.Set[k] = v
		}
	}
	for _, k := range managedKeys {
		if _, want := desired[k]; !want {
			if _, has := actual[k]; has {
				if (k == "memory" || k == "swap") && actual[k] == "512" {
					continue
				}
				ch.Delete = append(ch.Delete, k)
			}
		}
	}
	for k := range actual {
		if _, want := desired[k]; isNetKey(k) && !want {
			ch.Delete = append(ch.Delete, k)
		}
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
// equivalent spellings are kept.
func applyConfig(ctx context.Context, m *lxcContainerModel, cfg *pve.RawConfig) diag.Diagnostics {
	var diags diag.Diagnostics
	v := cfg.Values
	str := func(key string, prior types.String) types.String {
		if s, ok := v[key]; ok && s != "" {
			return types.StringValue(s)
		}
		if known(prior) && prior.ValueString() == "" {
			return prior
		}
		return types.StringNull()
	}
	m.Hostname = str("hostname", m.Hostname)
	desc := str("description", m.Description)
	if known(desc) && known(m.Description) && sameValue("description", m.Description.ValueString(), desc.ValueString()) {
		desc = m.Description
	}
	m.Description = desc
	if os, ok := v["ostype"]; ok {
		m.OSType = types.StringValue(os)
	} else {
		m.OSType = types.StringNull()
	}
	m.Nameserver = str("nameserver", m.Nameserver)
	m.Searchdomain = str("searchdomain", m.Searchdomain)
	m.Unprivileged = types.BoolValue(v["unprivileged"] == "1")
	m.StartOnBoot = types.BoolValue(v["onboot"] == "1")
	m.Protection = types.BoolValue(v["protection"] == "1")

	var err error
	if m.Cores, err = optInt(v, "cores"); err != nil {
		diags.AddError("Unexpected container configuration", err.Error())
	}
	if m.CPUUnits, err = optInt(v, "cpuunits"); err != nil {
		diags.AddError("Unexpected container configuration", err.Error())
	}
	if s, ok := v["cpulimit"]; ok {
		f, perr := strconv.ParseFloat(s, 64)
		if perr != nil {
			diags.AddError("Unexpected container configuration", fmt.Sprintf("cpulimit=%q is not a number", s))
		}
		m.CPULimit = types.Float64Value(f)
		if f == 0 && m.CPULimit.IsNull() {
			m.CPULimit = types.Float64Null()
		}
	} else {
		m.CPULimit = types.Float64Null()
	}
	mem, err := optInt(v, "memory")
	if err != nil {
		diags.AddError("Unexpected container configuration", err.Error())
	}
	if mem.IsNull() {
		mem = types.Int64Value(defaultMemory)
	}
	m.Memory = mem
	swap, err := optInt(v, "swap")
	if err != nil {
		diags.AddError("Unexpected container configuration", err.Error())
	}
	if swap.IsNull() {
		swap = types.Int64Value(defaultSwap)
	}
	m.Swap = swap

	if t, ok := v["tags"]; ok && t != "" {
		tags := pve.SplitTags(t)
		set, d := types.SetValueFrom(ctx, types.StringType, tags)
		diags.Append(d...)
		m.Tags = set
	} else if !known(m.Tags) || len(m.Tags.Elements()) != 0 {
		m.Tags = types.SetNull(types.StringType)
	}

	if rs, ok := v["rootfs"]; ok && (m.RootFS != nil || !m.keepRootFSAbsent) {
		r, perr := pve.ParseRootFS(rs)
		if perr != nil {
			diags.AddError("Unexpected rootfs", perr.Error())
		} else {
			size := types.StringValue(r.Size)
			if m.RootFS != nil && known(m.RootFS.Size) {
				a, e1 := pve.ParseSize(m.RootFS.Size.ValueString())
				b, e2 := pve.ParseSize(r.Size)
				if e1 == nil && e2 == nil && a == b {
					size = m.RootFS.Size
				}
			}
			m.RootFS = &rootfsModel{Storage: types.StringValue(r.Storage), Size: size, Volume: types.StringValue(r.Volume)}
		}
	} else if !ok {
		m.RootFS = nil
	}

	diags.Append(applyRawLXC(ctx, m, cfg.LXC)...)
	diags.Append(applyNetworks(ctx, m, v)...)
	diags.Append(applyFeatures(m, v)...)

	if s, ok := v["startup"]; ok && s != "" {
		st, perr := pve.ParseStartup(s)
		if perr != nil {
			diags.AddError("Unexpected startup", perr.Error())
		}
		m.Startup = &startupModel{Order: int64OrNull(st.Order), UpDelay: int64OrNull(st.Up), DownDelay: int64OrNull(st.Down)}
	} else if m.Startup != nil {
		m.Startup = &startupModel{Order: types.Int64Null(), UpDelay: types.Int64Null(), DownDelay: types.Int64Null()}
	}
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
		if isNetKey(k) {
			n, _ := strconv.Atoi(k[3:])
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
// profile to effective_apparmor_profile, every other line to lxc_config.
func applyRawLXC(ctx context.Context, m *lxcContainerModel, lines [][2]string) diag.Diagnostics {
	m.EffectiveAA = types.StringValue(apparmorGenerated)
	own := []lxcLineModel{}
	for _, kv := range lines {
		switch {
		case kv[0] == "lxc.apparmor.profile":
			m.EffectiveAA = types.StringValue(kv[1])
		case strings.HasPrefix(kv[0], "lxc.apparmor."):
		default:
			own = append(own, lxcLineModel{Key: types.StringValue(kv[0]), Value: types.StringValue(kv[1])})
		}
	}
	if len(own) == 0 && (m.LXCConfig.IsNull() || m.LXCConfig.IsUnknown()) {
		m.LXCConfig = types.ListNull(lxcLineObjectType)
		return nil
	}
	v, diags := types.ListValueFrom(ctx, lxcLineObjectType, own)
	m.LXCConfig = v
	return diags
}
