package pvesim

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// readConf reads the config file of a container on pve1.
func readConf(t *testing.T, s *Sim, vmid int) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.StateDir, "nodes/pve1/lxc", strconv.Itoa(vmid)+".conf"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestConfigFileFormat checks the files the simulator writes look like the
// ones PVE writes: sorted keys, description as comments, snapshot sections,
// raw lxc lines kept at the end.
func TestConfigFileFormat(t *testing.T) {
	s := startSim(t, Options{})
	createCTAs(t, s, rootAuth(t, s), 102, url.Values{"features": {"nesting=1,keyctl=1"}, "description": {"web server"}, "cores": {"2"}})
	got := readConf(t, s, 102)
	want := regexp.MustCompile(`^#web server
arch: amd64
cores: 2
features: keyctl=1,nesting=1
hostname: ct102
memory: 512
net0: name=eth0,bridge=vmbr0,hwaddr=BC:24:11:[0-9A-F:]{8},ip=dhcp,type=veth
ostype: debian
rootfs: local-lvm:vm-102-disk-0,size=8G
swap: 512
unprivileged: 1
$`)
	if !want.MatchString(got) {
		t.Fatalf("config file:\n%s", got)
	}
	// A raw lxc line written by a node shell survives API writes.
	path := filepath.Join(s.StateDir, "nodes/pve1/lxc/102.conf")
	if err := os.WriteFile(path, []byte(got+"lxc.apparmor.profile: lxc-docker-secure\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	call(t, s, http.MethodPut, "/nodes/pve1/lxc/102/config", url.Values{"tags": {"web"}, "onboot": {"1"}}).ok(t)
	mustTask(t, s, call(t, s, http.MethodPost, "/nodes/pve1/lxc/102/snapshot", url.Values{"snapname": {"s1"}, "description": {"first"}}).upid(t))
	got = readConf(t, s, 102)
	if !strings.Contains(got, "onboot: 1\nostype: debian\nparent: s1\nrootfs:") ||
		!strings.Contains(got, "tags: web\nunprivileged: 1\nlxc.apparmor.profile: lxc-docker-secure\n\n[s1]\n#first\narch: amd64\n") ||
		!regexp.MustCompile(`\nsnaptime: \d+\nswap: 512\ntags: web\nunprivileged: 1\nlxc.apparmor.profile: lxc-docker-secure\n$`).MatchString(got) {
		t.Fatalf("config file after update and snapshot:\n%s", got)
	}
	cfg := config(t, s, 102)
	lxc, _ := cfg["lxc"].([]any)
	if len(lxc) != 1 || fmt.Sprint(lxc[0]) != "[lxc.apparmor.profile lxc-docker-secure]" || cfg["onboot"] != float64(1) {
		t.Fatalf("config: %v", cfg)
	}
	snapCfg := call(t, s, http.MethodGet, "/nodes/pve1/lxc/102/config", url.Values{"snapshot": {"s1"}}).obj(t)
	if snapCfg["description"] != "first\n" || snapCfg["snaptime"] == nil || snapCfg["lxc"] == nil {
		t.Fatalf("snapshot config: %v", snapCfg)
	}
}

// TestPendingChanges checks that options that cannot be hot-plugged wait in
// [pve:pending] while the container runs and are applied at the next start.
func TestPendingChanges(t *testing.T) {
	s := startSim(t, Options{})
	createCT(t, s, "pve1", 100, url.Values{"nameserver": {"10.0.0.53"}})
	mustTask(t, s, call(t, s, http.MethodPost, "/nodes/pve1/lxc/100/status/start", nil).upid(t))
	call(t, s, http.MethodPut, "/nodes/pve1/lxc/100/config", url.Values{"features": {"nesting=1"}, "memory": {"2048"}, "delete": {"nameserver"}}).ok(t)
	if got := readConf(t, s, 100); !strings.Contains(got, "memory: 2048\n") || !strings.Contains(got, "\n[pve:pending]\ndelete: nameserver\nfeatures: nesting=1\n") {
		t.Fatalf("config file:\n%s", got)
	}
	cur := call(t, s, http.MethodGet, "/nodes/pve1/lxc/100/config", url.Values{"current": {"1"}}).obj(t)
	pend := config(t, s, 100)
	if cur["features"] != nil || cur["nameserver"] != "10.0.0.53" || pend["features"] != "nesting=1" || pend["nameserver"] != nil || pend["memory"] != float64(2048) {
		t.Fatalf("current %v pending %v", cur, pend)
	}
	items := call(t, s, http.MethodGet, "/nodes/pve1/lxc/100/pending", nil).list(t)
	found := map[string]string{}
	for _, it := range items {
		m, _ := it.(map[string]any)
		found[fmt.Sprint(m["key"])] = fmt.Sprint(m["value"], "|", m["pending"], "|", m["delete"])
	}
	if found["features"] != "<nil>|nesting=1|<nil>" || found["nameserver"] != "10.0.0.53|<nil>|1" || found["memory"] != "2048|<nil>|<nil>" {
		t.Fatalf("pending: %v", found)
	}
	// Revert one change, then restart: the rest is applied.
	call(t, s, http.MethodPut, "/nodes/pve1/lxc/100/config", url.Values{"revert": {"nameserver"}}).ok(t)
	mustTask(t, s, call(t, s, http.MethodPost, "/nodes/pve1/lxc/100/status/reboot", nil).upid(t))
	got := readConf(t, s, 100)
	if strings.Contains(got, "pending") || !strings.Contains(got, "features: nesting=1\n") || !strings.Contains(got, "nameserver: 10.0.0.53\n") {
		t.Fatalf("after reboot:\n%s", got)
	}
}

// TestRestartKeepsState restarts the simulator and finds every container,
// snapshot and running state again, on the same address and CA.
func TestRestartKeepsState(t *testing.T) {
	s := startSim(t, Options{Nodes: []string{"pve1", "pve2"}})
	createCT(t, s, "pve1", 100, nil)
	createCT(t, s, "pve2", 200, url.Values{"hostname": {"other"}})
	mustTask(t, s, call(t, s, http.MethodPost, "/nodes/pve1/lxc/100/snapshot", url.Values{"snapname": {"s1"}}).upid(t))
	mustTask(t, s, call(t, s, http.MethodPost, "/nodes/pve2/lxc/200/status/start", nil).upid(t))
	before := config(t, s, 100)
	endpoint, ca, token := s.Endpoint, string(s.CAPEM), s.APIToken

	s.Restart(t)
	if s.Endpoint != endpoint || string(s.CAPEM) != ca || s.APIToken != token {
		t.Fatalf("restart changed endpoint, CA or token: %s", s.Endpoint)
	}
	after := config(t, s, 100)
	if after["digest"] != before["digest"] || after["parent"] != "s1" {
		t.Fatalf("config after restart: %v", after)
	}
	st := call(t, s, http.MethodGet, "/nodes/pve2/lxc/200/status/current", nil).obj(t)
	if st["status"] != "running" || st["name"] != "other" {
		t.Fatalf("status after restart: %v", st)
	}
	if id := call(t, s, http.MethodGet, "/cluster/nextid", nil).ok(t); id != "101" {
		t.Fatalf("nextid after restart: %v", id)
	}
	res := call(t, s, http.MethodGet, "/cluster/resources", url.Values{"type": {"vm"}}).list(t)
	if len(res) != 2 {
		t.Fatalf("resources after restart: %v", res)
	}
}

// TestParallelCreates runs 20 clients that each take /cluster/nextid and
// create, retrying when another client got the id first; every container
// must get its own vmid.
func TestParallelCreates(t *testing.T) {
	s := startSim(t, Options{})
	const n = 20
	var mu sync.Mutex
	var ids []int
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for attempt := 0; attempt < 50; attempt++ {
				id := call(t, s, http.MethodGet, "/cluster/nextid", nil).upid(t)
				r := call(t, s, http.MethodPost, "/nodes/pve1/lxc", url.Values{
					"vmid": {id}, "ostemplate": {ubuntuTemplate}, "rootfs": {"local-lvm:2"}, "hostname": {fmt.Sprintf("c%d", i)},
				})
				if r.status == http.StatusInternalServerError && strings.Contains(r.reason, "already exists on node") {
					continue
				}
				if r.status != http.StatusOK {
					errs <- fmt.Errorf("create: %d %s", r.status, r.reason)
					return
				}
				if es := waitTask(t, s, r.upid(t)); es != "OK" {
					errs <- fmt.Errorf("task: %s", es)
					return
				}
				vmid, _ := strconv.Atoi(id)
				mu.Lock()
				ids = append(ids, vmid)
				mu.Unlock()
				return
			}
			errs <- fmt.Errorf("client %d gave up", i)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	slices.Sort(ids)
	if len(slices.Compact(slices.Clone(ids))) != n || len(ids) != n {
		t.Fatalf("vmids: %v", ids)
	}
	if got := s.srv.store.list("pve1"); !slices.Equal(got, ids) {
		t.Fatalf("configs %v, created %v", got, ids)
	}
	for _, id := range ids {
		if c := config(t, s, id); c["lock"] != nil || c["rootfs"] != fmt.Sprintf("local-lvm:vm-%d-disk-0,size=2G", id) {
			t.Fatalf("config of %d: %v", id, c)
		}
	}
}

// TestMountPoints covers mount point volumes: allocation at create (with the
// storage parameter for bare sizes), detaching to unusedN and destroying.
func TestMountPoints(t *testing.T) {
	s := startSim(t, Options{})
	// A bare size is rewritten to storage:size only after
	// check_ct_modify_config_perm, which refuses it to anyone but root@pam.
	createCTAs(t, s, rootAuth(t, s), 100, url.Values{"storage": {"local-lvm"}, "rootfs": {"4"}, "mp0": {"local-lvm:2,mp=/data,backup=1"}})
	cfg := config(t, s, 100)
	if cfg["rootfs"] != "local-lvm:vm-100-disk-0,size=4G" || cfg["mp0"] != "local-lvm:vm-100-disk-1,mp=/data,backup=1,size=2G" {
		t.Fatalf("config: %v", cfg)
	}
	vol := filepath.Join(s.StateDir, "volumes/pve1/local-lvm/vm-100-disk-1")
	if _, err := os.Stat(vol); err != nil {
		t.Fatal(err)
	}
	call(t, s, http.MethodPut, "/nodes/pve1/lxc/100/config", url.Values{"delete": {"mp0"}}).ok(t)
	cfg = config(t, s, 100)
	if cfg["mp0"] != nil || cfg["unused0"] != "local-lvm:vm-100-disk-1" {
		t.Fatalf("after detaching mp0: %v", cfg)
	}
	call(t, s, http.MethodPut, "/nodes/pve1/lxc/100/config", url.Values{"mp1": {"local-lvm:1,mp=/srv"}}).ok(t)
	if cfg = config(t, s, 100); cfg["mp1"] != "local-lvm:vm-100-disk-2,mp=/srv,size=1G" {
		t.Fatalf("after adding mp1: %v", cfg)
	}
	mustTask(t, s, call(t, s, http.MethodPut, "/nodes/pve1/lxc/100/resize", url.Values{"disk": {"mp1"}, "size": {"+512M"}}).upid(t))
	if cfg = config(t, s, 100); cfg["mp1"] != "local-lvm:vm-100-disk-2,mp=/srv,size=1536M" {
		t.Fatalf("after resizing mp1: %v", cfg)
	}
	call(t, s, http.MethodPut, "/nodes/pve1/lxc/100/config", url.Values{"delete": {"unused0"}}).ok(t)
	if _, err := os.Stat(vol); !os.IsNotExist(err) {
		t.Fatalf("unused volume not destroyed: %v", err)
	}
	content := call(t, s, http.MethodGet, "/nodes/pve1/storage/local-lvm/content", nil).list(t)
	if len(content) != 2 {
		t.Fatalf("local-lvm content: %v", content)
	}
}
