package params

import (
	"bufio"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// Address building blocks, spelled like the ones PVE::Tools uses.
const (
	ipv4Octet = `(?:25[0-5]|(?:2[0-4]|1[0-9]|[1-9])?[0-9])`
	ipv4Src   = `(?:(?:` + ipv4Octet + `\.){3}` + ipv4Octet + `)`
	h16       = `(?:[0-9a-fA-F]{1,4})`
	ls32      = `(?:(?:` + ipv4Src + `|` + h16 + `:` + h16 + `))`
	ipv6Src   = `(?:` +
		`(?:(?:(?:` + h16 + `:){6})` + ls32 + `)|` +
		`(?:(?:::(?:` + h16 + `:){5})` + ls32 + `)|` +
		`(?:(?:(?:` + h16 + `)?::(?:` + h16 + `:){4})` + ls32 + `)|` +
		`(?:(?:(?:(?:` + h16 + `:){0,1}` + h16 + `)?::(?:` + h16 + `:){3})` + ls32 + `)|` +
		`(?:(?:(?:(?:` + h16 + `:){0,2}` + h16 + `)?::(?:` + h16 + `:){2})` + ls32 + `)|` +
		`(?:(?:(?:(?:` + h16 + `:){0,3}` + h16 + `)?::(?:` + h16 + `:){1})` + ls32 + `)|` +
		`(?:(?:(?:(?:` + h16 + `:){0,4}` + h16 + `)?::)` + ls32 + `)|` +
		`(?:(?:(?:(?:` + h16 + `:){0,5}` + h16 + `)?::)` + h16 + `)|` +
		`(?:(?:(?:(?:` + h16 + `:){0,6}` + h16 + `)?::)))`
	dnsLabel = `([a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?)`
)

func anchored(src string) *regexp.Regexp { return regexp.MustCompile(`^(?:` + src + `)$`) }

var (
	ipv4RE     = anchored(ipv4Src)
	ipv6RE     = anchored(ipv6Src)
	cidr4RE    = regexp.MustCompile(`^(?:` + ipv4Src + `)(?:/(\d+))$`)
	cidr6RE    = regexp.MustCompile(`^(?:` + ipv6Src + `)(?:/(\d+))$`)
	dnsNameRE  = anchored(`(` + dnsLabel + `\.)*` + dnsLabel)
	nodeRE     = anchored(`[a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?`)
	vmidRE     = anchored(`[1-9][0-9]{2,8}`)
	idRE       = anchored(`(?i)[a-z][a-z0-9\-_.]*[a-z0-9]`)
	configIDRE = anchored(`(?i)[a-z][a-z0-9_-]+`)
	macRE      = anchored(`(?i)[a-f0-9][02468ace](?::[a-f0-9]{2}){5}`)
	tagRE      = anchored(`(?i)[a-z0-9_][a-z0-9_\-+.]*`)
	volumeRE   = regexp.MustCompile(`^(?i:[a-z][a-z0-9\-_.]*[a-z0-9]):(.+)$`)
	sizeRE     = anchored(`(\d+(\.\d+)?)([KMGT])?`)
	ifaceRE    = anchored(`(?i)[a-z][a-z0-9_]{1,20}([:.]\d+)?`)
	llIfaceRE  = regexp.MustCompile(`^(fe80:[^%]+)%(.*)$`)
	haSIDRE    = anchored(`[a-z]+:\S+|\d+`)
	poolRE     = anchored(`[A-Za-z0-9.\-_]+(?:/[A-Za-z0-9.\-_]+){0,2}`)
	realmRE    = anchored(`[A-Za-z][A-Za-z0-9.\-_]+`)
	ipv4CfgRE  = anchored(`dhcp|manual`)
	ipv6CfgRE  = anchored(`auto|dhcp|manual`)
	startupRE  = struct{ order, up, down, blank *regexp.Regexp }{
		anchored(`(order=)?(\d+)`), anchored(`up=(\d+)`), anchored(`down=(\d+)`), anchored(`\s*`),
	}
	mpBadRE1  = regexp.MustCompile(`/\.\.?/`)
	mpBadRE2  = regexp.MustCompile(`/\.\.?(\n)?$`)
	mpBadRE3  = regexp.MustCompile(`^\.\./`)
	devBadRE  = regexp.MustCompile(`/\.\.?(?:/|(\n)?$)`)
	devGoodRE = regexp.MustCompile(`^/dev/`)
)

// storageContent is what PVE's dir storage plugin accepts (it accepts all
// content types), plus "import".
var storageContent = map[string]bool{
	"images": true, "rootdir": true, "vztmpl": true, "iso": true,
	"backup": true, "snippets": true, "none": true, "import": true,
}

// privileges known to PVE 9 (PVE::AccessControl's privilege groups).
var privileges = map[string]bool{}

func init() {
	for _, p := range strings.Fields(`
		Datastore.Allocate Datastore.AllocateSpace Datastore.AllocateTemplate Datastore.Audit
		Group.Allocate Mapping.Audit Mapping.Modify Mapping.Use Permissions.Modify
		Pool.Allocate Pool.Audit Realm.Allocate Realm.AllocateUser
		SDN.Allocate SDN.Audit SDN.Use
		Sys.AccessNetwork Sys.Audit Sys.Console Sys.Incoming Sys.Modify Sys.PowerMgmt Sys.Syslog
		User.Modify
		VM.Allocate VM.Audit VM.Backup VM.Clone VM.Config.CDROM VM.Config.CPU VM.Config.Cloudinit
		VM.Config.Disk VM.Config.HWType VM.Config.Memory VM.Config.Network VM.Config.Options
		VM.Console VM.GuestAgent.Audit VM.GuestAgent.FileRead VM.GuestAgent.FileSystemMgmt
		VM.GuestAgent.FileWrite VM.GuestAgent.Unrestricted VM.Migrate VM.PowerMgmt VM.Replicate
		VM.Snapshot VM.Snapshot.Rollback`) {
		privileges[p] = true
	}
}

// formatFunc validates one value and returns PVE's message (ending in a
// newline, as PVE's die messages do) or "" when the value is valid.
type formatFunc func(v string) string

var formats map[string]formatFunc

func init() {
	formats = map[string]formatFunc{
		"pve-vmid": func(v string) string {
			return failUnless(perlMatch(vmidRE, v), "value does not look like a valid VM ID\n")
		},
		"pve-node": func(v string) string {
			return failUnless(perlMatch(nodeRE, v), "value does not look like a valid node name\n")
		},
		"pve-storage-id": func(v string) string {
			return failUnless(perlMatch(idRE, v), "storage ID '"+v+"' contains illegal characters\n")
		},
		"pve-configid": func(v string) string {
			return failUnless(perlMatch(configIDRE, v), "invalid configuration ID '"+v+"'\n")
		},
		"dns-name": func(v string) string {
			return failUnless(perlMatch(dnsNameRE, v), "value does not look like a valid DNS name\n")
		},
		"mac-addr": func(v string) string {
			return failUnless(perlMatch(macRE, v), "value does not look like a valid unicast MAC address\n")
		},
		"ipv4": func(v string) string {
			return failUnless(perlMatch(ipv4RE, v), "value does not look like a valid IPv4 address\n")
		},
		"ipv6": func(v string) string {
			return failUnless(perlMatch(ipv6RE, v), "value does not look like a valid IPv6 address\n")
		},
		"ip": func(v string) string {
			return failUnless(isIP(v), "value does not look like a valid IP address\n")
		},
		"address": func(v string) string {
			return failUnless(isIP(v) || perlMatch(dnsNameRE, v), "value does not look like a valid address: "+v+"\n")
		},
		"pve-ipv4-config": func(v string) string {
			return failUnless(perlMatch(ipv4CfgRE, v) || cidrOK(cidr4RE, v, 32),
				"value does not look like a valid ipv4 network configuration\n")
		},
		"pve-ipv6-config": func(v string) string {
			return failUnless(perlMatch(ipv6CfgRE, v) || cidrOK(cidr6RE, v, 128),
				"value does not look like a valid ipv6 network configuration\n")
		},
		"disk-size": func(v string) string {
			return failUnless(perlMatch(sizeRE, v), "value does not look like a valid disk size: "+v+"\n")
		},
		"pve-startup-order": func(v string) string {
			_, ok := parseStartup(v)
			return failUnless(ok, "unable to parse startup options\n")
		},
		"pve-tag": func(v string) string {
			return failUnless(perlMatch(tagRE, v), "invalid characters in tag\n")
		},
		"pve-volume-id": func(v string) string {
			return failUnless(perlMatch(volumeRE, v), "unable to parse volume ID '"+v+"'\n")
		},
		"pve-lxc-mp-string": func(v string) string {
			bad := mpBadRE1.MatchString(v) || mpBadRE2.MatchString(v) || mpBadRE3.MatchString(v)
			return failUnless(!bad, v+" contains illegal character sequences\n")
		},
		"pve-lxc-dev-string": func(v string) string {
			bad := devBadRE.MatchString(v) || !devGoodRE.MatchString(v)
			return failUnless(!bad, v+" is not a valid device path\n")
		},
		"pve-iface": func(v string) string {
			return failUnless(perlMatch(ifaceRE, v), "invalid network interface name '"+v+"'\n")
		},
		"lxc-ip-with-ll-iface": func(v string) string {
			if m := llIfaceRE.FindStringSubmatch(strings.TrimSuffix(v, "\n")); m != nil {
				if isIP(m[1]) && perlMatch(ifaceRE, m[2]) {
					return ""
				}
			}
			return failUnless(isIP(v), "value does not look like a valid IP address\n")
		},
		"pve-ct-timezone": func(v string) string {
			if v == "host" || v == "UTC" || knownTimezone(v) {
				return ""
			}
			return "invalid time zone '" + v + "'\n"
		},
		"pve-poolid": func(v string) string {
			return failUnless(perlMatch(poolRE, v), "pool name '"+v+"' contains invalid characters\n")
		},
		"pve-ha-resource-or-vm-id": func(v string) string {
			return failUnless(perlMatch(haSIDRE, v), "value does not look like a valid ha resource id\n")
		},
		"pve-realm": func(v string) string {
			return failUnless(perlMatch(realmRE, v), "value does not look like a valid realm\n")
		},
		"pve-priv": func(v string) string {
			return failUnless(privileges[v], "invalid privilege '"+v+"'\n")
		},
		"pve-storage-content": func(v string) string {
			return failUnless(storageContent[v], "invalid content type '"+v+"'\n")
		},
	}
}

func failUnless(ok bool, msg string) string {
	if ok {
		return ""
	}
	return msg
}

func isIP(v string) bool { return perlMatch(ipv4RE, v) || perlMatch(ipv6RE, v) }

// cidrOK mirrors pve_verify_cidrv4/v6: an address, a slash and a prefix
// length from 8 up to maxBits.
func cidrOK(re *regexp.Regexp, v string, maxBits int) bool {
	m := re.FindStringSubmatch(v)
	if m == nil && strings.HasSuffix(v, "\n") {
		m = re.FindStringSubmatch(v[:len(v)-1])
	}
	if m == nil {
		return false
	}
	n, err := strconv.Atoi(m[1])
	return err == nil && n > 7 && n <= maxBits
}

// checkFormat validates v against a named format. A "-list" suffix applies
// the format to every element of PVE's split_list; "-opt" skips empty and
// "0" values like Perl's truth test.
func checkFormat(name, v string) string {
	base, kind := name, ""
	if b, ok := strings.CutSuffix(name, "-list"); ok {
		base, kind = b, "list"
	} else if b, ok := strings.CutSuffix(name, "-opt"); ok {
		base, kind = b, "opt"
	}
	f, ok := formats[base]
	if !ok {
		return "undefined format '" + name + "'\n"
	}
	switch kind {
	case "list":
		for _, el := range splitList(v) {
			if err := f(el); err != "" {
				return err
			}
		}
		return ""
	case "opt":
		if v == "" || v == "0" {
			return ""
		}
	}
	return f(v)
}

// splitList mirrors PVE::Tools::split_list: NUL-separated when the text
// contains a NUL, else separated by commas, semicolons and white space.
func splitList(v string) []string {
	if strings.Contains(v, "\x00") {
		parts := strings.Split(v, "\x00")
		// Perl's split drops trailing empty fields.
		for len(parts) > 0 && parts[len(parts)-1] == "" {
			parts = parts[:len(parts)-1]
		}
		return parts
	}
	v = strings.NewReplacer(",", " ", ";", " ").Replace(v)
	return strings.FieldsFunc(v, isPerlSpace)
}

func isPerlSpace(r rune) bool {
	switch r {
	case ' ', '\t', '\n', '\r', '\f', '\v':
		return true
	}
	return false
}

// parseStartup mirrors PVE::JSONSchema::pve_parse_startup_order. Like PVE
// it refuses the empty string and "0" (false in Perl).
func parseStartup(v string) (map[string]string, bool) {
	if v == "" || v == "0" {
		return nil, false
	}
	res := map[string]string{}
	for _, part := range perlSplitComma(v) {
		if perlMatch(startupRE.blank, part) {
			continue
		}
		if m := submatch(startupRE.order, part); m != nil {
			res["order"] = m[2]
		} else if m := submatch(startupRE.up, part); m != nil {
			res["up"] = m[1]
		} else if m := submatch(startupRE.down, part); m != nil {
			res["down"] = m[1]
		} else {
			return nil, false
		}
	}
	return res, true
}

// submatch matches an anchored re with Perl's final-newline rule.
func submatch(re *regexp.Regexp, s string) []string {
	if m := re.FindStringSubmatch(s); m != nil {
		return m
	}
	if strings.HasSuffix(s, "\n") {
		return re.FindStringSubmatch(s[:len(s)-1])
	}
	return nil
}

// perlSplitComma splits like Perl's split(/,/, $s): trailing empty fields
// are dropped.
func perlSplitComma(s string) []string {
	parts := strings.Split(s, ",")
	for len(parts) > 0 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	return parts
}

var (
	zonesOnce sync.Once
	zones     map[string]bool
	zoneShape = regexp.MustCompile(`^[A-Za-z]+(?:/[A-Za-z0-9_+\-]+){1,2}$`)
)

// zoneTab is where PVE reads the valid container time zones from.
const zoneTab = "/usr/share/zoneinfo/zone.tab"

// knownTimezone checks v against the host's zone.tab like PVE does. Without
// a zone.tab it falls back to the Area/Location shape.
func knownTimezone(v string) bool {
	zonesOnce.Do(func() {
		f, err := os.Open(zoneTab)
		if err != nil {
			return
		}
		defer func() { _ = f.Close() }()
		zones = map[string]bool{}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(strings.TrimLeft(line, " \t"), "#") {
				continue
			}
			if fields := strings.Split(line, "\t"); len(fields) > 2 {
				zones[fields[2]] = true
			}
		}
	})
	if zones == nil {
		return zoneShape.MatchString(v)
	}
	return zones[v]
}
