package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/function"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	tfresource "github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfversion"
)

const (
	lxcConfigsSmallFixture = "testdata/phoenix_lxc_configs_small.json"
	lxcConfigsRealFixture  = "../../testdata/phoenix/phoenix_lxc_configs.json"
)

// runLXCConfigs calls the function's Run and returns its result as plain Go
// values (map[string]any, []any, string, float64, bool, nil).
func runLXCConfigs(t *testing.T, doc string) (map[string]any, *function.FuncError) {
	t.Helper()
	req := function.RunRequest{Arguments: function.NewArgumentsData([]attr.Value{types.StringValue(doc)})}
	resp := function.RunResponse{Result: function.NewResultData(types.MapUnknown(lxcConfigsEntryType()))}
	NewLXCConfigsFunction().Run(t.Context(), req, &resp)
	if resp.Error != nil {
		return nil, resp.Error
	}
	tv, err := resp.Result.Value().ToTerraformValue(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	out, isMap := tfPlain(t, tv).(map[string]any)
	if !isMap {
		t.Fatalf("result is not a map: %v", tv)
	}
	return out, nil
}

// tfPlain converts a Terraform value to plain Go values; sets become sorted
// lists so that they compare stably.
func tfPlain(t *testing.T, v tftypes.Value) any {
	t.Helper()
	if v.IsNull() {
		return nil
	}
	if !v.IsKnown() {
		t.Fatalf("unknown value in result: %v", v)
	}
	switch typ := v.Type().(type) {
	case tftypes.List, tftypes.Set, tftypes.Tuple:
		var items []tftypes.Value
		if err := v.As(&items); err != nil {
			t.Fatal(err)
		}
		out := make([]any, 0, len(items))
		for _, item := range items {
			out = append(out, tfPlain(t, item))
		}
		if _, isSet := typ.(tftypes.Set); isSet {
			sort.Slice(out, func(i, j int) bool { return fmt.Sprint(out[i]) < fmt.Sprint(out[j]) })
		}
		return out
	case tftypes.Map, tftypes.Object:
		var members map[string]tftypes.Value
		if err := v.As(&members); err != nil {
			t.Fatal(err)
		}
		out := make(map[string]any, len(members))
		for k, m := range members {
			out[k] = tfPlain(t, m)
		}
		return out
	}
	switch {
	case v.Type().Equal(tftypes.String):
		var s string
		if err := v.As(&s); err != nil {
			t.Fatal(err)
		}
		return s
	case v.Type().Equal(tftypes.Bool):
		var b bool
		if err := v.As(&b); err != nil {
			t.Fatal(err)
		}
		return b
	case v.Type().Equal(tftypes.Number):
		var f big.Float
		if err := v.As(&f); err != nil {
			t.Fatal(err)
		}
		n, _ := f.Float64()
		return n
	}
	t.Fatalf("unexpected type %s", v.Type())
	return nil
}

// sameJSON compares got with the expected JSON text, reporting both as
// indented JSON on a difference.
func sameJSON(t *testing.T, what string, got any, want string) {
	t.Helper()
	var w any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("%s: bad expected JSON: %v", what, err)
	}
	g := jsonRoundTrip(t, got)
	if !reflect.DeepEqual(g, w) {
		gb, _ := json.MarshalIndent(g, "", "  ")
		wb, _ := json.MarshalIndent(w, "", "  ")
		t.Errorf("%s:\n got: %s\nwant: %s", what, gb, wb)
	}
}

