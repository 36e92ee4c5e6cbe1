package pve

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// UPID is a parsed PVE task id,
// UPID:<node>:<pid>:<pstart>:<starttime>:<type>:<id>:<user>: with pid,
// pstart and starttime in hexadecimal.
type UPID struct {
	Raw       string
	Node      string
	PID       int64
	PStart    int64
	StartTime time.Time
	Type      string
	ID        string
	User      string
}

// ParseUPID parses a task id.
func ParseUPID(s string) (UPID, error) {
	bad := func(why string) (UPID, error) {
		return UPID{}, fmt.Errorf("%q is not a PVE task id (UPID:node:pid:pstart:starttime:type:id:user:): %s", s, why)
	}
	if !strings.HasPrefix(s, "UPID:") || !strings.HasSuffix(s, ":") {
		return bad("missing UPID: prefix or trailing colon")
	}
	f := strings.Split(strings.TrimSuffix(strings.TrimPrefix(s, "UPID:"), ":"), ":")
	if len(f) != 7 {
		return bad(fmt.Sprintf("%d fields instead of 7", len(f)))
	}
	if f[0] == "" {
		return bad("empty node")
	}
	var nums [3]int64
	for i := range 3 {
		n, err := strconv.ParseInt(f[1+i], 16, 64)
		if err != nil || n < 0 {
			return bad("pid, pstart and starttime must be hexadecimal")
		}
		nums[i] = n
	}
	if f[4] == "" {
		return bad("empty task type")
	}
	return UPID{
		Raw: s, Node: f[0], PID: nums[0], PStart: nums[1],
		StartTime: time.Unix(nums[2], 0).UTC(), Type: f[4], ID: f[5], User: f[6],
	}, nil
}

// TaskStatus is the answer of GET /nodes/{node}/tasks/{upid}/status.
type TaskStatus struct {
	UPID       string  `json:"upid"`
	Node       string  `json:"node"`
	Status     string  `json:"status"` // "running" or "stopped"
	ExitStatus string  `json:"exitstatus"`
	Type       string  `json:"type"`
	ID         string  `json:"id"`
	User       string  `json:"user"`
	StartTime  FlexInt `json:"starttime"`
}

// Running reports whether the task still runs.
func (s *TaskStatus) Running() bool { return s.Status == "running" }

// OK reports whether a stopped task succeeded ("OK" or "WARNINGS: n").
func (s *TaskStatus) OK() bool { return exitOK(s.ExitStatus) }

func exitOK(exit string) bool {
	return exit == "OK" || strings.HasPrefix(exit, "WARNINGS:")
}

// TaskError is a task that ended with a failure.
type TaskError struct {
	UPID string
	// Node, Type and ID come from the UPID (e.g. pve1, vzcreate, 102).
	Node, Type, ID string
	// ExitStatus is PVE's message, e.g. "unable to create CT 102 - ...".
	ExitStatus string
	// LogTail holds the last lines (at most 10) of the task log.
	LogTail []string
}

// Error implements error: the PVE message, the UPID and the log tail.
func (e *TaskError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "task %s %s on node %s failed: %s (%s)", e.Type, e.ID, e.Node, e.ExitStatus, e.UPID)
	var tail []string
	for _, l := range e.LogTail {
		if l != "TASK ERROR: "+e.ExitStatus {
			tail = append(tail, l)
		}
	}
	if len(tail) > 0 {
		b.WriteString("\nlast lines of the task log:")
		for _, l := range tail {
			b.WriteString("\n  " + l)
		}
	}
	return b.String()
}

// PollPolicy shapes how WaitTask polls a task of a type it has learned
// nothing about yet: the first poll after Initial, then each wait Factor
// times longer, at most Max. WaitCreated polls the same way.
type PollPolicy struct {
	Initial, Max time.Duration
	Factor       float64
	// MaxErrors is how many transient errors in a row are tolerated while
	// polling.
	MaxErrors int
}

// DefaultPollPolicy polls first after 50 ms, backs off by 1.5 to at most
// 100 ms, and tolerates 10 transient errors in a row. Capped at 100 ms, the
// end of the first task of a type is seen at most a tenth of a second
// late; only one wait per task type polls like this at a time (see
// WaitTask), so the cost in requests is paid once.
func DefaultPollPolicy() PollPolicy {
	return PollPolicy{Initial: 50 * time.Millisecond, Max: 100 * time.Millisecond, Factor: 1.5, MaxErrors: 10}
}

