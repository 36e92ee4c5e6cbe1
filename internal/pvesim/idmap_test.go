package pvesim

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRawIDMapLines: lxc.idmap lines live only in the config file. The
// simulator keeps them through API writes, returns them from GET config as
// PVE does, and refuses them through the API for every identity, root@pam
// included.
func TestRawIDMapLines(t *testing.T) {
	s := startSim(t, Options{})
	root := rootAuth(t, s)
	createCTAs(t, s, root, 102, nil)
	path := filepath.Join(s.StateDir, "nodes/pve1/lxc/102.conf")
	lines := "lxc.idmap: u 0 100000 65536\nlxc.idmap: g 0 100000 33\nlxc.mount.entry: /dev/fuse dev/fuse none bind,create=file 0 0\n" +
		"lxc.idmap: g 33 33 1\nlxc.idmap: g 34 100034 65502\n"
	if err := os.WriteFile(path, []byte(readConf(t, s, 102)+lines), 0o640); err != nil {
		t.Fatal(err)
	}

	// PVE::LXC::Config::parse_pct_config keeps every valid lxc.* line, in
	// file order, as a [key, value] pair of $conf->{lxc}; the GET config
	// handler of PVE::API2::LXC::Config returns that array as "lxc" (the
	// schema in testdata/pve-api: an array of arrays of strings).
	want := "[[lxc.idmap u 0 100000 65536] [lxc.idmap g 0 100000 33] [lxc.mount.entry /dev/fuse dev/fuse none bind,create=file 0 0] " +
		"[lxc.idmap g 33 33 1] [lxc.idmap g 34 100034 65502]]"
	if got := fmt.Sprint(config(t, s, 102)["lxc"]); got != want {
		t.Fatalf("lxc = %s, want %s", got, want)
	}

	// PUT config takes only the options of json_config_properties (the
	// schema has no lxc.* property and no additional properties), so raw
	// lines cannot be set through the API, not even by root@pam
	// (PVE::API2::LXC::Config update_vm). Nor deleted: the delete list has
	// the format pve-configid-list, and PVE::JSONSchema::pve_verify_configid
	// refuses a name with a dot.
	for _, tc := range []struct {
		name string
		form url.Values
		want string
	}{
		{"set lxc.idmap", url.Values{"lxc.idmap": {"u 0 0 65536"}}, "lxc.idmap"},
		{"set lxc", url.Values{"lxc": {"lxc.idmap: u 0 0 65536"}}, "lxc"},
		{"delete lxc.idmap", url.Values{"delete": {"lxc.idmap"}}, "invalid configuration ID 'lxc.idmap'"},
	} {
		r := callWith(t, s, http.MethodPut, "/nodes/pve1/lxc/102/config", tc.form, root)
		if r.status != http.StatusBadRequest || !strings.Contains(r.raw, tc.want) {
			t.Errorf("%s: status %d, body %s; want 400 naming %q", tc.name, r.status, r.raw, tc.want)
		}
	}
	// Create has the same schema (json_config_properties): no raw lines.
	r := callWith(t, s, http.MethodPost, "/nodes/pve1/lxc", url.Values{
		"vmid": {"103"}, "ostemplate": {debianTemplate}, "rootfs": {"local-lvm:8"}, "lxc.idmap": {"u 0 0 65536"},
	}, root)
	if r.status != http.StatusBadRequest || !strings.Contains(r.raw, "property is not defined in schema") {
		t.Errorf("create with lxc.idmap: status %d, body %s; want 400", r.status, r.raw)
	}

	// An API write rewrites the file (write_pct_config) and keeps the raw
	// lines after the options, in order.
	callWith(t, s, http.MethodPut, "/nodes/pve1/lxc/102/config", url.Values{"cores": {"2"}}, root).ok(t)
	if got := readConf(t, s, 102); !strings.HasSuffix(got, "unprivileged: 1\n"+lines) {
		t.Fatalf("config file after an API write:\n%s", got)
	}
}
