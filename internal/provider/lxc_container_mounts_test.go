package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/pve"
)

func mustObjectOf(t types.ObjectType, v any) attr.Value {
	o, diags := types.ObjectValueFrom(context.Background(), t.AttrTypes, v)
	if diags.HasError() {
		panic(diags)
	}
	return o
}

// testMount is a mount_point block: a new volume when storage is set, else
// volume.
func testMount(slot int64, where, storage, size, volume string) mountPointModel {
	m := mountPointModel{
		Slot: types.Int64Value(slot), Path: types.StringValue(where), Storage: types.StringNull(), Size: types.StringNull(),
		Volume: types.StringUnknown(), ReadOnly: types.BoolNull(), Backup: types.BoolNull(), ACL: types.BoolNull(),
		Quota: types.BoolNull(), Replicate: types.BoolNull(), Shared: types.BoolNull(), MountOptions: types.SetNull(types.StringType),
	}
	if storage != "" {
		m.Storage = types.StringValue(storage)
	}
	if size != "" {
		m.Size = types.StringValue(size)
	} else {
		m.Size = types.StringUnknown()
	}
	if volume != "" {
		m.Volume = types.StringValue(volume)
	}
	return m
}

func withMounts(mps ...mountPointModel) *lxcContainerModel {
	m := testModel()
	var els []attr.Value
	for _, mp := range mps {
		els = append(els, mustObjectOf(mountPointObjectType, mp))
	}
	m.MountPoints = types.ListValueMust(mountPointObjectType, els)
	return m
}

func TestDesiredMounts(t *testing.T) {
	ro := testMount(1, "/shared", "", "", "/srv/shared")
	ro.ReadOnly = types.BoolValue(true)
	ro.MountOptions = types.SetValueMust(types.StringType, []attr.Value{types.StringValue("nosuid"), types.StringValue("noatime")})
	kept := testMount(2, "/logs", "local-lvm", "1536M", "local-lvm:vm-100-disk-2")
	out := map[string]string{}
	if diags := desiredMounts(context.Background(), withMounts(testMount(0, "/data", "local-lvm", "2G", ""), ro, kept), out); diags.HasError() {
		t.Fatal(diags)
	}
	want := map[string]string{
		"mp0": "local-lvm:2,mp=/data",
		"mp1": "/srv/shared,mp=/shared,mountoptions=noatime;nosuid,ro=1",
		"mp2": "local-lvm:vm-100-disk-2,mp=/logs,size=1536M",
	}
	for k, v := range want {
		if out[k] != v {
			t.Errorf("%s = %q, want %q", k, out[k], v)
		}
	}
}

func TestSameMount(t *testing.T) {
	for _, tc := range []struct {
		want, got string
		same      bool
	}{
		{"local-lvm:vm-1-disk-1,mp=/data", "local-lvm:vm-1-disk-1,mp=/data,size=8G", true},
		{"local-lvm:vm-1-disk-1,mp=/data,ro=0,replicate=1", "local-lvm:vm-1-disk-1,mp=/data", true},
		{"local-lvm:vm-1-disk-1,mp=/data,mountoptions=nosuid;noatime", "local-lvm:vm-1-disk-1,mp=/data,mountoptions=noatime;nosuid", true},
		{"local-lvm:vm-1-disk-1,mp=/data", "local-lvm:vm-1-disk-1,mp=/data,ro=1", false},
		{"local-lvm:vm-1-disk-1,mp=/data", "local-lvm:vm-1-disk-1,mp=/other", false},
		{"local-lvm:vm-1-disk-1,mp=/data,replicate=0", "local-lvm:vm-1-disk-1,mp=/data", false},
		{"local-lvm:vm-1-disk-1,mp=/data,acl=0", "local-lvm:vm-1-disk-1,mp=/data", false},
		// A request for a new volume is met by a volume on that storage only.
		{"local-lvm:2,mp=/data", "local-lvm:vm-1-disk-1,mp=/data,size=2G", true},
		{"fast:2,mp=/data", "local-lvm:vm-1-disk-1,mp=/data,size=2G", false},
		{"local-lvm:2,mp=/data", "/srv/local-lvm:2,mp=/data", false},
	} {
		if got := sameMount(tc.want, tc.got); got != tc.same {
			t.Errorf("sameMount(%q, %q) = %v, want %v", tc.want, tc.got, got, tc.same)
		}
	}
	if !sameDevice("/dev/null,gid=5,deny-write=0", "/dev/null,gid=5") || sameDevice("/dev/null", "/dev/null,mode=0666") {
		t.Error("sameDevice")
	}
}

