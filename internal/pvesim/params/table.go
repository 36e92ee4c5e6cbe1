package params

import (
	"maps"
	"strconv"
	"strings"
)

// Indexed parameters ("net[n]") stand for name0 .. name<count-1>, with the
// counts of PVE::LXC::Config ($MAX_LXC_NETWORKS, $MAX_MOUNT_POINTS,
// $MAX_UNUSED_DISKS, $MAX_DEVICES).
var indexCount = map[string]int{
	"net[n]":    32,
	"mp[n]":     256,
	"unused[n]": 256,
	"dev[n]":    256,
}

// optional returns a copy of p that may be left out.
func optional(p prop) *prop {
	p.Optional = true
	return &p
}

func required(p prop) *prop { return &p }

// Building blocks shared by several endpoints.
var (
	nodeP     = prop{Type: String, Format: "pve-node"}
	vmidP     = prop{Type: Integer, Format: "pve-vmid", Min: "100", Max: "999999999"}
	boolP     = prop{Type: Boolean}
	stringP   = prop{Type: String}
	storageP  = prop{Type: String, Format: "pve-storage-id"}
	snapnameP = prop{Type: String, Format: "pve-configid", MaxLength: 40}
	poolP     = prop{Type: String, Format: "pve-poolid"}
	upidP     = prop{Type: String}
	countP    = prop{Type: Integer, Min: "0"}
)

// mountOption is the Go spelling of pve-container's $valid_mount_option_re.
const mountOption = `(discard|lazytime|noatime|nodev|noexec|nosuid)`

// rootfsKeys describes the rootfs property string.
func rootfsKeys() map[string]*prop {
	return map[string]*prop{
		"volume":       required(prop{Type: String, Format: "pve-lxc-mp-string", DefaultKey: true}),
		"size":         optional(prop{Type: String, Format: "disk-size"}),
		"acl":          optional(boolP),
		"mountoptions": optional(prop{Type: String, Pattern: mountOption + `(;` + mountOption + `)*`}),
		"ro":           optional(boolP),
		"quota":        optional(boolP),
		"replicate":    optional(boolP),
		"shared":       optional(boolP),
	}
}

// mpKeys describes the mp[n] property string: rootfs plus backup and the
// mount path.
func mpKeys() map[string]*prop {
	k := rootfsKeys()
	k["backup"] = optional(boolP)
	k["keepattrs"] = optional(boolP)
	k["mp"] = required(prop{Type: String, Format: "pve-lxc-mp-string"})
	return k
}

func netKeys() map[string]*prop {
	name := `[-_.\w\d]+`
	return map[string]*prop{
		"name":         required(prop{Type: String, Pattern: name}),
		"bridge":       optional(prop{Type: String, Pattern: name}),
		"firewall":     optional(boolP),
		"gw":           optional(prop{Type: String, Format: "ipv4"}),
		"gw6":          optional(prop{Type: String, Format: "ipv6"}),
		"host-managed": optional(boolP),
		"hwaddr":       optional(prop{Type: String, Format: "mac-addr"}),
		"ip":           optional(prop{Type: String, Format: "pve-ipv4-config"}),
		"ip6":          optional(prop{Type: String, Format: "pve-ipv6-config"}),
		"link_down":    optional(boolP),
		"mtu":          optional(prop{Type: Integer, Min: "64", Max: "65535"}),
		"rate":         optional(prop{Type: Number}),
		"tag":          optional(prop{Type: Integer, Min: "1", Max: "4094"}),
		"trunks":       optional(prop{Type: String, Pattern: `\d+(?:;\d+)*`}),
		"type":         optional(prop{Type: String, Enum: []string{"veth"}}),
	}
}

func featureKeys() map[string]*prop {
	return map[string]*prop{
		"force_rw_sys": optional(boolP),
		"fuse":         optional(boolP),
		"keyctl":       optional(boolP),
		"mknod":        optional(boolP),
		"mount":        optional(prop{Type: String, Pattern: `[a-zA-Z0-9_; ]+`}),
		"nesting":      optional(boolP),
	}
}

func devKeys() map[string]*prop {
	return map[string]*prop{
		"path":       optional(prop{Type: String, Format: "pve-lxc-dev-string", DefaultKey: true}),
		"deny-write": optional(boolP),
		"gid":        optional(prop{Type: Integer, Min: "0"}),
		"mode":       optional(prop{Type: String, Pattern: `0[0-7]{3}`}),
		"uid":        optional(prop{Type: Integer, Min: "0"}),
	}
}

func unusedKeys() map[string]*prop {
	return map[string]*prop{
		"volume": required(prop{Type: String, Format: "pve-volume-id", DefaultKey: true}),
	}
}

