package phoenixcfg

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	goparser "go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json from the current conversion")

// goldenCases are the fixtures whose whole conversion is pinned by a
// reviewed golden file, testdata/<name>.golden.json.
var goldenCases = []struct{ name, fixture string }{
	// Three containers: a template container, a Docker clone of it and a
	// GPU clone, with most fields and the unmapped ones.
	{"small", "testdata/phoenix_lxc_configs_small.json"},
	// The document the examples/phoenix-configs acceptance test applies.
	{"migration", "testdata/phoenix_lxc_configs_migration.json"},
	// The Phoenix Hypervisor project's own file (17 containers).
	{"phoenix", "../../testdata/phoenix/phoenix_lxc_configs.json"},
	// The same file as later Phoenix files write it: clones without
	// unprivileged and portainer_role, no apparmor_manages_nesting.
	{"clones_inherit", "testdata/phoenix_lxc_configs_clones_inherit.json"},
}

// TestConvertGolden converts each fixture and compares the result, as
// indented JSON with sorted keys, with its golden file. After a deliberate
// change of the rules, go test ./internal/phoenixcfg -update rewrites the
// files; review their diff like code.
func TestConvertGolden(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			doc, err := os.ReadFile(tc.fixture)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Convert(doc)
			if err != nil {
				t.Fatalf("%s is refused: %v", tc.fixture, err)
			}
			text := sortedJSON(t, got)
			golden := filepath.Join("testdata", tc.name+".golden.json")
			if *update {
				if err := os.WriteFile(golden, text, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (go test ./internal/phoenixcfg -update writes it)", err)
			}
			if !bytes.Equal(text, want) {
				t.Errorf("conversion of %s differs from %s (-update rewrites it):\n%s", tc.fixture, golden, firstDifference(want, text))
			}
		})
	}
}

// sortedJSON marshals v as indented JSON with object keys sorted, numbers
// as written and <, > and & unescaped.
func sortedJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var generic any
	if err := dec.Decode(&generic); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(generic); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// firstDifference shows the first line where got differs from want, with
// the lines before it.
func firstDifference(want, got []byte) string {
	w, g := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
	for i := 0; i < max(len(w), len(g)); i++ {
		if i < len(w) && i < len(g) && w[i] == g[i] {
			continue
		}
		line := func(lines []string) string {
			if i < len(lines) {
				return lines[i]
			}
			return "(end of file)"
		}
		return fmt.Sprintf("%s\nline %d: want %s\nline %d:  got %s",
			strings.Join(w[max(0, i-3):min(i, len(w))], "\n"), i+1, line(w), i+1, line(g))
	}
	return "(no difference)"
}

// validEntry is a schema-valid container for the cases below.
func validEntry() map[string]any {
	return map[string]any{
		"name": "web-01", "memory_mb": 2048, "cores": 2, "storage_pool": "local-lvm", "storage_size_gb": 16,
		"network_config": map[string]any{"name": "eth0", "bridge": "vmbr0", "ip": "10.0.0.5/24", "gw": "10.0.0.1"},
		"portainer_role": "none", "unprivileged": true, "apparmor_profile": "unconfined", "apparmor_manages_nesting": true,
		"template": "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst",
	}
}