// TestReadMountsKeepsSpellings: Read reports what PVE has, in the
// configuration's spelling where it means the same.
func TestReadMountsKeepsSpellings(t *testing.T) {
	prior := testMount(0, "/data", "local-lvm", "2048M", "")
	prior.Backup = types.BoolValue(false)
	prior.Replicate = types.BoolValue(true)
	m := withMounts(prior)
	values := map[string]string{"mp0": "local-lvm:vm-100-disk-1,mp=/data,size=2G", "mp3": "/srv/x,mp=/x,ro=1", "unused0": "local-lvm:vm-100-disk-9"}
	if diags := readMounts(context.Background(), m, values); diags.HasError() {
		t.Fatal(diags)
	}
	got, _ := m.mountPoints(context.Background())
	if len(got) != 2 {
		t.Fatalf("read %d mount points, want 2 (unusedN is not one)", len(got))
	}
	a, b := got[0], got[1]
	if a.Size.ValueString() != "2048M" || a.Storage.ValueString() != "local-lvm" || a.Volume.ValueString() != "local-lvm:vm-100-disk-1" ||
		!a.Backup.Equal(types.BoolValue(false)) || !a.Replicate.Equal(types.BoolValue(true)) || !a.ReadOnly.IsNull() {
		t.Errorf("mp0 read as %+v", a)
	}
	if b.Slot.ValueInt64() != 3 || !b.Storage.IsNull() || b.Volume.ValueString() != "/srv/x" || !b.ReadOnly.ValueBool() || !b.Size.IsNull() {
		t.Errorf("mp3 read as %+v", b)
	}
}

func TestPlanMounts(t *testing.T) {
	ctx := context.Background()
	state := withMounts(
		testMount(0, "/data", "local-lvm", "2G", "local-lvm:vm-100-disk-1"),
		testMount(1, "/logs", "local-lvm", "1G", "local-lvm:vm-100-disk-2"),
	)
	t.Run("unchanged slots keep their volume", func(t *testing.T) {
		plan := withMounts(testMount(0, "/data", "local-lvm", "3G", ""), testMount(1, "/logs", "local-lvm", "1G", ""))
		if diags := planMounts(ctx, plan, state); diags.HasError() || diags.WarningsCount() != 0 {
			t.Fatal(diags)
		}
		got, _ := plan.mountPoints(ctx)
		if got[0].Volume.ValueString() != "local-lvm:vm-100-disk-1" || got[1].Volume.ValueString() != "local-lvm:vm-100-disk-2" {
			t.Errorf("planned %+v", got)
		}
	})
	t.Run("shrink refused", func(t *testing.T) {
		plan := withMounts(testMount(0, "/data", "local-lvm", "1G", ""))
		diags := planMounts(ctx, plan, state)
		if !diags.HasError() || !strings.Contains(diags.Errors()[0].Detail(), "mp0 is 2G") {
			t.Fatal(diags)
		}
	})
	t.Run("removed block warns that the volume stays", func(t *testing.T) {
		plan := withMounts(testMount(0, "/data", "local-lvm", "2G", ""))
		diags := planMounts(ctx, plan, state)
		if diags.WarningsCount() != 1 || !strings.Contains(diags.Warnings()[0].Detail(), "mp1 (/logs, local-lvm:vm-100-disk-2)") {
			t.Fatal(diags)
		}
	})
	t.Run("a bind mount never stands in for a new volume", func(t *testing.T) {
		bound := withMounts(testMount(0, "/data", "", "", "/srv/data"))
		plan := withMounts(testMount(0, "/data", "local-lvm", "2G", ""))
		if diags := planMounts(ctx, plan, bound); diags.HasError() {
			t.Fatal(diags)
		}
		if got, _ := plan.mountPoints(ctx); !got[0].Volume.IsUnknown() {
			t.Fatalf("planned volume %v", got[0].Volume)
		}
	})
	t.Run("other storage allocates a new volume and says so", func(t *testing.T) {
		plan := withMounts(testMount(0, "/data", "fast", "2G", ""), testMount(1, "/logs", "local-lvm", "1G", ""))
		diags := planMounts(ctx, plan, state)
		got, _ := plan.mountPoints(ctx)
		if diags.WarningsCount() != 1 || !got[0].Volume.IsUnknown() {
			t.Fatalf("%v %+v", diags, got[0])
		}
	})
}

