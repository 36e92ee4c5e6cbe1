package pve

import (
	"fmt"
	"math"
	"math/big"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// kv is one key=value of a property string, in input order.
type kv struct{ k, v string }

// parseProps splits a PVE property string ("a=1,b=2"). Empty and blank parts
// are skipped, as PVE does. A part without "=" is the value of defaultKey
// when there is one (and it is not given otherwise). Duplicate keys are an
// error.
func parseProps(s, defaultKey string) ([]kv, error) {
	var out []kv
	seen := map[string]bool{}
	for _, part := range strings.Split(s, ",") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			if defaultKey == "" {
				return nil, fmt.Errorf("%q has no key (expected key=value)", part)
			}
			k, v = defaultKey, part
		}
		if k == "" {
			return nil, fmt.Errorf("%q has an empty key", part)
		}
		if seen[k] {
			return nil, fmt.Errorf("duplicate key %q", k)
		}
		seen[k] = true
		out = append(out, kv{k, v})
	}
	return out, nil
}

// parsePropValue parses a property string into a T: set takes each key
// and value in order. what names the value in errors ("rootfs
// \"x\": ...").
func parsePropValue[T any](s, what, defaultKey string, set func(v *T, key, value string) error) (T, error) {
	var v, zero T
	pairs, err := parseProps(s, defaultKey)
	if err != nil {
		return zero, fmt.Errorf("%s %q: %w", what, s, err)
	}
	for _, p := range pairs {
		if err := set(&v, p.k, p.v); err != nil {
			return zero, fmt.Errorf("%s %q: %w", what, s, err)
		}
	}
	return v, nil
}

// setExtra keeps key=value verbatim in extra, making the map on first use.
func setExtra(extra *map[string]string, key, value string) {
	if *extra == nil {
		*extra = map[string]string{}
	}
	(*extra)[key] = value
}

// copyExtra is a copy of extra to print from, never nil.
func copyExtra(extra map[string]string) map[string]string {
	out := make(map[string]string, len(extra))
	for k, v := range extra {
		out[k] = v
	}
	return out
}

