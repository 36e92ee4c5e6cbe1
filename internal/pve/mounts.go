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
	m, err := parsePropValue(s, "mount point", "volume", (*MountPoint).set)
	if err != nil {
		return MountPoint{}, err
	}
	if m.Volume == "" || m.Path == "" {
		return MountPoint{}, fmt.Errorf("mount point %q: volume and mp are required", s)
	}
	return m, nil
}

func (m *MountPoint) set(k, v string) error {
	if f, ok := m.flags()[k]; ok {
		b, err := parseBool(k, v)
		if err != nil {
			return err
		}
		*f = &b
		return nil
	}
	switch k {
	case "volume":
		m.Volume = v
	case "mp":
		m.Path = v
	case "size":
		m.Size = v
	case "mountoptions":
		m.MountOptions = strings.Split(v, ";")
	default:
		setExtra(&m.Extra, k, v)
	}
	return nil
}

// String formats the mount point as PVE prints it: the volume, mp, then
// the other keys sorted. Size is left out when empty.
func (m MountPoint) String() string {
	kv := copyExtra(m.Extra)
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
	d, err := parsePropValue(s, "device", "path", (*Device).set)
	if err != nil {
		return Device{}, err
	}
	if d.Path == "" {
		return Device{}, fmt.Errorf("device %q: path is required", s)
	}
	return d, nil
}

func (d *Device) set(k, v string) error {
	switch k {
	case "path":
		d.Path = v
	case "mode":
		d.Mode = v
	case "uid", "gid":
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return fmt.Errorf("%s=%q is not a non-negative integer", k, v)
		}
		if k == "uid" {
			d.UID = &n
		} else {
			d.GID = &n
		}
	case "deny-write":
		b, err := parseBool(k, v)
		if err != nil {
			return err
		}
		d.DenyWrite = &b
	default:
		setExtra(&d.Extra, k, v)
	}
	return nil
}

// String formats the device as PVE prints it: the path, then the other keys
// sorted.
func (d Device) String() string {
	kv := copyExtra(d.Extra)
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
