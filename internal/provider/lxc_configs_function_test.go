package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
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

// The documents the conversion is tested on live with internal/phoenixcfg,
// which pins the whole result for each in a golden file; the tests here
// check what the function adds: the framework values and types.
const (
	lxcConfigsSmallFixture = "../phoenixcfg/testdata/phoenix_lxc_configs_small.json"
	lxcConfigsRealFixture  = "../../testdata/phoenix/phoenix_lxc_configs.json"
)

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

// smallFixtureWant is the exact result for phoenix_lxc_configs_small.json,
// every attribute of the function's type included.
func smallFixtureWant() map[string]any {
	dockerDefaults := func(helloWorld bool) map[string]any {
		return map[string]any{
			"package_source": "docker-ce", "version": nil, "compose": true, "storage_driver": "overlay2",
			"daemon_json": nil, "verify_on_refresh": nil,
			"health_checks": map[string]any{"hello_world": helloWorld, "hello_world_image": "hello-world", "network_image": "busybox", "network_target": "1.1.1.1"},
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
			// id_maps' one exception, completed with PVE's default offset.
			"id_map": []any{
				map[string]any{"kind": "uid", "container_id": 0, "host_id": 100000, "size": 65536},
				map[string]any{"kind": "gid", "container_id": 0, "host_id": 100000, "size": 33},
				map[string]any{"kind": "gid", "container_id": 33, "host_id": 33, "size": 1},
				map[string]any{"kind": "gid", "container_id": 34, "host_id": 100034, "size": 65502},
			},
			"docker": dockerDefaults(false),
			"unmapped": []any{
				`gpu_assignment: "none"`,
				`portainer_role: "agent"`,
				`features[1]: "portainer"`,
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
			"device": []any{
				gpuDevice(0, "/dev/nvidia0"), gpuDevice(1, "/dev/nvidia1"), gpuDevice(2, "/dev/nvidiactl"),
				gpuDevice(3, "/dev/nvidia-uvm"), gpuDevice(4, "/dev/nvidia-uvm-tools"),
			},
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
// asMap, asSlice and asString read decoded JSON; a value of another type
// gives the zero value, which the comparisons then report.
// realFixture returns the shared phoenix_lxc_configs.json, or skips.
// realFixtureDockerCTs are the containers the fixture's README names as the
// Docker ones; each is checked field by field.
// checkFieldByField derives each expected argument from the container's
// JSON fields and compares it with the result.
// checkEveryFieldAccounted walks every leaf of a container's JSON and checks
// that it is mapped onto an argument or listed in unmapped with its value,
// and that unmapped lists nothing that is mapped or absent.
// leafIsMapped says, independently of the implementation, which leaves of a
// container reach a resource argument.
// jsonLeaves lists the scalar leaves of a decoded JSON value by path
// ("a.b[2].c"); empty objects and arrays have none.
// jsonAt returns the value at a path such as "tests.health_checks[2]".
// TestLXCConfigsFunctionRealFixtureExact pins two containers of the real
// fixture completely, unmapped entries included.
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

// gpuDevice is a device entry of gpu_assignment's mapping.
func gpuDevice(slot int, path string) map[string]any {
	return map[string]any{"slot": slot, "path": path, "mode": nil, "uid": nil, "gid": nil, "deny_write": nil}
}
