package params

import (
	"errors"
	"maps"
	"strings"
	"testing"
)

const (
	createPath = "/nodes/{node}/lxc"
	configPath = "/nodes/{node}/lxc/{vmid}/config"
)

// dockerCreate is a full create request for a Docker container.
func dockerCreate() map[string]string {
	return map[string]string{
		"node":            "pve1",
		"vmid":            "202",
		"ostemplate":      "local:vztmpl/ubuntu-24.04-standard_24.04-2_amd64.tar.zst",
		"hostname":        "docker-01",
		"cores":           "2",
		"memory":          "2048",
		"swap":            "512",
		"rootfs":          "local-lvm:8",
		"net0":            "name=eth0,bridge=vmbr0,ip=10.0.0.202/24,gw=10.0.0.1,hwaddr=BC:24:11:AA:BB:CC",
		"features":        "nesting=1,keyctl=1",
		"unprivileged":    "1",
		"tags":            "a;b",
		"onboot":          "1",
		"startup":         "order=2,up=10",
		"ssh-public-keys": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq3 admin@example\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHk9 ci@example",
		"password":        "correct-horse-battery",
		"nameserver":      "10.0.0.1 1.1.1.1",
		"searchdomain":    "lan",
		"start":           "0",
		"ostype":          "ubuntu",
		"storage":         "local-lvm",
		"description":     "Docker host\nmanaged by terraform",
	}
}

func TestValidateAcceptsRealisticRequests(t *testing.T) {
	cases := []struct {
		name, method, path string
		params             map[string]string
	}{
		{"docker create", "POST", createPath, dockerCreate()},
		{"clone from snapshot", "POST", "/nodes/{node}/lxc/{vmid}/clone", map[string]string{
			"node": "pve1", "vmid": "902", "newid": "203", "snapname": "pre-configured", "full": "1",
			"hostname": "docker-02", "storage": "local-lvm", "target": "pve2", "description": "clone",
		}},
		{"update in place", "PUT", configPath, map[string]string{
			"node": "pve1", "vmid": "202", "cores": "4", "memory": "4096", "delete": "swap,mp0",
			"digest": "da39a3ee5e6b4b0d3255bfef95601890afd80709", "tags": "docker;prod",
			"net1": "name=eth1,bridge=vmbr1,ip=dhcp,ip6=auto,tag=20,firewall=1,mtu=9000",
			"mp0":  "local-lvm:16,mp=/var/lib/docker,backup=1,mountoptions=noatime;nodev",
			"dev0": "/dev/net/tun,mode=0666", "timezone": "host", "features": "nesting=1,keyctl=1,fuse=1",
		}},
		{"grow rootfs", "PUT", "/nodes/{node}/lxc/{vmid}/resize", map[string]string{"node": "pve1", "vmid": "202", "disk": "rootfs", "size": "+24G"}},
		{"delete", "DELETE", "/nodes/{node}/lxc/{vmid}", map[string]string{"node": "pve1", "vmid": "202", "purge": "1", "destroy-unreferenced-disks": "1"}},
		{"shutdown", "POST", "/nodes/{node}/lxc/{vmid}/status/shutdown", map[string]string{"node": "pve1", "vmid": "202", "timeout": "30", "forceStop": "1"}},
		{"snapshot", "POST", "/nodes/{node}/lxc/{vmid}/snapshot", map[string]string{"node": "pve1", "vmid": "202", "snapname": "before_upgrade", "description": "x"}},
		{"task log", "GET", "/nodes/{node}/tasks/{upid}/log", map[string]string{"node": "pve1", "upid": "UPID:pve1:0000ABCD:00012345:6650A1B2:vzcreate:202:root@pam:", "start": "0", "limit": "500"}},
		{"nextid", "GET", "/cluster/nextid", map[string]string{"vmid": "202"}},
		{"nextid without vmid", "GET", "/cluster/nextid", map[string]string{}},
		{"templates", "GET", "/nodes/{node}/storage/{storage}/content", map[string]string{"node": "pve1", "storage": "local", "content": "vztmpl"}},
		{"ticket", "POST", "/access/ticket", map[string]string{"username": "root@pam", "password": "secret"}},
		{"version", "GET", "/version", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Validate(c.method, c.path, c.params); got != nil {
				t.Fatalf("refused: %q", got)
			}
		})
	}
}

