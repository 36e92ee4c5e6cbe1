package pve

import (
	"fmt"
	"strconv"
	"strings"
)

// MountPoint is a container mount point (mp0 .. mp255).
type MountPoint struct {
	// Volume is a volume ID (local-lvm:vm-101-disk-1), STORAGE:SIZE_IN_GiB
	// for a new volume, an absolute host path for a bind mount, or a /dev/
	// path for a device mount.
	Volume string
	// Path is where the container sees it (the mp key).
	Path string
	// Size as PVE prints it (8G); volumes only.
	Size string
	// Flags PVE keeps as 1/0; nil when the value does not name them.
	ReadOnly, Backup, ACL, Quota, Replicate, Shared, KeepAttrs *bool
	// MountOptions lists the mount options (mountoptions=noatime;nodev).
	MountOptions []string
	// Extra keeps every other key verbatim; nil when there is none.
	Extra map[string]string
}

// MountKind classifies a mount point's volume as PVE's classify_mountpoint
// does: "device" for /dev/..., "bind" for another absolute path, "volume"
// otherwise.
func MountKind(volume string) string {
	switch {
	case strings.HasPrefix(volume, "/dev/"):
		return "device"
	case strings.HasPrefix(volume, "/"):
		return "bind"
	}
	return "volume"
}

// mountFlag maps the boolean keys of a mount point to its fields.
func (m *MountPoint) flags() map[string]**bool {
	return map[string]**bool{
		"ro": &m.ReadOnly, "backup": &m.Backup, "acl": &m.ACL, "quota": &m.Quota,
		"replicate": &m.Replicate, "shared": &m.Shared, "keepattrs": &m.KeepAttrs,
	}
}

// ParseMountPoint parses an mpN value such as
// local-lvm:vm-101-disk-1,mp=/data,backup=1,size=8G.
func ParseMountPoint(s string) (MountPoint, error) {
	pairs, err := parseProps(s, "volume")
	if err != nil {
		return MountPoint{}, fmt.Errorf("mount point %q: %w", s, err)
	}
	var m MountPoint
	flags := m.flags()
	for _, p := range pairs {
		if f, ok := flags[p.k]; ok {
			b, err := parseBool(p.k, p.v)
			if err != nil {
				return MountPoint{}, fmt.Errorf("mount point %q: %w", s, err)
			}
			*f = &b
			continue
		}
		switch p.k {
		case "volume":
			m.Volume = p.v
		case "mp":
			m.Path = p.v
		case "size":
			m.Size = p.v
		case "mountoptions":
			m.MountOptions = strings.Split(p.v, ";")
		default:
			if m.Extra == nil {
				m.Extra = map[string]string{}
			}
			m.Extra[p.k] = p.v
		}
	}
	if m.Volume == "" || m.Path == "" {
		return MountPoint{}, fmt.Errorf("mount point %q: volume and mp are required", s)
	}
	return m, nil
}

// String formats the mount point as PVE prints it: the volume, mp, then
// the other keys sorted. Size is left out when empty.
func (m MountPoint) String() string {
	kv := map[string]string{}
	for k, v := range m.Extra {
		kv[k] = v
	}
	for k, f := range m.flags() {
		if *f != nil {
			kv[k] = formatBool(**f)
		}
	}
	if m.Size != "" {
		kv["size"] = m.Size
	}
	if len(m.MountOptions) > 0 {
		kv["mountoptions"] = strings.Join(m.MountOptions, ";")
	}
	kv["mp"] = m.Path
	return m.Volume + "," + joinProps(kv, "mp")
}

// Device is a device passed through to a container (dev0 .. dev255).
type Device struct {
	Path string
	// Mode is the octal access mode (0660); empty when not set.
	Mode      string
	UID, GID  *int
	DenyWrite *bool
	// Extra keeps every other key verbatim; nil when there is none.
	Extra map[string]string
}

// ParseDevice parses a devN value such as /dev/dri/renderD128,gid=104.
func ParseDevice(s string) (Device, error) {
	pairs, err := parseProps(s, "path")
	if err != nil {
		return Device{}, fmt.Errorf("device %q: %w", s, err)
	}
	var d Device
	for _, p := range pairs {
		switch p.k {
		case "path":
			d.Path = p.v
		case "mode":
			d.Mode = p.v
		case "uid", "gid":
			n, err := strconv.Atoi(p.v)
			if err != nil || n < 0 {
				return Device{}, fmt.Errorf("device %q: %s=%q is not a non-negative integer", s, p.k, p.v)
			}
			if p.k == "uid" {
				d.UID = &n
			} else {
				d.GID = &n
			}
		case "deny-write":
			b, err := parseBool(p.k, p.v)
			if err != nil {
				return Device{}, fmt.Errorf("device %q: %w", s, err)
			}
			d.DenyWrite = &b
		default:
			if d.Extra == nil {
				d.Extra = map[string]string{}
			}
			d.Extra[p.k] = p.v
		}
	}
	if d.Path == "" {
		return Device{}, fmt.Errorf("device %q: path is required", s)
	}
	return d, nil
}

// String formats the device as PVE prints it: the path, then the other keys
// sorted.
func (d Device) String() string {
	kv := map[string]string{}
	for k, v := range d.Extra {
		kv[k] = v
	}
	if d.Mode != "" {
		kv["mode"] = d.Mode
	}
	if d.UID != nil {
		kv["uid"] = strconv.Itoa(*d.UID)
	}
	if d.GID != nil {
		kv["gid"] = strconv.Itoa(*d.GID)
	}
	if d.DenyWrite != nil {
		kv["deny-write"] = formatBool(*d.DenyWrite)
	}
	if len(kv) == 0 {
		return d.Path
	}
	return d.Path + "," + joinProps(kv)
}