const (
	// maxGap is the longest wait between two polls of a task whose end is
	// expected (before that end, and in the back-off after it): a task
	// that ends much sooner or later than expected is seen at most this
	// late.
	maxGap = 1100 * time.Millisecond
	// endMargin is how long after its expected end a task is polled.
	endMargin = 25 * time.Millisecond
)

// next is the wait after a wait of d.
func (p PollPolicy) next(d time.Duration) time.Duration {
	n := time.Duration(float64(d) * p.Factor)
	if n > p.Max {
		n = p.Max
	}
	return n
}

// TaskLog returns up to limit lines of a task's log from line start (0-based).
func (c *Client) TaskLog(ctx context.Context, upid string, start, limit int) ([]string, error) {
	u, err := ParseUPID(upid)
	if err != nil {
		return nil, err
	}
	var lines []struct {
		N FlexInt `json:"n"`
		T string  `json:"t"`
	}
	params := map[string]string{"start": strconv.Itoa(start), "limit": strconv.Itoa(limit)}
	if err := c.get(ctx, taskPath(u)+"/log", params, &lines); err != nil {
		return nil, err
	}
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = l.T
	}
	return out, nil
}

// logPage and logPages bound how much of a log TaskLogTail reads.
const (
	logPage  = 500
	logPages = 40
)

// TaskLogTail returns the last n lines of a task's log.
func (c *Client) TaskLogTail(ctx context.Context, upid string, n int) ([]string, error) {
	var tail []string
	for page := range logPages {
		lines, err := c.TaskLog(ctx, upid, page*logPage, logPage)
		if err != nil {
			return tail, err
		}
		tail = append(tail, lines...)
		if len(tail) > n {
			tail = tail[len(tail)-n:]
		}
		if len(lines) < logPage {
			break
		}
	}
	return tail, nil
}

// WaitTask waits until the task ends and returns nil when it succeeded, a
// *TaskError (with the tail of the log) when it failed, or an error naming
// the UPID when ctx ends first. It is meant to be called right after the
// request that started the task. The task log is read only when the task
// failed.
//
// It polls from what it learned about the task's kind (see taskTimes):
//
//   - With an estimate of the task's duration, the status is asked for
//     endMargin after the expected end, with evenly spaced polls at most
//     maxGap apart before it. A task of the usual length costs one poll
//     per maxGap of its duration and is seen ending within endMargin (plus
//     the request's own time). A task still running at that poll is
//     polled again after Initial, with waits growing by half up to maxGap.
//   - Without one, the first wait for a task type polls with the policy's
//     back-off (every 100 ms after the first few). Other waits for that
//     type meanwhile poll every maxGap and take up the estimate as soon as
//     the first one learns it (or its lead when it ends without learning).
//
// A task much shorter or longer than expected is thus seen at most maxGap
// late, and the estimate follows it. Waits never pass ctx. Transient
// errors while polling are tolerated up to PollPolicy.MaxErrors in a row;
// a wait with such errors teaches nothing.
func (c *Client) WaitTask(ctx context.Context, upid string) error {
	u, err := ParseUPID(upid)
	if err != nil {
		return err
	}
	begin := c.now()
	key := taskKeyOf(u)
	leading := false
	defer func() {
		if leading {
			c.tasks.unlead(key.typ)
		}
	}()
	var (
		// lastRunning is when the last poll that found the task running
		// was sent: the task ended after it.
		lastRunning time.Duration
		// used is the estimate the poll after the expected end was
		// planned from; pastEnd is set when that poll found the task
		// still running, after which waits back off from afterEnd.
		used     time.Duration
		pastEnd  bool
		afterEnd time.Duration
		// backoff is the next wait of a leading wait.
		backoff = c.poll.Initial
		// A poll that failed makes the wait's timing useless for learning.
		failures int
		failed   bool
	)
	for {
		wake := c.tasks.changes()
		elapsed := c.now().Sub(begin)
		est, known := c.tasks.estimate(key)
		var wait time.Duration
		atEnd := false
		switch {
		case known && !pastEnd:
			used = est
			rem := est + endMargin - elapsed
			if rem <= maxGap {
				wait, atEnd = max(rem, 0), true
			} else {
				wait = rem / ((rem + maxGap - 1) / maxGap)
			}
			wake = nil
		case known:
			wait = afterEnd
			afterEnd = min(afterEnd*3/2, maxGap)
			wake = nil
		case leading || c.tasks.lead(key.typ):
			leading = true
			wait = backoff
			backoff = c.poll.next(backoff)
			wake = nil
		default:
			wait = maxGap
		}
		if failures > 0 {
			wait = max(wait, c.poll.Initial)
		}
		replan, err := c.pauseUntilDue(ctx, key, wait, wake, &leading)
		if err != nil {
			return fmt.Errorf("task %s %s on node %s did not finish in time (%s): %w", u.Type, u.ID, u.Node, upid, err)
		}
		if replan {
			continue
		}
		sent := c.now().Sub(begin)
		var st TaskStatus
		if err := c.do(ctx, "GET", taskPath(u)+"/status", nil, &st); err != nil {
			if ctx.Err() == nil && IsTransient(err) && failures < c.poll.MaxErrors {
				failures++
				failed = true
				continue
			}
			if cerr := ctx.Err(); cerr != nil {
				// The deadline or a cancel hit during the status request.
				return fmt.Errorf("task %s %s on node %s did not finish in time (%s): %w", u.Type, u.ID, u.Node, upid, cerr)
			}
			return fmt.Errorf("waiting for task %s: %w", upid, err)
		}
		failures = 0
		if st.Running() {
			lastRunning = sent
			if atEnd && !pastEnd {
				pastEnd, afterEnd = true, c.poll.Initial
			}
			continue
		}
		if st.OK() && !failed {
			if atEnd && !pastEnd {
				// Over at the first poll after its expected end: no longer
				// than expected, by how much is unknown.
				c.tasks.overAtTarget(key, used, lastRunning)
			} else {
				c.tasks.observe(key, c.endedAfter(lastRunning, c.now().Sub(begin)))
			}
		}
		if st.OK() {
			return nil
		}
		te := &TaskError{UPID: upid, Node: u.Node, Type: u.Type, ID: u.ID, ExitStatus: st.ExitStatus}
		te.LogTail, _ = c.TaskLogTail(ctx, upid, 10)
		return te
	}
}

