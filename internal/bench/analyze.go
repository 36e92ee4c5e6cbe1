package bench

import (
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/pvesim"
)

// LogEntry is one entry of the simulator's request log (GET
// /_sim/requests): an API call, or an SSH command when Source is "ssh".
type LogEntry pvesim.Request

// IsSSH reports whether the entry is an SSH command.
func (e LogEntry) IsSSH() bool { return e.Source == "ssh" }

// IsAPI reports whether the entry is an API call (the simulator's own
// /_sim endpoints excluded).
func (e LogEntry) IsAPI() bool { return e.Source == "" && !strings.HasPrefix(e.Path, "/_sim") }

// IsMutating reports whether an API call changes state: POST, PUT and
// DELETE, logins excluded.
func (e LogEntry) IsMutating() bool {
	if !e.IsAPI() {
		return false
	}
	switch e.Method {
	case http.MethodPost, http.MethodPut, http.MethodDelete:
		return !strings.HasSuffix(e.Path, "/access/ticket")
	}
	return false
}

// IsSSHWrite reports whether an SSH command changed the simulator's state.
// The simulator may also flag a read that ran alongside a writer.
func (e LogEntry) IsSSHWrite() bool { return e.IsSSH() && e.Method == "SSH-WRITE" }

var (
	reNodesPath = regexp.MustCompile(`^/nodes/[^/]+`)
	reVMIDPath  = regexp.MustCompile(`/(lxc|qemu)/\d+`)
	reTaskPath  = regexp.MustCompile(`/tasks/[^/]+`)
)

// APIRoute is an API path with the node, the vmid and the UPID replaced by
// placeholders, e.g. GET /nodes/{node}/lxc/{vmid}/config.
func APIRoute(e LogEntry) string {
	p := strings.TrimPrefix(e.Path, "/api2/json")
	p = reNodesPath.ReplaceAllString(p, "/nodes/{node}")
	p = reVMIDPath.ReplaceAllString(p, "/$1/{vmid}")
	p = reTaskPath.ReplaceAllString(p, "/tasks/{upid}")
	if e.Query != "" && strings.HasPrefix(p, "/cluster/resources") {
		p += "?" + e.Query
	}
	return e.Method + " " + p
}

// SSH command kinds, as the provider sends them.
const (
	SSHInstall     = "install (pct exec install script)"
	SSHCheck       = "check (pct exec check script)"
	SSHCheckBatch  = "checks of a node's containers (check_docker_batch.sh)"
	SSHTests       = "tests (pct exec test script)"
	SSHPctExec     = "pct exec (other)"
	SSHReadConfig  = "read /etc/pve/lxc/<vmid>.conf"
	SSHWriteConfig = "write raw lxc lines (flock)"
	SSHProfile     = "install AppArmor profile"
	SSHOther       = "other"
)

var (
	// A check is bounded on the node: "timeout '--kill-after=5' 50 pct
	// exec" (an argument with "=" is quoted).
	rePctExec   = regexp.MustCompile(`^(?:timeout (?:'?--kill-after=\d+'? )?\d+ )?pct exec (\d+)\b`)
	reConfPath  = regexp.MustCompile(`/etc/pve/lxc/(\d+)\.conf`)
	reLockPath  = regexp.MustCompile(`pve-config-(\d+)\.lock`)
	reFirstLine = regexp.MustCompile(`^[^\n]*`)
)

// SSHKind classifies an SSH command line.
func SSHKind(cmd string) string {
	first := reFirstLine.FindString(cmd)
	switch {
	case rePctExec.MatchString(first):
		switch {
		case strings.Contains(first, "--package-source"):
			return SSHInstall
		case strings.Contains(first, "--hello-world") || strings.Contains(first, "--network-target"):
			return SSHTests
		case strings.HasSuffix(strings.TrimSpace(first), "bash -s --") || strings.HasSuffix(strings.TrimSpace(first), "bash -s"):
			return SSHCheck
		}
		return SSHPctExec
	case strings.HasPrefix(first, "bash -c ") && strings.Contains(cmd, " check_docker_batch.sh "):
		return SSHCheckBatch
	case strings.HasPrefix(first, "flock ") && reLockPath.MatchString(first):
		return SSHWriteConfig
	case strings.HasPrefix(first, "cat ") && reConfPath.MatchString(first):
		return SSHReadConfig
	case strings.Contains(cmd, "apparmor_parser") || strings.Contains(cmd, "kernel_profiles"):
		return SSHProfile
	}
	return SSHOther
}

