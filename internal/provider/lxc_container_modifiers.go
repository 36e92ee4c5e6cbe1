package provider

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

// A container's source (template or clone) and its create-time keys cannot
// be read back from Proxmox VE. After an import they are null in state, and
// setting them in configuration then must not replace the adopted container
// (import marks it in private state). Any other change, null to a value
// included, replaces it: Proxmox VE cannot apply it in place.

// importedKey marks, in a resource's private state, a container adopted by
// import.
const importedKey = "imported"

type privateGetter interface {
	GetKey(ctx context.Context, key string) ([]byte, diag.Diagnostics)
}

// replaceUnlessImported is the plan modifier of the create-time attributes
// (template, clone, ssh_public_keys): any change replaces the container,
// except when an imported container gains a value it could not read back.
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
	return "replaces the container when " + m.what + " (not when an imported container gains a value)"
}

func (m replaceUnlessImported) MarkdownDescription(ctx context.Context) string {
	return m.Description(ctx)
}

// needsReplace decides for one attribute's prior and planned value.
func (replaceUnlessImported) needsReplace(ctx context.Context, stateRaw tftypes.Value, priv privateGetter, state, plan attr.Value) bool {
	if stateRaw.IsNull() || plan.IsUnknown() || state.Equal(plan) {
		return false
	}
	if state.IsNull() && priv != nil {
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

// ipConfigValidator accepts an address in CIDR form of one family, or the
// keywords Proxmox VE knows for it.
type ipConfigValidator struct{ v6 bool }

func (v ipConfigValidator) Description(context.Context) string {
	if v.v6 {
		return "an IPv6 address in CIDR form, auto, dhcp or manual"
	}
	return "an IPv4 address in CIDR form, dhcp or manual"
}

func (v ipConfigValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (v ipConfigValidator) ValidateString(ctx context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	s := req.ConfigValue.ValueString()
	switch s {
	case "dhcp", "manual":
		return
	case "auto":
		if v.v6 {
			return
		}
	}
	if err := checkCIDR(s, v.v6); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid IP configuration",
			fmt.Sprintf("%q must be %s: %s.", s, v.Description(ctx), err))
	}
}

func checkCIDR(s string, v6 bool) error {
	if !strings.Contains(s, "/") {
		return fmt.Errorf("the prefix length is missing (e.g. /24)")
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return fmt.Errorf("not an address with prefix length")
	}
	if p.Addr().Is6() != v6 || p.Addr().Is4In6() {
		if v6 {
			return fmt.Errorf("not an IPv6 address")
		}
		return fmt.Errorf("not an IPv4 address")
	}
	return nil
}

// ipAddrValidator accepts a plain address of one family.
type ipAddrValidator struct{ v6 bool }

func (v ipAddrValidator) Description(context.Context) string {
	if v.v6 {
		return "an IPv6 address"
	}
	return "an IPv4 address"
}

func (v ipAddrValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (v ipAddrValidator) ValidateString(ctx context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	s := req.ConfigValue.ValueString()
	a, err := netip.ParseAddr(s)
	if err != nil || a.Is6() != v.v6 || a.Zone() != "" {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid gateway", fmt.Sprintf("%q must be %s.", s, v.Description(ctx)))
	}
}
