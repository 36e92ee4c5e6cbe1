package pve

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestParseUPID(t *testing.T) {
	u, err := ParseUPID("UPID:pve1:0000A1B2:00C0FFEE:65F0A1B2:vzcreate:102:root@pam!terraform:")
	if err != nil {
		t.Fatal(err)
	}
	if u.Node != "pve1" || u.PID != 0xA1B2 || u.PStart != 0xC0FFEE || u.Type != "vzcreate" || u.ID != "102" || u.User != "root@pam!terraform" {
		t.Errorf("parsed %+v", u)
	}
	if u.StartTime.Unix() != 0x65F0A1B2 {
		t.Errorf("start time %v", u.StartTime)
	}
	for _, bad := range []string{
		"", "UPID:pve1", "pve1:0:0:0:vzcreate:102:root@pam:",
		"UPID:pve1:0000A1B2:00C0FFEE:65F0A1B2:vzcreate:102:root@pam", // no trailing colon
		"UPID::0000A1B2:00C0FFEE:65F0A1B2:vzcreate:102:root@pam:",
		"UPID:pve1:xyz:00C0FFEE:65F0A1B2:vzcreate:102:root@pam:",
		"UPID:pve1:0000A1B2:00C0FFEE:65F0A1B2:vzcreate:102:root@pam:extra:",
	} {
		if _, err := ParseUPID(bad); err == nil {
			t.Errorf("ParseUPID(%q) accepted", bad)
		}
	}
}

// taskServer serves one task that runs for `runningPolls` status polls and
// then stops with exit.
func taskServer(t *testing.T, runningPolls int32, exit string, logLines int) (*fakePVE, *atomic.Int32) {
	f := newFakePVE(t)
	var polls atomic.Int32
	f.handle("GET /api2/json/nodes/pve1/tasks/{upid}/status", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("upid") != testUPID {
			t.Errorf("polled task %q", r.PathValue("upid"))
		}
		if polls.Add(1) <= runningPolls {
			writeData(w, `{"status":"running","upid":"`+testUPID+`","type":"vzcreate","id":"102","user":"root@pam!tf","node":"pve1","pid":4660,"pstart":22136,"starttime":1513847949}`)
			return
		}
		writeData(w, `{"status":"stopped","exitstatus":"`+exit+`","upid":"`+testUPID+`","type":"vzcreate","id":"102","node":"pve1","starttime":1513847949}`)
	})
	f.handle("GET /api2/json/nodes/pve1/tasks/{upid}/log", func(w http.ResponseWriter, r *http.Request) {
		start, _ := strconv.Atoi(r.URL.Query().Get("start"))
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		var items []string
		for n := start; n < logLines && n < start+limit; n++ {
			text := fmt.Sprintf("line %d", n+1)
			if n == logLines-1 {
				text = "TASK ERROR: " + exit
			}
			items = append(items, fmt.Sprintf(`{"n":%d,"t":%q}`, n+1, text))
		}
		writeData(w, "["+strings.Join(items, ",")+"]")
	})
	return f, &polls
}

func TestWaitTaskAdaptivePolling(t *testing.T) {
	f, polls := taskServer(t, 11, "OK", 3)
	c, rec := f.client()
	if err := c.WaitTask(t.Context(), testUPID); err != nil {
		t.Fatal(err)
	}
	if polls.Load() != 12 {
		t.Errorf("%d polls, want 12 (11 running, 1 stopped)", polls.Load())
	}
	ms := time.Millisecond
	q := 250 * ms
	want := []time.Duration{50 * ms, 75 * ms, 112500 * time.Microsecond, 168750 * time.Microsecond, q, q, q, q, q, q, q, q}
	got := rec.all()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("waits\n got %v\nwant %v", got, want)
	}
	f.wantSent("GET", "/api2/json/nodes/pve1/tasks/"+testUPID+"/log", 0)
}

