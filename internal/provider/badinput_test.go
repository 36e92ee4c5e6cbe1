package provider

// Bad input never reaches the API.
//
// TestAccBadInput plans a table of invalid configurations of
// phoenix_lxc_container and of the provider block with the Terraform CLI,
// one case per directory and in parallel, against one simulator. Each case
// must fail at "terraform validate" or, when validation passes, at
// "terraform plan -refresh=false", with the expected message, pointing at
// the attribute: either terraform's source line is the line of the case
// marked "# bad" (terraform derives it from the diagnostic's attribute
// path), or, where terraform can only point at the enclosing block, the
// message names the attribute. The simulator's request log must stay empty
// for the whole table.
//
// With PHOENIX_RECORD_RELIABILITY=1 the figures are written to
// testdata/reliability/badinput.json for the reliability guide. Schema:
//
//	{
//	  "command":            string, // reproduces the figures
//	  "terraform_version":  string,
//	  "cases":              int,    // invalid configurations
//	  "caught_at_validate": int,    // failed at terraform validate
//	  "caught_at_plan":     int,    // passed validate, failed at plan
//	  "terraform_runs":     int,    // CLI runs of the table
//	  "parallel":           int,    // cases run at once (go test -parallel)
//	  "api_calls":          int,    // requests the simulator saw during the table: 0
//	  "wall_seconds":       number, // wall time of the table
//	  "rows": [{
//	    "name":      string, // case name
//	    "group":     string, // what the rule is about, e.g. "network", "docker", "provider"
//	    "attribute": string, // attribute path, e.g. "network[0].ip"
//	    "stage":     string, // "validate" or "plan"
//	    "located_by": string, // "source line" or "message"
//	    "summary":   string, // the error's summary line
//	    "seconds":   number  // wall time of the case
//	  }]
//	}

import (
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/pve"
)

// figuresEnv turns on writing the reliability figures.
const figuresEnv = "PHOENIX_RECORD_RELIABILITY"

// saveFigures writes v as indented JSON to testdata/reliability/<name> when
// PHOENIX_RECORD_RELIABILITY=1.
func saveFigures(t *testing.T, name string, v any) {
	t.Helper()
	if os.Getenv(figuresEnv) != "1" {
		return
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("testdata", "reliability")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), append(b, '\n'), 0o644); err != nil { //nolint:gosec // figures for the documentation
		t.Fatal(err)
	}
	t.Logf("wrote %s", filepath.Join(dir, name))
}

// badCase is one invalid configuration.
type badCase struct {
	name  string
	group string
	// attr is the attribute path as the framework names it.
	attr string
	// mention is what the message must name when terraform cannot point at
	// the attribute's own line; attr when empty.
	mention string
	// want matches "summary: detail" of the error.
	want string
	// set replaces the first line of the base configuration that starts
	// with the key (an attribute "key =" or a block "key {") by the value;
	// an empty value deletes the line.
	set map[string]string
	// drop removes the blocks that start with these names.
	drop []string
	// attrs are added to the resource after its hostname, blocks at its end,
	// providerBody at the end of the provider block.
	attrs, blocks, providerBody string
	// prior plans against a state that holds the base container (8G).
	prior bool
}

// badBase is the valid configuration every case starts from.
const badBase = requirePhoenix + `
provider "phoenix" {
  endpoint       = %q
  api_token      = %q
  ca_certificate = file(%q)
%s}

resource "phoenix_lxc_container" "test" {
  node_name    = %q
  vmid         = 4700
  hostname     = "bad-input"
  template     = %q
  unprivileged = true
%s  rootfs {
    storage = "local-lvm"
    size    = "8G"
  }
  network {
    name   = "eth0"
    bridge = "vmbr0"
    ip     = "10.0.0.2/24"
    gw     = "10.0.0.1"
  }
%s}
`

// render builds a case's main.tf.
func (c badCase) render(e *accEnv) string {
	s := fmt.Sprintf(badBase, e.endpoint, e.token, e.sim.CAFile, c.providerBody, e.node, e.template, c.attrs, c.blocks)
	lines := strings.Split(s, "\n")
	for _, name := range c.drop {
		for i, l := range lines {
			if strings.TrimSpace(l) == name+" {" {
				end := i
				for lines[end] != l[:len(l)-len(strings.TrimLeft(l, " "))]+"}" {
					end++
				}
				lines = append(lines[:i], lines[end+1:]...)
				break
			}
		}
	}
	for key, val := range c.set {
		re := regexp.MustCompile(`^\s*` + regexp.QuoteMeta(key) + `(\s|=|\{|$)`)
		found := false
		for i, l := range lines {
			if re.MatchString(l) {
				indent := l[:len(l)-len(strings.TrimLeft(l, " "))]
				if val == "" {
					lines = append(lines[:i], lines[i+1:]...)
				} else {
					lines[i] = indent + val
				}
				found = true
				break
			}
		}
		if !found {
			panic("badCase " + c.name + ": no line starts with " + key)
		}
	}
	return strings.Join(lines, "\n")
}

