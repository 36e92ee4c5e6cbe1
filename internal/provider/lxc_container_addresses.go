package provider

import (
	"context"
	"net/netip"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/pve"
)

// The container's IP addresses: static ones come from the network blocks
// at no cost; a network on DHCP or SLAAC makes the provider ask the running
// container (GET .../interfaces, one call).

// staticAddresses returns the addresses the networks configure (without
// their prefix length) and whether any network gets its address at run
// time (dhcp, auto).
func staticAddresses(nets []networkModel) (addrs []string, dynamic bool) {
	for _, n := range nets {
		for _, v := range []types.String{n.IP, n.IP6} {
			s := v.ValueString()
			switch {
			case !known(v) || s == "" || s == "manual":
			case s == "dhcp" || s == "auto":
				dynamic = true
			default:
				if p, err := netip.ParsePrefix(s); err == nil {
					addrs = append(addrs, p.Addr().String())
				}
			}
		}
	}
	return addrs, dynamic
}

// usableAddress is an address a client can reach the container at: not
// loopback, not link-local.
func usableAddress(s string) bool {
	a, err := netip.ParseAddr(strings.SplitN(s, "%", 2)[0])
	return err == nil && !a.IsLoopback() && !a.IsLinkLocalUnicast() && !a.IsUnspecified()
}

// interfaceAddresses are the usable addresses of a running container's
// interfaces, in the order PVE lists them.
func interfaceAddresses(ifaces []pve.Interface) []string {
	var out []string
	for _, i := range ifaces {
		if i.Name == "lo" {
			continue
		}
		for _, a := range i.Addresses {
			if usableAddress(a.IP) {
				out = append(out, a.IP)
			}
		}
	}
	return out
}

// readAddresses sets ip_addresses: the static addresses, or, when a network
// is dynamic and the container runs, what its interfaces report.
func readAddresses(ctx context.Context, c *pve.Client, m *lxcContainerModel, running bool) diag.Diagnostics {
	nets, diags := m.networks(ctx)
	addrs, dynamic := staticAddresses(nets)
	if dynamic && running {
		ifaces, err := c.ContainerInterfaces(ctx, m.NodeName.ValueString(), int(m.VMID.ValueInt64()))
		if err != nil {
			diags.AddWarning("Cannot read the container's addresses", err.Error())
		} else {
			addrs = interfaceAddresses(ifaces)
		}
	}
	l, d := types.ListValueFrom(ctx, types.StringType, addrs)
	diags.Append(d...)
	m.IPAddresses = l
	return diags
}

// planAddresses knows ip_addresses at plan time when every address is
// static, and keeps them from the state while neither the networks nor the
// run state change and the apply does not reboot the container (a DHCP or
// SLAAC address comes back some time after a start, maybe another one);
// otherwise they are known after apply.
func planAddresses(ctx context.Context, plan, state *lxcContainerModel) diag.Diagnostics {
	nets, diags := plan.networks(ctx)
	if plan.Network.IsUnknown() || diags.HasError() {
		return diags
	}
	for _, n := range nets {
		if n.IP.IsUnknown() || n.IP6.IsUnknown() {
			return diags
		}
	}
	addrs, dynamic := staticAddresses(nets)
	if state != nil && plan.Network.Equal(state.Network) && plan.Started.Equal(state.Started) &&
		(!dynamic || len(restartReasons(ctx, plan, state)) == 0) {
		plan.IPAddresses = state.IPAddresses
		return diags
	}
	if !dynamic {
		l, d := types.ListValueFrom(ctx, types.StringType, addrs)
		diags.Append(d...)
		plan.IPAddresses = l
	}
	return diags
}

// waitForAddress polls a running container until it reports a usable
// address, as long as ctx lets it (the create timeout).
func waitForAddress(ctx context.Context, c *pve.Client, node string, vmid int) error {
	for {
		ifaces, err := c.ContainerInterfaces(ctx, node, vmid)
		if err == nil && len(interfaceAddresses(ifaces)) > 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return err
			}
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}
