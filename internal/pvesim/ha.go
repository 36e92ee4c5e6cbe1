package pvesim

import (
	"crypto/sha1" //nolint:gosec // PVE's config digests are SHA-1.
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// HA resources, as pve-ha-manager's PVE::API2::HA::Resources serves them
// and PVE::HA::Config keeps them in /etc/pve/ha/resources.cfg, a section
// config:
//
//	ct: 100
//		state started
//		max_restart 1
//
// The simulator keeps the file as <state>/cluster/ha/resources.cfg and
// plays the HA stack's part too: a resource's requested state is carried
// out at once by a task on the container's node (started, enabled: start;
// stopped, disabled: stop; ignored: nothing). This is Proxmox VE 9: HA
// groups have been migrated to rules, so the group option is refused.
//
// What the HA stack reports of each resource is the CRM's manager status
// (/etc/pve/ha/manager_status, kept as <state>/cluster/ha/manager_status):
// a service state per resource, "started" or "stopped" once the simulated
// CRM has taken the request, "error" when the start of a started resource
// failed. As in PVE::HA::Manager, an ignored or removed resource leaves
// the status, and a service in error stays there until it is disabled
// (next_state_error), which takes it to stopped.

// haOptions are the options a ct or vm resource takes
// (PVE::HA::Resources::PVECT::options), in the order they are written.
var haOptions = []string{"state", "group", "failback", "max_restart", "max_relocate", "comment"}

// haResource is one section of resources.cfg.
type haResource struct {
	sid  string // "ct:100"
	typ  string // "ct"
	opts map[string]string
}

// haConfig is resources.cfg: its sections in file order and its digest.
type haConfig struct {
	ids    map[string]*haResource
	order  []string
	digest string
}

func (st *store) haPath() string {
	return filepath.Join(st.dir, "cluster", "ha", "resources.cfg")
}

// readHA reads resources.cfg; a missing file holds no resources.
func (st *store) readHA() (*haConfig, error) {
	hc := &haConfig{ids: map[string]*haResource{}}
	data, err := os.ReadFile(st.haPath())
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	sum := sha1.Sum(data) //nolint:gosec // PVE's digest.
	hc.digest = hex.EncodeToString(sum[:])
	var cur *haResource
	for _, line := range strings.Split(string(data), "\n") {
		if strings.TrimSpace(line) == "" {
			cur = nil
			continue
		}
		if line[0] != ' ' && line[0] != '\t' {
			typ, name, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			cur = &haResource{sid: typ + ":" + strings.TrimSpace(name), typ: typ, opts: map[string]string{}}
			hc.ids[cur.sid] = cur
			hc.order = append(hc.order, cur.sid)
			continue
		}
		if cur == nil {
			continue
		}
		k, v, _ := strings.Cut(strings.TrimSpace(line), " ")
		cur.opts[k] = strings.TrimSpace(v)
	}
	return hc, nil
}

// writeHA writes resources.cfg the way SectionConfig's write_config does.
func (st *store) writeHA(hc *haConfig) error {
	var b strings.Builder
	for _, sid := range hc.order {
		res := hc.ids[sid]
		if res == nil {
			continue
		}
		_, name, _ := strings.Cut(sid, ":")
		b.WriteString(res.typ + ": " + name + "\n")
		for _, k := range slices.Sorted(maps.Keys(res.opts)) {
			b.WriteString("\t" + k + " " + res.opts[k] + "\n")
		}
		b.WriteString("\n")
	}
	if err := os.MkdirAll(filepath.Dir(st.haPath()), 0o755); err != nil {
		return err
	}
	return writeFileAtomic(st.haPath(), []byte(b.String()), 0o640)
}

// withHA runs fn under the HA domain lock (lock_ha_domain) and writes the
// config back when fn changed it. Like lock_ha_domain, an error inside is
// prefixed with errmsg.
func (st *store) withHA(errmsg string, fn func(hc *haConfig) (bool, error)) error {
	st.clusterMu.Lock()
	defer st.clusterMu.Unlock()
	hc, err := st.readHA()
	if err == nil {
		var changed bool
		if changed, err = fn(hc); err == nil && changed {
			err = st.writeHA(hc)
		}
	}
	if err != nil && errmsg != "" {
		return errf("%s: %s", errmsg, asAPIError(err).msg)
	}
	return err
}

// haResourceOf returns the HA resource of container vmid, nil when it has
// none.
func (st *store) haResourceOf(vmid int) *haResource {
	st.clusterMu.Lock()
	defer st.clusterMu.Unlock()
	hc, err := st.readHA()
	if err != nil {
		return nil
	}
	return hc.ids["ct:"+strconv.Itoa(vmid)]
}

// haManaged is PVE::HA::Config::vm_is_ha_managed without a state: the
// guest has an HA resource whose state is not ignored.
func (st *store) haManaged(vmid int) bool {
	res := st.haResourceOf(vmid)
	return res != nil && res.opts["state"] != "ignored"
}

// haRequested is the run state an HA resource asks for: "started",
// "stopped" or "" (ignored: HA leaves the guest alone). enabled is an alias
// of started, disabled stops too, and no state means started.
func haRequested(res *haResource) string {
	switch res.opts["state"] {
	case "", "started", "enabled":
		return "started"
	case "stopped", "disabled":
		return "stopped"
	}
	return ""
}

// removeHAResource is delete_service_from_config, which destroy_vm runs
// with purge (rules are not simulated). The CRM then drops the service
// from its status.
func (st *store) removeHAResource(sid string) error {
	err := st.withHA("delete resource failed", func(hc *haConfig) (bool, error) {
		if hc.ids[sid] == nil {
			return false, nil
		}
		delete(hc.ids, sid)
		return true, nil
	})
	if err != nil {
		return err
	}
	return st.setServiceState(sid, "")
}

func (st *store) managerStatusPath() string {
	return filepath.Join(st.dir, "cluster", "ha", "manager_status")
}

// managerStatus is the part of the CRM's manager status the simulator
// keeps: service_status, each with its state.
type managerStatus struct {
	ServiceStatus map[string]struct {
		State string `json:"state"`
	} `json:"service_status"`
}

// serviceStates reads the service state of every resource the CRM
// manages (PVE::HA::Config::read_manager_status); none without the file.
func (st *store) serviceStates() map[string]string {
	st.clusterMu.Lock()
	defer st.clusterMu.Unlock()
	return st.serviceStatesLocked()
}

func (st *store) serviceStatesLocked() map[string]string {
	out := map[string]string{}
	data, err := os.ReadFile(st.managerStatusPath())
	if err != nil {
		return out
	}
	var ms managerStatus
	if json.Unmarshal(data, &ms) != nil {
		return out
	}
	for sid, v := range ms.ServiceStatus {
		out[sid] = v.State
	}
	return out
}

// setServiceState records the CRM's state of sid ("" drops the service).
func (st *store) setServiceState(sid, state string) error {
	st.clusterMu.Lock()
	defer st.clusterMu.Unlock()
	states := st.serviceStatesLocked()
	if states[sid] == state {
		return nil
	}
	if state == "" {
		delete(states, sid)
	} else {
		states[sid] = state
	}
	ms := map[string]any{}
	for k, v := range states {
		ms[k] = map[string]string{"state": v}
	}
	data, err := json.Marshal(map[string]any{"service_status": ms})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(st.managerStatusPath()), 0o755); err != nil {
		return err
	}
	return writeFileAtomic(st.managerStatusPath(), data, 0o640)
}