func badInputCases() []badCase {
	long63 := strings.Repeat("a", 63)
	var nets strings.Builder
	for i := 1; i <= 32; i++ {
		fmt.Fprintf(&nets, "  network {\n    name   = \"eth%d\"\n    bridge = \"vmbr0\"\n  }\n", i)
	}
	docker := func(body string) string { return "  docker {\n" + body + "  }\n" }
	return []badCase{
		// Identity and placement.
		{name: "vmid_below_range", group: "vmid", attr: "vmid", set: map[string]string{"vmid": "vmid = 99 # bad"}, want: `between 100 and 999999999`},
		{name: "vmid_above_range", group: "vmid", attr: "vmid", set: map[string]string{"vmid": "vmid = 1000000000 # bad"}, want: `between 100 and 999999999`},
		{name: "node_name_underscore", group: "node", attr: "node_name", set: map[string]string{"node_name": `node_name = "pve_1" # bad`}, want: `must be a Proxmox VE node name`},
		{name: "hostname_leading_hyphen", group: "hostname", attr: "hostname", set: map[string]string{"hostname": `hostname = "-web" # bad`}, want: `must be a DNS name`},
		{name: "hostname_underscore", group: "hostname", attr: "hostname", set: map[string]string{"hostname": `hostname = "web_01" # bad`}, want: `must be a DNS name`},
		{name: "hostname_label_64", group: "hostname", attr: "hostname", set: map[string]string{"hostname": `hostname = "` + long63 + `a.lan" # bad`}, want: `must be a DNS name`},
		{name: "hostname_over_253", group: "hostname", attr: "hostname", set: map[string]string{"hostname": `hostname = "` + strings.TrimSuffix(strings.Repeat(long63+".", 4), ".") + `" # bad`}, want: `length must be between 1 and 253`},
		{name: "hostname_empty", group: "hostname", attr: "hostname", set: map[string]string{"hostname": `hostname = "" # bad`}, want: `length must be between 1 and 253`},
		{name: "template_iso", group: "template", attr: "template", set: map[string]string{"template": `template = "local:iso/debian-12.iso" # bad`}, want: `must be a template volume`},
		{name: "template_no_storage", group: "template", attr: "template", set: map[string]string{"template": `template = "vztmpl/debian-12-standard_12.7-1_amd64.tar.zst" # bad`}, want: `must be a template volume`},
		{name: "template_zip", group: "template", attr: "template", set: map[string]string{"template": `template = "local:vztmpl/debian-12.zip" # bad`}, want: `must be a template volume`},
		{name: "description_over_8192", group: "description", attr: "description", attrs: "  description = format(\"%8193s\", \"x\") # bad\n", want: `length must be at most 8192`},
		{name: "tag_at_sign", group: "tags", attr: `tags[Value("b@d")]`, attrs: "  tags = [\"ok\", \"b@d\"] # bad\n", want: `must start with a letter, digit or '_'`},
		{name: "tag_leading_hyphen", group: "tags", attr: `tags[Value("-prod")]`, attrs: "  tags = [\"-prod\"] # bad\n", want: `must start with a letter, digit or '_'`},
		{name: "tag_space", group: "tags", attr: `tags[Value("two words")]`, attrs: "  tags = [\"two words\"] # bad\n", want: `must start with a letter, digit or '_'`},
		{name: "os_type_windows", group: "os_type", attr: "os_type", attrs: "  os_type = \"windows\" # bad\n", want: `value must be one of`},

		// Resources.
		{name: "cores_zero", group: "cpu", attr: "cores", attrs: "  cores = 0 # bad\n", want: `between 1 and 8192`},
		{name: "cores_8193", group: "cpu", attr: "cores", attrs: "  cores = 8193 # bad\n", want: `between 1 and 8192`},
		{name: "cpu_limit_negative", group: "cpu", attr: "cpu_limit", attrs: "  cpu_limit = -1 # bad\n", want: `between 0\.0* and 8192`},
		{name: "cpu_units_500001", group: "cpu", attr: "cpu_units", attrs: "  cpu_units = 500001 # bad\n", want: `between 0 and 500000`},
		{name: "memory_15", group: "memory", attr: "memory", attrs: "  memory = 15 # bad\n", want: `at least 16`},
		{name: "swap_negative", group: "memory", attr: "swap", attrs: "  swap = -1 # bad\n", want: `at least 0`},

		// Root file system.
		{name: "rootfs_size_8GB", group: "rootfs", attr: "rootfs.size", set: map[string]string{"size": `size = "8GB" # bad`}, want: `optional unit K, M, G or T`},
		{name: "rootfs_size_lowercase", group: "rootfs", attr: "rootfs.size", set: map[string]string{"size": `size = "8g" # bad`}, want: `optional unit K, M, G or T`},
		{name: "rootfs_size_negative", group: "rootfs", attr: "rootfs.size", set: map[string]string{"size": `size = "-8G" # bad`}, want: `optional unit K, M, G or T`},
		{name: "rootfs_size_below_1M", group: "rootfs", attr: "rootfs.size", set: map[string]string{"size": `size = "512K" # bad`}, want: `rootfs too small`},
		{name: "rootfs_size_missing", group: "rootfs", attr: "rootfs.size", mention: "size", set: map[string]string{"size": "", "rootfs": "rootfs { # bad"}, want: `Missing rootfs size`},
		{name: "rootfs_storage_leading_digit", group: "rootfs", attr: "rootfs.storage", set: map[string]string{"storage": `storage = "1local" # bad`}, want: `must be a storage ID`},
		{name: "rootfs_storage_colon", group: "rootfs", attr: "rootfs.storage", set: map[string]string{"storage": `storage = "local:lvm" # bad`}, want: `must be a storage ID`},
		{name: "rootfs_shrink", group: "rootfs", attr: "rootfs.size", prior: true, set: map[string]string{"size": `size = "4G" # bad`}, want: `rootfs cannot shrink`},
		{name: "rootfs_missing", group: "rootfs", attr: "rootfs", mention: "rootfs block", drop: []string{"rootfs"}, set: map[string]string{"resource": `resource "phoenix_lxc_container" "test" { # bad`}, want: `Missing rootfs`},

		// Network.
		{name: "ip_without_prefix", group: "network", attr: "network[0].ip", set: map[string]string{"ip": `ip = "10.0.0.2" # bad`}, want: `prefix length is missing`},
		{name: "ip_octet_300", group: "network", attr: "network[0].ip", set: map[string]string{"ip": `ip = "10.0.0.300/24" # bad`}, want: `not an address with prefix length`},
		{name: "ip_prefix_33", group: "network", attr: "network[0].ip", set: map[string]string{"ip": `ip = "10.0.0.2/33" # bad`}, want: `not an address with prefix length`},
		{name: "ip_is_ipv6", group: "network", attr: "network[0].ip", set: map[string]string{"ip": `ip = "fd00::2/64" # bad`}, want: `not an IPv4 address`},
		{name: "ip_auto", group: "network", attr: "network[0].ip", set: map[string]string{"ip": `ip = "auto" # bad`, "gw": ""}, want: `must be an IPv4 address in CIDR form, dhcp or manual`},
		{name: "ip6_is_ipv4", group: "network", attr: "network[0].ip6", set: map[string]string{"gw": "gw = \"10.0.0.1\"\n    ip6 = \"10.0.0.2/24\" # bad"}, want: `not an IPv6 address`},
		{name: "ip6_without_prefix", group: "network", attr: "network[0].ip6", set: map[string]string{"gw": "gw = \"10.0.0.1\"\n    ip6 = \"fd00::2\" # bad"}, want: `prefix length is missing`},
		{name: "gw_with_prefix", group: "network", attr: "network[0].gw", set: map[string]string{"gw": `gw = "10.0.0.1/24" # bad`}, want: `must be an IPv4 address`},
		{name: "gw_is_ipv6", group: "network", attr: "network[0].gw", set: map[string]string{"gw": `gw = "fd00::1" # bad`}, want: `must be an IPv4 address`},
		{name: "gw6_is_ipv4", group: "network", attr: "network[0].gw6", set: map[string]string{"gw": "gw = \"10.0.0.1\"\n    ip6 = \"fd00::2/64\"\n    gw6 = \"10.0.0.1\" # bad"}, want: `must be an IPv6 address`},
		{name: "gw_without_ip", group: "network", attr: "network[0].gw", set: map[string]string{"ip": "", "gw": `gw = "10.0.0.1" # bad`}, want: `Gateway without address`},
		{name: "gw_with_dhcp", group: "network", attr: "network[0].gw", set: map[string]string{"ip": `ip = "dhcp"`, "gw": `gw = "10.0.0.1" # bad`}, want: `Gateway with dhcp`},
		{name: "gw6_without_ip6", group: "network", attr: "network[0].gw6", set: map[string]string{"gw": "gw = \"10.0.0.1\"\n    gw6 = \"fd00::1\" # bad"}, want: `Gateway without address`},
		{name: "gw6_with_slaac", group: "network", attr: "network[0].gw6", set: map[string]string{"gw": "gw = \"10.0.0.1\"\n    ip6 = \"auto\"\n    gw6 = \"fd00::1\" # bad"}, want: `Gateway with auto`},
		{name: "hwaddr_multicast", group: "network", attr: "network[0].hwaddr", set: map[string]string{"gw": "gw = \"10.0.0.1\"\n    hwaddr = \"01:00:5E:00:00:01\" # bad"}, want: `must be a unicast MAC address`},
		{name: "hwaddr_broadcast", group: "network", attr: "network[0].hwaddr", set: map[string]string{"gw": "gw = \"10.0.0.1\"\n    hwaddr = \"FF:FF:FF:FF:FF:FF\" # bad"}, want: `must be a unicast MAC address`},
		{name: "hwaddr_five_octets", group: "network", attr: "network[0].hwaddr", set: map[string]string{"gw": "gw = \"10.0.0.1\"\n    hwaddr = \"BC:24:11:00:00\" # bad"}, want: `must be a unicast MAC address`},
		{name: "hwaddr_dashes", group: "network", attr: "network[0].hwaddr", set: map[string]string{"gw": "gw = \"10.0.0.1\"\n    hwaddr = \"BC-24-11-00-00-01\" # bad"}, want: `must be a unicast MAC address`},
		{name: "bridge_space", group: "network", attr: "network[0].bridge", set: map[string]string{"bridge": `bridge = "vmbr 0" # bad`}, want: `must be a bridge name`},
		{name: "bridge_semicolon", group: "network", attr: "network[0].bridge", set: map[string]string{"bridge": `bridge = "vmbr0;x" # bad`}, want: `must be a bridge name`},
		{name: "bridge_16_chars", group: "network", attr: "network[0].bridge", set: map[string]string{"bridge": `bridge = "vmbr0123456789abc" # bad`}, want: `length must be between 1 and 15`},
		{name: "interface_16_chars", group: "network", attr: "network[0].name", set: map[string]string{"name": `name = "eth0123456789abc" # bad`}, want: `interface name of at most 15 characters`},
		{name: "interface_slash", group: "network", attr: "network[0].name", set: map[string]string{"name": `name = "eth/0" # bad`}, want: `interface name of at most 15 characters`},
		{name: "interface_duplicate", group: "network", attr: "network[1].name", blocks: "  network {\n    name   = \"eth0\" # bad\n    bridge = \"vmbr1\"\n  }\n", want: `Duplicate interface name`},
		{name: "vlan_0", group: "network", attr: "network[0].vlan", set: map[string]string{"gw": "gw = \"10.0.0.1\"\n    vlan = 0 # bad"}, want: `between 1 and 4094`},
		{name: "vlan_4095", group: "network", attr: "network[0].vlan", set: map[string]string{"gw": "gw = \"10.0.0.1\"\n    vlan = 4095 # bad"}, want: `between 1 and 4094`},
		{name: "mtu_63", group: "network", attr: "network[0].mtu", set: map[string]string{"gw": "gw = \"10.0.0.1\"\n    mtu = 63 # bad"}, want: `between 64 and 65535`},
		{name: "mtu_65536", group: "network", attr: "network[0].mtu", set: map[string]string{"gw": "gw = \"10.0.0.1\"\n    mtu = 65536 # bad"}, want: `between 64 and 65535`},
		{name: "rate_negative", group: "network", attr: "network[0].rate", set: map[string]string{"gw": "gw = \"10.0.0.1\"\n    rate = -1 # bad"}, want: `at least 0`},
		{name: "network_33_interfaces", group: "network", attr: "network", set: map[string]string{"resource": `resource "phoenix_lxc_container" "test" { # bad`}, blocks: nets.String(), want: `at most 32 elements`},
		{name: "nameserver_hostname", group: "dns", attr: "nameserver", attrs: "  nameserver = \"dns.google\" # bad\n", want: `Invalid nameserver`},
		{name: "nameserver_cidr", group: "dns", attr: "nameserver", attrs: "  nameserver = \"1.1.1.1 10.0.0.0/8\" # bad\n", want: `Invalid nameserver`},
		{name: "searchdomain_bang", group: "dns", attr: "searchdomain", attrs: "  searchdomain = \"bad_domain!\" # bad\n", want: `must be domain names separated by spaces`},

		// Features, startup, clone.
		{name: "features_mount_fs", group: "features", attr: `features.mount[Value("NFS!")]`, attrs: "  features = { mount = [\"NFS!\"] } # bad\n", want: `must be a file system type`},
		{name: "startup_order_negative", group: "startup", attr: "startup.order", blocks: "  startup {\n    order = -1 # bad\n  }\n", want: `at least 0`},
		{name: "template_and_clone", group: "source", attr: "clone", mention: "template or a clone block", blocks: "  clone { # bad\n    source_vmid = 900\n  }\n", want: `Conflicting sources`},
		{name: "clone_without_source", group: "source", attr: "clone.source_vmid", mention: "source_vmid", set: map[string]string{"template": ""}, blocks: "  clone { # bad\n    full = true\n  }\n", want: `Missing clone source`},
		{name: "no_source", group: "source", attr: "template", mention: "Set template", set: map[string]string{"template": "", "resource": `resource "phoenix_lxc_container" "test" { # bad`}, want: `No source for a new container`},
		{name: "clone_source_vmid_5", group: "source", attr: "clone.source_vmid", set: map[string]string{"template": ""}, blocks: "  clone {\n    source_vmid = 5 # bad\n  }\n", want: `between 100 and 999999999`},
		{name: "clone_snapshot_digit", group: "source", attr: "clone.snapshot", set: map[string]string{"template": ""}, blocks: "  clone {\n    source_vmid = 900\n    snapshot    = \"1st\" # bad\n  }\n", want: `must be a snapshot name`},
		{name: "clone_storage_space", group: "source", attr: "clone.storage", set: map[string]string{"template": ""}, blocks: "  clone {\n    source_vmid = 900\n    storage     = \"local lvm\" # bad\n  }\n", want: `must be a storage ID`},
		{name: "clone_linked_with_storage", group: "source", attr: "clone.storage", set: map[string]string{"template": ""}, blocks: "  clone {\n    source_vmid = 900\n    full        = false\n    storage     = \"local-lvm\" # bad\n  }\n", want: `Storage of a linked clone`},

		// AppArmor and raw lxc lines.
		{name: "apparmor_profile_space", group: "apparmor", attr: "apparmor_profile", attrs: "  apparmor_profile = \"my profile\" # bad\n", want: `must be an AppArmor profile name`},
		{name: "apparmor_profile_generated", group: "apparmor", attr: "apparmor_profile", attrs: "  apparmor_profile = \"generated\" # bad\n", want: `value must be none of`},
		{name: "lxc_config_apparmor", group: "lxc_config", attr: "lxc_config[0].key", attrs: "  lxc_config = [{ key = \"lxc.apparmor.profile\", value = \"unconfined\" }] # bad\n", want: `managed through apparmor_profile`},
		{name: "lxc_config_rootfs", group: "lxc_config", attr: "lxc_config[0].key", attrs: "  lxc_config = [{ key = \"lxc.rootfs.path\", value = \"/tmp\" }] # bad\n", want: `managed through the rootfs block`},
		{name: "lxc_config_net", group: "lxc_config", attr: "lxc_config[1].key", attrs: "  lxc_config = [{ key = \"lxc.cgroup2.devices.allow\", value = \"c 10:200 rwm\" }, { key = \"lxc.net.0.type\", value = \"veth\" }] # bad\n", want: `managed through the network blocks`},
		{name: "lxc_config_unknown_key", group: "lxc_config", attr: "lxc_config[0].key", attrs: "  lxc_config = [{ key = \"lxc.bogus.key\", value = \"1\" }] # bad\n", want: `not a key Proxmox VE accepts`},
		{name: "lxc_config_pve_key", group: "lxc_config", attr: "lxc_config[0].key", attrs: "  lxc_config = [{ key = \"memory\", value = \"512\" }] # bad\n", want: `not a raw LXC key`},
		{name: "lxc_config_key_space", group: "lxc_config", attr: "lxc_config[0].key", attrs: "  lxc_config = [{ key = \"lxc.cgroup2.devices allow\", value = \"a\" }] # bad\n", want: `not a key Proxmox VE accepts`},
		{name: "lxc_config_newline_value", group: "lxc_config", attr: "lxc_config[0].value", attrs: "  lxc_config = [{ key = \"lxc.cgroup2.devices.allow\", value = \"a\\nlxc.apparmor.profile: unconfined\" }] # bad\n", want: `must be one non-empty line`},
		{name: "lxc_config_blank_value", group: "lxc_config", attr: "lxc_config[0].value", attrs: "  lxc_config = [{ key = \"lxc.cgroup2.devices.allow\", value = \"  \" }] # bad\n", want: `must be one non-empty line`},

		// Console and application container settings.
		{name: "arch_x86_64", group: "console", attr: "arch", attrs: "  arch = \"x86_64\" # bad\n", want: `value must be one of`},
		{name: "console_mode_serial", group: "console", attr: "console_mode", attrs: "  console_mode = \"serial\" # bad\n", want: `value must be one of`},
		{name: "tty_count_7", group: "console", attr: "tty_count", attrs: "  tty_count = 7 # bad\n", want: `between 0 and 6`},
		{name: "hookscript_path", group: "console", attr: "hookscript", attrs: "  hookscript = \"/var/lib/vz/snippets/hook.sh\" # bad\n", want: `must be a snippet volume`},
		{name: "hookscript_not_snippet", group: "console", attr: "hookscript", attrs: "  hookscript = \"local:vztmpl/hook.sh\" # bad\n", want: `must be a snippet volume`},
		{name: "entrypoint_newline", group: "app", attr: "entrypoint", attrs: "  entrypoint = \"/bin/app\\n--x\" # bad\n", want: `no control characters`},
		{name: "environment_name_dash", group: "app", attr: "environment", attrs: "  environment = { \"MY-VAR\" = \"1\" } # bad\n", want: `must be a variable name`},
		{name: "environment_value_newline", group: "app", attr: "environment[\"A\"]", attrs: "  environment = { A = \"x\\ny\" } # bad\n", want: `no control characters`},
		{name: "lxc_config_environment", group: "lxc_config", attr: "lxc_config[0].key", attrs: "  lxc_config = [{ key = \"lxc.environment.runtime\", value = \"A=1\" }] # bad\n", want: `managed through environment`},

		// Host paths and hooks.
		{name: "device_guest_disk", group: "mounts", attr: "device[0].path", blocks: "  device {\n    slot = 0\n    path = \"/dev/vgdata/vm-101-disk-0\" # bad\n  }\n", want: `Host device refused: .*a guest's disk`},
		{name: "device_rbd_image", group: "mounts", attr: "device[0].path", blocks: "  device {\n    slot = 0\n    path = \"/dev/rbd/rbdpool/vm-103-disk-0\" # bad\n  }\n", want: `Host device refused`},
		{name: "mount_point_raid_device", group: "mounts", attr: "mount_point[0].volume", blocks: "  mount_point {\n    slot   = 0\n    path   = \"/data\"\n    volume = \"/dev/md2\" # bad\n  }\n", want: `Host device refused`},
		{name: "mount_point_zvol", group: "mounts", attr: "mount_point[0].volume", blocks: "  mount_point {\n    slot   = 0\n    path   = \"/data\"\n    volume = \"/dev/zvol/rpool/data/vm-100-disk-0\" # bad\n  }\n", want: `Host device refused`},
		{name: "mount_point_bind_snippets", group: "mounts", attr: "mount_point[0].volume", blocks: "  mount_point {\n    slot   = 0\n    path   = \"/data\"\n    volume = \"/var/lib/vz/snippets\" # bad\n  }\n", want: `Host path refused`},
		{name: "mount_point_bind_dump", group: "mounts", attr: "mount_point[0].volume", blocks: "  mount_point {\n    slot   = 0\n    path   = \"/data\"\n    volume = \"/mnt/pve/nas/dump\" # bad\n  }\n", want: `Host path refused: .*storage of Proxmox VE's guests`},
		{name: "mount_point_bind_home", group: "mounts", attr: "mount_point[0].volume", blocks: "  mount_point {\n    slot   = 0\n    path   = \"/data\"\n    volume = \"/home/alice\" # bad\n  }\n", want: `Host path refused`},
		{name: "mount_point_outside_bind_roots", group: "mounts", attr: "mount_point[0].volume", providerBody: "  bind_mount_roots = [\"/srv/shared\"]\n" + "  ssh {\n    agent = true\n  }\n", blocks: "  mount_point {\n    slot   = 0\n    path   = \"/data\"\n    volume = \"/srv/other\" # bad\n  }\n", want: `Bind source outside bind_mount_roots`},
		{name: "provider_bind_mount_roots_dotdot", group: "provider", attr: "bind_mount_roots[0]", providerBody: "  bind_mount_roots = [\"/srv/../etc\"] # bad\n", want: `must be an absolute path`},
		{name: "provider_bind_mount_roots_relative", group: "provider", attr: "bind_mount_roots[0]", providerBody: "  bind_mount_roots = [\"srv/shared\"] # bad\n", want: `must be an absolute path`},
		{name: "id_map_host_root", group: "mounts", attr: "id_map[0].host_id", providerBody: "  ssh {\n    agent = true\n  }\n",
			blocks: "  id_map {\n    kind         = \"uid\"\n    container_id = 0\n    host_id      = 0 # bad\n    size         = 65536\n  }\n" +
				"  id_map {\n    kind         = \"gid\"\n    container_id = 0\n    host_id      = 100000\n    size         = 65536\n  }\n",
			want: `ID map gives the container the node's root: .*unprivileged = false`},
		{name: "hookscript_without_opt_in", group: "console", attr: "hookscript", providerBody: "  ssh {\n    agent = true\n  }\n", attrs: "  hookscript = \"local:snippets/h.sh\" # bad\n", want: `Hookscript without opt-in`},

		// Credentials of the container.
		{name: "password_4_chars", group: "credentials", attr: "password", attrs: "  password = \"abcd\" # bad\n", want: `length must be at least 5`},
		{name: "ssh_public_key_garbage", group: "credentials", attr: "ssh_public_keys[0]", attrs: "  ssh_public_keys = [\"nope\"] # bad\n", want: `Invalid SSH public key`},
		{name: "ssh_public_key_bad_blob", group: "credentials", attr: "ssh_public_keys[0]", attrs: "  ssh_public_keys = [\"ssh-ed25519 AAAA\"] # bad\n", want: `Invalid SSH public key`},
		{name: "ssh_public_key_two_lines", group: "credentials", attr: "ssh_public_keys[0]", attrs: "  ssh_public_keys = [\"" + testPublicKey + " a\\n" + testPublicKey + " b\"] # bad\n", want: `Invalid SSH public key`},

		// Docker.
		{name: "docker_package_source", group: "docker", attr: "docker.package_source", blocks: docker("    package_source = \"snap\" # bad\n"), want: `value must be one of`},
		{name: "docker_version_injection", group: "docker", attr: "docker.version", blocks: docker("    version = \"27.3.1; reboot\" # bad\n"), want: `Invalid Docker version`},
		{name: "docker_storage_driver_aufs", group: "docker", attr: "docker.storage_driver", blocks: docker("    storage_driver = \"aufs\" # bad\n"), want: `value must be one of`},
		{name: "docker_daemon_json_malformed", group: "docker", attr: "docker.daemon_json", blocks: docker("    daemon_json = \"{not json\" # bad\n"), want: `Invalid JSON String Value`},
		{name: "docker_daemon_json_array", group: "docker", attr: "docker.daemon_json", blocks: docker("    daemon_json = \"[1, 2]\" # bad\n"), want: `must be a JSON object`},
		{name: "docker_daemon_json_driver_conflict", group: "docker", attr: "docker.daemon_json", blocks: docker("    daemon_json = jsonencode({ \"storage-driver\" = \"vfs\" }) # bad\n"), want: `conflicts with storage_driver`},
		{name: "docker_daemon_json_data_root_outside_profile", group: "docker", attr: "docker.daemon_json", blocks: docker("    daemon_json = jsonencode({ \"data-root\" = \"/srv/docker\" }) # bad\n"), want: `outside /var/lib/docker`},
		{name: "docker_network_target_injection", group: "docker", attr: "docker.health_checks.network_target", blocks: docker("    health_checks {\n      network_target = \"1.1.1.1; reboot\" # bad\n    }\n"), want: `Invalid network target`},
		{name: "docker_hello_world_image_option", group: "docker", attr: "docker.health_checks.hello_world_image", blocks: docker("    health_checks {\n      hello_world_image = \"--privileged\" # bad\n    }\n"), want: `Invalid hello-world image`},
		{name: "docker_hello_world_image_short_digest", group: "docker", attr: "docker.health_checks.hello_world_image", blocks: docker("    health_checks {\n      hello_world_image = \"hello-world@sha256:abc123\" # bad\n    }\n"), want: `digest "sha256:abc123"`},
		{name: "docker_hello_world_image_bad_port", group: "docker", attr: "docker.health_checks.hello_world_image", blocks: docker("    health_checks {\n      hello_world_image = \"mirror.lan:http/hello-world\" # bad\n    }\n"), want: `registry "mirror.lan:http"`},
		{name: "docker_fuse_overlayfs_without_fuse", group: "docker", attr: "docker.storage_driver", blocks: docker("    storage_driver = \"fuse-overlayfs\" # bad\n"), want: `fuse-overlayfs needs FUSE`},
		{name: "docker_nesting_false", group: "docker", attr: "features.nesting", attrs: "  features = { nesting = false } # bad\n", blocks: docker(""), want: `Docker needs nesting`},
		{name: "docker_keyctl_false", group: "docker", attr: "features.keyctl", attrs: "  features = { keyctl = false } # bad\n", blocks: docker(""), want: `Docker needs keyctl`},
		{name: "docker_lxc_every_device", group: "docker", attr: "lxc_config[0].key", mention: "lxc_config[0]", attrs: "  lxc_config = [{ key = \"lxc.cgroup2.devices.allow\", value = \"a\" }] # bad\n", blocks: docker(""), want: `Raw line voids the Docker hardening: .*every device`},
		{name: "docker_lxc_docker_socket", group: "docker", attr: "lxc_config[0].key", mention: "lxc_config[0]", attrs: "  lxc_config = [{ key = \"lxc.mount.entry\", value = \"/var/run/docker.sock var/run/docker.sock none bind,create=file 0 0\" }] # bad\n", blocks: docker(""), want: `Raw line voids the Docker hardening: .*container runtime`},
		{name: "apparmor_docker_profile_privileged", group: "apparmor", attr: "apparmor_profile", set: map[string]string{"unprivileged": "unprivileged = false"}, attrs: "  apparmor_profile = \"lxc-docker-secure\" # bad\n", want: `The Docker profile needs an unprivileged container`},
		{name: "lxc_config_hook_without_opt_in", group: "lxc_config", attr: "lxc_config[0].key", mention: "lxc_config[0]", attrs: "  lxc_config = [{ key = \"lxc.hook.pre-start\", value = \"/usr/local/bin/x\" }] # bad\n", want: `LXC hook without opt-in`},

		// Timeouts.
		{name: "timeout_words", group: "timeouts", attr: "timeouts.create", blocks: "  timeouts {\n    create = \"10 minutes\" # bad\n  }\n", want: `must be a string containing a sequence of decimal numbers`},
		{name: "timeout_no_unit", group: "timeouts", attr: "timeouts.delete", blocks: "  timeouts {\n    delete = \"30\" # bad\n  }\n", want: `must be a string containing a sequence of decimal numbers`},

		// The provider block.
		{name: "provider_endpoint_no_scheme", group: "provider", attr: "endpoint", set: map[string]string{"endpoint": `endpoint = "pve1.lan:8006" # bad`}, want: `has no scheme`},
		{name: "provider_endpoint_ftp", group: "provider", attr: "endpoint", set: map[string]string{"endpoint": `endpoint = "ftp://pve1.lan/" # bad`}, want: `Proxmox VE listens on https`},
		{name: "provider_endpoint_query", group: "provider", attr: "endpoint", set: map[string]string{"endpoint": `endpoint = "https://pve1.lan:8006/?debug=1" # bad`}, want: `must not carry a query`},
		{name: "provider_api_token_no_secret", group: "provider", attr: "api_token", set: map[string]string{"api_token": `api_token = "root@pam!terraform" # bad`}, want: `USER@REALM!TOKENID=SECRET`},
		{name: "provider_api_token_and_password", group: "provider", attr: "api_token", set: map[string]string{"api_token": `api_token = "root@pam!t=0b1c5d6e-0000-4000-8000-000000000000" # bad`}, providerBody: "  password = \"hunter22\"\n", want: `cannot be specified when|Conflicting credentials`},
		{name: "provider_username_no_realm", group: "provider", attr: "username", set: map[string]string{"api_token": "username = \"root\" # bad\n  password = \"hunter22\""}, want: `must be USER@REALM`},
		{name: "provider_ca_certificate_not_pem", group: "provider", attr: "ca_certificate", set: map[string]string{"ca_certificate": `ca_certificate = "not a certificate" # bad`}, want: `no PEM certificate`},
		{name: "provider_ssh_private_key_path", group: "provider", attr: "ssh.private_key", providerBody: "  ssh {\n    private_key = \"~/.ssh/id_ed25519\" # bad\n  }\n", want: `not a private key`},
		{name: "provider_ssh_private_key_garbage", group: "provider", attr: "ssh.private_key", providerBody: "  ssh {\n    private_key = \"-----BEGIN OPENSSH PRIVATE KEY-----\\nAAAA\\n-----END OPENSSH PRIVATE KEY-----\\n\" # bad\n  }\n", want: `cannot be parsed`},
		{name: "provider_ssh_node_duplicate", group: "provider", attr: "ssh.node[1].name", providerBody: "  ssh {\n    agent = true\n    node {\n      name    = \"pve1\"\n      address = \"10.0.0.1\"\n    }\n    node {\n      name    = \"pve1\" # bad\n      address = \"10.0.0.2\"\n    }\n  }\n", want: `Duplicate node override`},
		{name: "provider_ssh_node_port_0", group: "provider", attr: "ssh.node[0].port", providerBody: "  ssh {\n    agent = true\n    node {\n      name    = \"pve1\"\n      address = \"10.0.0.1\"\n      port    = 0 # bad\n    }\n  }\n", want: `between 1 and 65535`},
		{name: "provider_ssh_node_name", group: "provider", attr: "ssh.node[0].name", providerBody: "  ssh {\n    agent = true\n    node {\n      name    = \"pve 1\" # bad\n      address = \"10.0.0.1\"\n    }\n  }\n", want: `must be a Proxmox VE node name`},
		{name: "provider_ssh_node_empty_address", group: "provider", attr: "ssh.node[0].address", providerBody: "  ssh {\n    agent = true\n    node {\n      name    = \"pve1\"\n      address = \"\" # bad\n    }\n  }\n", want: `length must be at least 1`},
	}
}

