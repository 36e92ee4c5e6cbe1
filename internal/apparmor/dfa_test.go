package apparmor

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The compiled policy as an oracle: "apparmor_parser -D dfa-states" prints
// the state machines the kernel runs, and these helpers run them on the
// strings the kernel builds, so a test asks the parser's own output whether
// an access is allowed instead of re-reading the rules.
//
// The dump holds two machines, each starting with "{1} <== (allow/deny/...)":
// the file machine first (a path from state 1) and then the policy machine,
// whose first byte is the mediation class (mount rules are class 7). A
// block lists a state's accepting permissions, its transitions on single
// bytes ("c 0x63 -> {5}" or "0x7 -> {5}") and, as "[...] -> {N}", where every
// other byte goes; the bytes in "[^...]" go nowhere. The permissions are
// already net of deny rules: AppArmor 3.0 prints "allow/deny/audit/quiet",
// 4.x "allow/deny//prompt/audit/quiet", and only allow is read here.

// dfaState is one state of a dumped machine.
type dfaState struct {
	allow     uint64
	next      map[byte]int
	otherwise int           // 0: none
	excluded  map[byte]bool // bytes the otherwise transition leaves out
}

// dfa is a dumped machine; state 0 is the dead state, 1 the start.
type dfa map[int]*dfaState

var (
	dfaHeadRE   = regexp.MustCompile(`^\{1\} <== \(allow/deny/`)
	dfaAcceptRE = regexp.MustCompile(`^\{(\d+)\}\s*\(0x ([0-9a-f]+)/`)
	dfaBlockRE  = regexp.MustCompile(`^\{(\d+)\} perms:\s+(?:none|\(0x ([0-9a-f]+)/.*\))$`)
	dfaByteRE   = regexp.MustCompile(`^    (?:\S+ |\\  )?0x([0-9a-f]+) -> \{(\d+)\}`)
	dfaOtherRE  = regexp.MustCompile(`^    \[(\^[^\]]*)?\] -> \{(\d+)\}`)
)

// parseDFADump reads the machines of an "apparmor_parser -D dfa-states"
// dump. Lines it does not know fail the parse, so a new dump format cannot
// pass unnoticed.
func parseDFADump(text string) ([]dfa, error) {
	var out []dfa
	var cur dfa
	var st *dfaState
	state := func(s string) *dfaState {
		n, _ := strconv.Atoi(s)
		if cur[n] == nil {
			cur[n] = &dfaState{next: map[byte]int{}, excluded: map[byte]bool{}}
		}
		return cur[n]
	}
	for _, line := range strings.Split(text, "\n") {
		switch {
		case strings.TrimSpace(line) == "":
		case dfaHeadRE.MatchString(line):
			cur = dfa{}
			out = append(out, cur)
			st = nil
		case cur == nil:
			// Output before the first machine (e.g. the parser's notice
			// that no kernel interface exists).
		case dfaAcceptRE.MatchString(line):
			m := dfaAcceptRE.FindStringSubmatch(line)
			state(m[1]).allow, _ = strconv.ParseUint(m[2], 16, 64)
		case dfaBlockRE.MatchString(line):
			m := dfaBlockRE.FindStringSubmatch(line)
			st = state(m[1])
			if m[2] != "" {
				st.allow, _ = strconv.ParseUint(m[2], 16, 64)
			}
		case st != nil && dfaByteRE.MatchString(line):
			m := dfaByteRE.FindStringSubmatch(line)
			c, _ := strconv.ParseUint(m[1], 16, 8)
			st.next[byte(c)], _ = strconv.Atoi(m[2])
		case st != nil && dfaOtherRE.MatchString(line):
			m := dfaOtherRE.FindStringSubmatch(line)
			st.otherwise, _ = strconv.Atoi(m[2])
			switch m[1] {
			case "":
			case `^\x0`:
				st.excluded[0] = true
			case `^/`:
				st.excluded['/'] = true
			default:
				return nil, fmt.Errorf("unknown byte class %q in %q", m[1], line)
			}
		default:
			return nil, fmt.Errorf("unknown dump line %q", line)
		}
	}
	if len(out) != 2 {
		return nil, fmt.Errorf("the dump holds %d machines, want 2 (file and policy)", len(out))
	}
	return out, nil
}

