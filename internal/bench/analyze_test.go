package bench

import (
	"fmt"
	"math"
	"testing"
	"time"
)

func TestAPIRoute(t *testing.T) {
	cases := []struct {
		e    LogEntry
		want string
	}{
		{LogEntry{Method: "GET", Path: "/api2/json/nodes/pve1/lxc/1000/config"}, "GET /nodes/{node}/lxc/{vmid}/config"},
		{LogEntry{Method: "GET", Path: "/api2/json/nodes/pve2/tasks/UPID:pve2:0000CC53:0084B789:6B091DEF:vzcreate:1001:root@pam!phoenix:/status"}, "GET /nodes/{node}/tasks/{upid}/status"},
		{LogEntry{Method: "GET", Path: "/api2/json/cluster/resources", Query: "type=vm"}, "GET /cluster/resources?type=vm"},
		{LogEntry{Method: "POST", Path: "/api2/json/nodes/pve1/lxc"}, "POST /nodes/{node}/lxc"},
		{LogEntry{Method: "POST", Path: "/api2/json/nodes/pve1/lxc/901/clone"}, "POST /nodes/{node}/lxc/{vmid}/clone"},
	}
	for _, c := range cases {
		if got := APIRoute(c.e); got != c.want {
			t.Errorf("APIRoute(%s) = %q, want %q", c.e.Path, got, c.want)
		}
	}
}

func TestSSHKindAndVMID(t *testing.T) {
	cases := []struct {
		cmd  string
		kind string
		vmid int
	}{
		{"pct exec 1000 -- bash -s -- --package-source docker-ce --compose 1", SSHInstall, 1000},
		{"pct exec 1001 -- bash -s --", SSHCheck, 1001},
		{"timeout --kill-after=5 50 pct exec 1004 -- bash -s --", SSHCheck, 1004},
		{"timeout '--kill-after=5' 50 pct exec 1005 -- bash -s --", SSHCheck, 1005},
		{"pct exec 1002 -- bash -s -- --network-target 1.1.1.1 --hello-world 1", SSHTests, 1002},
		{"pct exec 1003 -- systemctl stop docker", SSHPctExec, 1003},
		{"cat -- /etc/pve/lxc/1004.conf", SSHReadConfig, 1004},
		{"flock -w 10 -- /run/lock/lxc/pve-config-1005.lock sh -c 'set -eu\ntarget=$1\n'", SSHWriteConfig, 1005},
		{"sh -c 'set -eu\numask 022\nkernel_profiles=$1 name=$2 policy=$3\n' apparmor_parser", SSHProfile, 0},
		{"bash -c '#!/usr/bin/env bash\n# check_docker_batch.sh: runs\n' check_docker_batch.sh 0123456789abcdef0123456789abcdef 16 60 1001 1003", SSHCheckBatch, 0},
		{"pveversion", SSHOther, 0},
	}
	for _, c := range cases {
		if got := SSHKind(c.cmd); got != c.kind {
			t.Errorf("SSHKind(%q) = %q, want %q", c.cmd, got, c.kind)
		}
		if got := SSHVMID(c.cmd); got != c.vmid {
			t.Errorf("SSHVMID(%q) = %d, want %d", c.cmd, got, c.vmid)
		}
	}
}

func TestSummarize(t *testing.T) {
	log := []LogEntry{
		{Method: "GET", Path: "/api2/json/cluster/resources", Query: "type=vm"},
		{Method: "GET", Path: "/api2/json/nodes/pve1/lxc/1000/config"},
		{Method: "GET", Path: "/api2/json/nodes/pve2/lxc/1001/config"},
		{Method: "POST", Path: "/api2/json/access/ticket"},
		{Method: "PUT", Path: "/api2/json/nodes/pve1/lxc/1000/config"},
		{Method: "GET", Path: "/_sim/requests"},
		{Method: "SSH", Path: "pct exec 1000 -- bash -s --", Source: "ssh", Node: "pve1"},
		{Method: "SSH-WRITE", Path: "pct exec 1001 -- bash -s -- --package-source distro", Source: "ssh", Node: "pve2"},
	}
	s := Summarize(log)
	if s.APIRequests != 5 {
		t.Errorf("API requests = %d, want 5 (the /_sim call is not one)", s.APIRequests)
	}
	if s.APIByRoute["GET /nodes/{node}/lxc/{vmid}/config"] != 2 {
		t.Errorf("by route: %v", s.APIByRoute)
	}
	if s.Mutating != 1 || len(s.MutatingList) != 1 || s.MutatingList[0] != "PUT /api2/json/nodes/pve1/lxc/1000/config" {
		t.Errorf("mutating = %d %v, want the PUT only (a login does not count)", s.Mutating, s.MutatingList)
	}
	if s.SSHCommands != 2 || s.SSHWrites != 1 || s.Installs != 1 || s.SSHByNode["pve2"] != 1 {
		t.Errorf("SSH: %+v", s)
	}
}

