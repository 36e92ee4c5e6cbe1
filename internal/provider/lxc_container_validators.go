package provider

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"golang.org/x/crypto/ssh"
)

// Validators of phoenix_lxc_container values that Proxmox VE would refuse
// (or accept and then fail to start with), so that they fail at plan time
// instead of at the API.

// nameserverSeparators are the separators Proxmox VE's
// lxc-ip-with-ll-iface-list format splits on.
var nameserverSeparators = regexp.MustCompile(`[\s,;]+`)

// checkNameservers accepts IP addresses separated by spaces, commas or
// semicolons; an IPv6 link-local address may name its interface
// (fe80::1%eth0).
func checkNameservers(s string) error {
	items := nameserverSeparators.Split(strings.TrimSpace(s), -1)
	if len(items) == 0 || items[0] == "" {
		return errors.New("no address given")
	}
	for _, item := range items {
		a, err := netip.ParseAddr(item)
		if err != nil {
			return fmt.Errorf("%q is not an IP address (name servers are given by address, not by name)", item)
		}
		if a.Zone() != "" && !a.IsLinkLocalUnicast() {
			return fmt.Errorf("%q names an interface, which only an IPv6 link-local address may do", item)
		}
	}
	return nil
}

// checkPublicKey accepts exactly one OpenSSH authorized_keys line whose key
// parses, as Proxmox VE checks each key with ssh-keygen.
func checkPublicKey(s string) error {
	if strings.ContainsAny(strings.TrimRight(s, "\n"), "\r\n") {
		return errors.New("one list element holds one key: put each key in its own element")
	}
	_, _, options, rest, err := ssh.ParseAuthorizedKey([]byte(s))
	switch {
	case err != nil:
		return errors.New("not an OpenSSH public key line such as \"ssh-ed25519 AAAA... user@host\": the key type or its base64 data is not valid")
	case len(options) > 0:
		return errors.New("authorized_keys options are not accepted by Proxmox VE: give the key line alone")
	case len(strings.TrimSpace(string(rest))) > 0:
		return errors.New("one list element holds one key: put each key in its own element")
	}
	return nil
}

// gatewayNeedsAddress refuses a gateway next to no static address of its
// family in the same network block.
type gatewayNeedsAddress struct {
	// addr is the sibling attribute holding the address, e.g. "ip6".
	addr string
}

func (v gatewayNeedsAddress) Description(context.Context) string {
	return "needs " + v.addr + " set to an address in CIDR form"
}

func (v gatewayNeedsAddress) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (v gatewayNeedsAddress) ValidateString(ctx context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if !known(req.ConfigValue) {
		return
	}
	var addr types.String
	if d := req.Config.GetAttribute(ctx, req.Path.ParentPath().AtName(v.addr), &addr); d.HasError() || addr.IsUnknown() {
		return
	}
	gw := req.Path.Steps()[len(req.Path.Steps())-1]
	switch {
	case addr.IsNull():
		resp.Diagnostics.AddAttributeError(req.Path, "Gateway without address",
			fmt.Sprintf("Attribute %s: %s needs %s set to an address in CIDR form.", req.Path, gw, v.addr))
	case !strings.Contains(addr.ValueString(), "/"):
		resp.Diagnostics.AddAttributeError(req.Path, "Gateway with "+addr.ValueString(),
			fmt.Sprintf("Attribute %s: %s only applies to a static %s in CIDR form, not %q.", req.Path, gw, v.addr, addr.ValueString()))
	}
}

// linkedCloneStorage refuses a target storage for a linked clone, which
// Proxmox VE rejects ("parameter 'storage' not allowed for linked clones").
type linkedCloneStorage struct{}

func (linkedCloneStorage) Description(context.Context) string {
	return "only applies to a full clone"
}

func (v linkedCloneStorage) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (linkedCloneStorage) ValidateString(ctx context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if !known(req.ConfigValue) {
		return
	}
	var full types.Bool
	if d := req.Config.GetAttribute(ctx, req.Path.ParentPath().AtName("full"), &full); d.HasError() || !known(full) {
		return
	}
	if !full.ValueBool() {
		resp.Diagnostics.AddAttributeError(req.Path, "Storage of a linked clone",
			fmt.Sprintf("Attribute %s: a linked clone (full = false) shares its source's volumes and stays on their storage; "+
				"Proxmox VE refuses a target storage for it. Remove storage, or set full = true for a copy on %s.", req.Path, req.ConfigValue.ValueString()))
	}
}
