package pvesim

import (
	"bufio"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// Proxmox VE's access control as pve-access-control implements it
// (PVE::AccessControl, PVE::RPCEnvironment): users, API tokens with and
// without privilege separation, groups, roles and ACLs on paths, with PVE's
// inheritance rules. The configuration is user.cfg's line format:
//
//	user:<userid>:<enable>:<expire>:<firstname>:<lastname>:<email>:<comment>:<keys>:
//	token:<user@realm!name>:<expire>:<privsep>:<comment>:
//	group:<groupid>:<members,...>:<comment>:
//	role:<roleid>:<privileges,...>:
//	acl:<propagate>:<path>:<users,@groups,tokens>:<roles,...>:

// Privileges of Proxmox VE 9 (PVE::AccessControl $privgroups plus
// Permissions.Modify), by category and level as create_roles uses them.
var privGroups = []struct {
	cat                      string
	root, admin, user, audit []string
}{
	{"VM", nil,
		[]string{"VM.Config.Disk", "VM.Config.CPU", "VM.Config.Memory", "VM.Config.Network", "VM.Config.HWType", "VM.Config.Options",
			"VM.Allocate", "VM.Clone", "VM.GuestAgent.Unrestricted", "VM.Migrate", "VM.Replicate", "VM.Snapshot", "VM.Snapshot.Rollback"},
		[]string{"VM.Config.CDROM", "VM.Config.Cloudinit", "VM.Console", "VM.Backup", "VM.GuestAgent.FileRead",
			"VM.GuestAgent.FileSystemMgmt", "VM.GuestAgent.FileWrite", "VM.PowerMgmt"},
		[]string{"VM.Audit", "VM.GuestAgent.Audit"}},
	{"Sys", []string{"Sys.PowerMgmt", "Sys.Modify", "Sys.Incoming", "Sys.AccessNetwork"},
		[]string{"Sys.Console", "Sys.Syslog"}, nil, []string{"Sys.Audit"}},
	{"Datastore", nil, []string{"Datastore.Allocate", "Datastore.AllocateTemplate"},
		[]string{"Datastore.AllocateSpace"}, []string{"Datastore.Audit"}},
	{"SDN", nil, []string{"SDN.Allocate", "SDN.Audit"}, []string{"SDN.Use"}, []string{"SDN.Audit"}},
	{"User", []string{"Realm.Allocate"}, []string{"User.Modify", "Group.Allocate", "Realm.AllocateUser"}, nil, nil},
	{"Pool", nil, []string{"Pool.Allocate"}, []string{"Pool.Audit"}, []string{"Pool.Audit"}},
	{"Mapping", nil, []string{"Mapping.Modify"}, []string{"Mapping.Use"}, []string{"Mapping.Audit"}},
}

// allPrivileges is every valid privilege (Administrator's set).
var allPrivileges = func() map[string]bool {
	all := map[string]bool{"Permissions.Modify": true}
	for _, g := range privGroups {
		for _, l := range [][]string{g.root, g.admin, g.user, g.audit} {
			for _, p := range l {
				all[p] = true
			}
		}
	}
	return all
}()

// builtinRoles follows create_roles: PVE<Cat>Admin, PVE<Cat>User (where the
// category has user privileges), PVEAuditor, PVEAdmin, PVETemplateUser,
// Administrator and NoAccess.
var builtinRoles = func() map[string]map[string]bool {
	set := func(lists ...[]string) map[string]bool {
		m := map[string]bool{}
		for _, l := range lists {
			for _, p := range l {
				m[p] = true
			}
		}
		return m
	}
	roles := map[string]map[string]bool{
		"Administrator":   allPrivileges,
		"NoAccess":        {},
		"PVETemplateUser": set([]string{"VM.Clone", "VM.Audit"}),
	}
	auditor, admin := map[string]bool{}, map[string]bool{}
	for _, g := range privGroups {
		roles["PVE"+g.cat+"Admin"] = set(g.admin, g.user, g.audit)
		if len(g.user) > 0 {
			roles["PVE"+g.cat+"User"] = set(g.user, g.audit)
		}
		for _, p := range g.audit {
			auditor[p] = true
		}
		for p := range set(g.admin, g.user, g.audit) {
			admin[p] = true
		}
	}
	delete(admin, "Mapping.Modify")
	roles["PVEAuditor"] = auditor
	roles["PVEAdmin"] = admin
	return roles
}()

// rootPam is the one identity PVE exempts from every permission check.
const rootPam = "root@pam"

// ProviderRole is the role the simulator's least-privilege token holds on
// "/": what docs/guides/permissions.md recommends for the provider.
const ProviderRole = "PhoenixProvider"

// ProviderRolePrivileges are ProviderRole's privileges.
var ProviderRolePrivileges = []string{
	"Datastore.AllocateSpace",
	"SDN.Use",
	"VM.Allocate", "VM.Audit", "VM.Clone",
	"VM.Config.CPU", "VM.Config.Disk", "VM.Config.Memory", "VM.Config.Network", "VM.Config.Options",
	"VM.PowerMgmt",
}

// ProviderTokenID is the least-privilege, privilege-separated token.
const ProviderTokenID = "phoenix@pve!provider"

// defaultAccess is the simulated cluster's user.cfg before Options.Access:
// root@pam with a full-privilege token (no privilege separation), and a
// user phoenix@pve whose privilege-separated token holds ProviderRole.
func defaultAccess(rootTokenID string) []string {
	return []string{
		"user:root@pam:1:0:::root@pvesim.invalid:::",
		"token:" + rootTokenID + ":0:0::",
		"user:phoenix@pve:1:0:::::Terraform provider:",
		"token:" + ProviderTokenID + ":0:1::",
		"role:" + ProviderRole + ":" + strings.Join(ProviderRolePrivileges, ",") + ":",
		"acl:1:/:phoenix@pve:" + ProviderRole + ":",
		"acl:1:/:" + ProviderTokenID + ":" + ProviderRole + ":",
	}
}

type accessUser struct {
	id      string
	enabled bool
	tokens  map[string]*accessToken // by token name
}

type accessToken struct {
	privsep bool
	secret  string
}

// aclEntry is one member of an acl line.
type aclEntry struct {
	kind      byte // 'u' user, 'g' group, 't' token
	id        string
	role      string
	propagate bool
}

// accessConfig is the parsed user.cfg.
type accessConfig struct {
	users  map[string]*accessUser
	groups map[string]map[string]bool // group -> member userids
	roles  map[string]map[string]bool
	acl    map[string][]aclEntry // normalised path -> entries
}

func newAccessConfig() *accessConfig {
	a := &accessConfig{
		users:  map[string]*accessUser{},
		groups: map[string]map[string]bool{},
		roles:  map[string]map[string]bool{},
		acl:    map[string][]aclEntry{},
	}
	for k, v := range builtinRoles {
		a.roles[k] = v
	}
	return a
}

// normalizePath is PVE::AccessControl::normalize_path: "//" collapsed, no
// trailing "/", a leading "/".
func normalizePath(p string) string {
	for strings.Contains(p, "//") {
		p = strings.ReplaceAll(p, "//", "/")
	}
	if p != "/" {
		p = strings.TrimSuffix(p, "/")
	}
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return p
}

// parseAccess reads user.cfg lines on top of a; later lines for the same
// user, group or role replace earlier ones, acl lines add up.
func (a *accessConfig) parse(text string) error {
	sc := bufio.NewScanner(strings.NewReader(text))
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, ":")
		bad := func(why string) error { return fmt.Errorf("user.cfg line %d (%q): %s", n, line, why) }
		switch f[0] {
		case "user":
			if len(f) < 3 || !strings.Contains(f[1], "@") {
				return bad("want user:<user@realm>:<enable>:...")
			}
			u := a.users[f[1]]
			if u == nil {
				u = &accessUser{id: f[1], tokens: map[string]*accessToken{}}
				a.users[f[1]] = u
			}
			u.enabled = f[2] != "0"
		case "token":
			if len(f) < 4 {
				return bad("want token:<user@realm!name>:<expire>:<privsep>:<comment>:")
			}
			user, name, ok := strings.Cut(f[1], "!")
			if !ok || name == "" || a.users[user] == nil {
				return bad("the token's user must be defined first")
			}
			a.users[user].tokens[name] = &accessToken{privsep: f[3] != "0"}
		case "group":
			if len(f) < 3 {
				return bad("want group:<groupid>:<members>:<comment>:")
			}
			m := map[string]bool{}
			for _, u := range splitList(f[2]) {
				m[u] = true
			}
			a.groups[f[1]] = m
		case "role":
			if len(f) < 3 || strings.HasPrefix(f[1], "PVE") && builtinRoles[f[1]] != nil {
				return bad("want role:<roleid>:<privileges>: (the PVE* roles are built in)")
			}
			privs := map[string]bool{}
			for _, p := range splitList(f[2]) {
				if !allPrivileges[p] {
					return bad(fmt.Sprintf("invalid privilege '%s'", p))
				}
				privs[p] = true
			}
			a.roles[f[1]] = privs
		case "acl":
			if len(f) < 5 {
				return bad("want acl:<propagate>:<path>:<ugids>:<roles>:")
			}
			path := normalizePath(f[2])
			for _, r := range splitList(f[4]) {
				if a.roles[r] == nil {
					return bad(fmt.Sprintf("role '%s' does not exist", r))
				}
				for _, ug := range splitList(f[3]) {
					e := aclEntry{role: r, propagate: f[1] != "0"}
					switch {
					case strings.HasPrefix(ug, "@"):
						e.kind, e.id = 'g', ug[1:]
					case strings.Contains(ug, "!"):
						e.kind, e.id = 't', ug
					default:
						e.kind, e.id = 'u', ug
					}
					a.acl[path] = append(a.acl[path], e)
				}
			}
		default:
			return bad("unknown entry type")
		}
	}
	return sc.Err()
}

