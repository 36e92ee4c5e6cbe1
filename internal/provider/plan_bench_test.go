package provider

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

// planBenchState is one container of the bench's fleet as Terraform keeps it
// (make bench, a clone with a docker block): the attributes JSON, the schema
// version and the private data.
const planBenchState = "testdata/plan_bench_state.json"

// planBenchConfig are the attributes the bench's configuration sets
// (internal/bench FleetHCL), as paths of attribute names; every other
// attribute is null in the configuration.
var planBenchConfig = map[string]bool{
	"node_name": true, "vmid": true, "hostname": true, "template": true, "started": true,
	"rootfs.storage": true, "rootfs.size": true,
	"network.name": true, "network.bridge": true, "network.ip": true, "network.gw": true,
	"docker.verify_on_refresh": true,
}

// planBench is what one container's plan sends the provider, decoded once.
type planBench struct {
	server tfprotov6.ProviderServer
	typ    tftypes.Type
	raw    *tfprotov6.RawState
	// state is raw decoded.
	state    tftypes.Value
	private  []byte
	config   *tfprotov6.DynamicValue
	schemaV  int64
	resource string
}

func newPlanBench(tb testing.TB) *planBench {
	tb.Helper()
	return newPlanBenchOf(tb, New("bench")())
}

func newPlanBenchOf(tb testing.TB, p provider.Provider) *planBench {
	tb.Helper()
	ctx := context.Background()
	server, err := providerserver.NewProtocol6WithError(p)()
	if err != nil {
		tb.Fatal(err)
	}
	schemas, err := server.GetProviderSchema(ctx, &tfprotov6.GetProviderSchemaRequest{})
	if err != nil || len(schemas.Diagnostics) > 0 {
		tb.Fatalf("GetProviderSchema: %v %v", err, schemas.Diagnostics)
	}
	const name = "phoenix_lxc_container"
	rs := schemas.ResourceSchemas[name]
	typ := rs.ValueType()

	// The provider: endpoint and token; Configure does not reach the API.
	pv := map[string]tftypes.Value{
		"endpoint":  tftypes.NewValue(tftypes.String, "https://pve.example:8006/"),
		"api_token": tftypes.NewValue(tftypes.String, "terraform@pve!tf=00000000-0000-0000-0000-000000000000"),
	}
	pcfg := fillBlock(schemas.Provider.Block, func(name string) (tftypes.Value, bool) { v, ok := pv[name]; return v, ok })
	dv, err := tfprotov6.NewDynamicValue(schemas.Provider.ValueType(), pcfg)
	if err != nil {
		tb.Fatal(err)
	}
	cr, err := server.ConfigureProvider(ctx, &tfprotov6.ConfigureProviderRequest{TerraformVersion: "1.11.4", Config: &dv})
	if err != nil || hasErrors(cr.Diagnostics) {
		tb.Fatalf("ConfigureProvider: %v %v", err, cr.Diagnostics)
	}

	b, err := os.ReadFile(planBenchState)
	if err != nil {
		tb.Fatal(err)
	}
	var st struct {
		SchemaVersion int64           `json:"schema_version"`
		Private       string          `json:"private"`
		Attributes    json.RawMessage `json:"attributes"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		tb.Fatal(err)
	}
	private, err := base64.StdEncoding.DecodeString(st.Private)
	if err != nil {
		tb.Fatal(err)
	}
	state, err := tftypes.ValueFromJSONWithOpts(st.Attributes, typ, tftypes.ValueFromJSONOpts{IgnoreUndefinedAttributes: true})
	if err != nil {
		tb.Fatal(err)
	}
	config, err := tftypes.Transform(state, func(p *tftypes.AttributePath, v tftypes.Value) (tftypes.Value, error) {
		steps := p.Steps()
		if len(steps) == 0 {
			return v, nil
		}
		if _, ok := steps[len(steps)-1].(tftypes.AttributeName); !ok {
			return v, nil
		}
		var names []string
		for _, s := range steps {
			if n, ok := s.(tftypes.AttributeName); ok {
				names = append(names, string(n))
			}
		}
		key := strings.Join(names, ".")
		if planBenchConfig[key] || isBlockPath(rs.Block, names) {
			return v, nil
		}
		return tftypes.NewValue(v.Type(), nil), nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	cv, err := tfprotov6.NewDynamicValue(typ, config)
	if err != nil {
		tb.Fatal(err)
	}
	return &planBench{
		server: server, typ: typ, raw: &tfprotov6.RawState{JSON: st.Attributes}, state: state, private: private,
		config: &cv, schemaV: st.SchemaVersion, resource: name,
	}
}

// fillBlock is the value of a schema block whose attributes are those set
// returns, the others null, nested blocks empty.
func fillBlock(b *tfprotov6.SchemaBlock, set func(string) (tftypes.Value, bool)) tftypes.Value {
	vals := map[string]tftypes.Value{}
	for _, a := range b.Attributes {
		if v, ok := set(a.Name); ok {
			vals[a.Name] = v
			continue
		}
		vals[a.Name] = tftypes.NewValue(a.ValueType(), nil)
	}
	for _, nb := range b.BlockTypes {
		t := nb.ValueType()
		switch nb.Nesting {
		case tfprotov6.SchemaNestedBlockNestingModeList, tfprotov6.SchemaNestedBlockNestingModeSet:
			vals[nb.TypeName] = tftypes.NewValue(t, []tftypes.Value{})
		default:
			vals[nb.TypeName] = tftypes.NewValue(t, nil)
		}
	}
	return tftypes.NewValue(b.ValueType(), vals)
}

// isBlockPath tells whether the attribute names lead to a nested block,
// which a configuration holds as an (empty) list or a null object and
// never drops.
func isBlockPath(b *tfprotov6.SchemaBlock, names []string) bool {
	for i, n := range names {
		var next *tfprotov6.SchemaBlock
		for _, nb := range b.BlockTypes {
			if nb.TypeName == n {
				next = nb.Block
			}
		}
		if next == nil {
			return false
		}
		if i == len(names)-1 {
			return true
		}
		b = next
	}
	return false
}

func hasErrors(diags []*tfprotov6.Diagnostic) bool {
	for _, d := range diags {
		if d.Severity == tfprotov6.DiagnosticSeverityError {
			return true
		}
	}
	return false
}

// planOne is what Terraform asks of the provider for one unchanged
// container in a plan, Read (which needs the API) aside: validate the
// configuration, upgrade the stored state, plan.
func (pb *planBench) planOne(tb testing.TB) *tfprotov6.PlanResourceChangeResponse {
	ctx := context.Background()
	vr, err := pb.server.ValidateResourceConfig(ctx, &tfprotov6.ValidateResourceConfigRequest{TypeName: pb.resource, Config: pb.config})
	if err != nil || hasErrors(vr.Diagnostics) {
		tb.Fatalf("ValidateResourceConfig: %v %v", err, vr.Diagnostics)
	}
	ur, err := pb.server.UpgradeResourceState(ctx, &tfprotov6.UpgradeResourceStateRequest{TypeName: pb.resource, Version: pb.schemaV, RawState: pb.raw})
	if err != nil || hasErrors(ur.Diagnostics) {
		tb.Fatalf("UpgradeResourceState: %v %v", err, ur.Diagnostics)
	}
	pr, err := pb.server.PlanResourceChange(ctx, &tfprotov6.PlanResourceChangeRequest{
		TypeName: pb.resource, PriorState: ur.UpgradedState, ProposedNewState: ur.UpgradedState,
		Config: pb.config, PriorPrivate: pb.private,
	})
	if err != nil || hasErrors(pr.Diagnostics) {
		tb.Fatalf("PlanResourceChange: %v %v", err, pr.Diagnostics)
	}
	return pr
}

// TestPlanBenchUnchanged checks the benchmark's premise: the plan of the
// unchanged container is its state, with no replacement and no warning.
func TestPlanBenchUnchanged(t *testing.T) {
	pb := newPlanBench(t)
	pr := pb.planOne(t)
	if len(pr.Diagnostics) > 0 {
		t.Errorf("diagnostics: %v", pr.Diagnostics)
	}
	if len(pr.RequiresReplace) > 0 {
		t.Errorf("requires replace: %v", pr.RequiresReplace)
	}
	planned, err := pr.PlannedState.Unmarshal(pb.typ)
	if err != nil {
		t.Fatal(err)
	}
	prior := pb.state
	if diff, _ := prior.Diff(planned); len(diff) > 0 {
		for _, d := range diff {
			t.Errorf("planned differs from state at %s: %v -> %v", d.Path, d.Value1, d.Value2)
		}
	}
}

// BenchmarkPlanContainer is the provider's CPU per container of a plan of
// an unchanged fleet, Read aside: ValidateResourceConfig,
// UpgradeResourceState and PlanResourceChange through the protocol server
// (the framework's conversions included). The figure times 100 is the
// provider's share of a plan of 100 containers beyond the reads.
func BenchmarkPlanContainer(b *testing.B) {
	pb := newPlanBench(b)
	b.ReportAllocs()
	for b.Loop() {
		pb.planOne(b)
	}
}

// BenchmarkPlanContainerSchemaOnly is BenchmarkPlanContainer with the
// resource's schema (its validators, defaults and plan modifiers) but none
// of its own code: no ValidateConfig, no ModifyPlan. It is the framework's
// part of the figure above, which the provider cannot lower short of a
// smaller schema.
func BenchmarkPlanContainerSchemaOnly(b *testing.B) {
	p, ok := New("bench")().(*PhoenixProvider)
	if !ok {
		b.Fatal("New does not return a *PhoenixProvider")
	}
	pb := newPlanBenchOf(b, schemaOnlyProvider{p})
	b.ReportAllocs()
	for b.Loop() {
		pb.planOne(b)
	}
}

// schemaOnlyProvider serves the container schema through schemaOnlyResource.
type schemaOnlyProvider struct{ *PhoenixProvider }

func (schemaOnlyProvider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{func() resource.Resource { return schemaOnlyResource{} }}
}

// schemaOnlyResource has the container's schema and identity and no logic.
type schemaOnlyResource struct{}

func (schemaOnlyResource) Metadata(ctx context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	(&lxcContainerResource{}).Metadata(ctx, req, resp)
}

func (schemaOnlyResource) Schema(ctx context.Context, req resource.SchemaRequest, resp *resource.SchemaResponse) {
	(&lxcContainerResource{}).Schema(ctx, req, resp)
}

func (schemaOnlyResource) IdentitySchema(ctx context.Context, req resource.IdentitySchemaRequest, resp *resource.IdentitySchemaResponse) {
	(&lxcContainerResource{}).IdentitySchema(ctx, req, resp)
}

func (schemaOnlyResource) Create(context.Context, resource.CreateRequest, *resource.CreateResponse) {}
func (schemaOnlyResource) Read(context.Context, resource.ReadRequest, *resource.ReadResponse)       {}
func (schemaOnlyResource) Update(context.Context, resource.UpdateRequest, *resource.UpdateResponse) {}
func (schemaOnlyResource) Delete(context.Context, resource.DeleteRequest, *resource.DeleteResponse) {}

// BenchmarkStateRoundTrip is the framework's part of a Read: the state into
// the model and back (tfsdk.State Get and Set, reflection over the model).
func BenchmarkStateRoundTrip(b *testing.B) {
	pb := newPlanBench(b)
	ctx := context.Background()
	sch := lxcContainerSchema(ctx)
	v := pb.state
	b.ReportAllocs()
	for b.Loop() {
		st := tfsdk.State{Schema: sch, Raw: v}
		var m lxcContainerModel
		if d := st.Get(ctx, &m); d.HasError() {
			b.Fatal(d)
		}
		out := tfsdk.State{Schema: sch, Raw: tftypes.NewValue(pb.typ, nil)}
		if d := out.Set(ctx, &m); d.HasError() {
			b.Fatal(d)
		}
	}
}

// TestModelCodecMatchesFramework checks the model codec against the
// framework's Get and Set: the same model from the bench container's
// state, from a state with the optional blocks null, and the same
// Terraform value back; an unknown block falls back to the framework.
func TestModelCodecMatchesFramework(t *testing.T) {
	pb := newPlanBench(t)
	ctx := context.Background()
	sch := lxcContainerSchema(ctx)
	full := pb.state
	var cfg tfsdk.Config
	cfgVal, err := pb.config.Unmarshal(pb.typ)
	if err != nil {
		t.Fatal(err)
	}
	cfg = tfsdk.Config{Schema: sch, Raw: cfgVal}
	bare, err := tftypes.Transform(full, func(p *tftypes.AttributePath, v tftypes.Value) (tftypes.Value, error) {
		if len(p.Steps()) == 1 && (p.Equal(tftypes.NewAttributePath().WithAttributeName("docker")) ||
			p.Equal(tftypes.NewAttributePath().WithAttributeName("rootfs"))) {
			return tftypes.NewValue(v.Type(), nil), nil
		}
		return v, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]tftypes.Value{"state": full, "config": cfg.Raw, "no docker or rootfs": bare} {
		st := tfsdk.State{Schema: sch, Raw: v}
		var want, got lxcContainerModel
		if d := st.Get(ctx, &want); d.HasError() {
			t.Fatalf("%s: framework Get: %v", name, d)
		}
		if err := decodeObject(ctx, containerType(), v, reflect.ValueOf(&got).Elem()); err != nil {
			t.Fatalf("%s: decode: %v", name, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: codec model differs from the framework's:\n got %+v\nwant %+v", name, got, want)
		}
		enc, err := encodeObject(ctx, containerType(), reflect.ValueOf(&want).Elem())
		if err != nil {
			t.Fatalf("%s: encode: %v", name, err)
		}
		out := tfsdk.State{Schema: sch, Raw: tftypes.NewValue(pb.typ, nil)}
		if d := out.Set(ctx, &want); d.HasError() {
			t.Fatalf("%s: framework Set: %v", name, d)
		}
		if !enc.Equal(out.Raw) {
			t.Errorf("%s: codec value differs from the framework's Set", name)
		}
		if !enc.Equal(v) {
			t.Errorf("%s: the value does not survive a round trip", name)
		}
	}

	// An unknown block: the codec gives up and the framework's Get reports
	// its error.
	unknownDocker, err := tftypes.Transform(full, func(p *tftypes.AttributePath, v tftypes.Value) (tftypes.Value, error) {
		if p.Equal(tftypes.NewAttributePath().WithAttributeName("docker")) {
			return tftypes.NewValue(v.Type(), tftypes.UnknownValue), nil
		}
		return v, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var m lxcContainerModel
	st := tfsdk.State{Schema: sch, Raw: unknownDocker}
	if err := decodeObject(ctx, containerType(), unknownDocker, reflect.ValueOf(&m).Elem()); err == nil {
		t.Error("decode of an unknown docker block: no error")
	}
	d := getContainer(ctx, unknownDocker, &m, st.Get)
	want := st.Get(ctx, &lxcContainerModel{})
	if !d.HasError() || !d.Equal(want) {
		t.Errorf("getContainer with an unknown block: %v, want the framework's %v", d, want)
	}

	// List elements decode like ElementsAs.
	var sm lxcContainerModel
	if d := (tfsdk.State{Schema: sch, Raw: full}).Get(ctx, &sm); d.HasError() {
		t.Fatal(d)
	}
	nets, d := listElements[networkModel](ctx, sm.Network)
	var wantNets []networkModel
	d.Append(sm.Network.ElementsAs(ctx, &wantNets, false)...)
	if d.HasError() || len(nets) != 1 || !reflect.DeepEqual(nets, wantNets) {
		t.Errorf("listElements: %+v %v, want %+v", nets, d, wantNets)
	}
}

// BenchmarkModelCodecRoundTrip is BenchmarkStateRoundTrip through the
// provider's model codec.
func BenchmarkModelCodecRoundTrip(b *testing.B) {
	pb := newPlanBench(b)
	ctx := context.Background()
	v := pb.state
	b.ReportAllocs()
	for b.Loop() {
		var m lxcContainerModel
		if err := decodeObject(ctx, containerType(), v, reflect.ValueOf(&m).Elem()); err != nil {
			b.Fatal(err)
		}
		if _, err := encodeObject(ctx, containerType(), reflect.ValueOf(&m).Elem()); err != nil {
			b.Fatal(err)
		}
	}
}
