package sshd

import (
	"strings"
	"testing"
)

// TestPctExecReadsTheMainSection: what pct exec tells the container about
// its config (the facts the stand-ins read, the AppArmor label, the
// hostname) comes from the main section as PVE's parse_pct_config
// (PVE/LXC/Config.pm) reads it: "#" lines are the description, a later line
// of a key replaces an earlier one, lxc.* keys may be written "key = value",
// trailing blanks are not part of a value, and the first [section] (a
// snapshot) ends the main section.
func TestPctExecReadsTheMainSection(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.addCT(102, strings.Join([]string{
		"arch: amd64",
		"hostname: first",
		"features: keyctl=1,nesting=0",
		"#features: nesting=0",
		"hostname: ct-last",
		"lxc.apparmor.profile = unconfined",
		"lxc.apparmor.allow_nesting: yes  ",
		"unprivileged: 1\t",
		"features: nesting=on,fuse=1",
		"ostype: debian",
		"rootfs: volume=local-lvm:vm-102-disk-0,size=8G",
		"",
		"[snap1]",
		"hostname: snap",
		"features: keyctl=1,nesting=0",
		"lxc.apparmor.profile: lxc-container-default",
		"",
	}, "\n"), true)

	r := e.mustRun("pct exec 102 -- bash -c 'cat /.phoenix-sim/ct/facts; cat /proc/1/attr/current; hostname; cat /etc/hostname'", "")
	want := strings.Join([]string{
		"CT_VMID=102", "CT_NODE=pve1", "CT_HOSTNAME=ct-last",
		"CT_UNPRIVILEGED=1", "CT_NESTING=1", "CT_KEYCTL=0", "CT_FUSE=1",
		"CT_PROFILE=unconfined", "CT_PROFILE_LOADED=1", "CT_ALLOW_NESTING=1",
	}, "\n") + "\nCT_BOOT_ID="
	if !strings.HasPrefix(r.stdout, want) {
		t.Fatalf("facts: want them to begin with\n%s\ngot\n%s", want, r.stdout)
	}
	rest := strings.SplitN(r.stdout[len(want):], "\n", 2)
	boot := rest[0]
	if boot == "" || strings.ContainsAny(boot, " \t") {
		t.Errorf("CT_BOOT_ID=%q: want one word", boot)
	}
	if len(rest) < 2 || rest[1] != "unconfined\nct-last\nct-last\n" {
		t.Errorf("label, hostname and /etc/hostname after the facts:\n%s", r)
	}

	// The facts are read-only, and stay the same for the same boot; a new
	// start is a new boot.
	if r := e.run("pct exec 102 -- bash -c 'echo CT_NESTING=0 >> /.phoenix-sim/ct/facts'", ""); r.exit == 0 {
		t.Errorf("the container wrote its facts: %s", r)
	}
	bootOf := func() string {
		t.Helper()
		r := e.mustRun("pct exec 102 -- bash -c '. /.phoenix-sim/ct/facts; echo $CT_BOOT_ID'", "")
		return strings.TrimSpace(r.stdout)
	}
	if got := bootOf(); got != boot {
		t.Errorf("CT_BOOT_ID of the same boot: %q, then %q", boot, got)
	}
	e.mustRun("pct stop 102 && pct start 102", "")
	if got := bootOf(); got == boot {
		t.Errorf("CT_BOOT_ID after a restart is still %q", got)
	}

	// Without the keys: PVE's defaults, and the generated profile.
	e.addCT(103, "arch: amd64\nrootfs: local-lvm:vm-103-disk-0,size=8G\n", true)
	r = e.mustRun("pct exec 103 -- bash -c 'cat /.phoenix-sim/ct/facts; cat /proc/1/attr/current'", "")
	for _, w := range []string{"CT_HOSTNAME=CT103\n", "CT_UNPRIVILEGED=0\nCT_NESTING=0\nCT_KEYCTL=0\nCT_FUSE=0\nCT_PROFILE=generated\nCT_PROFILE_LOADED=1\nCT_ALLOW_NESTING=0\n", "\nlxc-container-default-cgns (enforce)\n"} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("defaults: want %q in\n%s", w, r.stdout)
		}
	}
}