// token returns a token's settings, nil when it does not exist.
func (a *accessConfig) token(tokenID string) *accessToken {
	user, name, ok := strings.Cut(tokenID, "!")
	if !ok {
		return nil
	}
	u := a.users[user]
	if u == nil {
		return nil
	}
	return u.tokens[name]
}

// roles is PVE::AccessControl::roles for a user or token id: the ACL tree
// is walked from "/" to path; the first of token, user and group entries at
// a level that yields roles replaces what was collected above (roles of
// ancestors count only when they propagate); NoAccess cancels the others.
func (a *accessConfig) rolesOf(ugid, path string) map[string]bool {
	roles := map[string]bool{}
	levels := []string{"/"}
	if path != "/" {
		parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
		for i := range parts {
			levels = append(levels, "/"+strings.Join(parts[:i+1], "/"))
		}
	}
	isToken := strings.Contains(ugid, "!")
	for i, lvl := range levels {
		final := i == len(levels)-1
		entries := a.acl[lvl]
		pick := func(match func(e aclEntry) bool) map[string]bool {
			var found map[string]bool
			for _, e := range entries {
				if match(e) && (final || e.propagate) {
					if found == nil {
						found = map[string]bool{}
					}
					found[e.role] = found[e.role] || e.propagate
				}
			}
			return found
		}
		if isToken {
			if r := pick(func(e aclEntry) bool { return e.kind == 't' && e.id == ugid }); r != nil {
				roles = r
			}
			continue
		}
		if r := pick(func(e aclEntry) bool { return e.kind == 'u' && e.id == ugid }); r != nil {
			roles = r
			continue
		}
		if r := pick(func(e aclEntry) bool { return e.kind == 'g' && a.groups[e.id][ugid] }); r != nil {
			roles = r
		}
	}
	if p, ok := roles["NoAccess"]; ok {
		return map[string]bool{"NoAccess": p}
	}
	return roles
}

