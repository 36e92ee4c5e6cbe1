package pvesim

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// limitedAccess gives user limited@pve and its privilege-separated token
// limited@pve!t ProviderRole on "/" minus the privileges named.
func limitedAccess(without ...string) []string {
	var privs []string
	for _, p := range ProviderRolePrivileges {
		if !slices.Contains(without, p) {
			privs = append(privs, p)
		}
	}
	return []string{
		"user:limited@pve:1:0::::::",
		"token:limited@pve!t:0:1::",
		"role:Limited:" + strings.Join(privs, ",") + ":",
		"acl:1:/:limited@pve:Limited:",
		"acl:1:/:limited@pve!t:Limited:",
	}
}

// wantDenied fails unless r is PVE's 403 for raise_perm_exc(what).
func wantDenied(t *testing.T, r apiResp, what string) {
	t.Helper()
	want := "Permission check failed"
	if what != "" {
		want += " (" + what + ")"
	}
	if r.status != http.StatusForbidden || r.reason != want {
		t.Fatalf("got %d %q, want 403 %q", r.status, r.reason, want)
	}
}

func createForm(vmid string, extra url.Values) url.Values {
	form := url.Values{
		"vmid": {vmid}, "ostemplate": {debianTemplate}, "rootfs": {"local-lvm:8"},
		"hostname": {"ct" + vmid}, "net0": {"name=eth0,bridge=vmbr0,ip=dhcp"},
	}
	for k, v := range extra {
		form[k] = v
	}
	return form
}

// TestFeaturesOtherThanNestingOnlyForRootPam follows pve-container's
// PVE::LXC::check_ct_modify_config_perm (features branch): a feature flag
// other than nesting may be set only by root@pam itself, whatever the
// caller's ACLs; root@pam's own token (no privilege separation, every
// privilege) is not root@pam.
func TestFeaturesOtherThanNestingOnlyForRootPam(t *testing.T) {
	s := startSim(t, Options{})
	const msg = "changing feature flags (except nesting) is only allowed for root@pam"
	for name, token := range map[string]string{"least-privilege token": s.ProviderToken, "root@pam's token": s.APIToken} {
		r := callWith(t, s, http.MethodPost, "/nodes/pve1/lxc", createForm("100", url.Values{"features": {"nesting=1,keyctl=1"}}), tokenAuth(token))
		if r.status != http.StatusForbidden || r.reason != "Permission check failed ("+msg+")" {
			t.Fatalf("%s: got %d %q", name, r.status, r.reason)
		}
	}
	if _, found := s.srv.store.findVMID(100); found {
		t.Fatal("a refused create left a config behind")
	}
	// root@pam logged in with a ticket may.
	createCTAs(t, s, rootAuth(t, s), 100, url.Values{"features": {"nesting=1,keyctl=1"}})
	if f := config(t, s, 100)["features"]; f != "keyctl=1,nesting=1" {
		t.Fatalf("features %v", f)
	}
	// nesting alone is fine for a token (it then needs VM.Allocate).
	createCTAs(t, s, tokenAuth(s.ProviderToken), 101, url.Values{"features": {"nesting=1"}})

	// A change is a flag whose old and new values differ.
	put := func(features string) apiResp {
		return callWith(t, s, http.MethodPut, "/nodes/pve1/lxc/100/config", url.Values{"features": {features}}, tokenAuth(s.ProviderToken))
	}
	put("keyctl=1,nesting=1").ok(t)                      // nothing changes
	put("nesting=0,keyctl=1").ok(t)                      // only nesting changes
	wantDenied(t, put("nesting=0"), msg)                 // keyctl goes from 1 to absent
	wantDenied(t, put("nesting=0,keyctl=1,fuse=1"), msg) // fuse appears
	r := callWith(t, s, http.MethodPut, "/nodes/pve1/lxc/100/config", url.Values{"delete": {"features"}}, tokenAuth(s.ProviderToken))
	wantDenied(t, r, msg) // deleting drops keyctl
	if f := config(t, s, 100)["features"]; f != "keyctl=1,nesting=0" {
		t.Fatalf("features after the refused changes: %v", f)
	}
}