func docWith(t *testing.T, entries map[string]map[string]any) string {
	t.Helper()
	b, err := json.Marshal(map[string]any{"lxc_configs": entries})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// with is a document holding validEntry, changed, as container 950.
func with(t *testing.T, change func(e map[string]any)) string {
	t.Helper()
	e := validEntry()
	change(e)
	return docWith(t, map[string]map[string]any{"950": e})
}

func TestConvertErrors(t *testing.T) {
	cases := []struct {
		name string
		doc  string
		want string
	}{
		{"truncated JSON", "{\n  \"lxc_configs\": {", "invalid JSON at line 2, column 18: unexpected end of JSON input"},
		{"syntax error", "{\"lxc_configs\": {\"950\": {\"name\": 'x'}}}", "invalid JSON at line 1, column 34: invalid character '\\'' looking for beginning of value"},
		{"not an object", `[]`, `(document): expected an object, got []`},
		{"missing lxc_configs", `{"nvidia_driver_version": "580.76.05"}`, `lxc_configs: required field is missing`},
		{"lxc_configs not an object", `{"lxc_configs": ["950"]}`, `lxc_configs: expected an object, got ["950"]`},
		{"unknown top-level field", `{"lxc_configs": {}, "vm_configs": {}}`,
			`vm_configs: unknown top-level field (a phoenix_lxc_configs.json document holds $schema, nvidia_driver_version, nvidia_repo_url, nvidia_runfile_url and lxc_configs)`},
		{"top-level field type", `{"lxc_configs": {}, "nvidia_driver_version": 580}`, `nvidia_driver_version: expected a string, got 580`},
		{"non-numeric CTID", docWith(t, map[string]map[string]any{"web": validEntry()}), `lxc_configs["web"]: a CTID must be a decimal number, got "web"`},
		{"CTID below 100", docWith(t, map[string]map[string]any{"42": validEntry()}),
			`lxc_configs["42"]: a CTID must be a number from 100 to 999999999 without leading zeros, got "42"`},
		{"CTID with a leading zero", docWith(t, map[string]map[string]any{"0950": validEntry()}),
			`lxc_configs["0950"]: a CTID must be a number from 100 to 999999999 without leading zeros, got "0950"`},
		{"container not an object", `{"lxc_configs": {"950": "web"}}`, `lxc_configs["950"]: expected an object, got "web"`},
		{"duplicate key", `{"lxc_configs": {"950": {"name": "a", "name": "b"}}}`, `lxc_configs["950"]: duplicate key "name"`},
		{"memory as a string", with(t, func(e map[string]any) { e["memory_mb"] = "2G" }),
			`lxc_configs["950"].memory_mb: expected an integer, got "2G"`},
		{"memory fraction", with(t, func(e map[string]any) { e["memory_mb"] = 2048.5 }),
			`lxc_configs["950"].memory_mb: expected an integer, got 2048.5`},
		{"memory below the schema minimum", with(t, func(e map[string]any) { e["memory_mb"] = 256 }),
			`lxc_configs["950"].memory_mb: must be between 512 and 131072, got 256`},
		{"cores above the schema maximum", with(t, func(e map[string]any) { e["cores"] = 64 }),
			`lxc_configs["950"].cores: must be between 1 and 32, got 64`},
		{"negative boot delay", with(t, func(e map[string]any) { e["boot_delay"] = -5 }),
			`lxc_configs["950"].boot_delay: must be at least 0, got -5`},
		{"missing name", with(t, func(e map[string]any) { delete(e, "name") }),
			`lxc_configs["950"].name: required field is missing`},
		{"name not a host name", with(t, func(e map[string]any) { e["name"] = "web server" }),
			`lxc_configs["950"].name: must be a valid host name (letters, digits and '-', labels separated by '.'), got "web server"`},
		{"unprivileged as a string", with(t, func(e map[string]any) { e["unprivileged"] = "yes" }),
			`lxc_configs["950"].unprivileged: expected a boolean, got "yes"`},
		{"storage pool", with(t, func(e map[string]any) { e["storage_pool"] = "local lvm" }),
			`lxc_configs["950"].storage_pool: must be a Proxmox VE storage ID such as local-lvm, got "local lvm"`},
		{"network_config not an object", with(t, func(e map[string]any) { e["network_config"] = "eth0" }),
			`lxc_configs["950"].network_config: expected an object, got "eth0"`},
		{"id_maps type", with(t, func(e map[string]any) {
			e["id_maps"] = []any{map[string]any{"type": "group", "container_id": 33, "host_id": 33, "size": 1}}
		}), `lxc_configs["950"].id_maps[0].type: must be "uid" or "gid", got "group"`},
		{"id_maps entry without size", with(t, func(e map[string]any) {
			e["id_maps"] = []any{map[string]any{"type": "gid", "container_id": 33, "host_id": 33}}
		}), `lxc_configs["950"].id_maps[0].size: required field is missing`},
		{"id_maps entries overlapping", with(t, func(e map[string]any) {
			e["id_maps"] = []any{map[string]any{"type": "uid", "container_id": 30, "host_id": 30, "size": 10},
				map[string]any{"type": "uid", "container_id": 35, "host_id": 1035, "size": 1}}
		}), `lxc_configs["950"].id_maps: container uids 35 are mapped twice`},
		{"id_maps entry onto the default range", with(t, func(e map[string]any) {
			// Container gid 5 on host 100033, which the default gives gid 33.
			e["id_maps"] = []any{map[string]any{"type": "gid", "container_id": 5, "host_id": 100033, "size": 1}}
		}), `lxc_configs["950"].id_maps: host gids 100033 are mapped twice once the container IDs the entries leave are mapped with Proxmox VE's default (container ID + 100000)`},
		{"id_maps and an lxc.idmap line", with(t, func(e map[string]any) {
			e["id_maps"] = []any{map[string]any{"type": "gid", "container_id": 33, "host_id": 33, "size": 1}}
			e["lxc_options"] = []any{"lxc.idmap: u 0 100000 65536"}
		}), `lxc_configs["950"].id_maps: id_maps and the lxc.idmap line lxc_configs["950"].lxc_options[0] both set the ID map: keep one`},
		{"lxc.idmap line that does not parse", with(t, func(e map[string]any) { e["lxc_options"] = []any{"lxc.idmap = u 0 100000"} }),
			`lxc_configs["950"].lxc_options[0]: expected "lxc.idmap: <u|g> <container id> <host id> <count>", got "lxc.idmap = u 0 100000"`},
		{"ip without prefix", with(t, func(e map[string]any) {
			e["network_config"] = map[string]any{"name": "eth0", "bridge": "vmbr0", "ip": "10.0.0.5", "gw": "10.0.0.1"}
		}), `lxc_configs["950"].network_config.ip: must be an IPv4 address with a prefix length such as 10.0.0.5/24, got "10.0.0.5"`},
		{"missing gateway", with(t, func(e map[string]any) {
			e["network_config"] = map[string]any{"name": "eth0", "bridge": "vmbr0", "ip": "10.0.0.5/24"}
		}), `lxc_configs["950"].network_config.gw: required field is missing`},
		{"multicast MAC", with(t, func(e map[string]any) { e["mac_address"] = "01:00:5E:00:00:01" }),
			`lxc_configs["950"].mac_address: must be a unicast MAC address such as 52:54:00:12:34:56, got "01:00:5E:00:00:01"`},
		{"features not an array", with(t, func(e map[string]any) { e["features"] = "docker" }),
			`lxc_configs["950"].features: expected an array, got "docker"`},
		{"feature not a string", with(t, func(e map[string]any) { e["features"] = []any{"docker", 7} }),
			`lxc_configs["950"].features[1]: expected a string, got 7`},
		{"bad lxc option", with(t, func(e map[string]any) { e["lxc_options"] = []any{"lxc.cap.drop=", "cgroup=a"} }),
			`lxc_configs["950"].lxc_options[1]: expected "lxc.<key>=<value>" or "lxc.<key>: <value>", got "cgroup=a"`},
		{"firewall flag", with(t, func(e map[string]any) { e["firewall"] = map[string]any{"enabled": "yes"} }),
			`lxc_configs["950"].firewall.enabled: expected a boolean, got "yes"`},
		{"unmapped field type", with(t, func(e map[string]any) { e["gpu_assignment"] = 0 }),
			`lxc_configs["950"].gpu_assignment: expected a string, got 0`},
		{"unmapped list element type", with(t, func(e map[string]any) { e["ports"] = []any{"80:80", 443} }),
			`lxc_configs["950"].ports[1]: expected a string, got 443`},
		{"clone id not a string", with(t, func(e map[string]any) { delete(e, "template"); e["clone_from_ctid"] = 900 }),
			`lxc_configs["950"].clone_from_ctid: expected a string, got 900`},
		{"clone id not a CTID", with(t, func(e map[string]any) { delete(e, "template"); e["clone_from_ctid"] = "base" }),
			`lxc_configs["950"].clone_from_ctid: must be a CTID from 100 to 999999999 as a string, got "base"`},
		{"clone of itself", with(t, func(e map[string]any) { delete(e, "template"); e["clone_from_ctid"] = "950" }),
			`lxc_configs["950"].clone_from_ctid: a container cannot be cloned from itself`},
		{"template and clone", with(t, func(e map[string]any) { e["clone_from_ctid"] = "900" }),
			`lxc_configs["950"].template: template and clone_from_ctid cannot both be set: a container is created from one source`},
		{"snapshot name", with(t, func(e map[string]any) { e["template_snapshot_name"] = "pre configured" }),
			`lxc_configs["950"].template_snapshot_name: must be a Proxmox VE snapshot name (a letter, then 1 to 39 letters, digits, '_' or '-'), got "pre configured"`},
		{"clone loop", func() string {
			a, b := validEntry(), validEntry()
			delete(a, "template")
			delete(b, "template")
			a["clone_from_ctid"], b["clone_from_ctid"] = "301", "300"
			return docWith(t, map[string]map[string]any{"300": a, "301": b})
		}(), "lxc_configs[\"300\"].clone_from_ctid: clone chain loops back to 300\nlxc_configs[\"301\"].clone_from_ctid: clone chain loops back to 301"},
		{"every problem at once", with(t, func(e map[string]any) {
			e["memory_mb"] = "2G"
			e["cores"] = 0
			delete(e, "apparmor_profile")
		}), "lxc_configs[\"950\"].cores: must be between 1 and 32, got 0\n" +
			"lxc_configs[\"950\"].memory_mb: expected an integer, got \"2G\"\n" +
			"lxc_configs[\"950\"].apparmor_profile: required field is missing"},
		{"problems are bounded", func() string {
			entries := map[string]map[string]any{}
			for i := range 40 {
				e := validEntry()
				e["cores"] = "two"
				entries[strconv.Itoa(500+i)] = e
			}
			return docWith(t, entries)
		}(), func() string {
			var lines []string
			for i := range maxProblems {
				lines = append(lines, fmt.Sprintf(`lxc_configs["%d"].cores: expected an integer, got "two"`, 500+i))
			}
			return strings.Join(lines, "\n") + "\n... and 15 more problems"
		}()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Convert([]byte(tc.doc))
			if err == nil {
				t.Fatalf("no error; result %+v", got)
			}
			if got != nil {
				t.Errorf("a result with the error: %+v", got)
			}
			if err.Error() != tc.want {
				t.Errorf("error:\n got: %s\nwant: %s", err, tc.want)
			}
		})
	}
}