// privsOf turns roles into privileges with their propagate flags.
func (a *accessConfig) privsOf(roles map[string]bool) map[string]bool {
	out := map[string]bool{}
	for r, prop := range roles {
		for p := range a.roles[r] {
			out[p] = out[p] || prop
		}
	}
	return out
}

// permissions is RPCEnvironment::permissions: the privileges of a user or
// token on path, each with its propagate flag. root@pam has every
// privilege; a token without privilege separation has its user's; a
// privilege-separated token has what both its own ACLs and its user's give
// (its own ACLs only when the user is root@pam). pools (nil: none) lend
// their roles to their members (rolesWithPools).
func (a *accessConfig) permissions(authid, path string, pools *poolsConfig) map[string]bool {
	path = normalizePath(path)
	if authid == rootPam {
		out := map[string]bool{}
		for p := range allPrivileges {
			out[p] = true
		}
		return out
	}
	if user, _, ok := strings.Cut(authid, "!"); ok {
		tok := a.token(authid)
		if tok == nil {
			return map[string]bool{}
		}
		userPerms := a.permissions(user, path, pools)
		if !tok.privsep {
			return userPerms
		}
		own := a.privsOf(a.rolesWithPools(authid, path, pools))
		if user == rootPam {
			return own
		}
		out := map[string]bool{}
		for p, prop := range own {
			if up, ok := userPerms[p]; ok {
				out[p] = prop && up
			}
		}
		return out
	}
	u := a.users[authid]
	if u == nil || !u.enabled {
		return map[string]bool{}
	}
	return a.privsOf(a.rolesWithPools(authid, path, pools))
}

