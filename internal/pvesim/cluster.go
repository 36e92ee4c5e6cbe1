package pvesim

import (
	"net/http"
	"strconv"
	"time"
)

// Simulated node hardware.
const (
	nodeCPUs   = 16
	nodeMemory = 64 << 30
	nodeDisk   = 100 << 30
	pveVersion = "9.1.3"
	pveRelease = "9.1"
	pveRepoID  = "5b7c2a9fe1d7c5e0"
)

func (s *server) registerRoutes() {
	const (
		get, post, put, del = http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete
		ct                  = "/nodes/{node}/lxc/{vmid}"
	)
	s.addRoute(get, "/version", s.handleVersion)
	s.addRoute(get, "/access/ticket", func(*request) (any, error) { return nil, nil })
	s.addRoute(post, "/access/ticket", s.handleTicket)
	s.addRoute(get, "/access/permissions", s.handlePermissions)
	s.addRoute(get, "/cluster/status", s.handleClusterStatus)
	s.addRoute(get, "/cluster/resources", s.handleClusterResources)
	s.addRoute(get, "/cluster/nextid", s.handleNextID)
	s.addRoute(get, "/nodes", s.handleNodes)
	s.addRoute(get, "/nodes/{node}/status", s.handleNodeStatus)
	s.addRoute(get, "/nodes/{node}/version", s.handleVersion)
	s.addRoute(get, "/nodes/{node}/tasks", s.handleTaskList)
	s.addRoute(get, "/nodes/{node}/tasks/{upid}", s.handleTaskIndex)
	s.addRoute(get, "/nodes/{node}/tasks/{upid}/status", s.handleTaskStatus)
	s.addRoute(get, "/nodes/{node}/tasks/{upid}/log", s.handleTaskLog)
	s.addRoute(get, "/nodes/{node}/storage", s.handleStorageList)
	s.addRoute(get, "/nodes/{node}/storage/{storage}", s.handleStorageIndex)
	s.addRoute(get, "/nodes/{node}/storage/{storage}/status", s.handleStorageStatus)
	s.addRoute(get, "/nodes/{node}/storage/{storage}/content", s.handleStorageContent)
	s.addRoute(get, "/nodes/{node}/lxc", s.handleCTList)
	s.addRoute(post, "/nodes/{node}/lxc", s.handleCreate)
	s.addRoute(get, ct, s.handleCTIndex)
	s.addRoute(del, ct, s.handleDestroy)
	s.addRoute(get, ct+"/config", s.handleConfigGet)
	s.addRoute(put, ct+"/config", s.handleConfigPut)
	s.addRoute(get, ct+"/pending", s.handlePending)
	s.addRoute(get, ct+"/status", s.handleStatusIndex)
	s.addRoute(get, ct+"/status/current", s.handleStatusCurrent)
	s.addRoute(post, ct+"/status/start", s.handleStart)
	s.addRoute(post, ct+"/status/stop", s.handleStop)
	s.addRoute(post, ct+"/status/shutdown", s.handleShutdown)
	s.addRoute(post, ct+"/status/reboot", s.handleReboot)
	s.addRoute(post, ct+"/clone", s.handleClone)
	s.addRoute(put, ct+"/resize", s.handleResize)
	s.addRoute(post, ct+"/template", s.handleTemplate)
	s.addRoute(get, ct+"/interfaces", s.handleInterfaces)
	s.addRoute(get, ct+"/snapshot", s.handleSnapshotList)
	s.addRoute(post, ct+"/snapshot", s.handleSnapshotCreate)
	s.addRoute(get, ct+"/snapshot/{snapname}", s.handleSnapshotIndex)
	s.addRoute(del, ct+"/snapshot/{snapname}", s.handleSnapshotDelete)
	s.addRoute(get, ct+"/snapshot/{snapname}/config", s.handleSnapshotConfig)
	s.addRoute(get, "/pools", s.handlePoolIndex)
	s.addRoute(post, "/pools", s.handlePoolCreate)
	s.addRoute(put, "/pools", s.handlePoolUpdate)
	s.addRoute(del, "/pools", s.handlePoolDelete)
	s.addRoute(get, "/pools/{poolid}", s.handlePoolRead)
	s.addRoute(put, "/pools/{poolid}", s.handlePoolUpdate)
	s.addRoute(del, "/pools/{poolid}", s.handlePoolDelete)
	s.addRoute(get, "/cluster/ha/resources", s.handleHAIndex)
	s.addRoute(post, "/cluster/ha/resources", s.handleHACreate)
	s.addRoute(get, "/cluster/ha/resources/{sid}", s.handleHARead)
	s.addRoute(put, "/cluster/ha/resources/{sid}", s.handleHAUpdate)
	s.addRoute(del, "/cluster/ha/resources/{sid}", s.handleHADelete)
}

