package provider

import (
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

var identityType = tftypes.Object{AttributeTypes: map[string]tftypes.Type{"node_name": tftypes.String, "vmid": tftypes.Number}}

func identityValue(t *testing.T, node any, vmid int) *tfprotov6.ResourceIdentityData {
	t.Helper()
	dv, err := tfprotov6.NewDynamicValue(identityType, tftypes.NewValue(identityType, map[string]tftypes.Value{
		"node_name": tftypes.NewValue(tftypes.String, node), "vmid": tftypes.NewValue(tftypes.Number, vmid),
	}))
	if err != nil {
		t.Fatal(err)
	}
	return &tfprotov6.ResourceIdentityData{IdentityData: &dv}
}

func decodeIdentity(t *testing.T, id *tfprotov6.ResourceIdentityData) string {
	t.Helper()
	if id == nil || id.IdentityData == nil {
		return "<none>"
	}
	v, err := id.IdentityData.Unmarshal(identityType)
	if err != nil {
		t.Fatal(err)
	}
	return v.String()
}

// TestImportByIdentity imports through an import block's identity, as
// Terraform 1.12 and newer send it: the state and the identity name the
// container; an identity that names none is refused at its attribute.
func TestImportByIdentity(t *testing.T) {
	ctx := context.Background()
	srv, schemaResp := protocolServer(t)
	schemas, err := srv.GetResourceIdentitySchemas(ctx, &tfprotov6.GetResourceIdentitySchemasRequest{})
	if err != nil {
		t.Fatal(err)
	}
	is := schemas.IdentitySchemas["phoenix_lxc_container"]
	if is == nil || len(is.IdentityAttributes) != 2 {
		t.Fatalf("identity schema = %+v", is)
	}
	resp, err := srv.ImportResourceState(ctx, &tfprotov6.ImportResourceStateRequest{
		TypeName: "phoenix_lxc_container", Identity: identityValue(t, "pve1", 4305),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range resp.Diagnostics {
		t.Errorf("%s: %s", d.Summary, d.Detail)
	}
	if len(resp.ImportedResources) != 1 {
		t.Fatalf("imported %d resources", len(resp.ImportedResources))
	}
	got := resp.ImportedResources[0]
	v, err := got.State.Unmarshal(schemaResp.ResourceSchemas["phoenix_lxc_container"].ValueType())
	if err != nil {
		t.Fatal(err)
	}
	attrs := map[string]tftypes.Value{}
	if err := v.As(&attrs); err != nil {
		t.Fatal(err)
	}
	if id := strOf(t, attrs["id"]); id != "pve1/4305" {
		t.Errorf("id = %q", id)
	}
	if s := decodeIdentity(t, got.Identity); !strings.Contains(s, `"node_name":tftypes.String<"pve1">`) || !strings.Contains(s, `"vmid":tftypes.Number<"4305">`) {
		t.Errorf("identity = %s", s)
	}

	resp, err = srv.ImportResourceState(ctx, &tfprotov6.ImportResourceStateRequest{
		TypeName: "phoenix_lxc_container", Identity: identityValue(t, "pve1", 42),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Diagnostics) != 1 || resp.Diagnostics[0].Attribute.String() != "AttributeName(\"vmid\")" {
		t.Errorf("diagnostics = %+v", resp.Diagnostics)
	}
}

// TestMoveStateSetsIdentity: a moved block leaves the identity set.
func TestMoveStateSetsIdentity(t *testing.T) {
	srv, _ := protocolServer(t)
	resp, err := srv.MoveResourceState(context.Background(), &tfprotov6.MoveResourceStateRequest{
		SourceProviderAddress: "registry.terraform.io/telmate/proxmox", SourceTypeName: "proxmox_lxc",
		SourceState: &tfprotov6.RawState{JSON: []byte(telmateState)}, TargetTypeName: "phoenix_lxc_container",
	})
	if err != nil {
		t.Fatal(err)
	}
	if s := decodeIdentity(t, resp.TargetIdentity); !strings.Contains(s, `"vmid":tftypes.Number<"4302">`) {
		t.Errorf("identity = %s", s)
	}
}