// rolesWithPools is the pool part of RPCEnvironment's compile_acl_path: a
// guest or storage that is a member of pools also gets the roles the
// user or token holds on /pool/{pool} of each (roles(cfg, user,
// "/pool/P"), so propagation within the pool tree counts), never
// propagated further. An ACL's NoAccess on the path itself is kept; else a
// NoAccess from a pool replaces every role; else the pools' roles join the
// path's own ones.
func (a *accessConfig) rolesWithPools(ugid, path string, pools *poolsConfig) map[string]bool {
	roles := a.rolesOf(ugid, path)
	if pools == nil {
		return roles
	}
	fromPools := map[string]bool{}
	for id, p := range pools.pools {
		if p.hasMember(path) {
			for r := range a.rolesOf(ugid, "/pool/"+id) {
				fromPools[r] = true
			}
		}
	}
	if len(fromPools) == 0 {
		return roles
	}
	if _, ok := roles["NoAccess"]; ok {
		return roles
	}
	if fromPools["NoAccess"] {
		return map[string]bool{"NoAccess": false}
	}
	for r := range fromPools {
		if _, ok := roles[r]; !ok {
			roles[r] = false
		}
	}
	return roles
}

// effectivePermissions is get_effective_permissions: the default paths and
// every path with an ACL and every pool member's path, without the paths
// where nothing is granted.
func (a *accessConfig) effectivePermissions(authid string, pools *poolsConfig) map[string]map[string]int {
	paths := map[string]bool{}
	for _, p := range []string{"/", "/access", "/access/groups", "/nodes", "/pool", "/sdn", "/storage", "/vms"} {
		paths[p] = true
	}
	for p := range a.acl {
		paths[p] = true
	}
	if pools != nil {
		for _, pc := range pools.pools {
			for vmid := range pc.vms {
				paths["/vms/"+strconv.Itoa(vmid)] = true
			}
			for sid := range pc.storage {
				paths["/storage/"+sid] = true
			}
		}
	}
	out := map[string]map[string]int{}
	for p := range paths {
		perms := a.permissions(authid, p, pools)
		if len(perms) == 0 {
			continue
		}
		m := map[string]int{}
		for k, prop := range perms {
			m[k] = boolInt(prop)
		}
		out[p] = m
	}
	return out
}

// permError is raise_perm_exc: HTTP 403 "Permission check failed (what)".
func permError(what string) *apiError {
	msg := "Permission check failed"
	if what != "" {
		msg += " (" + what + ")"
	}
	return &apiError{status: http.StatusForbidden, msg: msg}
}

// permissions are authid's privileges on path with the pools as they are
// now (RPCEnvironment::permissions).
func (s *server) permissions(authid, path string) map[string]bool {
	return s.access.permissions(authid, path, s.store.poolsSnapshot())
}

// check is RPCEnvironment::check: every privilege on path, the first
// missing one named.
func (s *server) check(authid, path string, privs ...string) error {
	perms := s.permissions(authid, path)
	for _, p := range privs {
		if _, ok := perms[p]; !ok {
			return permError(normalizePath(path) + ", " + p)
		}
	}
	return nil
}

// checkAny is RPCEnvironment::check_any: one of privs on path.
func (s *server) checkAny(authid, path string, privs ...string) error {
	perms := s.permissions(authid, path)
	for _, p := range privs {
		if _, ok := perms[p]; ok {
			return nil
		}
	}
	return permError(normalizePath(path) + ", " + strings.Join(privs, "|"))
}

// has reports whether authid holds priv on path.
func (s *server) has(authid, path, priv string) bool {
	_, ok := s.permissions(authid, path)[priv]
	return ok
}