// ctConfig returns the container options that both create and update
// accept (PVE::LXC::Config's json_config_properties).
func ctConfig() map[string]*prop {
	return map[string]*prop{
		"arch":         optional(prop{Type: String, Enum: []string{"amd64", "i386", "arm64", "armhf", "riscv32", "riscv64"}}),
		"cmode":        optional(prop{Type: String, Enum: []string{"shell", "console", "tty"}}),
		"console":      optional(boolP),
		"cores":        optional(prop{Type: Integer, Min: "1", Max: "8192"}),
		"cpulimit":     optional(prop{Type: Number, Min: "0", Max: "8192"}),
		"cpuunits":     optional(prop{Type: Integer, Min: "0", Max: "500000"}),
		"debug":        optional(boolP),
		"description":  optional(prop{Type: String, MaxLength: 8192}),
		"dev[n]":       optional(prop{Type: String, Sub: devKeys()}),
		"entrypoint":   optional(prop{Type: String, Pattern: `[^\x00-\x08\x10-\x1F\x7F]+`}),
		"env":          optional(prop{Type: String, Pattern: `(?:\w+=[^\x00-\x08\x10-\x1F\x7F]*)(?:\x00\w+=[^\x00-\x08\x10-\x1F\x7F]*)*`}),
		"features":     optional(prop{Type: String, Sub: featureKeys()}),
		"hookscript":   optional(prop{Type: String, Format: "pve-volume-id"}),
		"hostname":     optional(prop{Type: String, Format: "dns-name", MaxLength: 255}),
		"lock":         optional(prop{Type: String, Enum: []string{"backup", "create", "destroyed", "disk", "fstrim", "migrate", "mounted", "rollback", "snapshot", "snapshot-delete"}}),
		"memory":       optional(prop{Type: Integer, Min: "16"}),
		"mp[n]":        optional(prop{Type: String, Sub: mpKeys()}),
		"nameserver":   optional(prop{Type: String, Format: "lxc-ip-with-ll-iface-list"}),
		"net[n]":       optional(prop{Type: String, Sub: netKeys()}),
		"node":         required(nodeP),
		"onboot":       optional(boolP),
		"ostype":       optional(prop{Type: String, Enum: []string{"debian", "devuan", "ubuntu", "centos", "fedora", "opensuse", "archlinux", "alpine", "gentoo", "nixos", "unmanaged"}}),
		"protection":   optional(boolP),
		"rootfs":       optional(prop{Type: String, Sub: rootfsKeys()}),
		"searchdomain": optional(prop{Type: String, Format: "dns-name-list"}),
		"startup":      optional(prop{Type: String, Format: "pve-startup-order"}),
		"swap":         optional(prop{Type: Integer, Min: "0"}),
		"tags":         optional(prop{Type: String, Format: "pve-tag-list"}),
		"template":     optional(boolP),
		"timezone":     optional(prop{Type: String, Format: "pve-ct-timezone"}),
		"tty":          optional(prop{Type: Integer, Min: "0", Max: "6"}),
		"unprivileged": optional(boolP),
		"unused[n]":    optional(prop{Type: String, Sub: unusedKeys()}),
		"vmid":         required(vmidP),
	}
}

func ctCreate() map[string]*prop {
	p := ctConfig()
	maps.Copy(p, map[string]*prop{
		"bwlimit":              optional(prop{Type: Number, Min: "0"}),
		"force":                optional(boolP),
		"ha-managed":           optional(boolP),
		"ignore-unpack-errors": optional(boolP),
		"ostemplate":           required(prop{Type: String, MaxLength: 255}),
		"password":             optional(prop{Type: String, MinLength: 5}),
		"pool":                 optional(poolP),
		"restore":              optional(boolP),
		"ssh-public-keys":      optional(stringP),
		"start":                optional(boolP),
		"storage":              optional(storageP),
		"unique":               optional(prop{Type: Boolean, Requires: "restore"}),
	})
	return p
}

func ctUpdate() map[string]*prop {
	p := ctConfig()
	maps.Copy(p, map[string]*prop{
		"delete": optional(prop{Type: String, Format: "pve-configid-list"}),
		"digest": optional(prop{Type: String, MaxLength: 40}),
		"revert": optional(prop{Type: String, Format: "pve-configid-list"}),
	})
	return p
}

// nv is the parameter set of the many endpoints that only take node and vmid.
func nv(extra map[string]*prop) map[string]*prop {
	p := map[string]*prop{"node": required(nodeP), "vmid": required(vmidP)}
	maps.Copy(p, extra)
	return p
}

