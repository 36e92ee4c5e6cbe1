package params

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// covered lists the endpoints the simulator validates, as "METHOD path".
var covered = []string{
	"GET /version", "GET /nodes", "GET /nodes/{node}/status", "GET /cluster/status",
	"GET /cluster/resources", "GET /cluster/nextid",
	"GET /nodes/{node}/lxc", "POST /nodes/{node}/lxc",
	"GET /nodes/{node}/lxc/{vmid}", "DELETE /nodes/{node}/lxc/{vmid}",
	"GET /nodes/{node}/lxc/{vmid}/config", "PUT /nodes/{node}/lxc/{vmid}/config",
	"GET /nodes/{node}/lxc/{vmid}/status/current",
	"POST /nodes/{node}/lxc/{vmid}/status/start", "POST /nodes/{node}/lxc/{vmid}/status/stop",
	"POST /nodes/{node}/lxc/{vmid}/status/shutdown", "POST /nodes/{node}/lxc/{vmid}/status/reboot",
	"POST /nodes/{node}/lxc/{vmid}/clone", "PUT /nodes/{node}/lxc/{vmid}/resize",
	"GET /nodes/{node}/lxc/{vmid}/snapshot", "POST /nodes/{node}/lxc/{vmid}/snapshot",
	"DELETE /nodes/{node}/lxc/{vmid}/snapshot/{snapname}",
	"POST /nodes/{node}/lxc/{vmid}/template", "GET /nodes/{node}/lxc/{vmid}/pending",
	"GET /nodes/{node}/lxc/{vmid}/interfaces",
	"GET /nodes/{node}/tasks/{upid}/status", "GET /nodes/{node}/tasks/{upid}/log",
	"GET /nodes/{node}/storage", "GET /nodes/{node}/storage/{storage}/content",
	"POST /access/ticket", "GET /access/ticket",
	"GET /pools", "POST /pools", "PUT /pools", "DELETE /pools",
	"GET /pools/{poolid}", "PUT /pools/{poolid}", "DELETE /pools/{poolid}",
	"GET /cluster/ha/resources", "POST /cluster/ha/resources",
	"GET /cluster/ha/resources/{sid}", "PUT /cluster/ha/resources/{sid}", "DELETE /cluster/ha/resources/{sid}",
}

// schemaProp is one parameter (or property-string key) of the official schema.
type schemaProp struct {
	Type       string          `json:"type"`
	Optional   any             `json:"optional"`
	Enum       []string        `json:"enum"`
	Pattern    string          `json:"pattern"`
	Format     json.RawMessage `json:"format"`
	Minimum    any             `json:"minimum"`
	Maximum    any             `json:"maximum"`
	MinLength  *int            `json:"minLength"`
	MaxLength  *int            `json:"maxLength"`
	Requires   any             `json:"requires"`
	DefaultKey any             `json:"default_key"`
}

type schemaMethod struct {
	Parameters struct {
		Properties map[string]*schemaProp `json:"properties"`
	} `json:"parameters"`
}

func truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case json.Number:
		return x.String() != "0"
	case string:
		return x != "" && x != "0"
	}
	return true
}

func limit(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case json.Number:
		return x.String()
	case string:
		return x
	}
	return fmt.Sprint(v)
}

func (s *schemaProp) namedFormat() string {
	var name string
	if len(s.Format) > 0 && json.Unmarshal(s.Format, &name) == nil {
		return name
	}
	return ""
}

func (s *schemaProp) subFormat(t *testing.T) map[string]*schemaProp {
	t.Helper()
	if len(s.Format) == 0 || s.Format[0] != '{' {
		return nil
	}
	var sub map[string]*schemaProp
	dec := json.NewDecoder(strings.NewReader(string(s.Format)))
	dec.UseNumber()
	if err := dec.Decode(&sub); err != nil {
		t.Fatalf("decode property-string format: %v", err)
	}
	return sub
}

// goPattern turns the schema's Perl spelling of a pattern into Go's.
func goPattern(p string) string {
	p = strings.ReplaceAll(p, "(?^:", "(?:")
	return strings.ReplaceAll(p, `\0`, `\x00`)
}