// permCheck is the "check" member of an API method's permissions: ["perm",
// path, privs, any, require_param], ["and", ...] or ["or", ...]. A nil
// check with userAll stands for user => 'all'.
type permCheck struct {
	op           string // "perm", "and", "or"
	path         string
	privs        []string
	any          bool
	requireParam string
	subs         []permCheck
}

func perm(path string, privs ...string) permCheck {
	return permCheck{op: "perm", path: path, privs: privs}
}

func permAny(path string, privs ...string) permCheck {
	return permCheck{op: "perm", path: path, privs: privs, any: true}
}

// apiPermission is an API method's permissions member.
type apiPermission struct {
	userAll bool       // user => 'all': no check beyond the handler's own
	world   bool       // user => 'world': no authentication
	check   *permCheck // check => [...]
}

func checkPerm(c permCheck) apiPermission { return apiPermission{check: &c} }

var userAll = apiPermission{userAll: true}

// apiPermissions are the permissions members of the methods pvesim serves,
// as PVE's API schema declares them (the conformance test compares this
// table with testdata/pve-api/pve-api-lxc.json).
var apiPermissions = func() map[string]apiPermission {
	const (
		ct   = "/nodes/{node}/lxc/{vmid}"
		vms  = "/vms/{vmid}"
		stor = "/storage/{storage}"
	)
	power := checkPerm(perm(vms, "VM.PowerMgmt"))
	audit := checkPerm(perm(vms, "VM.Audit"))
	storAudit := checkPerm(permAny(stor, "Datastore.Audit", "Datastore.AllocateSpace"))
	poolAlloc := checkPerm(perm("/pool/{poolid}", "Pool.Allocate"))
	return map[string]apiPermission{
		"GET /version":                                userAll,
		"GET /access/ticket":                          {world: true},
		"POST /access/ticket":                         {world: true},
		"GET /access/permissions":                     userAll,
		"GET /cluster/status":                         checkPerm(perm("/", "Sys.Audit")),
		"GET /cluster/resources":                      userAll,
		"GET /cluster/nextid":                         userAll,
		"GET /nodes":                                  userAll,
		"GET /nodes/{node}/status":                    checkPerm(perm("/nodes/{node}", "Sys.Audit")),
		"GET /nodes/{node}/version":                   userAll,
		"GET /nodes/{node}/tasks":                     userAll,
		"GET /nodes/{node}/tasks/{upid}":              userAll,
		"GET /nodes/{node}/tasks/{upid}/status":       userAll,
		"GET /nodes/{node}/tasks/{upid}/log":          userAll,
		"GET /nodes/{node}/storage":                   userAll,
		"GET /nodes/{node}/storage/{storage}":         storAudit,
		"GET /nodes/{node}/storage/{storage}/status":  storAudit,
		"GET /nodes/{node}/storage/{storage}/content": storAudit,
		"GET /nodes/{node}/lxc":                       userAll,
		"POST /nodes/{node}/lxc":                      userAll,
		"GET " + ct:                                   userAll,
		"DELETE " + ct:                                checkPerm(perm(vms, "VM.Allocate")),
		"GET " + ct + "/config":                       audit,
		"PUT " + ct + "/config": checkPerm(permAny(vms, "VM.Config.Disk", "VM.Config.CPU", "VM.Config.Memory",
			"VM.Config.Network", "VM.Config.Options")),
		"GET " + ct + "/pending":          audit,
		"GET " + ct + "/status":           userAll,
		"GET " + ct + "/status/current":   audit,
		"POST " + ct + "/status/start":    power,
		"POST " + ct + "/status/stop":     power,
		"POST " + ct + "/status/shutdown": power,
		"POST " + ct + "/status/reboot":   power,
		"POST " + ct + "/clone": checkPerm(permCheck{op: "and", subs: []permCheck{
			perm(vms, "VM.Clone"),
			{op: "or", subs: []permCheck{
				perm("/vms/{newid}", "VM.Allocate"),
				{op: "perm", path: "/pool/{pool}", privs: []string{"VM.Allocate"}, requireParam: "pool"},
			}},
		}}),
		"PUT " + ct + "/resize":                     checkPerm(permAny(vms, "VM.Config.Disk")),
		"POST " + ct + "/template":                  checkPerm(perm(vms, "VM.Allocate")),
		"GET " + ct + "/interfaces":                 audit,
		"GET " + ct + "/snapshot":                   audit,
		"POST " + ct + "/snapshot":                  checkPerm(perm(vms, "VM.Snapshot")),
		"GET " + ct + "/snapshot/{snapname}":        userAll,
		"DELETE " + ct + "/snapshot/{snapname}":     checkPerm(perm(vms, "VM.Snapshot")),
		"GET " + ct + "/snapshot/{snapname}/config": checkPerm(permAny(vms, "VM.Snapshot", "VM.Snapshot.Rollback", "VM.Audit")),
		// PVE::API2::Pool: the pool's own privileges; update_pool checks the
		// members in its code (check_perm_modify).
		"GET /pools":                         userAll,
		"POST /pools":                        poolAlloc,
		"PUT /pools":                         poolAlloc,
		"DELETE /pools":                      poolAlloc,
		"GET /pools/{poolid}":                checkPerm(perm("/pool/{poolid}", "Pool.Audit")),
		"PUT /pools/{poolid}":                poolAlloc,
		"DELETE /pools/{poolid}":             poolAlloc,
		"GET /cluster/ha/resources":          checkPerm(perm("/", "Sys.Audit")),
		"POST /cluster/ha/resources":         checkPerm(perm("/", "Sys.Console")),
		"GET /cluster/ha/resources/{sid}":    checkPerm(perm("/", "Sys.Audit")),
		"PUT /cluster/ha/resources/{sid}":    checkPerm(perm("/", "Sys.Console")),
		"DELETE /cluster/ha/resources/{sid}": checkPerm(perm("/", "Sys.Console")),
	}
}()