func TestValidateRefusesWithPVEMessages(t *testing.T) {
	notDefined := "property is not defined in schema and the schema does not allow additional properties"
	missing := "property is missing and it is not optional"
	fmtErr := func(path, msg string) string { return "invalid format - format error\n" + path + ": " + msg + "\n" }
	cases := []struct {
		name   string
		method string
		path   string
		set    map[string]string // applied over the Docker create request (or nil params)
		drop   string
		param  string
		want   string
	}{
		{"unknown parameter", "POST", createPath, map[string]string{"nesting": "1"}, "", "nesting", notDefined},
		{"net32 past the end", "POST", createPath, map[string]string{"net32": "name=eth0"}, "", "net32", notDefined},
		{"mp256 past the end", "POST", createPath, map[string]string{"mp256": "local:8,mp=/x"}, "", "mp256", notDefined},
		{"delete on create", "POST", createPath, map[string]string{"delete": "swap"}, "", "delete", notDefined},
		{"missing ostemplate", "POST", createPath, nil, "ostemplate", "ostemplate", missing},
		{"missing vmid", "POST", createPath, nil, "vmid", "vmid", missing},
		{"missing node", "POST", createPath, nil, "node", "node", missing},
		{"boolean true", "POST", createPath, map[string]string{"onboot": "true"}, "", "onboot", "type check ('boolean') failed - got 'true'"},
		{"boolean yes", "POST", createPath, map[string]string{"start": "yes"}, "", "start", "type check ('boolean') failed - got 'yes'"},
		{"boolean 2", "POST", createPath, map[string]string{"unprivileged": "2"}, "", "unprivileged", "type check ('boolean') failed - got '2'"},
		{"boolean empty", "POST", createPath, map[string]string{"force": ""}, "", "force", "type check ('boolean') failed - got ''"},
		{"integer word", "POST", createPath, map[string]string{"cores": "two"}, "", "cores", "type check ('integer') failed - got 'two'"},
		{"integer fraction", "POST", createPath, map[string]string{"memory": "2048.5"}, "", "memory", "type check ('integer') failed - got '2048.5'"},
		{"integer with unit", "POST", createPath, map[string]string{"swap": "512M"}, "", "swap", "type check ('integer') failed - got '512M'"},
		{"number word", "POST", createPath, map[string]string{"cpulimit": "half"}, "", "cpulimit", "type check ('number') failed - got 'half'"},
		{"cores zero", "POST", createPath, map[string]string{"cores": "0"}, "", "cores", "value must have a minimum value of 1"},
		{"cores too many", "POST", createPath, map[string]string{"cores": "8193"}, "", "cores", "value must have a maximum value of 8192"},
		{"memory too small", "POST", createPath, map[string]string{"memory": "15"}, "", "memory", "value must have a minimum value of 16"},
		{"negative swap", "POST", createPath, map[string]string{"swap": "-1"}, "", "swap", "value must have a minimum value of 0"},
		{"tty 7", "POST", createPath, map[string]string{"tty": "7"}, "", "tty", "value must have a maximum value of 6"},
		{"cpulimit over", "POST", createPath, map[string]string{"cpulimit": "8192.5"}, "", "cpulimit", "value must have a maximum value of 8192"},
		{"bwlimit negative", "POST", createPath, map[string]string{"bwlimit": "-0.5"}, "", "bwlimit", "value must have a minimum value of 0"},
		{"ostype enum", "POST", createPath, map[string]string{"ostype": "windows"}, "", "ostype",
			"value 'windows' does not have a value in the enumeration 'debian, devuan, ubuntu, centos, fedora, opensuse, archlinux, alpine, gentoo, nixos, unmanaged'"},
		{"arch enum", "POST", createPath, map[string]string{"arch": "x86_64"}, "", "arch",
			"value 'x86_64' does not have a value in the enumeration 'amd64, i386, arm64, armhf, riscv32, riscv64'"},
		{"vmid too small", "POST", createPath, map[string]string{"vmid": "99"}, "", "vmid", "invalid format - value does not look like a valid VM ID\n"},
		{"vmid word", "POST", createPath, map[string]string{"vmid": "ct202"}, "", "vmid", "type check ('integer') failed - got 'ct202'"},
		{"vmid leading zero", "POST", createPath, map[string]string{"vmid": "0202"}, "", "vmid", "invalid format - value does not look like a valid VM ID\n"},
		{"node name", "POST", createPath, map[string]string{"node": "pve_1"}, "", "node", "invalid format - value does not look like a valid node name\n"},
		{"hostname", "POST", createPath, map[string]string{"hostname": "docker_01"}, "", "hostname", "invalid format - value does not look like a valid DNS name\n"},
		{"hostname too long", "POST", createPath, map[string]string{"hostname": strings.Repeat("a", 256)}, "", "hostname", "value may only be 255 characters long"},
		{"password short", "POST", createPath, map[string]string{"password": "1234"}, "", "password", "value must be at least 5 characters long"},
		{"storage id", "POST", createPath, map[string]string{"storage": "local lvm"}, "", "storage", "invalid format - storage ID 'local lvm' contains illegal characters\n"},
		{"tags", "POST", createPath, map[string]string{"tags": "a;b c;d!"}, "", "tags", "invalid format - invalid characters in tag\n"},
		{"nameserver", "POST", createPath, map[string]string{"nameserver": "10.0.0.1 dns.lan"}, "", "nameserver", "invalid format - value does not look like a valid IP address\n"},
		{"searchdomain", "POST", createPath, map[string]string{"searchdomain": "lan -bad"}, "", "searchdomain", "invalid format - value does not look like a valid DNS name\n"},
		{"startup word", "POST", createPath, map[string]string{"startup": "order=first"}, "", "startup", "invalid format - unable to parse startup options\n"},
		{"startup zero", "POST", createPath, map[string]string{"startup": "0"}, "", "startup", "invalid format - unable to parse startup options\n"},
		{"hookscript", "POST", createPath, map[string]string{"hookscript": "/var/lib/vz/snippets/hook.sh"}, "", "hookscript", "invalid format - unable to parse volume ID '/var/lib/vz/snippets/hook.sh'\n"},
		{"timezone", "POST", createPath, map[string]string{"timezone": "Not/AZone!"}, "", "timezone", "invalid format - invalid time zone 'Not/AZone!'\n"},
		{"unique needs restore", "POST", createPath, map[string]string{"unique": "1"}, "", "restore", "missing property - 'unique' requires this property"},
		{"entrypoint control char", "POST", createPath, map[string]string{"entrypoint": "/sbin/init\x01"}, "", "entrypoint", "value does not match the regex pattern"},
		{"description too long", "POST", createPath, map[string]string{"description": strings.Repeat("d", 8193)}, "", "description", "value may only be 8192 characters long"},
		{"net0 without name", "POST", createPath, map[string]string{"net0": "bridge=vmbr0"}, "", "net0", fmtErr("net0.name", missing)},
		{"net0 unknown key", "POST", createPath, map[string]string{"net0": "name=eth0,vlan=20"}, "", "net0", "invalid format - invalid key in comma-separated list property: vlan\n"},
		{"net0 bare value", "POST", createPath, map[string]string{"net0": "eth0,bridge=vmbr0"}, "", "net0", "invalid format - value without key, but schema does not define a default key\n"},
		{"net0 ip prefix", "POST", createPath, map[string]string{"net0": "name=eth0,ip=10.0.0.202"}, "", "net0",
			fmtErr("net0.ip", "invalid format - value does not look like a valid ipv4 network configuration\n")},
		{"net0 gw", "POST", createPath, map[string]string{"net0": "name=eth0,gw=10.0.0.1/24"}, "", "net0",
			fmtErr("net0.gw", "invalid format - value does not look like a valid IPv4 address\n")},
		{"net0 multicast mac", "POST", createPath, map[string]string{"net0": "name=eth0,hwaddr=BD:24:11:AA:BB:CC"}, "", "net0",
			fmtErr("net0.hwaddr", "invalid format - value does not look like a valid unicast MAC address\n")},
		{"net0 tag range", "POST", createPath, map[string]string{"net0": "name=eth0,tag=4095"}, "", "net0", fmtErr("net0.tag", "value must have a maximum value of 4094")},
		{"net0 mtu range", "POST", createPath, map[string]string{"net0": "name=eth0,mtu=63"}, "", "net0", fmtErr("net0.mtu", "value must have a minimum value of 64")},
		{"net0 name pattern", "POST", createPath, map[string]string{"net0": "name=eth 0"}, "", "net0", fmtErr("net0.name", "value does not match the regex pattern")},
		{"net0 type enum", "POST", createPath, map[string]string{"net0": "name=eth0,type=macvlan"}, "", "net0",
			fmtErr("net0.type", "value 'macvlan' does not have a value in the enumeration 'veth'")},
		{"net0 firewall word", "POST", createPath, map[string]string{"net0": "name=eth0,firewall=enabled"}, "", "net0",
			fmtErr("net0.firewall", "type check ('boolean') failed - got 'enabled'")},
		{"net0 duplicate key", "POST", createPath, map[string]string{"net0": "name=eth0,name=eth1"}, "", "net0", "invalid format - duplicate key in comma-separated list property: name\n"},
		{"net0 empty value", "POST", createPath, map[string]string{"net0": "name=eth0,bridge="}, "", "net0", "invalid format - missing key in comma-separated list property\n"},
		{"rootfs size", "POST", createPath, map[string]string{"rootfs": "local-lvm:8,size=8GB"}, "", "rootfs",
			fmtErr("rootfs.size", "invalid format - value does not look like a valid disk size: 8GB\n")},
		{"rootfs two volumes", "POST", createPath, map[string]string{"rootfs": "local-lvm:8,local-lvm:9"}, "", "rootfs", "invalid format - duplicate key in comma-separated list property: volume\n"},
		{"rootfs mp key", "POST", createPath, map[string]string{"rootfs": "local-lvm:8,mp=/"}, "", "rootfs", "invalid format - invalid key in comma-separated list property: mp\n"},
		{"rootfs without volume", "POST", createPath, map[string]string{"rootfs": "size=8G"}, "", "rootfs", fmtErr("rootfs.volume", missing)},
		{"mp0 without path", "POST", createPath, map[string]string{"mp0": "local-lvm:8"}, "", "mp0", fmtErr("mp0.mp", missing)},
		{"mp0 escaping path", "POST", createPath, map[string]string{"mp0": "local-lvm:8,mp=/mnt/../etc"}, "", "mp0",
			fmtErr("mp0.mp", "invalid format - /mnt/../etc contains illegal character sequences\n")},
		{"mp0 mount option", "POST", createPath, map[string]string{"mp0": "local-lvm:8,mp=/data,mountoptions=rw"}, "", "mp0",
			fmtErr("mp0.mountoptions", "value does not match the regex pattern")},
		{"features unknown", "POST", createPath, map[string]string{"features": "nesting=1,docker=1"}, "", "features", "invalid format - invalid key in comma-separated list property: docker\n"},
		{"features bare", "POST", createPath, map[string]string{"features": "nesting"}, "", "features", "invalid format - value without key, but schema does not define a default key\n"},
		{"dev0 path", "POST", createPath, map[string]string{"dev0": "/tmp/tun"}, "", "dev0", fmtErr("dev0.path", "invalid format - /tmp/tun is not a valid device path\n")},
		{"unused0 volume", "PUT", configPath, map[string]string{"unused0": "nostorage"}, "", "unused0",
			fmtErr("unused0.volume", "invalid format - unable to parse volume ID 'nostorage'\n")},
		{"update delete id", "PUT", configPath, map[string]string{"delete": "swap,net-1x,9mp"}, "", "delete", "invalid format - invalid configuration ID '9mp'\n"},
		{"update digest length", "PUT", configPath, map[string]string{"digest": strings.Repeat("f", 41)}, "", "digest", "value may only be 40 characters long"},
		{"update ostemplate", "PUT", configPath, map[string]string{"ostemplate": "local:vztmpl/x.tar.zst"}, "", "ostemplate", notDefined},
		{"resize disk enum", "PUT", "/nodes/{node}/lxc/{vmid}/resize", map[string]string{"disk": "mp256", "size": "+1G"}, "", "disk", ""},
		{"resize size pattern", "PUT", "/nodes/{node}/lxc/{vmid}/resize", map[string]string{"disk": "rootfs", "size": "-1G"}, "", "size", "value does not match the regex pattern"},
		{"snapshot name", "POST", "/nodes/{node}/lxc/{vmid}/snapshot", map[string]string{"snapname": "pre upgrade"}, "", "snapname", "invalid format - invalid configuration ID 'pre upgrade'\n"},
		{"snapshot name too long", "POST", "/nodes/{node}/lxc/{vmid}/snapshot", map[string]string{"snapname": "s" + strings.Repeat("n", 40)}, "", "snapname", "value may only be 40 characters long"},
		{"cluster resources type", "GET", "/cluster/resources", map[string]string{"type": "lxc"}, "", "type", "value 'lxc' does not have a value in the enumeration 'vm, storage, node, sdn'"},
		{"storage content", "GET", "/nodes/{node}/storage", map[string]string{"content": "rootdir,templates"}, "", "content", "invalid format - invalid content type 'templates'\n"},
		{"ticket privs without path", "POST", "/access/ticket", map[string]string{"privs": "VM.Audit"}, "", "path", "missing property - 'privs' requires this property"},
		{"ticket realm", "POST", "/access/ticket", map[string]string{"realm": "p"}, "", "realm", "invalid format - value does not look like a valid realm\n"},
		{"version takes nothing", "GET", "/version", map[string]string{"node": "pve1"}, "", "node", notDefined},
	}
	if len(cases) < 40 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			params := baseFor(c.method, c.path)
			maps.Copy(params, c.set)
			delete(params, c.drop)
			got := Validate(c.method, c.path, params)
			msg, ok := got[c.param]
			if !ok {
				t.Fatalf("%s not refused; errors: %q", c.param, got)
			}
			if len(got) != 1 {
				t.Errorf("more than one parameter refused: %q", got)
			}
			if c.want != "" && msg != c.want {
				t.Errorf("message\n got: %q\nwant: %q", msg, c.want)
			}
			if c.want == "" && !strings.HasPrefix(msg, "value 'mp256' does not have a value in the enumeration 'rootfs, mp0, ") {
				t.Errorf("message %q", msg)
			}
		})
	}
}