func TestWaitTaskWarningsAreSuccess(t *testing.T) {
	f, _ := taskServer(t, 0, "WARNINGS: 2", 3)
	c, _ := f.client()
	if err := c.WaitTask(t.Context(), testUPID); err != nil {
		t.Fatal(err)
	}
}

func TestWaitTaskFailure(t *testing.T) {
	const exit = "unable to create CT 102 - storage 'nope' does not exist"
	f, _ := taskServer(t, 2, exit, 1234) // more than two pages of log
	c, _ := f.client()
	err := c.WaitTask(t.Context(), testUPID)
	var te *TaskError
	if !errors.As(err, &te) {
		t.Fatalf("want a TaskError, got %T %v", err, err)
	}
	if te.ExitStatus != exit || te.Node != "pve1" || te.Type != "vzcreate" || te.ID != "102" || te.UPID != testUPID {
		t.Errorf("task error %+v", te)
	}
	if len(te.LogTail) != 10 || te.LogTail[0] != "line 1225" || te.LogTail[9] != "TASK ERROR: "+exit {
		t.Errorf("log tail %q", te.LogTail)
	}
	msg := err.Error()
	for _, want := range []string{exit, testUPID, "line 1233"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	if strings.Count(msg, exit) != 1 {
		t.Errorf("message repeats the exit status: %q", msg)
	}
	if IsNotFound(err) {
		t.Error("a failed task is not a missing object")
	}
}

func TestWaitTaskStopsWithContext(t *testing.T) {
	f, polls := taskServer(t, 1<<30, "OK", 1)
	c, rec := f.client()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	rec.before = func(n int) {
		if n == 5 {
			cancel()
		}
	}
	err := c.WaitTask(ctx, testUPID)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), testUPID) {
		t.Fatalf("want a cancellation naming the UPID, got %v", err)
	}
	if polls.Load() != 4 {
		t.Errorf("%d polls, want 4 (the fifth wait was cut short)", polls.Load())
	}
}

func TestWaitTaskToleratesTransientPollErrors(t *testing.T) {
	f := newFakePVE(t)
	var polls atomic.Int32
	f.handle("GET /api2/json/nodes/pve1/tasks/{upid}/status", func(w http.ResponseWriter, _ *http.Request) {
		if polls.Add(1) <= 3 {
			writeStatus(t, w, 503, "Service Unavailable", ``)
			return
		}
		writeData(w, `{"status":"stopped","exitstatus":"OK"}`)
	})
	c, _ := f.client()
	if err := c.WaitTask(t.Context(), testUPID); err != nil {
		t.Fatal(err)
	}
	if polls.Load() != 4 {
		t.Errorf("%d polls", polls.Load())
	}

	c.poll.MaxErrors = 2
	polls.Store(0)
	if err := c.WaitTask(t.Context(), testUPID); !IsTransient(err) || !strings.Contains(err.Error(), testUPID) {
		t.Errorf("want the 503 naming the UPID after 3 failed polls, got %v", err)
	}
}

func TestWaitTaskRejectsBadUPID(t *testing.T) {
	c, err := New(Config{Endpoint: "https://pve1:8006", APIToken: "root@pam!tf=s"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WaitTask(t.Context(), "not-a-upid"); err == nil || !strings.Contains(err.Error(), "not a PVE task id") {
		t.Errorf("got %v", err)
	}
}

// BenchmarkWaitTaskShort measures the wall time WaitTask spends on a task that
// is already over at the first poll (real sleeps, local TLS server).
func BenchmarkWaitTaskShort(b *testing.B) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api2/json/nodes/pve1/tasks/{upid}/status", func(w http.ResponseWriter, _ *http.Request) {
		writeData(w, `{"status":"stopped","exitstatus":"OK"}`)
	})
	f := &fakePVE{srv: newQuietTLSServer(b, mux)}
	c, err := New(Config{Endpoint: f.srv.URL, APIToken: "root@pam!tf=s", CACertificatePEM: f.caPEM()})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := c.WaitTask(b.Context(), testUPID); err != nil {
			b.Fatal(err)
		}
	}
}

