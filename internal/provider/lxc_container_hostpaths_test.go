package provider

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/pvesim/sshd"
)

// fakeNodeRoot builds a node's /dev, /sys/dev/block, /proc/self/mountinfo
// and /proc/swaps under a directory, the way Linux lays them out, for
// hostPathCheckScript: disk sdb (240:0) with an unused partition sdb1; disk
// sdc (241:0) whose partition sdc2 is mounted at /mnt/host; disk vdd
// (243:0) whose partition vdd1 is held by dm-0 (242:0, an LVM volume); sde
// (244:0), the node's swap; disk sdf (245:0) whose partition sdf1 is
// mounted as btrfs (anonymous device 0:34 in mountinfo); disk sdg (246:0)
// whose partition sdg1 is the second device of a btrfs file system; a GPU (char 195:0); /dev/disk/by-id links.
// Creating device nodes needs root (CAP_MKNOD): without it the test is
// skipped, saying so.
func fakeNodeRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	mk := func(p string) string {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(full, 0o755); err != nil {
			t.Fatal(err)
		}
		return full
	}
	write := func(p, content string) {
		mk(filepath.Dir(p))
		if err := os.WriteFile(filepath.Join(root, p), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := func(target, p string) {
		mk(filepath.Dir(p))
		if err := os.Symlink(target, filepath.Join(root, p)); err != nil {
			t.Fatal(err)
		}
	}
	node := func(p string, mode uint32, major, minor int) {
		mk(filepath.Dir(p))
		dev := (major << 8) | minor
		if err := syscall.Mknod(filepath.Join(root, p), mode|0o600, dev); err != nil {
			if errors.Is(err, syscall.EPERM) {
				t.Skipf("creating device nodes needs CAP_MKNOD, which this test run lacks: %v", err)
			}
			t.Fatal(err)
		}
	}
	block := func(name, sysdir string, major, minor int, partition bool) {
		node("dev/"+name, syscall.S_IFBLK, major, minor)
		mm := strings.Join([]string{strconv.Itoa(major), strconv.Itoa(minor)}, ":")
		write(sysdir+"/dev", mm+"\n")
		mk(sysdir + "/holders")
		if partition {
			write(sysdir+"/partition", "1\n")
		}
		link("../../"+strings.TrimPrefix(sysdir, "sys/"), "sys/dev/block/"+mm)
	}
	block("sdb", "sys/devices/pci0/block/sdb", 240, 0, false)
	block("sdb1", "sys/devices/pci0/block/sdb/sdb1", 240, 1, true)
	block("sdc", "sys/devices/pci0/block/sdc", 241, 0, false)
	block("sdc1", "sys/devices/pci0/block/sdc/sdc1", 241, 1, true)
	block("sdc2", "sys/devices/pci0/block/sdc/sdc2", 241, 2, true)
	block("dm-0", "sys/devices/virtual/block/dm-0", 242, 0, false)
	block("vdd", "sys/devices/pci0/block/vdd", 243, 0, false)
	block("vdd1", "sys/devices/pci0/block/vdd/vdd1", 243, 1, true)
	link("../../../../../virtual/block/dm-0", "sys/devices/pci0/block/vdd/vdd1/holders/dm-0")
	block("sde", "sys/devices/pci0/block/sde", 244, 0, false)
	block("sdf", "sys/devices/pci0/block/sdf", 245, 0, false)
	block("sdf1", "sys/devices/pci0/block/sdf/sdf1", 245, 1, true)
	block("sdg", "sys/devices/pci0/block/sdg", 246, 0, false)
	block("sdg1", "sys/devices/pci0/block/sdg/sdg1", 246, 1, true)
	link("../../../../devices/pci0/block/sdg/sdg1", "sys/fs/btrfs/5b1e7c9a/devices/sdg1")
	node("dev/nvidia0", syscall.S_IFCHR, 195, 0)
	link("../../dm-0", "dev/disk/by-id/dm-name-data-lv")
	link("../../sdb1", "dev/disk/by-id/ata-DATA-part1")
	link("../../sdc1", "dev/disk/by-id/ata-HOST-part1")
	write("proc/self/mountinfo", "22 1 0:21 / /proc rw,relatime - proc proc rw\n30 1 241:2 / /mnt/host rw,relatime - ext4 /dev/sdc2 rw\n"+
		"31 1 0:34 /@data /mnt/pool rw,relatime shared:5 - btrfs /dev/sdf1 rw,space_cache=v2,subvol=/@data\n")
	write("proc/swaps", "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n/dev/sde                                partition\t1048572\t\t0\t\t-2\n")
	mk("srv/data")
	mk("srv/shared")
	link("/etc", "srv/shared/escape")
	link("data", "srv/alias")
	return root
}

// TestHostPathCheckScript runs the node's host path check against a fake
// node root: a symlinked bind source, a partition of a disk the node has
// mounted, a disk whose partition LVM holds, the node's swap and a device
// mapper volume behind a /dev/disk/by-id name are refused; a directory, an
// unused partition (also by id), a GPU and a path not created yet pass.
func TestHostPathCheckScript(t *testing.T) {
	root := fakeNodeRoot(t)
	cases := []struct {
		path    string
		devices matcher
		roots   []string
		want    string // a phrase of the refusal; "" passes
	}{
		{"/srv/data", forbiddenDeviceMounts, nil, ""},
		{"/srv/not-yet/created", forbiddenDeviceMounts, nil, ""},
		{"/srv/shared/escape", forbiddenDeviceMounts, nil, "leads to /etc through a symlink"},
		{"/srv/alias", forbiddenDeviceMounts, nil, "through a symlink"},
		{"/srv/data", forbiddenDeviceMounts, []string{"/mnt/media"}, "outside the provider's bind_mount_roots"},
		{"/srv/data", forbiddenDeviceMounts, []string{"/srv"}, ""},
		{"/dev/sdb1", forbiddenDeviceMounts, nil, ""},
		{"/dev/disk/by-id/ata-DATA-part1", forbiddenDeviceMounts, nil, ""},
		{"/dev/sdc1", forbiddenDeviceMounts, nil, "mounted on the node at /mnt/host"},
		{"/dev/disk/by-id/ata-HOST-part1", forbiddenDeviceMounts, nil, "mounted on the node at /mnt/host"},
		{"/dev/vdd", forbiddenDeviceMounts, nil, "its partition vdd1 is in use by dm-0"},
		{"/dev/vdd1", forbiddenDeviceMounts, nil, "in use by dm-0"},
		{"/dev/sde", forbiddenDeviceMounts, nil, "the node's swap (/dev/sde)"},
		{"/dev/disk/by-id/dm-name-data-lv", forbiddenDeviceMounts, nil, "leads to /dev/dm-0"},
		{"/dev/nvidia0", forbiddenDevices, nil, ""},
		// A btrfs mount has an anonymous device number (0:34): its source
		// names the partition, and a second device of the same file system
		// is named only under /sys/fs/btrfs.
		{"/dev/sdf1", forbiddenDeviceMounts, nil, "mounted on the node at /mnt/pool"},
		{"/dev/sdf", forbiddenDeviceMounts, nil, "mounted on the node at /mnt/pool"},
		{"/dev/sdg1", forbiddenDeviceMounts, nil, "a device of a btrfs file system mounted on the node"},
		{"/dev/sdg", forbiddenDeviceMounts, nil, "a device of a btrfs file system mounted on the node"},
	}
	args := []string{"-c", hostPathCheckScript, opCheckHostPaths, root}
	for _, c := range cases {
		args = append(args, c.path)
	}
	out, err := exec.Command("sh", args...).Output()
	if err != nil {
		t.Fatalf("script: %v", err)
	}
	facts, err := parseHostPathFacts(string(out))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		f, ok := facts[c.path]
		if !ok {
			t.Fatalf("no line for %s in:\n%s", c.path, out)
		}
		got := hostPathVerdict(c.path, f, c.devices, c.roots)
		switch {
		case c.want == "" && got != "":
			t.Errorf("%s (roots %v) refused: %s (%+v)", c.path, c.roots, got, f)
		case c.want != "" && !strings.Contains(got, c.want):
			t.Errorf("%s (roots %v): got %q, want a refusal with %q (%+v)", c.path, c.roots, got, c.want, f)
		}
	}
}