// pauseUntilDue waits for d, the time to the next poll. A wake (wake not
// nil: a wait that follows another's lead) that taught this task's kind its
// length, or that ended the kind's lead (which this wait then takes,
// setting *leading), returns early with replan set, for the next poll to be
// planned anew. Other wakes (another kind learned) keep the poll's due
// time.
func (c *Client) pauseUntilDue(ctx context.Context, key taskKey, d time.Duration, wake <-chan struct{}, leading *bool) (replan bool, err error) {
	due := c.now().Add(d)
	for {
		if err := c.pause(ctx, due.Sub(c.now()), wake); err != nil {
			return false, err
		}
		if !woken(wake) || !c.now().Before(due) {
			return false, nil
		}
		if _, ok := c.tasks.estimate(key); ok {
			return true, nil
		}
		if !*leading && c.tasks.lead(key.typ) {
			*leading = true
			return true, nil
		}
		wake = c.tasks.changes()
	}
}

// woken reports whether wake (nil: none) is closed.
func woken(wake <-chan struct{}) bool {
	if wake == nil {
		return false
	}
	select {
	case <-wake:
		return true
	default:
		return false
	}
}

// pause waits for d, or until wake (when not nil) is closed or ctx ends.
func (c *Client) pause(ctx context.Context, d time.Duration, wake <-chan struct{}) error {
	if wake == nil {
		return c.sleep(ctx, d)
	}
	return c.sleepWake(ctx, d, wake)
}

// endedAfter estimates how long a task took that was last seen running at
// lastRunning (0: never) and seen stopped at seen. It takes the middle of
// that bracket, but no more than one Initial past the last running answer,
// so that a wide bracket (one maxGap long) does not make the next poll
// after the expected end come too late: the estimate leans low, which
// costs at most a poll. When no poll found the task running, the first one
// came too late already: it takes a quarter of seen, so that the estimate
// falls at once to where a poll likely sees the task still running (which
// costs a poll or two and pins the estimate again).
func (c *Client) endedAfter(lastRunning, seen time.Duration) time.Duration {
	if lastRunning > 0 {
		return min((lastRunning+seen)/2, lastRunning+c.poll.Initial)
	}
	return seen / 4
}

func taskPath(u UPID) string {
	return "/nodes/" + seg(u.Node) + "/tasks/" + seg(u.Raw)
}
