package provider

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/pve"
)

// The container settings as data: one row per Proxmox VE config key says
// which attribute holds it, how its value is written and read, how two
// values compare, whether the provider owns it (and so deletes it when the
// configuration leaves it unset), whether Proxmox VE applies a change to a
// running container at once, and which privilege changing it needs. Create
// (createParams), diff and update (diffConfig), the restart decision
// (configChange.needsRestart), Read (applyConfig), the data source (built
// from the resource's schema) and the privilege check all go through this
// table. See DESIGN.md, "To add a setting".

// setting is one row of the table.
type setting struct {
	// key is the Proxmox VE key; for numbered keys (net0, net1, ...) the
	// prefix, with numbered set.
	key      string
	numbered bool
	// attr is the resource attribute that holds the key.
	attr string
	// managed: the provider owns the key; a managed key the configuration
	// leaves unset is deleted from the container.
	managed bool
	// live: Proxmox VE applies a change to a running container at once;
	// otherwise the change waits for the next start and the provider
	// restarts the container.
	live bool
	// hotplugNew: Proxmox VE applies the key to a running container at once
	// only when it is new; a change of an existing one, or its removal,
	// waits for the next start (vmconfig_hotplug_pending: mount points and
	// devices).
	hotplugNew bool
	// absent is the value Proxmox VE uses when the key is absent: a managed
	// key holding it is not deleted.
	absent string
	// priv is the privilege on /vms/{vmid} that changing the key needs
	// (pve-container's check_ct_modify_config_perm).
	priv string
	// desired writes the key's desired value(s) from the model into out;
	// nil for keys only read back (set at create, or computed by PVE).
	desired func(ctx context.Context, m *lxcContainerModel, out map[string]string) diag.Diagnostics
	// read maps the container's value(s) onto the model, which holds the
	// prior state or the plan, so that values Proxmox VE cannot report and
	// equivalent spellings are kept.
	read func(ctx context.Context, m *lxcContainerModel, cfg *pve.RawConfig) diag.Diagnostics
	// carry copies into a desired value what the container's value holds
	// and the provider does not model (e.g. a mount point's idmap), so that
	// an update never drops it; nil for none.
	carry func(want, got string) string
	// same compares a desired and an actual value the way Proxmox VE means
	// them; nil means byte equality.
	same func(want, got string) bool
}

// Privileges on /vms/{vmid} (check_ct_modify_config_perm).
const (
	privCPU     = "VM.Config.CPU"
	privMemory  = "VM.Config.Memory"
	privNetwork = "VM.Config.Network"
	privDisk    = "VM.Config.Disk"
	privOptions = "VM.Config.Options"
)

