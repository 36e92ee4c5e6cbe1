package provider

import (
	"context"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

type fakePrivate map[string][]byte

func (p fakePrivate) GetKey(_ context.Context, key string) ([]byte, diag.Diagnostics) {
	return p[key], nil
}

// TestReplaceUnlessImported: a create-time attribute's change replaces the
// container, except for an adopted one (import, moved block) that gains a
// value Proxmox VE cannot report or loses one a move carried over.
func TestReplaceUnlessImported(t *testing.T) {
	ctx := context.Background()
	exists := tftypes.NewValue(tftypes.Object{}, map[string]tftypes.Value{})
	adopted := fakePrivate{importedKey: []byte("true")}
	moved := fakePrivate{importedKey: []byte("true"), movedKey: []byte("true")}
	a, b, null := types.StringValue("local:vztmpl/a.tar.zst"), types.StringValue("local:vztmpl/b.tar.zst"), types.StringNull()
	for _, tc := range []struct {
		name        string
		priv        privateGetter
		state, plan attr.Value
		want        bool
	}{
		{"unchanged", nil, a, a, false},
		{"changed", nil, a, b, true},
		{"set later", nil, null, a, true},
		{"removed", nil, a, null, true},
		{"adopted, named", adopted, null, a, false},
		{"adopted, carried over and removed", adopted, a, null, false},
		{"adopted, changed", adopted, a, b, true},
		// A moved block carried another provider's spelling of a value PVE
		// keeps no record of: no difference in it replaces the container.
		{"moved, spelled otherwise", moved, a, b, false},
		{"moved, removed", moved, a, null, false},
	} {
		if got := (replaceUnlessImported{}).needsReplace(ctx, exists, tc.priv, tc.state, tc.plan); got != tc.want {
			t.Errorf("%s: replace = %v, want %v", tc.name, got, tc.want)
		}
	}
}