// TestPrivilegedContainerRules follows create_vm (Sys.Modify on "/" for a
// privileged container) and check_ct_modify_config_perm (features of a
// privileged container are root@pam's only).
func TestPrivilegedContainerRules(t *testing.T) {
	s := startSim(t, Options{Access: []string{
		"role:SysModify:Sys.Modify:",
		"acl:1:/:phoenix@pve:SysModify:",
		"acl:1:/:" + ProviderTokenID + ":" + ProviderRole + ",SysModify:",
	}, APIToken: ""})
	s2 := startSim(t, Options{})
	r := callWith(t, s2, http.MethodPost, "/nodes/pve1/lxc", createForm("100", url.Values{"unprivileged": {"0"}}), tokenAuth(s2.ProviderToken))
	wantDenied(t, r, "/, Sys.Modify")

	r = callWith(t, s, http.MethodPost, "/nodes/pve1/lxc", createForm("100", url.Values{"unprivileged": {"0"}, "features": {"nesting=1"}}), tokenAuth(s.ProviderToken))
	wantDenied(t, r, "changing feature flags for privileged container is only allowed for root@pam")
	createCTAs(t, s, tokenAuth(s.ProviderToken), 100, url.Values{"unprivileged": {"0"}})
}

// TestNonVolumeMountPointsOnlyForRootPam follows check_ct_modify_config_perm
// (rootfs/mp[n] branch): bind and device mount points are root@pam's only.
func TestNonVolumeMountPointsOnlyForRootPam(t *testing.T) {
	s := startSim(t, Options{})
	createCTAs(t, s, tokenAuth(s.ProviderToken), 100, nil)
	for vol, typ := range map[string]string{"/srv/data": "bind", "/dev/sdb1": "device"} {
		r := callWith(t, s, http.MethodPut, "/nodes/pve1/lxc/100/config", url.Values{"mp0": {vol + ",mp=/data"}}, tokenAuth(s.APIToken))
		wantDenied(t, r, "mount point type "+typ+" is only allowed for root@pam")
		r = callWith(t, s, http.MethodPost, "/nodes/pve1/lxc", createForm("101", url.Values{"mp0": {vol + ",mp=/data"}}), tokenAuth(s.ProviderToken))
		wantDenied(t, r, "mount point type "+typ+" is only allowed for root@pam")
	}
	// A new volume is the token's to allocate (Datastore.AllocateSpace).
	callWith(t, s, http.MethodPut, "/nodes/pve1/lxc/100/config", url.Values{"mp0": {"local-lvm:1,mp=/data"}}, tokenAuth(s.ProviderToken)).ok(t)
	// root@pam may bind-mount.
	callWith(t, s, http.MethodPut, "/nodes/pve1/lxc/100/config", url.Values{"mp1": {"/srv/data,mp=/srv"}}, rootAuth(t, s)).ok(t)
	// A bare size is checked before it becomes storage:size: only root.
	r := callWith(t, s, http.MethodPost, "/nodes/pve1/lxc", createForm("102", url.Values{"rootfs": {"4"}, "storage": {"local-lvm"}}), tokenAuth(s.ProviderToken))
	if r.status != http.StatusInternalServerError || r.reason != "Only root can pass arbitrary filesystem paths." {
		t.Fatalf("bare rootfs size: %d %q", r.status, r.reason)
	}
}

// TestDevicesAndHookscriptOnlyForRootPam follows check_ct_modify_config_perm
// (dev[n] and hookscript branches).
func TestDevicesAndHookscriptOnlyForRootPam(t *testing.T) {
	s := startSim(t, Options{})
	createCTAs(t, s, tokenAuth(s.ProviderToken), 100, nil)
	put := func(auth func(*http.Request), k, v string) apiResp {
		return callWith(t, s, http.MethodPut, "/nodes/pve1/lxc/100/config", url.Values{k: {v}}, auth)
	}
	wantDenied(t, put(tokenAuth(s.APIToken), "dev0", "/dev/dri/renderD128,gid=104"), "configuring device passthrough is only allowed for root@pam")
	wantDenied(t, put(tokenAuth(s.ProviderToken), "hookscript", "local:snippets/hook.pl"), "changing the hookscript is only allowed for root@pam")
	put(rootAuth(t, s), "dev0", "/dev/dri/renderD128,gid=104").ok(t)
	r := callWith(t, s, http.MethodPut, "/nodes/pve1/lxc/100/config", url.Values{"delete": {"dev0"}}, tokenAuth(s.ProviderToken))
	wantDenied(t, r, "configuring device passthrough is only allowed for root@pam")
}