// containerSettings is the table. Order is the order Read applies the rows in.
var containerSettings = []setting{
	stringSetting("hostname", "hostname", privNetwork, false, true, func(m *lxcContainerModel) *types.String { return &m.Hostname }),
	{
		key: "description", attr: "description", managed: true, live: true, priv: privOptions,
		desired: func(_ context.Context, m *lxcContainerModel, out map[string]string) diag.Diagnostics {
			putString(out, "description", m.Description)
			return nil
		},
		read: func(_ context.Context, m *lxcContainerModel, cfg *pve.RawConfig) diag.Diagnostics {
			desc := readString(cfg.Values, "description", m.Description)
			// PVE returns the notes with a trailing newline: keep the
			// configured spelling when it means the same; with nothing
			// configured (import, the data source) report them without it.
			switch {
			case known(desc) && known(m.Description) && sameDescription(m.Description.ValueString(), desc.ValueString()):
				desc = m.Description
			case known(desc) && m.Description.IsNull():
				desc = types.StringValue(strings.TrimRight(desc.ValueString(), "\n"))
			}
			m.Description = desc
			return nil
		},
		same: sameDescription,
	},
	{
		key: "ostype", attr: "os_type", priv: privOptions,
		desired: func(_ context.Context, m *lxcContainerModel, out map[string]string) diag.Diagnostics {
			putString(out, "ostype", m.OSType)
			return nil
		},
		read: func(_ context.Context, m *lxcContainerModel, cfg *pve.RawConfig) diag.Diagnostics {
			if os, ok := cfg.Values["ostype"]; ok {
				m.OSType = types.StringValue(os)
			} else {
				m.OSType = types.StringNull()
			}
			return nil
		},
	},
	stringSetting("nameserver", "nameserver", privNetwork, true, false, func(m *lxcContainerModel) *types.String { return &m.Nameserver }),
	stringSetting("searchdomain", "searchdomain", privNetwork, true, false, func(m *lxcContainerModel) *types.String { return &m.Searchdomain }),
	stringSetting("timezone", "timezone", privOptions, true, false, func(m *lxcContainerModel) *types.String { return &m.Timezone }),
	{
		// Set at create only; a change replaces the container.
		key: "unprivileged", attr: "unprivileged",
		read: func(_ context.Context, m *lxcContainerModel, cfg *pve.RawConfig) diag.Diagnostics {
			m.Unprivileged = types.BoolValue(cfg.Values["unprivileged"] == "1")
			return nil
		},
	},
	flagSetting("onboot", "start_on_boot", func(m *lxcContainerModel) *types.Bool { return &m.StartOnBoot }),
	flagSetting("protection", "protection", func(m *lxcContainerModel) *types.Bool { return &m.Protection }),
	intSetting("cores", "cores", privCPU, 0, func(m *lxcContainerModel) *types.Int64 { return &m.Cores }),
	intSetting("cpuunits", "cpu_units", privCPU, 0, func(m *lxcContainerModel) *types.Int64 { return &m.CPUUnits }),
	{
		key: "cpulimit", attr: "cpu_limit", managed: true, live: true, priv: privCPU,
		desired: func(_ context.Context, m *lxcContainerModel, out map[string]string) diag.Diagnostics {
			if known(m.CPULimit) {
				out["cpulimit"] = strconv.FormatFloat(m.CPULimit.ValueFloat64(), 'f', -1, 64)
			}
			return nil
		},
		read: func(_ context.Context, m *lxcContainerModel, cfg *pve.RawConfig) diag.Diagnostics {
			var diags diag.Diagnostics
			s, ok := cfg.Values["cpulimit"]
			if !ok {
				m.CPULimit = types.Float64Null()
				return nil
			}
			f, err := strconv.ParseFloat(s, 64)
			if err != nil {
				diags.AddError("Unexpected container configuration", fmt.Sprintf("cpulimit=%q is not a number", s))
			}
			// 0 is PVE's "no limit": it stays null when it was.
			if f == 0 && m.CPULimit.IsNull() {
				return diags
			}
			m.CPULimit = types.Float64Value(f)
			return diags
		},
		same: func(want, got string) bool {
			a, err1 := strconv.ParseFloat(want, 64)
			b, err2 := strconv.ParseFloat(got, 64)
			return err1 == nil && err2 == nil && a == b
		},
	},
	intSetting("memory", "memory", privMemory, defaultMemory, func(m *lxcContainerModel) *types.Int64 { return &m.Memory }),
	intSetting("swap", "swap", privMemory, defaultSwap, func(m *lxcContainerModel) *types.Int64 { return &m.Swap }),
	{
		key: "tags", attr: "tags", managed: true, live: true, priv: privOptions,
		desired: func(ctx context.Context, m *lxcContainerModel, out map[string]string) diag.Diagnostics {
			if !known(m.Tags) {
				return nil
			}
			var tags []string
			diags := m.Tags.ElementsAs(ctx, &tags, false)
			if j := pve.JoinTags(tags); j != "" {
				out["tags"] = j
			}
			return diags
		},
		read: func(ctx context.Context, m *lxcContainerModel, cfg *pve.RawConfig) diag.Diagnostics {
			if t, ok := cfg.Values["tags"]; ok && t != "" {
				set, diags := types.SetValueFrom(ctx, types.StringType, pve.SplitTags(t))
				m.Tags = set
				return diags
			}
			if !known(m.Tags) || len(m.Tags.Elements()) != 0 {
				m.Tags = types.SetNull(types.StringType)
			}
			return nil
		},
		same: func(want, got string) bool { return pve.JoinTags([]string{want}) == pve.JoinTags([]string{got}) },
	},
	{
		// Set at create (createParams) and grown by resize.
		key: "rootfs", attr: "rootfs", priv: privDisk,
		read: readRootFS,
	},
	{
		key: "net", numbered: true, attr: "network", managed: true, live: true, priv: privNetwork,
		desired: func(ctx context.Context, m *lxcContainerModel, out map[string]string) diag.Diagnostics {
			nets, diags := m.networks(ctx)
			for i, n := range nets {
				out["net"+strconv.Itoa(i)] = netFromModel(n).String()
			}
			return diags
		},
		read: func(ctx context.Context, m *lxcContainerModel, cfg *pve.RawConfig) diag.Diagnostics {
			return applyNetworks(ctx, m, cfg.Values)
		},
		same: sameNet,
	},
	{
		// Bind and device mounts are root@pam's only (permissions.go).
		key: "mp", numbered: true, attr: "mount_point", managed: true, hotplugNew: true, priv: privDisk,
		desired: desiredMounts,
		read: func(ctx context.Context, m *lxcContainerModel, cfg *pve.RawConfig) diag.Diagnostics {
			return readMounts(ctx, m, cfg.Values)
		},
		carry: carryMount,
		same:  sameMount,
	},
	{
		// root@pam's only (permissions.go).
		key: "dev", numbered: true, attr: "device", managed: true, hotplugNew: true,
		desired: desiredDevices,
		read: func(ctx context.Context, m *lxcContainerModel, cfg *pve.RawConfig) diag.Diagnostics {
			return readDevices(ctx, m, cfg.Values)
		},
		same: sameDevice,
	},
	{
		// Nesting needs VM.Allocate; the other flags are root@pam's only
		// (permissions.go).
		key: "features", attr: "features", managed: true,
		desired: func(ctx context.Context, m *lxcContainerModel, out map[string]string) diag.Diagnostics {
			if !known(m.Features) {
				return nil
			}
			s, diags := readFeatures(m.Features).pveString(ctx)
			if s != "" {
				out["features"] = s
			}
			return diags
		},
		read: func(_ context.Context, m *lxcContainerModel, cfg *pve.RawConfig) diag.Diagnostics {
			return applyFeatures(m, cfg.Values)
		},
		same: func(want, got string) bool {
			a, err1 := pve.ParseFeatures(want)
			b, err2 := pve.ParseFeatures(got)
			return err1 == nil && err2 == nil && a.String() == b.String()
		},
	},
	{
		key: "startup", attr: "startup", managed: true, live: true, priv: privOptions,
		desired: func(_ context.Context, m *lxcContainerModel, out map[string]string) diag.Diagnostics {
			if m.Startup == nil {
				return nil
			}
			st := pve.Startup{Order: intPtr(m.Startup.Order), Up: intPtr(m.Startup.UpDelay), Down: intPtr(m.Startup.DownDelay)}
			if s := st.String(); s != "" {
				out["startup"] = s
			}
			return nil
		},
		read: readStartup,
		same: func(want, got string) bool {
			a, err1 := pve.ParseStartup(want)
			b, err2 := pve.ParseStartup(got)
			return err1 == nil && err2 == nil && a.String() == b.String()
		},
	},
	{
		// Proxmox VE detects it at create when unset and always keeps it (a
		// start fails without it): never deleted. Not fast-pluggable.
		key: "arch", attr: "arch", priv: privOptions,
		desired: func(_ context.Context, m *lxcContainerModel, out map[string]string) diag.Diagnostics {
			putString(out, "arch", m.Arch)
			return nil
		},
		read: func(_ context.Context, m *lxcContainerModel, cfg *pve.RawConfig) diag.Diagnostics {
			m.Arch = readString(cfg.Values, "arch", types.StringNull())
			return nil
		},
	},
	defaultedString("cmode", "console_mode", defaultConsoleMode, func(m *lxcContainerModel) *types.String { return &m.ConsoleMode }),
	{
		// On unless the key says 0 (has_dev_console).
		key: "console", attr: "console", managed: true, absent: "1", priv: privOptions,
		desired: func(_ context.Context, m *lxcContainerModel, out map[string]string) diag.Diagnostics {
			if known(m.Console) && !m.Console.ValueBool() {
				out["console"] = "0"
			}
			return nil
		},
		read: func(_ context.Context, m *lxcContainerModel, cfg *pve.RawConfig) diag.Diagnostics {
			m.Console = types.BoolValue(cfg.Values["console"] != "0")
			return nil
		},
	},
	pendingInt(intSetting("tty", "tty_count", privOptions, defaultTTYCount, func(m *lxcContainerModel) *types.Int64 { return &m.TTYCount })),
	// root@pam's only (permissions.go); fast-pluggable.
	stringSetting("hookscript", "hookscript", "", true, true, func(m *lxcContainerModel) *types.String { return &m.Hookscript }),
	stringSetting("entrypoint", "entrypoint", privOptions, true, false, func(m *lxcContainerModel) *types.String { return &m.Entrypoint }),
	{
		key: "env", attr: "environment", managed: true, priv: privOptions,
		desired: func(ctx context.Context, m *lxcContainerModel, out map[string]string) diag.Diagnostics {
			if !known(m.Environment) {
				return nil
			}
			var env map[string]string
			diags := m.Environment.ElementsAs(ctx, &env, false)
			if s := pve.JoinEnv(env); s != "" {
				out["env"] = s
			}
			return diags
		},
		read: func(ctx context.Context, m *lxcContainerModel, cfg *pve.RawConfig) diag.Diagnostics {
			env := pve.SplitEnv(cfg.Values["env"])
			if len(env) == 0 {
				// An empty map configured stays empty.
				if !known(m.Environment) || len(m.Environment.Elements()) != 0 {
					m.Environment = types.MapNull(types.StringType)
				}
				return nil
			}
			v, diags := types.MapValueFrom(ctx, types.StringType, env)
			m.Environment = v
			return diags
		},
		same: func(want, got string) bool { return pve.JoinEnv(pve.SplitEnv(want)) == pve.JoinEnv(pve.SplitEnv(got)) },
	},
}

