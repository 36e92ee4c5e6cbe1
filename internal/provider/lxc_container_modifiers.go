package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

// A container's source (template or clone) and its create-time keys cannot
// be read back from Proxmox VE. After an import they are null in state, and
// setting them in configuration then must not replace the adopted container
// (import, and a moved block from another provider, mark it in private
// state); neither does leaving out a value a moved block carried over. Any
// other change, null to a value included, replaces it: Proxmox VE cannot
// apply it in place.

// importedKey marks, in a resource's private state, a container adopted by
// import.
const importedKey = "imported"

// movedKey marks a container whose state a moved block converted from
// another provider's: its template, clone and SSH keys are that provider's
// spelling of values Proxmox VE keeps no record of, so no difference in
// them can be shown to be real, and none replaces the container.
const movedKey = "moved"

type privateGetter interface {
	GetKey(ctx context.Context, key string) ([]byte, diag.Diagnostics)
}

// replaceUnlessImported is the plan modifier of the create-time attributes
// (template, clone, ssh_public_keys): any change replaces the container,
// except when an adopted container gains a value it could not read back or
// loses one.
// One type serves strings, objects and lists.
type replaceUnlessImported struct {
	// what says what changed, for the description.
	what string
}

var (
	_ planmodifier.String = replaceUnlessImported{}
	_ planmodifier.Object = replaceUnlessImported{}
	_ planmodifier.List   = replaceUnlessImported{}
)

func (m replaceUnlessImported) Description(context.Context) string {
	return "replaces the container when " + m.what + " (not when an adopted container gains or loses a value)"
}

func (m replaceUnlessImported) MarkdownDescription(ctx context.Context) string {
	return m.Description(ctx)
}

// needsReplace decides for one attribute's prior and planned value.
func (replaceUnlessImported) needsReplace(ctx context.Context, stateRaw tftypes.Value, priv privateGetter, state, plan attr.Value) bool {
	if stateRaw.IsNull() || plan.IsUnknown() || state.Equal(plan) {
		return false
	}
	if priv != nil {
		if v, _ := priv.GetKey(ctx, movedKey); len(v) > 0 {
			return false
		}
	}
	if (state.IsNull() || plan.IsNull()) && priv != nil {
		if v, _ := priv.GetKey(ctx, importedKey); len(v) > 0 {
			return false
		}
	}
	return !state.IsNull() || !plan.IsNull()
}

func (m replaceUnlessImported) PlanModifyString(ctx context.Context, req planmodifier.StringRequest, resp *planmodifier.StringResponse) {
	resp.RequiresReplace = m.needsReplace(ctx, req.State.Raw, req.Private, req.StateValue, req.PlanValue)
}

func (m replaceUnlessImported) PlanModifyObject(ctx context.Context, req planmodifier.ObjectRequest, resp *planmodifier.ObjectResponse) {
	resp.RequiresReplace = m.needsReplace(ctx, req.State.Raw, req.Private, req.StateValue, req.PlanValue)
}

func (m replaceUnlessImported) PlanModifyList(ctx context.Context, req planmodifier.ListRequest, resp *planmodifier.ListResponse) {
	resp.RequiresReplace = m.needsReplace(ctx, req.State.Raw, req.Private, req.StateValue, req.PlanValue)
}
