package params

import (
	"strings"
	"testing"
)

var fuzzParams = []string{"net0", "net31", "rootfs", "mp0", "mp255", "unused0", "dev0", "features", "startup"}

// FuzzParseProperty checks that ParseProperty never panics, that a value
// Validate accepts parses, and that a value Validate refuses does not.
func FuzzParseProperty(f *testing.F) {
	seeds := []struct {
		idx   uint8
		value string
	}{
		{0, "name=eth0,bridge=vmbr0,ip=10.0.0.202/24,gw=10.0.0.1,hwaddr=BC:24:11:AA:BB:CC"},
		{1, "name=eth1,ip=dhcp,ip6=auto,tag=20,trunks=10;20,rate=1.5"},
		{2, "local-lvm:8"},
		{2, "volume=local-lvm:vm-1-disk-0,size=8G,acl=yes,mountoptions=noatime;nodev"},
		{3, "local-lvm:8,mp=/data,backup=1"},
		{5, "local:vm-100-disk-1"},
		{6, "/dev/net/tun,mode=0666,uid=0"},
		{7, "nesting=1,keyctl=on,mount=nfs;cifs"},
		{8, "order=2,up=10,down=5"},
		{0, "name=eth0,name=eth1"},
		{2, "a,b"},
		{7, "=,==,x=\n"},
		{8, "0"},
	}
	for _, s := range seeds {
		f.Add(s.idx, s.value)
	}
	f.Fuzz(func(t *testing.T, idx uint8, value string) {
		param := fuzzParams[int(idx)%len(fuzzParams)]
		parsed, err := ParseProperty(param, value)
		verr := Validate("PUT", configPath, map[string]string{"node": "pve1", "vmid": "100", param: value})
		if verr == nil && err != nil {
			t.Fatalf("%s=%q validates but does not parse: %v", param, value, err)
		}
		if verr != nil && err == nil {
			t.Fatalf("%s=%q parses to %q but Validate refuses it: %q", param, value, parsed, verr)
		}
		if err != nil {
			return
		}
		for k, v := range parsed {
			if k == "" || strings.Contains(k, ",") || strings.Contains(v, ",") {
				t.Fatalf("%s=%q: bad parsed entry %q=%q", param, value, k, v)
			}
		}
	})
}