// keyIndex is the number of a numbered key (net0, mp3, dev1) with the
// given prefix; ok is false for any other key.
func keyIndex(key, prefix string) (n int, ok bool) {
	digits, ok := strings.CutPrefix(key, prefix)
	if !ok || digits == "" || strings.Trim(digits, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.Atoi(digits)
	return n, err == nil
}

// settingFor returns the row of a Proxmox VE key, nil for a key the table
// does not know.
func settingFor(key string) *setting {
	for i := range containerSettings {
		s := &containerSettings[i]
		if s.numbered {
			if _, ok := keyIndex(key, s.key); ok {
				return s
			}
			continue
		}
		if s.key == key {
			return s
		}
	}
	return nil
}

// stringSetting is a text key held by a string attribute.
func stringSetting(key, attr, priv string, managed, live bool, field func(*lxcContainerModel) *types.String) setting {
	return setting{
		key: key, attr: attr, managed: managed, live: live, priv: priv,
		desired: func(_ context.Context, m *lxcContainerModel, out map[string]string) diag.Diagnostics {
			putString(out, key, *field(m))
			return nil
		},
		read: func(_ context.Context, m *lxcContainerModel, cfg *pve.RawConfig) diag.Diagnostics {
			*field(m) = readString(cfg.Values, key, *field(m))
			return nil
		},
	}
}

// intSetting is an integer key held by an int64 attribute; def, when not
// zero, is what Proxmox VE uses when the key is absent (and what Read
// reports then).
func intSetting(key, attr, priv string, def int64, field func(*lxcContainerModel) *types.Int64) setting {
	s := setting{
		key: key, attr: attr, managed: true, live: true, priv: priv,
		desired: func(_ context.Context, m *lxcContainerModel, out map[string]string) diag.Diagnostics {
			if v := *field(m); known(v) {
				out[key] = strconv.FormatInt(v.ValueInt64(), 10)
			}
			return nil
		},
		read: func(_ context.Context, m *lxcContainerModel, cfg *pve.RawConfig) diag.Diagnostics {
			var diags diag.Diagnostics
			v, err := optInt(cfg.Values, key)
			if err != nil {
				diags.AddError("Unexpected container configuration", err.Error())
			}
			if v.IsNull() && def != 0 {
				v = types.Int64Value(def)
			}
			*field(m) = v
			return diags
		},
	}
	if def != 0 {
		s.absent = strconv.FormatInt(def, 10)
	}
	return s
}

// pendingInt is an intSetting whose change Proxmox VE applies only at the
// next start.
func pendingInt(s setting) setting {
	s.live = false
	return s
}

// defaultedString is a text key Proxmox VE applies at the next start, with
// def its value when absent (what Read reports then); the attribute
// defaults to def.
func defaultedString(key, attr, def string, field func(*lxcContainerModel) *types.String) setting {
	return setting{
		key: key, attr: attr, managed: true, absent: def, priv: privOptions,
		desired: func(_ context.Context, m *lxcContainerModel, out map[string]string) diag.Diagnostics {
			if v := *field(m); known(v) && v.ValueString() != def {
				out[key] = v.ValueString()
			}
			return nil
		},
		read: func(_ context.Context, m *lxcContainerModel, cfg *pve.RawConfig) diag.Diagnostics {
			v, ok := cfg.Values[key]
			if !ok || v == "" {
				v = def
			}
			*field(m) = types.StringValue(v)
			return nil
		},
	}
}

// flagSetting is a boolean key Proxmox VE writes only when on.
func flagSetting(key, attr string, field func(*lxcContainerModel) *types.Bool) setting {
	return setting{
		key: key, attr: attr, managed: true, live: true, priv: privOptions,
		desired: func(_ context.Context, m *lxcContainerModel, out map[string]string) diag.Diagnostics {
			if v := *field(m); known(v) && v.ValueBool() {
				out[key] = "1"
			}
			return nil
		},
		read: func(_ context.Context, m *lxcContainerModel, cfg *pve.RawConfig) diag.Diagnostics {
			*field(m) = types.BoolValue(cfg.Values[key] == "1")
			return nil
		},
	}
}

func putString(out map[string]string, key string, v types.String) {
	if known(v) && v.ValueString() != "" {
		out[key] = v.ValueString()
	}
}

// readString is a text key's value, keeping a prior empty string.
func readString(values map[string]string, key string, prior types.String) types.String {
	if s, ok := values[key]; ok && s != "" {
		return types.StringValue(s)
	}
	if known(prior) && prior.ValueString() == "" {
		return prior
	}
	return types.StringNull()
}

func sameDescription(want, got string) bool {
	return strings.TrimRight(want, "\n") == strings.TrimRight(got, "\n")
}

func sameNet(want, got string) bool {
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
}

func readRootFS(_ context.Context, m *lxcContainerModel, cfg *pve.RawConfig) diag.Diagnostics {
	var diags diag.Diagnostics
	rs, ok := cfg.Values["rootfs"]
	if !ok {
		m.RootFS = nil
		return nil
	}
	r, err := pve.ParseRootFS(rs)
	if err != nil {
		diags.AddError("Unexpected rootfs", err.Error())
		return diags
	}
	size := types.StringValue(r.Size)
	if m.RootFS != nil && known(m.RootFS.Size) {
		a, e1 := pve.ParseSize(m.RootFS.Size.ValueString())
		b, e2 := pve.ParseSize(r.Size)
		if e1 == nil && e2 == nil && a == b {
			size = m.RootFS.Size
		}
	}
	m.RootFS = &rootfsModel{Storage: types.StringValue(r.Storage), Size: size, Volume: types.StringValue(r.Volume)}
	return nil
}

func readStartup(_ context.Context, m *lxcContainerModel, cfg *pve.RawConfig) diag.Diagnostics {
	var diags diag.Diagnostics
	if s, ok := cfg.Values["startup"]; ok && s != "" {
		st, err := pve.ParseStartup(s)
		if err != nil {
			diags.AddError("Unexpected startup", err.Error())
		}
		m.Startup = &startupModel{Order: int64OrNull(st.Order), UpDelay: int64OrNull(st.Up), DownDelay: int64OrNull(st.Down)}
	} else if m.Startup != nil {
		m.Startup = &startupModel{Order: types.Int64Null(), UpDelay: types.Int64Null(), DownDelay: types.Int64Null()}
	}
	return diags
}
