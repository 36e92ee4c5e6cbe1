package docker

import (
	"bytes"
	"os"
	"slices"
	"strings"
	"testing"
)

func TestEmbeddedScriptsMatchFiles(t *testing.T) {
	for name, got := range map[string][]byte{
		InstallScriptName:    InstallScript(),
		CheckScriptName:      CheckScript(),
		TestScriptName:       TestScript(),
		CheckBatchScriptName: checkBatchScript,
	} {
		want, err := os.ReadFile("scripts/" + name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: embedded text differs from the file", name)
		}
		if !bytes.HasPrefix(got, []byte("#!/usr/bin/env bash\n")) {
			t.Errorf("%s: no bash shebang", name)
		}
	}
}

func TestScriptAccessorsReturnCopies(t *testing.T) {
	s := InstallScript()
	s[0] = 'X'
	if InstallScript()[0] != '#' {
		t.Fatal("changing the returned slice changed the embedded script")
	}
}

func TestInstallArgs(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Options)
		want []string
	}{
		{
			name: "defaults",
			mod:  func(*Options) {},
			want: []string{"--package-source", "docker-ce", "--compose", "1", "--storage-driver", "overlay2",
				"--daemon-json", `{"storage-driver":"overlay2"}`, "--network-target", "1.1.1.1"},
		},
		{
			name: "everything set",
			mod: func(o *Options) {
				o.PackageSource = PackageSourceDistro
				o.Version = "26.1.3"
				o.Compose = false
				o.StorageDriver = StorageDriverFuseOverlayfs
				o.DaemonJSON = "{ \"log-driver\": \"journald\",\n \"debug\": true }"
				o.Tests.NetworkTarget = "gw.example.net"
			},
			want: []string{"--package-source", "distro", "--version", "26.1.3", "--compose", "0",
				"--storage-driver", "fuse-overlayfs",
				"--daemon-json", `{"debug":true,"log-driver":"journald","storage-driver":"fuse-overlayfs"}`,
				"--network-target", "gw.example.net"},
		},
		{
			name: "hostile values stay single words",
			mod: func(o *Options) {
				o.DaemonJSON = `{"labels":["a b; rm -rf /","$(reboot)"]}`
			},
			want: []string{"--package-source", "docker-ce", "--compose", "1", "--storage-driver", "overlay2",
				"--daemon-json", `{"labels":["a b; rm -rf /","$(reboot)"],"storage-driver":"overlay2"}`, "--network-target", "1.1.1.1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := DefaultOptions()
			tt.mod(&o)
			p := mustPlan(t, o)
			want := append(slices.Clone(tt.want), "--fingerprint", p.Fingerprint())
			if o.PackageSource == PackageSourceDockerCE {
				want = append(want, "--apt-key-sha256", AptKeySHA256())
			}
			if got := p.InstallArgs(); !slices.Equal(got, want) {
				t.Errorf("got  %q\nwant %q", got, want)
			}
			inv := p.Install()
			if inv.Name != InstallScriptName || !bytes.Equal(inv.Script, InstallScript()) || !slices.Equal(inv.Args, want) {
				t.Errorf("Install() = %q %q, want the script and the same args", inv.Name, inv.Args)
			}
		})
	}
}

