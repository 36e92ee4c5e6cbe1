package provider

import (
	"context"
	"fmt"
	"os"
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
)

func idm(kind string, ct, host, size int64) idMapModel {
	return idMapModel{Kind: types.StringValue(kind), ContainerID: types.Int64Value(ct), HostID: types.Int64Value(host), Size: types.Int64Value(size)}
}

func idMapList(maps ...idMapModel) types.List {
	vals := make([]attr.Value, 0, len(maps))
	for _, m := range maps {
		vals = append(vals, mustObjectOf(idMapObjectType, m))
	}
	return types.ListValueMust(idMapObjectType, vals)
}

// The usual map that gives the container's group 33 (www-data) the node's
// group 33, and everything else PVE's default offset.
var passGID33 = []idMapModel{
	idm("uid", 0, 100000, 65536),
	idm("gid", 0, 100000, 33), idm("gid", 33, 33, 1), idm("gid", 34, 100034, 65502),
}

// TestValidateIDMap runs the plan-time rules of the id_map blocks: each
// kind maps container IDs 0-65535 exactly once, host ranges of a kind do
// not overlap (PVE::LXC::validate_id_maps), ranges stay within 32 bits, the
// node's root is refused with Docker and a warning without, and
// unprivileged must be true.
func TestValidateIDMap(t *testing.T) {
	cases := []struct {
		name         string
		maps         []idMapModel
		privileged   bool
		docker       bool
		wantErrors   []string // "path: phrase"
		wantWarnings []string
	}{
		{name: "PVE's default, written out", maps: []idMapModel{idm("uid", 0, 100000, 65536), idm("gid", 0, 100000, 65536)}},
		{name: "a passed-through group", maps: passGID33, docker: true,
			wantWarnings: []string{"id_map[2].host_id: host gids 33 are the node's system gids"}},
		{name: "the disk group, docker", docker: true,
			maps:       []idMapModel{idm("uid", 0, 100000, 65536), idm("gid", 0, 100000, 6), idm("gid", 6, 6, 1), idm("gid", 7, 100007, 65529)},
			wantErrors: []string{"id_map[2].host_id: host gids 6 are the node's system gids"}},
		{name: "the disk group, no docker",
			maps:         []idMapModel{idm("uid", 0, 100000, 65536), idm("gid", 0, 100000, 6), idm("gid", 6, 6, 1), idm("gid", 7, 100007, 65529)},
			wantWarnings: []string{"id_map[2].host_id: host gids 6 are the node's system gids"}},
		{name: "more than 65536 IDs", maps: []idMapModel{idm("uid", 0, 100000, 200000), idm("gid", 0, 100000, 65536), idm("gid", 65536, 300000, 10)}},
		{name: "no blocks: PVE's default, nothing to check"},
		{
			name:       "a gap in the groups",
			maps:       []idMapModel{idm("uid", 0, 100000, 65536), idm("gid", 0, 100000, 33), idm("gid", 34, 100034, 65502)},
			wantErrors: []string{"id_map: container gids 33 are not mapped"},
		},
		{
			name:       "users cover only part, groups absent",
			maps:       []idMapModel{idm("uid", 0, 100000, 1000)},
			wantErrors: []string{"id_map: container uids 1000-65535 are not mapped", "id_map: no gid block: container gids 0-65535 are not mapped"},
		},
		{
			name: "container IDs doubled",
			maps: []idMapModel{idm("uid", 0, 100000, 65536), idm("uid", 1000, 1000, 1), idm("gid", 0, 100000, 65536)},
			wantErrors: []string{
				"id_map[1].container_id: container uids 1000 are mapped twice, by id_map[0] and id_map[1]",
				// and 1000 on the host lies outside 100000-165535: no host overlap
			},
		},
		{
			name:       "host IDs doubled",
			maps:       []idMapModel{idm("uid", 0, 100000, 100), idm("uid", 100, 100050, 65436), idm("gid", 0, 100000, 65536)},
			wantErrors: []string{"id_map[1].host_id: host uids 100050-100099 are mapped twice, by id_map[0] and id_map[1]"},
		},
		{
			name:       "beyond 32 bits",
			maps:       []idMapModel{idm("uid", 0, 4294967200, 65536), idm("gid", 0, 100000, 65536)},
			wantErrors: []string{"id_map[0].size: host uids 4294967200-4295032735 go past 4294967294"},
		},
		{
			name:       "the node's root, without Docker",
			maps:       []idMapModel{idm("uid", 0, 0, 65536), idm("gid", 0, 100000, 65536)},
			wantErrors: []string{"id_map[0].host_id: host uids 0-65535 include 0: container uid 0 is root on the node", "unprivileged = false"},
		},
		{
			name:       "the node's root, with Docker",
			maps:       []idMapModel{idm("uid", 0, 100000, 65536), idm("gid", 0, 0, 1), idm("gid", 1, 100001, 65535)},
			docker:     true,
			wantErrors: []string{"id_map[1].host_id: host gids 0 include 0: container gid 0 is root on the node", "lxc-docker-secure"},
		},
		{
			name:       "a privileged container",
			maps:       []idMapModel{idm("uid", 0, 100000, 65536), idm("gid", 0, 100000, 65536)},
			privileged: true,
			wantErrors: []string{"id_map: id_map blocks map the IDs of an unprivileged container"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := testModel()
			m.Unprivileged = types.BoolNull()
			if tc.privileged {
				m.Unprivileged = types.BoolValue(false)
			}
			m.IDMap = idMapList(tc.maps...)
			if tc.docker {
				m.Docker = &dockerModel{}
			}
			var diags diag.Diagnostics
			validateIDMap(context.Background(), m, &diags)
			var errs, warns []string
			for _, d := range diags {
				pd, _ := d.(diag.DiagnosticWithPath)
				line := fmt.Sprintf("%s: %s", pd.Path(), d.Detail())
				if d.Severity() == diag.SeverityError {
					errs = append(errs, line)
				} else {
					warns = append(warns, line)
				}
			}
			expect(t, "error", errs, tc.wantErrors)
			expect(t, "warning", warns, tc.wantWarnings)
		})
	}
}