// TestAccLXCContainer_mountSymlinkRefusedOnNode: a bind source whose name
// passes the plan but which is a symlink on the node (to /etc) is refused
// at apply by the node's check, naming where it leads, before anything is
// created.
func TestAccLXCContainer_mountSymlinkRefusedOnNode(t *testing.T) {
	e := newAccEnv(t, withSSH)
	if !e.simOnly("a symlink planted on the node") {
		t.Skip("needs the simulator's node file system")
	}
	const vmid = 4147
	dir := sshd.NodeTmpDir(e.sim.StateDir, e.node)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "phoenix-escape-4147")
	_ = os.Remove(link)
	if err := os.Symlink("/etc", link); err != nil {
		t.Fatal(err)
	}
	e.resetLog()
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: e.containerConfig(ctConfig{VMID: vmid, Unprivileged: true,
				Extra: mountBlock(0, "    path   = \"/shared\"\n    volume = \"/tmp/phoenix-escape-4147\"\n")}),
			ExpectError: phrases("Host path refused on the node", "mount_point[0].volume = /tmp/phoenix-escape-4147", "leads to /etc through a symlink"),
		}},
		CheckDestroy: func(*terraform.State) error {
			if e.sim.CountMutating() != 0 {
				return fmt.Errorf("the refused apply changed the cluster")
			}
			return nil
		},
	})
}

