package pvesim

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestInvalidRequests sends requests PVE refuses and checks each answer has
// PVE's status, reason phrase and body shape: 400 "Parameter verification
// failed." with {"data":null,"errors":{...}} for parameter errors, else the
// message as reason phrase and {"data":null}.
func TestInvalidRequests(t *testing.T) {
	s := startSim(t, Options{Nodes: []string{"pve1", "pve2"}})
	createCT(t, s, "pve1", 100, nil)
	createCT(t, s, "pve1", 101, nil)
	mustTask(t, s, call(t, s, http.MethodPost, "/nodes/pve1/lxc/100/status/start", nil).upid(t))

	create := func(extra url.Values) url.Values {
		f := url.Values{"vmid": {"110"}, "ostemplate": {debianTemplate}, "rootfs": {"local-lvm:8"}}
		for k, v := range extra {
			f[k] = v
		}
		return f
	}
	stale := strings.Repeat("0", 40)
	const ct101 = "/nodes/pve1/lxc/101"

	cases := []struct {
		name   string
		setup  func()
		method string
		path   string
		form   url.Values
		status int
		reason string // for non-400 answers
		param  string // for 400 answers: the parameter in "errors"
		msg    string // for 400 answers: substring of its message
	}{
		{name: "create without ostemplate", method: "POST", path: "/nodes/pve1/lxc", form: url.Values{"vmid": {"110"}}, status: 400, param: "ostemplate", msg: "property is missing"},
		{name: "create vmid below 100", method: "POST", path: "/nodes/pve1/lxc", form: create(url.Values{"vmid": {"99"}}), status: 400, param: "vmid"},
		{name: "create unknown parameter", method: "POST", path: "/nodes/pve1/lxc", form: create(url.Values{"shade": {"red"}}), status: 400, param: "shade", msg: "property is not defined in schema"},
		{name: "create memory not an integer", method: "POST", path: "/nodes/pve1/lxc", form: create(url.Values{"memory": {"lots"}}), status: 400, param: "memory", msg: "type check ('integer') failed"},
		{name: "create memory below minimum", method: "POST", path: "/nodes/pve1/lxc", form: create(url.Values{"memory": {"8"}}), status: 400, param: "memory"},
		{name: "create arch not in enum", method: "POST", path: "/nodes/pve1/lxc", form: create(url.Values{"arch": {"sparc"}}), status: 400, param: "arch"},
		{name: "create net0 without name", method: "POST", path: "/nodes/pve1/lxc", form: create(url.Values{"net0": {"bridge=vmbr0"}}), status: 400, param: "net0"},
		{name: "create net0 bad ip", method: "POST", path: "/nodes/pve1/lxc", form: create(url.Values{"net0": {"name=eth0,ip=300.1.1.1/24"}}), status: 400, param: "net0"},
		{name: "create rootfs unknown key", method: "POST", path: "/nodes/pve1/lxc", form: create(url.Values{"rootfs": {"local-lvm:8,speed=fast"}}), status: 400, param: "rootfs"},
		{name: "create features bad boolean", method: "POST", path: "/nodes/pve1/lxc", form: create(url.Values{"features": {"nesting=2"}}), status: 400, param: "features"},
		{name: "create unprivileged not boolean", method: "POST", path: "/nodes/pve1/lxc", form: create(url.Values{"unprivileged": {"maybe"}}), status: 400, param: "unprivileged"},
		{name: "create unknown storage", method: "POST", path: "/nodes/pve1/lxc", form: create(url.Values{"rootfs": {"tank:8"}}), status: 500, reason: "storage 'tank' does not exist"},
		{name: "create on storage without rootdir", method: "POST", path: "/nodes/pve1/lxc", form: url.Values{"vmid": {"110"}, "ostemplate": {debianTemplate}}, status: 400, param: "storage", msg: "storage 'local' does not support container directories"},
		{name: "create duplicate vmid", method: "POST", path: "/nodes/pve2/lxc", form: create(url.Values{"vmid": {"100"}}), status: 500, reason: "CT 100 already exists on node 'pve1'"},
		{name: "create from an ISO", method: "POST", path: "/nodes/pve1/lxc", form: create(url.Values{"ostemplate": {"local:iso/debian.iso"}}), status: 500, reason: "unable to use volume local:iso/debian.iso - content type needs to be 'vztmpl'"},
		{name: "create template on unknown storage", method: "POST", path: "/nodes/pve1/lxc", form: create(url.Values{"ostemplate": {"nfs:vztmpl/x.tar.zst"}}), status: 500, reason: "storage 'nfs' does not exist"},
		{name: "create with unknown pool", method: "POST", path: "/nodes/pve1/lxc", form: create(url.Values{"pool": {"prod"}}), status: 403, reason: "Permission check failed (pool 'prod' does not exist)"},
		{name: "config of missing CT", method: "GET", path: "/nodes/pve1/lxc/999/config", status: 500, reason: "Configuration file 'nodes/pve1/lxc/999.conf' does not exist"},
		{name: "CT asked on the wrong node", method: "GET", path: "/nodes/pve2/lxc/100/status/current", status: 500, reason: "Configuration file 'nodes/pve2/lxc/100.conf' does not exist"},
		{name: "unknown node", method: "GET", path: "/nodes/pve9/lxc", status: 500, reason: "hostname lookup 'pve9' failed - failed to get address info for: pve9: Name or service not known"},
		{name: "unknown path", method: "GET", path: "/nodes/pve1/wizard", status: 501, reason: "Method 'GET /nodes/pve1/wizard' not implemented"},
		{name: "update with stale digest", method: "PUT", path: ct101 + "/config", form: url.Values{"cores": {"2"}, "digest": {stale}}, status: 500, reason: "detected modified configuration - file changed by other user? Try again."},
		{name: "update without options", method: "PUT", path: ct101 + "/config", form: url.Values{}, status: 500, reason: "no options specified"},
		{name: "delete unknown option", method: "PUT", path: ct101 + "/config", form: url.Values{"delete": {"shade"}}, status: 400, param: "delete", msg: "unknown option 'shade'"},
		{name: "set and delete the same option", method: "PUT", path: ct101 + "/config", form: url.Values{"cores": {"2"}, "delete": {"cores"}}, status: 400, param: "delete", msg: "at the same time"},
		{name: "cores zero", method: "PUT", path: ct101 + "/config", form: url.Values{"cores": {"0"}}, status: 400, param: "cores"},
		{name: "delete rootfs", method: "PUT", path: ct101 + "/config", form: url.Values{"delete": {"rootfs"}}, status: 500, reason: "unable to delete required option 'rootfs'"},
		{name: "change unprivileged", method: "PUT", path: ct101 + "/config", form: url.Values{"unprivileged": {"0"}}, status: 500, reason: "unable to modify read-only option: 'unprivileged'"},
		{name: "update a locked CT", setup: func() { mustNil(t, s.AddFault(Fault{HoldLock: &LockFault{VMID: 101, Lock: "backup", Times: 1}})) }, method: "PUT", path: ct101 + "/config", form: url.Values{"cores": {"2"}}, status: 500, reason: "CT is locked (backup)"},
		{name: "shrink a disk", method: "PUT", path: ct101 + "/resize", form: url.Values{"disk": {"rootfs"}, "size": {"4G"}}, status: 500, reason: "unable to shrink disk size"},
		{name: "resize to the same size", method: "PUT", path: ct101 + "/resize", form: url.Values{"disk": {"rootfs"}, "size": {"8G"}}, status: 500, reason: "disk is already at specified size"},
		{name: "resize unknown disk", method: "PUT", path: ct101 + "/resize", form: url.Values{"disk": {"sda"}, "size": {"+1G"}}, status: 400, param: "disk"},
		{name: "resize bad size", method: "PUT", path: ct101 + "/resize", form: url.Values{"disk": {"rootfs"}, "size": {"big"}}, status: 400, param: "size"},
		{name: "start a running CT", method: "POST", path: "/nodes/pve1/lxc/100/status/start", status: 500, reason: "CT 100 already running"},
		{name: "stop a stopped CT", method: "POST", path: ct101 + "/status/stop", status: 500, reason: "CT 101 not running"},
		{name: "skiplock with a token", method: "POST", path: ct101 + "/status/start", form: url.Values{"skiplock": {"1"}}, status: 400, param: "skiplock", msg: "Only root may use this option."},
		{name: "destroy a running CT", method: "DELETE", path: "/nodes/pve1/lxc/100", status: 500, reason: "unable to destroy CT 100 - container is running"},
		{name: "clone onto an existing id", method: "POST", path: "/nodes/pve1/lxc/100/clone", form: url.Values{"newid": {"101"}}, status: 500, reason: "CT 101 already exists on node 'pve1'"},
		{name: "linked clone of a non-template", method: "POST", path: ct101 + "/clone", form: url.Values{"newid": {"120"}, "full": {"0"}}, status: 500, reason: "Linked clone feature for 'local-lvm:vm-101-disk-0' is not available"},
		{name: "clone to another node from local storage", method: "POST", path: ct101 + "/clone", form: url.Values{"newid": {"120"}, "target": {"pve2"}}, status: 500, reason: "can't clone CT to node 'pve2' (CT uses local storage)"},
		{name: "clone from missing snapshot", method: "POST", path: ct101 + "/clone", form: url.Values{"newid": {"120"}, "snapname": {"nope"}}, status: 500, reason: "snapshot 'nope' does not exist"},
		{name: "full clone of a running CT", method: "POST", path: "/nodes/pve1/lxc/100/clone", form: url.Values{"newid": {"120"}}, status: 500, reason: "Cannot do full clones on a running container without snapshots"},
		{name: "template of a running CT", method: "POST", path: "/nodes/pve1/lxc/100/template", status: 500, reason: "you can't convert a CT to template if the CT is running"},
		{name: "interfaces of a stopped CT", method: "GET", path: ct101 + "/interfaces", status: 500, reason: "CT 101 not running"},
		{name: "config of missing snapshot", method: "GET", path: ct101 + "/config", form: url.Values{"snapshot": {"nope"}}, status: 500, reason: "snapshot 'nope' does not exist"},
		{name: "nextid of a used id", method: "GET", path: "/cluster/nextid", form: url.Values{"vmid": {"100"}}, status: 400, param: "vmid", msg: "VM 100 already exists"},
		{name: "resources of unknown type", method: "GET", path: "/cluster/resources", form: url.Values{"type": {"pets"}}, status: 400, param: "type"},
		{name: "status of a malformed UPID", method: "GET", path: "/nodes/pve1/tasks/UPID:nope/status", status: 400, param: "upid"},
		{name: "content of unknown storage", method: "GET", path: "/nodes/pve1/storage/tank/content", status: 500, reason: "storage 'tank' does not exist"},
	}
	if len(cases) < 30 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.setup != nil {
				tc.setup()
			}
			r := call(t, s, tc.method, tc.path, tc.form)
			if r.status != tc.status {
				t.Fatalf("status %d %q, want %d; body %s", r.status, r.reason, tc.status, r.raw)
			}
			if d, ok := r.body["data"]; !ok || d != nil {
				t.Fatalf("body %s: want \"data\": null", r.raw)
			}
			if tc.status == http.StatusBadRequest {
				if r.reason != "Parameter verification failed." {
					t.Fatalf("reason %q", r.reason)
				}
				errs, _ := r.body["errors"].(map[string]any)
				msg, _ := errs[tc.param].(string)
				if msg == "" || !strings.Contains(msg, tc.msg) {
					t.Fatalf("errors %v: want %q containing %q", errs, tc.param, tc.msg)
				}
				return
			}
			if r.reason != tc.reason {
				t.Fatalf("reason %q, want %q", r.reason, tc.reason)
			}
			if len(r.body) != 1 {
				t.Fatalf("body %s: want only \"data\"", r.raw)
			}
		})
	}
	t.Logf("%d invalid requests refused", len(cases))

	// Nothing above changed the state: both CTs are as created.
	if got := s.srv.store.list("pve1"); len(got) != 2 {
		t.Fatalf("containers on pve1: %v", got)
	}
	if got := s.srv.store.list("pve2"); len(got) != 0 {
		t.Fatalf("containers on pve2: %v", got)
	}
	cfg := config(t, s, 101)
	if cfg["lock"] != nil || cfg["rootfs"] != "local-lvm:vm-101-disk-0,size=8G" {
		t.Fatalf("config of 101: %v", cfg)
	}
}

func mustNil(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