// TestConvertRules pins single rules on one container, 950, made from
// validEntry: each case gives the JSON of the result fields it is about.
func TestConvertRules(t *testing.T) {
	const baseUnmapped = `"apparmor_manages_nesting: true","portainer_role: \"none\""`
	pct := func(opts ...any) func(e map[string]any) {
		return func(e map[string]any) { e["pct_options"] = opts }
	}
	cases := []struct {
		name   string
		change func(e map[string]any)
		want   map[string]string
	}{
		{"the fields the schema requires", func(map[string]any) {}, map[string]string{
			"ctid": `950`, "hostname": `"web-01"`, "memory": `2048`, "cores": `2`, "unprivileged": `true`,
			"rootfs":           `{"storage":"local-lvm","size":"16G"}`,
			"network":          `{"name":"eth0","bridge":"vmbr0","ip":"10.0.0.5/24","gw":"10.0.0.1","hwaddr":null,"firewall":null}`,
			"apparmor_profile": `"unconfined"`, "template": `"local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"`,
			"clone": `null`, "swap": `null`, "features": `null`, "start_on_boot": `null`, "startup": `null`,
			"lxc_config": `null`, "docker": `null`, "unmapped": `[` + baseUnmapped + `]`,
		}},
		{"integral float and clone of a container outside the file", func(e map[string]any) {
			delete(e, "template")
			e["memory_mb"] = 4096.0
			e["clone_from_ctid"] = "120"
			e["features"] = []any{"docker"}
		}, map[string]string{
			"memory": `4096`, "template": `null`, "clone": `{"source_vmid":120,"snapshot":null}`,
			// No tests in the file: the docker block's checks keep their defaults.
			"docker": `{"hello_world":true}`, "unmapped": `[` + baseUnmapped + `]`,
		}},
		{"an empty lxc_options is null", func(e map[string]any) { e["lxc_options"] = []any{} }, map[string]string{"lxc_config": `null`}},
		{"lxc lines but AppArmor ones", func(e map[string]any) {
			e["lxc_options"] = []any{"lxc.apparmor.profile=unconfined", "lxc.cap.drop:", "lxc.apparmor.profile: other", "lxc.mount.auto = proc:rw"}
		}, map[string]string{
			"lxc_config": `[{"key":"lxc.cap.drop","value":""},{"key":"lxc.mount.auto","value":"proc:rw"}]`,
			"unmapped":   `["apparmor_manages_nesting: true","lxc_options[2]: \"lxc.apparmor.profile: other\"","portainer_role: \"none\""]`,
		}},
		{"id_maps completed per kind with the default offset", func(e map[string]any) {
			e["id_maps"] = []any{
				map[string]any{"type": "gid", "host_id": 33, "container_id": 33, "size": 1},
				map[string]any{"type": "uid", "host_id": 1000, "container_id": 1000, "size": 2},
				map[string]any{"type": "gid", "host_id": 200000, "container_id": 65536, "size": 10},
			}
		}, map[string]string{"id_map": `[{"kind":"uid","container_id":0,"host_id":100000,"size":1000},` +
			`{"kind":"uid","container_id":1000,"host_id":1000,"size":2},{"kind":"uid","container_id":1002,"host_id":101002,"size":64534},` +
			`{"kind":"gid","container_id":0,"host_id":100000,"size":33},{"kind":"gid","container_id":33,"host_id":33,"size":1},` +
			`{"kind":"gid","container_id":34,"host_id":100034,"size":65502},{"kind":"gid","container_id":65536,"host_id":200000,"size":10}]`}},
		{"lxc.idmap lines become id_map entries, verbatim", func(e map[string]any) {
			e["lxc_options"] = []any{"lxc.idmap: u 0 200000 65536", "lxc.mount.auto = proc:rw", "lxc.idmap=g 0 200000 65536"}
		}, map[string]string{
			"id_map":     `[{"kind":"uid","container_id":0,"host_id":200000,"size":65536},{"kind":"gid","container_id":0,"host_id":200000,"size":65536}]`,
			"lxc_config": `[{"key":"lxc.mount.auto","value":"proc:rw"}]`,
		}},
		{"startup from boot_delay alone", func(e map[string]any) { e["boot_delay"] = 30 }, map[string]string{"startup": `{"down_delay":null,"order":null,"up_delay":30}`}},
		{"unmapped values are JSON", func(e map[string]any) { e["features"] = []any{"docker", "a<b>&\"c\"\t\u00e9"} }, map[string]string{
			"unmapped": `["apparmor_manages_nesting: true","features[1]: \"a<b>&\\\"c\\\"\\t` + "\u00e9" + `\"","portainer_role: \"none\""]`,
		}},
		{"docker tests of another shape are listed", func(e map[string]any) {
			e["features"] = []any{"docker"}
			e["tests"] = map[string]any{"health_checks": "all", "integration_tests": []any{"hello"}}
		}, map[string]string{
			"docker":   `{"hello_world":false}`,
			"unmapped": `[` + baseUnmapped + `,"tests.health_checks: \"all\"","tests.integration_tests[0]: \"hello\""]`,
		}},
		{"tests of a container without Docker are listed whole", func(e map[string]any) {
			e["tests"] = map[string]any{"integration_tests": []any{}}
		}, map[string]string{"docker": `null`, "unmapped": `[` + baseUnmapped + `,"tests: {\"integration_tests\":[]}"]`}},

		// pct_options: an option that is a Proxmox VE features value made
		// only of nesting, keyctl, fuse, mknod and mount sets features,
		// read by pve.ParseFeaturesWithKeys; any other option is listed whole.
		{"pct feature flags", pct("nesting=1,keyctl=1", "fuse=0", "mount=nfs;cifs", "mknod=on"), map[string]string{
			"features": `{"nesting":true,"keyctl":true,"fuse":false,"mknod":true,"mount":["nfs","cifs"]}`,
			"unmapped": `[` + baseUnmapped + `]`,
		}},
		{"pct options that are not only features are listed whole", pct("nesting=1,onboot=1", "keyctl=maybe", "mount=", "mknod=on"), map[string]string{
			"features": `{"nesting":null,"keyctl":null,"fuse":null,"mknod":true,"mount":null}`,
			"unmapped": `["apparmor_manages_nesting: true","pct_options[0]: \"nesting=1,onboot=1\"",` +
				`"pct_options[1]: \"keyctl=maybe\"","pct_options[2]: \"mount=\"","portainer_role: \"none\""]`,
		}},
		{"no pct feature option: features is null", pct("--arch arm64", "", "force_rw_sys=1"), map[string]string{
			"features": `null`,
			"unmapped": `["apparmor_manages_nesting: true","pct_options[0]: \"--arch arm64\"","pct_options[1]: \"\"",` +
				`"pct_options[2]: \"force_rw_sys=1\"","portainer_role: \"none\""]`,
		}},
		// pct's own command line options: --onboot, --startup and --features
		// map; the document's start_at_boot, boot_order and boot_delay
		// decide where they say otherwise, and the option is listed.
		{"pct --onboot and --startup map", func(e map[string]any) {
			pct("--onboot 1", "--startup order=4,up=20,down=60", "--features nesting=1")(e)
			delete(e, "start_at_boot")
			delete(e, "boot_order")
			delete(e, "boot_delay")
		}, map[string]string{
			"start_on_boot": `true`,
			"startup":       `{"down_delay":60,"order":4,"up_delay":20}`,
			"features":      `{"nesting":true,"keyctl":null,"fuse":null,"mknod":null,"mount":null}`,
		}},
		{"the document's boot fields decide over pct options", func(e map[string]any) {
			pct("--onboot=yes", "--startup 4,up=20")(e)
			e["start_at_boot"] = false
			e["boot_order"] = 1
			delete(e, "boot_delay")
		}, map[string]string{
			"start_on_boot": `false`,
			"startup":       `{"down_delay":null,"order":1,"up_delay":20}`,
			"unmapped": `["apparmor_manages_nesting: true","portainer_role: \"none\"","pct_options[0]: \"--onboot=yes\" (start_at_boot decides)",` +
				`"pct_options[1]: \"--startup 4,up=20\" (boot_order decides)"]`,
		}},
		{"a later pct option wins", pct("nesting=1,mount=nfs", "nesting=0", "mount=cifs"), map[string]string{
			"features": `{"nesting":false,"keyctl":null,"fuse":null,"mknod":null,"mount":["cifs"]}`,
		}},
		{"pct options as Proxmox VE reads them", pct("nesting=1,", "mount=nfs;;cifs", "keyctl=1,keyctl=0", " fuse=1", "mknod=1 "), map[string]string{
			"features": `{"nesting":true,"keyctl":null,"fuse":null,"mknod":null,"mount":["nfs","cifs"]}`,
			"unmapped": `["apparmor_manages_nesting: true","pct_options[2]: \"keyctl=1,keyctl=0\"",` +
				`"pct_options[3]: \" fuse=1\"","pct_options[4]: \"mknod=1 \"","portainer_role: \"none\""]`,
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Convert([]byte(with(t, tc.change)))
			if err != nil {
				t.Fatal(err)
			}
			c, ok := got["950"]
			if !ok || len(got) != 1 {
				t.Fatalf("got %+v", got)
			}
			b, err := json.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			var fields map[string]json.RawMessage
			if err := json.Unmarshal(b, &fields); err != nil {
				t.Fatal(err)
			}
			for name, want := range tc.want {
				raw, ok := fields[name]
				if !ok {
					t.Errorf("no field %s in %s", name, b)
					continue
				}
				if g, w := canonicalJSON(t, raw), canonicalJSON(t, json.RawMessage(want)); g != w {
					t.Errorf("%s:\n got: %s\nwant: %s", name, g, w)
				}
			}
		})
	}
}