func TestMakespan(t *testing.T) {
	cases := []struct {
		jobs []float64
		p    int
		want float64
	}{
		{nil, 10, 0},
		{[]float64{5}, 10, 5},
		{[]float64{5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5}, 10, 10},
		{[]float64{2, 3, 4, 3}, 2, 6},
		{[]float64{1, 2, 3}, 0, 6},
	}
	for _, c := range cases {
		if got := Makespan(c.jobs, c.p); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("Makespan(%v, %d) = %v, want %v", c.jobs, c.p, got, c.want)
		}
	}
}

func TestIdeal(t *testing.T) {
	ms := func(d float64) float64 { return d }
	log := []LogEntry{
		{Method: "SSH-WRITE", Path: "sh -c 'kernel_profiles=$1' apparmor_parser", Source: "ssh", Node: "pve1", DurationMS: ms(500)},
		{Method: "SSH-WRITE", Path: "sh -c 'kernel_profiles=$1' apparmor_parser", Source: "ssh", Node: "pve2", DurationMS: ms(700)},
		{Method: "SSH-WRITE", Path: "pct exec 1000 -- bash -s -- --package-source docker-ce", Source: "ssh", Node: "pve1", DurationMS: ms(3000)},
		{Method: "SSH", Path: "pct exec 1000 -- bash -s --", Source: "ssh", Node: "pve1", DurationMS: ms(1000)},
		{Method: "SSH-WRITE", Path: "pct exec 1001 -- bash -s -- --package-source docker-ce", Source: "ssh", Node: "pve2", DurationMS: ms(2000)},
		{Method: "GET", Path: "/api2/json/nodes/pve1/lxc/1000/config", DurationMS: ms(5)},
	}
	got := IdealLocked(log, []int{1000, 1001, 1002}, nil, nil, 2*time.Second, 2, 2)
	// Chains: 4+4 = 8, 4+2 = 6, 4 (no command); two slots: {8}, {6, 4} -> 10; plus 0.7 s of node commands.
	if math.Abs(got.Makespan-10) > 1e-9 || math.Abs(got.NodeLevel-0.7) > 1e-9 || math.Abs(got.Seconds-10.7) > 1e-9 {
		t.Errorf("Ideal = %+v, want makespan 10, node level 0.7, ideal 10.7", got)
	}
	if got.ChainMedian != 6 || got.ScriptMedian != 2 {
		t.Errorf("medians: chain %v script %v, want 6 and 2", got.ChainMedian, got.ScriptMedian)
	}
}

func TestMedian(t *testing.T) {
	if Median(nil) != 0 || Median([]float64{3, 1, 2}) != 2 || Median([]float64{4, 1, 3, 2}) != 2.5 {
		t.Error("median")
	}
}

func TestIdealLockedSerialisesTheFirstTaskPerLock(t *testing.T) {
	var log []LogEntry
	vmids := []int{1, 2, 3, 4}
	lockOf := map[int]string{1: "pve1", 2: "pve2", 3: "pve1", 4: "pve2"}
	// Chains of 4 s (two 2 s tasks, no command), 10 slots: the second clone
	// of each node waits 2 s for the first one's lock, so 6 s in all.
	got := IdealLocked(log, vmids, lockOf, nil, 2*time.Second, 2, 10)
	if math.Abs(got.Seconds-6) > 1e-9 {
		t.Errorf("ideal = %v, want 6", got.Seconds)
	}
	if free := IdealLocked(log, vmids, nil, nil, 2*time.Second, 2, 10); math.Abs(free.Seconds-4) > 1e-9 {
		t.Errorf("without locks ideal = %v, want 4", free.Seconds)
	}
	// One slot: no waiting for locks, the chains simply add up.
	if one := IdealLocked(log, vmids, lockOf, nil, 2*time.Second, 2, 1); math.Abs(one.Seconds-16) > 1e-9 {
		t.Errorf("one slot ideal = %v, want 16", one.Seconds)
	}
}

