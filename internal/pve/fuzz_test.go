package pve

import (
	"reflect"
	"strings"
	"testing"
)

// Each fuzz target checks both directions of a property string: a value
// that parses formats to a string that parses back to the same value
// (Parse(String(x)) == x), and formatting is stable (String(Parse(s)) is a
// fixed point). RootFS is only parsed (the provider builds new volumes with
// NewVolume): its target checks what a parsed value holds.

// fuzzRoundTrip is the target of a property string that is parsed and
// formatted again.
func fuzzRoundTrip[T any](f *testing.F, seeds []string, name string, parse func(string) (T, error), format func(T) string) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		x, err := parse(s)
		if err != nil {
			return
		}
		out := format(x)
		x2, err := parse(out)
		if err != nil {
			t.Fatalf("%s(%q) = %+v formats to %q which does not parse: %v", name, s, x, out, err)
		}
		if !reflect.DeepEqual(x, x2) {
			t.Fatalf("round trip of %q changed the value:\n%+v\n%+v", s, x, x2)
		}
		if out2 := format(x2); out2 != out {
			t.Fatalf("String not stable: %q then %q", out, out2)
		}
	})
}

func FuzzNet(f *testing.F) {
	fuzzRoundTrip(f, []string{
		"name=eth0,bridge=vmbr0,firewall=1,hwaddr=BC:24:11:2E:C5:7E,ip=dhcp,type=veth",
		"name=eth1,bridge=vmbr1,ip=10.0.0.2/24,gw=10.0.0.1,ip6=auto,tag=20,mtu=9000,rate=1.5,link_down=1,trunks=10;20",
		"name=eth0,,firewall=on,rate=0x1p-2",
	}, "ParseNet", ParseNet, Net.String)
}

func FuzzRootFS(f *testing.F) {
	for _, s := range []string{
		"local-lvm:vm-102-disk-0,size=8G",
		"volume=zfs:subvol-102-disk-0,acl=1,mountoptions=noatime;nodev,quota=0,size=32G",
		"local-lvm:8",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRootFS(s)
		if err != nil {
			return
		}
		if r.Volume == "" {
			t.Fatalf("ParseRootFS(%q) = %+v: no volume", s, r)
		}
		if st, _, ok := strings.Cut(r.Volume, ":"); ok && r.Storage != st || !ok && r.Storage != "" {
			t.Fatalf("ParseRootFS(%q) = %+v: storage %q is not the volume's", s, r, r.Storage)
		}
		if r2, _ := ParseRootFS(s); !reflect.DeepEqual(r, r2) {
			t.Fatalf("ParseRootFS(%q) is not stable:\n%+v\n%+v", s, r, r2)
		}
	})
}

func FuzzFeatures(f *testing.F) {
	fuzzRoundTrip(f, []string{"nesting=1,keyctl=1", "fuse=1,mknod=0,mount=nfs;cifs;;", "force_rw_sys=yes,other=x", ""},
		"ParseFeatures", ParseFeatures, Features.String)
}

func FuzzStartup(f *testing.F) {
	fuzzRoundTrip(f, []string{"order=1,up=30,down=60", "2", "down=5,order=007"}, "ParseStartup", ParseStartup, Startup.String)
}

func FuzzSize(f *testing.F) {
	fuzzRoundTrip(f, []string{"8G", "512M", "1.5T", "1000", "0.0001K", "8388607T"}, "ParseSize", ParseSize, FormatSize)
}

func FuzzTags(f *testing.F) {
	for _, s := range []string{"a;b c,d", "prod;;web, web", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tags := SplitTags(s)
		joined := JoinTags(tags)
		if back := SplitTags(joined); !reflect.DeepEqual(back, tags) {
			t.Fatalf("SplitTags(%q) = %q joins to %q which splits to %q", s, tags, joined, back)
		}
		if again := JoinTags(SplitTags(joined)); again != joined {
			t.Fatalf("JoinTags not stable: %q then %q", joined, again)
		}
	})
}
