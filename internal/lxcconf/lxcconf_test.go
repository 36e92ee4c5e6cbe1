package lxcconf

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func mustParse(t testing.TB, data []byte) *Config {
	t.Helper()
	c, err := Parse(data)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c
}

// roundTripInputs are small inputs with the shapes that are easy to get
// wrong: terminators, whitespace, odd headers and unknown lines.
var roundTripInputs = map[string]string{
	"empty":                 "",
	"only newline":          "\n",
	"no trailing newline":   "arch: amd64",
	"blank lines only":      "\n\n \t\n",
	"crlf":                  "arch: amd64\r\ncores: 2\r\n",
	"trailing whitespace":   "cores: 2 \t \nmemory: 512   ",
	"header only":           "[snap]",
	"header no newline eof": "arch: amd64\n\n[snap]",
	"unknown lines":         "garbage\n: nokey\nKey: Upper\n[x]\n[]\n",
	"lxc equals":            "lxc.idmap = u 0 100000 65536\nlxc.idmap=g 0 100000 65536\n",
	"comments":              "#\n# spaced\n#%3A%ZZ%\n",
	"nul and high bytes":    "arch: a\x00b\nhostname: \xff\xfe\n#\xc3\n",
	"pending variants":      "[pve:pending]\n[PVE:PENDING]\t\n",
	"vertical tab blank":    "\x0b\f\n",
}

// corpus is the configs every test of the whole format runs on: the
// fixtures and roundTripInputs.
func corpus(t testing.TB) [][]byte {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "*.conf"))
	if err != nil {
		t.Fatal(err)
	}
	var inputs [][]byte
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, data)
	}
	for _, in := range roundTripInputs {
		inputs = append(inputs, []byte(in))
	}
	return inputs
}

func TestRoundTripFixtures(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 3 {
		t.Fatalf("expected the config fixtures in testdata, found %v", files)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data := readFixture(t, filepath.Base(f))
			if got := mustParse(t, data).Bytes(); !bytes.Equal(got, data) {
				t.Fatalf("round trip changed the file:\n got %q\nwant %q", got, data)
			}
		})
	}
	for name, in := range roundTripInputs {
		t.Run(name, func(t *testing.T) {
			if got := mustParse(t, []byte(in)).Bytes(); string(got) != in {
				t.Fatalf("round trip changed the input:\n got %q\nwant %q", got, in)
			}
		})
	}
}

func TestDigest(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
		{"abc", []byte("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d"},
		// Computed with sha1sum over the fixture files.
		{"docker fixture", readFixture(t, "docker-102.conf"), "44c2d952572ab1c54a6bd14f248bb2c966caad72"},
		{"minimal fixture", readFixture(t, "minimal-200.conf"), "adaf61063167652dfd84b0bf3be619bccc0cf20c"},
		{"hand edited fixture", readFixture(t, "handedited-300.conf"), "7bb31e090b5e95cd08a6ff5784fc099ab4ab196c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Digest(tt.data); got != tt.want {
				t.Errorf("Digest = %s, want %s", got, tt.want)
			}
			if got := Digest(mustParse(t, tt.data).Bytes()); got != tt.want {
				t.Errorf("Digest of the parsed config = %s, want %s", got, tt.want)
			}
		})
	}
}

// wantEqual reports what (a value of a parsed config) unless it is want.
func wantEqual[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %q\nwant %q", what, any(got), any(want))
	}
}

func sectionNames(c *Config) []string {
	var names []string
	for _, s := range c.Sections() {
		names = append(names, s.Name())
	}
	return names
}