// timedTask is a task that runs for duration of the recorder's clock from
// begin, which the test sets before each wait; fail makes it end failed.
type timedTask struct {
	mu       sync.Mutex
	begin    time.Time
	duration time.Duration
	fail     bool
	errs     int // status requests to answer 503 first
	polls    int
	seenAt   time.Time
}

// timedTasks serves the status of every task on pve1 from task, and runs
// one wait per call of the returned function.
func timedTasks(t *testing.T) (*Client, *sleepRecorder, *timedTask, func(upid string, d time.Duration) (int, time.Duration, error)) {
	f := newFakePVE(t)
	c, rec := f.client()
	task := &timedTask{}
	f.handle("GET /api2/json/nodes/pve1/tasks/{upid}/status", func(w http.ResponseWriter, r *http.Request) {
		task.mu.Lock()
		defer task.mu.Unlock()
		task.polls++
		if task.errs > 0 {
			task.errs--
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		upid := r.PathValue("upid")
		now := rec.now()
		if now.Sub(task.begin) < task.duration {
			writeData(w, `{"status":"running","upid":"`+upid+`","node":"pve1"}`)
			return
		}
		task.seenAt = now
		exit := "OK"
		if task.fail {
			exit = "CT is locked (disk)"
		}
		writeData(w, `{"status":"stopped","exitstatus":"`+exit+`","upid":"`+upid+`","node":"pve1"}`)
	})
	f.handle("GET /api2/json/nodes/pve1/tasks/{upid}/log", func(w http.ResponseWriter, r *http.Request) { writeData(w, `[]`) })
	run := func(upid string, d time.Duration) (int, time.Duration, error) {
		t.Helper()
		task.mu.Lock()
		task.begin, task.duration, task.polls = rec.now(), d, 0
		task.mu.Unlock()
		err := c.WaitTask(t.Context(), upid)
		task.mu.Lock()
		defer task.mu.Unlock()
		return task.polls, task.seenAt.Sub(task.begin.Add(d)), err
	}
	return c, rec, task, run
}

const (
	startUPID    = "UPID:pve1:00001234:00005678:5A3B7C8D:vzstart:102:root@pam!tf:"
	clone900UPID = "UPID:pve1:00001235:00005679:5A3B7C8E:vzclone:900:root@pam!tf:"
	clone901UPID = "UPID:pve1:00001236:0000567A:5A3B7C8F:vzclone:901:root@pam!tf:"
)

func TestWaitTaskLearnsTaskDurations(t *testing.T) {
	c, rec, _, run := timedTasks(t)
	ms := time.Millisecond
	mustRun := func(upid string, d time.Duration) (int, time.Duration) {
		t.Helper()
		polls, lag, err := run(upid, d)
		if err != nil {
			t.Fatal(err)
		}
		return polls, lag
	}

	// Unknown type: the back-off of TestWaitTaskAdaptivePolling, seen up to
	// 250 ms late.
	polls, lag := mustRun(startUPID, 2*time.Second)
	if polls < 9 || lag > 250*ms {
		t.Errorf("first task: %d polls, seen %v late; want the back-off (≥ 9 polls, ≤ 250 ms late)", polls, lag)
	}
	// Known type: steps of at most a second towards the estimate, one poll
	// 50 ms before it, then 50 ms apart.
	for i := range 3 {
		before := len(rec.all())
		polls, lag = mustRun(startUPID, 2*time.Second)
		if polls > 4 || lag > 50*ms {
			t.Errorf("task %d of the same length: %d polls, seen %v late; want ≤ 4 polls, ≤ 50 ms late", i+2, polls, lag)
		}
		est, _ := c.tasks.estimate(taskKeyOf(mustUPID(t, startUPID)))
		waits := rec.all()[before:]
		if waits[0] != time.Second || waits[1] != est-50*ms-time.Second {
			t.Errorf("task %d: waits %v, want 1 s, then up to 50 ms before the estimate %v", i+2, waits, est)
		}
	}
	// A longer task costs polls, not lateness: 50 ms apart for half a
	// second past the estimate, then the back-off.
	polls, lag = mustRun(startUPID, 2*time.Second+300*ms)
	if lag > 50*ms || polls > 10 {
		t.Errorf("longer task: %d polls, seen %v late; want ≤ 50 ms late, ≤ 10 polls", polls, lag)
	}
	_, lag = mustRun(startUPID, 4*time.Second)
	if lag > 250*ms {
		t.Errorf("much longer task: seen %v late, want ≤ 250 ms (the back-off's cap)", lag)
	}
	// A shorter task is seen at most a second late; the estimate then
	// follows it within a few tasks.
	prev := time.Hour
	for i := range 4 {
		polls, lag = mustRun(startUPID, 500*ms)
		t.Logf("0.5 s task %d: %d polls, seen %v late", i+1, polls, lag)
		if lag > prev || lag > time.Second {
			t.Errorf("0.5 s task %d seen %v late (the one before: %v); want ≤ 1 s and no later than before", i+1, lag, prev)
		}
		prev = lag
	}
	if prev > 50*ms {
		t.Errorf("fourth 0.5 s task seen %v late, want ≤ 50 ms", prev)
	}
	// Other nodes and other task types start from the back-off again.
	if est, ok := c.tasks.estimate(taskKey{node: "pve2", typ: "vzstart"}); ok {
		t.Errorf("pve2 has an estimate %v without any task", est)
	}
	if est, ok := c.tasks.estimate(taskKey{node: "pve1", typ: "vzcreate"}); ok {
		t.Errorf("vzcreate has an estimate %v without any task", est)
	}
}

func TestWaitTaskBoundsLatenessAfterLongTasks(t *testing.T) {
	_, _, _, run := timedTasks(t)
	for range 3 {
		if _, _, err := run(clone900UPID, 30*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	// A short clone of the same source after long ones: seen at most a
	// second late, not when the long ones ended.
	if _, lag, err := run(clone900UPID, 2*time.Second); err != nil || lag > time.Second {
		t.Errorf("short clone after long ones seen %v late (%v), want ≤ 1 s", lag, err)
	}
}

func TestWaitTaskLearnsPerCloneSource(t *testing.T) {
	c, _, _, run := timedTasks(t)
	if _, _, err := run(clone900UPID, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.tasks.estimate(taskKeyOf(mustUPID(t, clone900UPID))); !ok {
		t.Fatal("no estimate for clones of 900 after one")
	}
	if est, ok := c.tasks.estimate(taskKeyOf(mustUPID(t, clone901UPID))); ok {
		t.Errorf("clones of 901 have an estimate %v from clones of 900", est)
	}
}

func TestWaitTaskLearnsOnlyFromCleanSuccesses(t *testing.T) {
	c, _, task, run := timedTasks(t)
	key := taskKeyOf(mustUPID(t, startUPID))
	// A task that failed (a start refused on a lock) teaches nothing.
	task.fail = true
	if _, _, err := run(startUPID, 40*time.Millisecond); err == nil {
		t.Fatal("failed task reported success")
	}
	if est, ok := c.tasks.estimate(key); ok {
		t.Errorf("estimate %v from a failed task", est)
	}
	// Nor does a wait whose polls failed: its timing includes the retries.
	task.fail, task.errs = false, 3
	if _, _, err := run(startUPID, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if est, ok := c.tasks.estimate(key); ok {
		t.Errorf("estimate %v from a wait with failed polls", est)
	}
	if _, _, err := run(startUPID, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.tasks.estimate(key); !ok {
		t.Error("no estimate after a clean success")
	}
}

func mustUPID(t *testing.T, s string) UPID {
	t.Helper()
	u, err := ParseUPID(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