// TestMissingPrivilegeNamed follows check_ct_modify_config_perm (memory
// needs VM.Config.Memory through RPCEnvironment::check_vm_perm) and
// RPCEnvironment::check's message: the path and the missing privilege.
func TestMissingPrivilegeNamed(t *testing.T) {
	s := startSim(t, Options{Access: limitedAccess("VM.Config.Memory")})
	limited := tokenAuth(s.Tokens["limited@pve!t"])
	createCTAs(t, s, tokenAuth(s.ProviderToken), 100, nil)
	r := callWith(t, s, http.MethodPut, "/nodes/pve1/lxc/100/config", url.Values{"memory": {"1024"}}, limited)
	wantDenied(t, r, "/vms/100, VM.Config.Memory")
	r = callWith(t, s, http.MethodPost, "/nodes/pve1/lxc", createForm("101", url.Values{"memory": {"1024"}}), limited)
	wantDenied(t, r, "/vms/101, VM.Config.Memory")
	callWith(t, s, http.MethodPut, "/nodes/pve1/lxc/100/config", url.Values{"cores": {"2"}}, limited).ok(t)
}

// TestEndpointPermissions follows RPCEnvironment::check_api2_permissions
// with the methods' permission members (check, check_any, and/or).
func TestEndpointPermissions(t *testing.T) {
	cases := []struct {
		without      string
		method, path string
		form         url.Values
		what         string
	}{
		{"VM.PowerMgmt", http.MethodPost, "/nodes/pve1/lxc/100/status/start", nil, "/vms/100, VM.PowerMgmt"},
		{"VM.Audit", http.MethodGet, "/nodes/pve1/lxc/100/config", nil, "/vms/100, VM.Audit"},
		{"VM.Allocate", http.MethodDelete, "/nodes/pve1/lxc/100", nil, "/vms/100, VM.Allocate"},
		{"VM.Clone", http.MethodPost, "/nodes/pve1/lxc/100/clone", url.Values{"newid": {"105"}}, "/vms/100, VM.Clone"},
		{"VM.Audit", http.MethodGet, "/nodes/pve1/lxc/100/status/current", nil, "/vms/100, VM.Audit"},
		{"Datastore.AllocateSpace", http.MethodPost, "/nodes/pve1/lxc", createForm("101", nil), "/storage/local-lvm, Datastore.AllocateSpace"},
		{"SDN.Use", http.MethodPost, "/nodes/pve1/lxc", createForm("101", nil), "/sdn/zones/localnetwork/vmbr0, SDN.Use"},
		{"VM.Config.Network", http.MethodPost, "/nodes/pve1/lxc", createForm("101", nil), "/vms/101, VM.Config.Network"},
		// Allocating needs VM.Allocate; PVE then names nothing.
		{"VM.Allocate", http.MethodPost, "/nodes/pve1/lxc", createForm("101", nil), ""},
		// Resizing needs VM.Config.Options too: "disk" falls in the default branch.
		{"VM.Config.Options", http.MethodPut, "/nodes/pve1/lxc/100/resize", url.Values{"disk": {"rootfs"}, "size": {"+1G"}}, "/vms/100, VM.Config.Options"},
	}
	for _, tc := range cases {
		t.Run(tc.without+" "+tc.method+" "+tc.path, func(t *testing.T) {
			s := startSim(t, Options{Access: limitedAccess(tc.without)})
			createCTAs(t, s, tokenAuth(s.ProviderToken), 100, nil)
			r := callWith(t, s, tc.method, tc.path, tc.form, tokenAuth(s.Tokens["limited@pve!t"]))
			wantDenied(t, r, tc.what)
			// The same call with the full role goes through.
			if r := callWith(t, s, tc.method, tc.path, tc.form, tokenAuth(s.ProviderToken)); r.status != http.StatusOK {
				t.Fatalf("with %s: %d %q", ProviderRole, r.status, r.reason)
			}
		})
	}
	// The "any" form names every privilege it would have accepted.
	s := startSim(t, Options{Access: []string{"user:a@pve:1:0::::::", "token:a@pve!t:0:0::", "acl:1:/:a@pve:PVEAuditor:"}})
	createCTAs(t, s, tokenAuth(s.ProviderToken), 100, nil)
	r := callWith(t, s, http.MethodPut, "/nodes/pve1/lxc/100/config", url.Values{"cores": {"2"}}, tokenAuth(s.Tokens["a@pve!t"]))
	wantDenied(t, r, "/vms/100, VM.Config.Disk|VM.Config.CPU|VM.Config.Memory|VM.Config.Network|VM.Config.Options")
}