func TestInstallArgsErrors(t *testing.T) {
	tests := []struct {
		name    string
		mod     func(*Options)
		wantErr string
	}{
		{"empty package source", func(o *Options) { o.PackageSource = "" }, `package source "" is not one of docker-ce, distro`},
		{"unknown package source", func(o *Options) { o.PackageSource = "snap" }, `package source "snap"`},
		{"unknown driver", func(o *Options) { o.StorageDriver = "btrfs" }, `storage driver "btrfs" is not one of overlay2, fuse-overlayfs`},
		{"version with a space", func(o *Options) { o.Version = "27.3.1 docker-ce" }, `version "27.3.1 docker-ce" is not a Debian package version`},
		{"version like an option", func(o *Options) { o.Version = "--force" }, `version "--force"`},
		{"bad target", func(o *Options) { o.Tests.NetworkTarget = "-c 100" }, `network target "-c 100"`},
		{"bad image", func(o *Options) { o.Tests.HelloWorldImage = "--privileged" }, `image "--privileged" is not an image reference`},
		{"bad json", func(o *Options) { o.DaemonJSON = "{" }, "daemon_json is not valid JSON"},
		{"conflicting driver", func(o *Options) { o.DaemonJSON = `{"storage-driver":"vfs"}` }, `conflicts with storage_driver "overlay2"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := DefaultOptions()
			tt.mod(&o)
			p, err := NewPlan(o)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("NewPlan() = %+v, %v; want error containing %q", p, err, tt.wantErr)
			}
		})
	}
}

func TestTestArgs(t *testing.T) {
	o := DefaultOptions()
	if got, want := mustPlan(t, o).TestArgs(), []string{"--network-target", "1.1.1.1", "--hello-world", "1", "--hello-world-image", "hello-world"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	o.Tests.HelloWorld = false
	o.Tests.NetworkTarget = "2606:4700:4700::1111"
	o.Tests.HelloWorldImage = "mirror.lan:5000/library/hello-world@sha256:" + strings.Repeat("ab", 32)
	inv := mustPlan(t, o).Test()
	if want := []string{"--network-target", "2606:4700:4700::1111", "--hello-world", "0", "--hello-world-image", o.Tests.HelloWorldImage}; !slices.Equal(inv.Args, want) {
		t.Errorf("got %q, want %q", inv.Args, want)
	}
	if inv.Name != TestScriptName || !bytes.Equal(inv.Script, TestScript()) {
		t.Errorf("Test() = %q, want the test script", inv.Name)
	}
	o.Tests.NetworkTarget = "1.1.1.1; reboot"
	if _, err := NewPlan(o); err == nil {
		t.Error("NewPlan() accepted a network target with a shell command")
	}
}

func TestCheck(t *testing.T) {
	inv := Check()
	if inv.Name != CheckScriptName || !bytes.Equal(inv.Script, CheckScript()) || len(inv.Args) != 0 {
		t.Errorf("Check() = %q %q", inv.Name, inv.Args)
	}
}

func TestValidateNetworkTarget(t *testing.T) {
	valid := []string{"1.1.1.1", "10.0.0.1", "::1", "2606:4700:4700::1111", "example.com", "gw", "a-b.c-d.example",
		strings.Repeat("a", 63) + ".com"}
	for _, h := range valid {
		if err := ValidateNetworkTarget(h); err != nil {
			t.Errorf("ValidateNetworkTarget(%q) = %v, want nil", h, err)
		}
	}
	invalid := []string{"", "-c", "a b", "1.1.1.1;reboot", "$(id)", "example.com.", "a..b", "-a.com", "a-.com",
		strings.Repeat("a", 64) + ".com", strings.Repeat("a.", 127) + "ab", "999.1.1.1", "1.1.1", "fe80::1%eth0", "ex_ample.com",
		"a\nb"}
	for _, h := range invalid {
		if err := ValidateNetworkTarget(h); err == nil {
			t.Errorf("ValidateNetworkTarget(%q) = nil, want an error", h)
		}
	}
}

func TestValidateImage(t *testing.T) {
	digest := "@sha256:" + strings.Repeat("0123456789abcdef", 4)
	valid := []string{"hello-world", "hello-world:latest", "library/hello-world", "docker.io/library/hello-world:linux",
		"mirror.lan:5000/library/hello-world", "mirror.lan:5000/library/hello-world:latest", "localhost/hello", "localhost:5000/a/b/c:v1.2_3",
		"registry-1.example.com/team/hello__world-x.y", "hello-world" + digest, "mirror.lan:5000/hello-world:latest" + digest,
		"10.0.0.5:5000/hello-world", "Registry.LAN/hello-world"}
	for _, ref := range valid {
		if err := ValidateImage(ref); err != nil {
			t.Errorf("ValidateImage(%q) = %v, want nil", ref, err)
		}
	}
	invalid := map[string]string{
		"":               "image is empty",
		"-it":            `path component "-it"`,
		"--privileged":   `path component "--privileged"`,
		"Hello-World":    `path component "Hello-World"`,
		"hello world":    `path component "hello world"`,
		"hello-world:":   `tag ""`,
		"hello-world:-x": `tag "-x"`,
		"hello-world:" + strings.Repeat("t", 129):    "tag",
		"hello-world@sha256:abc":                     `digest "sha256:abc"`,
		"hello-world@md5:" + strings.Repeat("a", 32): "digest",
		"hello-world" + strings.ToUpper(digest):      "digest",
		"mirror.lan:port/hello-world":                `registry "mirror.lan:port"`,
		"-mirror.lan/hello-world":                    `registry "-mirror.lan"`,
		"mirror.lan//hello-world":                    `path component ""`,
		"hello-world/":                               `path component ""`,
		"hello..world":                               `path component "hello..world"`,
		"hello-world;reboot":                         `path component "hello-world;reboot"`,
		"hello-world\n":                              "path component",
		strings.Repeat("a", 256):                     "longer than 255",
	}
	for ref, want := range invalid {
		err := ValidateImage(ref)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ValidateImage(%q) = %v, want an error containing %q", ref, err, want)
		}
	}
}

func TestValidateVersion(t *testing.T) {
	for _, v := range []string{"", "27.3.1", "5:27.3.1-1~debian.12~bookworm", "20.10.24+dfsg1-1+b3", "26.1.3-0ubuntu1~24.04.1"} {
		if err := ValidateVersion(v); err != nil {
			t.Errorf("ValidateVersion(%q) = %v", v, err)
		}
	}
	for _, v := range []string{"-1", " 27", "27.3.1\n", "27;id", "~1", "27*"} {
		if err := ValidateVersion(v); err == nil {
			t.Errorf("ValidateVersion(%q) = nil, want an error", v)
		}
	}
}

func TestEnumLists(t *testing.T) {
	if got := PackageSources(); !slices.Equal(got, []string{"docker-ce", "distro"}) {
		t.Errorf("PackageSources() = %q", got)
	}
	if got := StorageDrivers(); !slices.Equal(got, []string{"overlay2", "fuse-overlayfs"}) {
		t.Errorf("StorageDrivers() = %q", got)
	}
	d := DefaultOptions()
	if d.PackageSource != PackageSources()[0] || d.StorageDriver != StorageDrivers()[0] || !d.Compose || d.Tests != DefaultTestOptions() || d.Version != "" || d.DaemonJSON != "" {
		t.Errorf("DefaultOptions() = %+v", d)
	}
	if err := d.Validate(); err != nil {
		t.Errorf("DefaultOptions().Validate() = %v", err)
	}
}