// handleVersion serves GET /version and /nodes/{node}/version.
func (s *server) handleVersion(*request) (any, error) {
	return map[string]any{"version": pveVersion, "release": pveRelease, "repoid": pveRepoID, "console": "xtermjs"}, nil
}

func (s *server) uptime() int64 {
	return int64(time.Since(s.tasks.boot).Seconds())
}

// handleNodes serves GET /nodes.
func (s *server) handleNodes(*request) (any, error) {
	out := []map[string]any{}
	for _, n := range s.opts.Nodes {
		mem := s.nodeMemUsed(n)
		out = append(out, map[string]any{
			"node":            n,
			"id":              "node/" + n,
			"type":            "node",
			"status":          "online",
			"cpu":             0.0123,
			"maxcpu":          nodeCPUs,
			"mem":             mem,
			"maxmem":          int64(nodeMemory),
			"disk":            int64(3 << 30),
			"maxdisk":         int64(nodeDisk),
			"uptime":          s.uptime(),
			"level":           "",
			"ssl_fingerprint": s.fp,
		})
	}
	return out, nil
}

// nodeMemUsed is a plausible memory use: the host's base plus what the
// running containers are given.
func (s *server) nodeMemUsed(node string) int64 {
	used := int64(2 << 30)
	for _, id := range s.store.list(node) {
		if _, ok := s.store.running(node, id); !ok {
			continue
		}
		if c, err := s.store.load(node, id); err == nil {
			used += ctMemory(c) / 4
		}
	}
	return used
}

// handleNodeStatus serves GET /nodes/{node}/status.
func (s *server) handleNodeStatus(r *request) (any, error) {
	used := s.nodeMemUsed(r.node)
	return map[string]any{
		"uptime":     s.uptime(),
		"cpu":        0.0123,
		"wait":       0.0004,
		"idle":       0,
		"loadavg":    []string{"0.12", "0.09", "0.05"},
		"kversion":   "Linux 6.17.2-1-pve #1 SMP PREEMPT_DYNAMIC PMX 6.17.2-1 (2025-10-21T11:55Z) x86_64",
		"pveversion": "pve-manager/" + pveVersion + "/" + pveRepoID,
		"cpuinfo": map[string]any{
			"model": "Simulated CPU @ 3.00GHz", "cpus": nodeCPUs, "cores": nodeCPUs / 2, "sockets": 1,
			"mhz": "3000.000", "hvm": "1", "user_hz": 100, "flags": "fpu vme de pse tsc msr pae mce cx8 apic",
		},
		"memory":         map[string]any{"total": int64(nodeMemory), "used": used, "free": int64(nodeMemory) - used, "available": int64(nodeMemory) - used},
		"swap":           map[string]any{"total": int64(8 << 30), "used": 0, "free": int64(8 << 30)},
		"rootfs":         map[string]any{"total": int64(nodeDisk), "used": int64(3 << 30), "free": int64(nodeDisk - 3<<30), "avail": int64(nodeDisk - 3<<30)},
		"ksm":            map[string]any{"shared": 0},
		"boot-info":      map[string]any{"mode": "efi", "secureboot": 0},
		"current-kernel": map[string]any{"sysname": "Linux", "release": "6.17.2-1-pve", "machine": "x86_64", "version": "#1 SMP PREEMPT_DYNAMIC PMX 6.17.2-1 (2025-10-21T11:55Z)"},
	}, nil
}

// handleClusterStatus serves GET /cluster/status. A single node is not a
// cluster and reports only itself.
func (s *server) handleClusterStatus(*request) (any, error) {
	out := []map[string]any{}
	if len(s.opts.Nodes) > 1 {
		out = append(out, map[string]any{
			"type": "cluster", "id": "cluster", "name": s.opts.ClusterName,
			"nodes": len(s.opts.Nodes), "quorate": 1, "version": len(s.opts.Nodes),
		})
	}
	for i, n := range s.opts.Nodes {
		out = append(out, map[string]any{
			"type": "node", "id": "node/" + n, "name": n, "nodeid": i + 1,
			"ip": "127.0.0.1", "online": 1, "local": boolInt(i == 0), "level": "",
		})
	}
	return out, nil
}