// testPublicKey is a well-formed ed25519 public key (no private half is kept).
const testPublicKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFP6sfdoN4v2w7jPgMCxkny+k7jQebfV5DcZx9250BMG"

// tfDiagnostic is a diagnostic of terraform's JSON output.
type tfDiagnostic struct {
	Severity string `json:"severity"`
	Summary  string `json:"summary"`
	Detail   string `json:"detail"`
	Address  string `json:"address"`
	Range    *struct {
		Start struct {
			Line int `json:"line"`
		} `json:"start"`
	} `json:"range"`
	Snippet *struct {
		Code string `json:"code"`
	} `json:"snippet"`
}

// validateDiagnostics parses "terraform validate -json".
func validateDiagnostics(out string) ([]tfDiagnostic, error) {
	i := strings.Index(out, "{")
	if i < 0 {
		return nil, fmt.Errorf("no JSON in %q", out)
	}
	var doc struct {
		Valid       bool           `json:"valid"`
		Diagnostics []tfDiagnostic `json:"diagnostics"`
	}
	if err := json.NewDecoder(strings.NewReader(out[i:])).Decode(&doc); err != nil {
		return nil, err
	}
	return doc.Diagnostics, nil
}

// streamDiagnostics parses the diagnostics of a "-json" run of plan or apply.
func streamDiagnostics(out string) []tfDiagnostic {
	var diags []tfDiagnostic
	for _, l := range strings.Split(out, "\n") {
		if !strings.HasPrefix(l, "{") {
			continue
		}
		var msg struct {
			Type       string       `json:"type"`
			Diagnostic tfDiagnostic `json:"diagnostic"`
		}
		if json.Unmarshal([]byte(l), &msg) == nil && msg.Type == "diagnostic" {
			diags = append(diags, msg.Diagnostic)
		}
	}
	return diags
}

