package apparmor

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// The hardening list of docs/guides/apparmor.md.
var (
	deniedCapabilities = []string{
		"mac_admin", "mac_override", "sys_module", "sys_rawio", "sys_time",
		"sys_boot", "syslog", "sys_pacct", "audit_control", "wake_alarm",
		"block_suspend", "bpf", "perfmon", "checkpoint_restore", "dac_read_search",
	}
	deniedFstypes = []string{
		"securityfs", "debugfs", "tracefs", "binfmt_misc", "efivarfs", "bpf",
		"configfs", "pstore",
	}
	// Each path with the access that must be denied ("r" and/or "w").
	deniedPaths = []struct{ path, perms string }{
		{"/proc/sysrq-trigger", "rw"},
		{"/proc/kcore", "rw"},
		{"/proc/kmem", "rw"},
		{"/proc/mem", "rw"},
		{"/proc/acpi/wakeup", "rw"},
		{"/proc/bus/pci/00/00.0", "w"},
		{"/proc/sys/kernel/core_pattern", "w"},
		{"/proc/sys/kernel/modprobe", "w"},
		{"/proc/sys/kernel/sysrq", "w"},
		{"/proc/sys/fs/binfmt_misc/register", "w"},
		{"/proc/sys/fs/binfmt_misc/", "w"},
		{"/sys/kernel/security/apparmor/.replace", "rw"},
		{"/sys/kernel/security/", "rw"},
		{"/sys/kernel/debug/tracing/trace", "rw"},
		{"/sys/kernel/debug/", "rw"},
		{"/sys/firmware/efi/efivars/BootOrder-8be4df61-93ca-11d2-aa0d-00e098032b8c", "rw"},
		{"/sys/firmware/acpi/tables/DSDT", "w"},
		{"/sys/power/state", "w"},
		{"/sys/module/kvm/parameters/nx_huge_pages", "w"},
		{"/sys/module/apparmor/parameters/enabled", "rw"},
		{"/dev/mem", "rw"},
		{"/dev/kmem", "rw"},
		{"/dev/port", "rw"},
		{"/dev/.lxc/proc/cpuinfo", "rw"},
		{"/dev/.lxc/sys/kernel/uevent_helper", "rw"},
	}
)

// profileRules returns the rules inside the profile's braces, one per line,
// without comments.
func profileRules(t *testing.T, text string) (header string, rules []string) {
	t.Helper()
	for _, line := range strings.Split(text, "\n") {
		if i := strings.Index(line, "#"); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		switch {
		case line == "" || line == "}":
		case strings.HasPrefix(line, "profile "):
			header = line
		default:
			rules = append(rules, line)
		}
	}
	if header == "" {
		t.Fatal("no profile header found")
	}
	return header, rules
}

// fileRule is a file rule "[deny] PATH PERMS,".
type fileRule struct {
	deny  bool
	glob  string
	re    *regexp.Regexp
	perms string
}

func fileRules(t *testing.T, rules []string) []fileRule {
	t.Helper()
	var out []fileRule
	for _, r := range rules {
		f := strings.Fields(strings.TrimSuffix(r, ","))
		deny := len(f) > 0 && f[0] == "deny"
		if deny {
			f = f[1:]
		}
		if len(f) != 2 || (!strings.HasPrefix(f[0], "/") && !strings.HasPrefix(f[0], "@{PROC}")) {
			continue
		}
		re, err := globRegexp(f[0])
		if err != nil {
			t.Fatalf("rule %q: %v", r, err)
		}
		out = append(out, fileRule{deny: deny, glob: f[0], re: re, perms: f[1]})
	}
	return out
}

