package pve

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
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
	q := 100 * ms
	want := []time.Duration{50 * ms, 75 * ms, q, q, q, q, q, q, q, q, q, q}
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
	logReads int
	seenAt   time.Time
}

// timedTasks serves the status of every task on pve1 from task, and runs
// one wait per call of the returned function.
func timedTasks(t *testing.T) (*Client, *timedTask, func(upid string, d time.Duration) (int, time.Duration, error)) {
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
	f.handle("GET /api2/json/nodes/pve1/tasks/{upid}/log", func(w http.ResponseWriter, r *http.Request) {
		task.mu.Lock()
		task.logReads++
		task.mu.Unlock()
		writeData(w, `[{"n":1,"t":"TASK ERROR: CT is locked (disk)"}]`)
	})
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
	return c, task, run
}

const (
	startUPID    = "UPID:pve1:00001234:00005678:5A3B7C8D:vzstart:102:root@pam!tf:"
	clone900UPID = "UPID:pve1:00001235:00005679:5A3B7C8E:vzclone:900:root@pam!tf:"
	clone901UPID = "UPID:pve1:00001236:0000567A:5A3B7C8F:vzclone:901:root@pam!tf:"
)

// learnStart runs start tasks of length d until the estimate has settled
// and returns the client and its runner.
func learnStart(t *testing.T, d time.Duration) (*Client, *timedTask, func(upid string, d time.Duration) (int, time.Duration), func(upid string, d time.Duration) (int, time.Duration, error)) {
	t.Helper()
	c, task, run := timedTasks(t)
	mustRun := func(upid string, d time.Duration) (int, time.Duration) {
		t.Helper()
		polls, lag, err := run(upid, d)
		if err != nil {
			t.Fatal(err)
		}
		return polls, lag
	}
	for range 3 {
		mustRun(startUPID, d)
	}
	return c, task, mustRun, run
}