// walk runs d from state s over in and returns the state reached (0: dead).
func (d dfa) walk(s int, in []byte) int {
	for _, c := range in {
		st := d[s]
		if st == nil {
			return 0
		}
		if n, ok := st.next[c]; ok {
			s = n
			continue
		}
		if st.excluded[c] || st.otherwise == 0 {
			return 0
		}
		s = st.otherwise
	}
	return s
}

func (d dfa) allow(in []byte) uint64 {
	if st := d[d.walk(1, in)]; st != nil {
		return st.allow
	}
	return 0
}

// File permission bits of the file machine: the owner's, and the same
// shifted for other users' files (the kernel picks one by the file's owner).
const (
	fileRead       = 0x4
	fileWrite      = 0x2
	fileOtherShift = 14
)

// Mount flags (linux/mount.h) and the policy machine's mount class and
// permission.
const (
	msRdonly   = 1 << 0
	msNosuid   = 1 << 1
	msNodev    = 1 << 2
	msNoexec   = 1 << 3
	msRemount  = 1 << 5
	msBind     = 1 << 12
	msRec      = 1 << 14
	msPrivate  = 1 << 18
	mountClass = 7
	mayMount   = 0x2
)

// compiledPolicy is one profile's compiled machines.
type compiledPolicy struct {
	file, policy dfa
}

// mayFile reports whether both owner and other bits of perm (fileRead or
// fileWrite) are allowed on path, and whether neither is.
func (p compiledPolicy) mayFile(path string, perm uint64) (all, none bool) {
	a := p.file.allow([]byte(path))
	both := perm | perm<<fileOtherShift
	return a&both == both, a&both == 0
}

// mount is a mount request as the kernel's AppArmor mount hook matches it
// (match_mnt_path_str in security/apparmor/mount.c): the mount point, the
// source (empty for a remount), the file system type (empty for bind and
// remount), each null-terminated, then one byte per set flag, bit i as i+1.
type mount struct {
	target, source, fstype string
	flags                  uint
}

func (m mount) String() string {
	return fmt.Sprintf("mount source=%q target=%q type=%q flags=%#x", m.source, m.target, m.fstype, m.flags)
}

func (p compiledPolicy) mayMount(m mount) bool {
	in := []byte{mountClass}
	in = append(in, m.target...)
	in = append(in, 0)
	in = append(in, m.source...)
	in = append(in, 0)
	in = append(in, m.fstype...)
	in = append(in, 0)
	for i := 0; i < 32; i++ {
		if m.flags&(1<<i) != 0 {
			in = append(in, byte(i+1))
		}
	}
	return p.policy.allow(in)&mayMount != 0
}

func TestParseDFADump(t *testing.T) {
	dump := "notice\n{1} <== (allow/deny/audit/quiet)\n{2} (0x 6/0/0/0)\n\n" +
		"{1} perms: none\n    / 0x2f -> {2}\n{2} perms:  (0x 6/0/0/0)\n    a 0x61 -> {3}\n    [^/] -> {2}  (0x 6/0/0/0)\n{3} perms: (0x 2/0/0/0)\n" +
		"{1} <== (allow/deny//prompt/audit/quiet)\n{1} perms: none\n    \\a 0x7 -> {2}\n    [] -> {3}\n{2} perms: (0x 2/0//0/0/0)\n"
	ms, err := parseDFADump(dump)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		d    dfa
		in   string
		want uint64
	}{
		{ms[0], "/", 6}, {ms[0], "/a", 2}, {ms[0], "/b", 6}, {ms[0], "/bb", 6}, {ms[0], "//", 0}, {ms[0], "x", 0},
		{ms[1], "\x07", 2}, {ms[1], "\x08", 0},
	} {
		if got := c.d.allow([]byte(c.in)); got != c.want {
			t.Errorf("allow(%q) = %#x, want %#x", c.in, got, c.want)
		}
	}
	if _, err := parseDFADump(dump + "    [^ab] -> {1}\n"); err == nil {
		t.Error("an unknown byte class was accepted")
	}
	if _, err := parseDFADump(dump + "something new\n"); err == nil {
		t.Error("an unknown line was accepted")
	}
}