// globRegexp turns an AppArmor path glob into a regular expression:
// "*" stays within one path component, "**" crosses components, "?" is one
// character of a component, [...] is a character class and {a,b} an
// alternation. @{PROC} is /proc/ and repeated slashes collapse, as the
// parser does.
func globRegexp(glob string) (*regexp.Regexp, error) {
	glob = strings.ReplaceAll(glob, "@{PROC}", "/proc/")
	for strings.Contains(glob, "//") {
		glob = strings.ReplaceAll(glob, "//", "/")
	}
	var b strings.Builder
	b.WriteString("^")
	depth := 0
	for i := 0; i < len(glob); i++ {
		c := glob[i]
		switch {
		case c == '*' && i+1 < len(glob) && glob[i+1] == '*':
			b.WriteString(".*")
			i++
		case c == '*':
			b.WriteString("[^/]*")
		case c == '?':
			b.WriteString("[^/]")
		case c == '[':
			j := strings.IndexByte(glob[i:], ']')
			if j < 0 {
				return nil, fmt.Errorf("unclosed [ in %q", glob)
			}
			b.WriteString(glob[i : i+j+1])
			i += j
		case c == '{':
			b.WriteString("(?:")
			depth++
		case c == '}':
			b.WriteString(")")
			depth--
		case c == ',' && depth > 0:
			b.WriteString("|")
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	if depth != 0 {
		return nil, fmt.Errorf("unbalanced braces in %q", glob)
	}
	b.WriteString("$")
	return regexp.Compile(b.String())
}

// denying returns the deny rules that refuse access perm (one of r, w) to path.
func denying(rules []fileRule, path string, perm byte) []string {
	var out []string
	for _, r := range rules {
		if r.deny && strings.IndexByte(r.perms, perm) >= 0 && r.re.MatchString(path) {
			out = append(out, r.glob+" "+r.perms)
		}
	}
	return out
}

func TestGlobRegexp(t *testing.T) {
	cases := []struct {
		glob, path string
		want       bool
	}{
		{"/sys/[^cdfkn]*{,/**}", "/sys/power/state", true},
		{"/sys/[^cdfkn]*{,/**}", "/sys/power", true},
		{"/sys/[^cdfkn]*{,/**}", "/sys/net/ipv4/x", false},
		{"/sys/kernel/shm*/**", "/sys/kernel/shmmax", false},
		{"/sys/kernel/shm*/**", "/sys/kernel/shmmax/x", true},
		{"@{PROC}/kcore", "/proc/kcore", true},
		{"/dev/{mem,kmem}", "/dev/kmem", true},
		{"/dev/{mem,kmem}", "/dev/port", false},
		{"/a/*/c", "/a/b/x/c", false},
		{"/a/**", "/a/b/x/c", true},
		{"/a/?", "/a/bc", false},
	}
	for _, c := range cases {
		re, err := globRegexp(c.glob)
		if err != nil {
			t.Fatalf("%s: %v", c.glob, err)
		}
		if got := re.MatchString(c.path); got != c.want {
			t.Errorf("%s matching %s = %v, want %v", c.glob, c.path, got, c.want)
		}
	}
}

func TestProfileHardening(t *testing.T) {
	text := string(profileText())
	header, rules := profileRules(t, text)

	if want := "profile " + DockerSecure.Name + " flags=(attach_disconnected,mediate_deleted) {"; header != want {
		t.Errorf("header = %q, want %q", header, want)
	}
	has := map[string]bool{}
	for _, r := range rules {
		has[strings.Join(strings.Fields(r), " ")] = true
	}
	for _, c := range deniedCapabilities {
		if !has["deny capability "+c+","] {
			t.Errorf("missing rule: deny capability %s,", c)
		}
	}
	for _, fs := range deniedFstypes {
		if !has["deny mount fstype="+fs+","] {
			t.Errorf("missing rule: deny mount fstype=%s,", fs)
		}
	}
	files := fileRules(t, rules)
	for _, p := range deniedPaths {
		for i := 0; i < len(p.perms); i++ {
			if len(denying(files, p.path, p.perms[i])) == 0 {
				t.Errorf("no deny rule refuses %q access to %s", p.perms[i], p.path)
			}
		}
	}
	if !has["deny ptrace (read, trace) peer=unconfined,"] {
		t.Error("missing rule: deny ptrace (read, trace) peer=unconfined,")
	}
	if !has["deny signal (send) peer=unconfined,"] {
		t.Error("missing rule: deny signal (send) peer=unconfined,")
	}
	if !has["include if exists <local/"+DockerSecure.Name+">"] {
		t.Error("missing: include if exists <local/lxc-docker-secure>")
	}

	allowedPivot := regexp.MustCompile(`^pivot_root oldroot=(/var/lib/docker/|/var/lib/containerd/|/run/containerd/|/run/systemd/(mount-rootfs|unit-root)/)\S* (/var/lib/docker/|/var/lib/containerd/|/run/containerd/|/run/systemd/(mount-rootfs|unit-root)/)\S*,$`)
	pivots := 0
	for _, r := range rules {
		norm := strings.Join(strings.Fields(r), " ")
		switch {
		case strings.Contains(norm, "start-container"):
			t.Errorf("rule includes start-container: %q", r)
		case strings.Contains(norm, "change_profile"):
			t.Errorf("rule grants change_profile: %q", r)
		case norm == "mount," || norm == "pivot_root," || norm == "ptrace," || norm == "signal,":
			t.Errorf("unrestricted rule: %q", r)
		case strings.HasPrefix(norm, "pivot_root"):
			pivots++
			if !allowedPivot.MatchString(norm) {
				t.Errorf("pivot_root outside the runtime and systemd roots: %q", r)
			}
		}
		if strings.Contains(norm, "unconfined") && !strings.HasPrefix(norm, "deny ") {
			t.Errorf("unconfined in a rule that is not a deny: %q", r)
		}
		if regexp.MustCompile(`->\s*:?\S*unconfined|[PpCcUu]x`).MatchString(norm) && !strings.HasPrefix(norm, "deny ") {
			t.Errorf("rule may transition out of the profile: %q", r)
		}
	}
	if pivots == 0 {
		t.Error("no pivot_root rule: runc cannot enter a container root")
	}
	// Comments are ignored by the checks above; the words must not appear
	// anywhere, so that a "#include <abstractions/lxc/start-container>" (the
	// legacy include syntax, a comment to the checks above) cannot slip in.
	for _, word := range []string{"start-container", "change_profile"} {
		if strings.Contains(text, word) {
			t.Errorf("the profile text contains %q", word)
		}
	}
	if m := regexp.MustCompile(`(?m)^\s*#\s*include\b.*$`).FindString(text); m != "" {
		t.Errorf("legacy #include, which the checks above would read as a comment: %q", m)
	}
	if regexp.MustCompile(`(?m)^\s*pivot_root\s*,`).MatchString(text) {
		t.Error("the profile text contains a bare pivot_root rule")
	}
}

// TestSysctlAliases is the runc >= 1.2.8 regression: sysctls written through
// a detached procfs are named /sys/<sysctl path> by AppArmor, and must stay
// writable where their /proc/sys names are, while real sysfs stays read-only.
func TestSysctlAliases(t *testing.T) {
	_, rules := profileRules(t, string(profileText()))
	files := fileRules(t, rules)

	writable := []string{
		// runc and Docker defaults, and docker run --sysctl examples.
		"/sys/net/ipv4/ip_unprivileged_port_start",
		"/sys/net/ipv4/ping_group_range",
		"/sys/net/ipv4/ip_forward",
		"/sys/net/ipv6/conf/all/disable_ipv6",
		"/sys/net/core/somaxconn",
		"/sys/kernel/shmmax",
		"/sys/kernel/shmall",
		"/sys/kernel/msgmax",
		"/sys/kernel/sem",
		"/sys/kernel/hostname",
		"/sys/kernel/domainname",
		// The same sysctls under /proc/sys.
		"/proc/sys/net/ipv4/ip_unprivileged_port_start",
		"/proc/sys/net/ipv4/ping_group_range",
		"/proc/sys/kernel/shmmax",
		"/proc/sys/kernel/hostname",
		// What Docker and systemd write in sysfs.
		"/sys/fs/cgroup/system.slice/docker.service/memory.max",
		"/sys/fs/cgroup/cgroup.subtree_control",
		"/sys/class/net/eth0/mtu",
		"/sys/devices/virtual/net/docker0/bridge/stp_state",
		// Ordinary files.
		"/var/lib/docker/volumes/x/_data/f",
		"/etc/docker/daemon.json",
	}
	readable := []string{
		"/sys/kernel/cap_last_cap", // runc reads it through the detached procfs
		"/sys/net/ipv4/ip_unprivileged_port_start",
		"/proc/cpuinfo",
		"/sys/fs/cgroup/cgroup.controllers",
		"/sys/class/net/eth0/address",
	}
	readOnly := []string{
		"/sys/kernel/uevent_helper",
		"/sys/kernel/mm/transparent_hugepage/enabled",
		"/sys/kernel/core_pattern", // detached name of kernel.core_pattern
		"/sys/kernel/modprobe",
		"/sys/kernel/sysrq",
		"/sys/kernel/shmmax/x",
		"/sys/vm/drop_caches", // detached name of vm.drop_caches
		"/sys/fs/binfmt_misc/register",
		"/sys/fs/ext4/sda1/errors_count",
		"/sys/fs/cgroupx/y",
		"/sys/block/sda/queue/scheduler",
		"/sys/bus/pci/rescan",
		"/sys/class/gpio/export",
		"/sys/devices/system/cpu/cpu1/online",
		"/sys/devices/virtual/misc/x",
		"/sys/netx",
		"/proc/sys/vm/drop_caches",
		"/proc/sys/kernel/panic",
		"/proc/sys/fs/file-max",
		"/proc/sys/user/max_user_namespaces",
	}
	for _, c := range []struct {
		op         string
		access     byte
		wantDenied bool
		paths      []string
	}{
		{"write to", 'w', false, writable},
		{"read of", 'r', false, readable},
		{"write to", 'w', true, readOnly},
	} {
		for _, p := range c.paths {
			switch d := denying(files, p, c.access); {
			case c.wantDenied && len(d) == 0:
				t.Errorf("%s %s is not denied", c.op, p)
			case !c.wantDenied && len(d) > 0:
				t.Errorf("%s %s is denied by %v", c.op, p, d)
			}
		}
	}
}

// aaParser is an apparmor_parser the profile is compiled with: the machine's
// own (Debian 12's 3.0.8 is the parser of Proxmox VE 8) and Debian trixie's
// 4.1 (the parser of Proxmox VE 9), unpacked by tools/apparmor4.sh.
type aaParser struct {
	name  string   // for messages, e.g. "apparmor_parser 3.0.8"
	argv  []string // the command
	major int
	// etc is the /etc/apparmor.d whose abi, tunables and abstractions go
	// with this parser; LXC's files always come from the machine's.
	etc string
	// abi is the features file, relative to the tree.
	abi string
}

// offlineEnv, set to 1, lets the tests skip the AppArmor 4 parser when it
// is not cached and cannot be fetched.
const offlineEnv = "PHOENIX_APPARMOR_OFFLINE"

var (
	apparmor4Once sync.Once
	apparmor4Dir  string
	apparmor4Err  error
)

// parserVersion runs argv --version and returns the version and its major.
func parserVersion(t *testing.T, argv []string) (string, int) {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), argv[0], append(argv[1:], "--version")...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s --version: %v: %s", argv[0], err, out)
	}
	m := regexp.MustCompile(`version ((\d+)\.\S+)`).FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("cannot read the parser version from %q", out)
	}
	major, _ := strconv.Atoi(m[2])
	return m[1], major
}