func errorsOf(diags []tfDiagnostic) []tfDiagnostic {
	var out []tfDiagnostic
	for _, d := range diags {
		if d.Severity == "error" {
			out = append(out, d)
		}
	}
	return out
}

// badRow is one row of badinput.json.
type badRow struct {
	Name      string  `json:"name"`
	Group     string  `json:"group"`
	Attribute string  `json:"attribute"`
	Stage     string  `json:"stage"`
	LocatedBy string  `json:"located_by"`
	Summary   string  `json:"summary"`
	Seconds   float64 `json:"seconds"`
	runs      int
}

// badFigures is badinput.json.
type badFigures struct {
	Command          string   `json:"command"`
	TerraformVersion string   `json:"terraform_version"`
	Cases            int      `json:"cases"`
	CaughtAtValidate int      `json:"caught_at_validate"`
	CaughtAtPlan     int      `json:"caught_at_plan"`
	TerraformRuns    int      `json:"terraform_runs"`
	Parallel         int      `json:"parallel"`
	APICalls         int      `json:"api_calls"`
	WallSeconds      float64  `json:"wall_seconds"`
	Rows             []badRow `json:"rows"`
}

// TestAccBadInput is described at the top of this file.
func TestAccBadInput(t *testing.T) {
	t.Parallel()
	e := newAccEnv(t)
	if e.sim == nil {
		t.Skip("needs the simulator: that no bad input reaches the API is asserted through its request log")
	}
	cases := badInputCases()

	// The base configuration is valid: it plans, and applies to give the
	// prior state of the update cases.
	priorDir := t.TempDir()
	base := badCase{name: "base"}
	writeFile(t, filepath.Join(priorDir, "main.tf"), base.render(e))
	if out, err := runTerraform(t, priorDir, "apply", "-auto-approve", "-input=false", "-no-color"); err != nil {
		t.Fatalf("the base configuration does not apply: %v\n%s", err, out)
	}
	priorState, err := os.ReadFile(filepath.Join(priorDir, "terraform.tfstate"))
	if err != nil {
		t.Fatal(err)
	}
	// Valid values of the attributes the table breaks plan cleanly, so each
	// case fails because of its one bad value.
	controls := []badCase{
		{name: "control_full", attrs: "  description = \"ok\"\n  tags = [\"prod\", \"web_1\", \"a+b.c\"]\n  os_type = \"debian\"\n  cores = 2\n  cpu_limit = 1.5\n" +
			"  cpu_units = 1024\n  memory = 16\n  swap = 0\n  nameserver = \"1.1.1.1 2606:4700:4700::1111,fe80::1%eth0\"\n  searchdomain = \"lan example.com\"\n" +
			"  features = { fuse = true, mount = [\"nfs\"] }\n  password = \"hunter22\"\n  ssh_public_keys = [\"" + testPublicKey + " me@host\"]\n" +
			"  lxc_config = [{ key = \"lxc.cgroup2.devices.allow\", value = \"c 10:200 rwm\" }]\n" +
			"  arch = \"arm64\"\n  console_mode = \"shell\"\n  console = false\n  tty_count = 0\n  hookscript = \"local:snippets/h.sh\"\n  allow_lxc_hooks = true\n" +
			"  entrypoint = \"/bin/app\\t--x\"\n  environment = { A_1 = \"x\\ty\" }\n",
			set: map[string]string{"gw": "gw = \"10.0.0.1\"\n    ip6 = \"fd00::2/64\"\n    gw6 = \"fd00::1\"\n    hwaddr = \"BC:24:11:00:00:01\"\n    vlan = 4094\n    mtu = 9000\n    rate = 0",
				"bridge": `bridge = "vmbr0123456789a"`},
			blocks: "  startup {\n    order = 0\n  }\n  timeouts {\n    create = \"10m\"\n  }\n  docker {\n    package_source = \"distro\"\n    version = \"27.3.1\"\n" +
				"    storage_driver = \"fuse-overlayfs\"\n    daemon_json = jsonencode({ \"log-driver\" = \"journald\" })\n    health_checks {\n      network_target = \"one.one.one.one\"\n      hello_world_image = \"mirror.lan:5000/library/hello-world@sha256:" + strings.Repeat("0f", 32) + "\"\n    }\n  }\n",
			providerBody: "  ssh {\n    agent = true\n    node {\n      name    = \"pve1\"\n      address = \"10.0.0.1\"\n      port    = 2222\n    }\n  }\n"},
		{name: "control_clone", set: map[string]string{"template": "", "storage": "", "size": ""}, blocks: "  clone {\n    source_vmid = 900\n    full        = false\n  }\n"},
		{name: "control_grow", prior: true, set: map[string]string{"size": `size = "16G"`}},
	}
	for _, c := range controls {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "main.tf"), c.render(e))
		if c.prior {
			writeFile(t, filepath.Join(dir, "terraform.tfstate"), string(priorState))
		}
		if out, err := runTerraform(t, dir, "plan", "-refresh=false", "-input=false", "-no-color", "-lock=false"); err != nil {
			t.Fatalf("%s does not plan: %v\n%s", c.name, err, out)
		}
	}

	e.resetLog()
	rows := make([]badRow, len(cases))
	start := time.Now()
	t.Run("cases", func(t *testing.T) {
		for i, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				rows[i] = runBadCase(t, e, c, priorState)
			})
		}
	})
	wall := time.Since(start)

	reqs := e.sim.Requests()
	if len(reqs) != 0 {
		var lines []string
		for _, r := range reqs {
			lines = append(lines, r.Method+" "+r.Path)
		}
		t.Errorf("the bad-input table reached the API %d times: %s", len(reqs), strings.Join(lines, ", "))
	}
	if len(cases) < 60 {
		t.Errorf("the table holds %d cases, want at least 60", len(cases))
	}
	var ran []badRow
	for _, r := range rows {
		if r.Name != "" {
			ran = append(ran, r)
		}
	}
	fig := badFigures{
		Command:  "TF_ACC=1 go test ./internal/provider -run '^TestAccBadInput$' -count=1 -v -parallel 4",
		Cases:    len(ran),
		Parallel: parallelFlag(),
		APICalls: len(reqs), WallSeconds: roundSeconds(wall), Rows: ran,
	}
	fig.TerraformVersion = terraformVersion(t)
	for _, r := range ran {
		fig.TerraformRuns += r.runs
		switch r.Stage {
		case "validate":
			fig.CaughtAtValidate++
		case "plan":
			fig.CaughtAtPlan++
		}
	}
	t.Logf("%d bad inputs: %d caught at validate, %d at plan, %d terraform runs, %d API calls, %.1f s wall time with -parallel %d",
		fig.Cases, fig.CaughtAtValidate, fig.CaughtAtPlan, fig.TerraformRuns, fig.APICalls, fig.WallSeconds, fig.Parallel)
	if !t.Failed() && len(ran) == len(cases) {
		saveFigures(t, "badinput.json", fig)
	}
}

