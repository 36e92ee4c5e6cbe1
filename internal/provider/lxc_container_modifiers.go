package provider

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
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

// sourceNeedsReplace decides for the create-time attributes.
func sourceNeedsReplace(ctx context.Context, priv privateGetter, stateNull, planNull, equal bool) bool {
	if equal {
		return false
	}
	if stateNull && priv != nil {
		if v, _ := priv.GetKey(ctx, importedKey); len(v) > 0 {
			return false
		}
	}
	return !stateNull || !planNull
}

type replaceWhenSourceChanges struct{}

func (replaceWhenSourceChanges) Description(context.Context) string {
	return "replaces the container when the template changes (not when an imported container gains one)"
}

func (m replaceWhenSourceChanges) MarkdownDescription(ctx context.Context) string {
	return m.Description(ctx)
}

func (replaceWhenSourceChanges) PlanModifyString(ctx context.Context, req planmodifier.StringRequest, resp *planmodifier.StringResponse) {
	if req.State.Raw.IsNull() || req.PlanValue.IsUnknown() {
		return
	}
	resp.RequiresReplace = sourceNeedsReplace(ctx, req.Private, req.StateValue.IsNull(), req.PlanValue.IsNull(), req.StateValue.Equal(req.PlanValue))
}

type replaceObjectWhenSourceChanges struct{}

func (replaceObjectWhenSourceChanges) Description(context.Context) string {
	return "replaces the container when the clone source changes (not when an imported container gains one)"
}

func (m replaceObjectWhenSourceChanges) MarkdownDescription(ctx context.Context) string {
	return m.Description(ctx)
}

func (replaceObjectWhenSourceChanges) PlanModifyObject(ctx context.Context, req planmodifier.ObjectRequest, resp *planmodifier.ObjectResponse) {
	if req.State.Raw.IsNull() || req.PlanValue.IsUnknown() {
		return
	}
	resp.RequiresReplace = sourceNeedsReplace(ctx, req.Private, req.StateValue.IsNull(), req.PlanValue.IsNull(), req.StateValue.Equal(req.PlanValue))
}

type replaceListUnlessImported struct{}

func (replaceListUnlessImported) Description(context.Context) string {
	return "replaces the container when the keys change (not when an imported container gains them)"
}

func (m replaceListUnlessImported) MarkdownDescription(ctx context.Context) string {
	return m.Description(ctx)
}

func (replaceListUnlessImported) PlanModifyList(ctx context.Context, req planmodifier.ListRequest, resp *planmodifier.ListResponse) {
	if req.State.Raw.IsNull() || req.PlanValue.IsUnknown() {
		return
	}
	resp.RequiresReplace = sourceNeedsReplace(ctx, req.Private, req.StateValue.IsNull(), req.PlanValue.IsNull(), req.StateValue.Equal(req.PlanValue))
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