// SSHVMID returns the container an SSH command is about, or 0 for a
// command about the node (the AppArmor profile).
func SSHVMID(cmd string) int {
	first := reFirstLine.FindString(cmd)
	for _, re := range []*regexp.Regexp{rePctExec, reLockPath, reConfPath} {
		if m := re.FindStringSubmatch(first); m != nil {
			n, _ := strconv.Atoi(m[1])
			return n
		}
	}
	return 0
}

// LogSummary counts a request log.
type LogSummary struct {
	APIRequests  int            `json:"api_requests"`
	APIByRoute   map[string]int `json:"api_by_route"`
	Mutating     int            `json:"mutating_api_calls"`
	MutatingList []string       `json:"mutating_list,omitempty"`
	SSHCommands  int            `json:"ssh_commands"`
	SSHByKind    map[string]int `json:"ssh_by_kind"`
	SSHByNode    map[string]int `json:"ssh_by_node"`
	SSHWrites    int            `json:"ssh_writes"`
	Installs     int            `json:"install_runs"`
}

// Summarize counts the API calls by route and the SSH commands by kind.
func Summarize(log []LogEntry) LogSummary {
	s := LogSummary{APIByRoute: map[string]int{}, SSHByKind: map[string]int{}, SSHByNode: map[string]int{}}
	for _, e := range log {
		switch {
		case e.IsAPI():
			s.APIRequests++
			s.APIByRoute[APIRoute(e)]++
			if e.IsMutating() {
				s.Mutating++
				if len(s.MutatingList) < 20 {
					s.MutatingList = append(s.MutatingList, e.Method+" "+e.Path)
				}
			}
		case e.IsSSH():
			s.SSHCommands++
			kind := SSHKind(e.Path)
			s.SSHByKind[kind]++
			s.SSHByNode[e.Node]++
			if e.IsSSHWrite() {
				s.SSHWrites++
			}
			if kind == SSHInstall {
				s.Installs++
			}
		}
	}
	return s
}

// TopRoutes returns the routes of m, most frequent first (ties by name).
func TopRoutes(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	return keys
}

// IdealApply is the wall time an apply would take if nothing but the
// simulated tasks and the scripts took time.
type IdealApply struct {
	// Chains are the per-container critical paths in seconds: the tasks
	// (as long as the simulator measured them) plus the SSH commands run
	// for that container, in order.
	Chains []float64 `json:"-"`
	// ChainMedian is the median of Chains.
	ChainMedian float64 `json:"chain_median_s"`
	// ScriptMedian is the median per-container time of the SSH commands.
	ScriptMedian float64 `json:"script_median_s"`
	// TaskMedian is the median per-container time of the simulated tasks.
	TaskMedian float64 `json:"task_median_s"`
	// NodeLevel is the longest per-node sum of commands not tied to one
	// container (the AppArmor profile install), which the first containers
	// of a node wait for.
	NodeLevel float64 `json:"node_level_s"`
	// Makespan is the list schedule of Chains on Parallelism slots.
	Makespan float64 `json:"makespan_s"`
	// Seconds is the ideal wall time: Makespan + NodeLevel.
	Seconds float64 `json:"ideal_s"`
}

// ChainTasks holds, per container, the durations in seconds of the
// simulated tasks on its critical path: its first successful create or
// clone task, then its first successful start task.
type ChainTasks struct {
	Tasks map[int][]float64
	// Began is when each container's create or clone task began.
	Began map[int]time.Time
	// Extra counts the other tasks of these containers (failed ones,
	// retries, reboots, stops): not on the ideal path.
	Extra int
}

// TasksOf picks from the simulator's task list the tasks that began at or
// after since and concern one of vmids (a clone task through its target).
func TasksOf(timings []TaskTiming, vmids []int, since time.Time) ChainTasks {
	want := map[int]bool{}
	for _, id := range vmids {
		want[id] = true
	}
	sorted := slices.Clone(timings)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Start.Before(sorted[j].Start) })
	out := ChainTasks{Tasks: map[int][]float64{}, Began: map[int]time.Time{}}
	created, started := map[int]float64{}, map[int]float64{}
	for _, t := range sorted {
		if t.Start.Before(since) {
			continue
		}
		id := t.Container()
		if !want[id] {
			continue
		}
		d := t.End.Sub(t.Start).Seconds()
		ok := !t.End.IsZero() && t.Exit == "OK"
		_, haveCreate := created[id]
		_, haveStart := started[id]
		switch {
		case ok && !haveCreate && (t.Type == "vzcreate" || t.Type == "vzclone"):
			created[id] = d
			out.Began[id] = t.Start
		case ok && !haveStart && t.Type == "vzstart":
			started[id] = d
		default:
			out.Extra++
		}
	}
	for id, c := range created {
		out.Tasks[id] = []float64{c}
		if s, ok := started[id]; ok {
			out.Tasks[id] = append(out.Tasks[id], s)
		}
	}
	return out
}