// TestACLInheritance follows PVE::AccessControl::roles: ancestors count
// only when they propagate, deeper paths replace, a user's entries beat its
// groups', NoAccess cancels; and RPCEnvironment::permissions: a
// privilege-separated token has at most its user's privileges.
func TestACLInheritance(t *testing.T) {
	s := startSim(t, Options{Access: []string{
		"user:u@pve:1:0::::::",
		"token:u@pve!sep:0:1::",
		"token:u@pve!full:0:0::",
		"group:ops:u@pve::",
		"acl:1:/vms:@ops:PVEVMAdmin:",
		"acl:0:/storage:u@pve:PVEDatastoreAdmin:",
		"acl:1:/vms/200:u@pve:PVEAuditor:",
		"acl:1:/vms/300:u@pve:NoAccess,PVEVMAdmin:",
		"acl:1:/:u@pve!sep:Administrator:",
	}})
	a := s.srv.access
	has := func(id, path, priv string) bool { _, ok := a.permissions(id, path, nil)[priv]; return ok }
	checks := []struct {
		id, path, priv string
		want           bool
	}{
		{"u@pve", "/vms/100", "VM.Allocate", true},               // group ACL propagates from /vms
		{"u@pve", "/vms/200", "VM.Allocate", false},              // deeper user ACL replaces it
		{"u@pve", "/vms/200", "VM.Audit", true},                  //
		{"u@pve", "/vms/300", "VM.Audit", false},                 // NoAccess cancels the other role
		{"u@pve", "/storage", "Datastore.Allocate", true},        // the path itself
		{"u@pve", "/storage/local", "Datastore.Allocate", false}, // propagate=0
		{"u@pve!full", "/vms/100", "VM.Allocate", true},          // no privsep: the user's
		{"u@pve!sep", "/vms/100", "VM.Allocate", true},           // Administrator ∩ user
		{"u@pve!sep", "/", "Sys.Modify", false},                  // never more than the user
		{"u@pve!sep", "/vms/200", "VM.Allocate", false},          //
		{"root@pam", "/anything", "Sys.Modify", true},
		{"root@pam!phoenix", "/", "Sys.Modify", true}, // ACL-wise root's token has everything
	}
	for _, c := range checks {
		if got := has(c.id, c.path, c.priv); got != c.want {
			t.Errorf("%s on %s has %s: %v, want %v", c.id, c.path, c.priv, got, c.want)
		}
	}
}

// TestAccessPermissionsEndpoint follows API2/AccessControl.pm permissions
// and RPCEnvironment::get_effective_permissions.
func TestAccessPermissionsEndpoint(t *testing.T) {
	s := startSim(t, Options{})
	r := callWith(t, s, http.MethodGet, "/access/permissions", nil, tokenAuth(s.ProviderToken)).obj(t)
	root, ok := r["/"].(map[string]any)
	if !ok || len(root) != len(ProviderRolePrivileges) {
		t.Fatalf("permissions of the provider token: %v", r)
	}
	for _, p := range ProviderRolePrivileges {
		if root[p] != float64(1) {
			t.Errorf("%s: %v, want 1 (propagated)", p, root[p])
		}
	}
	r = callWith(t, s, http.MethodGet, "/access/permissions", url.Values{"path": {"/vms/100"}}, tokenAuth(s.ProviderToken)).obj(t)
	if vm, _ := r["/vms/100"].(map[string]any); vm["VM.Allocate"] != float64(1) || vm["Sys.Modify"] != nil {
		t.Fatalf("permissions on /vms/100: %v", r)
	}
	// Another user's permissions need Sys.Audit on /access.
	wantDenied(t, callWith(t, s, http.MethodGet, "/access/permissions", url.Values{"userid": {"root@pam"}}, tokenAuth(s.ProviderToken)), "/access, Sys.Audit")
	// A user may read its own tokens'.
	callWith(t, s, http.MethodGet, "/access/permissions", url.Values{"userid": {ProviderTokenID}}, rootAuth(t, s)).ok(t)
}