// canonicalJSON re-encodes a JSON value with object keys sorted; arrays
// keep their order.
func canonicalJSON(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(b.String())
}

func TestConvertEmptyDocument(t *testing.T) {
	got, err := Convert([]byte(`{"lxc_configs": {}}`))
	if err != nil || got == nil || len(got) != 0 {
		t.Errorf("got %v, %v; want an empty map", got, err)
	}
}

// TestConvertSnapshotOfSourceInFile: a clone whose source is in the file
// takes the snapshot the source names, each clone its own copy.
func TestConvertSnapshotOfSourceInFile(t *testing.T) {
	src, a, b := validEntry(), validEntry(), validEntry()
	src["template_snapshot_name"] = "golden"
	for _, e := range []map[string]any{a, b} {
		delete(e, "template")
		e["clone_from_ctid"] = "300"
	}
	got, err := Convert([]byte(docWith(t, map[string]map[string]any{"300": src, "301": a, "302": b})))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"301", "302"} {
		c := got[id].Clone
		if c == nil || c.SourceVMID != 300 || c.Snapshot == nil || *c.Snapshot != "golden" {
			t.Fatalf("%s: clone %+v", id, c)
		}
	}
	if got["301"].Clone.Snapshot == got["302"].Clone.Snapshot {
		t.Error("two clones share one snapshot string")
	}
	if got["300"].Clone != nil || got["300"].Unmapped[len(got["300"].Unmapped)-1] != `template_snapshot_name: "golden"` {
		t.Errorf("source: clone %+v, unmapped %q", got["300"].Clone, got["300"].Unmapped)
	}
}