// runBadCase runs validate, then plan when validate passes, and checks the
// error and where it points.
func runBadCase(t *testing.T, e *accEnv, c badCase, priorState []byte) badRow {
	t.Helper()
	start := time.Now()
	row := badRow{Name: c.name, Group: c.group, Attribute: c.attr}
	dir := t.TempDir()
	src := c.render(e)
	writeFile(t, filepath.Join(dir, "main.tf"), src)
	if c.prior {
		writeFile(t, filepath.Join(dir, "terraform.tfstate"), string(priorState))
	}
	marker := 0
	for i, l := range strings.Split(src, "\n") {
		if strings.Contains(l, "# bad") {
			if marker != 0 {
				t.Fatalf("more than one line marked # bad")
			}
			marker = i + 1
		}
	}
	if marker == 0 {
		t.Fatalf("no line marked # bad")
	}

	out, err := runTerraform(t, dir, "validate", "-json", "-no-color")
	row.runs++
	row.Stage = "validate"
	diags, perr := validateDiagnostics(out)
	if perr != nil {
		t.Fatalf("validate output: %v\n%s", perr, out)
	}
	if err == nil && len(errorsOf(diags)) == 0 {
		out, err = runTerraform(t, dir, "plan", "-refresh=false", "-input=false", "-no-color", "-lock=false", "-json")
		row.runs++
		row.Stage = "plan"
		diags = streamDiagnostics(out)
		if err == nil {
			t.Fatalf("validate and plan both succeeded:\n%s", src)
		}
	}
	want := regexp.MustCompile(c.want)
	var match *tfDiagnostic
	for _, d := range errorsOf(diags) {
		if want.MatchString(d.Summary + ": " + d.Detail) {
			match = &d
			break
		}
	}
	if match == nil {
		t.Fatalf("no error matches %q at %s; got:\n%s", c.want, row.Stage, describeDiags(errorsOf(diags)))
	}
	row.Summary = match.Summary
	mention := c.mention
	if mention == "" {
		mention = c.attr
	}
	headerLine := strings.HasPrefix(strings.Split(src, "\n")[marker-1], "resource ")
	switch {
	case match.Range != nil && match.Range.Start.Line == marker && !headerLine:
		row.LocatedBy = "source line"
	case strings.Contains(match.Detail, mention) || strings.Contains(match.Summary, mention):
		row.LocatedBy = "message"
	default:
		line := 0
		if match.Range != nil {
			line = match.Range.Start.Line
		}
		t.Fatalf("the error points at line %d, not at the attribute %s (line %d), and its message does not name %q:\n%s",
			line, c.attr, marker, mention, describeDiags([]tfDiagnostic{*match}))
	}
	if c.group != "provider" && match.Address != "" && match.Address != ctAddr {
		t.Errorf("the error is about %s, want %s", match.Address, ctAddr)
	}
	row.Seconds = roundSeconds(time.Since(start))
	return row
}