func TestReadDockerFixture(t *testing.T) {
	c := mustParse(t, readFixture(t, "docker-102.conf"))
	main := c.Main()
	if main.Name() != "" {
		t.Errorf("main name = %q", main.Name())
	}
	wantEqual(t, "sections", sectionNames(c), []string{"pve:pending", "pre-docker", "pre-upgrade"})
	var snaps []string
	for _, s := range c.Snapshots() {
		snaps = append(snaps, s.Name())
	}
	wantEqual(t, "snapshots", snaps, []string{"pre-docker", "pre-upgrade"})

	wantDescr := "Docker host for CI: builds, registry and runners\n" +
		"Owner: Jürgen Müller — see https://wiki.lan/docker-01\n" +
		"\n" +
		"Rebuilt 2024-06-10 🐳\n"
	if got := main.Description(); got != wantDescr {
		t.Errorf("description = %q, want %q", got, wantDescr)
	}

	gets := []struct {
		section, key, want string
		ok                 bool
	}{
		{"", "cores", "2", true}, // Trailing spaces are not part of the value.
		{"", "features", "keyctl=1,nesting=1", true},
		{"", "net0", "name=eth0,bridge=vmbr0,firewall=1,gw=10.0.0.1,hwaddr=BC:24:11:5E:7A:01,ip=10.0.0.202/24,type=veth", true},
		{"", "rootfs", "local-lvm:vm-102-disk-0,size=8G", true},
		{"", "parent", "pre-upgrade", true},
		{"", "unused0", "local-lvm:vm-102-disk-1", true},
		{"", "snaptime", "", false},
		{"", "description", wantDescr, true},
		{"", "lxc.apparmor.profile", "", false}, // Raw keys are read with LXC.
		{"pve:pending", "memory", "4096", true},
		{"pve:pending", "delete", "swap", true},
		{"pre-docker", "cores", "1", true},
		{"pre-docker", "snaptime", "1718000000", true},
		{"pre-docker", "parent", "", false},
		{"pre-docker", "description", "clean base image\n", true},
		{"pre-upgrade", "parent", "pre-docker", true},
		{"pre-upgrade", "snaptime", "1719000000", true},
		{"pre-upgrade", "description", "", false},
	}
	for _, g := range gets {
		s := main
		if g.section != "" {
			s = c.Section(g.section)
		}
		if s == nil {
			t.Fatalf("section %q missing", g.section)
		}
		got, ok := s.Get(g.key)
		if got != g.want || ok != g.ok {
			t.Errorf("[%s] Get(%q) = %q, %v; want %q, %v", g.section, g.key, got, ok, g.want, g.ok)
		}
	}

	wantEqual(t, "Keys", main.Keys(), []string{"description", "arch", "cores", "features", "hostname", "memory", "nameserver", "net0",
		"onboot", "ostype", "parent", "rootfs", "searchdomain", "startup", "swap", "tags", "unprivileged", "unused0"})
	wantEqual(t, "LXC", main.LXC(), []KV{
		{"lxc.apparmor.profile", "lxc-docker-secure"},
		{"lxc.cgroup2.devices.allow", "c 10:200 rwm"},
		{"lxc.mount.entry", "/dev/net/tun dev/net/tun none bind,create=file"},
		{"lxc.mount.entry", "/srv/registry srv/registry none bind,create=dir 0 0"},
	})
	if got := c.Section("pre-docker").LXC(); got != nil {
		t.Errorf("pre-docker LXC = %q, want none", got)
	}
	if got := c.Section("pre-upgrade").LXC(); len(got) != 2 {
		t.Errorf("pre-upgrade LXC = %q, want 2 lines", got)
	}
	if c.Section("missing") != nil || c.Section("") != nil {
		t.Error("Section returned a section that does not exist")
	}
}

func TestReadHandEditedFixture(t *testing.T) {
	c := mustParse(t, readFixture(t, "handedited-300.conf"))
	main := c.Main()
	wantEqual(t, "sections", sectionNames(c), []string{"Snap_1", "pve:pending"})
	wantDescr := "legacy: single line" + " a hand written comment, which PVE reads as description\n"
	if got := main.Description(); got != wantDescr {
		t.Errorf("description = %q, want %q", got, wantDescr)
	}
	gets := map[string]string{
		"arch":     "amd64",
		"memory":   "1024", // "\t1024  \r" trimmed, as Perl's \s does.
		"hostname": "edited",
		"mp0":      "/mnt/data2,mp=/data", // The last line wins.
	}
	for k, want := range gets {
		if got, ok := main.Get(k); !ok || got != want {
			t.Errorf("Get(%q) = %q, %v; want %q", k, got, ok, want)
		}
	}
	for _, k := range []string{"cores", "Unknown", "delete"} {
		if got, ok := main.Get(k); ok {
			t.Errorf("Get(%q) = %q, want unset (PVE cannot parse that line)", k, got)
		}
	}
	wantEqual(t, "Keys", main.Keys(), []string{"description", "arch", "memory", "hostname", "mp0"})
	wantEqual(t, "LXC", main.LXC(), []KV{
		{"lxc.cgroup2.devices.allow", "a"},
		{"lxc.idmap", "u 0 100000 65536"},
		{"lxc.idmap", "g 0 100000 65536"},
		{"lxc.mount.auto", "proc:rw sys:rw"},
	})
	snap := c.Section("Snap_1")
	if got, _ := snap.Get("snapstate"); got != "prepare" {
		t.Errorf("snapstate = %q", got)
	}
	if c.Section("snap_1") != nil {
		t.Error("snapshot names must be case sensitive")
	}
	if got, _ := c.Section(PendingSection).Get("delete"); got != "mp0,swap" {
		t.Errorf("pending delete = %q", got)
	}
}

