package params

import (
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Type is a JSON-schema value type as PVE uses it for API parameters.
type Type string

// The value types that occur in the covered parameter tables.
const (
	String  Type = "string"
	Integer Type = "integer"
	Number  Type = "number"
	Boolean Type = "boolean"
)

// prop describes one parameter (or one key of a property string) the way
// PVE's JSON schema does. Limits are kept as the schema spells them so
// messages print them unchanged.
type prop struct {
	Type     Type
	Optional bool
	// Enum lists the allowed values; nil when unrestricted.
	Enum []string
	// Pattern is the Go spelling of the schema's regular expression,
	// matched against the whole value.
	Pattern string
	// Format names a registered format ("pve-vmid", "dns-name-list", ...).
	Format string
	// Sub describes the keys of a property-string value (net[n], rootfs,
	// ...); nil for plain values.
	Sub map[string]*prop
	// Min and Max are numeric limits as written in the schema ("" = none).
	Min, Max string
	// MinLength and MaxLength limit the length in characters (0 = none).
	MinLength, MaxLength int
	// Requires names a parameter that must be present when this one is.
	Requires string
	// DefaultKey marks the key a property string's bare value belongs to.
	DefaultKey bool

	re *regexp.Regexp
}

// compile prepares the regular expressions of p and its sub-keys.
func (p *prop) compile() {
	if p.Pattern != "" && p.re == nil {
		p.re = regexp.MustCompile(`^(?:` + p.Pattern + `)$`)
	}
	for _, s := range p.Sub {
		s.compile()
	}
}

// perlMatch reports whether re (anchored with ^ and $) matches s the way a
// Perl match does: Perl's $ also matches before a final newline.
func perlMatch(re *regexp.Regexp, s string) bool {
	if re.MatchString(s) {
		return true
	}
	return strings.HasSuffix(s, "\n") && re.MatchString(s[:len(s)-1])
}

var (
	integerRE = regexp.MustCompile(`^[+-]?\d+$`)
	numberRE  = regexp.MustCompile(`^[+-]?(\d+\.\d+|\d+\.|\.\d+|\d+)([eE][+-]?\d+)?$`)
)

func isInteger(v string) bool { return perlMatch(integerRE, v) }
func isNumber(v string) bool  { return perlMatch(numberRE, v) }

// perlNum converts a value that passed isNumber to a float the way Perl
// numifies it.
func perlNum(v string) float64 {
	// Out-of-range values come back as ±Inf with an error; Perl's
	// numification gives Inf as well, so the error is not needed.
	f, _ := strconv.ParseFloat(strings.TrimSuffix(v, "\n"), 64)
	return f
}

// errs collects messages per parameter path like PVE's add_error: a second
// message for the same path is joined with a literal backslash-n.
type errs map[string]string

func (e errs) add(path, msg string) {
	if path == "" {
		path = "_root"
	}
	if old, ok := e[path]; ok {
		e[path] = old + `\n` + msg
		return
	}
	e[path] = msg
}

// checkType mirrors PVE::JSONSchema::check_type for string values.
func checkType(path string, t Type, v string, e errs) bool {
	switch t {
	case Boolean:
		if v == "1" || v == "0" {
			return true
		}
	case Integer:
		if isInteger(v) {
			return true
		}
	case Number:
		if isNumber(v) {
			return true
		}
	default:
		return true
	}
	e.add(path, "type check ('"+string(t)+"') failed - got '"+v+"'")
	return false
}

// check mirrors PVE::JSONSchema::check_prop for a present value: type,
// format, pattern, length, range and enumeration, stopping at the first
// failure like PVE does.
func (p *prop) check(path, v string, e errs) {
	if !checkType(path, p.Type, v, e) {
		return
	}
	if p.Sub != nil {
		if err := checkPropertyString(path, p.Sub, v); err != "" {
			e.add(path, "invalid format - "+err)
			return
		}
	} else if p.Format != "" {
		if err := checkFormat(p.Format, v); err != "" {
			e.add(path, "invalid format - "+err)
			return
		}
	}
	if p.re != nil && !perlMatch(p.re, v) {
		e.add(path, "value does not match the regex pattern")
		return
	}
	if p.MaxLength > 0 && utf8.RuneCountInString(v) > p.MaxLength {
		e.add(path, "value may only be "+strconv.Itoa(p.MaxLength)+" characters long")
		return
	}
	if p.MinLength > 0 && utf8.RuneCountInString(v) < p.MinLength {
		e.add(path, "value must be at least "+strconv.Itoa(p.MinLength)+" characters long")
		return
	}
	if isNumber(v) {
		n := perlNum(v)
		if p.Max != "" && n > perlNum(p.Max) {
			e.add(path, "value must have a maximum value of "+p.Max)
			return
		}
		if p.Min != "" && n < perlNum(p.Min) {
			e.add(path, "value must have a minimum value of "+p.Min)
			return
		}
	}
	if p.Enum != nil {
		for _, ev := range p.Enum {
			if ev == v {
				return
			}
		}
		e.add(path, "value '"+v+"' does not have a value in the enumeration '"+strings.Join(p.Enum, ", ")+"'")
	}
}

// checkObject mirrors PVE::JSONSchema::check_object with additional
// properties refused: every schema key is checked (missing required ones
// reported), then every given key that the schema does not define.
func checkObject(prefix string, schema map[string]*prop, values map[string]string, e errs) {
	join := func(k string) string {
		if prefix == "" {
			return k
		}
		return prefix + "." + k
	}
	// Each schema key gets at most one message here, so map order does
	// not change the result.
	for k, p := range schema {
		v, ok := values[k]
		if !ok {
			if !p.Optional {
				e.add(join(k), "property is missing and it is not optional")
			}
			continue
		}
		p.check(join(k), v, e)
	}
	for _, k := range sortedKeys(values) {
		p, ok := schema[k]
		if !ok {
			e.add(join(k), "property is not defined in schema and the schema does not allow additional properties")
			continue
		}
		if p.Requires != "" {
			if _, ok := values[p.Requires]; !ok {
				e.add(join(p.Requires), "missing property - '"+join(k)+"' requires this property")
			}
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := slices.Sorted(maps.Keys(m))
	return keys
}