// haClusterState is the hastate of a guest's /cluster/resources entry
// (pve-manager's PVE::API2::Cluster resources): the CRM's service state,
// else the state option of the resource's config as written (absent when
// unset); "" without an HA resource.
func haClusterState(vmid int, hc *haConfig, states map[string]string) string {
	sid := "ct:" + strconv.Itoa(vmid)
	if v, ok := states[sid]; ok {
		return v
	}
	if res := hc.ids[sid]; res != nil {
		return res.opts["state"]
	}
	return ""
}

var reHAVMID = regexp.MustCompile(`^[1-9][0-9]+$`)

// parseSID is PVE::HA::Config::parse_sid: a bare VMID names the guest's
// resource ("ct:" for a container).
func (s *server) parseSID(sid string) (full, typ, name string, err error) {
	if n, aerr := strconv.Atoi(sid); aerr == nil && !strings.HasPrefix(sid, "+") && !strings.HasPrefix(sid, "-") {
		if _, ok := s.store.findVMID(n); ok {
			return "ct:" + sid, "ct", sid, nil
		}
		return "", "", "", errf("unable to detect SID from VMID - VM/CT %s does not exist", sid)
	}
	typ, name, ok := strings.Cut(sid, ":")
	if !ok || typ == "" || name == "" || strings.ContainsAny(sid, " \t") {
		return "", "", "", errf("unable to parse service id '%s'", sid)
	}
	return sid, typ, name, nil
}