func TestSplitLXCOption(t *testing.T) {
	cases := []struct{ in, key, value string }{
		{"lxc.apparmor.profile=unconfined", "lxc.apparmor.profile", "unconfined"},
		{"lxc.apparmor.profile: unconfined", "lxc.apparmor.profile", "unconfined"},
		{"lxc.cgroup2.devices.allow = a", "lxc.cgroup2.devices.allow", "a"},
		{"lxc.mount.auto=proc:rw sys:rw", "lxc.mount.auto", "proc:rw sys:rw"},
		{"lxc.mount.entry: /dev/fuse dev/fuse none bind,create=file", "lxc.mount.entry", "/dev/fuse dev/fuse none bind,create=file"},
		{"lxc.cap.drop:", "lxc.cap.drop", ""},
	}
	for _, tc := range cases {
		k, v, ok := splitLXCOption(tc.in)
		if !ok || k != tc.key || v != tc.value {
			t.Errorf("splitLXCOption(%q) = %q, %q, %v", tc.in, k, v, ok)
		}
	}
	for _, bad := range []string{"", "lxc.apparmor.profile", "apparmor=unconfined", "lxc.=x", "lxc key=x"} {
		if k, v, ok := splitLXCOption(bad); ok {
			t.Errorf("splitLXCOption(%q) accepted: %q, %q", bad, k, v)
		}
	}
}