func TestIdealUsesMeasuredTaskTimes(t *testing.T) {
	timings := []TaskTiming{
		{UPID: "u0", Type: "vzclone", ID: "900", Target: 999, Start: at(-5), End: at(-3), Exit: "OK"}, // before the apply
		{UPID: "u1", Type: "vzclone", ID: "900", Target: 1, Start: at(0), End: at(2.5), Exit: "OK"},
		{UPID: "u2", Type: "vzclone", ID: "900", Target: 2, Start: at(2.6), End: at(5.1), Exit: "OK"},
		{UPID: "u3", Type: "vzstart", ID: "1", Start: at(2.6), End: at(2.7), Exit: "CT is locked (disk)"}, // failed: extra
		{UPID: "u4", Type: "vzstart", ID: "1", Start: at(2.7), End: at(4.7), Exit: "OK"},
		{UPID: "u5", Type: "vzstart", ID: "2", Start: at(5.2), End: at(7.2), Exit: "OK"},
		{UPID: "u6", Type: "vzreboot", ID: "2", Start: at(7.3), End: at(9.3), Exit: "OK"}, // extra
		{UPID: "u7", Type: "vzstart", ID: "1", Start: at(9.4)},                            // still running: extra
		{UPID: "u8", Type: "vzstart", ID: "3", Start: at(1), End: at(3), Exit: "OK"},      // not in the fleet
	}
	ct := TasksOf(timings, []int{1, 2, 999}, t0)
	if len(ct.Tasks) != 2 || fmt.Sprint(ct.Tasks[1]) != "[2.5 2]" || fmt.Sprint(ct.Tasks[2]) != "[2.5 2]" || ct.Extra != 3 {
		t.Fatalf("TasksOf = %+v, want 1 and 2 with a 2.5 s clone and a 2 s start each, and 3 extra tasks", ct)
	}
	vmids := []int{1, 2}
	lockOf := map[int]string{1: "pve1", 2: "pve1"}
	// Chains of 4.5 s; the second clone waits for the first one's 2.5 s task.
	got := IdealLocked(nil, vmids, lockOf, &ct, 2*time.Second, 2, 10)
	if math.Abs(got.Seconds-7) > 1e-9 || got.TaskMedian != 4.5 {
		t.Errorf("ideal = %v (task median %v), want 7 (4.5)", got.Seconds, got.TaskMedian)
	}
	// Without measurements, the task delay: 2 + 4 = 6.
	if d := IdealLocked(nil, vmids, lockOf, nil, 2*time.Second, 2, 10); math.Abs(d.Seconds-6) > 1e-9 {
		t.Errorf("ideal from the task delay = %v, want 6", d.Seconds)
	}
}

// The containers in the order their clone tasks began (those without one
// last), and the ideal in that order: two slots, clones of sources a and b
// of 2 s, chains of 4 s. In vmid order (a, b, a, b) no clone waits: 8 s.
// As they began (a, a, b, b) the second of each source waits 2 s in its
// slot: 10 s.
func TestIdealInTheOrderTheyBegan(t *testing.T) {
	timings := []TaskTiming{
		{UPID: "u1", Type: "vzclone", ID: "900", Target: 1, Start: at(0), End: at(2), Exit: "OK"},
		{UPID: "u3", Type: "vzclone", ID: "900", Target: 3, Start: at(0.1), End: at(2.1), Exit: "OK"},
		{UPID: "u2", Type: "vzclone", ID: "901", Target: 2, Start: at(0.2), End: at(2.2), Exit: "OK"},
		{UPID: "u4", Type: "vzclone", ID: "901", Target: 4, Start: at(0.2), End: at(2.2), Exit: "OK"},
		{UPID: "s1", Type: "vzstart", ID: "1", Start: at(2), End: at(4), Exit: "OK"},
		{UPID: "s2", Type: "vzstart", ID: "2", Start: at(2.2), End: at(4.2), Exit: "OK"},
		{UPID: "s3", Type: "vzstart", ID: "3", Start: at(2.1), End: at(4.1), Exit: "OK"},
		{UPID: "s4", Type: "vzstart", ID: "4", Start: at(2.2), End: at(4.2), Exit: "OK"},
	}
	vmids := []int{1, 2, 3, 4, 5}
	ct := TasksOf(timings, vmids, t0)
	if got := ct.InOrderBegun(vmids); fmt.Sprint(got) != "[1 3 2 4 5]" {
		t.Errorf("InOrderBegun = %v, want [1 3 2 4 5] (a tie keeps vmid order; 5, without a task, last)", got)
	}
	fleet := vmids[:4]
	lockOf := map[int]string{1: "a", 2: "b", 3: "a", 4: "b"}
	ct.Tasks = map[int][]float64{1: {2, 2}, 2: {2, 2}, 3: {2, 2}, 4: {2, 2}}
	if got := IdealLocked(nil, fleet, lockOf, &ct, 2*time.Second, 2, 2); math.Abs(got.Seconds-8) > 1e-9 {
		t.Errorf("ideal in vmid order = %v, want 8", got.Seconds)
	}
	if got := IdealLocked(nil, ct.InOrderBegun(fleet), lockOf, &ct, 2*time.Second, 2, 2); math.Abs(got.Seconds-10) > 1e-9 {
		t.Errorf("ideal in the order they began = %v, want 10", got.Seconds)
	}
}

