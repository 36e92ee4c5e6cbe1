// Package params holds the Proxmox VE simulator's parameter table and
// validates request parameters the way PVE's JSON schema code does.
package params

// Validate checks params (path parameters such as node and vmid included)
// for method and pathTemplate, where pathTemplate is spelled as in the PVE
// API schema, e.g. "/nodes/{node}/lxc/{vmid}/config". It returns nil when
// the parameters are valid, else a map from parameter name to PVE's message.
func Validate(method, pathTemplate string, params map[string]string) map[string]string {
	return nil
}

// ParseProperty parses a property-string parameter such as "net0", "rootfs",
// "mp0", "features" or "startup" into key -> value, with the default key
// resolved (rootfs "local-lvm:8" gives volume=local-lvm:8).
func ParseProperty(param, value string) (map[string]string, error) {
	return map[string]string{}, nil
}

// Known reports whether the table covers method and pathTemplate.
func Known(method, pathTemplate string) bool {
	return false
}