// templateReplace is PVE::Tools::template_replace for permission paths.
func templateReplace(tmpl string, params map[string]string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(tmpl, '{')
		if i < 0 {
			b.WriteString(tmpl)
			return b.String()
		}
		j := strings.IndexByte(tmpl[i:], '}')
		if j < 0 {
			b.WriteString(tmpl)
			return b.String()
		}
		b.WriteString(tmpl[:i])
		b.WriteString(params[tmpl[i+1:i+j]])
		tmpl = tmpl[i+j+1:]
	}
}

// eval is exec_api2_perm_check.
func (s *server) eval(c permCheck, authid string, params map[string]string) error {
	switch c.op {
	case "and":
		for _, sub := range c.subs {
			if err := s.eval(sub, authid, params); err != nil {
				return err
			}
		}
		return nil
	case "or":
		for _, sub := range c.subs {
			if s.eval(sub, authid, params) == nil {
				return nil
			}
		}
		return permError("")
	default:
		if c.requireParam != "" {
			if _, ok := params[c.requireParam]; !ok {
				return permError("")
			}
		}
		path := normalizePath(templateReplace(c.path, params))
		if c.any {
			return s.checkAny(authid, path, c.privs...)
		}
		return s.check(authid, path, c.privs...)
	}
}

// checkAPIPermissions is check_api2_permissions, run before the parameters
// are verified, as PVE's HTTP server does.
func (s *server) checkAPIPermissions(method, tmpl, authid string, params map[string]string) error {
	p, ok := apiPermissions[method+" "+tmpl]
	switch {
	case ok && p.world:
		return nil
	case authid == rootPam:
		return nil
	case !ok:
		return permError("user != root@pam")
	case p.userAll:
		return nil
	case p.check != nil:
		return s.eval(*p.check, authid, params)
	}
	return permError("")
}

// reNewDisk is pve-container's $NEW_DISK_RE: STORAGE:SIZE_IN_GiB.
func parseNewDisk(volid string) (storage string, ok bool) {
	sid, size, found := strings.Cut(volid, ":")
	if !found || sid == "" || strings.ContainsAny(sid, " \t") {
		return "", false
	}
	if _, err := strconv.ParseFloat(size, 64); err != nil || strings.HasPrefix(size, "-") || strings.HasPrefix(size, "+") {
		return "", false
	}
	return sid, true
}

// featureFlags parses a features value into flag -> value, as
// parse_features leaves it (values as given, booleans normalised).
func featureFlags(v string) map[string]string {
	out := map[string]string{}
	for _, item := range splitList(strings.ReplaceAll(v, ";", ",")) {
		k, val, _ := strings.Cut(item, "=")
		if k == "mount" {
			out[k] = val
			continue
		}
		out[k] = normBool(val)
	}
	return out
}