// Where procfs and sysfs appear to the profile: at /proc and /sys, inside a
// container root in Docker's and containerd's trees, and as the root of a
// detached mount made with the new mount API (runc >= 1.2.8 writes sysctls
// through one), where AppArmor names files relative to the mount's root.
var (
	procRoots = []string{"/proc/", "/var/lib/docker/overlay2/0123abcd/merged/proc/", "/run/containerd/io.containerd.runtime.v2.task/moby/0123abcd/rootfs/proc/", "/"}
	sysRoots  = []string{"/sys/", "/var/lib/docker/overlay2/0123abcd/merged/sys/", "/"}
)

// policyFindings checks a compiled lxc-docker-secure against what it must
// deny and what Docker, containerd and runc need, and returns what is wrong.
// major is the parser's major version: before AppArmor 4 (strictly before
// 3.0.10) bind, move and propagation rules also compile into generic mount
// rules (CVE-2016-1585), so only the fstype denies are checked there.
func policyFindings(p compiledPolicy, major int) []string {
	var out []string
	bad := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	deny := func(path string, perm uint64, what string) {
		if _, none := p.mayFile(path, perm); !none {
			bad("%s %s is not denied", what, path)
		}
	}
	allow := func(path string, perm uint64, what string) {
		if all, _ := p.mayFile(path, perm); !all {
			bad("%s %s is denied", what, path)
		}
	}

	// Writes (and for two files reads) that no mount point may reach.
	for _, root := range procRoots {
		for _, f := range []string{"sysrq-trigger", "kcore"} {
			deny(root+f, fileRead, "read of")
			deny(root+f, fileWrite, "write to")
		}
		for _, f := range []string{
			"sys/kernel/core_pattern", "sys/kernel/modprobe", "sys/kernel/sysrq",
			"sys/kernel/hotplug", "sys/kernel/poweroff_cmd",
			"sys/fs/binfmt_misc/register", "sys/fs/binfmt_misc/status",
			"irq/0/smp_affinity", "irq/default_smp_affinity", "bus/pci/00/00.0",
		} {
			deny(root+f, fileWrite, "write to")
		}
		if root != "/" {
			// A detached procfs's /fs would also be a detached sysfs's
			// /fs (cgroup lives there), so only mounted names are denied.
			deny(root+"fs/nfsd/threads", fileWrite, "write to")
		}
	}
	for _, root := range sysRoots {
		deny(root+"kernel/uevent_helper", fileWrite, "write to")
	}

	// What Docker writes and reads.
	for _, f := range []string{
		"/proc/sys/net/ipv4/ip_forward", "/proc/sys/kernel/shmmax", "/proc/self/oom_score_adj",
		"/proc/12345/uid_map", "/proc/12345/setgroups",
		"/sys/net/ipv4/ip_unprivileged_port_start", // detached procfs, runc's sysctls
		"/sys/kernel/shmmax", "/sys/kernel/hostname",
		"/sys/fs/cgroup/system.slice/docker-0123abcd.scope/cgroup.procs",
		"/var/lib/docker/overlay2/0123abcd/merged/etc/hosts",
		"/var/lib/docker/volumes/data/_data/file", "/etc/docker/daemon.json",
		"/tmp/buildkit-mount123/file", "/run/containerd/containerd.sock",
	} {
		allow(f, fileWrite, "write to")
	}
	for _, f := range []string{"/proc/cpuinfo", "/proc/sys/kernel/cap_last_cap", "/sys/kernel/cap_last_cap", "/proc/self/mountinfo"} {
		allow(f, fileRead, "read of")
	}

	// Filesystems no mount may bring in, on every parser.
	for _, fs := range []string{"securityfs", "debugfs", "tracefs", "binfmt_misc", "efivarfs", "bpf", "configfs", "pstore"} {
		for _, target := range []string{"/mnt/", "/sys/kernel/security/", "/var/lib/docker/overlay2/0123abcd/merged/x/"} {
			if m := (mount{target: target, source: fs, fstype: fs}); p.mayMount(m) {
				bad("%s is allowed", m)
			}
		}
	}

	// runc's mounts inside a container: its read-only paths (rbound onto
	// themselves, then remounted read-only), its masked paths (/dev/null
	// bound on files, a read-only tmpfs on directories), the container
	// root, its proc, sysfs and cgroup2, and the propagation of /.
	const procFlags = msNosuid | msNodev | msNoexec
	merged := "/var/lib/docker/overlay2/0123abcd/merged/"
	need := []mount{
		{target: "/proc/sysrq-trigger", source: "/proc/sysrq-trigger", flags: msBind | msRec},
		{target: "/proc/sysrq-trigger", flags: msRemount | msBind | msRdonly | procFlags},
		{target: "/proc/kcore", source: "/dev/null", flags: msBind},
		{target: "/proc/acpi/", source: "tmpfs", fstype: "tmpfs", flags: msRdonly},
		{target: merged, source: "overlay", fstype: "overlay"},
		{target: merged + "proc/", source: "proc", fstype: "proc", flags: procFlags},
		{target: merged + "sys/", source: "sysfs", fstype: "sysfs", flags: procFlags | msRdonly},
		{target: merged + "sys/", source: "/sys/", flags: msBind | msRec},
		{target: merged + "sys/fs/cgroup/", source: "cgroup", fstype: "cgroup2", flags: procFlags},
		{target: merged + "dev/pts/", source: "devpts", fstype: "devpts", flags: msNosuid | msNoexec},
		{target: merged + "etc/resolv.conf", source: "/var/lib/docker/containers/0123abcd/resolv.conf", flags: msBind | msRec},
		{target: "/", flags: msPrivate | msRec},
	}
	for _, d := range []string{"bus", "fs", "irq", "sys"} {
		need = append(need,
			mount{target: "/proc/" + d + "/", source: "/proc/" + d + "/", flags: msBind | msRec},
			mount{target: "/proc/" + d + "/", flags: msRemount | msBind | msRdonly | procFlags},
		)
	}
	for _, m := range need {
		if !p.mayMount(m) {
			bad("%s is denied (runc needs it)", m)
		}
	}

	if major < 4 {
		return out
	}
	// Read-only paths bound only onto themselves.
	paths := []string{"/proc/bus/", "/proc/fs/", "/proc/irq/", "/proc/sys/", "/proc/sysrq-trigger"}
	for _, src := range paths {
		for _, dst := range paths {
			if m := (mount{target: dst, source: src, flags: msBind | msRec}); src != dst && p.mayMount(m) {
				bad("%s is allowed", m)
			}
		}
	}
	// The generic rules of CVE-2016-1585 are absent.
	for _, m := range []mount{
		{target: "/anywhere/", source: "/x", fstype: "proc"},
		{target: "/", source: "/dev/sda1", fstype: "ext4"},
		{target: "/etc/", source: "/sys/", flags: msBind | msRec},
		// The runtimes' propagation rules match their flags only, not a
		// mount with no flags of any type.
		{target: "/var/lib/docker/overlay2/0123abcd/merged/x/", source: "/dev/sda1", fstype: "ext4"},
		{target: "/run/containerd/x/", source: "/dev/sda1", fstype: "ext4"},
	} {
		if p.mayMount(m) {
			bad("%s is allowed", m)
		}
	}
	return out
}