// hostParser is the machine's parser; the test skips when it or LXC's
// policy is missing.
func hostParser(t *testing.T) aaParser {
	t.Helper()
	if _, err := os.Stat(parserPath()); err != nil {
		t.Skip("apparmor_parser not found: install the Debian packages apparmor and liblxc-common to compile the profile")
	}
	for _, p := range []string{"/etc/apparmor.d/lxc-containers", "/etc/apparmor.d/abi/3.0", "/etc/apparmor.d/abstractions/lxc/container-base"} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("%s not found: install the Debian packages apparmor and liblxc-common to compile the profile", p)
		}
	}
	argv := []string{parserPath()}
	version, major := parserVersion(t, argv)
	return aaParser{name: "apparmor_parser " + version, argv: argv, major: major, etc: "/etc/apparmor.d", abi: "abi/3.0"}
}

// apparmor4Parser is Debian trixie's parser, fetched once by
// tools/apparmor4.sh into ~/.cache/terraform-provider-phoenix/apparmor4. A
// failed fetch fails the test, unless PHOENIX_APPARMOR_OFFLINE=1 says the
// machine is offline.
func apparmor4Parser(t *testing.T) aaParser {
	t.Helper()
	apparmor4Once.Do(func() {
		out, err := exec.CommandContext(t.Context(), "bash", filepath.Join("..", "..", "tools", "apparmor4.sh")).Output()
		if err != nil {
			if ee, ok := err.(*exec.ExitError); ok {
				err = fmt.Errorf("%w: %s", err, strings.TrimSpace(string(ee.Stderr)))
			}
			apparmor4Err = err
			return
		}
		apparmor4Dir = strings.TrimSpace(string(out))
	})
	if apparmor4Err != nil {
		if os.Getenv(offlineEnv) == "1" {
			t.Skipf("%s=1: the AppArmor 4 parser is not cached and was not fetched (%v); the profile is compiled with the machine's parser only", offlineEnv, apparmor4Err)
		}
		t.Fatalf("tools/apparmor4.sh could not fetch Debian trixie's apparmor package (%v); set %s=1 on a machine without access to deb.debian.org", apparmor4Err, offlineEnv)
	}
	argv := []string{filepath.Join(apparmor4Dir, "run-parser")}
	version, major := parserVersion(t, argv)
	if major < 4 {
		t.Fatalf("%s reports version %s, want 4 or later", argv[0], version)
	}
	return aaParser{name: "apparmor_parser " + version, argv: argv, major: major, etc: filepath.Join(apparmor4Dir, "etc", "apparmor.d"), abi: "abi/4.0"}
}

