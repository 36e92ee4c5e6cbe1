package params

import (
	"regexp"
	"strings"
)

var (
	propPartKV  = regexp.MustCompile(`^([^=]+)=(.+)$`)
	propPartNil = regexp.MustCompile(`^\s*$`)
)

// parsePropertyString splits a property string into its keys like
// PVE::JSONSchema::parse_property_string does before checking: the bare
// value goes to the default key, boolean keys accept 1/0, on/off, yes/no
// and true/false (stored as "1"/"0"). It returns PVE's message on failure.
func parsePropertyString(schema map[string]*prop, data string) (map[string]string, string) {
	res := map[string]string{}
	defaultKey := ""
	for _, part := range perlSplitComma(data) {
		if propPartNil.MatchString(part) {
			continue
		}
		if m := submatch(propPartKV, part); m != nil {
			k, v := m[1], m[2]
			if _, dup := res[k]; dup {
				return nil, "duplicate key in comma-separated list property: " + k + "\n"
			}
			p, ok := schema[k]
			if !ok {
				return nil, "invalid key in comma-separated list property: " + k + "\n"
			}
			if p.Type == Boolean {
				if b, ok := parseBoolean(v); ok {
					v = b
				}
			}
			res[k] = v
			continue
		}
		if strings.Contains(part, "=") {
			return nil, "missing key in comma-separated list property\n"
		}
		if defaultKey != "" {
			return nil, "duplicate key in comma-separated list property: " + defaultKey + "\n"
		}
		for _, k := range sortedKeys(schema) {
			if !schema[k].DefaultKey {
				continue
			}
			defaultKey = k
			if !perlTrue(res[k]) {
				res[k] = part
				break
			}
			return nil, "duplicate key in comma-separated list property: " + k + "\n"
		}
		if defaultKey == "" {
			return nil, "value without key, but schema does not define a default key\n"
		}
	}
	return res, ""
}

// checkPropertyString parses and checks a property-string value; path is
// the parameter name, used as prefix of the sub-key paths in the message.
func checkPropertyString(path string, schema map[string]*prop, data string) string {
	_, msg := propertyString(path, schema, data)
	return msg
}

// propertyString parses and checks a property-string value, returning the
// parsed keys or PVE's message.
func propertyString(path string, schema map[string]*prop, data string) (map[string]string, string) {
	res, msg := parsePropertyString(schema, data)
	if msg != "" {
		return nil, msg
	}
	e := errs{}
	checkObject(path, schema, res, e)
	if len(e) == 0 {
		return res, ""
	}
	// PVE raises "format error" with the sub-key errors; stringified, each
	// error follows on its own line.
	var b strings.Builder
	b.WriteString("format error\n")
	for _, k := range sortedKeys(e) {
		b.WriteString(k + ": " + e[k] + "\n")
	}
	return nil, b.String()
}

// parseBoolean mirrors PVE::JSONSchema::parse_boolean.
func parseBoolean(v string) (string, bool) {
	switch strings.ToLower(strings.TrimSuffix(v, "\n")) {
	case "1", "on", "yes", "true":
		return "1", true
	case "0", "off", "no", "false":
		return "0", true
	}
	return "", false
}

// perlTrue is Perl's truth test for a string.
func perlTrue(s string) bool { return s != "" && s != "0" }
