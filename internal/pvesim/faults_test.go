package pvesim

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// simCall calls a /_sim/ endpoint without authentication.
func simCall(t *testing.T, s *Sim, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, s.Endpoint+"_sim/"+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func TestFaultRules(t *testing.T) {
	s := startSim(t, Options{})
	createCT(t, s, "pve1", 100, nil)

	// 5xx with a message, twice.
	code, body := simCall(t, s, http.MethodPost, "faults", `{"path_regex":"/lxc/100/config$","method":"put","status":503,"message":"service busy","times":2}`)
	if code != http.StatusOK {
		t.Fatalf("add fault: %d %s", code, body)
	}
	for i := range 2 {
		if r := call(t, s, http.MethodPut, "/nodes/pve1/lxc/100/config", url.Values{"cores": {"2"}}); r.status != 503 || r.reason != "service busy" {
			t.Fatalf("call %d: %d %q", i, r.status, r.reason)
		}
	}
	call(t, s, http.MethodGet, "/nodes/pve1/lxc/100/config", nil).ok(t) // other methods pass
	call(t, s, http.MethodPut, "/nodes/pve1/lxc/100/config", url.Values{"cores": {"2"}}).ok(t)

	// A dropped connection, once.
	mustNil(t, s.AddFault(Fault{ResetConnection: &PathFault{PathRegex: "/version$", Times: 1}}))
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, s.Endpoint+"api2/json/version", nil)
	req.Header.Set("Authorization", "PVEAPIToken="+s.APIToken)
	if res, err := s.HTTPClient().Do(req); err == nil {
		_ = res.Body.Close()
		t.Fatalf("reset_connection: got %s", res.Status)
	}
	call(t, s, http.MethodGet, "/version", nil).ok(t)

	// Latency rules are used up like the others.
	mustNil(t, s.AddFault(Fault{LatencyMS: 1, Times: 1}))
	call(t, s, http.MethodGet, "/version", nil).ok(t)
	if f := s.Faults(); len(f) != 0 {
		t.Fatalf("faults left: %+v", f)
	}

	// A failing create task cleans up like PVE.
	mustNil(t, s.AddFault(Fault{TaskFail: &TaskFault{Type: "vzcreate", Times: 1, Message: "no space left on device"}}))
	upid := call(t, s, http.MethodPost, "/nodes/pve1/lxc", url.Values{"vmid": {"150"}, "ostemplate": {debianTemplate}, "rootfs": {"local-lvm:8"}}).upid(t)
	if es := waitTask(t, s, upid); es != "unable to create CT 150 - no space left on device" {
		t.Fatalf("exit status %q", es)
	}
	log := call(t, s, http.MethodGet, "/nodes/pve1/tasks/"+upid+"/log", nil).list(t)
	if last, _ := log[len(log)-1].(map[string]any); last["t"] != "TASK ERROR: unable to create CT 150 - no space left on device" {
		t.Fatalf("task log: %v", log)
	}
	if r := call(t, s, http.MethodGet, "/nodes/pve1/lxc/150/config", nil); r.status != 500 {
		t.Fatalf("config of failed create: %d", r.status)
	}
	// A missing template fails the task the same way.
	upid = call(t, s, http.MethodPost, "/nodes/pve1/lxc", url.Values{"vmid": {"151"}, "ostemplate": {"local:vztmpl/gone.tar.zst"}, "rootfs": {"local-lvm:8"}}).upid(t)
	if es := waitTask(t, s, upid); es != "unable to create CT 151 - can't find file 'local:vztmpl/gone.tar.zst'" {
		t.Fatalf("exit status %q", es)
	}
	if _, err := os.Stat(filepath.Join(s.StateDir, "volumes/pve1/local-lvm/vm-151-disk-0")); !os.IsNotExist(err) {
		t.Fatalf("volume of failed create left behind: %v", err)
	}

	// A hanging task runs until the faults are cleared; its lock holds.
	mustNil(t, s.AddFault(Fault{TaskHang: &TaskFault{Type: "vzstart"}}))
	upid = call(t, s, http.MethodPost, "/nodes/pve1/lxc/100/status/start", nil).upid(t)
	p, _ := parseUPID(upid)
	for range 3 {
		st := call(t, s, http.MethodGet, "/nodes/pve1/tasks/"+upid+"/status", nil).obj(t)
		if st["status"] != "running" || st["type"] != "vzstart" || st["id"] != "100" || st["user"] != "root@pam" || st["tokenid"] != "phoenix" || st["pid"] != float64(p.pid) {
			t.Fatalf("hanging task: %v", st)
		}
	}
	s.ClearFaults()
	mustTask(t, s, upid)

	// Bad rules are refused.
	if code, _ := simCall(t, s, http.MethodPost, "faults", `{"status":500,"latency_ms":5}`); code != http.StatusBadRequest {
		t.Fatalf("two kinds in one rule: %d", code)
	}
	if code, _ := simCall(t, s, http.MethodPost, "faults", `{"path_regex":"(","status":500}`); code != http.StatusBadRequest {
		t.Fatalf("bad regexp: %d", code)
	}
	if code, _ := simCall(t, s, http.MethodPost, "faults", `{"stauts":500}`); code != http.StatusBadRequest {
		t.Fatalf("unknown field: %d", code)
	}
	code, _ = simCall(t, s, http.MethodPost, "faults", `[{"status":500,"times":1},{"hold_lock":{"vmid":100,"lock":"backup"}}]`)
	if code != http.StatusOK || len(s.Faults()) != 2 {
		t.Fatalf("array of rules: %d %+v", code, s.Faults())
	}
	if code, _ := simCall(t, s, http.MethodDelete, "faults", ""); code != http.StatusOK || len(s.Faults()) != 0 {
		t.Fatalf("delete faults: %d", code)
	}
}