// eachParser runs f as a subtest per parser: the machine's and AppArmor 4.
func eachParser(t *testing.T, f func(t *testing.T, p aaParser)) {
	t.Helper()
	host := hostParser(t)
	t.Run(fmt.Sprintf("v%d-host", host.major), func(t *testing.T) { f(t, host) })
	t.Run("v4-trixie", func(t *testing.T) { f(t, apparmor4Parser(t)) })
}

// tree builds an /etc/apparmor.d for p in a temporary directory: p's abi,
// tunables and abstractions, the machine's LXC policy (lxc-containers,
// lxc/ and abstractions/lxc from liblxc-common), the given profile and,
// when local is not nil, the local include.
func (p aaParser) tree(t *testing.T, profile, local []byte) string {
	t.Helper()
	tree := filepath.Join(t.TempDir(), "apparmor.d")
	copies := [][2]string{
		{p.etc + "/abi", "abi"}, {p.etc + "/tunables", "tunables"}, {p.etc + "/abstractions", "abstractions"},
		{"/etc/apparmor.d/lxc-containers", "lxc-containers"}, {"/etc/apparmor.d/lxc", "lxc"},
	}
	if p.etc != "/etc/apparmor.d" {
		copies = append(copies, [2]string{"/etc/apparmor.d/abstractions/lxc", "abstractions/lxc"})
	}
	if err := os.MkdirAll(filepath.Join(tree, "local"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range copies {
		dst := filepath.Join(tree, c[1])
		_ = os.RemoveAll(dst)
		if out, err := exec.CommandContext(t.Context(), "cp", "-a", c[0], dst).CombinedOutput(); err != nil {
			t.Fatalf("copy %s: %v: %s", c[0], err, out)
		}
	}
	if err := os.WriteFile(filepath.Join(tree, "lxc", DockerSecure.Name), profile, 0o644); err != nil {
		t.Fatal(err)
	}
	if local != nil {
		if err := os.WriteFile(filepath.Join(tree, "local", DockerSecure.Name), local, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return tree
}

// shippedTree is p.tree with the shipped files, the local include only
// where the install command puts it (parser 4 or later).
func (p aaParser) shippedTree(t *testing.T) string {
	t.Helper()
	var local []byte
	if p.major >= DockerSecure.Files[1].MinParserMajor {
		local = localInclude()
	}
	return p.tree(t, profileText(), local)
}

// compile runs the parser over file of tree (relative) without loading it;
// extra arguments come first.
func (p aaParser) compile(t *testing.T, tree, file string, extra ...string) (string, error) {
	t.Helper()
	args := slices.Concat(p.argv[1:], extra, []string{"-QK", "-b", tree, "-I", tree, "-M", filepath.Join(tree, p.abi), "--warn=all", filepath.Join(tree, file)})
	out, err := exec.CommandContext(t.Context(), p.argv[0], args...).CombinedOutput()
	return string(out), err
}

// profileFile is the profile's path in a tree, which the install command
// loads by itself; lxcContainersFile loads it at boot with LXC's others.
var (
	profileFile       = filepath.Join("lxc", DockerSecure.Name)
	lxcContainersFile = "lxc-containers"
)

// compiled compiles the profile of tree and returns its machines.
func (p aaParser) compiled(t *testing.T, tree string) compiledPolicy {
	t.Helper()
	out, err := p.compile(t, tree, profileFile, "-D", "dfa-states")
	if err != nil {
		t.Fatalf("%s -D dfa-states: %v\n%.2000s", p.name, err, out)
	}
	ms, err := parseDFADump(out)
	if err != nil {
		t.Fatalf("%s -D dfa-states: %v", p.name, err)
	}
	return compiledPolicy{file: ms[0], policy: ms[1]}
}

func parserPath() string {
	if p, err := exec.LookPath("apparmor_parser"); err == nil {
		return p
	}
	return "/sbin/apparmor_parser"
}

// TestProfileCompiles compiles the shipped files as the install command
// loads them (the profile file by itself) and as a booting node does
// (lxc-containers with LXC's profiles), with the machine's parser and with
// AppArmor 4. The profile must compile without a single warning.
func TestProfileCompiles(t *testing.T) {
	eachParser(t, func(t *testing.T, p aaParser) {
		t.Log(p.name)
		tree := p.shippedTree(t)
		out, err := p.compile(t, tree, profileFile)
		if err != nil {
			t.Fatalf("%s does not compile: %v\n%s", DockerSecure.Name, err, out)
		}
		if strings.TrimSpace(out) != "" {
			t.Fatalf("the parser printed output (warnings are not allowed):\n%s", out)
		}
		out, err = p.compile(t, tree, lxcContainersFile)
		if err != nil {
			t.Fatalf("the LXC policy with %s does not compile: %v\n%s", DockerSecure.Name, err, out)
		}
		// LXC's own files draw AppArmor 4's deprecation warnings for
		// "#include"; none may concern this profile.
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(line, DockerSecure.Name) {
				t.Errorf("the parser warns about %s in the LXC policy: %s", DockerSecure.Name, line)
			}
		}
		names, err := p.compile(t, tree, profileFile, "-N")
		if err != nil {
			t.Fatalf("apparmor_parser -N: %v\n%s", err, names)
		}
		if strings.TrimSpace(names) != DockerSecure.Name {
			t.Fatalf("the profile file declares %q, want only %s", names, DockerSecure.Name)
		}
	})
}

func TestLocalIncludeCompiles(t *testing.T) {
	eachParser(t, func(t *testing.T, p aaParser) {
		out, err := p.compile(t, p.tree(t, profileText(), localInclude()), profileFile)
		if p.major < 4 {
			// AppArmor 3 rejects userns and mqueue rules: this is why the
			// install command leaves the local include off such nodes.
			if err == nil {
				t.Fatalf("%s accepted the AppArmor 4 local include; the version gate in the install command is wrong", p.name)
			}
			return
		}
		if err != nil || strings.TrimSpace(out) != "" {
			t.Fatalf("the local include does not compile cleanly with %s: %v\n%s", p.name, err, out)
		}
	})
}

// TestCompileCanFail proves that the compile test sees a broken profile and a
// broken local include (the latter also shows that <local/...> resolves in
// the copied tree).
func TestCompileCanFail(t *testing.T) {
	eachParser(t, func(t *testing.T, p aaParser) {
		broken := strings.Replace(string(profileText()), "deny capability mac_admin,", "deny capability no_such_capability,", 1)
		if broken == string(profileText()) {
			t.Fatal("could not break the profile: the mac_admin rule is missing")
		}
		if out, err := p.compile(t, p.tree(t, []byte(broken), nil), profileFile); err == nil {
			t.Fatalf("a profile with an unknown capability compiled:\n%s", out)
		}
		if out, err := p.compile(t, p.tree(t, profileText(), []byte("  this is not a rule\n")), profileFile); err == nil {
			t.Fatalf("a broken local include compiled:\n%s", out)
		}
		if out, err := p.compile(t, p.tree(t, []byte(strings.TrimSuffix(strings.TrimSpace(string(profileText())), "}")), nil), profileFile); err == nil {
			t.Fatalf("a profile without its closing brace compiled:\n%s", out)
		}
		noTunables := strings.Replace(string(profileText()), "include <tunables/global>", "", 1)
		if out, err := p.compile(t, p.tree(t, []byte(noTunables), nil), profileFile); err == nil {
			t.Fatalf("the profile compiled by itself without the tunables it uses:\n%s", out)
		}
	})
}