func TestOwnTime(t *testing.T) {
	timings := []TaskTiming{
		{UPID: "c", Type: "vzclone", ID: "900", Target: 1, Start: at(0), End: at(2)},
		{UPID: "s", Type: "vzstart", ID: "1", Start: at(2.2), End: at(4.2)},
	}
	log := []LogEntry{
		{Time: at(0), Method: "POST", Path: "/api2/json/nodes/pve1/lxc/900/clone", DurationMS: 5},        // the source's: left out
		{Time: at(2.05), Method: "PUT", Path: "/api2/json/nodes/pve1/lxc/1/config", DurationMS: 10},      // own
		{Time: at(2.1), Method: "POST", Path: "/api2/json/nodes/pve1/lxc/1/status/start", DurationMS: 5}, // own
		{Time: at(4.3), Method: "SSH-WRITE", Path: "pct exec 1 -- bash -s -- --package-source x", Source: "ssh", DurationMS: 1000},
		{Time: at(5.4), Method: "GET", Path: "/api2/json/nodes/pve1/lxc/1/status/current", DurationMS: 100},
		{Time: at(1), Method: "GET", Path: "/api2/json/nodes/pve1/lxc/2/config", DurationMS: 5}, // another container
	}
	got := OwnTime(log, timings, []int{1}, t0)
	// Span 0 .. 5.5 s, busy 2 + 2 + 1 = 5 s: 0.5 s of own time.
	if len(got) != 1 || math.Abs(got[0]-0.5) > 1e-6 {
		t.Errorf("OwnTime = %v, want [0.5]", got)
	}
	// A command inside another one's time adds no busy time (summed, the
	// two would leave 0.2 s).
	log = append(log, LogEntry{Time: at(4.8), Method: "SSH", Path: "pct exec 1 -- bash -s --", Source: "ssh", DurationMS: 300})
	if got := OwnTime(log, timings, []int{1}, t0); len(got) != 1 || math.Abs(got[0]-0.5) > 1e-6 {
		t.Errorf("OwnTime with overlapping commands = %v, want [0.5]", got)
	}
}

// t0 is the start of the applies in these tests; at(s) is s seconds later.
var t0 = time.Unix(1700000000, 0)

func at(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

func TestTaskPolling(t *testing.T) {
	const a, b = "UPID:pve1:0001:0002:65F0A1B2:vzcreate:1:root@pam:", "UPID:pve1:0003:0004:65F0A1B3:vzstart:1:root@pam:"
	timings := []TaskTiming{
		{UPID: a, Type: "vzcreate", ID: "1", Start: at(0), End: at(2), Exit: "OK"},
		{UPID: b, Type: "vzstart", ID: "1", Start: at(2.5), End: at(4.5), Exit: "failed"},
	}
	status := func(upid string, s float64) LogEntry {
		return LogEntry{Time: at(s), Method: "GET", Path: "/api2/json/nodes/pve1/tasks/" + upid + "/status", DurationMS: 10}
	}
	log := []LogEntry{
		status(a, 1), status(a, 2.02),
		{Time: at(2.1), Method: "GET", Path: "/api2/json/nodes/pve1/lxc/1/config", DurationMS: 5}, // not a poll
		status(b, 3.5), status(b, 4.6),
		{Time: at(4.7), Method: "GET", Path: "/api2/json/nodes/pve1/tasks/" + b + "/log", Query: "start=0&limit=500", DurationMS: 5},
		{Time: at(1), Method: "GET", Path: "/nodes/pve1/tasks/" + a + "/status", Source: "ssh"}, // not an API call
	}
	polls, perTask, lags := TaskPolling(log, timings)
	if polls != 5 || perTask != 2.5 {
		t.Errorf("%d polls, %v per task; want 5 (the log read included), 2.5", polls, perTask)
	}
	// Seen at the end of the last status request: 2.03 - 2 and 4.61 - 4.5.
	if len(lags) != 2 || math.Abs(lags[0]-0.03) > 1e-6 || math.Abs(lags[1]-0.11) > 1e-6 {
		t.Errorf("lags %v, want [0.03 0.11]", lags)
	}
}