// TestCompiledPolicy asks each parser's compiled profile (its state
// machines, walked as the kernel walks them) what it allows.
func TestCompiledPolicy(t *testing.T) {
	eachParser(t, func(t *testing.T, p aaParser) {
		compiled := p.compiled(t, p.shippedTree(t))
		for _, f := range policyFindings(compiled, p.major) {
			t.Error(f)
		}
		if p.major < 4 {
			// What the install command's parser-version warning says.
			m := mount{target: "/anywhere/", source: "/x", fstype: "proc"}
			t.Logf("%s: %s allowed: %v (CVE-2016-1585, fixed in 3.0.10)", p.name, m, compiled.mayMount(m))
		}
	})
}

// TestCompiledPolicyCanFail breaks the profile once per kind of finding and
// checks that TestCompiledPolicy's checks report it.
func TestCompiledPolicyCanFail(t *testing.T) {
	p := apparmor4Parser(t)
	hostParser(t)
	for _, c := range []struct {
		name, old, new, want string
	}{
		{"sysrq-trigger denied only under /proc",
			"deny /{,**/}sysrq-trigger rwklx,", "deny /proc/sysrq-trigger rwklx,",
			"write to /var/lib/docker/overlay2/0123abcd/merged/proc/sysrq-trigger is not denied"},
		{"uevent_helper of a detached sysfs",
			"deny /{,**/}kernel/{core_pattern,modprobe,sysrq,hotplug,poweroff_cmd,uevent_helper} wklx,", "deny /{,**/}sys/kernel/{core_pattern,modprobe,sysrq,hotplug,poweroff_cmd,uevent_helper} wklx,",
			"write to /kernel/uevent_helper is not denied"},
		{"read-only paths as a cross product",
			"mount options=(rw, rbind) /proc/bus/ -> /proc/bus/,", "mount options=(rw, rbind) /proc/{bus,fs,irq,sys}/ -> /proc/{bus,fs,irq,sys}/,",
			`mount source="/proc/sys/" target="/proc/irq/" type="" flags=0x5000 is allowed`},
		{"propagation flags as one list",
			"mount options=(rw, make-slave) -> /var/lib/docker/{,**},", "mount options in (rw, make-slave, make-private) -> /var/lib/docker/{,**},",
			// "options in" also matches no flag at all: any mount, of any
			// type, into the runtime's tree.
			`mount source="/dev/sda1" target="/var/lib/docker/overlay2/0123abcd/merged/x/" type="ext4" flags=0x0 is allowed`},
		{"Docker's sysctl writes denied",
			"deny /{,**/}proc/{bus,fs,irq}/** wklx,", "deny /{,**/}proc/{bus,fs,irq}/** wklx,\n  deny /sys/net/** w,",
			"write to /sys/net/ipv4/ip_unprivileged_port_start is denied"},
		{"runc's proc mount refused",
			"mount fstype=proc -> /var/lib/docker/**,", "",
			`mount source="proc" target="/var/lib/docker/overlay2/0123abcd/merged/proc/" type="proc" flags=0xe is denied (runc needs it)`},
	} {
		t.Run(c.name, func(t *testing.T) {
			broken := strings.Replace(string(profileText()), c.old, c.new, 1)
			if broken == string(profileText()) {
				t.Fatalf("the profile has no %q", c.old)
			}
			got := policyFindings(p.compiled(t, p.tree(t, []byte(broken), localInclude())), p.major)
			if !slices.Contains(got, c.want) {
				t.Fatalf("the broken profile's findings do not include %q:\n%s", c.want, strings.Join(got, "\n"))
			}
		})
	}
}