// checkCTModifyConfigPerm is pve-container's
// PVE::LXC::check_ct_modify_config_perm: root@pam may do anything; for
// everyone else each key needs its privilege on /vms/{vmid}, and feature
// flags other than nesting, non-volume mount points, dev[n] and hookscript
// are refused whatever their privileges. Keys are checked in sorted order
// (PVE's hash order is arbitrary). pool is create_vm's pool parameter ("" for
// other callers): the VM.* privileges may then come from /pool/{pool}
// (RPCEnvironment::check_vm_perm).
func (s *server) checkCTModifyConfigPerm(authid string, vmid int, pool string, oldconf, newconf map[string]string, deletes []string, unprivileged bool) error {
	if authid == rootPam {
		return nil
	}
	vms := "/vms/" + strconv.Itoa(vmid)
	vmPerm := func(priv string) error { return s.checkVMPerm(authid, vmid, pool, priv) }
	check := func(opt string, del bool) error {
		switch {
		case opt == "cores" || opt == "cpuunits" || opt == "cpulimit":
			return vmPerm("VM.Config.CPU")
		case opt == "memory" || opt == "swap":
			return vmPerm("VM.Config.Memory")
		case opt == "rootfs" || reMP.MatchString(opt):
			if err := vmPerm("VM.Config.Disk"); err != nil || del {
				return err
			}
			props := splitProps(newconf[opt], "volume")
			vol := props["volume"]
			if t := mountType(vol); t != "volume" {
				return permError("mount point type " + t + " is only allowed for root@pam")
			}
			if sid, ok := parseNewDisk(vol); ok {
				return s.check(authid, "/storage/"+sid, "Datastore.AllocateSpace")
			}
			return s.checkVolumeAccess(authid, vmid, vol)
		case reNet.MatchString(opt):
			if err := vmPerm("VM.Config.Network"); err != nil {
				return err
			}
			if old := oldconf[opt]; old != "" {
				if err := s.checkBridgeAccess(authid, old); err != nil {
					return err
				}
			}
			if !del && newconf[opt] != "" {
				return s.checkBridgeAccess(authid, newconf[opt])
			}
			return nil
		case reDev.MatchString(opt):
			return permError("configuring device passthrough is only allowed for root@pam")
		case opt == "nameserver" || opt == "searchdomain" || opt == "hostname":
			return vmPerm("VM.Config.Network")
		case opt == "features":
			if !unprivileged {
				return permError("changing feature flags for privileged container is only allowed for root@pam")
			}
			nesting, other := false, false
			classify := func(f map[string]string) {
				if len(f) == 1 {
					if _, ok := f["nesting"]; ok {
						nesting = true
						return
					}
				}
				if len(f) > 0 {
					other = true
				}
			}
			switch {
			case del:
				classify(featureFlags(oldconf[opt]))
			case oldconf[opt] != "":
				oldF, newF := featureFlags(oldconf[opt]), featureFlags(newconf[opt])
				for k := range addKeys(map[string]bool{}, oldF, newF) {
					if oldF[k] == newF[k] {
						continue
					}
					if k == "nesting" {
						nesting = true
						continue
					}
					other = true
				}
			default:
				classify(featureFlags(newconf[opt]))
			}
			if other {
				return permError("changing feature flags (except nesting) is only allowed for root@pam")
			}
			if nesting {
				return vmPerm("VM.Allocate")
			}
			return nil
		case opt == "hookscript":
			return permError("changing the hookscript is only allowed for root@pam")
		case opt == "tags":
			// pve-guest-common's assert_tag_permissions: VM.Config.Options
			// through check_vm_perm without the pool, so on /vms/{vmid}
			// even at create (the default user-tag-access allows any tag).
			return s.check(authid, vms, "VM.Config.Options")
		default:
			return vmPerm("VM.Config.Options")
		}
	}
	keys := slices.Sorted(maps.Keys(newconf))
	for _, k := range keys {
		if err := check(k, false); err != nil {
			return err
		}
	}
	for _, k := range deletes {
		if err := check(k, true); err != nil {
			return err
		}
	}
	return nil
}