// InOrderBegun returns vmids in the order their create or clone tasks
// began (those without one last, in their order). For creates from a
// template that is the order in which Terraform handed the containers to
// the provider; for clones, the order in which they took their source's
// turn in the provider (cloneSourceLock, a mutex, not a queue).
func (c ChainTasks) InOrderBegun(vmids []int) []int {
	out := slices.Clone(vmids)
	sort.SliceStable(out, func(i, j int) bool {
		a, okA := c.Began[out[i]]
		b, okB := c.Began[out[j]]
		if okA != okB {
			return okA
		}
		return okA && a.Before(b)
	})
	return out
}

// IdealLocked computes the ideal apply time from the SSH commands of an apply
// log, the simulated tasks of each container and Terraform's parallelism.
// Each container i has the chain
//
//	c_i = Σ duration of its tasks + Σ duration of the SSH commands naming i
//
// with the task durations as the simulator measured them (the task delay
// plus the task's own work; tasks times the task delay where none was
// measured). The chains are placed longest first on the earliest free of
// parallelism slots (LPT list scheduling), and the longest per-node sum of
// the node commands (the profile install, which the first wave waits for)
// is added. With equal chains this is ceil(N/parallelism) × c + node
// commands.
//
// With lockOf, for containers cloned from one source per node:
// Proxmox VE locks the source for the length of each clone task, so the
// clones of one node run one after the other. lockOf maps a container to
// the lock its first task takes (its node's source); nil means no lock.
// The containers are placed in vmid order on the earliest free slot; a
// container holds its slot (as Terraform holds its parallelism slot) while
// it waits for the lock:
//
//	start_i = max(slot free, lock free);  lock free = start_i + t_i;  slot free = start_i + c_i
//
// where t_i is the duration of container i's clone task.
func IdealLocked(log []LogEntry, vmids []int, lockOf map[int]string, chainTasks *ChainTasks, taskDelay time.Duration, tasks, parallelism int) IdealApply {
	script := map[int]float64{}
	nodeLevel := map[string]float64{}
	for _, e := range log {
		if !e.IsSSH() {
			continue
		}
		if id := SSHVMID(e.Path); id != 0 {
			script[id] += e.DurationMS / 1000
		} else {
			nodeLevel[e.Node] += e.DurationMS / 1000
		}
	}
	var out IdealApply
	scripts := make([]float64, 0, len(vmids))
	firsts := make([]float64, 0, len(vmids))
	var taskSum []float64
	for _, id := range vmids {
		var ts []float64
		if chainTasks != nil {
			ts = chainTasks.Tasks[id]
		}
		if len(ts) == 0 {
			ts = slices.Repeat([]float64{taskDelay.Seconds()}, tasks)
		}
		sum := 0.0
		for _, d := range ts {
			sum += d
		}
		c := sum + script[id]
		out.Chains = append(out.Chains, c)
		scripts = append(scripts, script[id])
		firsts = append(firsts, ts[0])
		taskSum = append(taskSum, sum)
	}
	for _, v := range nodeLevel {
		out.NodeLevel = max(out.NodeLevel, v)
	}
	out.ChainMedian = Median(out.Chains)
	out.ScriptMedian = Median(scripts)
	out.TaskMedian = Median(taskSum)
	if lockOf == nil {
		out.Makespan = Makespan(out.Chains, parallelism)
	} else {
		out.Makespan = lockedMakespan(out.Chains, firsts, vmids, lockOf, parallelism)
	}
	out.Seconds = out.Makespan + out.NodeLevel
	return out
}

// Makespan places jobs longest first on the earliest free of p slots and
// returns when the last one ends.
func Makespan(jobs []float64, p int) float64 {
	if p < 1 {
		p = 1
	}
	sorted := slices.Clone(jobs)
	sort.Sort(sort.Reverse(sort.Float64Slice(sorted)))
	slots := make([]float64, min(p, max(len(sorted), 1)))
	for _, j := range sorted {
		i := 0
		for k := range slots {
			if slots[k] < slots[i] {
				i = k
			}
		}
		slots[i] += j
	}
	end := 0.0
	for _, s := range slots {
		end = max(end, s)
	}
	return end
}

// lockedMakespan places the chains in order on the earliest free of p
// slots, each first waiting for its lock, which it then holds for the
// length of its first task.
func lockedMakespan(chains, firsts []float64, vmids []int, lockOf map[int]string, p int) float64 {
	slots := make([]float64, max(p, 1))
	free := map[string]float64{}
	end := 0.0
	for i, c := range chains {
		s := 0
		for k := range slots {
			if slots[k] < slots[s] {
				s = k
			}
		}
		lock := lockOf[vmids[i]]
		start := max(slots[s], free[lock])
		free[lock] = start + firsts[i]
		slots[s] = start + c
		end = max(end, slots[s])
	}
	return end
}

