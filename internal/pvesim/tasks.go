package pvesim

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// task is one PVE worker task.
type task struct {
	upid   string
	node   string
	typ    string
	id     string
	user   string
	pid    int
	pstart int64
	start  time.Time

	mu   sync.Mutex
	done bool
	exit string
	end  time.Time
	// target is the container a clone task creates (its id is the
	// source's, as in PVE), for /_sim/tasks.
	target int
	lines  []string
	faults *faultSet
	// faultChecked makes fault consume a task_fail rule at most once.
	faultChecked bool
}

func (t *task) setTarget(vmid int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.target = vmid
}

// logf appends a line to the task log.
func (t *task) logf(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines = append(t.lines, fmt.Sprintf(format, args...))
}

// fault returns the error of a matching task_fail rule. Workers call it at
// the point where their real work starts, so an injected failure takes the
// same cleanup path as a real one.
func (t *task) fault() error {
	t.mu.Lock()
	checked := t.faultChecked
	t.faultChecked = true
	t.mu.Unlock()
	if checked || t.faults == nil {
		return nil
	}
	if msg, ok := t.faults.taskFail(t.typ); ok {
		return errf("%s", msg)
	}
	return nil
}

// taskManager runs the simulator's tasks and remembers them for the status
// and log endpoints. Tasks do not survive a restart.
type taskManager struct {
	mu      sync.Mutex
	tasks   map[string]*task
	order   []*task
	delay   time.Duration
	nextPID int
	boot    time.Time
	faults  *faultSet
	closing chan struct{}
	wg      sync.WaitGroup
}

func newTaskManager(delay time.Duration, faults *faultSet, closing chan struct{}) *taskManager {
	return &taskManager{
		tasks:   map[string]*task{},
		delay:   delay,
		nextPID: 10000 + rand.IntN(50000),                                            //nolint:gosec // pids only need to look plausible.
		boot:    time.Now().Add(-time.Duration(3600+rand.IntN(86400)) * time.Second), //nolint:gosec // as above.
		faults:  faults,
		closing: closing,
	}
}

// upidString formats a UPID like PVE: UPID:node:PID:PSTART:STARTTIME:type:id:user:
// with PID, PSTART and STARTTIME as 8 hex digits.
func upidString(node string, pid int, pstart, start int64, typ, id, user string) string {
	return fmt.Sprintf("UPID:%s:%08X:%08X:%08X:%s:%s:%s:", node, pid, pstart, start, typ, id, user)
}

// parsedUPID is a decoded UPID.
type parsedUPID struct {
	node, typ, id, user string
	pid                 int
	pstart, start       int64
}

// parseUPID mirrors PVE::Tools::upid_decode.
func parseUPID(s string) (parsedUPID, bool) {
	parts := strings.Split(s, ":")
	if len(parts) != 9 || parts[0] != "UPID" || parts[8] != "" {
		return parsedUPID{}, false
	}
	pid, err1 := strconv.ParseInt(parts[2], 16, 64)
	pstart, err2 := strconv.ParseInt(parts[3], 16, 64)
	start, err3 := strconv.ParseInt(parts[4], 16, 64)
	if err1 != nil || err2 != nil || err3 != nil || parts[1] == "" {
		return parsedUPID{}, false
	}
	return parsedUPID{node: parts[1], pid: int(pid), pstart: pstart, start: start, typ: parts[5], id: parts[6], user: parts[7]}, true
}

// start runs work as a task and returns its UPID at once. unlock, when not
// nil, is a config lock taken by the caller that the task holds until it
// ends (PVE's workers inherit the lock of the call that forked them).
func (tm *taskManager) start(node, typ, id, user string, unlock func(), work func(t *task) error) string {
	tm.mu.Lock()
	tm.nextPID += 1 + rand.IntN(40) //nolint:gosec // plausible pids only.
	now := time.Now()
	t := &task{
		node:   node,
		typ:    typ,
		id:     id,
		user:   user,
		pid:    tm.nextPID,
		pstart: int64(now.Sub(tm.boot) / (10 * time.Millisecond)),
		start:  now,
		faults: tm.faults,
	}
	t.upid = upidString(node, t.pid, t.pstart, now.Unix(), typ, id, user)
	tm.tasks[t.upid] = t
	tm.order = append(tm.order, t)
	tm.wg.Add(1)
	tm.mu.Unlock()

	hang := tm.faults.taskHang(typ)
	go func() {
		defer tm.wg.Done()
		if unlock != nil {
			defer unlock()
		}
		if hang != nil {
			select {
			case <-hang:
			case <-tm.closing:
				tm.finish(t, errf("interrupted by signal"))
				return
			}
		}
		if tm.delay > 0 {
			select {
			case <-time.After(tm.delay):
			case <-tm.closing:
			}
		}
		tm.finish(t, work(t))
	}()
	return t.upid
}

func (tm *taskManager) finish(t *task, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.done = true
	t.end = time.Now()
	if err != nil {
		msg := strings.TrimRight(err.Error(), "\n")
		t.exit = msg
		t.lines = append(t.lines, "TASK ERROR: "+msg)
		return
	}
	t.exit = "OK"
	t.lines = append(t.lines, "TASK OK")
}

func (tm *taskManager) get(upid string) *task {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.tasks[upid]
}

// TaskTiming is one task as GET /_sim/tasks lists it: PVE reports start
// and end in whole seconds only, measurements need them exactly.
type TaskTiming struct {
	UPID  string    `json:"upid"`
	Node  string    `json:"node"`
	Type  string    `json:"type"`
	ID    string    `json:"id"`
	Start time.Time `json:"start"`
	// Target is the new container of a clone task (whose ID is the
	// source's, as in PVE).
	Target int `json:"target,omitempty"`
	// End is zero while the task runs.
	End  time.Time `json:"end,omitzero"`
	Exit string    `json:"exitstatus,omitempty"`
}