// TestStartAfterCreateIsItsOwnTask follows create_vm: with start=1 the
// vzcreate worker calls vm_start, which forks a vzstart task.
func TestStartAfterCreateIsItsOwnTask(t *testing.T) {
	s := startSim(t, Options{})
	upid := callWith(t, s, http.MethodPost, "/nodes/pve1/lxc", createForm("100", url.Values{"start": {"1"}}), tokenAuth(s.ProviderToken)).upid(t)
	if !strings.Contains(upid, ":vzcreate:100:"+ProviderTokenID+":") {
		t.Fatalf("create UPID %s", upid)
	}
	mustTask(t, s, upid)
	deadline := time.Now().Add(5 * time.Second)
	for {
		tasks := callWith(t, s, http.MethodGet, "/nodes/pve1/tasks", url.Values{"vmid": {"100"}}, tokenAuth(s.ProviderToken)).list(t)
		var types []string
		for _, e := range tasks {
			m, _ := e.(map[string]any)
			types = append(types, fmt.Sprint(m["type"], ":", m["status"]))
		}
		if slices.Contains(types, "vzstart:OK") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no vzstart task after create with start=1: %v", types)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestTaskOwnership follows API2/Tasks.pm read_task_status: a task is its
// user's and its tokens'; others need Sys.Audit on the node.
func TestTaskOwnership(t *testing.T) {
	s := startSim(t, Options{Access: []string{
		"user:other@pve:1:0::::::", "token:other@pve!t:0:0::", "acl:1:/vms:other@pve:PVEVMAdmin:",
	}})
	upid := callWith(t, s, http.MethodPost, "/nodes/pve1/lxc", createForm("100", nil), tokenAuth(s.ProviderToken)).upid(t)
	mustTask(t, s, upid)
	path := "/nodes/pve1/tasks/" + url.PathEscape(upid) + "/status"
	callWith(t, s, http.MethodGet, path, nil, tokenAuth(s.ProviderToken)).ok(t)
	wantDenied(t, callWith(t, s, http.MethodGet, path, nil, tokenAuth(s.Tokens["other@pve!t"])), "/nodes/pve1, Sys.Audit")
	// The list hides it too; /cluster/resources hides what VM.Audit does not cover.
	if l := callWith(t, s, http.MethodGet, "/nodes/pve1/tasks", nil, tokenAuth(s.Tokens["other@pve!t"])).list(t); len(l) != 0 {
		t.Fatalf("other's task list: %v", l)
	}
	s2 := startSim(t, Options{Access: []string{
		"user:v@pve:1:0::::::", "token:v@pve!t:0:0::", "acl:1:/vms/101:v@pve:PVEAuditor:",
	}})
	createCTAs(t, s2, tokenAuth(s2.ProviderToken), 100, nil)
	createCTAs(t, s2, tokenAuth(s2.ProviderToken), 101, nil)
	res := callWith(t, s2, http.MethodGet, "/cluster/resources", nil, tokenAuth(s2.Tokens["v@pve!t"])).list(t)
	var seen []string
	for _, e := range res {
		m, _ := e.(map[string]any)
		seen = append(seen, fmt.Sprint(m["id"]))
		if m["type"] == "node" && m["maxmem"] != nil {
			t.Errorf("node figures without Sys.Audit: %v", m)
		}
	}
	if !slices.Equal(seen, []string{"lxc/101", "node/pve1"}) {
		t.Fatalf("cluster resources seen by an auditor of 101 only: %v", seen)
	}
}
