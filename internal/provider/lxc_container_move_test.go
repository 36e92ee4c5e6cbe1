package provider

import (
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

// The source states below are written from the published schemas of
// bpg/proxmox's proxmox_virtual_environment_container and Telmate/proxmox's
// proxmox_lxc (3.x), as Terraform keeps them: nested blocks are lists.

const bpgState = `{
  "id": "4301",
  "node_name": "pve1",
  "vm_id": 4301,
  "description": "web front\n",
  "tags": ["prod", "web"],
  "unprivileged": true,
  "start_on_boot": true,
  "started": true,
  "protection": false,
  "template": false,
  "pool_id": "webpool",
  "hook_script_file_id": "",
  "environment_variables": {"TZ": "UTC"},
  "timeout_create": 1800, "timeout_clone": 1800, "timeout_update": 1800, "timeout_delete": 60,
  "ipv4": {"eth0": "10.0.0.21"}, "ipv6": {},
  "clone": [{"vm_id": 9000, "node_name": "pve2", "datastore_id": "", "full": true}],
  "console": [{"enabled": true, "type": "tty", "tty_count": 2}],
  "cpu": [{"architecture": "amd64", "cores": 2, "units": 1024, "limit": 0}],
  "memory": [{"dedicated": 1024, "swap": 256}],
  "disk": [{"datastore_id": "local-lvm", "size": 8, "acl": true, "quota": false, "replicate": true,
            "mount_options": [], "path_in_datastore": "vm-4301-disk-0"}],
  "features": [{"nesting": true, "keyctl": true, "fuse": false, "mknod": false, "mount": []}],
  "initialization": [{
    "hostname": "web1",
    "entrypoint": "",
    "dns": [{"domain": "lan", "servers": ["10.0.0.1", "10.0.0.2"], "server": ""}],
    "ip_config": [{"ipv4": [{"address": "10.0.0.21/24", "gateway": "10.0.0.1"}], "ipv6": []}],
    "user_account": [{"keys": ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB0 admin@example"], "password": "s3cret-pw"}]
  }],
  "network_interface": [{"name": "eth0", "bridge": "vmbr0", "enabled": true, "firewall": true,
                          "mac_address": "BC:24:11:00:43:01", "mtu": 0, "rate_limit": 0, "vlan_id": 20,
                          "host_managed": false}],
  "mount_point": [{"volume": "local-lvm", "path": "/data", "size": "4G", "backup": true, "acl": false,
                    "quota": false, "read_only": false, "replicate": true, "shared": false, "mount_options": ["noatime"],
                    "path_in_datastore": "vm-4301-disk-1"}],
  "device_passthrough": [{"path": "/dev/net/tun", "mode": "0660", "uid": 0, "gid": 0, "deny_write": false}],
  "idmap": [{"type": "uid", "container_id": 0, "host_id": 100000, "size": 65536},
            {"type": "gid", "container_id": 0, "host_id": 100000, "size": 65536}],
  "operating_system": [{"template_file_id": "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst", "type": "debian"}],
  "startup": [{"order": 2, "up_delay": 10, "down_delay": -1}],
  "wait_for_ip": []
}`

const telmateState = `{
  "id": "pve1/lxc/4302",
  "target_node": "pve1",
  "current_node": "pve1",
  "vmid": 4302,
  "hostname": "db1",
  "description": "",
  "tags": "db;prod",
  "ostemplate": "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst",
  "ostype": "debian",
  "arch": "amd64",
  "unprivileged": true,
  "onboot": false,
  "start": true,
  "protection": false,
  "cores": 2, "cpulimit": 0, "cpuunits": 1024,
  "memory": 2048, "swap": 512,
  "nameserver": "10.0.0.1", "searchdomain": "lan",
  "cmode": "tty", "console": true, "tty": 2,
  "startup": "order=3",
  "password": "s3cret-pw",
  "ssh_public_keys": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB0 admin@example\n",
  "hastate": "started",
  "hagroup": "db-nodes",
  "pool": "dbpool",
  "bwlimit": 0, "force": false, "restore": false, "unique": false, "template": false,
  "features": [{"nesting": true, "keyctl": false, "fuse": false, "mknod": false, "mount": "nfs;cifs"}],
  "rootfs": [{"storage": "local-lvm", "size": "8G", "volume": "local-lvm:vm-4302-disk-0", "acl": false,
              "quota": false, "replicate": false, "ro": false, "shared": false}],
  "network": [{"id": 0, "name": "eth0", "bridge": "vmbr0", "firewall": false, "gw": "", "gw6": "",
               "hwaddr": "BC:24:11:00:43:02", "ip": "dhcp", "ip6": "", "mtu": 0, "rate": 0, "tag": 0,
               "trunks": "", "type": "veth"}],
  "mountpoint": [{"key": "0", "slot": 1, "mp": "/var/lib/postgresql", "storage": "local-lvm", "size": "16G",
                  "volume": "local-lvm:vm-4302-disk-1", "file": "vm-4302-disk-1", "acl": false, "backup": true,
                  "quota": false, "replicate": false, "shared": false}],
  "unused": []
}`

// protocolServer is the provider as Terraform talks to it, with its schema.
func protocolServer(t *testing.T) (tfprotov6.ProviderServer, *tfprotov6.GetProviderSchemaResponse) {
	t.Helper()
	srv, err := providerserver.NewProtocol6WithError(New("test")())()
	if err != nil {
		t.Fatal(err)
	}
	schemaResp, err := srv.GetProviderSchema(context.Background(), &tfprotov6.GetProviderSchemaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	return srv, schemaResp
}

// movedWithoutErrors moves a source state and returns the new state and
// the warnings' text, failing on an error.
func movedWithoutErrors(t *testing.T, providerAddr, typeName, raw string) (map[string]tftypes.Value, string, []byte) {
	t.Helper()
	st, diags, private := moveThroughServer(t, providerAddr, typeName, raw)
	warnings, errs := warningText(diags)
	if len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	return st, warnings, private
}

// moveThroughServer sends a MoveResourceState request to the provider
// server, as Terraform does for a moved block, and returns the new state as
// a map of attribute values with the diagnostics.
func moveThroughServer(t *testing.T, providerAddr, typeName, raw string) (map[string]tftypes.Value, []*tfprotov6.Diagnostic, []byte) {
	t.Helper()
	ctx := context.Background()
	srv, schemaResp := protocolServer(t)
	resp, err := srv.MoveResourceState(ctx, &tfprotov6.MoveResourceStateRequest{
		SourceProviderAddress: providerAddr,
		SourceTypeName:        typeName,
		SourceState:           &tfprotov6.RawState{JSON: []byte(raw)},
		TargetTypeName:        "phoenix_lxc_container",
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.TargetState == nil {
		return nil, resp.Diagnostics, nil
	}
	typ := schemaResp.ResourceSchemas["phoenix_lxc_container"].ValueType()
	v, err := resp.TargetState.Unmarshal(typ)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]tftypes.Value{}
	if err := v.As(&out); err != nil {
		t.Fatal(err)
	}
	return out, resp.Diagnostics, resp.TargetPrivate
}

func strOf(t *testing.T, v tftypes.Value) string {
	t.Helper()
	if v.IsNull() {
		return "<null>"
	}
	var s string
	if err := v.As(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// flat renders a value the way tftypes prints it, for comparisons of
// nested values.
func flat(v tftypes.Value) string { return v.String() }

// expectHolds checks that each attribute's value, printed, holds the
// given parts.
func expectHolds(t *testing.T, st map[string]tftypes.Value, want map[string][]string) {
	t.Helper()
	for attr, parts := range want {
		got := flat(st[attr])
		for _, w := range parts {
			if !strings.Contains(got, w) {
				t.Errorf("%s = %s, want it to hold %s", attr, got, w)
			}
		}
	}
}

func warningText(diags []*tfprotov6.Diagnostic) (warnings string, errs []string) {
	var w []string
	for _, d := range diags {
		if d.Severity == tfprotov6.DiagnosticSeverityError {
			errs = append(errs, d.Summary+": "+d.Detail)
			continue
		}
		w = append(w, d.Summary+": "+d.Detail)
	}
	return strings.Join(w, "\n"), errs
}

func TestMoveStateFromBPG(t *testing.T) {
	st, warnings, private := movedWithoutErrors(t, "registry.terraform.io/bpg/proxmox", "proxmox_virtual_environment_container", bpgState)
	for attr, want := range map[string]string{
		"id": "pve1/4301", "node_name": "pve1", "hostname": "web1", "description": "web front",
		"os_type": "debian", "arch": "amd64", "nameserver": "10.0.0.1 10.0.0.2", "searchdomain": "lan",
		"template":     "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst",
		"console_mode": "tty", "effective_apparmor_profile": "generated",
		// Write-only: never in the state.
		"password": "<null>",
	} {
		if got := strOf(t, st[attr]); got != want {
			t.Errorf("%s = %q, want %q", attr, got, want)
		}
	}
	for attr, want := range map[string]string{
		"vmid": "4301", "cores": "2", "cpu_units": "1024", "memory": "1024", "swap": "256",
		"unprivileged": "true", "start_on_boot": "true", "protection": "false", "started": "true", "console": "true",
		"tty_count": "2",
	} {
		if got := flat(st[attr]); !strings.Contains(got, want) {
			t.Errorf("%s = %s, want %s", attr, got, want)
		}
	}
	expectHolds(t, st, map[string][]string{
		"tags":            {`"prod"`, `"web"`},
		"ssh_public_keys": {`"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB0 admin@example"`},
		"environment":     {`"TZ":tftypes.String<"UTC">`},
		"features":        {`"nesting":tftypes.Bool<"true">`, `"keyctl":tftypes.Bool<"true">`, `"fuse":tftypes.Bool<"false">`},
		"rootfs":          {`"storage":tftypes.String<"local-lvm">`, `"size":tftypes.String<"8G">`, `"volume":tftypes.String<"local-lvm:vm-4301-disk-0">`},
		"network": {`"name":tftypes.String<"eth0">`, `"bridge":tftypes.String<"vmbr0">`, `"ip":tftypes.String<"10.0.0.21/24">`,
			`"gw":tftypes.String<"10.0.0.1">`, `"hwaddr":tftypes.String<"BC:24:11:00:43:01">`, `"firewall":tftypes.Bool<"true">`, `"vlan":tftypes.Number<"20">`},
		"mount_point": {`"path":tftypes.String<"/data">`, `"volume":tftypes.String<"local-lvm:vm-4301-disk-1">`, `"size":tftypes.String<"4G">`,
			`"backup":tftypes.Bool<"true">`, `"noatime"`},
		"device":  {`"path":tftypes.String<"/dev/net/tun">`, `"mode":tftypes.String<"0660">`},
		"startup": {`"order":tftypes.Number<"2">`, `"up_delay":tftypes.Number<"10">`, `"down_delay":tftypes.Number<null>`},
		"clone":   {`"source_vmid":tftypes.Number<"9000">`, `"source_node":tftypes.String<"pve2">`, `"full":tftypes.Bool<"true">`, `"storage":tftypes.String<null>`},
		"id_map": {`"kind":tftypes.String<"uid">`, `"kind":tftypes.String<"gid">`, `"host_id":tftypes.Number<"100000">`,
			`"size":tftypes.Number<"65536">`},
	})
	for _, attr := range []string{"docker", "apparmor_profile", "lxc_config", "timeouts"} {
		if !st[attr].IsNull() {
			t.Errorf("%s = %s, want null", attr, st[attr])
		}
	}
	// Attributes with no equivalent are named; defaults, provider
	// settings and computed outputs are not.
	for _, w := range []string{"disk[0].acl"} {
		if !strings.Contains(warnings, w) {
			t.Errorf("warning does not name %s: %q", w, warnings)
		}
	}
	if got := strOf(t, st["pool"]); got != "webpool" {
		t.Errorf("pool = %q", got)
	}
	for _, quiet := range []string{"timeout_create", "ipv4", "enabled", "replicate", "password", "template_file_id", "host_managed", "pool_id"} {
		if strings.Contains(warnings, quiet) {
			t.Errorf("warning names %s: %q", quiet, warnings)
		}
	}
	// Adopted, and the refresh after the move looks for a running Docker.
	for _, key := range []string{importedKey, movedKey, dockerAdoptKey} {
		if !strings.Contains(string(private), `"`+key+`"`) {
			t.Errorf("private state %q lacks %s", private, key)
		}
	}
}

// TestMoveStateProviderAddresses: Terraform sends the source provider's
// full address; OpenTofu before 1.11.12 and 1.12.4 sends its type name
// alone (opentofu/opentofu#4352). Either is taken, the resource type
// telling bpg's source from Telmate's; another namespace is not.
func TestMoveStateProviderAddresses(t *testing.T) {
	for _, tc := range []struct {
		addr, typ string
		ok        bool
	}{
		{"registry.terraform.io/bpg/proxmox", bpgContainerSource.typeName, true},
		{"registry.opentofu.org/bpg/proxmox", bpgContainerSource.typeName, true},
		{"proxmox", bpgContainerSource.typeName, true},
		{"bpg/proxmox", bpgContainerSource.typeName, true},
		{"proxmox", telmateLXCSource.typeName, true},
		{"registry.opentofu.org/Telmate/proxmox", telmateLXCSource.typeName, true},
		{"registry.terraform.io/example/proxmox", bpgContainerSource.typeName, false},
		{"registry.terraform.io/notbpg/proxmox", bpgContainerSource.typeName, false},
		{"proxmox", "proxmox_virtual_environment_vm", false},
		{"docker", bpgContainerSource.typeName, false},
	} {
		got := false
		for i := range moveSources {
			got = got || moveSources[i].matches(tc.addr, tc.typ)
		}
		if got != tc.ok {
			t.Errorf("%s %s: taken = %v, want %v", tc.addr, tc.typ, got, tc.ok)
		}
	}
	// Through the server: a bare address moves bpg's state.
	if st, _, _ := movedWithoutErrors(t, "proxmox", bpgContainerSource.typeName, bpgState); strOf(t, st["hostname"]) != "web1" {
		t.Errorf("hostname = %s after a move from the bare address", strOf(t, st["hostname"]))
	}
}

func TestMoveStateFromTelmate(t *testing.T) {
	st, warnings, _ := movedWithoutErrors(t, "registry.terraform.io/telmate/proxmox", "proxmox_lxc", telmateState)
	for attr, want := range map[string]string{
		"id": "pve1/4302", "node_name": "pve1", "hostname": "db1", "description": "<null>",
		"template": "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst", "nameserver": "10.0.0.1",
	} {
		if got := strOf(t, st[attr]); got != want {
			t.Errorf("%s = %q, want %q", attr, got, want)
		}
	}
	expectHolds(t, st, map[string][]string{
		"vmid":            {"4302"},
		"memory":          {"2048"},
		"cpu_limit":       {"null"},
		"tags":            {`"db"`, `"prod"`},
		"ssh_public_keys": {`"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB0 admin@example"`},
		"features":        {`"nesting":tftypes.Bool<"true">`, `tftypes.String<"cifs">`, `tftypes.String<"nfs">`},
		"rootfs":          {`"volume":tftypes.String<"local-lvm:vm-4302-disk-0">`, `"size":tftypes.String<"8G">`},
		"network":         {`"ip":tftypes.String<"dhcp">`, `"hwaddr":tftypes.String<"BC:24:11:00:43:02">`, `"vlan":tftypes.Number<null>`},
		// The slot is Telmate's: mp1.
		"mount_point": {`"slot":tftypes.Number<"1">`, `"path":tftypes.String<"/var/lib/postgresql">`, `"volume":tftypes.String<"local-lvm:vm-4302-disk-1">`},
		"startup":     {`"order":tftypes.Number<"3">`},
	})
	if !strings.Contains(warnings, "hagroup") {
		t.Errorf("warning does not name hagroup: %q", warnings)
	}
	if got := strOf(t, st["pool"]); got != "dbpool" {
		t.Errorf("pool = %q", got)
	}
	if got := flat(st["ha"]); !strings.Contains(got, `"state":tftypes.String<"started">`) {
		t.Errorf("ha = %s", got)
	}
	for _, quiet := range []string{"password", "current_node", "unused", "type", "bwlimit", "hastate", "pool"} {
		if strings.Contains(warnings, quiet) {
			t.Errorf("warning names %s: %q", quiet, warnings)
		}
	}
}

func TestMoveStateRefusals(t *testing.T) {
	// Another resource type is not taken.
	if st, diags, _ := moveThroughServer(t, "registry.terraform.io/bpg/proxmox", "proxmox_virtual_environment_vm", bpgState); st != nil || len(diags) == 0 {
		t.Errorf("a VM's state was moved: %v %v", st, diags)
	}
	// A state without node or ID is an error, not an empty container.
	_, diags, _ := moveThroughServer(t, "registry.terraform.io/telmate/proxmox", "proxmox_lxc", `{"hostname": "x"}`)
	if _, errs := warningText(diags); len(errs) == 0 || !strings.Contains(errs[0], "names no node") {
		t.Errorf("diagnostics = %v", errs)
	}
	// A node name or ID an import would refuse is refused too: the refresh
	// after the move puts them in API paths.
	for _, bad := range []string{`{"target_node": "pve1/../x", "vmid": 4302}`, `{"target_node": "pve1", "vmid": 5}`} {
		_, diags, _ = moveThroughServer(t, "registry.terraform.io/telmate/proxmox", "proxmox_lxc", bad)
		if _, errs := warningText(diags); len(errs) == 0 || !strings.Contains(errs[0], "not a Proxmox VE node name") {
			t.Errorf("%s: diagnostics = %v", bad, errs)
		}
	}
}