// baseFor returns a valid request for the endpoints the refusal table uses.
func baseFor(method, path string) map[string]string {
	switch method + " " + path {
	case "POST " + createPath:
		return dockerCreate()
	case "POST /access/ticket":
		return map[string]string{"username": "root@pam", "password": "secret"}
	case "GET /version", "GET /cluster/resources":
		return map[string]string{}
	case "GET /nodes/{node}/storage":
		return map[string]string{"node": "pve1"}
	}
	return map[string]string{"node": "pve1", "vmid": "202"}
}

func TestValidateUnknownEndpoint(t *testing.T) {
	if Known("GET", "/nodes/{node}/qemu") {
		t.Fatal("qemu endpoint reported as covered")
	}
	if !Known("put", configPath) {
		t.Fatal("method should be case-insensitive")
	}
	got := Validate("GET", "/nodes/{node}/qemu", map[string]string{"node": "pve1"})
	if got["_root"] == "" {
		t.Fatalf("uncovered endpoint validated: %q", got)
	}
}

func TestValidatePerlQuirks(t *testing.T) {
	// Perl's $ matches before a final newline, so PVE accepts these.
	for _, p := range []map[string]string{
		{"node": "pve1\n", "vmid": "202\n"},
		{"node": "pve1", "vmid": "+202"}, // integer check passes, format refuses it
	} {
		got := Validate("GET", "/nodes/{node}/lxc/{vmid}/status/current", p)
		if p["vmid"] == "+202" {
			if got["vmid"] != "invalid format - value does not look like a valid VM ID\n" {
				t.Errorf("+202: %q", got)
			}
			continue
		}
		if got != nil {
			t.Errorf("%q refused: %q", p, got)
		}
	}
	// Property strings take boolean words; the API itself does not.
	if got := Validate("POST", createPath, mergeParams(dockerCreate(), "features", "nesting=true,keyctl=on")); got != nil {
		t.Errorf("boolean words in features refused: %q", got)
	}
}