func describeDiags(diags []tfDiagnostic) string {
	var b strings.Builder
	for _, d := range diags {
		line := 0
		code := ""
		if d.Range != nil {
			line = d.Range.Start.Line
		}
		if d.Snippet != nil {
			code = d.Snippet.Code
		}
		fmt.Fprintf(&b, "  [%s] %s: %s (line %d: %s)\n", d.Address, d.Summary, d.Detail, line, code)
	}
	return b.String()
}

func roundSeconds(d time.Duration) float64 { return float64(d.Milliseconds()) / 1000 }

// parallelFlag is go test's -parallel value.
func parallelFlag() int {
	if f := flag.Lookup("test.parallel"); f != nil {
		var n int
		if _, err := fmt.Sscan(f.Value.String(), &n); err == nil {
			return n
		}
	}
	return 0
}

// terraformVersion is the CLI's version, e.g. "1.11.4".
func terraformVersion(t *testing.T) string {
	t.Helper()
	out, err := runTerraform(t, t.TempDir(), "version", "-json")
	if err != nil {
		return ""
	}
	var v struct {
		Version string `json:"terraform_version"`
	}
	if i := strings.Index(out, "{"); i >= 0 {
		_ = json.NewDecoder(strings.NewReader(out[i:])).Decode(&v)
	}
	return v.Version
}