// TestMountRestartRule follows vmconfig_hotplug_pending: a new mount point
// or device is hotplugged, a change or removal waits for a restart.
func TestMountRestartRule(t *testing.T) {
	actual := map[string]string{"mp0": "local-lvm:vm-1-disk-1,mp=/data,size=1G", "dev0": "/dev/null"}
	if keys := diffConfig(map[string]string{"mp0": actual["mp0"], "dev0": "/dev/null", "mp1": "/srv,mp=/srv", "dev1": "/dev/zero"}, actual).restartKeys(); len(keys) != 0 {
		t.Errorf("new mp1 and dev1 restart: %v", keys)
	}
	if keys := diffConfig(map[string]string{"mp0": "local-lvm:vm-1-disk-1,mp=/data,ro=1", "dev0": "/dev/null,gid=5"}, actual).restartKeys(); strings.Join(keys, ",") != "dev0,mp0" {
		t.Errorf("changed mp0 and dev0: restart keys %v", keys)
	}
	if keys := diffConfig(map[string]string{}, actual).restartKeys(); strings.Join(keys, ",") != "dev0,mp0" {
		t.Errorf("removed mp0 and dev0: restart keys %v", keys)
	}
}

// TestResourceExamplesValidate runs terraform validate on the resource's
// documented examples (mount points, devices and the others), so that the
// docs never show a configuration the provider refuses.
func TestResourceExamplesValidate(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "..", "examples", "resources", "phoenix_lxc_container", "resource.tf"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// The examples read the user's public key; here it is a literal.
	text := strings.ReplaceAll(string(src), `file("~/.ssh/id_ed25519.pub")`, strconv.Quote(testPublicKey+" me@host"))
	writeFile(t, filepath.Join(dir, "main.tf"), requirePhoenix+text)
	if out, err := runTerraform(t, dir, "validate", "-no-color"); err != nil {
		t.Fatalf("terraform validate: %v\n%s", err, out)
	}
}