func mergeParams(m map[string]string, kv ...string) map[string]string {
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func TestParseProperty(t *testing.T) {
	cases := []struct {
		param, value string
		want         map[string]string
	}{
		{"rootfs", "local-lvm:8", map[string]string{"volume": "local-lvm:8"}},
		{"rootfs", "volume=local-lvm:vm-202-disk-0,size=8G,acl=yes", map[string]string{"volume": "local-lvm:vm-202-disk-0", "size": "8G", "acl": "1"}},
		{"net0", "name=eth0,bridge=vmbr0,ip=10.0.0.202/24,gw=10.0.0.1,hwaddr=BC:24:11:AA:BB:CC",
			map[string]string{"name": "eth0", "bridge": "vmbr0", "ip": "10.0.0.202/24", "gw": "10.0.0.1", "hwaddr": "BC:24:11:AA:BB:CC"}},
		{"net31", "name=eth31,firewall=off", map[string]string{"name": "eth31", "firewall": "0"}},
		{"net[n]", "name=eth0", map[string]string{"name": "eth0"}},
		{"mp255", "/srv/data,mp=/data,ro=1", map[string]string{"volume": "/srv/data", "mp": "/data", "ro": "1"}},
		{"features", "nesting=1,keyctl=1", map[string]string{"nesting": "1", "keyctl": "1"}},
		{"unused0", "local-lvm:vm-202-disk-1", map[string]string{"volume": "local-lvm:vm-202-disk-1"}},
		{"dev0", "/dev/net/tun,mode=0666", map[string]string{"path": "/dev/net/tun", "mode": "0666"}},
		{"startup", "order=2,up=10", map[string]string{"order": "2", "up": "10"}},
		{"startup", "3,down=5", map[string]string{"order": "3", "down": "5"}},
	}
	for _, c := range cases {
		got, err := ParseProperty(c.param, c.value)
		if err != nil {
			t.Errorf("%s=%q: %v", c.param, c.value, err)
			continue
		}
		if !maps.Equal(got, c.want) {
			t.Errorf("%s=%q: got %q, want %q", c.param, c.value, got, c.want)
		}
	}

	bad := []struct{ param, value, want string }{
		{"net0", "bridge=vmbr0", "format error\nnet0.name: property is missing and it is not optional"},
		{"rootfs", "local-lvm:8,bogus=1", "invalid key in comma-separated list property: bogus"},
		{"startup", "later", "unable to parse startup options"},
		{"net32", "name=eth0", "not a property-string parameter: net32"},
		{"hostname", "x", "not a property-string parameter: hostname"},
	}
	for _, c := range bad {
		_, err := ParseProperty(c.param, c.value)
		if err == nil || err.Error() != c.want {
			t.Errorf("%s=%q: error %v, want %q", c.param, c.value, err, c.want)
		}
	}
	if _, err := ParseProperty("memory", "512"); !errors.Is(err, ErrNotPropertyString) {
		t.Errorf("memory: %v", err)
	}
}
