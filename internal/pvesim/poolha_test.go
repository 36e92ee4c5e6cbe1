package pvesim

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// poolOfCT returns the pool /cluster/resources reports for a container.
func poolOfCT(t *testing.T, s *Sim, vmid int) string {
	t.Helper()
	for _, e := range call(t, s, http.MethodGet, "/cluster/resources", url.Values{"type": {"vm"}}).list(t) {
		m, _ := e.(map[string]any)
		if v, _ := m["vmid"].(float64); int(v) == vmid {
			p, _ := m["pool"].(string)
			return p
		}
	}
	t.Fatalf("CT %d not in /cluster/resources", vmid)
	return ""
}

// wantError requires an error answer with the given status and reason.
func wantError(t *testing.T, r apiResp, status int, reason string) {
	t.Helper()
	if r.status != status || r.reason != reason {
		t.Fatalf("got %d %q, want %d %q (body %s)", r.status, r.reason, status, reason, r.raw)
	}
}

// waitRunning waits until the container's run state is want.
func waitRunning(t *testing.T, s *Sim, vmid int, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := call(t, s, http.MethodGet, "/nodes/pve1/lxc/"+strconv.Itoa(vmid)+"/status/current", nil).obj(t)
		if st["status"] == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("CT %d is %v, want %s", vmid, st["status"], want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Creating into a pool follows PVE::API2::LXC create_vm: a missing pool is
// refused by RPCEnvironment::check_pool_exist before anything happens, an
// existing one is joined at the end (PVE::AccessControl::add_vm_to_pool).
func TestCreateIntoPool(t *testing.T) {
	s := startSim(t, Options{})
	r := call(t, s, http.MethodPost, "/nodes/pve1/lxc", url.Values{
		"vmid": {"300"}, "ostemplate": {debianTemplate}, "pool": {"prod"},
	})
	wantError(t, r, http.StatusForbidden, "Permission check failed (pool 'prod' does not exist)")

	call(t, s, http.MethodPost, "/pools", url.Values{"poolid": {"prod"}, "comment": {"production: web"}}).ok(t)
	createCT(t, s, "pve1", 300, url.Values{"pool": {"prod"}})
	if got := poolOfCT(t, s, 300); got != "prod" {
		t.Fatalf("pool %q, want prod", got)
	}
	one := call(t, s, http.MethodGet, "/pools/prod", nil).obj(t)
	if members, _ := one["members"].([]any); one["comment"] != "production: web" || len(members) != 1 {
		t.Fatalf("pool: %v", one)
	}
}

// PVE::API2::Pool update_pool: adding a member of another pool needs
// allow-move (and Pool.Allocate on the old pool); delete removes a member
// and refuses a guest that is not one; every error inside the user config
// lock comes back behind "update pools failed" (lock_user_config).
func TestPoolUpdateMembers(t *testing.T) {
	s := startSim(t, Options{})
	for _, p := range []string{"a", "b"} {
		call(t, s, http.MethodPost, "/pools", url.Values{"poolid": {p}}).ok(t)
	}
	wantError(t, call(t, s, http.MethodPost, "/pools", url.Values{"poolid": {"a"}}), http.StatusInternalServerError,
		"create pool failed: pool 'a' already exists")
	wantError(t, call(t, s, http.MethodPost, "/pools", url.Values{"poolid": {"9x"}}), http.StatusInternalServerError,
		"create pool failed: pool name must start with a letter")
	createCT(t, s, "pve1", 301, nil)
	call(t, s, http.MethodPut, "/pools/a", url.Values{"vms": {"301"}}).ok(t)
	if got := poolOfCT(t, s, 301); got != "a" {
		t.Fatalf("pool %q, want a", got)
	}
	wantError(t, call(t, s, http.MethodPut, "/pools/b", url.Values{"vms": {"301"}}), http.StatusInternalServerError,
		"update pools failed: VM 301 belongs already to pool 'a' and 'allow-move' is not set")
	call(t, s, http.MethodPut, "/pools", url.Values{"poolid": {"b"}, "vms": {"301"}, "allow-move": {"1"}}).ok(t)
	if got := poolOfCT(t, s, 301); got != "b" {
		t.Fatalf("pool %q after the move, want b", got)
	}
	wantError(t, call(t, s, http.MethodPut, "/pools/a", url.Values{"vms": {"301"}, "delete": {"1"}}), http.StatusInternalServerError,
		"update pools failed: VM 301 is not a pool member")
	wantError(t, call(t, s, http.MethodDelete, "/pools/b", nil), http.StatusInternalServerError,
		"delete pool failed: pool 'b' is not empty (contains VM 301)")
	call(t, s, http.MethodPut, "/pools/b", url.Values{"vms": {"301"}, "delete": {"1"}}).ok(t)
	if got := poolOfCT(t, s, 301); got != "" {
		t.Fatalf("pool %q after the removal, want none", got)
	}
	call(t, s, http.MethodDelete, "/pools/b", nil).ok(t)
	if n := len(call(t, s, http.MethodGet, "/pools", nil).list(t)); n != 1 {
		t.Fatalf("%d pools left, want 1", n)
	}
}

// Pool permissions: the methods' own check is Pool.Allocate on
// /pool/{poolid} (PVE::API2::Pool); update_pool then wants, per guest,
// RPCEnvironment::check_perm_modify (Permissions.Modify or VM.Allocate on
// /vms/{vmid}).
func TestPoolPermissions(t *testing.T) {
	s := startSim(t, Options{Access: tokenGrant(ProviderTokenID, "/pool/team", "PoolOnly", "Pool.Allocate,Pool.Audit")})
	call(t, s, http.MethodPost, "/pools", url.Values{"poolid": {"other"}}).ok(t)
	provider := tokenAuth(s.ProviderToken)
	wantError(t, callWith(t, s, http.MethodPost, "/pools", url.Values{"poolid": {"other2"}}, provider), http.StatusForbidden,
		"Permission check failed (/pool/other2, Pool.Allocate)")
	callWith(t, s, http.MethodPost, "/pools", url.Values{"poolid": {"team"}}, provider).ok(t)
	createCT(t, s, "pve1", 302, nil)
	callWith(t, s, http.MethodPut, "/pools/team", url.Values{"vms": {"302"}}, provider).ok(t)

	// A token that may allocate the pool but not the guest.
	s2 := startSim(t, Options{Access: []string{
		"user:pooladm@pve:1:0:::::pools:",
		"token:pooladm@pve!t:0:0::",
		"role:PoolOnly:Pool.Allocate:",
		"acl:1:/pool:pooladm@pve:PoolOnly:",
	}})
	call(t, s2, http.MethodPost, "/pools", url.Values{"poolid": {"p"}}).ok(t)
	createCT(t, s2, "pve1", 303, nil)
	tok := s2.Tokens["pooladm@pve!t"]
	wantError(t, callWith(t, s2, http.MethodPut, "/pools/p", url.Values{"vms": {"303"}}, tokenAuth(tok)), http.StatusInternalServerError,
		"update pools failed: Permission check failed (/vms/303, Permissions.Modify|VM.Allocate)")
}

// destroy_vm (PVE::API2::LXC) always takes the guest out of its pool
// (PVE::AccessControl::remove_vm_access), purge or not.
func TestDestroyLeavesPool(t *testing.T) {
	s := startSim(t, Options{})
	call(t, s, http.MethodPost, "/pools", url.Values{"poolid": {"p"}}).ok(t)
	createCT(t, s, "pve1", 304, url.Values{"pool": {"p"}})
	mustTask(t, s, call(t, s, http.MethodDelete, "/nodes/pve1/lxc/304", nil).upid(t))
	one := call(t, s, http.MethodGet, "/pools/p", nil).obj(t)
	if members, _ := one["members"].([]any); len(members) != 0 {
		t.Fatalf("pool still lists %d members", len(members))
	}
	// A new guest with the same ID is not in the pool.
	createCT(t, s, "pve1", 304, nil)
	if got := poolOfCT(t, s, 304); got != "" {
		t.Fatalf("new CT 304 is in pool %q", got)
	}
}

// HA resources (PVE::API2::HA::Resources): create checks the guest exists
// (PVE::HA::Resources::PVECT::exists), refuses a second resource and, on
// Proxmox VE 9, the group option (have_groups_been_migrated); the state is
// carried out by the HA stack; the permissions are Sys.Console on / to
// change and Sys.Audit on / to read.
func TestHAResources(t *testing.T) {
	s := startSim(t, Options{})
	wantError(t, call(t, s, http.MethodPost, "/cluster/ha/resources", url.Values{"sid": {"ct:310"}}), http.StatusInternalServerError,
		"resource 'ct:310' does not exist in cluster")
	wantError(t, call(t, s, http.MethodPost, "/cluster/ha/resources", url.Values{"sid": {"310"}}), http.StatusInternalServerError,
		"unable to detect SID from VMID - VM/CT 310 does not exist")
	createCT(t, s, "pve1", 310, nil)
	wantError(t, call(t, s, http.MethodPost, "/cluster/ha/resources", url.Values{"sid": {"ct:310"}, "group": {"g1"}}), http.StatusInternalServerError,
		"invalid parameter 'group': ha groups have been migrated to rules")
	call(t, s, http.MethodPost, "/cluster/ha/resources", url.Values{"sid": {"ct:310"}, "state": {"started"}, "max_restart": {"2"}, "comment": {"web"}}).ok(t)
	wantError(t, call(t, s, http.MethodPost, "/cluster/ha/resources", url.Values{"sid": {"310"}}), http.StatusInternalServerError,
		"create resource failed: resource ID 'ct:310' already defined")
	waitRunning(t, s, 310, "running")
	res := call(t, s, http.MethodGet, "/cluster/ha/resources/310", nil).obj(t)
	if res["sid"] != "ct:310" || res["state"] != "started" || res["max_restart"] != float64(2) || res["comment"] != "web" {
		t.Fatalf("resource: %v", res)
	}
	st := call(t, s, http.MethodGet, "/nodes/pve1/lxc/310/status/current", nil).obj(t)
	if ha, _ := st["ha"].(map[string]any); ha["managed"] != float64(1) {
		t.Fatalf("status ha: %v", st["ha"])
	}

	// A stale digest is refused (PVE::SectionConfig::assert_if_modified).
	wantError(t, call(t, s, http.MethodPut, "/cluster/ha/resources/ct:310", url.Values{"state": {"stopped"}, "digest": {strings.Repeat("0", 40)}}),
		http.StatusInternalServerError, "update resources config failed: detected modified configuration - file changed by other user? Try again.")
	call(t, s, http.MethodPut, "/cluster/ha/resources/ct:310", url.Values{"state": {"stopped"}, "delete": {"comment"}}).ok(t)
	waitRunning(t, s, 310, "stopped")
	res = call(t, s, http.MethodGet, "/cluster/ha/resources/ct:310", nil).obj(t)
	if _, has := res["comment"]; has || res["state"] != "stopped" {
		t.Fatalf("resource after update: %v", res)
	}

	// vm_start on an HA-managed container asks HA for the state
	// (PVE::API2::LXC::Status vm_start: "ha-manager set --state started").
	upid := call(t, s, http.MethodPost, "/nodes/pve1/lxc/310/status/start", nil).upid(t)
	if !strings.Contains(upid, ":hastart:") {
		t.Fatalf("start of an HA-managed CT ran %s, want a hastart task", upid)
	}
	mustTask(t, s, upid)
	waitRunning(t, s, 310, "running")
	if got := call(t, s, http.MethodGet, "/cluster/ha/resources/ct:310", nil).obj(t)["state"]; got != "started" {
		t.Fatalf("HA state after start: %v", got)
	}

	provider := tokenAuth(s.ProviderToken)
	wantError(t, callWith(t, s, http.MethodPut, "/cluster/ha/resources/ct:310", url.Values{"state": {"stopped"}}, provider),
		http.StatusForbidden, "Permission check failed (/, Sys.Console)")
	wantError(t, callWith(t, s, http.MethodGet, "/cluster/ha/resources", nil, provider),
		http.StatusForbidden, "Permission check failed (/, Sys.Audit)")

	wantError(t, call(t, s, http.MethodDelete, "/cluster/ha/resources/ct:311", nil), http.StatusInternalServerError,
		"cannot delete service 'ct:311', not HA managed!")
	call(t, s, http.MethodDelete, "/cluster/ha/resources/310", nil).ok(t)
	if n := len(call(t, s, http.MethodGet, "/cluster/ha/resources", nil).list(t)); n != 0 {
		t.Fatalf("%d HA resources left", n)
	}
}

// destroy_vm refuses a container with an HA resource unless purge is set,
// and with purge removes the resource (delete_service_from_config).
func TestDestroyHAManaged(t *testing.T) {
	s := startSim(t, Options{})
	createCT(t, s, "pve1", 312, nil)
	call(t, s, http.MethodPost, "/cluster/ha/resources", url.Values{"sid": {"ct:312"}, "state": {"stopped"}}).ok(t)
	r := call(t, s, http.MethodDelete, "/nodes/pve1/lxc/312", nil)
	wantError(t, r, http.StatusInternalServerError, "unable to remove CT 312 - used in HA resources and purge parameter not set.")
	mustTask(t, s, call(t, s, http.MethodDelete, "/nodes/pve1/lxc/312", url.Values{"purge": {"1"}}).upid(t))
	if n := len(call(t, s, http.MethodGet, "/cluster/ha/resources", nil).list(t)); n != 0 {
		t.Fatalf("%d HA resources left after a purge", n)
	}
}

// A role on /pool/{pool} alone: RPCEnvironment's compile_acl_path lends
// the roles a user or token holds on a pool to the pool's members
// (/vms/{vmid}, /storage/{storage}), not propagated further, with a
// NoAccess on the member's own path kept; create_vm accepts VM.Allocate on
// the pool it creates into, and check_ct_modify_config_perm checks the
// config keys with check_vm_perm on that pool, except tags, whose
// assert_tag_permissions (pve-guest-common) checks /vms/{vmid} only.
func TestPoolDelegatedPermissions(t *testing.T) {
	const tok = "pooluser@pve!t"
	s := startSim(t, Options{Access: slices.Concat(
		[]string{"user:pooluser@pve:1:0:::::pools:", "token:" + tok + ":0:1::"},
		tokenGrant(tok, "/pool/team", "PoolCT", "Datastore.AllocateSpace,Datastore.Audit,Pool.Audit,VM.Allocate,VM.Audit,"+
			"VM.Config.CPU,VM.Config.Disk,VM.Config.Memory,VM.Config.Network,VM.Config.Options,VM.PowerMgmt"),
		[]string{"acl:0:/vms/322:pooluser@pve:NoAccess:"},
		// Bridges are no pool members: SDN.Use stays an ACL of its own.
		tokenGrant(tok, "/sdn/zones/localnetwork/vmbr0", "Bridge", "SDN.Use"),
	)})
	call(t, s, http.MethodPost, "/pools", url.Values{"poolid": {"team"}}).ok(t)
	call(t, s, http.MethodPut, "/pools", url.Values{"poolid": {"team"}, "storage": {"local,local-lvm"}}).ok(t)
	auth := tokenAuth(s.Tokens[tok])

	// Into the pool: allowed; outside it: VM.Allocate on /vms/{vmid} lacks.
	createCTAs(t, s, auth, 320, url.Values{"pool": {"team"}, "memory": {"256"}})
	if got := poolOfCT(t, s, 320); got != "team" {
		t.Fatalf("pool %q, want team", got)
	}
	form := url.Values{"vmid": {"321"}, "ostemplate": {debianTemplate}, "rootfs": {"local-lvm:8"}}
	wantError(t, callWith(t, s, http.MethodPost, "/nodes/pve1/lxc", form, auth), http.StatusForbidden, "Permission check failed")
	form.Set("pool", "team")
	form.Set("tags", "web")
	wantError(t, callWith(t, s, http.MethodPost, "/nodes/pve1/lxc", form, auth), http.StatusForbidden,
		"Permission check failed (/vms/321, VM.Config.Options)")

	// The member is the token's to read, change and start; another
	// container is not.
	callWith(t, s, http.MethodGet, "/nodes/pve1/lxc/320/config", nil, auth).ok(t)
	callWith(t, s, http.MethodPut, "/nodes/pve1/lxc/320/config", url.Values{"memory": {"512"}}, auth).ok(t)
	mustTask(t, s, callWith(t, s, http.MethodPost, "/nodes/pve1/lxc/320/status/start", nil, auth).upid(t))
	createCT(t, s, "pve1", 323, nil)
	wantError(t, callWith(t, s, http.MethodGet, "/nodes/pve1/lxc/323/config", nil, auth), http.StatusForbidden,
		"Permission check failed (/vms/323, VM.Audit)")
	perms := callWith(t, s, http.MethodGet, "/access/permissions", nil, auth).obj(t)
	if m, _ := perms["/vms/320"].(map[string]any); m["VM.Config.Memory"] != float64(0) {
		t.Fatalf("/access/permissions of the member: %v", perms["/vms/320"])
	}
	if _, ok := perms["/vms/323"]; ok {
		t.Fatalf("/access/permissions lists the non-member: %v", perms["/vms/323"])
	}
	if _, ok := perms["/vms"]; ok {
		t.Fatalf("the pool's roles reach /vms: %v", perms["/vms"])
	}

	// NoAccess on the guest's own path trumps the pool's roles.
	createCT(t, s, "pve1", 322, url.Values{"pool": {"team"}})
	wantError(t, callWith(t, s, http.MethodGet, "/nodes/pve1/lxc/322/config", nil, auth), http.StatusForbidden,
		"Permission check failed (/vms/322, VM.Audit)")
}

// pve-manager's PVE::API2::Cluster resources leaves a guest's pool out for
// a caller without Pool.Audit on it.
func TestClusterResourcesPoolNeedsAudit(t *testing.T) {
	s := startSim(t, Options{Access: tokenGrant(ProviderTokenID, "/pool", "PoolAlloc", "Pool.Allocate")})
	call(t, s, http.MethodPost, "/pools", url.Values{"poolid": {"p"}}).ok(t)
	createCT(t, s, "pve1", 324, url.Values{"pool": {"p"}})
	for _, e := range callWith(t, s, http.MethodGet, "/cluster/resources", url.Values{"type": {"vm"}}, tokenAuth(s.ProviderToken)).list(t) {
		if m, _ := e.(map[string]any); m["vmid"] == float64(324) {
			if _, has := m["pool"]; has {
				t.Fatalf("pool shown without Pool.Audit: %v", m)
			}
			return
		}
	}
	t.Fatal("CT 324 not listed")
}

// hastateOf is the hastate /cluster/resources reports for container 330.
func hastateOf(t *testing.T, s *Sim) (string, bool) {
	const vmid = 330
	t.Helper()
	for _, e := range call(t, s, http.MethodGet, "/cluster/resources", url.Values{"type": {"vm"}}).list(t) {
		m, _ := e.(map[string]any)
		if v, _ := m["vmid"].(float64); int(v) == vmid {
			hs, ok := m["hastate"].(string)
			return hs, ok
		}
	}
	t.Fatalf("CT %d not in /cluster/resources", vmid)
	return "", false
}

// hastate in /cluster/resources (pve-manager's PVE::API2::Cluster
// resources): the CRM's service state from the manager status, else the
// state option of the resource's config; none without an HA resource. A
// started resource whose start fails goes to error (PVE::HA::Manager
// next_state_started), where a new request leaves it until it is disabled
// (next_state_error), which stops it; status/current reports the same
// state (PVE::HA::Config::get_service_status).
func TestHAStateInClusterResources(t *testing.T) {
	s := startSim(t, Options{})
	createCT(t, s, "pve1", 330, nil)
	if hs, ok := hastateOf(t, s); ok {
		t.Fatalf("hastate %q without an HA resource", hs)
	}
	call(t, s, http.MethodPost, "/cluster/ha/resources", url.Values{"sid": {"ct:330"}}).ok(t)
	waitRunning(t, s, 330, "running")
	if hs, _ := hastateOf(t, s); hs != "started" {
		t.Fatalf("hastate %q, want started", hs)
	}
	call(t, s, http.MethodPut, "/cluster/ha/resources/ct:330", url.Values{"state": {"ignored"}}).ok(t)
	if hs, _ := hastateOf(t, s); hs != "ignored" {
		t.Fatalf("hastate %q, want ignored (the config's state)", hs)
	}
	call(t, s, http.MethodPut, "/cluster/ha/resources/ct:330", url.Values{"state": {"disabled"}}).ok(t)
	waitRunning(t, s, 330, "stopped")
	if hs, _ := hastateOf(t, s); hs != "stopped" {
		t.Fatalf("hastate %q, want stopped", hs)
	}

	if err := s.AddFault(Fault{TaskFail: &TaskFault{Type: "vzstart", Message: "startup for container '330' failed"}}); err != nil {
		t.Fatal(err)
	}
	call(t, s, http.MethodPut, "/cluster/ha/resources/ct:330", url.Values{"state": {"started"}}).ok(t)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if hs, _ := hastateOf(t, s); hs == "error" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the failed start did not put the service in error")
		}
		time.Sleep(10 * time.Millisecond)
	}
	st := call(t, s, http.MethodGet, "/nodes/pve1/lxc/330/status/current", nil).obj(t)
	if ha, _ := st["ha"].(map[string]any); ha["state"] != "error" || ha["managed"] != float64(1) {
		t.Fatalf("status ha: %v", st["ha"])
	}
	s.ClearFaults()
	call(t, s, http.MethodPut, "/cluster/ha/resources/ct:330", url.Values{"state": {"started"}}).ok(t)
	if hs, _ := hastateOf(t, s); hs != "error" {
		t.Fatalf("hastate %q after a new request, want error", hs)
	}
	call(t, s, http.MethodPut, "/cluster/ha/resources/ct:330", url.Values{"state": {"disabled"}}).ok(t)
	if hs, _ := hastateOf(t, s); hs != "stopped" {
		t.Fatalf("hastate %q after disabling, want stopped", hs)
	}
	call(t, s, http.MethodDelete, "/cluster/ha/resources/ct:330", nil).ok(t)
	if hs, ok := hastateOf(t, s); ok {
		t.Fatalf("hastate %q after the removal", hs)
	}
}