func TestValidateMounts(t *testing.T) {
	dev := func(p string) deviceModel {
		return deviceModel{Slot: types.Int64Value(0), Path: types.StringValue(p), Mode: types.StringNull(), UID: types.Int64Null(), GID: types.Int64Null(), DenyWrite: types.BoolNull()}
	}
	storageOnly := testMount(0, "/data", "local-lvm", "", "")
	storageOnly.Size = types.StringNull()
	sized := testMount(0, "/data", "", "2G", "/srv/x")
	nothing := testMount(0, "/data", "", "", "")
	nothing.Volume, nothing.Size = types.StringNull(), types.StringNull()
	bindMount := func(slot int64, where, src string) mountPointModel {
		m := testMount(slot, where, "", "", src)
		m.Size = types.StringNull()
		return m
	}
	run := func(t *testing.T, mps []mountPointModel, devs []deviceModel, want string) {
		t.Helper()
		m := withMounts(mps...)
		if len(mps) == 0 {
			m.MountPoints = types.ListNull(mountPointObjectType)
		}
		var els []attr.Value
		for _, d := range devs {
			els = append(els, mustObjectOf(deviceObjectType, d))
		}
		m.Devices = types.ListValueMust(deviceObjectType, els)
		var diags diag.Diagnostics
		validateMounts(context.Background(), m, &diags)
		switch {
		case want == "" && diags.HasError():
			t.Fatalf("refused: %v", diags)
		case want != "" && (!diags.HasError() || diags.Errors()[0].Summary() != want):
			t.Fatalf("want %q, got %v", want, diags)
		}
	}
	for _, tc := range []struct {
		name string
		mps  []mountPointModel
		devs []deviceModel
		want string // "" = valid
	}{
		{"volume", []mountPointModel{testMount(0, "/data", "local-lvm", "2G", "")}, nil, ""},
		{"bind under /srv", []mountPointModel{bindMount(0, "/data", "/srv/data")}, nil, ""},
		{"device mount of a data disk", []mountPointModel{bindMount(0, "/disk", "/dev/sdb1")}, nil, ""},
		{"GPU", nil, []deviceModel{dev("/dev/dri/renderD128")}, ""},
		{"nothing to mount", []mountPointModel{nothing}, nil, "Nothing to mount"},
		{"storage without size", []mountPointModel{storageOnly}, nil, "Missing size"},
		{"size without storage", []mountPointModel{sized}, nil, "size without storage"},
		{"tiny size", []mountPointModel{testMount(0, "/data", "local-lvm", "1000K", "")}, nil, "Invalid size"},
		{"root path", []mountPointModel{bindMount(0, "/", "/srv/x")}, nil, "Invalid mount path"},
		{"dot-dot path", []mountPointModel{bindMount(0, "/a/../..", "/srv/x")}, nil, "Invalid mount path"},
		{"same path twice", []mountPointModel{bindMount(0, "/a", "/srv/x"), bindMount(1, "/a", "/srv/y")}, nil, "Duplicate mount path"},
		{"host root", []mountPointModel{bindMount(0, "/host", "/")}, nil, "Host path refused"},
		{"host etc", []mountPointModel{bindMount(0, "/host", "/etc/pve")}, nil, "Host path refused"},
		{"host dev", []mountPointModel{bindMount(0, "/host", "/dev/")}, nil, "Host path refused"},
		{"other guests", []mountPointModel{bindMount(0, "/host", "/var/lib/lxc/101/rootfs")}, nil, "Host path refused"},
		{"dot-dot host path", []mountPointModel{bindMount(0, "/host", "/srv/../etc")}, nil, "Invalid host path"},
		{"PVE root volume", []mountPointModel{bindMount(0, "/host", "/dev/mapper/pve-root")}, nil, "Host device refused"},
		{"raw host disk", nil, []deviceModel{dev("/dev/sda")}, "Host device refused"},
		{"memory", nil, []deviceModel{dev("/dev/mem")}, "Host device refused"},
		{"GPU under nvidia", nil, []deviceModel{dev("/dev/nvidia0")}, ""},
		{"device mount by id", []mountPointModel{bindMount(0, "/disk", "/dev/disk/by-id/ata-WDC_WD40-part1")}, nil, ""},
		{"bind under /mnt", []mountPointModel{bindMount(0, "/data", "/mnt/media")}, nil, ""},
		{"bind of a storage's other directory", []mountPointModel{bindMount(0, "/data", "/mnt/pve/nas/media")}, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run(t, tc.mps, tc.devs, tc.want)
		})
	}
	// What other guests' disks and the node's own volumes are called: each
	// refused as a device and as a device mount point.
	for _, p := range []string{
		"/dev/data/vm-101-disk-0", "/dev/vgfast/base-9000-disk-1", "/dev/tank/subvol-102-disk-0",
		"/dev/ceph-0c5e7a3a-1f0b-4d7c-9b39-1a2b3c4d5e6f/osd-block-7b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0",
		"/dev/rbd-pve/1f2e3d4c-5b6a-7980-a1b2-c3d4e5f60718/rbdpool/vm-103-disk-0", "/dev/rbd/rbdpool/vm-103-disk-0",
		"/dev/rbd/rbdpool/backup-image", "/dev/rbd0", "/dev/zd0", "/dev/zd16p1", "/dev/zvol/rpool/data/vm-100-disk-0",
		"/dev/dm-3", "/dev/mapper/vgdata-lvdata", "/dev/md2", "/dev/md127p1", "/dev/md/root", "/dev/loop0", "/dev/nbd0",
		"/dev/pve/root", "/dev/block/259:2", "/dev/disk/by-id/dm-name-pve-root", "/dev/disk/by-id/md-name-host:0",
	} {
		t.Run("device "+p, func(t *testing.T) { run(t, nil, []deviceModel{dev(p)}, "Host device refused") })
		t.Run("device mount "+p, func(t *testing.T) {
			run(t, []mountPointModel{bindMount(0, "/disk", p)}, nil, "Host device refused")
		})
	}
	// Host trees whose files the node runs or trusts as root, and every
	// guest's backups, hookscripts and templates.
	for _, p := range []string{
		"/var/lib/vz", "/var/lib/vz/snippets", "/var/lib/vz/dump", "/var/lib/vz/template/cache", "/var/lib/dpkg/info",
		"/var/lib/apt/lists", "/var/cache/apt/archives", "/var/spool/cron", "/var/spool/cron/crontabs", "/home",
		"/home/alice/share", "/root/.ssh", "/opt", "/opt/tool", "/mnt/pve/nas/dump", "/mnt/pve/nas/snippets",
		"/mnt/pve/nas/template/cache", "/var/lib/ceph/osd", "/var/lib/pve-manager", "/var/lib/systemd",
	} {
		t.Run("bind "+p, func(t *testing.T) {
			run(t, []mountPointModel{bindMount(0, "/host", p)}, nil, "Host path refused")
		})
	}
}