// TestNewHostPaths: the apply asks the node about the bind sources, device
// mounts and devices a plan adds or changes, by slot; volumes and what the
// state already has in the same slot are not asked again.
func TestNewHostPaths(t *testing.T) {
	ctx := t.Context()
	dev := func(p string) deviceModel {
		return deviceModel{Slot: types.Int64Value(0), Path: types.StringValue(p), Mode: types.StringNull(), UID: types.Int64Null(), GID: types.Int64Null(), DenyWrite: types.BoolNull()}
	}
	bind := func(slot int64, src string) mountPointModel {
		m := testMount(slot, "/m"+strconv.FormatInt(slot, 10), "", "", src)
		m.Size = types.StringNull()
		return m
	}
	state := withMounts(bind(0, "/srv/a"), bind(1, "/dev/sdb1"))
	state.Devices = types.ListValueMust(deviceObjectType, []attr.Value{mustObjectOf(deviceObjectType, dev("/dev/nvidia0"))})
	plan := withMounts(bind(0, "/srv/a"), bind(1, "/dev/sdc1"), testMount(2, "/data", "local-lvm", "2G", ""), bind(3, "/srv/b"))
	plan.Devices = types.ListValueMust(deviceObjectType, []attr.Value{mustObjectOf(deviceObjectType, dev("/dev/nvidia0"))})
	uses, diags := newHostPaths(ctx, plan, state)
	if diags.HasError() {
		t.Fatal(diags)
	}
	var got []string
	for _, u := range uses {
		got = append(got, u.at.String()+"="+u.path)
	}
	want := []string{"mount_point[1].volume=/dev/sdc1", "mount_point[3].volume=/srv/b"}
	if !slices.Equal(got, want) {
		t.Errorf("changed: %v, want %v", got, want)
	}
	uses, _ = newHostPaths(ctx, plan, nil)
	if len(uses) != 4 {
		t.Errorf("create: %d host paths, want 4 (three mounts and the device)", len(uses))
	}
}

// TestPlanBindRoots: with bind_mount_roots set, a new bind source outside
// them is an error at its attribute path; the same source the state already
// has in the same slot is kept with a warning, so that containers that
// predate the setting can still be updated; a source below a root passes.
func TestPlanBindRoots(t *testing.T) {
	ctx := t.Context()
	d := &providerData{Settings: settings{BindMountRoots: []string{"/srv/shared"}}}
	bind := func(slot int64, src string) mountPointModel {
		m := testMount(slot, "/m"+strconv.FormatInt(slot, 10), "", "", src)
		m.Size = types.StringNull()
		return m
	}
	state := withMounts(bind(0, "/mnt/old"))
	plan := withMounts(bind(0, "/mnt/old"), bind(1, "/mnt/new"), bind(2, "/srv/shared/data"))
	var diags diag.Diagnostics
	planBindRoots(ctx, d, plan, state, &diags)
	if diags.ErrorsCount() != 1 || diags.WarningsCount() != 1 {
		t.Fatalf("want one error and one warning, got %v", diags)
	}
	e, ok := diags.Errors()[0].(diag.DiagnosticWithPath)
	if !ok || !e.Path().Equal(path.Root("mount_point").AtListIndex(1).AtName("volume")) {
		t.Errorf("error %v: want it at mount_point[1].volume", diags.Errors()[0])
	}
	w, ok := diags.Warnings()[0].(diag.DiagnosticWithPath)
	if !ok || !w.Path().Equal(path.Root("mount_point").AtListIndex(0).AtName("volume")) || !strings.Contains(w.Detail(), "has this mount already") {
		t.Errorf("warning %v: want it at mount_point[0].volume, saying the mount is kept", diags.Warnings()[0])
	}
	diags = nil
	planBindRoots(ctx, d, plan, nil, &diags)
	if diags.ErrorsCount() != 2 {
		t.Errorf("create: want both outside sources refused, got %v", diags)
	}
}