// schemaPath finds testdata/pve-api/pve-api-lxc.json below the repo root.
func schemaPath(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "testdata", "pve-api", "pve-api-lxc.json")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("repo root (go.mod) not found")
		}
		dir = parent
	}
}

// loadSchema reads the schema extract and the pools and HA paths derived
// beside it (testdata/README.md).
func loadSchema(t *testing.T) map[string]map[string]*schemaMethod {
	t.Helper()
	schema := map[string]map[string]*schemaMethod{}
	for _, path := range []string{schemaPath(t), filepath.Join(filepath.Dir(schemaPath(t)), "pve-api-pools-ha.json")} {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var part map[string]map[string]*schemaMethod
		dec := json.NewDecoder(strings.NewReader(string(data)))
		dec.UseNumber()
		if err := dec.Decode(&part); err != nil {
			t.Fatalf("decode %s: %v", path, err)
		}
		maps.Copy(schema, part)
	}
	return schema
}

// sample holds values of a named format that PVE accepts, one it refuses
// and the message it refuses it with.
type sample struct {
	valid   []string
	invalid string
	msg     string
}

var formatSamples = map[string]sample{
	"pve-node":                  {[]string{"pve1", "node-2"}, "-pve", "value does not look like a valid node name\n"},
	"pve-vmid":                  {[]string{"100", "999999999"}, "0100", "value does not look like a valid VM ID\n"},
	"pve-lxc-mp-string":         {[]string{"/mnt/data", "local-lvm:8"}, "/mnt/../etc", "/mnt/../etc contains illegal character sequences\n"},
	"pve-volume-id":             {[]string{"local:snippets/hook.sh"}, "hook.sh", "unable to parse volume ID 'hook.sh'\n"},
	"disk-size":                 {[]string{"8G", "512M", "1.5T", "1024"}, "8X", "value does not look like a valid disk size: 8X\n"},
	"pve-configid":              {[]string{"snap1", "pre-upgrade"}, "1snap", "invalid configuration ID '1snap'\n"},
	"pve-storage-id":            {[]string{"local", "local-lvm"}, "local_", "storage ID 'local_' contains illegal characters\n"},
	"dns-name":                  {[]string{"docker-01", "ct.example.com"}, "-bad", "value does not look like a valid DNS name\n"},
	"pve-configid-list":         {[]string{"memory", "swap,net1;mp0 tags"}, "memory,1x", "invalid configuration ID '1x'\n"},
	"pve-lxc-dev-string":        {[]string{"/dev/net/tun", "/dev/fuse"}, "/tmp/x", "/tmp/x is not a valid device path\n"},
	"lxc-ip-with-ll-iface-list": {[]string{"10.0.0.1", "1.1.1.1 fd00::53", "fe80::1%eth0"}, "10.0.0.300", "value does not look like a valid IP address\n"},
	"ipv4":                      {[]string{"10.0.0.1", "192.168.1.254"}, "10.0.0.256", "value does not look like a valid IPv4 address\n"},
	"ipv6":                      {[]string{"fd00::1", "2001:db8::1"}, "fd00::g", "value does not look like a valid IPv6 address\n"},
	"mac-addr":                  {[]string{"BC:24:11:AA:BB:CC", "02:00:00:00:00:01"}, "01:00:00:00:00:00", "value does not look like a valid unicast MAC address\n"},
	"pve-ipv4-config":           {[]string{"dhcp", "manual", "10.0.0.202/24"}, "10.0.0.202/4", "value does not look like a valid ipv4 network configuration\n"},
	"pve-ipv6-config":           {[]string{"auto", "dhcp", "fd00::2/64"}, "fd00::2/129", "value does not look like a valid ipv6 network configuration\n"},
	"dns-name-list":             {[]string{"example.com", "lan example.com"}, "bad_domain", "value does not look like a valid DNS name\n"},
	"pve-startup-order":         {[]string{"order=2,up=10", "3", "order=1,down=30"}, "first", "unable to parse startup options\n"},
	"pve-tag-list":              {[]string{"a;b", "docker prod"}, "ok;b@d", "invalid characters in tag\n"},
	"pve-ct-timezone":           {[]string{"host", "UTC", "Europe/Berlin"}, "Not A Zone", "invalid time zone 'Not A Zone'\n"},
	"pve-poolid":                {[]string{"pool1", "team.a"}, "pool 1", "pool name 'pool 1' contains invalid characters\n"},
	"pve-vmid-list":             {[]string{"100", "100,101"}, "100,99", "value does not look like a valid VM ID\n"},
	"pve-storage-id-list":       {[]string{"local", "local,local-lvm"}, "local,1x", "storage ID '1x' contains illegal characters\n"},
	"pve-ha-resource-or-vm-id":  {[]string{"ct:100", "100"}, "CT:100", "value does not look like a valid ha resource id\n"},
	"pve-priv-list":             {[]string{"VM.Audit", "VM.Audit,Sys.Audit"}, "VM.Fly", "invalid privilege 'VM.Fly'\n"},
	"pve-realm":                 {[]string{"pam", "pve"}, "1pam", "value does not look like a valid realm\n"},
	"pve-storage-content-list":  {[]string{"rootdir,vztmpl", "images"}, "movies", "invalid content type 'movies'\n"},
	"pve-storage-content":       {[]string{"vztmpl", "rootdir"}, "movies", "invalid content type 'movies'\n"},
}

