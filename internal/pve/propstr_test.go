package pve

import (
	"reflect"
	"regexp"
	"testing"
)

func ptr[T any](v T) *T { return &v }

func TestParseNet(t *testing.T) {
	n, err := ParseNet("name=eth0,bridge=vmbr0,firewall=1,hwaddr=BC:24:11:2E:C5:7E,ip=10.0.0.202/24,gw=10.0.0.1,ip6=auto,tag=20,mtu=1450,rate=12.5,type=veth,link_down=0")
	if err != nil {
		t.Fatal(err)
	}
	want := Net{
		Name: "eth0", Bridge: "vmbr0", HWAddr: "BC:24:11:2E:C5:7E", IP: "10.0.0.202/24", Gw: "10.0.0.1", IP6: "auto",
		Firewall: ptr(true), Tag: ptr(20), MTU: ptr(1450), Rate: ptr(12.5),
		Extra: map[string]string{"type": "veth", "link_down": "0"},
	}
	if !reflect.DeepEqual(n, want) {
		t.Errorf("got %+v\nwant %+v", n, want)
	}
	// PVE's order: the required name first, then the keys sorted.
	if got := n.String(); got != "name=eth0,bridge=vmbr0,firewall=1,gw=10.0.0.1,hwaddr=BC:24:11:2E:C5:7E,ip=10.0.0.202/24,ip6=auto,link_down=0,mtu=1450,rate=12.5,tag=20,type=veth" {
		t.Errorf("String() = %s", got)
	}
	if got := (Net{Name: "eth0", Bridge: "vmbr0", IP: "dhcp", Firewall: ptr(false)}).String(); got != "name=eth0,bridge=vmbr0,firewall=0,ip=dhcp" {
		t.Errorf("String() = %s", got)
	}
	for _, bad := range []string{
		"bridge=vmbr0",             // no name
		"name=eth0,name=eth1",      // duplicate
		"name=eth0,vmbr0",          // no key
		"name=eth0,tag=0",          // out of range
		"name=eth0,tag=4095",       // out of range
		"name=eth0,mtu=63",         // out of range
		"name=eth0,firewall=maybe", // not a boolean
		"name=eth0,rate=-1",        // negative
		"name=eth0,rate=NaN",       // not finite
		"name=eth0,=x",             // empty key
	} {
		if _, err := ParseNet(bad); err == nil {
			t.Errorf("ParseNet(%q) accepted", bad)
		}
	}
	if n, err := ParseNet("name=eth0,firewall=yes,,"); err != nil || *n.Firewall != true {
		t.Errorf("PVE's boolean spellings and empty parts: %+v %v", n, err)
	}
}

func TestParseRootFS(t *testing.T) {
	r, err := ParseRootFS("local-lvm:vm-102-disk-0,size=8G,mountoptions=noatime;nodev,quota=1")
	if err != nil {
		t.Fatal(err)
	}
	want := RootFS{Volume: "local-lvm:vm-102-disk-0", Storage: "local-lvm", Size: "8G", Extra: map[string]string{"mountoptions": "noatime;nodev", "quota": "1"}}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("got %+v", r)
	}
	if r, err := ParseRootFS("size=4G,volume=zfs:subvol-102-disk-0"); err != nil || r.Volume != "zfs:subvol-102-disk-0" || r.Storage != "zfs" {
		t.Errorf("explicit volume key: %+v %v", r, err)
	}
	for _, bad := range []string{"size=8G", "a,b", "local:1,volume=local:2"} {
		if _, err := ParseRootFS(bad); err == nil {
			t.Errorf("ParseRootFS(%q) accepted", bad)
		}
	}
}

func TestNewVolume(t *testing.T) {
	for size, want := range map[int64]string{8 << 30: "local-lvm:8", 512 << 20: "local-lvm:0.5", 1536 << 20: "local-lvm:1.5"} {
		if got, err := NewVolume("local-lvm", size); err != nil || got != want {
			t.Errorf("NewVolume(%d) = %q %v, want %q", size, got, err, want)
		}
	}
	if _, err := NewVolume("", 1<<30); err == nil {
		t.Error("empty storage accepted")
	}
	if _, err := NewVolume("local", 0); err == nil {
		t.Error("zero size accepted")
	}
}