func TestDescriptionEdgeCases(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"none", "arch: amd64\n", ""},
		{"empty comment", "#\n", "\n"},
		{"comments anywhere", "arch: amd64\n#late\n", "late\n"},
		{"description key appends", "#a\ndescription: b%3Ac \n#d\n", "a\nb:cd\n"},
		{"zero is false in Perl", "description: 0\n", ""},
		{"whitespace only description key", "description:  \n", " "},
		{"whitespace key loses to comments", "description:  \n#x\n", "x\n"},
		{"invalid utf8", "#%FF%E2%82A\n", "\uFFFD\uFFFDA\n"},
		{"carriage return kept", "#a\r\n", "a\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mustParse(t, []byte(tt.in)).Main().Description(); got != tt.want {
				t.Errorf("Description = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestEncodeDecodeText(t *testing.T) {
	tests := []struct{ text, encoded string }{
		{"", ""},
		{"plain text, 100% ok", "plain text, 100% ok"},
		{"a:b", "a%3Ab"},
		{"Jürgen", "J%C3%BCrgen"},
		{"tab\there", "tab%09here"},
		{"del\x7f", "del%7F"},
		{"~ and ;<=>?@[]", "~ and ;<=>?@[]"},
		{"🐳", "%F0%9F%90%B3"},
	}
	for _, tt := range tests {
		if got := EncodeText(tt.text); got != tt.encoded {
			t.Errorf("EncodeText(%q) = %q, want %q", tt.text, got, tt.encoded)
		}
		if got := DecodeText(tt.encoded); got != tt.text {
			t.Errorf("DecodeText(%q) = %q, want %q", tt.encoded, got, tt.text)
		}
	}
	decodes := []struct{ in, want string }{
		{"%3a%3A", "::"},
		{"%zz%4%", "%zz%4%"},
		{"%25", "%"}, // PVE never writes it, but reads it.
		{"%C0%AF", "\uFFFD"},
		{"%ED%A0%80", "\uFFFD"},
		{"%80%80", "\uFFFD\uFFFD"},
		{"%E2%82%E2%82%AC", "\uFFFD€"},
		{"%FEx", "\uFFFDx"},
		{"%F8%88%80%80%80x", "\uFFFDx"},  // Perl's 5-byte extension.
		{"%FC%84%80%80%80%80", "\uFFFD"}, // Perl's 6-byte extension.
		{"%F4%90%80%80", "\uFFFD"},       // Above U+10FFFF.
		{"%FF%80", "\uFFFD"},             // Start of Perl's 13-byte form.
	}
	for _, tt := range decodes {
		if got := DecodeText(tt.in); got != tt.want {
			t.Errorf("DecodeText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// tailAfterMain returns the bytes from the first section header on.
func tailAfterMain(data []byte) string {
	s := string(data)
	if i := strings.Index(s, "\n["); i >= 0 {
		return s[i:]
	}
	return ""
}

func TestEditMainNeverTouchesOtherSections(t *testing.T) {
	edits := map[string]func(*Config){
		"Set existing":       func(c *Config) { c.Main().Set("cores", "4") },
		"Set new":            func(c *Config) { c.Main().Set("cpulimit", "2") },
		"Set parent":         func(c *Config) { c.Main().Set("parent", "other") },
		"Delete":             func(c *Config) { c.Main().Delete("swap") },
		"Delete snaptime":    func(c *Config) { c.Main().Delete("snaptime") },
		"AddLXC":             func(c *Config) { c.Main().AddLXC("lxc.mount.entry", "/b b none bind 0 0") },
		"DeleteLXC":          func(c *Config) { c.Main().DeleteLXC("lxc.mount.entry") },
		"SetDescription":     func(c *Config) { c.Main().SetDescription("new: text\n") },
		"Delete description": func(c *Config) { c.Main().Delete("description") },
	}
	for _, fixture := range []string{"docker-102.conf", "handedited-300.conf"} {
		orig := readFixture(t, fixture)
		for name, edit := range edits {
			t.Run(fixture+"/"+name, func(t *testing.T) {
				c := mustParse(t, orig)
				edit(c)
				out := c.Bytes()
				if got, want := tailAfterMain(out), tailAfterMain(orig); got != want {
					t.Fatalf("edit of main changed the other sections:\n got %q\nwant %q", got, want)
				}
				// The result parses to the same sections with the same content.
				re := mustParse(t, out)
				if !reflect.DeepEqual(sectionNames(re), sectionNames(c)) {
					t.Fatalf("sections changed: %q vs %q", sectionNames(re), sectionNames(c))
				}
				for _, s := range c.Sections() {
					r := re.Section(s.Name())
					if !reflect.DeepEqual(r.LXC(), s.LXC()) || !reflect.DeepEqual(r.Keys(), s.Keys()) {
						t.Fatalf("section %q reads differently after the edit", s.Name())
					}
				}
			})
		}
	}
}

func TestEdits(t *testing.T) {
	tests := []struct {
		name string
		in   string
		edit func(t *testing.T, c *Config)
		want string
	}{
		{
			name: "Set replaces in place and keeps the terminator",
			in:   "arch: amd64\ncores: 2\r\nmemory: 512",
			edit: func(_ *testing.T, c *Config) { c.Main().Set("cores", "4"); c.Main().Set("memory", "1024") },
			want: "arch: amd64\ncores: 4\r\nmemory: 1024",
		},
		{
			name: "Set with the same value leaves odd spacing alone",
			in:   "cores:2   \n",
			edit: func(_ *testing.T, c *Config) { c.Main().Set("cores", "2") },
			want: "cores:2   \n",
		},
		{
			name: "Set drops repeated lines of the key",
			in:   "mp0: a,mp=/a\narch: amd64\nmp0: b,mp=/b\n",
			edit: func(_ *testing.T, c *Config) { c.Main().Set("mp0", "c,mp=/c") },
			want: "mp0: c,mp=/c\narch: amd64\n",
		},
		{
			name: "Set same value on first line still drops the others",
			in:   "mp0: a\nmp0: b\n",
			edit: func(_ *testing.T, c *Config) { c.Main().Set("mp0", "a") },
			want: "mp0: a\n",
		},
		{
			name: "Set appends after the last key, before raw lines",
			in:   "#d\narch: amd64\nlxc.a: 1\n\n[s1]\narch: amd64\n",
			edit: func(_ *testing.T, c *Config) { c.Main().Set("cores", "2") },
			want: "#d\narch: amd64\ncores: 2\nlxc.a: 1\n\n[s1]\narch: amd64\n",
		},
		{
			name: "Set in a section with raw lines only goes before them",
			in:   "lxc.a: 1\nlxc.b: 2\n",
			edit: func(_ *testing.T, c *Config) { c.Main().Set("cores", "2") },
			want: "cores: 2\nlxc.a: 1\nlxc.b: 2\n",
		},
		{
			name: "Set into an empty file",
			in:   "",
			edit: func(_ *testing.T, c *Config) { c.Main().Set("arch", "amd64") },
			want: "arch: amd64\n",
		},
		{
			name: "Set into an empty main section before a snapshot",
			in:   "\n[s1]\narch: amd64\n",
			edit: func(_ *testing.T, c *Config) { c.Main().Set("arch", "arm64") },
			want: "arch: arm64\n\n[s1]\narch: amd64\n",
		},
		{
			name: "Set at the end of a file without final newline",
			in:   "arch: amd64",
			edit: func(_ *testing.T, c *Config) { c.Main().Set("cores", "2") },
			want: "arch: amd64\ncores: 2",
		},
		{
			name: "Set in a snapshot leaves main alone",
			in:   "cores: 1\n\n[s1]\ncores: 1\n\n[s2]\ncores: 1\n",
			edit: func(_ *testing.T, c *Config) { c.Section("s1").Set("cores", "3"); c.Section("s1").Set("memory", "64") },
			want: "cores: 1\n\n[s1]\ncores: 3\nmemory: 64\n\n[s2]\ncores: 1\n",
		},
		{
			name: "Set into a header-only section at end of file",
			in:   "arch: amd64\n\n[s1]",
			edit: func(_ *testing.T, c *Config) { c.Section("s1").Set("arch", "amd64") },
			want: "arch: amd64\n\n[s1]\narch: amd64",
		},
		{
			name: "Set description routes to SetDescription",
			in:   "#old\narch: amd64\n",
			edit: func(_ *testing.T, c *Config) { c.Main().Set("description", "new") },
			want: "#new\narch: amd64\n",
		},
		{
			name: "Delete removes every line of the key",
			in:   "mp0: a\narch: amd64\nmp0: b\n",
			edit: func(t *testing.T, c *Config) {
				if !c.Main().Delete("mp0") || c.Main().Delete("mp0") {
					t.Error("Delete reported the wrong result")
				}
			},
			want: "arch: amd64\n",
		},
		{
			name: "Delete the last line of a file without final newline",
			in:   "arch: amd64\ncores: 2",
			edit: func(_ *testing.T, c *Config) { c.Main().Delete("cores") },
			want: "arch: amd64\n",
		},
		{
			name: "Delete does not touch raw lines or unknown lines",
			in:   "arch: amd64\nlxc.arch: x\narch : y\n",
			edit: func(_ *testing.T, c *Config) { c.Main().Delete("arch") },
			want: "lxc.arch: x\narch : y\n",
		},
		{
			name: "AddLXC where the key is only in a snapshot adds it to main",
			in: "arch: amd64\nlxc.cap.drop: x\n\n[s1]\narch: amd64\n" +
				"lxc.apparmor.profile: old\n\n[pve:pending]\nlxc.apparmor.profile: pending\n",
			edit: func(_ *testing.T, c *Config) { c.Main().AddLXC("lxc.apparmor.profile", "lxc-docker-secure") },
			want: "arch: amd64\nlxc.cap.drop: x\nlxc.apparmor.profile: lxc-docker-secure\n\n[s1]\narch: amd64\n" +
				"lxc.apparmor.profile: old\n\n[pve:pending]\nlxc.apparmor.profile: pending\n",
		},
		{
			name: "AddLXC into a main section without raw lines",
			in:   "#d\narch: amd64\n\n\n[s1]\n",
			edit: func(_ *testing.T, c *Config) { c.Main().AddLXC("lxc.apparmor.profile", "p") },
			want: "#d\narch: amd64\nlxc.apparmor.profile: p\n\n\n[s1]\n",
		},
		{
			name: "AddLXC at the end of a file without final newline",
			in:   "arch: amd64\nlxc.a: 1",
			edit: func(_ *testing.T, c *Config) { c.Main().AddLXC("lxc.b", "2") },
			want: "arch: amd64\nlxc.a: 1\nlxc.b: 2",
		},
		{
			name: "AddLXC appends after the last raw line",
			in:   "lxc.mount.entry: a\narch: amd64\n",
			edit: func(_ *testing.T, c *Config) { c.Main().AddLXC("lxc.mount.entry", "b") },
			want: "lxc.mount.entry: a\nlxc.mount.entry: b\narch: amd64\n",
		},
		{
			name: "DeleteLXC counts the lines",
			in:   "lxc.a: 1\nlxc.b: 2\nlxc.a = 3\n",
			edit: func(t *testing.T, c *Config) {
				if n := c.Main().DeleteLXC("lxc.a"); n != 2 {
					t.Errorf("DeleteLXC = %d, want 2", n)
				}
				if n := c.Main().DeleteLXC("lxc.zz"); n != 0 {
					t.Errorf("DeleteLXC = %d, want 0", n)
				}
			},
			want: "lxc.b: 2\n",
		},
		{
			name: "SetDescription encodes and goes to the top",
			in:   "arch: amd64\n#old comment\ncores: 1\n",
			edit: func(_ *testing.T, c *Config) { c.Main().SetDescription("Owner: Jürgen\n\nline 3\n\n") },
			want: "#Owner%3A J%C3%BCrgen\n#\n#line 3\narch: amd64\ncores: 1\n",
		},
		{
			name: "SetDescription in a snapshot goes after the header",
			in:   "arch: amd64\n\n[s1]\narch: amd64\n",
			edit: func(_ *testing.T, c *Config) { c.Section("s1").SetDescription("snap: one") },
			want: "arch: amd64\n\n[s1]\n#snap%3A one\narch: amd64\n",
		},
		{
			name: "SetDescription empty removes it",
			in:   "#a\ndescription: b\narch: amd64\n",
			edit: func(_ *testing.T, c *Config) { c.Main().SetDescription("") },
			want: "arch: amd64\n",
		},
		{
			name: "AddSection pending goes before the snapshots",
			in:   "arch: amd64\n\n[s1]\narch: amd64\n",
			edit: func(_ *testing.T, c *Config) { c.AddSection(PendingSection).Set("cores", "2") },
			want: "arch: amd64\n\n[pve:pending]\ncores: 2\n\n[s1]\narch: amd64\n",
		},
		{
			name: "AddSection pending after main without blank line",
			in:   "arch: amd64\n[s1]\narch: amd64",
			edit: func(_ *testing.T, c *Config) { c.AddSection(PendingSection).Set("delete", "swap") },
			want: "arch: amd64\n\n[pve:pending]\ndelete: swap\n\n[s1]\narch: amd64",
		},
		{
			name: "AddSection snapshot goes to the end",
			in:   "arch: amd64\n\n[pve:pending]\ncores: 2",
			edit: func(_ *testing.T, c *Config) { c.AddSection("s1").Set("snaptime", "1700000000") },
			want: "arch: amd64\n\n[pve:pending]\ncores: 2\n\n[s1]\nsnaptime: 1700000000\n",
		},
		{
			name: "AddSection into an empty file",
			in:   "",
			edit: func(_ *testing.T, c *Config) { c.AddSection("s1") },
			want: "[s1]\n",
		},
		{
			name: "AddSection returns the existing section",
			in:   "[s1]\ncores: 1\n",
			edit: func(t *testing.T, c *Config) {
				if c.AddSection("s1") != c.Section("s1") {
					t.Error("AddSection made a second section")
				}
			},
			want: "[s1]\ncores: 1\n",
		},
		{
			name: "DeleteSection in the middle",
			in:   "arch: amd64\n\n[s1]\ncores: 1\n\n[s2]\ncores: 2\n",
			edit: func(t *testing.T, c *Config) {
				if !c.DeleteSection("s1") || c.DeleteSection("s1") {
					t.Error("DeleteSection reported the wrong result")
				}
			},
			want: "arch: amd64\n\n[s2]\ncores: 2\n",
		},
		{
			name: "DeleteSection at the end drops the separator",
			in:   "arch: amd64\n\n[s1]\ncores: 1\n\n[s2]\ncores: 2",
			edit: func(_ *testing.T, c *Config) { c.DeleteSection("s2") },
			want: "arch: amd64\n\n[s1]\ncores: 1\n",
		},
		{
			name: "DeleteSection of main is impossible",
			in:   "arch: amd64\n",
			edit: func(t *testing.T, c *Config) {
				if c.DeleteSection("") {
					t.Error("DeleteSection removed main")
				}
			},
			want: "arch: amd64\n",
		},
		{
			name: "DeleteSection removes duplicates",
			in:   "a: 1\n\n[s1]\nb: 1\n\n[s1]\nb: 2\n",
			edit: func(_ *testing.T, c *Config) { c.DeleteSection("s1") },
			want: "a: 1\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustParse(t, []byte(tt.in))
			tt.edit(t, c)
			if got := string(c.Bytes()); got != tt.want {
				t.Fatalf("after edit:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestSetThenGet(t *testing.T) {
	c := mustParse(t, readFixture(t, "docker-102.conf"))
	main := c.Main()
	main.Set("memory", "4096")
	main.Set("cpulimit", "1.5")
	main.DeleteLXC("lxc.apparmor.profile")
	main.AddLXC("lxc.apparmor.profile", "unconfined")
	main.SetDescription("a: b\nc")
	re := mustParse(t, c.Bytes()).Main()
	for k, want := range map[string]string{"memory": "4096", "cpulimit": "1.5", "description": "a: b\nc\n"} {
		if got, ok := re.Get(k); !ok || got != want {
			t.Errorf("Get(%q) after reparse = %q, %v; want %q", k, got, ok, want)
		}
	}
	if got := re.LXC(); got[len(got)-1] != (KV{"lxc.apparmor.profile", "unconfined"}) {
		t.Errorf("raw lines = %v, want the profile last", got)
	}
}

func TestDetachedSection(t *testing.T) {
	c := mustParse(t, []byte("a: 1\n\n[s1]\nb: 1\n"))
	s := c.Section("s1")
	c.DeleteSection("s1")
	s.Set("b", "2")
	if got := string(c.Bytes()); got != "a: 1\n" {
		t.Errorf("editing a deleted section changed the config: %q", got)
	}
}

func TestCheck(t *testing.T) {
	c := mustParse(t, []byte("\n[pve:pending]\n"))
	main, pending := c.Main(), c.Section(PendingSection)
	tests := []struct {
		s          *Section
		key, value string
		ok         bool
	}{
		{main, "cores", "2", true},
		{main, "net0", "name=eth0,bridge=vmbr0", true},
		{main, "description", "any\ntext: here", true},
		{main, "lxc.apparmor.profile", "p", true},
		{main, "lxc.cap.drop", "", true},
		{main, "Cores", "2", false},
		{main, "net0x", "2", false},
		{main, "lxc.Upper", "2", false},
		{main, "lxc.", "2", false},
		{main, "cores", "", false},
		{main, "cores", " 2", false},
		{main, "cores", "2 ", false},
		{main, "cores", "2\n3", false},
		{main, "cores", "2\r", false},
		{main, "lxc.a", "x ", false},
		{main, "parent", "x snapstate: prepare", false},
		{main, "delete", "swap", false},
		{pending, "delete", "swap", true},
	}
	for _, tt := range tests {
		err := tt.s.Check(tt.key, tt.value)
		if (err == nil) != tt.ok {
			t.Errorf("[%s] Check(%q, %q) = %v, want ok=%v", tt.s.Name(), tt.key, tt.value, err, tt.ok)
		}
	}
}

func TestPanics(t *testing.T) {
	c := mustParse(t, []byte("arch: amd64\n"))
	tests := map[string]func(){
		"Set invalid key":             func() { c.Main().Set("Bad", "x") },
		"Set raw key":                 func() { c.Main().Set("lxc.a", "x") },
		"Set newline":                 func() { c.Main().Set("cores", "1\n2") },
		"Set delete in main":          func() { c.Main().Set("delete", "swap") },
		"AddLXC non-raw key":          func() { c.Main().AddLXC("cores", "2") },
		"AddLXC newline":              func() { c.Main().AddLXC("lxc.a", "x\ny") },
		"AddSection invalid name":     func() { c.AddSection("a") },
		"AddSection name with spaces": func() { c.AddSection("my snap") },
	}
	for name, f := range tests {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			f()
		})
	}
	if got := string(c.Bytes()); got != "arch: amd64\n" {
		t.Errorf("a rejected edit changed the config: %q", got)
	}
}

func TestValidSectionName(t *testing.T) {
	for name, want := range map[string]bool{
		"pve:pending": true, "s1": true, "Pre-Upgrade_2": true,
		"a": false, "1snap": false, "": false, "a b": false, "pve:other": false,
	} {
		if got := ValidSectionName(name); got != want {
			t.Errorf("ValidSectionName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestZeroConfig(t *testing.T) {
	var c Config
	if got := c.Bytes(); len(got) != 0 {
		t.Fatalf("zero Config has content %q", got)
	}
	if c.Section("s1") != nil || len(c.Sections()) != 0 || c.DeleteSection("s1") {
		t.Fatal("zero Config has sections")
	}
	c.Main().Set("arch", "amd64")
	c.AddSection("s1").Set("arch", "amd64")
	if got, want := string(c.Bytes()), "arch: amd64\n\n[s1]\narch: amd64\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}