// patternSamples is keyed by the schema's own spelling of the pattern.
var patternSamples = map[string]sample{
	`(?^:[^\x00-\x08\x10-\x1F\x7F]+)`:                                              {valid: []string{"/sbin/init", "/usr/bin/env bash -l"}, invalid: "a\x01b"},
	`(?^:(?:\w+=[^\x00-\x08\x10-\x1F\x7F]*)(?:\0\w+=[^\x00-\x08\x10-\x1F\x7F]*)*)`: {valid: []string{"FOO=bar", "A=1\x00B=2"}, invalid: "no-equals"},
	`[-_.\w\d]+`:            {valid: []string{"eth0", "vmbr0", "br-lan.10"}, invalid: "eth 0"},
	`(?^:\d+(?:;\d+)*)`:     {valid: []string{"10", "10;20;30"}, invalid: "10;x"},
	`(?^:[a-zA-Z0-9_; ]+)`:  {valid: []string{"nfs;cifs", "ext4"}, invalid: "nfs/4"},
	`0[0-7]{3}`:             {valid: []string{"0666", "0600"}, invalid: "0999"},
	`\+?\d+(\.\d+)?[KMGT]?`: {valid: []string{"+1G", "10G", "8"}, invalid: "1Z"},
	`(?^:(?^:(discard|lazytime|noatime|nodev|noexec|nosuid))(;(?^:(discard|lazytime|noatime|nodev|noexec|nosuid)))*)`: {valid: []string{"noatime", "noatime;nodev;discard"}, invalid: "noatime;rw"},
}

// longSamples build a format-valid value of n characters, for length limits.
var longSamples = map[string]func(n int) string{
	"":             func(n int) string { return strings.Repeat("a", n) },
	"dns-name":     func(n int) string { return strings.Repeat("a", n) },
	"pve-configid": func(n int) string { return strings.Repeat("a", n) },
	"pve-realm":    func(n int) string { return strings.Repeat("a", n) },
}

// conformance gathers counts and runs the cases of one endpoint.
type conformance struct {
	t            *testing.T
	method, path string
	params       int
	cases        int
	base         map[string]string
	schema       map[string]*schemaProp
}