func TestParseFeatures(t *testing.T) {
	f, err := ParseFeatures("nesting=1,keyctl=1,mount=nfs;cifs,fuse=0")
	if err != nil {
		t.Fatal(err)
	}
	want := Features{Nesting: true, Keyctl: true, Mount: []string{"nfs", "cifs"}}
	if !reflect.DeepEqual(f, want) {
		t.Errorf("got %+v", f)
	}
	if got := f.String(); got != "keyctl=1,mount=nfs;cifs,nesting=1" {
		t.Errorf("String() = %s", got)
	}
	if got := (Features{Nesting: true, Keyctl: true, Fuse: true, Mknod: true, ForceRwSys: true}).String(); got != "force_rw_sys=1,fuse=1,keyctl=1,mknod=1,nesting=1" {
		t.Errorf("String() = %s", got)
	}
	if f, err := ParseFeatures(""); err != nil || !reflect.DeepEqual(f, Features{}) || f.String() != "" {
		t.Errorf("empty: %+v %v", f, err)
	}
	if _, err := ParseFeatures("nesting=2"); err == nil {
		t.Error("nesting=2 accepted")
	}
}

func TestParseFeaturesWithKeys(t *testing.T) {
	cases := []struct {
		in   string
		want Features
		keys []string
	}{
		{"nesting=0", Features{}, []string{"nesting"}},
		{"", Features{}, []string{}},
		{"keyctl=1,mount=,fuse=off", Features{Keyctl: true}, []string{"keyctl", "mount", "fuse"}},
		{"mount=nfs;cifs,x=y", Features{Mount: []string{"nfs", "cifs"}, Extra: map[string]string{"x": "y"}}, []string{"mount", "x"}},
	}
	for _, tc := range cases {
		f, keys, err := ParseFeaturesWithKeys(tc.in)
		if err != nil || !reflect.DeepEqual(f, tc.want) || !reflect.DeepEqual(keys, tc.keys) {
			t.Errorf("ParseFeaturesWithKeys(%q) = %+v, %q, %v; want %+v, %q", tc.in, f, keys, err, tc.want, tc.keys)
		}
		if pf, err := ParseFeatures(tc.in); err != nil || !reflect.DeepEqual(pf, f) {
			t.Errorf("ParseFeatures(%q) = %+v, %v; ParseFeaturesWithKeys gave %+v", tc.in, pf, err, f)
		}
	}
	for _, bad := range []string{"nesting=2", "nesting=1,nesting=0", "--onboot 1"} {
		if f, keys, err := ParseFeaturesWithKeys(bad); err == nil || keys != nil {
			t.Errorf("ParseFeaturesWithKeys(%q) = %+v, %q, %v: want an error and no keys", bad, f, keys, err)
		}
	}
}

func TestNamePatterns(t *testing.T) {
	cases := []struct {
		name    string
		pattern *regexp.Regexp
		good    []string
		bad     []string
	}{
		{"host name", HostnamePattern, []string{"web-01", "a.b.c", "A1"}, []string{"", "-a", "a-", "a..b", "web server", "a_b"}},
		{"storage ID", StorageIDPattern, []string{"local-lvm", "quickOS-lxc-disks", "a1"}, []string{"", "a", "1a", "local lvm", "a-"}},
		{"interface name", InterfaceNamePattern, []string{"eth0", "veth_1.2"}, []string{"", "a-very-long-interface", "eth 0"}},
		{"bridge", BridgePattern, []string{"vmbr0", "br-lan"}, []string{"", "vmbr 0", "br/0"}},
		{"MAC address", MACPattern, []string{"BC:24:11:00:00:01", "52:54:00:aa:bb:cc"}, []string{"01:00:5E:00:00:01", "BC-24-11-00-00-01", "BC:24:11:00:00"}},
		{"snapshot name", SnapshotNamePattern, []string{"golden", "pre-configured", "s_1"}, []string{"", "a", "1abc", "pre configured"}},
	}
	for _, tc := range cases {
		for _, s := range tc.good {
			if !tc.pattern.MatchString(s) {
				t.Errorf("%s: %q refused", tc.name, s)
			}
		}
		for _, s := range tc.bad {
			if tc.pattern.MatchString(s) {
				t.Errorf("%s: %q accepted", tc.name, s)
			}
		}
	}
}

