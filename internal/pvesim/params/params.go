// Package params holds the Proxmox VE simulator's parameter table and
// validates request parameters the way PVE's JSON schema code
// (PVE::JSONSchema) does, with PVE's own messages.
//
// The table is written by hand after the official API schema; a
// conformance test compares it with testdata/pve-api/pve-api-lxc.json
// when that file is present.
package params

import (
	"errors"
	"fmt"
	"strings"
)

// Validate checks params (path parameters such as node and vmid included)
// for method and pathTemplate, where pathTemplate is spelled as in the PVE
// API schema, e.g. "/nodes/{node}/lxc/{vmid}/config". It returns nil when
// the parameters are valid, else a map from parameter name to PVE's message
// (the simulator answers HTTP 400 {"data":null,"errors":{...}}).
//
// Like PVE it refuses parameters the schema does not define, reports
// missing required ones, and checks type, format, pattern, length, range
// and enumeration; property strings (net0, rootfs, ...) are checked key by
// key. Messages are byte for byte PVE's, including the trailing newline
// that PVE keeps on format errors. For an endpoint the table does not cover
// (see Known) the map holds a single "_root" entry saying so.
func Validate(method, pathTemplate string, params map[string]string) map[string]string {
	props, ok := expanded[endpointKey(method, pathTemplate)]
	if !ok {
		return map[string]string{"_root": "no parameter schema for " + endpointKey(method, pathTemplate)}
	}
	e := errs{}
	checkObject("", props, params, e)
	if len(e) == 0 {
		return nil
	}
	return e
}

// Known reports whether the table covers method and pathTemplate.
func Known(method, pathTemplate string) bool {
	_, ok := table[endpointKey(method, pathTemplate)]
	return ok
}

// ErrNotPropertyString is returned by ParseProperty for a parameter that is
// not a property string.
var ErrNotPropertyString = errors.New("not a property-string parameter")

// ParseProperty parses a property-string parameter ("net0".."net31", which
// the schema calls "net[n]", "rootfs", "mp0".."mp255", "unused0"..,
// "dev0"..,"features", "startup") into key -> value, with the default key
// resolved (rootfs "local-lvm:8" gives volume=local-lvm:8) and booleans
// normalized to "1"/"0" as PVE's parse_property_string does. The value is
// checked like Validate checks it; the error carries PVE's message.
func ParseProperty(param, value string) (map[string]string, error) {
	if param == "startup" {
		res, ok := parseStartup(value)
		if !ok {
			return nil, errors.New("unable to parse startup options")
		}
		return res, nil
	}
	p, ok := configProps[param]
	if !ok {
		p = table["POST /nodes/{node}/lxc"][param] // "net[n]" spelled as in the schema
	}
	if p == nil || p.Sub == nil {
		return nil, fmt.Errorf("%w: %s", ErrNotPropertyString, param)
	}
	res, msg := propertyString(param, p.Sub, value)
	if msg != "" {
		return nil, errors.New(strings.TrimSuffix(msg, "\n"))
	}
	return res, nil
}