// checkVMPerm is RPCEnvironment::check_vm_perm: priv on /pool/{pool} when
// a pool is given and grants it, else on /vms/{vmid} (whose refusal is the
// one reported).
func (s *server) checkVMPerm(authid string, vmid int, pool, priv string) error {
	if pool != "" && s.has(authid, "/pool/"+pool, priv) {
		return nil
	}
	return s.check(authid, "/vms/"+strconv.Itoa(vmid), priv)
}

// checkBridgeAccess is pve-container's check_bridge_access with
// pve-guest-common's check_vnet_access for bridges outside SDN (zone
// localnetwork): SDN.Use on the bridge, or on bridge/tag with a VLAN tag.
func (s *server) checkBridgeAccess(authid, netValue string) error {
	if authid == rootPam {
		return nil
	}
	props := splitProps(netValue, "")
	bridge := props["bridge"]
	if bridge == "" {
		return nil
	}
	zonePath := "/sdn/zones/localnetwork/" + bridge
	tag, trunks := props["tag"], props["trunks"]
	if tag != "" {
		if err := s.check(authid, zonePath+"/"+tag, "SDN.Use"); err != nil {
			return err
		}
	}
	if trunks != "" {
		var tags []int
		for _, t := range strings.FieldsFunc(trunks, func(r rune) bool { return r == ';' }) {
			if lo, hi, ok := strings.Cut(t, "-"); ok {
				a, _ := strconv.Atoi(lo)
				b, _ := strconv.Atoi(hi)
				for i := a; i <= b; i++ {
					tags = append(tags, i)
				}
				continue
			}
			if n, err := strconv.Atoi(t); err == nil {
				tags = append(tags, n)
			}
		}
		slices.Sort(tags)
		for _, t := range slices.Compact(tags) {
			if err := s.check(authid, zonePath+"/"+strconv.Itoa(t), "SDN.Use"); err != nil {
				return err
			}
		}
	}
	if tag == "" && trunks == "" {
		return s.check(authid, zonePath, "SDN.Use")
	}
	return nil
}

// checkVolumeAccess is PVE::Storage::check_volume_access for the volumes
// pvesim knows: templates need Datastore.AllocateSpace or Datastore.Audit
// on their storage; a container's own volume is allowed; another
// container's disk needs Datastore.Audit and VM.Config.Disk on its owner.
func (s *server) checkVolumeAccess(authid string, vmid int, volid string) error {
	if authid == rootPam {
		return nil
	}
	sid, volname, ok := strings.Cut(volid, ":")
	if !ok || sid == "" {
		return errf("Only root can pass arbitrary filesystem paths.")
	}
	if s.has(authid, "/storage/"+sid, "Datastore.Allocate") {
		return nil
	}
	if strings.HasPrefix(volname, "vztmpl/") || strings.HasPrefix(volname, "iso/") {
		return s.checkAny(authid, "/storage/"+sid, "Datastore.AllocateSpace", "Datastore.Audit")
	}
	owner := volumeOwner(volid)
	if owner == 0 {
		return errf("missing privileges to access %s", volid)
	}
	if owner == vmid {
		return nil
	}
	if err := s.check(authid, "/storage/"+sid, "Datastore.Audit"); err != nil {
		return err
	}
	return s.check(authid, "/vms/"+strconv.Itoa(owner), "VM.Config.Disk")
}

// taskVisible is the task endpoints' owner rule: the task's own user or
// token (a user also sees the tasks of its tokens), else Sys.Audit on the
// task's node.
func (s *server) taskVisible(authid, taskUser, node string) error {
	if authid == taskUser {
		return nil
	}
	if u, _, ok := strings.Cut(taskUser, "!"); ok && authid == u {
		return nil
	}
	return s.check(authid, "/nodes/"+node, "Sys.Audit")
}

// handlePermissions serves GET /access/permissions.
func (s *server) handlePermissions(r *request) (any, error) {
	userid := r.params["userid"]
	if userid == "" {
		userid = r.user
	}
	owner, _, isToken := strings.Cut(userid, "!")
	if userid != r.user && (!isToken || owner != r.user) {
		if err := s.check(r.user, "/access", "Sys.Audit"); err != nil {
			return nil, err
		}
	}
	if path, ok := r.params["path"]; ok && path != "" {
		m := map[string]int{}
		for k, prop := range s.permissions(userid, path) {
			m[k] = boolInt(prop)
		}
		return map[string]any{path: m}, nil
	}
	return s.access.effectivePermissions(userid, s.store.poolsSnapshot()), nil
}