// checkHAResource is what create runs before it writes: the resource type
// is known (PVE::HA::Resources lookup), the name is a VMID (verify_name)
// and the guest exists with that type (exists).
func (s *server) checkHAResource(typ, name string) error {
	if typ != "ct" && typ != "vm" {
		return errf("unknown section type '%s'", typ)
	}
	if !reHAVMID.MatchString(name) {
		return errf("invalid VMID")
	}
	vmid, _ := strconv.Atoi(name)
	_, ok := s.store.findVMID(vmid)
	switch {
	case !ok:
		return errf("resource '%s:%s' does not exist in cluster", typ, name)
	case typ == "vm":
		return errf("resource 'vm:%s' - guest with ID %s is not a VM", name, name)
	}
	return nil
}

// haParams collects the resource options of a create or update call.
func haParams(p map[string]string) map[string]string {
	out := map[string]string{}
	for _, k := range haOptions {
		if v, ok := p[k]; ok {
			if k == "failback" {
				v = normBool(v)
			}
			out[k] = v
		}
	}
	return out
}

// handleHAIndex serves GET /cluster/ha/resources.
func (s *server) handleHAIndex(r *request) (any, error) {
	s.store.clusterMu.Lock()
	hc, err := s.store.readHA()
	s.store.clusterMu.Unlock()
	if err != nil {
		return nil, err
	}
	out := []map[string]any{}
	for _, sid := range slices.Sorted(maps.Keys(hc.ids)) {
		res := hc.ids[sid]
		if t := r.params["type"]; t != "" && t != res.typ {
			continue
		}
		out = append(out, haJSON(res, hc.digest))
	}
	return out, nil
}

// haJSON is api_copy_config: the options with sid, type and digest (no
// group: groups have been migrated).
func haJSON(res *haResource, digest string) map[string]any {
	e := map[string]any{"sid": res.sid, "type": res.typ, "digest": digest}
	for k, v := range res.opts {
		if k == "group" {
			continue
		}
		if k == "max_restart" || k == "max_relocate" || k == "failback" {
			n, _ := strconv.Atoi(v)
			e[k] = n
			continue
		}
		e[k] = v
	}
	return e
}

// haForSID parses the request's sid and reads the HA configuration (under
// the cluster lock), as the read and delete of one resource start.
func (s *server) haForSID(r *request) (string, *haConfig, error) {
	sid, _, _, err := s.parseSID(r.params["sid"])
	if err != nil {
		return "", nil, err
	}
	s.store.clusterMu.Lock()
	hc, err := s.store.readHA()
	s.store.clusterMu.Unlock()
	return sid, hc, err
}

// handleHARead serves GET /cluster/ha/resources/{sid}.
func (s *server) handleHARead(r *request) (any, error) {
	sid, hc, err := s.haForSID(r)
	if err != nil {
		return nil, err
	}
	res := hc.ids[sid]
	if res == nil {
		return nil, errf("no such resource '%s'", sid)
	}
	return haJSON(res, hc.digest), nil
}

// handleHACreate serves POST /cluster/ha/resources.
func (s *server) handleHACreate(r *request) (any, error) {
	sid, typ, name, err := s.parseSID(r.params["sid"])
	if err != nil {
		return nil, err
	}
	if t, ok := r.params["type"]; ok && t != "" && t != typ {
		return nil, errf("types does not match")
	}
	if _, ok := r.params["group"]; ok {
		return nil, errf("invalid parameter 'group': ha groups have been migrated to rules")
	}
	if err := s.checkHAResource(typ, name); err != nil {
		return nil, err
	}
	if err := s.store.addHAResource(sid, typ, haParams(r.params)); err != nil {
		return nil, err
	}
	s.haApply(sid)
	return nil, nil
}

// addHAResource writes a new resource (create's locked part).
func (st *store) addHAResource(sid, typ string, opts map[string]string) error {
	return st.withHA("create resource failed", func(hc *haConfig) (bool, error) {
		if hc.ids[sid] != nil {
			return false, errf("resource ID '%s' already defined", sid)
		}
		hc.ids[sid] = &haResource{sid: sid, typ: typ, opts: opts}
		hc.order = append(hc.order, sid)
		return true, nil
	})
}