// TaskPolling counts the task polls of a log, status and log reads of a
// task alike, and how many per task (over the tasks polled at all); lags
// are how late the end of each task was seen: the end of its last status
// request less the end the simulator recorded.
func TaskPolling(log []LogEntry, timings []TaskTiming) (polls int, perTask float64, lags []float64) {
	lastStatus := map[string]time.Time{}
	polled := map[string]bool{}
	for _, e := range log {
		if !e.IsAPI() || e.Method != http.MethodGet {
			continue
		}
		i := strings.Index(e.Path, "/tasks/")
		if i < 0 {
			continue
		}
		upid, what, ok := strings.Cut(e.Path[i+len("/tasks/"):], "/")
		if !ok || (what != "status" && what != "log") {
			continue
		}
		polls++
		polled[upid] = true
		if what != "status" {
			continue
		}
		if end := e.Time.Add(time.Duration(e.DurationMS * float64(time.Millisecond))); end.After(lastStatus[upid]) {
			lastStatus[upid] = end
		}
	}
	if len(polled) > 0 {
		perTask = float64(polls) / float64(len(polled))
	}
	for _, t := range timings {
		if seen, ok := lastStatus[t.UPID]; ok && !t.End.IsZero() {
			lags = append(lags, seen.Sub(t.End).Seconds())
		}
	}
	return polls, perTask, lags
}

// Median returns the median of xs (0 when empty).
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func sortStrings(s []string) { sort.Strings(s) }

// reAPIVMID finds the container of an API path.
var reAPIVMID = regexp.MustCompile(`/lxc/(\d+)(/|$)`)

// OwnTime returns, per container of vmids, the time between the start of
// its first task and the end of the last API call or SSH command concerning
// it, less the time its tasks and SSH commands took: what the provider (and
// Terraform) added to that container's own path, waiting for a status
// answer, making API calls, opening sessions. Clone tasks count for their
// target; the API calls of a clone name the source and are left out (the
// clone task covers them).
func OwnTime(log []LogEntry, timings []TaskTiming, vmids []int, since time.Time) []float64 {
	type interval struct{ start, end time.Time }
	want := map[int]bool{}
	for _, id := range vmids {
		want[id] = true
	}
	spans := map[int][]interval{} // everything on the container's path
	busy := map[int][]interval{}  // its tasks and SSH commands
	add := func(id int, start, end time.Time, isBusy bool) {
		if !want[id] {
			return
		}
		spans[id] = append(spans[id], interval{start, end})
		if isBusy {
			busy[id] = append(busy[id], interval{start, end})
		}
	}
	for _, t := range timings {
		if t.Start.Before(since) || t.End.IsZero() {
			continue
		}
		id := t.Container()
		add(id, t.Start, t.End, true)
	}
	for _, e := range log {
		if e.Time.Before(since) {
			continue
		}
		end := e.Time.Add(time.Duration(e.DurationMS * float64(time.Millisecond)))
		if e.IsSSH() {
			add(SSHVMID(e.Path), e.Time, end, true)
			continue
		}
		if m := reAPIVMID.FindStringSubmatch(e.Path); m != nil && !strings.HasSuffix(e.Path, "/clone") {
			id, _ := strconv.Atoi(m[1])
			add(id, e.Time, end, false)
		}
	}
	// union is the total length covered by the intervals.
	union := func(iv []interval) time.Duration {
		sort.Slice(iv, func(i, j int) bool { return iv[i].start.Before(iv[j].start) })
		var total time.Duration
		var cur interval
		for i, x := range iv {
			switch {
			case i == 0:
				cur = x
			case x.start.After(cur.end):
				total += cur.end.Sub(cur.start)
				cur = x
			case x.end.After(cur.end):
				cur.end = x.end
			}
		}
		if len(iv) > 0 {
			total += cur.end.Sub(cur.start)
		}
		return total
	}
	out := make([]float64, 0, len(spans))
	for _, id := range vmids {
		sp := spans[id]
		if len(sp) == 0 {
			continue
		}
		first, last := sp[0].start, sp[0].end
		for _, x := range sp {
			if x.start.Before(first) {
				first = x.start
			}
			if x.end.After(last) {
				last = x.end
			}
		}
		out = append(out, max(0, (last.Sub(first)-union(busy[id])).Seconds()))
	}
	return out
}