func TestCarryMountKeepsWhatIsNotModelled(t *testing.T) {
	got := "local-lvm:vm-1-disk-1,mp=/data,idmap=passthrough,keepattrs=1,size=2G"
	want := carryMount("local-lvm:vm-1-disk-1,mp=/data,ro=1,size=2G", got)
	if want != "local-lvm:vm-1-disk-1,mp=/data,idmap=passthrough,keepattrs=1,ro=1,size=2G" {
		t.Errorf("carried %q", want)
	}
	if ch := diffConfig(map[string]string{"mp0": "local-lvm:vm-1-disk-1,mp=/data,size=2G"}, map[string]string{"mp0": got}); !ch.empty() {
		t.Errorf("an unmodelled key causes a change: %+v", ch)
	}
	if c := carryMount("fast:2,mp=/data", got); c != "fast:2,mp=/data" {
		t.Errorf("carried into a new volume: %q", c)
	}
}

// TestSettingsCoverageTable: the resource docs' table names every parameter
// of PVE's create call in the API schema (testdata/pve-api), each once, and
// every attribute it names exists in the resource schema.
func TestSettingsCoverageTable(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "pve-api", "pve-api-lxc.json"))
	if err != nil {
		t.Fatal(err)
	}
	var api map[string]map[string]struct {
		Parameters struct {
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"parameters"`
	}
	if err := json.Unmarshal(raw, &api); err != nil {
		t.Fatal(err)
	}
	params := api["/nodes/{node}/lxc"]["POST"].Parameters.Properties
	if len(params) < 40 {
		t.Fatalf("the schema's create call has %d parameters", len(params))
	}
	doc, err := os.ReadFile(filepath.Join("..", "..", "templates", "resources", "lxc_container.md.tmpl"))
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	row := regexp.MustCompile("(?m)^\\| `([^`]+)` \\| (`([^`]+)`|—) \\|")
	for _, m := range row.FindAllStringSubmatch(string(doc), -1) {
		if _, dup := rows[m[1]]; dup {
			t.Errorf("%s has two rows", m[1])
		}
		rows[m[1]] = m[3]
	}
	sch := lxcContainerSchema(context.Background())
	for key := range params {
		if key == "node" {
			continue // node_name, the path parameter
		}
		a, ok := rows[key]
		switch {
		case !ok:
			t.Errorf("PVE's create parameter %s has no row in the coverage table", key)
		case a != "":
			top, _, _ := strings.Cut(a, ".")
			_, isAttr := sch.Attributes[top]
			_, isBlock := sch.Blocks[top]
			if !isAttr && !isBlock {
				t.Errorf("row %s names %s, which the resource lacks", key, a)
			}
		}
	}
	for key := range rows {
		if _, ok := params[key]; !ok {
			t.Errorf("the table names %s, which PVE's create call lacks", key)
		}
	}
}

func TestForeignVolumeWarning(t *testing.T) {
	m := withMounts(testMount(0, "/a", "", "", "local-lvm:vm-101-disk-1"), testMount(1, "/b", "", "", "local-lvm:vm-100-disk-2"),
		testMount(2, "/c", "", "", "local:100/subvol-102-disk-0.raw"))
	m.VMID = types.Int64Value(100)
	diags := planForeignVolumes(context.Background(), m)
	if diags.WarningsCount() != 2 || !strings.Contains(diags.Warnings()[0].Detail(), "guest 101") || !strings.Contains(diags.Warnings()[1].Detail(), "guest 102") {
		t.Fatal(diags)
	}
}

func TestAddresses(t *testing.T) {
	nets := []networkModel{
		{IP: types.StringValue("10.0.0.5/24"), IP6: types.StringValue("fd00::5/64")},
		{IP: types.StringValue("manual"), IP6: types.StringNull()},
	}
	if addrs, dyn := staticAddresses(nets); dyn || strings.Join(addrs, " ") != "10.0.0.5 fd00::5" {
		t.Errorf("static: %v %v", addrs, dyn)
	}
	if _, dyn := staticAddresses([]networkModel{{IP: types.StringValue("10.0.0.5/24"), IP6: types.StringValue("auto")}}); !dyn {
		t.Error("auto is not dynamic")
	}
	var ifaces []pve.Interface
	if err := json.Unmarshal([]byte(`[{"name":"lo","ip-addresses":[{"ip-address":"127.0.0.1"}]},
		{"name":"eth0","ip-addresses":[{"ip-address":"192.168.1.7","ip-address-type":"inet","prefix":24},{"ip-address":"fe80::1","ip-address-type":"inet6","prefix":64},{"ip-address":"2001:db8::7","ip-address-type":"inet6","prefix":64}]}]`), &ifaces); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(interfaceAddresses(ifaces), " "); got != "192.168.1.7 2001:db8::7" {
		t.Errorf("interface addresses %q", got)
	}
}

// mountBlock renders one mount_point block.
func mountBlock(slot int, body string) string {
	return fmt.Sprintf("  mount_point {\n    slot = %d\n%s  }\n", slot, body)
}

// configValue reads one key of a container's current configuration through
// the admin client ("" when absent).
func (e *accEnv) configValue(vmid int, key string) string {
	e.t.Helper()
	raw, err := e.client.ContainerConfig(context.Background(), e.node, vmid)
	if err != nil {
		e.t.Fatal(err)
	}
	return raw.Values[key]
}

// checkConfig asserts config values of a container (want "" = absent).
func (e *accEnv) checkConfig(vmid int, want map[string]string) resource.TestCheckFunc { //nolint:unparam // one container per test today
	return func(*terraform.State) error {
		for k, v := range want {
			if got := e.configValue(vmid, k); got != v {
				return fmt.Errorf("CT %d %s = %q, want %q", vmid, k, got, v)
			}
		}
		return nil
	}
}

// TestAccLXCContainer_mountPoints: a volume mount point is allocated, grown,
// detached (its volume stays as unusedN, as PVE keeps it) and attached again
// by volume ID; a bind mount and a device, which PVE reserves to root@pam,
// are set over SSH with the least-privilege token; an unchanged
// configuration writes nothing; a mount point removed out of band comes
// back; import reads every block back.
func TestAccLXCContainer_mountPoints(t *testing.T) {
	e := newAccEnv(t, withSSH)
	const vmid = 4140
	vol := "local-lvm:vm-4140-disk-1"
	data := mountBlock(0, fmt.Sprintf("    path    = \"/data\"\n    storage = %q\n    size    = \"2G\"\n    backup  = true\n", e.storage))
	bind := mountBlock(1, "    path      = \"/shared\"\n    volume    = \"/srv/phoenix-shared\"\n    read_only = true\n")
	dev := "  device {\n    slot = 0\n    path = \"/dev/dri/renderD128\"\n    gid  = 104\n    mode = \"0660\"\n  }\n"
	cfg := func(extra string) string {
		// A description, which PVE returns with a trailing newline, is
		// read back by import exactly (ImportStateVerify below).
		return e.containerConfig(ctConfig{VMID: vmid, Unprivileged: true, Extra: "  description = \"shared data\\nand logs\"\n" + extra})
	}
	grown := mountBlock(0, fmt.Sprintf("    path    = \"/data\"\n    storage = %q\n    size    = \"3G\"\n    backup  = true\n", e.storage))
	shrunk := mountBlock(0, fmt.Sprintf("    path    = \"/data\"\n    storage = %q\n    size    = \"1G\"\n    backup  = true\n", e.storage))
	reattached := mountBlock(2, fmt.Sprintf("    path   = \"/data\"\n    volume = %q\n", vol))

	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				PreConfig: e.resetLog,
				Config:    cfg(data + bind + dev),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(ctAddr, tfjsonpath.New("mount_point").AtSliceIndex(0).AtMapKey("volume"), knownvalue.StringExact(vol)),
					statecheck.ExpectKnownValue(ctAddr, tfjsonpath.New("mount_point").AtSliceIndex(0).AtMapKey("size"), knownvalue.StringExact("2G")),
					statecheck.ExpectKnownValue(ctAddr, tfjsonpath.New("mount_point").AtSliceIndex(1).AtMapKey("volume"), knownvalue.StringExact("/srv/phoenix-shared")),
					statecheck.ExpectKnownValue(ctAddr, tfjsonpath.New("device").AtSliceIndex(0).AtMapKey("gid"), knownvalue.Int64Exact(104)),
				},
				Check: resource.ComposeTestCheckFunc(
					e.checkConfig(vmid, map[string]string{
						"mp0":  vol + ",mp=/data,backup=1,size=2G",
						"mp1":  "/srv/phoenix-shared,mp=/shared,ro=1",
						"dev0": "/dev/dri/renderD128,gid=104,mode=0660",
					}),
					e.checkSetAsRoot(vmid, "--dev0 '/dev/dri/renderD128,gid=104,mode=0660' --mp1 '/srv/phoenix-shared,mp=/shared,ro=1'"),
					e.checkNoForbidden(),
				),
			},
			{
				// Unchanged: an empty plan and no write at all.
				PreConfig:        e.resetLog,
				Config:           cfg(data + bind + dev),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				Check:            resource.ComposeTestCheckFunc(e.checkNoMutations(), e.checkNoSSHWrites()),
			},
			{
				// Growing resizes the volume in place.
				Config:           cfg(grown + bind + dev),
				ConfigPlanChecks: planAction(plancheck.ResourceActionUpdate),
				Check:            e.checkConfig(vmid, map[string]string{"mp0": vol + ",mp=/data,backup=1,size=3G"}),
			},
			{
				// Shrinking is refused at plan time.
				Config:      cfg(shrunk + bind + dev),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)Mount point cannot shrink.*mp0 is 3G; Proxmox VE can only grow`),
			},
			{
				// Drift: the bind mount removed out of band (a pending delete
				// on the running container) comes back.
				PreConfig: func() {
					if err := e.client.UpdateContainerConfig(context.Background(), e.node, vmid, nil, []string{"mp1"}, ""); err != nil {
						t.Fatal(err)
					}
				},
				Config:           cfg(grown + bind + dev),
				ConfigPlanChecks: planAction(plancheck.ResourceActionUpdate),
				Check:            e.checkConfig(vmid, map[string]string{"mp0": vol + ",mp=/data,backup=1,size=3G", "mp1": "/srv/phoenix-shared,mp=/shared,ro=1"}),
			},
			// Import reads every block back.
			importVerify(""),
			{
				// Removing the block detaches: the volume stays as unused0.
				Config: cfg(bind + dev),
				Check:  e.checkConfig(vmid, map[string]string{"mp0": "", "unused0": vol}),
			},
			{
				// Attaching it again by volume ID (another slot) clears unused0.
				Config: cfg(reattached + bind + dev),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(ctAddr, tfjsonpath.New("mount_point").AtSliceIndex(0).AtMapKey("size"), knownvalue.StringExact("3G")),
				},
				Check: e.checkConfig(vmid, map[string]string{"mp2": vol + ",mp=/data,size=3G", "unused0": ""}),
			},
			{
				PreConfig:        e.resetLog,
				Config:           cfg(reattached + bind + dev),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				Check:            e.checkNoMutations(),
			},
		},
	})
}
