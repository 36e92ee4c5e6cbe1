package provider

import (
	"context"
	"sort"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/pve"
)

// Features as an object value.

var featuresAttrTypes = map[string]attr.Type{
	"nesting": types.BoolType, "keyctl": types.BoolType, "fuse": types.BoolType, "mknod": types.BoolType,
	"mount": types.SetType{ElemType: types.StringType},
}

// featuresValue holds the features with unknowns marked.
type featuresValue struct {
	Nesting, Keyctl, Fuse, Mknod types.Bool
	Mount                        types.Set
}

func readFeatures(obj types.Object) featuresValue {
	var f featuresValue
	f.Nesting, f.Keyctl, f.Fuse, f.Mknod = types.BoolNull(), types.BoolNull(), types.BoolNull(), types.BoolNull()
	f.Mount = types.SetNull(types.StringType)
	if obj.IsNull() || obj.IsUnknown() {
		return f
	}
	attrs := obj.Attributes()
	get := func(name string) types.Bool {
		if v, ok := attrs[name].(types.Bool); ok {
			return v
		}
		return types.BoolNull()
	}
	f.Nesting, f.Keyctl, f.Fuse, f.Mknod = get("nesting"), get("keyctl"), get("fuse"), get("mknod")
	if m, ok := attrs["mount"].(types.Set); ok {
		f.Mount = m
	}
	return f
}

func (f featuresValue) object() (types.Object, diag.Diagnostics) {
	return types.ObjectValue(featuresAttrTypes, map[string]attr.Value{
		"nesting": f.Nesting, "keyctl": f.Keyctl, "fuse": f.Fuse, "mknod": f.Mknod, "mount": f.Mount,
	})
}

// complete replaces nulls by the Proxmox VE default (off).
func (f featuresValue) complete() featuresValue {
	def := func(b types.Bool) types.Bool {
		if b.IsNull() {
			return types.BoolValue(false)
		}
		return b
	}
	f.Nesting, f.Keyctl, f.Fuse, f.Mknod = def(f.Nesting), def(f.Keyctl), def(f.Fuse), def(f.Mknod)
	if f.Mount.IsNull() {
		f.Mount = types.SetValueMust(types.StringType, []attr.Value{})
	}
	return f
}

func (f featuresValue) known() bool {
	return !f.Nesting.IsUnknown() && !f.Keyctl.IsUnknown() && !f.Fuse.IsUnknown() && !f.Mknod.IsUnknown() && !f.Mount.IsUnknown()
}

// pveString renders the features as Proxmox VE writes them.
func (f featuresValue) pveString(ctx context.Context) (string, diag.Diagnostics) {
	var diags diag.Diagnostics
	pf := pve.Features{Nesting: f.Nesting.ValueBool(), Keyctl: f.Keyctl.ValueBool(), Fuse: f.Fuse.ValueBool(), Mknod: f.Mknod.ValueBool()}
	if known(f.Mount) {
		diags.Append(f.Mount.ElementsAs(ctx, &pf.Mount, false)...)
		sort.Strings(pf.Mount)
	}
	return pf.String(), diags
}

// featuresFromPVE maps Proxmox VE's features onto a complete value.
func featuresFromPVE(pf pve.Features) featuresValue {
	mounts := make([]attr.Value, 0, len(pf.Mount))
	for _, m := range pf.Mount {
		mounts = append(mounts, types.StringValue(m))
	}
	return featuresValue{
		Nesting: types.BoolValue(pf.Nesting), Keyctl: types.BoolValue(pf.Keyctl),
		Fuse: types.BoolValue(pf.Fuse), Mknod: types.BoolValue(pf.Mknod),
		Mount: types.SetValueMust(types.StringType, mounts),
	}
}