func TestParseStartup(t *testing.T) {
	s, err := ParseStartup("1,up=30")
	if err != nil || !reflect.DeepEqual(s, Startup{Order: ptr(1), Up: ptr(30)}) {
		t.Fatalf("got %+v %v", s, err)
	}
	if got := s.String(); got != "order=1,up=30" {
		t.Errorf("String() = %s", got)
	}
	if got := (Startup{Down: ptr(60)}).String(); got != "down=60" {
		t.Errorf("String() = %s", got)
	}
	for _, bad := range []string{"order=-1", "up=x", "later=1", "1,2"} {
		if _, err := ParseStartup(bad); err == nil {
			t.Errorf("ParseStartup(%q) accepted", bad)
		}
	}
}

func TestSizes(t *testing.T) {
	for s, want := range map[string]int64{
		"8G": 8 << 30, "512M": 512 << 20, "1T": 1 << 40, "4K": 4096, "1000": 1000, "1.5G": 3 << 29, "0.1K": 102,
	} {
		if got, err := ParseSize(s); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d %v, want %d", s, got, err, want)
		}
	}
	for _, bad := range []string{"", "G", "8g", "8GB", "-1G", "1.G", " 8G", "99999999999T"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) accepted", bad)
		}
	}
	for n, want := range map[int64]string{8 << 30: "8G", 512 << 20: "512M", 1536 << 20: "1536M", 1 << 40: "1T", 1000: "1000", 2048: "2K", 0: "0"} {
		if got := FormatSize(n); got != want {
			t.Errorf("FormatSize(%d) = %s, want %s", n, got, want)
		}
	}
}

func TestTags(t *testing.T) {
	if got := SplitTags("web;prod db,prod  ;a"); !reflect.DeepEqual(got, []string{"a", "db", "prod", "web"}) {
		t.Errorf("SplitTags = %q", got)
	}
	if got := SplitTags(""); got != nil {
		t.Errorf("SplitTags(\"\") = %q", got)
	}
	if got := JoinTags([]string{"web", "prod", "", "web", "a;b"}); got != "a;b;prod;web" {
		t.Errorf("JoinTags = %q", got)
	}
}

// TestParseErrorsNameTheValue: a parse error names the kind of value and
// the whole value, then what is wrong with which key.
func TestParseErrorsNameTheValue(t *testing.T) {
	parsers := map[string]func(string) error{
		"net":     func(s string) error { _, err := ParseNet(s); return err },
		"rootfs":  func(s string) error { _, err := ParseRootFS(s); return err },
		"mp":      func(s string) error { _, err := ParseMountPoint(s); return err },
		"dev":     func(s string) error { _, err := ParseDevice(s); return err },
		"startup": func(s string) error { _, err := ParseStartup(s); return err },
	}
	for _, c := range []struct{ parser, in, want string }{
		{"net", "name=eth0,mtu=10", `network device "name=eth0,mtu=10": mtu=10 is out of range 64..65535`},
		{"net", "name=eth0,name=eth1", `network device "name=eth0,name=eth1": duplicate key "name"`},
		{"rootfs", "local-lvm:vm-1-disk-0,=8G", `rootfs "local-lvm:vm-1-disk-0,=8G": "=8G" has an empty key`},
		{"mp", "local:1,mp=/a,ro=maybe", `mount point "local:1,mp=/a,ro=maybe": ro="maybe" is not a boolean (1 or 0)`},
		{"dev", "/dev/dri,uid=-1", `device "/dev/dri,uid=-1": uid="-1" is not a non-negative integer`},
		{"dev", "/dev/dri,deny-write=2", `device "/dev/dri,deny-write=2": deny-write="2" is not a boolean (1 or 0)`},
		{"startup", "order=1,left=2", `startup "order=1,left=2": unknown key "left" (order, up, down)`},
	} {
		err := parsers[c.parser](c.in)
		if err == nil || err.Error() != c.want {
			t.Errorf("%s(%q) = %v, want %s", c.parser, c.in, err, c.want)
		}
	}
}