// What validation accepts maps onto Proxmox VE's property strings and back
// unchanged: the fuzz targets below keep only the values the schema's own
// validators accept, render them as desiredConfig does for the API, parse
// the result as a read does, and compare.

// schemaAccepts runs the single-attribute validators of a network block's
// attribute on v (validators that read other attributes are skipped).
func schemaAccepts(t *testing.T, attr string, v attr.Value) bool {
	t.Helper()
	ctx := t.Context()
	block, ok := lxcContainerSchema(ctx).Blocks["network"].(schema.ListNestedBlock)
	if !ok {
		t.Fatal("network is not a list block")
	}
	p := path.Root("network").AtListIndex(0).AtName(attr)
	var diags diag.Diagnostics
	switch a := block.NestedObject.Attributes[attr].(type) {
	case schema.StringAttribute:
		sv, _ := v.(types.String)
		for _, val := range a.Validators {
			if _, crossAttr := val.(gatewayNeedsAddress); crossAttr {
				continue
			}
			resp := &validator.StringResponse{}
			val.ValidateString(ctx, validator.StringRequest{Path: p, ConfigValue: sv}, resp)
			diags.Append(resp.Diagnostics...)
		}
	case schema.Int64Attribute:
		iv, _ := v.(types.Int64)
		for _, val := range a.Validators {
			resp := &validator.Int64Response{}
			val.ValidateInt64(ctx, validator.Int64Request{Path: p, ConfigValue: iv}, resp)
			diags.Append(resp.Diagnostics...)
		}
	case schema.Float64Attribute:
		fv, _ := v.(types.Float64)
		for _, val := range a.Validators {
			resp := &validator.Float64Response{}
			val.ValidateFloat64(ctx, validator.Float64Request{Path: p, ConfigValue: fv}, resp)
			diags.Append(resp.Diagnostics...)
		}
	default:
		t.Fatalf("network.%s has no validators to run (%T)", attr, a)
	}
	return !diags.HasError()
}

