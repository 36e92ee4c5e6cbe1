package pvesim

import (
	"errors"
	"io/fs"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Resource pools, as pve-access-control keeps them in user.cfg and
// pve-manager's PVE::API2::Pool serves them. The simulator keeps the pool
// lines of user.cfg in <state>/cluster/pools.cfg, one line per pool:
//
//	pool:<poolid>:<comment>:<vmid,...>:<storage,...>:
//
// (the comment URL-escaped). Like the container configs, the file is read
// on every call.

// poolConfig is one pool.
type poolConfig struct {
	comment string
	vms     map[int]bool
	storage map[string]bool
}

// poolsConfig is every pool, and each guest's pool (usercfg->{vms}).
type poolsConfig struct {
	pools map[string]*poolConfig
}

func (st *store) poolsPath() string { return filepath.Join(st.dir, "cluster", "pools.cfg") }

// readPools reads the pools file; a missing file holds no pools.
func (st *store) readPools() (*poolsConfig, error) {
	pc := &poolsConfig{pools: map[string]*poolConfig{}}
	data, err := os.ReadFile(st.poolsPath())
	if errors.Is(err, fs.ErrNotExist) {
		return pc, nil
	}
	if err != nil {
		return nil, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Split(strings.TrimSpace(line), ":")
		if len(f) < 5 || f[0] != "pool" {
			continue
		}
		comment, _ := url.QueryUnescape(f[2])
		p := &poolConfig{comment: comment, vms: map[int]bool{}, storage: map[string]bool{}}
		for _, v := range splitList(f[3]) {
			if n, err := strconv.Atoi(v); err == nil {
				p.vms[n] = true
			}
		}
		for _, s := range splitList(f[4]) {
			p.storage[s] = true
		}
		pc.pools[f[1]] = p
	}
	return pc, nil
}

// writePools writes the pools file atomically.
func (st *store) writePools(pc *poolsConfig) error {
	var b strings.Builder
	for _, id := range slices.Sorted(maps.Keys(pc.pools)) {
		p := pc.pools[id]
		vms := make([]string, 0, len(p.vms))
		for _, v := range slices.Sorted(maps.Keys(p.vms)) {
			vms = append(vms, strconv.Itoa(v))
		}
		b.WriteString("pool:" + id + ":" + url.QueryEscape(p.comment) + ":" + strings.Join(vms, ",") + ":" +
			strings.Join(slices.Sorted(maps.Keys(p.storage)), ",") + ":\n")
	}
	if err := os.MkdirAll(filepath.Dir(st.poolsPath()), 0o755); err != nil {
		return err
	}
	return writeFileAtomic(st.poolsPath(), []byte(b.String()), 0o640)
}

// withPools runs fn on the pools under the user config lock
// (lock_user_config) and writes them back when fn changed them.
func (st *store) withPools(fn func(pc *poolsConfig) (changed bool, err error)) error {
	st.clusterMu.Lock()
	defer st.clusterMu.Unlock()
	pc, err := st.readPools()
	if err != nil {
		return err
	}
	changed, err := fn(pc)
	if err != nil || !changed {
		return err
	}
	return st.writePools(pc)
}

// hasMember reports whether the guest or storage of an ACL path
// (/vms/{vmid}, /storage/{storage}) is a member of the pool.
func (p *poolConfig) hasMember(path string) bool {
	if v, ok := strings.CutPrefix(path, "/vms/"); ok {
		n, err := strconv.Atoi(v)
		return err == nil && p.vms[n]
	}
	if sid, ok := strings.CutPrefix(path, "/storage/"); ok {
		return p.storage[sid]
	}
	return false
}

// poolsSnapshot reads the pools for a permission check without the user
// config lock (the file is replaced atomically), as PVE's permission
// checks read the user config the request started with; nil when it
// cannot be read.
func (st *store) poolsSnapshot() *poolsConfig {
	pc, err := st.readPools()
	if err != nil {
		return nil
	}
	return pc
}

// poolOf returns the pool guest vmid belongs to ("" when none).
func (pc *poolsConfig) poolOf(vmid int) string {
	for id, p := range pc.pools {
		if p.vms[vmid] {
			return id
		}
	}
	return ""
}

// addVMToPool is PVE::AccessControl::add_vm_to_pool: nothing happens when
// the pool is gone meanwhile.
func (st *store) addVMToPool(vmid int, pool string) error {
	return st.withPools(func(pc *poolsConfig) (bool, error) {
		p := pc.pools[pool]
		if p == nil {
			return false, nil
		}
		if old := pc.poolOf(vmid); old != "" {
			delete(pc.pools[old].vms, vmid)
		}
		p.vms[vmid] = true
		return true, nil
	})
}

// removeVMFromPools is the pool part of PVE::AccessControl::remove_vm_access,
// which destroy_vm runs whether or not purge is set.
func (st *store) removeVMFromPools(vmid int) error {
	return st.withPools(func(pc *poolsConfig) (bool, error) {
		id := pc.poolOf(vmid)
		if id == "" {
			return false, nil
		}
		delete(pc.pools[id].vms, vmid)
		return true, nil
	})
}

// checkPoolExist is RPCEnvironment::check_pool_exist: a missing pool is a
// permission error.
func (s *server) checkPoolExist(pool string) error {
	s.store.clusterMu.Lock()
	defer s.store.clusterMu.Unlock()
	pc, err := s.store.readPools()
	if err != nil {
		return err
	}
	if pc.pools[pool] == nil {
		return permError("pool '" + pool + "' does not exist")
	}
	return nil
}

// checkPermModify is RPCEnvironment::check_perm_modify for a /vms or
// /storage path: Permissions.Modify, or the path's allocate privilege.
func (s *server) checkPermModify(authid, path string) error {
	privs := []string{"Permissions.Modify"}
	switch {
	case strings.HasPrefix(path, "/storage/"):
		privs = append(privs, "Datastore.Allocate")
	case strings.HasPrefix(path, "/vms/"):
		privs = append(privs, "VM.Allocate")
	case strings.HasPrefix(path, "/pool/"):
		privs = append(privs, "Pool.Allocate")
	}
	return s.checkAny(authid, path, privs...)
}

// handlePoolIndex serves GET /pools (PVE::API2::Pool index): every pool
// the caller may audit, or one pool with its members when poolid is given.
func (s *server) handlePoolIndex(r *request) (any, error) {
	if id, ok := r.params["poolid"]; ok && id != "" {
		info, err := s.poolInfo(r, id)
		if err != nil {
			return nil, err
		}
		info["poolid"] = id
		return []map[string]any{info}, nil
	}
	s.store.clusterMu.Lock()
	pc, err := s.store.readPools()
	s.store.clusterMu.Unlock()
	if err != nil {
		return nil, err
	}
	out := []map[string]any{}
	for _, id := range slices.Sorted(maps.Keys(pc.pools)) {
		if !s.has(r.user, "/pool/"+id, "Pool.Audit") {
			continue
		}
		e := map[string]any{"poolid": id}
		if c := pc.pools[id].comment; c != "" {
			e["comment"] = c
		}
		out = append(out, e)
	}
	return out, nil
}

// handlePoolRead serves GET /pools/{poolid} (read_pool).
func (s *server) handlePoolRead(r *request) (any, error) {
	return s.poolInfo(r, r.params["poolid"])
}

// poolInfo is the per-pool branch of the pool index: the members of the
// types asked for.
func (s *server) poolInfo(r *request, id string) (map[string]any, error) {
	if err := s.check(r.user, "/pool/"+id, "Pool.Audit"); err != nil {
		return nil, err
	}
	s.store.clusterMu.Lock()
	pc, err := s.store.readPools()
	s.store.clusterMu.Unlock()
	if err != nil {
		return nil, err
	}
	p := pc.pools[id]
	if p == nil {
		return nil, errf("pool '%s' does not exist", id)
	}
	typ := r.params["type"]
	members := []map[string]any{}
	used := s.store.usedVMIDs()
	for _, vmid := range slices.Sorted(maps.Keys(p.vms)) {
		node, ok := used[vmid]
		if !ok || typ != "" && typ != "lxc" {
			continue
		}
		c, err := s.store.load(node, vmid)
		if err != nil {
			continue
		}
		st := s.vmStatus(c)
		e := map[string]any{
			"id": "lxc/" + strconv.Itoa(vmid), "type": "lxc", "vmid": vmid, "node": node,
			"name": st["name"], "status": st["status"],
		}
		if v, ok := st["template"]; ok && v != nil {
			e["template"] = v
		}
		members = append(members, e)
	}
	if typ == "" || typ == "storage" {
		for _, sid := range slices.Sorted(maps.Keys(p.storage)) {
			if _, ok := storageByID(sid); !ok {
				continue
			}
			members = append(members, map[string]any{
				"id": "storage/" + s.opts.Nodes[0] + "/" + sid, "type": "storage", "node": s.opts.Nodes[0], "storage": sid,
			})
		}
	}
	out := map[string]any{"members": members}
	if p.comment != "" {
		out["comment"] = p.comment
	}
	return out, nil
}

// handlePoolCreate serves POST /pools (create_pool).
func (s *server) handlePoolCreate(r *request) (any, error) {
	id := r.params["poolid"]
	return nil, s.store.withPools(func(pc *poolsConfig) (bool, error) {
		if pc.pools[id] != nil {
			return false, errf("create pool failed: pool '%s' already exists", id)
		}
		leaf := id
		if i := strings.LastIndexByte(id, '/'); i >= 0 {
			parent := id[:i]
			leaf = id[i+1:]
			if pc.pools[parent] == nil {
				return false, errf("create pool failed: parent '%s' of pool '%s' does not exist", parent, id)
			}
		}
		if leaf == "" || !isASCIILetter(leaf[0]) {
			return false, errf("create pool failed: pool name must start with a letter")
		}
		pc.pools[id] = &poolConfig{comment: r.params["comment"], vms: map[int]bool{}, storage: map[string]bool{}}
		return true, nil
	})
}

func isASCIILetter(b byte) bool { return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' }

// handlePoolUpdate serves PUT /pools and PUT /pools/{poolid}
// (update_pool): a comment, and guests or storages added to the pool
// (moved from another one with allow-move) or, with delete, removed.
func (s *server) handlePoolUpdate(r *request) (any, error) {
	id := r.params["poolid"]
	del, move := r.flag("delete"), r.flag("allow-move")
	return nil, s.store.withPools(func(pc *poolsConfig) (bool, error) {
		// lock_user_config turns every error inside the lock, a
		// permission error too, into a plain one behind its message.
		fail := func(err error) (bool, error) {
			return false, errf("update pools failed: %s", asAPIError(err).msg)
		}
		p := pc.pools[id]
		if p == nil {
			return fail(errf("pool '%s' does not exist", id))
		}
		if c, ok := r.params["comment"]; ok {
			p.comment = c
		}
		if v, ok := r.params["vms"]; ok {
			for _, el := range splitList(v) {
				vmid, _ := strconv.Atoi(el)
				if err := s.checkPermModify(r.user, "/vms/"+el); err != nil {
					return fail(err)
				}
				if del {
					if !p.vms[vmid] {
						return fail(errf("VM %d is not a pool member", vmid))
					}
					delete(p.vms, vmid)
					continue
				}
				if p.vms[vmid] {
					return fail(errf("VM %d is already a pool member", vmid))
				}
				if old := pc.poolOf(vmid); old != "" {
					if !move {
						return fail(errf("VM %d belongs already to pool '%s' and 'allow-move' is not set", vmid, old))
					}
					if err := s.check(r.user, "/pool/"+old, "Pool.Allocate"); err != nil {
						return fail(err)
					}
					delete(pc.pools[old].vms, vmid)
				}
				p.vms[vmid] = true
			}
		}
		if v, ok := r.params["storage"]; ok {
			for _, sid := range splitList(v) {
				if err := s.checkPermModify(r.user, "/storage/"+sid); err != nil {
					return fail(err)
				}
				if del {
					if !p.storage[sid] {
						return fail(errf("Storage '%s' is not a pool member", sid))
					}
					delete(p.storage, sid)
					continue
				}
				if p.storage[sid] {
					return fail(errf("Storage '%s' is already a pool member", sid))
				}
				p.storage[sid] = true
			}
		}
		return true, nil
	})
}

// handlePoolDelete serves DELETE /pools and DELETE /pools/{poolid}
// (delete_pool): only an empty pool goes; members that no longer exist do
// not count.
func (s *server) handlePoolDelete(r *request) (any, error) {
	id := r.params["poolid"]
	used := s.store.usedVMIDs()
	return nil, s.store.withPools(func(pc *poolsConfig) (bool, error) {
		p := pc.pools[id]
		if p == nil {
			return false, errf("delete pool failed: pool '%s' does not exist", id)
		}
		for _, other := range slices.Sorted(maps.Keys(pc.pools)) {
			if strings.HasPrefix(other, id+"/") {
				return false, errf("delete pool failed: pool '%s' is not empty (contains pool '%s')", id, other)
			}
		}
		for _, vmid := range slices.Sorted(maps.Keys(p.vms)) {
			if _, ok := used[vmid]; ok {
				return false, errf("delete pool failed: pool '%s' is not empty (contains VM %d)", id, vmid)
			}
		}
		for _, sid := range slices.Sorted(maps.Keys(p.storage)) {
			if _, ok := storageByID(sid); ok {
				return false, errf("delete pool failed: pool '%s' is not empty (contains storage '%s')", id, sid)
			}
		}
		delete(pc.pools, id)
		return true, nil
	})
}