// handleHAUpdate serves PUT /cluster/ha/resources/{sid}.
func (s *server) handleHAUpdate(r *request) (any, error) {
	sid, typ, _, err := s.parseSID(r.params["sid"])
	if err != nil {
		return nil, err
	}
	if t, ok := r.params["type"]; ok && t != "" && t != typ {
		return nil, errf("types does not match")
	}
	if g := r.params["group"]; g != "" {
		return nil, errf("invalid parameter 'group': ha groups have been migrated to rules")
	}
	set := haParams(r.params)
	digest := r.params["digest"]
	err = s.store.withHA("update resources config failed", func(hc *haConfig) (bool, error) {
		if digest != "" && digest != hc.digest {
			return false, errf("detected modified configuration - file changed by other user? Try again.")
		}
		res := hc.ids[sid]
		if res == nil {
			return false, errf("no such resource '%s'", sid)
		}
		maps.Copy(res.opts, set)
		for _, k := range splitList(r.params["delete"]) {
			if !slices.Contains(haOptions, k) {
				return false, errf("no such option '%s'", k)
			}
			delete(res.opts, k)
		}
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	s.haApply(sid)
	return nil, nil
}

// handleHADelete serves DELETE /cluster/ha/resources/{sid}.
func (s *server) handleHADelete(r *request) (any, error) {
	sid, hc, err := s.haForSID(r)
	if err != nil {
		return nil, err
	}
	if hc.ids[sid] == nil {
		return nil, errf("cannot delete service '%s', not HA managed!", sid)
	}
	return nil, s.store.removeHAResource(sid)
}

// haApply plays the HA stack: it brings the container of sid to the state
// its resource requests, with a task on the container's node run as
// root@pam (the local resource manager's own start or stop), and records
// the CRM's service state. A failed start puts the service in error (in
// PVE after max_restart and max_relocate attempts: next_state_started);
// a service in error moves only when its resource is disabled.
func (s *server) haApply(sid string) {
	typ, name, _ := strings.Cut(sid, ":")
	vmid, err := strconv.Atoi(name)
	if typ != "ct" || err != nil {
		return
	}
	res := s.store.haResourceOf(vmid)
	node, ok := s.store.findVMID(vmid)
	if res == nil || !ok {
		return
	}
	want := haRequested(res)
	if want == "" {
		_ = s.store.setServiceState(sid, "")
		return
	}
	if s.store.serviceStates()[sid] == "error" && res.opts["state"] != "disabled" {
		return
	}
	_ = s.store.setServiceState(sid, want)
	_, running := s.store.running(node, vmid)
	switch {
	case want == "started" && !running:
		s.tasks.start(node, "vzstart", name, rootPam, nil, func(t *task) error {
			err := s.store.withLock(vmid, func() error {
				if _, running := s.store.running(node, vmid); running {
					return nil
				}
				if err := t.fault(); err != nil {
					return err
				}
				return s.startCT(node, vmid, false)
			})
			if err != nil {
				_ = s.store.setServiceState(sid, "error")
			}
			return err
		})
	case want == "stopped" && running:
		s.tasks.start(node, "vzstop", name, rootPam, nil, func(t *task) error {
			return s.store.withLock(vmid, func() error {
				return s.store.setRunning(node, vmid, false, 0)
			})
		})
	}
}

// haPowerOp is what vm_start, vm_stop and vm_shutdown do for an HA-managed
// container: a task (hastart, hastop) that asks HA for the state instead of
// acting itself ("ha-manager set --state started", "ha-manager crm-command
// stop", whose CRM command sets the resource's state to stopped:
// PVE::HA::Manager::next_state_started).
func (s *server) haPowerOp(r *request, start bool) (any, error) {
	typ, state := "hastop", "stopped"
	if start {
		typ, state = "hastart", "started"
	}
	sid := "ct:" + strconv.Itoa(r.vmid)
	return s.tasks.start(r.node, typ, strconv.Itoa(r.vmid), r.user, nil, func(t *task) error {
		if start {
			t.logf("Requesting HA start for CT %d", r.vmid)
		} else {
			t.logf("Requesting HA stop for CT %d", r.vmid)
		}
		err := s.store.withHA("", func(hc *haConfig) (bool, error) {
			res := hc.ids[sid]
			if res == nil {
				return false, errf("resource '%s' is not HA managed", sid)
			}
			res.opts["state"] = state
			return true, nil
		})
		if err != nil {
			return err
		}
		s.haApply(sid)
		return nil
	}), nil
}

// haStatus is PVE::HA::Config::get_service_status for a container, as
// status/current reports it: managed (an ignored resource is not) and the
// CRM's service state.
func (s *server) haStatus(vmid int) map[string]any {
	res := s.store.haResourceOf(vmid)
	if res == nil || haRequested(res) == "" {
		return map[string]any{"managed": 0}
	}
	out := map[string]any{"managed": 1}
	if st, ok := s.store.serviceStates()["ct:"+strconv.Itoa(vmid)]; ok {
		out["state"] = st
	}
	return out
}