// validValues returns values the schema accepts for s (plain values only).
func (c *conformance) validValues(name string, s *schemaProp) []string {
	t := c.t
	t.Helper()
	if len(s.Enum) > 0 {
		return s.Enum
	}
	switch s.Type {
	case "boolean":
		return []string{"1", "0"}
	case "integer", "number":
		var out []string
		if m := limit(s.Minimum); m != "" {
			out = append(out, m)
		}
		if m := limit(s.Maximum); m != "" {
			out = append(out, m)
		}
		if len(out) == 0 {
			out = append(out, "1", "42")
		}
		if s.Type == "number" && limit(s.Maximum) == "" {
			out = append(out, "1.5")
		}
		return out
	}
	if f := s.namedFormat(); f != "" {
		smp, ok := formatSamples[f]
		if !ok {
			t.Fatalf("%s: no samples for format %q; add them to formatSamples", name, f)
		}
		return smp.valid
	}
	if s.Pattern != "" {
		smp, ok := patternSamples[s.Pattern]
		if !ok {
			t.Fatalf("%s: no samples for pattern %q; add them to patternSamples", name, s.Pattern)
		}
		return smp.valid
	}
	if s.MinLength != nil {
		return []string{strings.Repeat("s", *s.MinLength), "s3cret-pass"}
	}
	return []string{"x", "some text"}
}

// invalid is one refused value and the exact message ("" = any message).
type invalid struct {
	value, msg string
}

func (c *conformance) invalidValues(name string, s *schemaProp) []invalid {
	var out []invalid
	typeMsg := func(v string) invalid {
		return invalid{v, "type check ('" + s.Type + "') failed - got '" + v + "'"}
	}
	format := s.namedFormat()
	switch s.Type {
	case "boolean":
		out = append(out, typeMsg("2"))
		if !c.inPropertyString(name) {
			// The API takes only 0 and 1; property strings also take true/false.
			out = append(out, typeMsg("true"), typeMsg("yes"))
		} else {
			out = append(out, typeMsg("maybe"))
		}
	case "integer":
		out = append(out, typeMsg("abc"), typeMsg("1.5"))
	case "number":
		out = append(out, typeMsg("abc"), typeMsg("1;5"))
	}
	exact := func(msg string) string {
		if format != "" {
			return "" // the format check comes first in PVE and may refuse earlier
		}
		return msg
	}
	if m := limit(s.Minimum); m != "" {
		f, _ := strconv.ParseFloat(m, 64)
		v := strconv.FormatFloat(f-1, 'f', -1, 64)
		out = append(out, invalid{v, exact("value must have a minimum value of " + m)})
	}
	if m := limit(s.Maximum); m != "" {
		f, _ := strconv.ParseFloat(m, 64)
		v := strconv.FormatFloat(f+1, 'f', -1, 64)
		out = append(out, invalid{v, exact("value must have a maximum value of " + m)})
	}
	if len(s.Enum) > 0 {
		out = append(out, invalid{"not-in-enum", "value 'not-in-enum' does not have a value in the enumeration '" + strings.Join(s.Enum, ", ") + "'"})
	}
	if format != "" {
		smp := formatSamples[format]
		out = append(out, invalid{smp.invalid, "invalid format - " + smp.msg})
	}
	if s.Pattern != "" && format == "" {
		out = append(out, invalid{patternSamples[s.Pattern].invalid, "value does not match the regex pattern"})
	}
	if s.MaxLength != nil {
		if long, ok := longSamples[format]; ok {
			n := *s.MaxLength
			out = append(out, invalid{long(n + 1), "value may only be " + strconv.Itoa(n) + " characters long"})
		}
	}
	if s.MinLength != nil && *s.MinLength > 1 && format == "" {
		n := *s.MinLength
		out = append(out, invalid{strings.Repeat("s", n-1), "value must be at least " + strconv.Itoa(n) + " characters long"})
	}
	return out
}

func (c *conformance) inPropertyString(name string) bool { return strings.Contains(name, ".") }

// run validates req and checks the outcome: want == nil means accepted,
// else exactly the keys of want are refused (an empty message matches any).
func (c *conformance) run(label string, req map[string]string, want map[string]string) {
	t := c.t
	t.Helper()
	c.cases++
	got := Validate(c.method, c.path, req)
	if want == nil {
		if got != nil {
			t.Errorf("%s %s: %s: refused %q: %q", c.method, c.path, label, req, got)
		}
		return
	}
	for k, w := range want {
		g, ok := got[k]
		switch {
		case !ok:
			t.Errorf("%s %s: %s: %s not refused (got %q)", c.method, c.path, label, k, got)
		case w != "" && g != w:
			t.Errorf("%s %s: %s: %s message\n got: %q\nwant: %q", c.method, c.path, label, k, g, w)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s %s: %s: unexpected error on %s: %q", c.method, c.path, label, k, got[k])
		}
	}
}

