package provider

import (
	"context"
	"sort"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// notSettings are the resource attributes that hold no Proxmox VE config
// key of their own, each with the reason. Every other attribute must have a
// row in containerSettings.
var notSettings = map[string]string{
	"id":                         "the resource's address",
	"node_name":                  "a path parameter of the API",
	"vmid":                       "a path parameter of the API",
	"template":                   "ostemplate, a create parameter",
	"clone":                      "the clone call's parameters",
	"started":                    "the run state, not configuration",
	"password":                   "a create parameter, never stored",
	"ssh_public_keys":            "a create parameter, never stored",
	"apparmor_profile":           "a raw lxc.* line written over SSH",
	"effective_apparmor_profile": "read from the raw lxc.* lines",
	"lxc_config":                 "raw lxc.* lines written over SSH",
	"id_map":                     "raw lxc.idmap lines written over SSH",
	"docker":                     "configuration inside the container",
	"ip_addresses":               "computed from the networks and the running container's interfaces",
	"wait_for_ip":                "an option of the create",
	"allow_lxc_hooks":            "an opt-in checked at plan time",
	"timeouts":                   "the resource's operation timeouts",
	"pool":                       "kept in user.cfg's pools, not the config: a create parameter, then the pools API",
	"ha":                         "kept in ha/resources.cfg, not the config: the HA resources API",
}

// unmanagedKeys may be emitted on create without the provider deleting them
// when unset: Proxmox VE fills them in itself.
var unmanagedKeys = map[string]string{
	"hostname": "Proxmox VE names the container CT<vmid> when unset",
	"ostype":   "detected from the template when unset",
	"arch":     "detected from the template when unset, and a start needs it",
}

// createOnlyParams are create parameters that are not settings rows.
var createOnlyParams = map[string]bool{
	"vmid": true, "ostemplate": true, "unprivileged": true, "rootfs": true, "password": true, "ssh-public-keys": true,
}

// fullModel sets every setting attribute of the resource.
func fullModel() *lxcContainerModel {
	m := testModel()
	m.Template = types.StringValue("local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst")
	m.Unprivileged = types.BoolValue(true)
	m.OSType = types.StringValue("debian")
	m.CPULimit = types.Float64Value(1.5)
	m.CPUUnits = types.Int64Value(200)
	m.Nameserver = types.StringValue("10.0.0.53")
	m.Searchdomain = types.StringValue("lan")
	m.Timezone = types.StringValue("Europe/Berlin")
	m.Protection = types.BoolValue(true)
	m.Arch = types.StringValue("arm64")
	m.ConsoleMode = types.StringValue("shell")
	m.Console = types.BoolValue(false)
	m.TTYCount = types.Int64Value(4)
	m.Hookscript = types.StringValue("local:snippets/hook.sh")
	m.Entrypoint = types.StringValue("/usr/local/bin/app --serve")
	m.Environment = types.MapValueMust(types.StringType, map[string]attr.Value{"APP_MODE": types.StringValue("prod"), "TOKEN": types.StringValue("s3cr3t")})
	m.RootFS = &rootfsModel{Storage: types.StringValue("local-lvm"), Size: types.StringValue("8G"), Volume: types.StringUnknown()}
	m.SSHPublicKeys = types.ListValueMust(types.StringType, []attr.Value{types.StringValue("ssh-ed25519 AAAA test")})
	m.MountPoints = types.ListValueMust(mountPointObjectType, []attr.Value{mustObjectOf(mountPointObjectType, testMount(0, "/data", "local-lvm", "2G", ""))})
	m.Devices = types.ListValueMust(deviceObjectType, []attr.Value{mustObjectOf(deviceObjectType, deviceModel{
		Slot: types.Int64Value(0), Path: types.StringValue("/dev/dri/renderD128"), Mode: types.StringNull(),
		UID: types.Int64Null(), GID: types.Int64Value(104), DenyWrite: types.BoolNull(),
	})})
	return m
}

// TestEveryAttributeHasASettingRow fails when the resource gains an
// attribute without a row in the settings table (or a reason in
// notSettings), and when a row names an attribute the resource lacks.
func TestEveryAttributeHasASettingRow(t *testing.T) {
	sch := lxcContainerSchema(context.Background())
	names := map[string]bool{}
	for n := range sch.Attributes {
		names[n] = true
	}
	for n := range sch.Blocks {
		names[n] = true
	}
	rows := map[string]bool{}
	for _, s := range containerSettings {
		if !names[s.attr] {
			t.Errorf("row %s names attribute %q, which the resource lacks", s.key, s.attr)
		}
		rows[s.attr] = true
	}
	var missing []string
	for n := range names {
		if !rows[n] && notSettings[n] == "" {
			missing = append(missing, n)
		}
		if rows[n] && notSettings[n] != "" {
			t.Errorf("%s has a row and a reason not to have one", n)
		}
	}
	sort.Strings(missing)
	for _, n := range missing {
		t.Errorf("attribute %s has no row in containerSettings (lxc_container_settings.go) and no reason in notSettings", n)
	}
}

// TestCreateKeysAreManaged fails when createParams emits a key that no row
// owns, or one the provider would never delete again.
func TestCreateKeysAreManaged(t *testing.T) {
	params, diags := createParams(context.Background(), fullModel(), 4100, "secret-pw")
	if diags.HasError() {
		t.Fatal(diags)
	}
	for k := range params {
		if createOnlyParams[k] {
			continue
		}
		s := settingFor(k)
		switch {
		case s == nil:
			t.Errorf("create sends %s, which no row of containerSettings owns: it would never be updated or deleted", k)
		case !s.managed && unmanagedKeys[k] == "":
			t.Errorf("create sends %s, whose row is not managed: unsetting it would leave it in Proxmox VE", k)
		}
	}
	// Every row with a desired value shows up in the full model's request.
	for _, s := range containerSettings {
		if s.desired == nil {
			continue
		}
		key := s.key
		if s.numbered {
			key += "0"
		}
		if _, ok := params[key]; !ok {
			t.Errorf("the full model sends no %s: fullModel misses %s", key, s.attr)
		}
	}
}

// TestDataSourceHasEveryReadableAttribute fails when the data source lacks
// a readable attribute of the resource or reads it in another shape.
func TestDataSourceHasEveryReadableAttribute(t *testing.T) {
	ctx := context.Background()
	rs := lxcContainerSchema(ctx)
	ds := dataSourceSchema(ctx)
	check := func(name string, want attr.Type) {
		if notInDataSource[name] != "" {
			if _, ok := ds.Attributes[name]; ok {
				t.Errorf("%s is both in the data source and listed as left out", name)
			}
			return
		}
		got, ok := ds.Attributes[name]
		if !ok {
			t.Errorf("the data source lacks %s", name)
			return
		}
		if !got.GetType().Equal(want) {
			t.Errorf("%s: data source type %s, resource %s", name, got.GetType(), want)
		}
		if _, own := dataSourceOwn[name]; !own && !got.IsComputed() {
			t.Errorf("%s is not computed in the data source", name)
		}
	}
	for n, a := range rs.Attributes {
		check(n, a.GetType())
	}
	for n, b := range rs.Blocks {
		check(n, b.Type())
	}
	for n := range notInDataSource {
		_, a := rs.Attributes[n]
		_, b := rs.Blocks[n]
		if !a && !b {
			t.Errorf("notInDataSource lists %s, which the resource lacks", n)
		}
	}
}
