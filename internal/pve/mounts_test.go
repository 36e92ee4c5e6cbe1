package pve

import "testing"

func TestMountPointRoundTrip(t *testing.T) {
	for _, tc := range []struct{ in, want, kind string }{
		{"local-lvm:vm-101-disk-1,mp=/data,backup=1,size=8G", "local-lvm:vm-101-disk-1,mp=/data,backup=1,size=8G", "volume"},
		{"volume=/srv/share,mp=/share,ro=1,shared=1", "/srv/share,mp=/share,ro=1,shared=1", "bind"},
		{"/dev/sdb1,mp=/mnt/disk,mountoptions=noatime;nodev,acl=0", "/dev/sdb1,mp=/mnt/disk,acl=0,mountoptions=noatime;nodev", "device"},
		{"local-lvm:4,mp=/logs,quota=1,replicate=0,keepattrs=1,idmap=passthrough", "local-lvm:4,mp=/logs,idmap=passthrough,keepattrs=1,quota=1,replicate=0", "volume"},
	} {
		m, err := ParseMountPoint(tc.in)
		if err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		if got := m.String(); got != tc.want {
			t.Errorf("%s: printed %q, want %q", tc.in, got, tc.want)
		}
		if k := MountKind(m.Volume); k != tc.kind {
			t.Errorf("%s: kind %q, want %q", tc.in, k, tc.kind)
		}
	}
	for _, bad := range []string{"mp=/data", "local-lvm:1", "local-lvm:1,mp=/a,ro=maybe", "local-lvm:1,mp=/a,mp=/b"} {
		if _, err := ParseMountPoint(bad); err == nil {
			t.Errorf("%q parsed without error", bad)
		}
	}
}

func TestDeviceRoundTrip(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/dev/dri/renderD128,gid=104", "/dev/dri/renderD128,gid=104"},
		{"path=/dev/nvidia0,mode=0666,uid=0,deny-write=1", "/dev/nvidia0,deny-write=1,mode=0666,uid=0"},
		{"/dev/null", "/dev/null"},
	} {
		d, err := ParseDevice(tc.in)
		if err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		if got := d.String(); got != tc.want {
			t.Errorf("%s: printed %q, want %q", tc.in, got, tc.want)
		}
	}
	for _, bad := range []string{"gid=5", "/dev/x,uid=-1", "/dev/x,deny-write=2", "/dev/x,gid=a"} {
		if _, err := ParseDevice(bad); err == nil {
			t.Errorf("%q parsed without error", bad)
		}
	}
}
