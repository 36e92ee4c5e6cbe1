package docker

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"reflect"
	"slices"
	"testing"
)

func mustPlan(t *testing.T, o Options) Plan {
	t.Helper()
	p, err := NewPlan(o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// extendedOptions stands for a future version of Options with one more field.
type extendedOptions struct {
	Options
	Mirror string
}

// A field added to the options changes the fingerprint by itself: the
// encoding walks the struct, no list of fields has to learn it.
func TestFingerprintCoversNewFields(t *testing.T) {
	o := DefaultOptions()
	base, err := fingerprintOf(o)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{base: "Options"}
	for _, v := range []extendedOptions{{Options: o}, {Options: o, Mirror: "https://mirror.example"}} {
		fp, err := fingerprintOf(v)
		if err != nil {
			t.Fatal(err)
		}
		if prev, dup := seen[fp]; dup {
			t.Errorf("%+v has the fingerprint of %s", v, prev)
		}
		seen[fp] = v.Mirror
	}
}

// Every field of Options, changed alone, changes the install's fingerprint
// and not the tests'; every field of TestOptions changes the tests'
// fingerprint and not the install's. A new field fails here until the test
// changes it, so neither fingerprint can silently miss it.
func TestFingerprintCoversEveryField(t *testing.T) {
	basePlan := mustPlan(t, DefaultOptions())
	base, baseTests := basePlan.Fingerprint(), basePlan.TestFingerprint()
	if base == baseTests {
		t.Fatal("the install's and the tests' fingerprints are equal")
	}
	changed := map[string]func(*Options){
		"PackageSource": func(o *Options) { o.PackageSource = PackageSourceDistro },
		"Version":       func(o *Options) { o.Version = "27.5.1" },
		"Compose":       func(o *Options) { o.Compose = false },
		"StorageDriver": func(o *Options) { o.StorageDriver = StorageDriverFuseOverlayfs },
		"DaemonJSON":    func(o *Options) { o.DaemonJSON = `{"debug":true}` },
	}
	testsChanged := map[string]func(*TestOptions){
		"HelloWorld":      func(o *TestOptions) { o.HelloWorld = false },
		"HelloWorldImage": func(o *TestOptions) { o.HelloWorldImage = "mirror.lan:5000/library/hello-world:latest" },
		"NetworkTarget":   func(o *TestOptions) { o.NetworkTarget = "9.9.9.9" },
		"NetworkImage":    func(o *TestOptions) { o.NetworkImage = "mirror.lan:5000/library/busybox:latest" },
	}
	typ := reflect.TypeFor[Options]()
	for i := range typ.NumField() {
		name := typ.Field(i).Name
		if typ.Field(i).Type == reflect.TypeFor[TestOptions]() {
			continue
		}
		mod, ok := changed[name]
		if !ok {
			t.Errorf("field %s: add a change of it to this test", name)
			continue
		}
		o := DefaultOptions()
		mod(&o)
		p := mustPlan(t, o)
		if p.Fingerprint() == base {
			t.Errorf("changing %s kept the install's fingerprint", name)
		}
		if p.TestFingerprint() != baseTests {
			t.Errorf("changing %s changed the tests' fingerprint", name)
		}
	}
	typ = reflect.TypeFor[TestOptions]()
	for i := range typ.NumField() {
		name := typ.Field(i).Name
		mod, ok := testsChanged[name]
		if !ok {
			t.Errorf("field TestOptions.%s: add a change of it to this test", name)
			continue
		}
		o := DefaultOptions()
		mod(&o.Tests)
		p := mustPlan(t, o)
		if p.TestFingerprint() == baseTests {
			t.Errorf("changing Tests.%s kept the tests' fingerprint", name)
		}
		if p.Fingerprint() != base {
			t.Errorf("changing Tests.%s changed the install's fingerprint: the install would rerun", name)
		}
	}
}

// The network image added to the health checks leaves the tests'
// fingerprint of states written before it unchanged, unset or set to its
// default: they are the fingerprint of the options as they were then (three
// fields), and the script gets no --network-image. Another image is passed.
func TestNetworkImageKeepsEarlierFingerprints(t *testing.T) {
	type earlierTestOptions struct {
		HelloWorld      bool
		HelloWorldImage string
		NetworkTarget   string
	}
	d := DefaultTestOptions()
	want, err := fingerprintOf(earlierTestOptions{d.HelloWorld, d.HelloWorldImage, d.NetworkTarget})
	if err != nil {
		t.Fatal(err)
	}
	for _, img := range []string{"", DefaultNetworkImage} {
		o := DefaultOptions()
		o.Tests.NetworkImage = img
		p := mustPlan(t, o)
		if p.TestFingerprint() != want {
			t.Errorf("network image %q: tests fingerprint %s, want the earlier %s", img, p.TestFingerprint(), want)
		}
		if slices.Contains(p.TestArgs(), "--network-image") {
			t.Errorf("network image %q: the script gets %v", img, p.TestArgs())
		}
	}
	o := DefaultOptions()
	o.Tests.NetworkImage = "mirror.lan:5000/library/busybox:latest"
	if args := mustPlan(t, o).TestArgs(); !slices.Equal(args[len(args)-2:], []string{"--network-image", o.Tests.NetworkImage}) {
		t.Errorf("test args %v lack the network image", args)
	}
	o.Tests.NetworkImage = "--privileged"
	if _, err := NewPlan(o); err == nil {
		t.Error("an option as network image was accepted")
	}
}

// The same request spelled differently has the same fingerprint.
func TestFingerprintIgnoresSpelling(t *testing.T) {
	a, b := DefaultOptions(), DefaultOptions()
	a.DaemonJSON = `{"log-driver":"local","debug":true}`
	b.DaemonJSON = "{ \"debug\": true,\n  \"log-driver\": \"local\", \"storage-driver\": \"overlay2\" }"
	pa, pb := mustPlan(t, a), mustPlan(t, b)
	if pa.Fingerprint() != pb.Fingerprint() {
		t.Error("the same daemon.json spelled differently changed the fingerprint")
	}
	if len(pa.Fingerprint()) != 64 {
		t.Errorf("fingerprint %q is not 64 hex digits", pa.Fingerprint())
	}
	if pa.DaemonJSONSHA256() != pb.DaemonJSONSHA256() {
		t.Error("the same daemon.json spelled differently changed its digest")
	}
}

func TestPlanDigests(t *testing.T) {
	p := mustPlan(t, DefaultOptions())
	sum := sha256.Sum256([]byte(`{"storage-driver":"overlay2"}` + "\n"))
	if got, want := p.DaemonJSONSHA256(), hex.EncodeToString(sum[:]); got != want {
		t.Errorf("DaemonJSONSHA256() = %s, want %s", got, want)
	}
	key, err := os.ReadFile("keys/docker-release-key.asc")
	if err != nil {
		t.Fatal(err)
	}
	sum = sha256.Sum256(key)
	if got, want := AptKeySHA256(), hex.EncodeToString(sum[:]); got != want {
		t.Errorf("AptKeySHA256() = %s, want %s", got, want)
	}
}

func TestVersionMatches(t *testing.T) {
	tests := []struct {
		pin, installed string
		want           bool
	}{
		{"", "5:29.1.3-1~debian.12~bookworm", true},
		{"28.5.2", "5:28.5.2-1~debian.12~bookworm", true},
		{"28.5.2", "5:29.1.3-1~debian.12~bookworm", false},
		{"5:28.5.2-1~debian.12~bookworm", "5:28.5.2-1~debian.12~bookworm", true},
		{"20.10.24", "20.10.24+dfsg1-1+deb12u1", true},
		{"20.10", "20.10.24+dfsg1-1+deb12u1", false},
		{"28.5.2", "", false},
	}
	for _, tt := range tests {
		o := DefaultOptions()
		o.Version = tt.pin
		if got := mustPlan(t, o).VersionMatches(tt.installed); got != tt.want {
			t.Errorf("pin %q, installed %q: %v, want %v", tt.pin, tt.installed, got, tt.want)
		}
	}
}
