package pve

import "regexp"

// Formats of names and identifiers in the Proxmox VE API schema, shared by
// the resource's validation and the conversion of Phoenix Hypervisor files.
var (
	// HostnamePattern is a DNS name: labels of letters, digits and '-'
	// separated by '.' (the 253-character bound is the caller's).
	HostnamePattern = regexp.MustCompile(`^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$`)
	// StorageIDPattern is a storage ID such as local-lvm.
	StorageIDPattern = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9\-_.]*[a-zA-Z0-9]$`)
	// InterfaceNamePattern is a network interface name inside a container:
	// at most 15 letters, digits, '-', '_' or '.'.
	InterfaceNamePattern = regexp.MustCompile(`^[-_.\w]{1,15}$`)
	// BridgePattern is a bridge name such as vmbr0.
	BridgePattern = regexp.MustCompile(`^[-_.\w]+$`)
	// MACPattern is a unicast MAC address such as BC:24:11:00:00:01.
	MACPattern = regexp.MustCompile(`^[0-9a-fA-F][02468aAcCeE](?::[0-9a-fA-F]{2}){5}$`)
	// SnapshotNamePattern is a snapshot name: a letter, then 1 to 39
	// letters, digits, '_' or '-'.
	SnapshotNamePattern = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_\-]{1,39}$`)
)
