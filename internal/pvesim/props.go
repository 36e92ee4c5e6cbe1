package pvesim

import (
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// propFormat describes how PVE prints one kind of property string: the key a
// bare value belongs to, the keys printed right after it (the schema's
// non-optional keys) and the keys holding booleans.
type propFormat struct {
	defaultKey string
	required   []string
	booleans   []string
}

var (
	mountFormat   = propFormat{defaultKey: "volume", booleans: []string{"acl", "backup", "quota", "replicate", "ro", "shared"}}
	mpFormat      = propFormat{defaultKey: "volume", required: []string{"mp"}, booleans: mountFormat.booleans}
	netFormat     = propFormat{required: []string{"name"}, booleans: []string{"firewall", "link_down"}}
	featureFormat = propFormat{booleans: []string{"force_rw_sys", "fuse", "keyctl", "nesting"}}
	startupFormat = propFormat{defaultKey: "order"}
)

// formatFor returns the property-string format of a config key, or false
// for plain values.
func formatFor(key string) (propFormat, bool) {
	switch {
	case key == "rootfs":
		return mountFormat, true
	case reMP.MatchString(key):
		return mpFormat, true
	case reUnused.MatchString(key):
		return propFormat{defaultKey: "volume"}, true
	case reNet.MatchString(key):
		return netFormat, true
	case key == "features":
		return featureFormat, true
	case key == "startup":
		return startupFormat, true
	}
	return propFormat{}, false
}

var (
	reMP     = regexp.MustCompile(`^mp\d+$`)
	reNet    = regexp.MustCompile(`^net\d+$`)
	reUnused = regexp.MustCompile(`^unused\d+$`)
	reDev    = regexp.MustCompile(`^dev\d+$`)
)

// splitProps splits a stored property string ("local-lvm:vm-1-disk-0,size=8G")
// into key -> value. Values written by the simulator or PVE are already
// valid, so this only resolves the default key.
func splitProps(value, defaultKey string) map[string]string {
	out := map[string]string{}
	for part := range strings.SplitSeq(value, ",") {
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			if defaultKey != "" {
				out[defaultKey] = part
			}
			continue
		}
		out[k] = v
	}
	return out
}

// printProps prints a property string the way PVE's print_property_string
// does: the default key's bare value first, then the required keys, then the
// rest in alphabetical order. Boolean keys are written as 1 or 0.
func printProps(m map[string]string, f propFormat) string {
	var parts []string
	done := map[string]bool{}
	add := func(k string, bare bool) {
		v, ok := m[k]
		if !ok || done[k] {
			return
		}
		done[k] = true
		if slices.Contains(f.booleans, k) {
			v = normBool(v)
		}
		if bare {
			parts = append(parts, v)
			return
		}
		parts = append(parts, k+"="+v)
	}
	if f.defaultKey != "" {
		add(f.defaultKey, true)
	}
	req := slices.Clone(f.required)
	slices.Sort(req)
	for _, k := range req {
		add(k, false)
	}
	keys := slices.Sorted(maps.Keys(m))
	for _, k := range keys {
		add(k, false)
	}
	return strings.Join(parts, ",")
}

// normBool maps the boolean spellings PVE accepts to 1 or 0.
func normBool(v string) string {
	switch strings.ToLower(v) {
	case "1", "true", "yes", "on":
		return "1"
	case "0", "false", "no", "off":
		return "0"
	}
	return v
}

var reSize = regexp.MustCompile(`^(\d+(?:\.\d+)?)([KMGT])?$`)

// parseSize mirrors PVE::JSONSchema::parse_size: a number with an optional
// K, M, G or T suffix (powers of 1024); no suffix means bytes.
func parseSize(s string) (int64, bool) {
	m := reSize.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	f, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, false
	}
	mult := map[string]float64{"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}[m[2]]
	v := f * mult
	if v > math.MaxInt64/2 {
		return 0, false
	}
	return int64(v), true
}

// formatSize mirrors PVE::JSONSchema::format_size: the largest unit that
// divides the size exactly.
func formatSize(size int64) string {
	kb := size / 1024
	if kb*1024 != size {
		return strconv.FormatInt(size, 10)
	}
	mb := kb / 1024
	if mb*1024 != kb {
		return fmt.Sprintf("%dK", kb)
	}
	gb := mb / 1024
	if gb*1024 != mb {
		return fmt.Sprintf("%dM", mb)
	}
	tb := gb / 1024
	if tb*1024 != gb {
		return fmt.Sprintf("%dG", gb)
	}
	return fmt.Sprintf("%dT", tb)
}

// volumeSize returns the size recorded in a mount point's properties, in
// bytes (0 when absent).
func volumeSize(props map[string]string) int64 {
	n, _ := parseSize(props["size"])
	return n
}

var reNewDisk = regexp.MustCompile(`^(?:([^\s:]+):)?(\d+(?:\.\d+)?)$`)

// configTypes lists the config keys whose JSON value PVE returns as a number;
// everything else is a string.
var configTypes = map[string]string{
	"cores":        "integer",
	"cpuunits":     "integer",
	"memory":       "integer",
	"swap":         "integer",
	"tty":          "integer",
	"snaptime":     "integer",
	"cpulimit":     "number",
	"console":      "boolean",
	"debug":        "boolean",
	"onboot":       "boolean",
	"protection":   "boolean",
	"template":     "boolean",
	"unprivileged": "boolean",
}

// jsonValue converts a config value to the JSON value PVE returns for key.
func jsonValue(key, value string) any {
	switch configTypes[key] {
	case "integer":
		if n, err := strconv.ParseInt(value, 10, 64); err == nil {
			return n
		}
	case "number":
		if f, err := strconv.ParseFloat(value, 64); err == nil {
			return f
		}
	case "boolean":
		switch normBool(value) {
		case "1":
			return 1
		case "0":
			return 0
		}
	}
	return value
}

// normalizeValue is the value PVE writes to the config for a validated
// parameter: booleans as 1 or 0, numbers without a leading '+'.
func normalizeValue(key, value string) string {
	switch configTypes[key] {
	case "boolean":
		return normBool(value)
	case "integer":
		if n, err := strconv.ParseInt(value, 10, 64); err == nil {
			return strconv.FormatInt(n, 10)
		}
	case "number":
		if f, err := strconv.ParseFloat(value, 64); err == nil {
			return strconv.FormatFloat(f, 'f', -1, 64)
		}
	}
	return value
}