// expect checks that got has one entry per want, each containing its
// phrases ("path: phrase"; a want without ": " only needs to occur).
func expect(t *testing.T, what string, got, want []string) {
	t.Helper()
	joined := strings.Join(got, "\n")
	for _, w := range want {
		if !strings.Contains(joined, w) {
			t.Errorf("no %s containing %q; got:\n%s", what, w, joined)
		}
	}
	n := 0
	for _, w := range want {
		if strings.Contains(w, ": ") {
			n++
		}
	}
	if len(got) != n {
		t.Errorf("%d %ss, want %d:\n%s", len(got), what, n, joined)
	}
}

// TestIDMapReadBack: the config file's lxc.idmap lines come back as id_map
// blocks in file order, and a line PVE's parse_id_maps would refuse stays
// in lxc_config, where the plan shows it for removal.
func TestIDMapReadBack(t *testing.T) {
	ctx := context.Background()
	m := testModel()
	m.IDMap = types.ListNull(idMapObjectType)
	m.LXCConfig = types.ListNull(lxcLineObjectType)
	diags := applyRawLXC(ctx, m, [][2]string{
		{lxcKeyIDMap, "u 0 100000 65536"},
		{"lxc.mount.entry", "/dev/fuse dev/fuse none bind,create=file 0 0"},
		{lxcKeyIDMap, "g  0 100000   33 "},
		{lxcKeyIDMap, "g 33 33 1"},
		{lxcKeyIDMap, "g 34 100034 65502"},
		{lxcKeyIDMap, "x 0 0 1"},
	})
	if diags.HasError() {
		t.Fatal(diags)
	}
	if want := idMapList(passGID33...); !m.IDMap.Equal(want) {
		t.Errorf("id_map = %s, want %s", m.IDMap, want)
	}
	lines, _ := m.lxcLines(ctx)
	if len(lines) != 2 || lines[1].Key.ValueString() != lxcKeyIDMap || lines[1].Value.ValueString() != "x 0 0 1" {
		t.Errorf("lxc_config = %v, want the mount entry and the unparsable idmap line", lines)
	}
	// Written back, the blocks give the lines PVE reads.
	m.IDMap = idMapList(passGID33...)
	got, _ := desiredIDMapLines(ctx, m)
	want := [][2]string{{lxcKeyIDMap, "u 0 100000 65536"}, {lxcKeyIDMap, "g 0 100000 33"}, {lxcKeyIDMap, "g 33 33 1"}, {lxcKeyIDMap, "g 34 100034 65502"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("lines %v, want %v", got, want)
	}
	// Without lines and without blocks, id_map stays null.
	m.IDMap = types.ListNull(idMapObjectType)
	_ = applyRawLXC(ctx, m, nil)
	if !m.IDMap.IsNull() {
		t.Errorf("id_map = %s, want null", m.IDMap)
	}
}

// TestLXCConfigRefusesIDMap: lxc.idmap belongs to the id_map blocks, so
// lxc_config and id_map can never both set it.
func TestLXCConfigRefusesIDMap(t *testing.T) {
	err := checkLXCKey("lxc.idmap")
	if err == nil || !strings.Contains(err.Error(), "the id_map blocks") {
		t.Fatalf("checkLXCKey(lxc.idmap) = %v, want a pointer to the id_map blocks", err)
	}
}

// idMapHCL renders id_map blocks.
func idMapHCL(maps ...idMapModel) string {
	var b strings.Builder
	for _, m := range maps {
		fmt.Fprintf(&b, "  id_map {\n    kind         = %q\n    container_id = %d\n    host_id      = %d\n    size         = %d\n  }\n",
			m.Kind.ValueString(), m.ContainerID.ValueInt64(), m.HostID.ValueInt64(), m.Size.ValueInt64())
	}
	return b.String()
}

// idMapLines are the lxc.idmap values of a container's config file, in
// order.
func (e *accEnv) idMapLines(vmid int) []string {
	var out []string
	for _, kv := range e.conf(vmid).Main().LXC() {
		if kv.Key == lxcKeyIDMap {
			out = append(out, kv.Value)
		}
	}
	return out
}

func (e *accEnv) checkIDMapLines(vmid int, want ...string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		if !e.simOnly("reading the container's config file") {
			return nil
		}
		if got := e.idMapLines(vmid); strings.Join(got, "\n") != strings.Join(want, "\n") {
			return fmt.Errorf("lxc.idmap lines %q, want %q", got, want)
		}
		return nil
	}
}

