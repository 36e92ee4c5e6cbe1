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
	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/pve"
	"golang.org/x/crypto/ssh"
)

// Validators: every check of a provider or resource value, in one place.
// Most are plain functions adapted by stringCheck, so that the same code
// checks a value wherever it comes from.

// stringCheck adapts a plain check function to a string validator; null and
// unknown values are left alone.
type stringCheck struct {
	summary string
	desc    string
	check   func(string) error
}

func (v stringCheck) Description(_ context.Context) string         { return v.desc }
func (v stringCheck) MarkdownDescription(_ context.Context) string { return v.desc }

func (v stringCheck) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if err := v.check(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, v.summary, err.Error())
	}
}

var endpointCheck = stringCheck{
	summary: "Invalid endpoint",
	desc:    "must be an https:// URL of a Proxmox VE node",
	check: func(s string) error {
		_, err := pve.ParseEndpoint(s)
		return err
	},
}

var apiTokenCheck = stringCheck{
	summary: "Invalid API token",
	desc:    "must be USER@REALM!TOKENID=SECRET",
	check: func(s string) error {
		_, _, err := pve.ParseAPIToken(s)
		return err
	},
}

var pemCheck = stringCheck{
	summary: "Invalid CA certificate",
	desc:    "must hold a PEM certificate",
	check: func(s string) error {
		_, err := pve.TLSConfig(pve.Config{CACertificatePEM: s})
		return err
	},
}

var privateKeyCheck = stringCheck{
	summary: "Invalid SSH private key",
	desc:    "must be an unencrypted private key in PEM or OpenSSH format",
	check:   checkPrivateKey,
}

// checkPrivateKey parses a key without keeping it; its errors never quote the
// key.
func checkPrivateKey(s string) error {
	if !strings.Contains(s, "PRIVATE KEY") {
		return errors.New("the value is not a private key (expected a -----BEGIN ... PRIVATE KEY----- block); pass the key's content, e.g. file(\"~/.ssh/id_ed25519\"), not its path")
	}
	_, err := ssh.ParseRawPrivateKey([]byte(s))
	var missing *ssh.PassphraseMissingError
	switch {
	case errors.As(err, &missing):
		return errors.New("the key is protected by a passphrase; load it into an SSH agent and set agent = true instead")
	case err != nil:
		return errors.New("the key cannot be parsed: " + err.Error())
	}
	return nil
}

// checkWith adapts a package's own check to a string validator, so that
// plan-time validation is the same code the scripts' arguments go through.
func checkWith(summary, desc string, f func(string) error) stringCheck {
	return stringCheck{summary: summary, desc: "must be " + desc, check: f}
}

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

// lxcKeyValidator accepts the raw keys Proxmox VE lets a configuration file
// carry, and points the keys it manages itself to their attributes.
type lxcKeyValidator struct{}

func (lxcKeyValidator) Description(context.Context) string {
	return "a raw lxc.* key that Proxmox VE accepts in a container's configuration file"
}

func (v lxcKeyValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

// lxcKeyOwners are raw keys the resource sets through other attributes.
var lxcKeyOwners = map[string]string{
	"lxc.apparmor.": "apparmor_profile (or the docker block)",
	"lxc.rootfs":    "the rootfs block",
	"lxc.uts.name":  "hostname",
	"lxc.utsname":   "hostname",
	"lxc.net.":      "the network blocks",
	"lxc.network.":  "the network blocks",
	"lxc.arch":      "arch",
	"lxc.idmap":     "the id_map blocks",
	// PVE reads these lines as the env key.
	"lxc.environment.runtime": "environment",
}

// lxcKeyPrefixes are the keys Proxmox VE copies into the runtime
// configuration.
var lxcKeyPrefixes = []string{
	"lxc.autodev", "lxc.cap.drop", "lxc.cap.keep", "lxc.cgroup.", "lxc.cgroup2.", "lxc.console.", "lxc.environment",
	"lxc.hook.", "lxc.init.", "lxc.log.", "lxc.mount.auto", "lxc.mount.entry", "lxc.mount.fstab",
	"lxc.namespace.", "lxc.prlimit.", "lxc.proc.", "lxc.pty.", "lxc.seccomp.", "lxc.signal.", "lxc.start.",
	"lxc.sysctl.", "lxc.tty.", "lxc.keyring.", "lxc.time.",
}

func checkLXCKey(key string) error {
	if !strings.HasPrefix(key, "lxc.") {
		return fmt.Errorf("%q is not a raw LXC key: they start with lxc. (Proxmox VE settings have attributes of their own)", key)
	}
	for prefix, owner := range lxcKeyOwners {
		if strings.HasPrefix(key, prefix) {
			return fmt.Errorf("%s is managed through %s, not lxc_config", key, owner)
		}
	}
	for _, p := range lxcKeyPrefixes {
		if key == strings.TrimSuffix(p, ".") || strings.HasPrefix(key, p) {
			if strings.ContainsAny(key, " \t:=") {
				break
			}
			return nil
		}
	}
	return fmt.Errorf("%s is not a key Proxmox VE accepts in a container's configuration file", key)
}

func (lxcKeyValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if err := checkLXCKey(req.ConfigValue.ValueString()); err != nil {
		// Terraform cannot point at an element of a list attribute, so the
		// message names it.
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid lxc_config key", fmt.Sprintf("%s (at %s).", err, req.Path))
	}
}

// ipConfigCheck accepts an address in CIDR form of one family, or the
// keywords Proxmox VE knows for it.
func ipConfigCheck(v6 bool) stringCheck {
	desc := "an IPv4 address in CIDR form, dhcp or manual"
	if v6 {
		desc = "an IPv6 address in CIDR form, auto, dhcp or manual"
	}
	return stringCheck{summary: "Invalid IP configuration", desc: "must be " + desc, check: func(s string) error {
		switch {
		case s == "dhcp" || s == "manual" || v6 && s == "auto":
			return nil
		}
		if err := checkCIDR(s, v6); err != nil {
			return fmt.Errorf("%q must be %s: %s", s, desc, err)
		}
		return nil
	}}
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

// ipAddrCheck accepts a plain address of one family (a gateway).
func ipAddrCheck(v6 bool) stringCheck {
	desc := "an IPv4 address"
	if v6 {
		desc = "an IPv6 address"
	}
	return stringCheck{summary: "Invalid gateway", desc: "must be " + desc, check: func(s string) error {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Is6() != v6 || a.Zone() != "" {
			return fmt.Errorf("%q must be %s", s, desc)
		}
		return nil
	}}
}
