package provider

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
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
	server   tfprotov6.ProviderServer
	typ      tftypes.Type
	raw      *tfprotov6.RawState
	private  []byte
	config   *tfprotov6.DynamicValue
	schemaV  int64
	resource string
}

func newPlanBench(tb testing.TB) *planBench {
	tb.Helper()
	ctx := context.Background()
	server, err := providerserver.NewProtocol6WithError(New("bench")())()
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
		server: server, typ: typ, raw: &tfprotov6.RawState{JSON: st.Attributes}, private: private,
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
	prior, err := tftypes.ValueFromJSONWithOpts(pb.raw.JSON, pb.typ, tftypes.ValueFromJSONOpts{IgnoreUndefinedAttributes: true})
	if err != nil {
		t.Fatal(err)
	}
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

// BenchmarkStateRoundTrip is the framework's part of a Read: the state into
// the model and back (tfsdk.State Get and Set, reflection over the model).
func BenchmarkStateRoundTrip(b *testing.B) {
	pb := newPlanBench(b)
	ctx := context.Background()
	sch := lxcContainerSchema(ctx)
	v, err := tftypes.ValueFromJSONWithOpts(pb.raw.JSON, pb.typ, tftypes.ValueFromJSONOpts{IgnoreUndefinedAttributes: true})
	if err != nil {
		b.Fatal(err)
	}
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