// TestAccLXCContainer_idMap: id_map blocks become lxc.idmap lines of the
// config file, written over SSH; an unchanged configuration writes nothing;
// a line edited out of band is drift that the apply repairs (and, the map
// taking effect at start, the running container is rebooted); import reads
// the blocks back; removing them leaves PVE's default (no line at all).
func TestAccLXCContainer_idMap(t *testing.T) {
	e := newAccEnv(t, withSSH)
	const vmid = 4170
	cfg := func(extra string) string {
		return e.containerConfig(ctConfig{VMID: vmid, Unprivileged: true, Extra: extra})
	}
	withMap := cfg(idMapHCL(passGID33...))
	wantLines := []string{"u 0 100000 65536", "g 0 100000 33", "g 33 33 1", "g 34 100034 65502"}
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: withMap,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(ctAddr, tfjsonpath.New("id_map").AtSliceIndex(2).AtMapKey("kind"), knownvalue.StringExact("gid")),
					statecheck.ExpectKnownValue(ctAddr, tfjsonpath.New("id_map").AtSliceIndex(2).AtMapKey("host_id"), knownvalue.Int64Exact(33)),
					statecheck.ExpectKnownValue(ctAddr, tfjsonpath.New("lxc_config"), knownvalue.Null()),
				},
				Check: resource.ComposeTestCheckFunc(e.checkIDMapLines(vmid, wantLines...), e.checkNoForbidden()),
			},
			{
				// Unchanged: an empty plan, no API write and no SSH write.
				PreConfig:        e.resetLog,
				Config:           withMap,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				Check:            resource.ComposeTestCheckFunc(e.checkNoMutations(), e.checkNoSSHWrites()),
			},
			{
				// A line changed out of band: the plan shows it, the apply
				// writes the map back and reboots the running container.
				PreConfig: func() {
					e.resetLog()
					if !e.simOnly("editing the container's config file out of band") {
						return
					}
					b, err := os.ReadFile(e.confPath(vmid))
					if err != nil {
						t.Fatal(err)
					}
					edited := strings.Replace(string(b), "lxc.idmap: g 33 33 1\n", "lxc.idmap: g 33 100033 1\n", 1)
					if edited == string(b) {
						t.Fatalf("no line lxc.idmap: g 33 33 1 in\n%s", b)
					}
					if err := os.WriteFile(e.confPath(vmid), []byte(edited), 0o640); err != nil {
						t.Fatal(err)
					}
				},
				Config:           withMap,
				ConfigPlanChecks: planAction(plancheck.ResourceActionUpdate),
				Check:            resource.ComposeTestCheckFunc(e.checkIDMapLines(vmid, wantLines...), e.checkRebooted(vmid)),
			},
			importVerify(""),
			{
				// Without blocks PVE's default applies: the lines go.
				PreConfig: e.resetLog,
				Config:    cfg(""),
				Check:     resource.ComposeTestCheckFunc(e.checkIDMapLines(vmid), e.checkRebooted(vmid)),
			},
		},
	})
}

// TestAccIDMapNeedsSSH: without SSH access the id_map blocks fail at plan
// time, whatever the identity (the API cannot set lxc.* lines); a map with
// a gap fails validation with the missing IDs. Nothing reaches the cluster.
func TestAccIDMapNeedsSSH(t *testing.T) {
	e := newAccEnv(t)
	e.resetLog()
	cfg := func(maps ...idMapModel) string {
		return e.containerConfig(ctConfig{VMID: 4171, Unprivileged: true, Extra: idMapHCL(maps...)})
	}
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config:      cfg(passGID33...),
			PlanOnly:    true,
			ExpectError: phrases("id_map needs SSH access to the node", "cannot set raw lxc.* lines for any identity", "Add an ssh block"),
		}, {
			Config:      cfg(idm("uid", 0, 100000, 65536), idm("gid", 0, 100000, 1000)),
			PlanOnly:    true,
			ExpectError: phrases("Incomplete ID map", "container gids 1000-65535 are not mapped"),
		}},
		CheckDestroy: func(*terraform.State) error {
			if e.simOnly("checking that the refused plan made no mutating API call") && e.sim.CountMutating() != 0 {
				return fmt.Errorf("the refused plan changed the cluster")
			}
			return nil
		},
	})
}