func with(base map[string]string, kv ...string) map[string]string {
	m := make(map[string]string, len(base)+len(kv)/2)
	for k, v := range base {
		m[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func without(base map[string]string, key string) map[string]string {
	m := with(base)
	delete(m, key)
	return m
}

// concrete names the first and last parameter an indexed name stands for.
func concrete(name string) []string {
	base, ok := strings.CutSuffix(name, "[n]")
	if !ok {
		return []string{name}
	}
	return []string{base + "0", base + strconv.Itoa(indexCount[name]-1)}
}

func TestConformanceWithSchema(t *testing.T) {
	schema := loadSchema(t)

	var keys []string
	for k := range table {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	want := slices.Clone(covered)
	slices.Sort(want)
	if !slices.Equal(keys, want) {
		t.Errorf("table endpoints differ from the covered list:\n got %q\nwant %q", keys, want)
	}

	totalParams, totalCases := 0, 0
	for _, ep := range covered {
		method, path, _ := strings.Cut(ep, " ")
		m := schema[path][method]
		if m == nil {
			t.Errorf("%s: not in the schema", ep)
			continue
		}
		c := &conformance{t: t, method: method, path: path, schema: m.Parameters.Properties}
		c.compareTable(table[ep])
		c.generateCases()
		t.Logf("%-52s %4d parameters %6d cases", ep, c.params, c.cases)
		totalParams += c.params
		totalCases += c.cases
	}
	t.Logf("conformance: %d endpoints, %d parameters (property-string keys included), %d cases checked", len(covered), totalParams, totalCases)
	fmt.Printf("conformance: %d endpoints, %d parameters (property-string keys included), %d cases checked\n", len(covered), totalParams, totalCases)
}

// compareTable checks that the hand-written table says what the schema says.
func (c *conformance) compareTable(mine map[string]*prop) {
	t := c.t
	names := sortedKeys(c.schema)
	if got := sortedKeys(mine); !slices.Equal(got, names) {
		t.Errorf("%s %s: parameter names\n got %q\nwant %q", c.method, c.path, got, names)
	}
	for _, n := range names {
		if p := mine[n]; p != nil {
			c.compareProp(n, c.schema[n], p)
		}
	}
}

func (c *conformance) compareProp(name string, s *schemaProp, p *prop) {
	t := c.t
	c.params++
	where := c.method + " " + c.path + " " + name
	if string(p.Type) != s.Type {
		t.Errorf("%s: type %q, schema %q", where, p.Type, s.Type)
	}
	if p.Optional != truthy(s.Optional) {
		t.Errorf("%s: optional %v, schema %v", where, p.Optional, truthy(s.Optional))
	}
	if !slices.Equal(p.Enum, s.Enum) {
		t.Errorf("%s: enum %q, schema %q", where, p.Enum, s.Enum)
	}
	if p.Min != limit(s.Minimum) || p.Max != limit(s.Maximum) {
		t.Errorf("%s: range [%q, %q], schema [%q, %q]", where, p.Min, p.Max, limit(s.Minimum), limit(s.Maximum))
	}
	if s.MaxLength != nil && p.MaxLength != *s.MaxLength || s.MaxLength == nil && p.MaxLength != 0 {
		t.Errorf("%s: maxLength %d, schema %v", where, p.MaxLength, s.MaxLength)
	}
	if s.MinLength != nil && p.MinLength != *s.MinLength || s.MinLength == nil && p.MinLength != 0 {
		t.Errorf("%s: minLength %d, schema %v", where, p.MinLength, s.MinLength)
	}
	if p.Requires != limit(s.Requires) {
		t.Errorf("%s: requires %q, schema %q", where, p.Requires, limit(s.Requires))
	}
	if p.DefaultKey != truthy(s.DefaultKey) {
		t.Errorf("%s: default_key %v, schema %v", where, p.DefaultKey, truthy(s.DefaultKey))
	}
	if (p.Pattern == "") != (s.Pattern == "") {
		t.Errorf("%s: pattern %q, schema %q", where, p.Pattern, s.Pattern)
	} else if s.Pattern != "" {
		c.comparePattern(where, s.Pattern, p)
	}
	if sub := s.subFormat(t); sub != nil {
		if p.Sub == nil {
			t.Errorf("%s: schema has a property-string format, table has %q", where, p.Format)
			return
		}
		if got, want := sortedKeys(p.Sub), sortedKeys(sub); !slices.Equal(got, want) {
			t.Errorf("%s: property-string keys\n got %q\nwant %q", where, got, want)
		}
		for _, k := range sortedKeys(sub) {
			if sp := p.Sub[k]; sp != nil {
				c.compareProp(name+"."+k, sub[k], sp)
			}
		}
		return
	}
	if p.Format != s.namedFormat() {
		t.Errorf("%s: format %q, schema %q", where, p.Format, s.namedFormat())
	}
}

// comparePattern checks that the table's pattern and the schema's agree on
// the samples (and a few generic strings).
func (c *conformance) comparePattern(where, schemaPattern string, p *prop) {
	t := c.t
	re, err := regexp.Compile(`^(?:` + goPattern(schemaPattern) + `)$`)
	if err != nil {
		t.Errorf("%s: schema pattern %q does not compile in Go: %v", where, schemaPattern, err)
		return
	}
	smp := patternSamples[schemaPattern]
	inputs := append(slices.Clone(smp.valid), smp.invalid, "", "a", "0", "A_b-1.2", "x y", "1;2", "\x7f", "a=b")
	for _, in := range inputs {
		if re.MatchString(in) != p.re.MatchString(in) {
			t.Errorf("%s: pattern disagrees with the schema on %q", where, in)
		}
	}
}

// generateCases builds requests from the schema and checks Validate on them.
func (c *conformance) generateCases() {
	c.base = map[string]string{}
	for _, n := range sortedKeys(c.schema) {
		s := c.schema[n]
		if !truthy(s.Optional) {
			c.base[n] = c.sampleValue(n, s)
		}
	}
	c.run("all required parameters", c.base, nil)
	c.run("unknown parameter", with(c.base, "bogus-param", "1"),
		map[string]string{"bogus-param": "property is not defined in schema and the schema does not allow additional properties"})

	for _, n := range sortedKeys(c.schema) {
		s := c.schema[n]
		if !truthy(s.Optional) {
			c.run("missing "+n, without(c.base, n), map[string]string{n: "property is missing and it is not optional"})
		}
		if base, ok := strings.CutSuffix(n, "[n]"); ok {
			over := base + strconv.Itoa(indexCount[n])
			c.run("index past the end", with(c.base, over, c.sampleValue(n, s)),
				map[string]string{over: "property is not defined in schema and the schema does not allow additional properties"})
		}
		partner := limit(s.Requires)
		for _, name := range concrete(n) {
			req := c.base
			if partner != "" {
				req = with(c.base, partner, c.sampleValue(partner, c.schema[partner]))
				c.run(name+" without "+partner, without(with(c.base, name, c.sampleValue(n, s)), partner),
					map[string]string{partner: "missing property - '" + name + "' requires this property"})
			}
			if sub := s.subFormat(c.t); sub != nil {
				c.propertyStringCases(name, req, sub)
				continue
			}
			for _, v := range c.validValues(n, s) {
				c.run(name+" valid", with(req, name, v), nil)
			}
			for _, inv := range c.invalidValues(name, s) {
				c.run(name+" invalid "+strconv.Quote(inv.value), with(req, name, inv.value), map[string]string{name: inv.msg})
			}
		}
	}
}

func (c *conformance) sampleValue(name string, s *schemaProp) string {
	if sub := s.subFormat(c.t); sub != nil {
		return c.propertyBase(name, sub)
	}
	return c.validValues(name, s)[0]
}

// propertyBase builds the smallest valid property string: the default key's
// value bare, then the other required keys.
func (c *conformance) propertyBase(name string, sub map[string]*schemaProp) string {
	var parts []string
	for _, k := range sortedKeys(sub) {
		if truthy(sub[k].DefaultKey) && !truthy(sub[k].Optional) {
			parts = append(parts, c.validValues(name+"."+k, sub[k])[0])
		}
	}
	for _, k := range sortedKeys(sub) {
		if !truthy(sub[k].DefaultKey) && !truthy(sub[k].Optional) {
			parts = append(parts, k+"="+c.validValues(name+"."+k, sub[k])[0])
		}
	}
	return strings.Join(parts, ",")
}

func (c *conformance) propertyStringCases(name string, req map[string]string, sub map[string]*schemaProp) {
	base := c.propertyBase(name, sub)
	join := func(parts ...string) string {
		var out []string
		for _, p := range parts {
			if p != "" {
				out = append(out, p)
			}
		}
		return strings.Join(out, ",")
	}
	formatErr := func(key, msg string) string {
		return "invalid format - format error\n" + name + "." + key + ": " + msg + "\n"
	}
	if base != "" {
		c.run(name+" base", with(req, name, base), nil)
	}
	hasDefault := false
	for _, k := range sortedKeys(sub) {
		s := sub[k]
		// The base without k: required keys stay, k is set explicitly.
		rest := c.propertyBaseWithout(name, sub, k)
		if truthy(s.DefaultKey) {
			hasDefault = true
		}
		for _, v := range c.validValues(name+"."+k, s) {
			c.run(name+"."+k+" valid", with(req, name, join(rest, k+"="+v)), nil)
			if truthy(s.DefaultKey) {
				c.run(name+"."+k+" valid bare", with(req, name, join(v, rest)), nil)
			}
		}
		if s.Type == "boolean" {
			for _, v := range []string{"true", "off", "YES"} {
				c.run(name+"."+k+" boolean word", with(req, name, join(rest, k+"="+v)), nil)
			}
		}
		for _, inv := range c.invalidValues(name+"."+k, s) {
			want := ""
			if inv.msg != "" {
				want = formatErr(k, inv.msg)
			}
			c.run(name+"."+k+" invalid "+strconv.Quote(inv.value), with(req, name, join(rest, k+"="+inv.value)), map[string]string{name: want})
		}
		if !truthy(s.Optional) {
			c.run(name+" missing "+k, with(req, name, join(rest, c.someOptional(sub))), map[string]string{name: formatErr(k, "property is missing and it is not optional")})
		}
		v := c.validValues(name+"."+k, s)[0]
		c.run(name+"."+k+" twice", with(req, name, join(rest, k+"="+v, k+"="+v)),
			map[string]string{name: "invalid format - duplicate key in comma-separated list property: " + k + "\n"})
	}
	c.run(name+" unknown key", with(req, name, join(base, "bogus=1")),
		map[string]string{name: "invalid format - invalid key in comma-separated list property: bogus\n"})
	if !hasDefault {
		c.run(name+" bare value", with(req, name, join(base, "bare")),
			map[string]string{name: "invalid format - value without key, but schema does not define a default key\n"})
	}
	c.run(name+" key without value", with(req, name, join(base, "x=")),
		map[string]string{name: "invalid format - missing key in comma-separated list property\n"})
}

// propertyBaseWithout is propertyBase with key left out.
func (c *conformance) propertyBaseWithout(name string, sub map[string]*schemaProp, key string) string {
	reduced := make(map[string]*schemaProp, len(sub))
	for k, s := range sub {
		if k != key {
			reduced[k] = s
		}
	}
	return c.propertyBase(name, reduced)
}

// someOptional returns "k=v" for the first optional key, so a property
// string with a required key removed is not empty.
func (c *conformance) someOptional(sub map[string]*schemaProp) string {
	for _, k := range sortedKeys(sub) {
		if truthy(sub[k].Optional) {
			return k + "=" + c.validValues(k, sub[k])[0]
		}
	}
	return ""
}