// joinProps writes pairs as PVE prints them: first the given leading keys in
// order, then the rest sorted by key.
func joinProps(m map[string]string, lead ...string) string {
	var parts []string
	done := map[string]bool{}
	for _, k := range lead {
		if v, ok := m[k]; ok {
			parts = append(parts, k+"="+v)
		}
		done[k] = true
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		if !done[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, ",")
}

// parseBool accepts PVE's boolean spellings.
func parseBool(key, v string) (bool, error) {
	switch strings.ToLower(v) {
	case "1", "yes", "on", "true":
		return true, nil
	case "0", "no", "off", "false":
		return false, nil
	}
	return false, fmt.Errorf("%s=%q is not a boolean (1 or 0)", key, v)
}

func formatBool(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func parseIntRange(key, v string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("%s=%q is not an integer", key, v)
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("%s=%d is out of range %d..%d", key, n, lo, hi)
	}
	return n, nil
}

// Net is a container network device (net0, net1, ...).
type Net struct {
	Name     string // interface name inside the CT, e.g. eth0 (required)
	Bridge   string
	IP       string // CIDR, "dhcp" or "manual"
	Gw       string
	IP6      string // CIDR, "auto", "dhcp" or "manual"
	Gw6      string
	HWAddr   string
	Firewall *bool
	Tag      *int // VLAN tag, 1..4094
	MTU      *int // 64..65535
	Rate     *float64
	// Extra keeps every other key (type, link_down, trunks, host-managed...)
	// verbatim; nil when there is none.
	Extra map[string]string
}

var netKeys = map[string]bool{
	"name": true, "bridge": true, "ip": true, "gw": true, "ip6": true, "gw6": true,
	"hwaddr": true, "firewall": true, "tag": true, "mtu": true, "rate": true,
}

// ParseNet parses a netN value such as
// name=eth0,bridge=vmbr0,firewall=1,hwaddr=BC:24:11:2E:C5:7E,ip=dhcp,type=veth.
func ParseNet(s string) (Net, error) {
	n, err := parsePropValue(s, "network device", "", (*Net).set)
	if err != nil {
		return Net{}, err
	}
	if n.Name == "" {
		return Net{}, fmt.Errorf("network device %q: name is required", s)
	}
	return n, nil
}

// textFields are the string-valued keys of a device and where they are kept.
func (n *Net) textFields() map[string]*string {
	return map[string]*string{"name": &n.Name, "bridge": &n.Bridge, "ip": &n.IP, "gw": &n.Gw, "ip6": &n.IP6, "gw6": &n.Gw6, "hwaddr": &n.HWAddr}
}

func (n *Net) set(k, v string) error {
	if p, ok := n.textFields()[k]; ok {
		*p = v
		return nil
	}
	switch k {
	case "firewall":
		b, err := parseBool(k, v)
		if err != nil {
			return err
		}
		n.Firewall = &b
	case "tag":
		t, err := parseIntRange(k, v, 1, 4094)
		if err != nil {
			return err
		}
		n.Tag = &t
	case "mtu":
		m, err := parseIntRange(k, v, 64, 65535)
		if err != nil {
			return err
		}
		n.MTU = &m
	case "rate":
		r, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(r) || math.IsInf(r, 0) || r < 0 {
			return fmt.Errorf("rate=%q is not a non-negative number (MB/s)", v)
		}
		r += 0 // turns -0 into 0
		n.Rate = &r
	default:
		setExtra(&n.Extra, k, v)
	}
	return nil
}

// String formats the device as PVE prints it: name first, then the other
// keys sorted. Empty strings and nil pointers are left out.
func (n Net) String() string {
	m := map[string]string{}
	for k, v := range n.Extra {
		if !netKeys[k] && k != "" {
			m[k] = v
		}
	}
	for k, p := range n.textFields() {
		if *p != "" {
			m[k] = *p
		}
	}
	if n.Firewall != nil {
		m["firewall"] = formatBool(*n.Firewall)
	}
	if n.Tag != nil {
		m["tag"] = strconv.Itoa(*n.Tag)
	}
	if n.MTU != nil {
		m["mtu"] = strconv.Itoa(*n.MTU)
	}
	if n.Rate != nil {
		m["rate"] = strconv.FormatFloat(*n.Rate, 'f', -1, 64)
	}
	return joinProps(m, "name")
}

// RootFS is the rootfs (or a mount point's) volume.
type RootFS struct {
	// Volume is STORAGE:VOLNAME (e.g. local-lvm:vm-102-disk-0), or for a new
	// volume STORAGE:SIZE_IN_GiB (see NewVolume).
	Volume string
	// Storage is the part of Volume before the colon (set by ParseRootFS).
	Storage string
	// Size is the size as PVE prints it, e.g. 8G.
	Size string
	// Extra keeps every other key (acl, mountoptions, quota, ...) verbatim;
	// nil when there is none.
	Extra map[string]string
}

// ParseRootFS parses a rootfs value such as local-lvm:vm-102-disk-0,size=8G.
func ParseRootFS(s string) (RootFS, error) {
	r, err := parsePropValue(s, "rootfs", "volume", func(r *RootFS, k, v string) error {
		switch k {
		case "volume":
			r.Volume = v
		case "size":
			r.Size = v
		default:
			setExtra(&r.Extra, k, v)
		}
		return nil
	})
	if err != nil {
		return RootFS{}, err
	}
	if r.Volume == "" {
		return RootFS{}, fmt.Errorf("rootfs %q: volume is required", s)
	}
	r.Storage = volumeStorage(r.Volume)
	return r, nil
}

func volumeStorage(vol string) string {
	if st, _, ok := strings.Cut(vol, ":"); ok {
		return st
	}
	return ""
}

// NewVolume returns the STORAGE:SIZE_IN_GiB form that asks PVE to allocate
// a new volume of size bytes, e.g. local-lvm:8 for 8 GiB.
func NewVolume(storage string, size int64) (string, error) {
	if storage == "" || strings.ContainsAny(storage, ":, ") {
		return "", fmt.Errorf("invalid storage name %q", storage)
	}
	if size <= 0 {
		return "", fmt.Errorf("volume size must be positive, not %d bytes", size)
	}
	gib := new(big.Rat).SetFrac(big.NewInt(size), big.NewInt(1<<30))
	return storage + ":" + strings.TrimSuffix(strings.TrimRight(gib.FloatString(9), "0"), "."), nil
}

// Features are the container's features.
type Features struct {
	Nesting, Keyctl, Fuse, Mknod, ForceRwSys bool
	// Mount lists the file system types the CT may mount (mount=nfs;cifs).
	Mount []string
	// Extra keeps unknown keys verbatim; nil when there is none.
	Extra map[string]string
}

// ParseFeatures parses a features value such as nesting=1,keyctl=1.
func ParseFeatures(s string) (Features, error) {
	f, _, err := ParseFeaturesWithKeys(s)
	return f, err
}

// ParseFeaturesWithKeys is ParseFeatures that also returns the keys the
// value names, in order (nil with an error). Features alone cannot tell
// nesting=0 from a value that does not name nesting, nor mount= from no
// mount key.
func ParseFeaturesWithKeys(s string) (Features, []string, error) {
	pairs, err := parseProps(s, "")
	if err != nil {
		return Features{}, nil, fmt.Errorf("features %q: %w", s, err)
	}
	var f Features
	keys := make([]string, 0, len(pairs))
	for _, p := range pairs {
		keys = append(keys, p.k)
		var dst *bool
		switch p.k {
		case "nesting":
			dst = &f.Nesting
		case "keyctl":
			dst = &f.Keyctl
		case "fuse":
			dst = &f.Fuse
		case "mknod":
			dst = &f.Mknod
		case "force_rw_sys":
			dst = &f.ForceRwSys
		case "mount":
			for _, m := range strings.Split(p.v, ";") {
				if m != "" {
					f.Mount = append(f.Mount, m)
				}
			}
			continue
		default:
			setExtra(&f.Extra, p.k, p.v)
			continue
		}
		b, err := parseBool(p.k, p.v)
		if err != nil {
			return Features{}, nil, fmt.Errorf("features %q: %w", s, err)
		}
		*dst = b
	}
	return f, keys, nil
}

var featureKeys = map[string]bool{"nesting": true, "keyctl": true, "fuse": true, "mknod": true, "force_rw_sys": true, "mount": true}

// String formats the features as PVE prints them: keys sorted, enabled
// booleans only (as 1). An empty value means no features.
func (f Features) String() string {
	m := map[string]string{}
	for k, v := range f.Extra {
		if !featureKeys[k] && k != "" {
			m[k] = v
		}
	}
	for k, b := range map[string]bool{"nesting": f.Nesting, "keyctl": f.Keyctl, "fuse": f.Fuse, "mknod": f.Mknod, "force_rw_sys": f.ForceRwSys} {
		if b {
			m[k] = "1"
		}
	}
	var mounts []string
	for _, x := range f.Mount {
		if x != "" {
			mounts = append(mounts, x)
		}
	}
	if len(mounts) > 0 {
		m["mount"] = strings.Join(mounts, ";")
	}
	return joinProps(m)
}

// Startup is the startup/shutdown order of a container.
type Startup struct {
	Order, Up, Down *int
}

// ParseStartup parses a startup value such as order=1,up=30,down=60 (the
// order key may be omitted: "1,up=30").
func ParseStartup(s string) (Startup, error) {
	return parsePropValue(s, "startup", "order", func(st *Startup, k, v string) error {
		n, err := parseIntRange(k, v, 0, math.MaxInt32)
		if err != nil {
			return err
		}
		switch k {
		case "order":
			st.Order = &n
		case "up":
			st.Up = &n
		case "down":
			st.Down = &n
		default:
			return fmt.Errorf("unknown key %q (order, up, down)", k)
		}
		return nil
	})
}

// String formats the startup order as order=N,up=N,down=N, leaving out
// unset parts.
func (s Startup) String() string {
	var parts []string
	for _, p := range []struct {
		k string
		v *int
	}{{"order", s.Order}, {"up", s.Up}, {"down", s.Down}} {
		if p.v != nil {
			parts = append(parts, p.k+"="+strconv.Itoa(*p.v))
		}
	}
	return strings.Join(parts, ",")
}

var sizePattern = regexp.MustCompile(`^(\d+(?:\.\d+)?)([KMGT]?)$`)

// ParseSize parses a PVE disk size (8G, 512M, 1.5T, or bytes without a
// unit; binary units) into bytes, rounding fractions of a byte down.
func ParseSize(s string) (int64, error) {
	m := sizePattern.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("%q is not a size (e.g. 8G, 512M: a number and K, M, G or T)", s)
	}
	r, ok := new(big.Rat).SetString(m[1])
	if !ok {
		return 0, fmt.Errorf("%q is not a size", s)
	}
	shift := map[string]uint{"": 0, "K": 10, "M": 20, "G": 30, "T": 40}[m[2]]
	r.Mul(r, new(big.Rat).SetInt(new(big.Int).Lsh(big.NewInt(1), shift)))
	n := new(big.Int).Quo(r.Num(), r.Denom())
	if !n.IsInt64() {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return n.Int64(), nil
}

// FormatSize formats bytes as PVE does: the largest unit (K, M, G, T) that
// divides the size exactly, e.g. 8G, 512M, 1536M; plain bytes otherwise.
func FormatSize(n int64) string {
	if n <= 0 {
		return strconv.FormatInt(n, 10)
	}
	units := []string{"", "K", "M", "G", "T"}
	i := 0
	for i < len(units)-1 && n%1024 == 0 {
		n /= 1024
		i++
	}
	return strconv.FormatInt(n, 10) + units[i]
}

// SplitTags splits PVE's tag list (separated by ";", "," or spaces) into
// sorted, distinct tags.
func SplitTags(s string) []string {
	f := strings.FieldsFunc(s, func(r rune) bool {
		return r == ';' || r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r'
	})
	return normTags(f)
}

// JoinTags joins tags the way PVE stores them: sorted, distinct, separated by
// ";". Empty tags are dropped.
func JoinTags(tags []string) string {
	var all []string
	for _, t := range tags {
		all = append(all, SplitTags(t)...)
	}
	return strings.Join(normTags(all), ";")
}

func normTags(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, t := range in {
		if t != "" && !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	sort.Strings(out)
	return out
}

// JoinEnv renders environment variables as Proxmox VE's env value: NAME=value
// entries sorted by name, separated by NUL bytes. An empty map gives "".
func JoinEnv(env map[string]string) string {
	names := make([]string, 0, len(env))
	for n := range env {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + "=" + env[n]
	}
	return strings.Join(parts, "\x00")
}

// SplitEnv parses an env value into variables. Runs of NUL bytes separate
// entries, as PVE splits them when it writes lxc.environment.runtime lines;
// of a name given twice the later entry wins, as it does in the
// container's environment. An entry without "=" is an empty variable.
func SplitEnv(v string) map[string]string {
	out := map[string]string{}
	for _, e := range strings.Split(v, "\x00") {
		if e == "" {
			continue
		}
		name, val, _ := strings.Cut(e, "=")
		out[name] = val
	}
	return out
}