func TestWaitTaskFirstTaskOfAType(t *testing.T) {
	// Nothing known: the policy's back-off, seen at most its cap late.
	_, _, run := timedTasks(t)
	polls, lag, err := run(startUPID, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if lag > 100*time.Millisecond || polls < 15 {
		t.Errorf("first task: %d polls, seen %v late; want the back-off (≥ 15 polls, ≤ 100 ms late)", polls, lag)
	}
}

func TestWaitTaskOfTheLearnedLength(t *testing.T) {
	ms := time.Millisecond
	for _, d := range []time.Duration{300 * ms, 2 * time.Second, 2030 * ms} {
		_, _, run, _ := learnStart(t, d)
		total := 0
		const tasks = 20
		for i := range tasks {
			polls, lag := run(startUPID, d)
			total += polls
			if lag > 100*ms || lag < 0 {
				t.Errorf("%v task %d: seen %v late, want ≤ 100 ms", d, i+1, lag)
			}
		}
		// One poll per maxGap of the duration, and the occasional probe
		// that finds the task still running.
		avg := float64(total) / tasks
		t.Logf("%v tasks: %.2f polls per task", d, avg)
		if avg > 3 {
			t.Errorf("%v tasks: %.2f polls per task, want ≤ 3", d, avg)
		}
	}
}

func TestWaitTaskOfVaryingLength(t *testing.T) {
	// Durations spread ±10 % around 2 s (fixed sequence): still few polls
	// and seen soon after the end.
	ms := time.Millisecond
	_, _, run, _ := learnStart(t, 2*time.Second)
	rnd := rand.New(rand.NewPCG(1, 2))
	total := 0
	var lags []time.Duration
	const tasks = 50
	for range tasks {
		d := 1800*ms + time.Duration(rnd.Int64N(int64(400*ms)))
		polls, lag := run(startUPID, d)
		total += polls
		lags = append(lags, lag)
		if lag > maxGap {
			t.Errorf("%v task seen %v late", d, lag)
		}
	}
	slices.Sort(lags)
	t.Logf("±10 %% durations: %.2f polls per task, median %v late, max %v", float64(total)/tasks, lags[tasks/2], lags[tasks-1])
	if avg, med := float64(total)/tasks, lags[tasks/2]; avg > 4 || med > 100*ms {
		t.Errorf("±10 %% durations: %.2f polls per task, median %v late; want ≤ 4, ≤ 100 ms", avg, med)
	}
}

func TestWaitTaskMuchShorterThanLearned(t *testing.T) {
	ms := time.Millisecond
	_, _, run, _ := learnStart(t, 2*time.Second)
	// Five times shorter: seen at most maxGap late, and the estimate
	// follows at once.
	polls, lag := run(startUPID, 400*ms)
	if lag > maxGap {
		t.Errorf("task 5x shorter seen %v late (%d polls), want ≤ %v", lag, polls, maxGap)
	}
	for i := range 3 {
		polls, lag = run(startUPID, 400*ms)
		if lag > 100*ms || polls > 3 {
			t.Errorf("short task %d after the first: %d polls, seen %v late; want ≤ 3, ≤ 100 ms", i+1, polls, lag)
		}
	}
	// A task a little shorter than the estimate is found by the
	// estimate's downward probe within a few tasks.
	_, _, run, _ = learnStart(t, 2*time.Second)
	for i := range 8 {
		_, lag = run(startUPID, 1900*ms)
		if lag > 150*ms || (i >= 4 && lag > 60*ms) {
			t.Errorf("1.9 s task %d after 2 s ones seen %v late", i+1, lag)
		}
	}
}

func TestWaitTaskMuchLongerThanLearned(t *testing.T) {
	ms := time.Millisecond
	c, _, run, _ := learnStart(t, 2*time.Second)
	key := taskKeyOf(mustUPID(t, startUPID))
	polls, lag := run(startUPID, 6*time.Second)
	if lag > maxGap || polls > 12 {
		t.Errorf("task 3x longer: %d polls, seen %v late; want ≤ 12, ≤ %v", polls, lag, maxGap)
	}
	if est, _ := c.tasks.estimate(key); est < 5*time.Second || est > 6*time.Second {
		t.Errorf("estimate after a 6 s task: %v", est)
	}
	// A little longer than expected: the back-off from 50 ms.
	_, _, run, _ = learnStart(t, 2*time.Second)
	if _, lag = run(startUPID, 2100*ms); lag > 100*ms {
		t.Errorf("2.1 s task after 2 s ones seen %v late", lag)
	}
}

func TestWaitTaskFailedTaskReadsItsLog(t *testing.T) {
	c, task, _, run := learnStart(t, 2*time.Second)
	key := taskKeyOf(mustUPID(t, startUPID))
	before, _ := c.tasks.estimate(key)
	task.fail = true
	polls, lag, err := run(startUPID, 300*time.Millisecond)
	if err == nil {
		t.Fatal("failed task reported success")
	}
	var te *TaskError
	if !errors.As(err, &te) || te.ExitStatus != "CT is locked (disk)" {
		t.Errorf("want the task's exit status, got %v", err)
	}
	if lag > maxGap || polls > 2 {
		t.Errorf("failed task: %d polls, seen %v late", polls, lag)
	}
	if after, _ := c.tasks.estimate(key); after != before {
		t.Errorf("a failed task changed the estimate from %v to %v", before, after)
	}
	if task.logReads != 1 {
		t.Errorf("%d log reads for one failed task and %d successful ones, want 1", task.logReads, 3)
	}
}

func TestWaitTaskBorrowsTheTypesEstimate(t *testing.T) {
	c, _, _, _ := learnStart(t, 2*time.Second)
	// Another node's start tasks begin from pve1's estimate.
	if est, ok := c.tasks.estimate(taskKey{node: "pve2", typ: "vzstart"}); !ok || est < 1900*time.Millisecond {
		t.Errorf("pve2's start tasks borrow %v, %v", est, ok)
	}
	if est, ok := c.tasks.estimate(taskKey{node: "pve1", typ: "vzcreate"}); ok {
		t.Errorf("vzcreate has an estimate %v without any task", est)
	}
}

func TestWaitTaskBoundsLatenessAfterLongTasks(t *testing.T) {
	_, _, run := timedTasks(t)
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
	c, _, run := timedTasks(t)
	k900, k901 := taskKeyOf(mustUPID(t, clone900UPID)), taskKeyOf(mustUPID(t, clone901UPID))
	for range 3 {
		if _, _, err := run(clone900UPID, 2*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	// Clones of 901 begin from what clones of 900 took, then learn their own.
	if est, ok := c.tasks.estimate(k901); !ok || est < 1900*time.Millisecond {
		t.Fatalf("clones of 901 borrow %v, %v", est, ok)
	}
	for range 3 {
		if _, _, err := run(clone901UPID, 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	e900, _ := c.tasks.estimate(k900)
	e901, _ := c.tasks.estimate(k901)
	if e900 > 2100*time.Millisecond || e901 < 4900*time.Millisecond {
		t.Errorf("estimates: clones of 900 %v, of 901 %v; want about 2 s and 5 s", e900, e901)
	}
}

func TestWaitTaskLearnsOnlyFromCleanSuccesses(t *testing.T) {
	c, task, run := timedTasks(t)
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

// taskRun is what realTimeTaskRuns reports of one wait.
type taskRun struct {
	polls int
	// early counts the polls that found the task running with more than
	// 100 ms of it left.
	early int
	lag   time.Duration
	err   error
}

// realTimeTasks serves tasks on pve1 that run for their own duration of
// real time from the call of run, and fail when run is told so; the client
// sleeps for real.
func realTimeTasks(t *testing.T) func(upid string, d time.Duration, fail bool) (polls int, lag time.Duration, err error) {
	run := realTimeTaskRuns(t)
	return func(upid string, d time.Duration, fail bool) (int, time.Duration, error) {
		r := run(upid, d, fail)
		return r.polls, r.lag, r.err
	}
}

// realTimeTaskRuns is realTimeTasks with the whole taskRun.
func realTimeTaskRuns(t *testing.T) func(upid string, d time.Duration, fail bool) taskRun {
	f := newFakePVE(t)
	c, _ := f.client()
	c.sleep, c.sleepWake, c.now = sleepCtx, sleepWakeCtx, time.Now
	type task struct {
		end   time.Time
		fail  bool
		polls int
		early int
		seen  time.Time
	}
	var mu sync.Mutex
	tasks := map[string]*task{}
	f.handle("GET /api2/json/nodes/pve1/tasks/{upid}/status", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		tk := tasks[r.PathValue("upid")]
		tk.polls++
		if left := time.Until(tk.end); left > 0 {
			if left > 100*time.Millisecond {
				tk.early++
			}
			writeData(w, `{"status":"running"}`)
			return
		}
		tk.seen = time.Now()
		exit := "OK"
		if tk.fail {
			exit = "failed"
		}
		writeData(w, `{"status":"stopped","exitstatus":"`+exit+`"}`)
	})
	f.handle("GET /api2/json/nodes/pve1/tasks/{upid}/log", func(w http.ResponseWriter, r *http.Request) { writeData(w, `[]`) })
	return func(upid string, d time.Duration, fail bool) taskRun {
		mu.Lock()
		tk := &task{end: time.Now().Add(d), fail: fail}
		tasks[upid] = tk
		mu.Unlock()
		err := c.WaitTask(t.Context(), upid)
		mu.Lock()
		defer mu.Unlock()
		return taskRun{polls: tk.polls, early: tk.early, lag: tk.seen.Sub(tk.end), err: err}
	}
}

func startUPIDOf(i int) string {
	return fmt.Sprintf("UPID:pve1:%08X:00005678:5A3B7C8D:vzstart:%d:root@pam!tf:", 0x1000+i, 100+i)
}

// runAll runs the waits of n tasks of length d at once (real time).
func runAll(t *testing.T, run func(string, time.Duration, bool) (int, time.Duration, error), first, n int, d time.Duration) ([]int, []time.Duration) {
	polls := make([]int, n)
	lags := make([]time.Duration, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			var err error
			polls[i], lags[i], err = run(startUPIDOf(first+i), d, false)
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	return polls, lags
}

func TestWaitTaskConcurrentFirstTasksFollowOneLead(t *testing.T) {
	// Eight start tasks begin together and nothing is known about the type:
	// one wait polls closely, the others take up what it learns.
	run := realTimeTasks(t)
	const n = 8
	polls, lags := runAll(t, run, 0, n, 600*time.Millisecond)
	t.Logf("polls %v, seen late %v", polls, lags)
	slices.Sort(polls)
	if polls[n-1] < 5 {
		t.Errorf("no wait polled closely: polls %v", polls)
	}
	if polls[n-2] > 2 {
		t.Errorf("polls %v: all but the leading wait should need at most 2", polls)
	}
	for i, lag := range lags {
		if lag > maxGap {
			t.Errorf("task %d seen %v late", i, lag)
		}
	}
}

func TestWaitTaskLeadPassesOnWhenTheLeaderFails(t *testing.T) {
	// The leading wait's task fails: it teaches nothing, and one of the
	// waits that followed it takes the lead instead of all of them waiting
	// for their next poll a maxGap later.
	run := realTimeTasks(t)
	failed := make(chan error, 1)
	go func() {
		_, _, err := run(startUPIDOf(0), 300*time.Millisecond, true)
		failed <- err
	}()
	time.Sleep(100 * time.Millisecond) // the failing wait leads
	polls, lags := runAll(t, run, 1, 4, 500*time.Millisecond)
	if err := <-failed; err == nil {
		t.Error("the failed task reported success")
	}
	t.Logf("polls %v, seen late %v", polls, lags)
	if slices.Max(polls) < 3 {
		t.Errorf("no follower took the lead: polls %v", polls)
	}
	for i, lag := range lags {
		if lag > 400*time.Millisecond {
			t.Errorf("follower %d seen %v late: it waited for its own next poll", i, lag)
		}
	}
}

func TestWaitTaskWokenFollowersDoNotPollAtOnce(t *testing.T) {
	// Followers that start after the leading wait are woken when it learns
	// the type's length, while their tasks have about 0.2 s left: they plan
	// their poll from the estimate instead of polling at once.
	run := realTimeTaskRuns(t)
	lead := make(chan taskRun, 1)
	go func() { lead <- run(startUPIDOf(0), 400*time.Millisecond, false) }()
	time.Sleep(250 * time.Millisecond)
	runs := make([]taskRun, 4)
	var wg sync.WaitGroup
	for i := range runs {
		wg.Go(func() { runs[i] = run(startUPIDOf(1+i), 400*time.Millisecond, false) })
	}
	wg.Wait()
	l := <-lead
	if l.err != nil {
		t.Fatal(l.err)
	}
	t.Logf("leader %d polls; followers %+v", l.polls, runs)
	for i, r := range runs {
		if r.err != nil || r.early > 0 || r.lag > maxGap {
			t.Errorf("follower %d: %+v (a poll with more than 0.1 s of the task left)", i, r)
		}
	}
}

func TestWaitTaskWokenByAnotherKindKeepsPolling(t *testing.T) {
	// A wait with nothing learned about its kind is woken whenever another
	// kind is learned; such a wake must neither put its next poll off nor
	// cost a poll of its own. A long
	// task of one kind leads its kind; a short task of another kind, not
	// leading (a third wait leads it), must still see its end promptly
	// while short tasks of yet another kind keep being learned.
	run := realTimeTaskRuns(t)
	upidOf := func(typ string, i int) string {
		return fmt.Sprintf("UPID:pve1:%08X:00005678:5A3B7C8D:%s:%d:root@pam!tf:", 0x2000+i, typ, 300+i)
	}
	var wg sync.WaitGroup
	wg.Go(func() { run(upidOf("vzdump", 0), 2500*time.Millisecond, false) })
	// vzmigrate: one wait leads it for 2.5 s, the other follows.
	wg.Go(func() { run(upidOf("vzmigrate", 1), 2500*time.Millisecond, false) })
	time.Sleep(50 * time.Millisecond)
	follower := make(chan taskRun, 1)
	go func() { follower <- run(upidOf("vzmigrate", 2), 300*time.Millisecond, false) }()
	// Other kinds are learned every 200 ms meanwhile, each waking the
	// follower.
	for i := range 6 {
		wg.Go(func() { run(upidOf(fmt.Sprintf("kind%d", i), 10+i), 100*time.Millisecond, false) })
		time.Sleep(200 * time.Millisecond)
	}
	r := <-follower
	wg.Wait()
	t.Logf("follower: %+v", r)
	if r.err != nil || r.lag > maxGap+200*time.Millisecond {
		t.Errorf("the follower saw its task end %v late (%+v): the wakes put its polls off", r.lag, r)
	}
	// Nor may each wake cost a poll: the next poll keeps its due time.
	if r.polls > 2 {
		t.Errorf("the follower polled %d times in its 0.3 s: once per wake", r.polls)
	}
}