func TestRequestLog(t *testing.T) {
	s := startSim(t, Options{})
	createCT(t, s, "pve1", 100, nil)
	if n := s.CountMutating(); n != 1 {
		t.Fatalf("mutating calls after a create: %d", n)
	}
	s.ResetRequests()
	config(t, s, 100)
	call(t, s, http.MethodPut, "/nodes/pve1/lxc/100/config", url.Values{"cores": {"3"}}).ok(t)
	call(t, s, http.MethodGet, "/nodes/pve1/lxc/999/config", nil)
	callWith(t, s, http.MethodPost, "/access/ticket", url.Values{"username": {"root@pam"}, "password": {s.Password}}, nil).ok(t)
	reqs := s.Requests()
	if len(reqs) != 4 || s.CountMutating() != 1 {
		t.Fatalf("log: %+v", reqs)
	}
	if r := reqs[2]; r.Method != "GET" || r.Path != "/api2/json/nodes/pve1/lxc/999/config" || r.Status != 500 || r.Time.IsZero() {
		t.Fatalf("entry: %+v", r)
	}

	code, body := simCall(t, s, http.MethodGet, "requests", "")
	var arr []map[string]any
	if code != http.StatusOK || json.Unmarshal([]byte(body), &arr) != nil || len(arr) != 4 {
		t.Fatalf("GET requests: %d %s", code, body)
	}
	for _, k := range []string{"time", "method", "path", "status", "duration_ms"} {
		if _, ok := arr[1][k]; !ok {
			t.Fatalf("entry without %q: %v", k, arr[1])
		}
	}
	code, body = simCall(t, s, http.MethodGet, "requests?format=jsonl", "")
	sc := bufio.NewScanner(strings.NewReader(body))
	lines := 0
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("jsonl line %q: %v", sc.Text(), err)
		}
		lines++
	}
	if code != http.StatusOK || lines != 4 {
		t.Fatalf("jsonl: %d, %d lines", code, lines)
	}
	if code, _ := simCall(t, s, http.MethodDelete, "requests", ""); code != http.StatusOK || len(s.Requests()) != 0 {
		t.Fatalf("DELETE requests: %d, %d left", code, len(s.Requests()))
	}
}

func TestSimTaskTimings(t *testing.T) {
	const delay = 150 * time.Millisecond
	s := startSim(t, Options{TaskDelay: delay})
	createCT(t, s, "pve1", 100, nil)
	mustTask(t, s, call(t, s, http.MethodPost, "/nodes/pve1/lxc/100/clone", url.Values{"newid": {"101"}}).upid(t))
	upid := call(t, s, http.MethodPost, "/nodes/pve1/lxc/100/status/start", nil).upid(t)
	code, body := simCall(t, s, http.MethodGet, "tasks", "")
	if code != http.StatusOK {
		t.Fatalf("GET /_sim/tasks: %d %s", code, body)
	}
	var tasks []TaskTiming
	if err := json.Unmarshal([]byte(body), &tasks); err != nil {
		t.Fatalf("%v in %s", err, body)
	}
	if len(tasks) != 3 || tasks[0].Type != "vzcreate" || tasks[2].UPID != upid || tasks[2].Type != "vzstart" || tasks[2].ID != "100" {
		t.Fatalf("tasks %+v, want the create, the clone and the start of 100", tasks)
	}
	if c := tasks[1]; c.Type != "vzclone" || c.ID != "100" || c.Target != 101 {
		t.Errorf("clone task %+v, want id 100 (the source, as in PVE) and target 101", c)
	}
	if d := tasks[0].End.Sub(tasks[0].Start); tasks[0].Exit != "OK" || d < delay {
		t.Errorf("create: exit %q, ran %v (task delay %v)", tasks[0].Exit, d, delay)
	}
	if !tasks[2].End.IsZero() && tasks[2].End.Sub(tasks[2].Start) < delay {
		t.Errorf("start task ended after %v, before the task delay", tasks[2].End.Sub(tasks[2].Start))
	}
	mustTask(t, s, upid)
	_, body = simCall(t, s, http.MethodGet, "tasks", "")
	tasks = nil
	if err := json.Unmarshal([]byte(body), &tasks); err != nil || len(tasks) != 3 || tasks[2].End.IsZero() || tasks[2].Exit != "OK" {
		t.Errorf("after the start ended: %v %s", err, body)
	}
}