// timings lists every task in start order.
func (tm *taskManager) timings() []TaskTiming {
	tm.mu.Lock()
	tasks := append([]*task(nil), tm.order...)
	tm.mu.Unlock()
	out := make([]TaskTiming, 0, len(tasks))
	for _, t := range tasks {
		t.mu.Lock()
		tt := TaskTiming{UPID: t.upid, Node: t.node, Type: t.typ, ID: t.id, Target: t.target, Start: t.start, Exit: t.exit}
		if t.done {
			tt.End = t.end
		}
		t.mu.Unlock()
		out = append(out, tt)
	}
	return out
}

// wait blocks until every task has ended.
func (tm *taskManager) wait() { tm.wg.Wait() }

// lookupTask resolves the {upid} of a task endpoint with PVE's errors.
func (s *server) lookupTask(r *request) (*task, error) {
	upid := r.params["upid"]
	if _, ok := parseUPID(upid); !ok {
		return nil, paramErr1("upid", "unable to parse worker upid '"+upid+"'")
	}
	t := s.tasks.get(upid)
	if t == nil || t.node != r.node {
		return nil, paramErr1("upid", "no such task")
	}
	return t, nil
}

// visibleTask is lookupTask with the owner rule of the status and log
// endpoints.
func (s *server) visibleTask(r *request) (*task, error) {
	t, err := s.lookupTask(r)
	if err != nil {
		return nil, err
	}
	if err := s.taskVisible(r.user, t.user, t.node); err != nil {
		return nil, err
	}
	return t, nil
}

// taskUserFields splits a UPID user ("root@pam!phoenix") into the user and
// token fields PVE reports.
func taskUserFields(user string, out map[string]any) {
	if u, tok, ok := strings.Cut(user, "!"); ok {
		out["user"] = u
		out["tokenid"] = tok
		return
	}
	out["user"] = user
}

// handleTaskStatus serves GET /nodes/{node}/tasks/{upid}/status.
func (s *server) handleTaskStatus(r *request) (any, error) {
	t, err := s.visibleTask(r)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	out := map[string]any{
		"upid":      t.upid,
		"node":      t.node,
		"pid":       t.pid,
		"pstart":    t.pstart,
		"starttime": t.start.Unix(),
		"type":      t.typ,
		"id":        t.id,
		"status":    "running",
	}
	taskUserFields(t.user, out)
	if t.done {
		out["status"] = "stopped"
		out["exitstatus"] = t.exit
	}
	return out, nil
}

// handleTaskLog serves GET /nodes/{node}/tasks/{upid}/log.
func (s *server) handleTaskLog(r *request) (any, error) {
	t, err := s.visibleTask(r)
	if err != nil {
		return nil, err
	}
	start, _ := strconv.Atoi(r.params["start"])
	limit := 50
	if v, ok := r.params["limit"]; ok {
		limit, _ = strconv.Atoi(v)
	}
	t.mu.Lock()
	lines := slices.Clone(t.lines)
	t.mu.Unlock()
	out := []map[string]any{}
	for i := start; i < len(lines) && len(out) < limit; i++ {
		out = append(out, map[string]any{"n": i + 1, "t": lines[i]})
	}
	if len(lines) == 0 && start == 0 && limit > 0 {
		out = append(out, map[string]any{"n": 1, "t": "no content"})
	}
	return out, nil
}

// handleTaskIndex serves GET /nodes/{node}/tasks/{upid}.
func (s *server) handleTaskIndex(r *request) (any, error) {
	if _, err := s.lookupTask(r); err != nil {
		return nil, err
	}
	return []map[string]string{{"name": "log"}, {"name": "status"}}, nil
}

// handleTaskList serves GET /nodes/{node}/tasks (newest first).
func (s *server) handleTaskList(r *request) (any, error) {
	start, _ := strconv.Atoi(r.params["start"])
	limit := 50
	if v, ok := r.params["limit"]; ok {
		limit, _ = strconv.Atoi(v)
	}
	s.tasks.mu.Lock()
	all := slices.Clone(s.tasks.order)
	s.tasks.mu.Unlock()
	slices.Reverse(all)
	out := []map[string]any{}
	skipped := 0
	auditor := s.has(r.user, "/nodes/"+r.node, "Sys.Audit")
	for _, t := range all {
		if t.node != r.node {
			continue
		}
		if !auditor && s.taskVisible(r.user, t.user, t.node) != nil {
			continue
		}
		if v := r.params["vmid"]; v != "" && t.id != v {
			continue
		}
		if v := r.params["typefilter"]; v != "" && t.typ != v {
			continue
		}
		t.mu.Lock()
		e := map[string]any{
			"upid": t.upid, "node": t.node, "pid": t.pid, "pstart": t.pstart,
			"starttime": t.start.Unix(), "type": t.typ, "id": t.id,
		}
		taskUserFields(t.user, e)
		if t.done {
			e["status"] = t.exit
			e["endtime"] = t.end.Unix()
		}
		done, failed := t.done, t.done && t.exit != "OK"
		t.mu.Unlock()
		switch r.params["source"] {
		case "active":
			if done {
				continue
			}
		case "", "archive":
			if !done {
				continue
			}
		}
		if r.flag("errors") && !failed {
			continue
		}
		if skipped < start {
			skipped++
			continue
		}
		if len(out) >= limit {
			break
		}
		out = append(out, e)
	}
	return out, nil
}