func jsonRoundTrip(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// lxcConfigsNulls is an entry with every attribute null, to be overlaid.
func lxcConfigsNulls() map[string]any {
	out := map[string]any{}
	for name := range lxcConfigsEntryType().AttrTypes {
		out[name] = nil
	}
	return out
}

func nullNetwork(overlay map[string]any) map[string]any {
	n := map[string]any{
		"name": nil, "bridge": nil, "ip": nil, "gw": nil, "ip6": nil, "gw6": nil,
		"hwaddr": nil, "firewall": nil, "vlan": nil, "mtu": nil, "rate": nil,
	}
	for k, v := range overlay {
		n[k] = v
	}
	return n
}

func overlay(base map[string]any, values map[string]any) map[string]any {
	for k, v := range values {
		base[k] = v
	}
	return base
}

// smallFixtureWant is the exact result for testdata/phoenix_lxc_configs_small.json.
func smallFixtureWant() map[string]any {
	dockerDefaults := func(helloWorld bool) map[string]any {
		return map[string]any{
			"package_source": "docker-ce", "version": nil, "compose": true, "storage_driver": "overlay2",
			"daemon_json": nil, "verify_on_refresh": nil,
			"health_checks": map[string]any{"hello_world": helloWorld, "network_target": "1.1.1.1"},
		}
	}
	return map[string]any{
		"200": overlay(lxcConfigsNulls(), map[string]any{
			"ctid": 200, "vmid": 200,
			"template":      "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst",
			"hostname":      "tmpl-base",
			"unprivileged":  true,
			"cores":         1,
			"memory":        1024,
			"rootfs":        map[string]any{"storage": "local-lvm", "size": "10G"},
			"network":       []any{nullNetwork(map[string]any{"name": "eth0", "bridge": "vmbr0", "ip": "10.10.0.200/24", "gw": "10.10.0.1", "hwaddr": "BC:24:11:00:02:00"})},
			"start_on_boot": false,
			"startup":       map[string]any{"order": 0, "up_delay": 0, "down_delay": nil},
			// An empty lxc_options is null, like an absent one.
			"apparmor_profile": "unconfined",
			"unmapped": []any{
				`gpu_assignment: "none"`,
				`portainer_role: "none"`,
				`features[0]: "base_setup"`,
				`template_snapshot_name: "golden"`,
				`apparmor_manages_nesting: true`,
			},
		}),
		"201": overlay(lxcConfigsNulls(), map[string]any{
			"ctid": 201, "vmid": 201,
			"clone":        map[string]any{"source_vmid": 200, "source_node": nil, "snapshot": "golden", "full": nil, "storage": nil},
			"hostname":     "docker-01",
			"unprivileged": true,
			"cores":        2,
			"memory":       2048,
			"swap":         256,
			"rootfs":       map[string]any{"storage": "local-lvm", "size": "32G"},
			"network": []any{nullNetwork(map[string]any{
				"name": "eth0", "bridge": "vmbr1", "ip": "10.10.0.201/24", "gw": "10.10.0.1", "hwaddr": "BC:24:11:00:02:01", "firewall": true,
			})},
			"features":         map[string]any{"nesting": true, "keyctl": true, "fuse": false, "mknod": nil, "mount": []any{"cifs", "nfs"}},
			"start_on_boot":    true,
			"startup":          map[string]any{"order": 2, "up_delay": 10, "down_delay": nil},
			"apparmor_profile": "lxc-docker-secure",
			"lxc_config": []any{
				map[string]any{"key": "lxc.cgroup2.devices.allow", "value": "a"},
				map[string]any{"key": "lxc.mount.entry", "value": "/dev/fuse dev/fuse none bind,create=file"},
			},
			"docker": dockerDefaults(false),
			"unmapped": []any{
				`gpu_assignment: "none"`,
				`portainer_role: "agent"`,
				`features[1]: "portainer"`,
				`pct_options[3]: "--onboot 1"`,
				`lxc_options[2]: "lxc.apparmor.allow_nesting=1"`,
				`firewall.rules: [{"type":"in","action":"ACCEPT","source":"10.10.0.5","proto":"tcp","port":"9001"}]`,
				`ports: ["9001:9001"]`,
				`dependencies: ["202"]`,
				`apparmor_manages_nesting: false`,
				`owner: "ops"`,
				`tests.health_checks[2]: {"name":"DNS","type":"script","path":"docker/check_dns_resolution.sh"}`,
				`tests.integration_tests[0]: {"name":"Storage driver","type":"script","path":"docker/test_docker_storage_driver.sh"}`,
			},
		}),
		"202": overlay(lxcConfigsNulls(), map[string]any{
			"ctid": 202, "vmid": 202,
			"clone":            map[string]any{"source_vmid": 200, "source_node": nil, "snapshot": "golden", "full": nil, "storage": nil},
			"hostname":         "gpu-01",
			"unprivileged":     false,
			"cores":            4,
			"memory":           4096,
			"rootfs":           map[string]any{"storage": "local-zfs", "size": "64G"},
			"network":          []any{nullNetwork(map[string]any{"name": "eth0", "bridge": "vmbr0", "ip": "10.10.0.202/24", "gw": "10.10.0.1"})},
			"apparmor_profile": "lxc-phoenix-v2",
			"unmapped": []any{
				`gpu_assignment: "0,1"`,
				`portainer_role: "none"`,
				`features[0]: "nvidia"`,
				`vllm_model: null`,
				`apparmor_manages_nesting: true`,
				`tests: {"smoke":"run_smoke.sh"}`,
			},
		}),
	}
}

func TestLXCConfigsFunctionSmallFixture(t *testing.T) {
	got, ferr := runLXCConfigs(t, readFile(t, lxcConfigsSmallFixture))
	if ferr != nil {
		t.Fatalf("unexpected error: %s", ferr.Text)
	}
	want := smallFixtureWant()
	if len(got) != len(want) {
		t.Errorf("got %d containers, want %d", len(got), len(want))
	}
	for ctid, w := range want {
		wb, err := json.Marshal(w)
		if err != nil {
			t.Fatal(err)
		}
		sameJSON(t, "container "+ctid, got[ctid], string(wb))
	}
}

func TestLXCConfigsFunctionMetadataAndDefinition(t *testing.T) {
	f := NewLXCConfigsFunction()
	var meta function.MetadataResponse
	f.Metadata(t.Context(), function.MetadataRequest{}, &meta)
	if meta.Name != "lxc_configs" {
		t.Errorf("name = %q", meta.Name)
	}
	var def function.DefinitionResponse
	f.Definition(t.Context(), function.DefinitionRequest{}, &def)
	if def.Diagnostics.HasError() {
		t.Fatal(def.Diagnostics)
	}
	if len(def.Definition.Parameters) != 1 || def.Definition.Parameters[0].GetName() != "json" {
		t.Fatalf("parameters = %v", def.Definition.Parameters)
	}
	if !def.Definition.Parameters[0].GetType().Equal(types.StringType) {
		t.Errorf("parameter type = %v", def.Definition.Parameters[0].GetType())
	}
	if want := (types.MapType{ElemType: lxcConfigsEntryType()}); !def.Definition.Return.GetType().Equal(want) {
		t.Errorf("return type = %v, want %v", def.Definition.Return.GetType(), want)
	}
	if def.Definition.Summary == "" || def.Definition.MarkdownDescription == "" {
		t.Error("summary and description are required for the documentation")
	}
}

// TestLXCConfigsFunctionMatchesResourceSchema keeps the result aligned with
// phoenix_lxc_container: every attribute of an entry but ctid and unmapped
// is an argument of the resource with the same type, and every argument the
// file could feed is present.
func TestLXCConfigsFunctionMatchesResourceSchema(t *testing.T) {
	s := lxcContainerSchema(t.Context())
	resourceTypes := map[string]attr.Type{}
	computedOnly := map[string]bool{}
	for name, a := range s.Attributes {
		resourceTypes[name] = a.GetType()
		computedOnly[name] = a.IsComputed() && !a.IsOptional() && !a.IsRequired()
	}
	for name, b := range s.Blocks {
		resourceTypes[name] = b.Type()
	}
	// Arguments announced for the resource that its schema may not hold yet.
	arriving := map[string]bool{"apparmor_profile": true, "lxc_config": true, "docker": true}
	entry := lxcConfigsEntryType().AttrTypes
	for name, typ := range entry {
		if name == "ctid" || name == "unmapped" {
			continue
		}
		rt, ok := resourceTypes[name]
		if !ok {
			if !arriving[name] {
				t.Errorf("%s is not an argument of phoenix_lxc_container", name)
			}
			continue
		}
		if err := typeCovers(t.Context(), name, rt, typ); err != nil {
			t.Error(err)
		}
	}
	// Not fed by a phoenix_lxc_configs.json file: secrets set at creation,
	// and the framework's timeouts block.
	notFed := map[string]bool{"id": true, "password": true, "ssh_public_keys": true, "timeouts": true}
	for name := range resourceTypes {
		if _, ok := entry[name]; !ok && !notFed[name] && !computedOnly[name] {
			t.Errorf("resource argument %s has no attribute in the function's result", name)
		}
	}
}

// typeCovers checks that mine is res, or for objects a subset of res's
// attributes with the same types (computed-only attributes such as
// rootfs.volume are left out of the result).
func typeCovers(ctx context.Context, at string, res, mine attr.Type) error {
	switch m := mine.(type) {
	case types.ObjectType:
		r, ok := res.(types.ObjectType)
		if !ok {
			return fmt.Errorf("%s: resource type %v, result type %v", at, res, mine)
		}
		for k, mt := range m.AttrTypes {
			rt, ok := r.AttrTypes[k]
			if !ok {
				return fmt.Errorf("%s.%s is not in the resource schema", at, k)
			}
			if err := typeCovers(ctx, at+"."+k, rt, mt); err != nil {
				return err
			}
		}
		return nil
	case types.ListType:
		r, ok := res.(types.ListType)
		if !ok {
			return fmt.Errorf("%s: resource type %v, result type %v", at, res, mine)
		}
		return typeCovers(ctx, at+"[*]", r.ElemType, m.ElemType)
	}
	// Custom types such as jsontypes.Normalized take the values of their
	// Terraform type.
	if !res.TerraformType(ctx).Equal(mine.TerraformType(ctx)) {
		return fmt.Errorf("%s: resource type %v, result type %v", at, res, mine)
	}
	return nil
}

// validEntry is a schema-valid container for the error cases.
func validEntry() map[string]any {
	return map[string]any{
		"name": "web-01", "memory_mb": 2048, "cores": 2, "storage_pool": "local-lvm", "storage_size_gb": 16,
		"network_config": map[string]any{"name": "eth0", "bridge": "vmbr0", "ip": "10.0.0.5/24", "gw": "10.0.0.1"},
		"portainer_role": "none", "unprivileged": true, "apparmor_profile": "unconfined", "apparmor_manages_nesting": true,
		"template": "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst",
	}
}

func docWith(t *testing.T, entries map[string]map[string]any) string {
	t.Helper()
	b, err := json.Marshal(map[string]any{"lxc_configs": entries})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestLXCConfigsFunctionErrors(t *testing.T) {
	with := func(change func(e map[string]any)) map[string]map[string]any {
		e := validEntry()
		change(e)
		return map[string]map[string]any{"950": e}
	}
	cases := []struct {
		name string
		doc  string
		want string
	}{
		{"truncated JSON", "{\n  \"lxc_configs\": {", "invalid JSON at line 2, column 18: unexpected end of JSON input"},
		{"syntax error", "{\"lxc_configs\": {\"950\": {\"name\": 'x'}}}", "invalid JSON at line 1, column 34: invalid character '\\'' looking for beginning of value"},
		{"not an object", `[]`, `(document): expected an object, got []`},
		{"missing lxc_configs", `{"nvidia_driver_version": "580.76.05"}`, `lxc_configs: required field is missing`},
		{"lxc_configs not an object", `{"lxc_configs": ["950"]}`, `lxc_configs: expected an object, got ["950"]`},
		{"unknown top-level field", `{"lxc_configs": {}, "vm_configs": {}}`,
			`vm_configs: unknown top-level field (a phoenix_lxc_configs.json document holds $schema, nvidia_driver_version, nvidia_repo_url, nvidia_runfile_url and lxc_configs)`},
		{"top-level field type", `{"lxc_configs": {}, "nvidia_driver_version": 580}`, `nvidia_driver_version: expected a string, got 580`},
		{"non-numeric CTID", docWith(t, map[string]map[string]any{"web": validEntry()}), `lxc_configs["web"]: a CTID must be a decimal number, got "web"`},
		{"CTID below 100", docWith(t, map[string]map[string]any{"42": validEntry()}),
			`lxc_configs["42"]: a CTID must be a number from 100 to 999999999 without leading zeros, got "42"`},
		{"CTID with a leading zero", docWith(t, map[string]map[string]any{"0950": validEntry()}),
			`lxc_configs["0950"]: a CTID must be a number from 100 to 999999999 without leading zeros, got "0950"`},
		{"container not an object", `{"lxc_configs": {"950": "web"}}`, `lxc_configs["950"]: expected an object, got "web"`},
		{"duplicate key", `{"lxc_configs": {"950": {"name": "a", "name": "b"}}}`, `lxc_configs["950"]: duplicate key "name"`},
		{"memory as a string", docWith(t, with(func(e map[string]any) { e["memory_mb"] = "2G" })),
			`lxc_configs["950"].memory_mb: expected an integer, got "2G"`},
		{"memory fraction", docWith(t, with(func(e map[string]any) { e["memory_mb"] = 2048.5 })),
			`lxc_configs["950"].memory_mb: expected an integer, got 2048.5`},
		{"memory below the schema minimum", docWith(t, with(func(e map[string]any) { e["memory_mb"] = 256 })),
			`lxc_configs["950"].memory_mb: must be between 512 and 131072, got 256`},
		{"cores above the schema maximum", docWith(t, with(func(e map[string]any) { e["cores"] = 64 })),
			`lxc_configs["950"].cores: must be between 1 and 32, got 64`},
		{"negative boot delay", docWith(t, with(func(e map[string]any) { e["boot_delay"] = -5 })),
			`lxc_configs["950"].boot_delay: must be at least 0, got -5`},
		{"missing name", docWith(t, with(func(e map[string]any) { delete(e, "name") })),
			`lxc_configs["950"].name: required field is missing`},
		{"name not a host name", docWith(t, with(func(e map[string]any) { e["name"] = "web server" })),
			`lxc_configs["950"].name: must be a valid host name (letters, digits and '-', labels separated by '.'), got "web server"`},
		{"unprivileged as a string", docWith(t, with(func(e map[string]any) { e["unprivileged"] = "yes" })),
			`lxc_configs["950"].unprivileged: expected a boolean, got "yes"`},
		{"storage pool", docWith(t, with(func(e map[string]any) { e["storage_pool"] = "local lvm" })),
			`lxc_configs["950"].storage_pool: must be a Proxmox VE storage ID such as local-lvm, got "local lvm"`},
		{"network_config not an object", docWith(t, with(func(e map[string]any) { e["network_config"] = "eth0" })),
			`lxc_configs["950"].network_config: expected an object, got "eth0"`},
		{"ip without prefix", docWith(t, with(func(e map[string]any) {
			e["network_config"] = map[string]any{"name": "eth0", "bridge": "vmbr0", "ip": "10.0.0.5", "gw": "10.0.0.1"}
		})), `lxc_configs["950"].network_config.ip: must be an IPv4 address with a prefix length such as 10.0.0.5/24, got "10.0.0.5"`},
		{"missing gateway", docWith(t, with(func(e map[string]any) {
			e["network_config"] = map[string]any{"name": "eth0", "bridge": "vmbr0", "ip": "10.0.0.5/24"}
		})), `lxc_configs["950"].network_config.gw: required field is missing`},
		{"multicast MAC", docWith(t, with(func(e map[string]any) { e["mac_address"] = "01:00:5E:00:00:01" })),
			`lxc_configs["950"].mac_address: must be a unicast MAC address such as 52:54:00:12:34:56, got "01:00:5E:00:00:01"`},
		{"features not an array", docWith(t, with(func(e map[string]any) { e["features"] = "docker" })),
			`lxc_configs["950"].features: expected an array, got "docker"`},
		{"feature not a string", docWith(t, with(func(e map[string]any) { e["features"] = []any{"docker", 7} })),
			`lxc_configs["950"].features[1]: expected a string, got 7`},
		{"bad lxc option", docWith(t, with(func(e map[string]any) { e["lxc_options"] = []any{"lxc.cap.drop=", "cgroup=a"} })),
			`lxc_configs["950"].lxc_options[1]: expected "lxc.<key>=<value>" or "lxc.<key>: <value>", got "cgroup=a"`},
		{"firewall flag", docWith(t, with(func(e map[string]any) { e["firewall"] = map[string]any{"enabled": "yes"} })),
			`lxc_configs["950"].firewall.enabled: expected a boolean, got "yes"`},
		{"unmapped field type", docWith(t, with(func(e map[string]any) { e["gpu_assignment"] = 0 })),
			`lxc_configs["950"].gpu_assignment: expected a string, got 0`},
		{"unmapped list element type", docWith(t, with(func(e map[string]any) { e["ports"] = []any{"80:80", 443} })),
			`lxc_configs["950"].ports[1]: expected a string, got 443`},
		{"clone id not a string", docWith(t, with(func(e map[string]any) { delete(e, "template"); e["clone_from_ctid"] = 900 })),
			`lxc_configs["950"].clone_from_ctid: expected a string, got 900`},
		{"clone id not a CTID", docWith(t, with(func(e map[string]any) { delete(e, "template"); e["clone_from_ctid"] = "base" })),
			`lxc_configs["950"].clone_from_ctid: must be a CTID from 100 to 999999999 as a string, got "base"`},
		{"clone of itself", docWith(t, with(func(e map[string]any) { delete(e, "template"); e["clone_from_ctid"] = "950" })),
			`lxc_configs["950"].clone_from_ctid: a container cannot be cloned from itself`},
		{"template and clone", docWith(t, with(func(e map[string]any) { e["clone_from_ctid"] = "900" })),
			`lxc_configs["950"].template: template and clone_from_ctid cannot both be set: a container is created from one source`},
		{"snapshot name", docWith(t, with(func(e map[string]any) { e["template_snapshot_name"] = "pre configured" })),
			`lxc_configs["950"].template_snapshot_name: must be a Proxmox VE snapshot name (a letter, then 1 to 39 letters, digits, '_' or '-'), got "pre configured"`},
		{"clone loop", func() string {
			a, b := validEntry(), validEntry()
			delete(a, "template")
			delete(b, "template")
			a["clone_from_ctid"], b["clone_from_ctid"] = "301", "300"
			return docWith(t, map[string]map[string]any{"300": a, "301": b})
		}(), "lxc_configs[\"300\"].clone_from_ctid: clone chain loops back to 300\nlxc_configs[\"301\"].clone_from_ctid: clone chain loops back to 301"},
		{"every problem at once", docWith(t, with(func(e map[string]any) {
			e["memory_mb"] = "2G"
			e["cores"] = 0
			delete(e, "apparmor_profile")
		})), "lxc_configs[\"950\"].cores: must be between 1 and 32, got 0\n" +
			"lxc_configs[\"950\"].memory_mb: expected an integer, got \"2G\"\n" +
			"lxc_configs[\"950\"].apparmor_profile: required field is missing"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ferr := runLXCConfigs(t, tc.doc)
			if ferr == nil {
				t.Fatalf("no error; result %v", got)
			}
			if ferr.Text != tc.want {
				t.Errorf("error:\n got: %s\nwant: %s", ferr.Text, tc.want)
			}
			if ferr.FunctionArgument == nil || *ferr.FunctionArgument != 0 {
				t.Errorf("error does not point at the json argument: %v", ferr.FunctionArgument)
			}
		})
	}
}

func TestLXCConfigsFunctionManyProblemsAreBounded(t *testing.T) {
	entries := map[string]map[string]any{}
	for i := range 40 {
		e := validEntry()
		e["cores"] = "two"
		entries[strconv.Itoa(500+i)] = e
	}
	_, ferr := runLXCConfigs(t, docWith(t, entries))
	if ferr == nil {
		t.Fatal("no error")
	}
	lines := strings.Split(ferr.Text, "\n")
	if len(lines) != lxcConfigsMaxErrors+1 || lines[len(lines)-1] != "... and 15 more problems" {
		t.Errorf("got %d lines, last %q", len(lines), lines[len(lines)-1])
	}
}

func TestLXCConfigsFunctionEdgeCases(t *testing.T) {
	t.Run("empty lxc_configs", func(t *testing.T) {
		got, ferr := runLXCConfigs(t, `{"lxc_configs": {}}`)
		if ferr != nil {
			t.Fatal(ferr.Text)
		}
		if len(got) != 0 {
			t.Errorf("got %v", got)
		}
	})
	t.Run("integral float and clone of a container outside the file", func(t *testing.T) {
		e := validEntry()
		delete(e, "template")
		e["memory_mb"] = 4096.0
		e["clone_from_ctid"] = "120"
		e["features"] = []any{"docker"}
		got, ferr := runLXCConfigs(t, docWith(t, map[string]map[string]any{"130": e}))
		if ferr != nil {
			t.Fatal(ferr.Text)
		}
		c, ok := got["130"].(map[string]any)
		if !ok {
			t.Fatalf("got %v", got)
		}
		sameJSON(t, "memory", c["memory"], `4096`)
		sameJSON(t, "clone", c["clone"], `{"source_vmid":120,"source_node":null,"snapshot":null,"full":null,"storage":null}`)
		// No tests in the file: the docker block's checks keep their defaults.
		sameJSON(t, "docker", c["docker"], `{"package_source":"docker-ce","version":null,"compose":true,"storage_driver":"overlay2",
			"daemon_json":null,"verify_on_refresh":null,"health_checks":{"hello_world":true,"network_target":"1.1.1.1"}}`)
		sameJSON(t, "unmapped", c["unmapped"], `["apparmor_manages_nesting: true","portainer_role: \"none\""]`)
	})
	t.Run("pct options that are not only features are listed whole", func(t *testing.T) {
		e := validEntry()
		e["pct_options"] = []any{"nesting=1,onboot=1", "keyctl=maybe", "mount=", "mknod=on"}
		got, ferr := runLXCConfigs(t, docWith(t, map[string]map[string]any{"130": e}))
		if ferr != nil {
			t.Fatal(ferr.Text)
		}
		c, ok := got["130"].(map[string]any)
		if !ok {
			t.Fatalf("got %v", got)
		}
		sameJSON(t, "features", c["features"], `{"nesting":null,"keyctl":null,"fuse":null,"mknod":true,"mount":null}`)
		sameJSON(t, "unmapped", c["unmapped"], `["apparmor_manages_nesting: true","pct_options[0]: \"nesting=1,onboot=1\"",
			"pct_options[1]: \"keyctl=maybe\"","pct_options[2]: \"mount=\"","portainer_role: \"none\""]`)
	})
	t.Run("docker tests of another shape are listed", func(t *testing.T) {
		e := validEntry()
		e["features"] = []any{"docker"}
		e["tests"] = map[string]any{"health_checks": "all", "integration_tests": []any{"hello"}}
		got, ferr := runLXCConfigs(t, docWith(t, map[string]map[string]any{"130": e}))
		if ferr != nil {
			t.Fatal(ferr.Text)
		}
		c, ok := got["130"].(map[string]any)
		if !ok {
			t.Fatalf("got %v", got)
		}
		sameJSON(t, "hello_world", asMap(c["docker"])["health_checks"], `{"hello_world":false,"network_target":"1.1.1.1"}`)
		sameJSON(t, "unmapped", c["unmapped"], `["apparmor_manages_nesting: true","portainer_role: \"none\"",
			"tests.health_checks: \"all\"","tests.integration_tests[0]: \"hello\""]`)
	})
}

func TestSplitLXCOption(t *testing.T) {
	cases := []struct{ in, key, value string }{
		{"lxc.apparmor.profile=unconfined", "lxc.apparmor.profile", "unconfined"},
		{"lxc.apparmor.profile: unconfined", "lxc.apparmor.profile", "unconfined"},
		{"lxc.cgroup2.devices.allow = a", "lxc.cgroup2.devices.allow", "a"},
		{"lxc.mount.auto=proc:rw sys:rw", "lxc.mount.auto", "proc:rw sys:rw"},
		{"lxc.mount.entry: /dev/fuse dev/fuse none bind,create=file", "lxc.mount.entry", "/dev/fuse dev/fuse none bind,create=file"},
		{"lxc.cap.drop:", "lxc.cap.drop", ""},
	}
	for _, tc := range cases {
		k, v, ok := splitLXCOption(tc.in)
		if !ok || k != tc.key || v != tc.value {
			t.Errorf("splitLXCOption(%q) = %q, %q, %v", tc.in, k, v, ok)
		}
	}
	for _, bad := range []string{"", "lxc.apparmor.profile", "apparmor=unconfined", "lxc.=x", "lxc key=x"} {
		if k, v, ok := splitLXCOption(bad); ok {
			t.Errorf("splitLXCOption(%q) accepted: %q, %q", bad, k, v)
		}
	}
}

// asMap, asSlice and asString read decoded JSON; a value of another type
// gives the zero value, which the comparisons then report.
func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

func asString(v any) string {
	s, _ := v.(string)
	return s
}

// realFixture returns the shared phoenix_lxc_configs.json, or skips.
func realFixture(t *testing.T) (string, map[string]map[string]any) {
	t.Helper()
	b, err := os.ReadFile(lxcConfigsRealFixture)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		LXCConfigs map[string]map[string]any `json:"lxc_configs"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	return string(b), doc.LXCConfigs
}

// realFixtureDockerCTs are the containers the fixture's README names as the
// Docker ones; each is checked field by field.
var realFixtureDockerCTs = []string{"902", "910", "950", "951", "952", "953", "954", "955", "956", "957"}

func TestLXCConfigsFunctionRealFixture(t *testing.T) {
	text, entries := realFixture(t)
	got, ferr := runLXCConfigs(t, text)
	if ferr != nil {
		t.Fatalf("the real fixture is refused: %s", ferr.Text)
	}
	if len(got) != len(entries) {
		t.Errorf("got %d containers, the file has %d", len(got), len(entries))
	}
	var withDocker []string
	for ctid := range entries {
		c, ok := got[ctid].(map[string]any)
		if !ok {
			t.Errorf("container %s missing from the result", ctid)
			continue
		}
		if c["docker"] != nil {
			withDocker = append(withDocker, ctid)
		}
		// Every container, not only the Docker ones, loses no field.
		checkEveryFieldAccounted(t, ctid, entries[ctid], c)
	}
	sort.Strings(withDocker)
	// The README calls 902, 910 and 950-957 the Docker containers; in the
	// file the "docker" feature is on these.
	if want := []string{"902", "903", "910", "952", "956", "960"}; !slices.Equal(withDocker, want) {
		t.Errorf("containers with a docker block: %v, want %v", withDocker, want)
	}
	for _, ctid := range realFixtureDockerCTs {
		c, ok := got[ctid].(map[string]any)
		if !ok {
			t.Errorf("container %s missing from the result", ctid)
			continue
		}
		t.Run(ctid, func(t *testing.T) { checkFieldByField(t, ctid, entries, c) })
	}
}

// checkFieldByField derives each expected argument from the container's
// JSON fields and compares it with the result.
func checkFieldByField(t *testing.T, ctid string, entries map[string]map[string]any, got map[string]any) {
	t.Helper()
	e := entries[ctid]
	want := lxcConfigsNulls()
	id, _ := strconv.Atoi(ctid)
	want["ctid"], want["vmid"] = id, id
	want["unmapped"] = got["unmapped"] // checked by checkEveryFieldAccounted
	net := nullNetwork(nil)
	rootfs := map[string]any{"storage": nil, "size": nil}
	var startup map[string]any
	var features map[string]any
	for key, v := range e {
		switch key {
		case "name":
			want["hostname"] = v
		case "memory_mb":
			want["memory"] = v
		case "swap_mb":
			want["swap"] = v
		case "cores":
			want["cores"] = v
		case "template":
			want["template"] = v
		case "unprivileged":
			want["unprivileged"] = v
		case "apparmor_profile":
			want["apparmor_profile"] = v
		case "start_at_boot":
			want["start_on_boot"] = v
		case "storage_pool":
			rootfs["storage"] = v
		case "storage_size_gb":
			rootfs["size"] = fmt.Sprint(v) + "G"
		case "network_config":
			for k, nv := range asMap(v) {
				net[k] = nv
			}
		case "mac_address":
			net["hwaddr"] = v
		case "firewall":
			if en, ok := asMap(v)["enabled"]; ok {
				net["firewall"] = en
			}
		case "boot_order", "boot_delay":
			if startup == nil {
				startup = map[string]any{"order": nil, "up_delay": nil, "down_delay": nil}
			}
			startup[map[string]string{"boot_order": "order", "boot_delay": "up_delay"}[key]] = v
		case "clone_from_ctid":
			src, _ := strconv.Atoi(asString(v))
			var snap any
			if s, ok := entries[asString(v)]; ok {
				snap = s["template_snapshot_name"]
			}
			want["clone"] = map[string]any{"source_vmid": src, "source_node": nil, "snapshot": snap, "full": nil, "storage": nil}
		case "lxc_options":
			var lines []any
			for _, o := range asSlice(v) {
				k, val, _ := strings.Cut(asString(o), "=")
				if !strings.HasPrefix(k, "lxc.apparmor.") {
					lines = append(lines, map[string]any{"key": k, "value": val})
				}
			}
			if len(lines) > 0 {
				want["lxc_config"] = lines
			}
		case "pct_options":
			for _, o := range asSlice(v) {
				k, val, ok := strings.Cut(asString(o), "=")
				if ok && slices.Contains([]string{"nesting", "keyctl", "fuse", "mknod"}, k) {
					if features == nil {
						features = map[string]any{"nesting": nil, "keyctl": nil, "fuse": nil, "mknod": nil, "mount": nil}
					}
					features[k] = val == "1"
				}
			}
		case "features":
			if slices.Contains(asSlice(v), any("docker")) {
				hello := true
				if tests, ok := e["tests"].(map[string]any); ok {
					if it, ok := tests["integration_tests"].([]any); ok {
						hello = slices.ContainsFunc(it, func(x any) bool {
							return strings.HasSuffix(fmt.Sprint(asMap(x)["path"]), "/test_docker_hello_world.sh")
						})
					}
				}
				want["docker"] = map[string]any{
					"package_source": "docker-ce", "version": nil, "compose": true, "storage_driver": "overlay2",
					"daemon_json": nil, "verify_on_refresh": nil,
					"health_checks": map[string]any{"hello_world": hello, "network_target": "1.1.1.1"},
				}
			}
		}
	}
	want["network"] = []any{net}
	if rootfs["storage"] != nil || rootfs["size"] != nil {
		want["rootfs"] = rootfs
	}
	if startup != nil {
		want["startup"] = startup
	}
	if features != nil {
		want["features"] = features
	}
	wb, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, "container "+ctid, got, string(wb))
}

// checkEveryFieldAccounted walks every leaf of a container's JSON and checks
// that it is mapped onto an argument or listed in unmapped with its value,
// and that unmapped lists nothing that is mapped or absent.
func checkEveryFieldAccounted(t *testing.T, ctid string, entry map[string]any, got map[string]any) {
	t.Helper()
	listed := map[string]any{}
	for _, u := range asSlice(got["unmapped"]) {
		p, v, ok := strings.Cut(asString(u), ": ")
		if !ok {
			t.Errorf("%s: unmapped entry %q is not \"path: value\"", ctid, u)
			continue
		}
		var value any
		dec := json.NewDecoder(strings.NewReader(v))
		dec.UseNumber()
		if err := dec.Decode(&value); err != nil {
			t.Errorf("%s: unmapped entry %q: value is not JSON: %v", ctid, u, err)
			continue
		}
		if _, dup := listed[p]; dup {
			t.Errorf("%s: %s listed twice", ctid, p)
		}
		listed[p] = value
	}
	hasDocker := slices.Contains(asSlice(entry["features"]), any("docker"))
	used := map[string]bool{}
	for leaf, value := range jsonLeaves("", entry) {
		mapped := leafIsMapped(leaf, entry, hasDocker)
		var cover string
		for p := range listed {
			if leaf == p || strings.HasPrefix(leaf, p+".") || strings.HasPrefix(leaf, p+"[") {
				cover = p
			}
		}
		switch {
		case mapped && cover != "":
			t.Errorf("%s: %s is mapped and also listed as unmapped under %s", ctid, leaf, cover)
		case !mapped && cover == "":
			t.Errorf("%s: %s = %v is neither mapped nor listed in unmapped", ctid, leaf, value)
		case cover != "":
			used[cover] = true
			if want := jsonAt(entry, cover); !reflect.DeepEqual(listed[cover], want) {
				t.Errorf("%s: unmapped %s = %v, the file has %v", ctid, cover, listed[cover], want)
			}
		}
	}
	for p := range listed {
		if !used[p] {
			t.Errorf("%s: unmapped lists %s, which has no value in the file", ctid, p)
		}
	}
}

// leafIsMapped says, independently of the implementation, which leaves of a
// container reach a resource argument.
func leafIsMapped(leaf string, entry map[string]any, hasDocker bool) bool {
	switch leaf {
	case "name", "memory_mb", "swap_mb", "cores", "template", "storage_pool", "storage_size_gb", "mac_address",
		"clone_from_ctid", "unprivileged", "apparmor_profile", "start_at_boot", "boot_order", "boot_delay",
		"network_config.name", "network_config.bridge", "network_config.ip", "network_config.gw", "firewall.enabled":
		return true
	}
	if strings.HasPrefix(leaf, "lxc_options[") {
		k, v, _ := strings.Cut(asString(jsonAt(entry, leaf)), "=")
		return !strings.HasPrefix(k, "lxc.apparmor.") || (k == "lxc.apparmor.profile" && v == entry["apparmor_profile"])
	}
	if strings.HasPrefix(leaf, "features[") {
		return jsonAt(entry, leaf) == "docker"
	}
	if strings.HasPrefix(leaf, "pct_options[") {
		k, v, _ := strings.Cut(fmt.Sprint(jsonAt(entry, leaf)), "=")
		return slices.Contains([]string{"nesting", "keyctl", "fuse", "mknod"}, k) && (v == "1" || v == "0")
	}
	if hasDocker && strings.HasPrefix(leaf, "tests.") {
		item, _, _ := strings.Cut(leaf, "].")
		script := asString(asMap(jsonAt(entry, item+"]"))["path"])
		base := script[strings.LastIndex(script, "/")+1:]
		switch {
		case strings.HasPrefix(leaf, "tests.health_checks["):
			return base == "check_docker_service.sh" || base == "check_network_access.sh"
		case strings.HasPrefix(leaf, "tests.integration_tests["):
			return base == "test_docker_hello_world.sh"
		}
	}
	return false
}

// jsonLeaves lists the scalar leaves of a decoded JSON value by path
// ("a.b[2].c"); empty objects and arrays have none.
func jsonLeaves(prefix string, v any) map[string]any {
	out := map[string]any{}
	join := func(k string) string {
		if prefix == "" {
			return k
		}
		return prefix + "." + k
	}
	switch x := v.(type) {
	case map[string]any:
		for k, item := range x {
			for p, leaf := range jsonLeaves(join(k), item) {
				out[p] = leaf
			}
		}
	case []any:
		for i, item := range x {
			for p, leaf := range jsonLeaves(fmt.Sprintf("%s[%d]", prefix, i), item) {
				out[p] = leaf
			}
		}
	default:
		out[prefix] = v
	}
	return out
}

var jsonPathStep = regexp.MustCompile(`[^.\[\]]+|\[\d+\]`)

// jsonAt returns the value at a path such as "tests.health_checks[2]".
func jsonAt(v any, p string) any {
	for _, step := range jsonPathStep.FindAllString(p, -1) {
		if strings.HasPrefix(step, "[") {
			i, _ := strconv.Atoi(strings.Trim(step, "[]"))
			arr, _ := v.([]any)
			if i >= len(arr) {
				return nil
			}
			v = arr[i]
			continue
		}
		obj, _ := v.(map[string]any)
		v = obj[step]
	}
	return v
}

// TestLXCConfigsFunctionRealFixtureExact pins two containers of the real
// fixture completely, unmapped entries included.
func TestLXCConfigsFunctionRealFixtureExact(t *testing.T) {
	text, _ := realFixture(t)
	got, ferr := runLXCConfigs(t, text)
	if ferr != nil {
		t.Fatalf("the real fixture is refused: %s", ferr.Text)
	}
	want902 := `{
		"ctid": 902, "vmid": 902, "node_name": null, "template": null,
		"clone": {"source_vmid": 900, "source_node": null, "snapshot": "pre-configured", "full": null, "storage": null},
		"hostname": "Template-Docker", "description": null, "tags": null, "unprivileged": true, "os_type": null,
		"cores": 2, "cpu_limit": null, "cpu_units": null, "memory": 2048, "swap": null,
		"rootfs": {"storage": "quickOS-lxc-disks", "size": "32G"},
		"network": [{"name": "eth0", "bridge": "vmbr0", "ip": "10.0.0.202/24", "gw": "10.0.0.1", "ip6": null, "gw6": null,
			"hwaddr": "52:54:00:AA:BB:CE", "firewall": null, "vlan": null, "mtu": null, "rate": null}],
		"nameserver": null, "searchdomain": null, "features": null,
		"start_on_boot": false, "startup": {"order": 0, "up_delay": 0, "down_delay": null},
		"started": null, "protection": null, "apparmor_profile": "unconfined",
		"lxc_config": [
			{"key": "lxc.cgroup2.devices.allow", "value": "a"},
			{"key": "lxc.mount.entry", "value": "/dev/fuse dev/fuse none bind,create=file"}
		],
		"docker": {"package_source": "docker-ce", "version": null, "compose": true, "storage_driver": "overlay2",
			"daemon_json": null, "health_checks": {"hello_world": true, "network_target": "1.1.1.1"}, "verify_on_refresh": null},
		"unmapped": [
			"gpu_assignment: \"none\"",
			"portainer_role: \"none\"",
			"template_snapshot_name: \"pre-configured\"",
			"apparmor_manages_nesting: true",
			"tests.health_checks[2]: {\"name\":\"Check DNS Resolution\",\"type\":\"script\",\"path\":\"docker/check_dns_resolution.sh\"}",
			"tests.integration_tests[1]: {\"name\":\"Test Docker Storage Driver\",\"type\":\"script\",\"path\":\"docker/test_docker_storage_driver.sh\"}",
			"tests.integration_tests[2]: {\"name\":\"Test AppArmor Confinement\",\"type\":\"script\",\"path\":\"docker/test_apparmor_confinement.sh\"}"
		]
	}`
	sameJSON(t, "902", got["902"], want902)
	want910 := `{
		"ctid": 910, "vmid": 910, "node_name": null, "template": null,
		"clone": {"source_vmid": 902, "source_node": null, "snapshot": "pre-configured", "full": null, "storage": null},
		"hostname": "Portainer", "description": null, "tags": null, "unprivileged": true, "os_type": null,
		"cores": 6, "cpu_limit": null, "cpu_units": null, "memory": 32768, "swap": null,
		"rootfs": {"storage": "quickOS-lxc-disks", "size": "32G"},
		"network": [{"name": "eth0", "bridge": "vmbr0", "ip": "10.0.0.99/24", "gw": "10.0.0.1", "ip6": null, "gw6": null,
			"hwaddr": "52:54:00:67:89:99", "firewall": true, "vlan": null, "mtu": null, "rate": null}],
		"nameserver": null, "searchdomain": null,
		"features": {"nesting": true, "keyctl": true, "fuse": null, "mknod": null, "mount": null},
		"start_on_boot": true, "startup": {"order": 4, "up_delay": 5, "down_delay": null},
		"started": null, "protection": null, "apparmor_profile": "lxc-phoenix-v2",
		"lxc_config": [{"key": "lxc.mount.auto", "value": "sys:rw"}],
		"docker": {"package_source": "docker-ce", "version": null, "compose": true, "storage_driver": "overlay2",
			"daemon_json": null, "health_checks": {"hello_world": true, "network_target": "1.1.1.1"}, "verify_on_refresh": null},
		"unmapped": [
			"gpu_assignment: \"none\"",
			"portainer_role: \"server\"",
			"firewall.rules: [{\"type\":\"in\",\"action\":\"ACCEPT\",\"source\":\"10.0.0.153\",\"proto\":\"tcp\",\"port\":\"9443\"}]",
			"ports: [\"9443:9443\",\"9001:9001\"]",
			"dependencies: [\"953\"]",
			"volumes: [{\"name\":\"portainer_data\",\"pool\":\"quickOS-shared-prod-data-volumes\",\"size_gb\":10,\"mount_point\":\"/data\"}]",
			"apparmor_manages_nesting: true"
		]
	}`
	sameJSON(t, "910", got["910"], want910)
}

// lxcConfigsTestProvider serves only the lxc_configs function, so that it
// can be exercised through the plugin protocol before the provider lists it.
type lxcConfigsTestProvider struct{}

var _ provider.ProviderWithFunctions = &lxcConfigsTestProvider{}

func (p *lxcConfigsTestProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "phoenix"
}

func (p *lxcConfigsTestProvider) Schema(context.Context, provider.SchemaRequest, *provider.SchemaResponse) {
}

func (p *lxcConfigsTestProvider) Configure(context.Context, provider.ConfigureRequest, *provider.ConfigureResponse) {
}

func (p *lxcConfigsTestProvider) Resources(context.Context) []func() resource.Resource { return nil }

func (p *lxcConfigsTestProvider) DataSources(context.Context) []func() datasource.DataSource {
	return nil
}

func (p *lxcConfigsTestProvider) Functions(context.Context) []func() function.Function {
	return []func() function.Function{NewLXCConfigsFunction}
}

// TestLXCConfigsFunctionProtocol calls the function the way Terraform does,
// through the protocol 6 server.
func TestLXCConfigsFunctionProtocol(t *testing.T) {
	server, err := providerserver.NewProtocol6WithError(&lxcConfigsTestProvider{})()
	if err != nil {
		t.Fatal(err)
	}
	fns, err := server.GetFunctions(t.Context(), &tfprotov6.GetFunctionsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	def, ok := fns.Functions["lxc_configs"]
	if !ok {
		t.Fatalf("functions: %v", fns.Functions)
	}
	if len(def.Parameters) != 1 || def.Parameters[0].Name != "json" || !def.Parameters[0].Type.Equal(tftypes.String) {
		t.Errorf("parameters: %+v", def.Parameters)
	}
	retType := def.Return.Type
	if want := (types.MapType{ElemType: lxcConfigsEntryType()}).TerraformType(t.Context()); !retType.Equal(want) {
		t.Errorf("return type %s, want %s", retType, want)
	}

	call := func(doc string) *tfprotov6.CallFunctionResponse {
		arg, err := tfprotov6.NewDynamicValue(tftypes.String, tftypes.NewValue(tftypes.String, doc))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := server.CallFunction(t.Context(), &tfprotov6.CallFunctionRequest{
			Name: "lxc_configs", Arguments: []*tfprotov6.DynamicValue{&arg},
		})
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}

	resp := call(readFile(t, lxcConfigsSmallFixture))
	if resp.Error != nil {
		t.Fatalf("error: %s", resp.Error.Text)
	}
	v, err := resp.Result.Unmarshal(retType)
	if err != nil {
		t.Fatal(err)
	}
	wb, err := json.Marshal(smallFixtureWant())
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, "result through the protocol", tfPlain(t, v), string(wb))

	resp = call(`{"lxc_configs": {"950": {"memory_mb": "2G"}}}`)
	if resp.Error == nil {
		t.Fatal("no error")
	}
	if !strings.HasPrefix(resp.Error.Text, `lxc_configs["950"].memory_mb: expected an integer, got "2G"`) {
		t.Errorf("error text %q", resp.Error.Text)
	}
	if resp.Error.FunctionArgument == nil || *resp.Error.FunctionArgument != 0 {
		t.Errorf("error argument %v", resp.Error.FunctionArgument)
	}
}

// TestAccLXCConfigsFunctionCLI runs the function in Terraform itself.
func TestAccLXCConfigsFunctionCLI(t *testing.T) {
	if os.Getenv("TF_ACC") == "" {
		t.Skip("set TF_ACC=1 to run tests that drive the Terraform CLI")
	}
	if os.Getenv("TF_ACC_TERRAFORM_PATH") == "" {
		if _, err := exec.LookPath("terraform"); err != nil {
			t.Skip("no Terraform CLI: set TF_ACC_TERRAFORM_PATH or put terraform on PATH (never downloaded by this test)")
		}
	}
	fixture, err := filepath.Abs(lxcConfigsSmallFixture)
	if err != nil {
		t.Fatal(err)
	}
	config := fmt.Sprintf(`
locals {
  cts = provider::phoenix::lxc_configs(file(%q))
}

output "hostnames" {
  value = { for id, ct in local.cts : id => ct.hostname }
}

output "docker_hello_world" {
  value = local.cts["201"].docker.health_checks.hello_world
}

output "clone_snapshot" {
  value = local.cts["202"].clone.snapshot
}

output "mount" {
  value = local.cts["201"].features.mount
}

output "unmapped_202" {
  value = local.cts["202"].unmapped
}
`, fixture)
	tfresource.UnitTest(t, tfresource.TestCase{
		TerraformVersionChecks: []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_8_0)},
		ProtoV6ProviderFactories: map[string]func() (tfprotov6.ProviderServer, error){
			"phoenix": providerserver.NewProtocol6WithError(&lxcConfigsTestProvider{}),
		},
		Steps: []tfresource.TestStep{
			{
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownOutputValue("hostnames", knownvalue.MapExact(map[string]knownvalue.Check{
						"200": knownvalue.StringExact("tmpl-base"),
						"201": knownvalue.StringExact("docker-01"),
						"202": knownvalue.StringExact("gpu-01"),
					})),
					statecheck.ExpectKnownOutputValue("docker_hello_world", knownvalue.Bool(false)),
					statecheck.ExpectKnownOutputValue("clone_snapshot", knownvalue.StringExact("golden")),
					statecheck.ExpectKnownOutputValue("mount", knownvalue.SetExact([]knownvalue.Check{
						knownvalue.StringExact("nfs"), knownvalue.StringExact("cifs"),
					})),
					statecheck.ExpectKnownOutputValue("unmapped_202", knownvalue.ListSizeExact(6)),
				},
			},
			{
				Config: `
output "bad" {
  value = provider::phoenix::lxc_configs(jsonencode({ lxc_configs = { "950" = { memory_mb = "2G" } } }))
}
`,
				// Terraform wraps the message: match across line breaks.
				ExpectError: regexp.MustCompile(`lxc_configs\["950"\]\.memory_mb:\s+expected\s+an\s+integer,\s+got\s+"2G"`),
			},
		},
	})
}

func TestLXCConfigsFunctionUnmappedValuesAreJSON(t *testing.T) {
	e := validEntry()
	e["features"] = []any{"docker", "a<b>&\"c\"\t\u00e9"}
	got, ferr := runLXCConfigs(t, docWith(t, map[string]map[string]any{"130": e}))
	if ferr != nil {
		t.Fatal(ferr.Text)
	}
	want := `features[1]: "a<b>&\"c\"\t` + "\u00e9" + `"`
	if !slices.Contains(asSlice(asMap(got["130"])["unmapped"]), any(want)) {
		t.Errorf("unmapped %v does not hold %s", asMap(got["130"])["unmapped"], want)
	}
}

// BenchmarkLXCConfigsFunctionRealFixture measures one call on the shared
// fixture (17 containers), result conversion to Terraform values included.
func BenchmarkLXCConfigsFunctionRealFixture(b *testing.B) {
	doc, err := os.ReadFile(lxcConfigsRealFixture)
	if err != nil {
		b.Fatal(err)
	}
	f := NewLXCConfigsFunction()
	args := function.NewArgumentsData([]attr.Value{types.StringValue(string(doc))})
	for b.Loop() {
		resp := function.RunResponse{Result: function.NewResultData(types.MapUnknown(lxcConfigsEntryType()))}
		f.Run(b.Context(), function.RunRequest{Arguments: args}, &resp)
		if resp.Error != nil {
			b.Fatal(resp.Error.Text)
		}
	}
}