func mpDisks() []string {
	d := []string{"rootfs"}
	for i := range indexCount["mp[n]"] {
		d = append(d, "mp"+strconv.Itoa(i))
	}
	return d
}

// poolUpdate is PVE::API2::Pool's update_pool (PUT /pools and its
// deprecated form PUT /pools/{poolid}).
func poolUpdate() map[string]*prop {
	return map[string]*prop{
		"poolid":     required(poolP),
		"comment":    optional(stringP),
		"vms":        optional(prop{Type: String, Format: "pve-vmid-list"}),
		"storage":    optional(prop{Type: String, Format: "pve-storage-id-list"}),
		"allow-move": optional(boolP),
		"delete":     optional(boolP),
	}
}

// haSIDP is the pve-ha-resource-or-vm-id standard option.
var haSIDP = prop{Type: String, Format: "pve-ha-resource-or-vm-id"}

// haResourceOptions are the options of PVE::HA::Resources' propertyList
// that create and update share.
func haResourceOptions() map[string]*prop {
	return map[string]*prop{
		"sid":          required(haSIDP),
		"state":        optional(prop{Type: String, Enum: []string{"started", "stopped", "enabled", "disabled", "ignored"}}),
		"group":        optional(prop{Type: String, Format: "pve-configid"}),
		"failback":     optional(boolP),
		"max_restart":  optional(countP),
		"max_relocate": optional(countP),
		"comment":      optional(prop{Type: String, MaxLength: 4096}),
	}
}

// haCreate is PVE::HA::Resources->createSchema(): the options plus type.
func haCreate() map[string]*prop {
	p := haResourceOptions()
	p["type"] = optional(prop{Type: String, Enum: []string{"ct", "vm"}})
	return p
}

// haUpdate is PVE::HA::Resources->updateSchema(): the options plus digest
// and delete.
func haUpdate() map[string]*prop {
	p := haResourceOptions()
	p["digest"] = optional(prop{Type: String, MaxLength: 64})
	p["delete"] = optional(prop{Type: String, Format: "pve-configid-list", MaxLength: 4096})
	return p
}