// TestImports keeps the package plain: the standard library (but no file,
// process or network access) and internal/pve, never the plugin framework
// nor the node access layer.
func TestImports(t *testing.T) {
	const pvePath = "github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/pve"
	forbidden := map[string]bool{"os": true, "os/exec": true, "net": true, "net/http": true, "io/fs": true, "syscall": true}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := goparser.ParseFile(token.NewFileSet(), name, nil, goparser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			stdlib := !strings.Contains(strings.SplitN(path, "/", 2)[0], ".")
			if (stdlib && forbidden[path]) || (!stdlib && path != pvePath) {
				t.Errorf("%s imports %s", name, path)
			}
		}
	}
}

// BenchmarkConvertPhoenix measures the conversion of the Phoenix project's
// own file (17 containers).
func BenchmarkConvertPhoenix(b *testing.B) {
	doc, err := os.ReadFile(goldenCases[2].fixture)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Convert(doc); err != nil {
			b.Fatal(err)
		}
	}
}

// TestCloneInheritsUnprivileged: a clone without unprivileged takes its
// source's, up the chain, privileged included; a source outside the
// document leaves the resource's default, and both are said in unmapped. A
// container from a template still needs it.
func TestCloneInheritsUnprivileged(t *testing.T) {
	raw, err := os.ReadFile("testdata/phoenix_lxc_configs_small.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	obj := func(v any) map[string]any {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("not an object: %v", v)
		}
		return m
	}
	cts := obj(doc["lxc_configs"])
	src, clone := obj(cts["200"]), obj(cts["202"])
	src["unprivileged"] = false
	delete(clone, "unprivileged")
	delete(clone, "portainer_role")
	orphan := map[string]any{}
	for k, v := range clone {
		orphan[k] = v
	}
	orphan["name"] = "orphan"
	orphan["clone_from_ctid"] = "150"
	cts["203"] = orphan
	text, _ := json.Marshal(doc)
	out, err := Convert(text)
	if err != nil {
		t.Fatal(err)
	}
	if c := out["202"]; c.Unprivileged || !slices.Contains(c.Unmapped, "unprivileged: not given; inherited from 200 (false)") {
		t.Errorf("202: unprivileged %v, unmapped %q", c.Unprivileged, c.Unmapped)
	}
	if c := out["203"]; !c.Unprivileged || !strings.Contains(strings.Join(c.Unmapped, "\n"), "the clone source 150 decides") {
		t.Errorf("203: unprivileged %v, unmapped %q", c.Unprivileged, c.Unmapped)
	}
	delete(src, "unprivileged")
	text, _ = json.Marshal(doc)
	if _, err := Convert(text); err == nil || !strings.Contains(err.Error(), `lxc_configs["200"].unprivileged: required field is missing (only a clone inherits it from its source)`) {
		t.Errorf("a template container without unprivileged: %v", err)
	}
}