// handleClusterResources serves GET /cluster/resources.
func (s *server) handleClusterResources(r *request) (any, error) {
	typ := r.params["type"]
	out := []map[string]any{}
	var pools *poolsConfig
	var haStates map[string]string
	ha := &haConfig{ids: map[string]*haResource{}}
	if typ == "" || typ == "vm" {
		s.store.clusterMu.Lock()
		pools, _ = s.store.readPools()
		if hc, err := s.store.readHA(); err == nil {
			ha = hc
		}
		haStates = s.store.serviceStatesLocked()
		s.store.clusterMu.Unlock()
	}
	if typ == "" || typ == "vm" {
		for _, n := range s.opts.Nodes {
			for _, id := range s.store.list(n) {
				if !s.has(r.user, "/vms/"+strconv.Itoa(id), "VM.Audit") {
					continue
				}
				c, err := s.store.load(n, id)
				if err != nil {
					continue
				}
				st := s.vmStatus(c)
				e := map[string]any{
					"id": "lxc/" + strconv.Itoa(id), "type": "lxc", "vmid": id, "node": n,
					"name": st["name"], "status": st["status"], "uptime": st["uptime"],
					"maxcpu": st["cpus"], "cpu": st["cpu"], "maxmem": st["maxmem"], "mem": st["mem"],
					"maxdisk": st["maxdisk"], "disk": st["disk"], "diskread": 0, "diskwrite": 0,
					"netin": 0, "netout": 0, "template": st["template"],
				}
				if v, ok := st["tags"]; ok {
					e["tags"] = v
				}
				if v, ok := st["lock"]; ok {
					e["lock"] = v
				}
				// The pool only with Pool.Audit on it, the HA state from
				// the CRM's status or the resource's config (pve-manager's
				// PVE::API2::Cluster resources).
				if pools != nil {
					if p := pools.poolOf(id); p != "" && s.has(r.user, "/pool/"+p, "Pool.Audit") {
						e["pool"] = p
					}
				}
				if hs := haClusterState(id, ha, haStates); hs != "" {
					e["hastate"] = hs
				}
				out = append(out, e)
			}
		}
	}
	if typ == "" || typ == "node" {
		for _, n := range s.opts.Nodes {
			e := map[string]any{
				"id": "node/" + n, "type": "node", "node": n, "status": "online",
				"cpu": 0.0123, "maxcpu": nodeCPUs, "mem": s.nodeMemUsed(n), "maxmem": int64(nodeMemory),
				"disk": int64(3 << 30), "maxdisk": int64(nodeDisk), "uptime": s.uptime(),
				"level": "", "cgroup-mode": 2,
			}
			// Nodes are always listed, their figures only with Sys.Audit.
			if !s.has(r.user, "/nodes/"+n, "Sys.Audit") {
				for _, k := range []string{"uptime", "cpu", "mem", "disk", "maxcpu", "maxmem", "maxdisk"} {
					delete(e, k)
				}
			}
			out = append(out, e)
		}
	}
	if typ == "" || typ == "storage" {
		for _, n := range s.opts.Nodes {
			usage := s.volumeUsage(n)
			for _, d := range storages {
				if !s.has(r.user, "/storage/"+d.id, "Datastore.Audit") {
					continue
				}
				out = append(out, map[string]any{
					"id": "storage/" + n + "/" + d.id, "type": "storage", "node": n,
					"storage": d.id, "status": "available", "plugintype": d.typ,
					"content": joinContent(d.content), "shared": boolInt(d.shared),
					"disk": usage[d.id], "maxdisk": d.total,
				})
			}
		}
	}
	return out, nil
}

func joinContent(c []string) string {
	out := ""
	for i, v := range c {
		if i > 0 {
			out += ","
		}
		out += v
	}
	return out
}

// handleNextID serves GET /cluster/nextid. PVE returns the id as a string.
func (s *server) handleNextID(r *request) (any, error) {
	used := s.store.usedVMIDs()
	if v, ok := r.params["vmid"]; ok {
		id, err := strconv.Atoi(v)
		if err != nil {
			return nil, paramErr1("vmid", "type check ('integer') failed - got '"+v+"'")
		}
		if _, taken := used[id]; taken {
			return nil, paramErr1("vmid", "VM "+v+" already exists")
		}
		return v, nil
	}
	for id := 100; id < 1000000; id++ {
		if _, taken := used[id]; !taken {
			return strconv.Itoa(id), nil
		}
	}
	return nil, errf("unable to get any free VMID in range [100, 999999]")
}