// table maps "METHOD path-template" to the parameters, named as in the
// schema (indexed ones as "net[n]").
var table = map[string]map[string]*prop{
	"GET /version":                    {},
	"GET /nodes":                      {},
	"GET /nodes/{node}/status":        {"node": required(nodeP)},
	"GET /cluster/status":             {},
	"GET /cluster/resources":          {"type": optional(prop{Type: String, Enum: []string{"vm", "storage", "node", "sdn"}})},
	"GET /cluster/nextid":             {"vmid": optional(vmidP)},
	"GET /nodes/{node}/lxc":           {"node": required(nodeP)},
	"POST /nodes/{node}/lxc":          ctCreate(),
	"GET /nodes/{node}/lxc/{vmid}":    nv(nil),
	"DELETE /nodes/{node}/lxc/{vmid}": nv(map[string]*prop{"destroy-unreferenced-disks": optional(boolP), "force": optional(boolP), "purge": optional(boolP)}),
	"GET /nodes/{node}/lxc/{vmid}/config": nv(map[string]*prop{
		"current":  optional(boolP),
		"snapshot": optional(snapnameP),
	}),
	"PUT /nodes/{node}/lxc/{vmid}/config":         ctUpdate(),
	"GET /nodes/{node}/lxc/{vmid}/status/current": nv(nil),
	"POST /nodes/{node}/lxc/{vmid}/status/start":  nv(map[string]*prop{"debug": optional(boolP), "skiplock": optional(boolP)}),
	"POST /nodes/{node}/lxc/{vmid}/status/stop":   nv(map[string]*prop{"overrule-shutdown": optional(boolP), "skiplock": optional(boolP)}),
	"POST /nodes/{node}/lxc/{vmid}/status/shutdown": nv(map[string]*prop{
		"forceStop": optional(boolP),
		"timeout":   optional(countP),
	}),
	"POST /nodes/{node}/lxc/{vmid}/status/reboot": nv(map[string]*prop{"timeout": optional(countP)}),
	"POST /nodes/{node}/lxc/{vmid}/clone": nv(map[string]*prop{
		"bwlimit":     optional(prop{Type: Number, Min: "0"}),
		"description": optional(stringP),
		"full":        optional(boolP),
		"hostname":    optional(prop{Type: String, Format: "dns-name"}),
		"newid":       required(vmidP),
		"pool":        optional(poolP),
		"snapname":    optional(snapnameP),
		"storage":     optional(storageP),
		"target":      optional(nodeP),
	}),
	"PUT /nodes/{node}/lxc/{vmid}/resize": nv(map[string]*prop{
		"digest": optional(prop{Type: String, MaxLength: 40}),
		"disk":   required(prop{Type: String, Enum: mpDisks()}),
		"size":   required(prop{Type: String, Pattern: `\+?\d+(\.\d+)?[KMGT]?`}),
	}),
	"GET /nodes/{node}/lxc/{vmid}/snapshot": nv(nil),
	"POST /nodes/{node}/lxc/{vmid}/snapshot": nv(map[string]*prop{
		"description": optional(stringP),
		"snapname":    required(snapnameP),
	}),
	"DELETE /nodes/{node}/lxc/{vmid}/snapshot/{snapname}": nv(map[string]*prop{
		"force":    optional(boolP),
		"snapname": required(snapnameP),
	}),
	"POST /nodes/{node}/lxc/{vmid}/template":  nv(nil),
	"GET /nodes/{node}/lxc/{vmid}/pending":    nv(nil),
	"GET /nodes/{node}/lxc/{vmid}/interfaces": nv(nil),
	"GET /nodes/{node}/tasks/{upid}/status":   {"node": required(nodeP), "upid": required(upidP)},
	"GET /nodes/{node}/tasks/{upid}/log": {
		"node":     required(nodeP),
		"upid":     required(upidP),
		"download": optional(boolP),
		"limit":    optional(countP),
		"start":    optional(countP),
	},
	"GET /nodes/{node}/storage": {
		"node":    required(nodeP),
		"content": optional(prop{Type: String, Format: "pve-storage-content-list"}),
		"enabled": optional(boolP),
		"format":  optional(boolP),
		"storage": optional(storageP),
		"target":  optional(nodeP),
	},
	"GET /nodes/{node}/storage/{storage}/content": {
		"node":    required(nodeP),
		"storage": required(storageP),
		"content": optional(prop{Type: String, Format: "pve-storage-content"}),
		"vmid":    optional(vmidP),
	},
	"GET /pools": {
		"poolid": optional(poolP),
		"type":   optional(prop{Type: String, Enum: []string{"qemu", "lxc", "storage"}, Requires: "poolid"}),
	},
	"POST /pools":            {"poolid": required(poolP), "comment": optional(stringP)},
	"PUT /pools":             poolUpdate(),
	"DELETE /pools":          {"poolid": required(poolP)},
	"GET /pools/{poolid}":    {"poolid": required(poolP), "type": optional(prop{Type: String, Enum: []string{"qemu", "lxc", "storage"}})},
	"PUT /pools/{poolid}":    poolUpdate(),
	"DELETE /pools/{poolid}": {"poolid": required(poolP)},
	"GET /cluster/ha/resources": {
		"type": optional(prop{Type: String, Enum: []string{"ct", "vm"}}),
	},
	"POST /cluster/ha/resources":         haCreate(),
	"GET /cluster/ha/resources/{sid}":    {"sid": required(haSIDP)},
	"PUT /cluster/ha/resources/{sid}":    haUpdate(),
	"DELETE /cluster/ha/resources/{sid}": {"sid": required(haSIDP), "purge": optional(boolP)},
	"GET /access/ticket":                 {},
	"POST /access/ticket": {
		"new-format":    optional(boolP),
		"otp":           optional(stringP),
		"password":      required(stringP),
		"path":          optional(prop{Type: String, MaxLength: 64, Requires: "privs"}),
		"privs":         optional(prop{Type: String, Format: "pve-priv-list", MaxLength: 64, Requires: "path"}),
		"realm":         optional(prop{Type: String, Format: "pve-realm", MaxLength: 32}),
		"tfa-challenge": optional(stringP),
		"username":      required(prop{Type: String, MaxLength: 64}),
	},
}

// expanded holds, per endpoint key, the parameters with indexed names
// spelled out (net0 .. net31), as Validate looks them up.
var expanded = map[string]map[string]*prop{}

func init() {
	for key, props := range table {
		ex := map[string]*prop{}
		for name, p := range props {
			p.compile()
			if base, ok := strings.CutSuffix(name, "[n]"); ok {
				for i := range indexCount[name] {
					ex[base+strconv.Itoa(i)] = p
				}
				continue
			}
			ex[name] = p
		}
		expanded[key] = ex
	}
	configProps = expanded["POST /nodes/{node}/lxc"]
}

// configProps is the table property strings are parsed with: all container
// options, create-only ones included. Set by init.
var configProps map[string]*prop

func endpointKey(method, pathTemplate string) string {
	return strings.ToUpper(method) + " " + pathTemplate
}