func FuzzNetworkBlockRoundTrip(f *testing.F) {
	f.Add("eth0", "vmbr0", "10.0.0.2/24", "10.0.0.1", "fd00::2/64", "fd00::1", "BC:24:11:00:00:01", true, int64(10), int64(1500), 1.5)
	f.Add("eth1", "vmbr1", "dhcp", "", "auto", "", "bc:24:11:2e:c5:7e", false, int64(0), int64(0), 0.0)
	f.Add("e", "v", "manual", "", "", "", "", false, int64(4094), int64(65535), 1e-9)
	f.Fuzz(func(t *testing.T, name, bridge, ip, gw, ip6, gw6, hwaddr string, firewall bool, vlan, mtu int64, rate float64) {
		if math.IsNaN(rate) || math.IsInf(rate, 0) {
			return // Terraform numbers are never NaN or infinite.
		}
		str := func(s string) types.String {
			if s == "" {
				return types.StringNull()
			}
			return types.StringValue(s)
		}
		num := func(n int64) types.Int64 {
			if n == 0 {
				return types.Int64Null()
			}
			return types.Int64Value(n)
		}
		n := networkModel{
			Name: types.StringValue(name), Bridge: str(bridge), IP: str(ip), Gw: str(gw), IP6: str(ip6), Gw6: str(gw6),
			HWAddr: str(hwaddr), Firewall: types.BoolValue(firewall), VLAN: num(vlan), MTU: num(mtu), Rate: types.Float64Value(rate),
		}
		for a, v := range map[string]attr.Value{"name": n.Name, "bridge": n.Bridge, "ip": n.IP, "gw": n.Gw, "ip6": n.IP6, "gw6": n.Gw6,
			"hwaddr": n.HWAddr, "vlan": n.VLAN, "mtu": n.MTU, "rate": n.Rate} {
			if !schemaAccepts(t, a, v) {
				return
			}
		}
		ctx := t.Context()
		m := testModel()
		if diags := m.setNetworks(ctx, []networkModel{n}); diags.HasError() {
			t.Fatal(diags)
		}
		desired, diags := desiredConfig(ctx, m)
		if diags.HasError() {
			t.Fatal(diags)
		}
		if _, err := pve.ParseNet(desired["net0"]); err != nil {
			t.Fatalf("net0 = %q does not parse: %v", desired["net0"], err)
		}
		back := testModel()
		back.Network = m.Network
		if diags := applyNetworks(ctx, back, desired); diags.HasError() {
			t.Fatalf("net0 = %q: %v", desired["net0"], diags)
		}
		if !back.Network.Equal(m.Network) {
			t.Fatalf("net0 = %q reads back as another block:\n got %v\nwant %v", desired["net0"], back.Network, m.Network)
		}
	})
}

func FuzzFeaturesRoundTrip(f *testing.F) {
	f.Add(true, true, false, false, "nfs,cifs")
	f.Add(false, false, true, true, "")
	f.Fuzz(func(t *testing.T, nesting, keyctl, fuse, mknod bool, mounts string) {
		var ms []attr.Value
		seen := map[string]bool{}
		for _, m := range strings.Split(mounts, ",") {
			if m == "" || seen[m] {
				continue
			}
			if !regexp.MustCompile(`^[a-z0-9_]+$`).MatchString(m) {
				return // the schema refuses it
			}
			seen[m] = true
			ms = append(ms, types.StringValue(m))
		}
		want := featuresValue{
			Nesting: types.BoolValue(nesting), Keyctl: types.BoolValue(keyctl), Fuse: types.BoolValue(fuse), Mknod: types.BoolValue(mknod),
			Mount: types.SetValueMust(types.StringType, ms),
		}
		s, diags := want.pveString(t.Context())
		if diags.HasError() {
			t.Fatal(diags)
		}
		pf, err := pve.ParseFeatures(s)
		if err != nil {
			t.Fatalf("features = %q does not parse: %v", s, err)
		}
		got := featuresFromPVE(pf)
		if !got.Nesting.Equal(want.Nesting) || !got.Keyctl.Equal(want.Keyctl) || !got.Fuse.Equal(want.Fuse) ||
			!got.Mknod.Equal(want.Mknod) || !got.Mount.Equal(want.Mount) {
			t.Fatalf("features = %q reads back as %+v, want %+v", s, got, want)
		}
	})
}
