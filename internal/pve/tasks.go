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

// PollPolicy shapes how WaitTask polls: the first poll after Initial, then
// each wait Factor times longer, at most Max.
type PollPolicy struct {
	Initial, Max time.Duration
	Factor       float64
	// MaxErrors is how many transient errors in a row are tolerated while
	// polling.
	MaxErrors int
}

// DefaultPollPolicy polls first after 50 ms, backs off by 1.5 to at most
// 250 ms, and tolerates 10 transient errors in a row. Capped at 250 ms, the
// end of a task of a type not seen before is seen at most a quarter second
// late, which keeps an apply close to the time Proxmox VE itself needs.
func DefaultPollPolicy() PollPolicy {
	return PollPolicy{Initial: 50 * time.Millisecond, Max: 250 * time.Millisecond, Factor: 1.5, MaxErrors: 10}
}

const (
	// fineWindow is how long past its expected end a task is polled at the
	// policy's Initial interval before the back-off resumes.
	fineWindow = 500 * time.Millisecond
	// maxApproach is the longest wait before a task's expected end: a task
	// that ends much sooner than the ones before it is seen at most this
	// late.
	maxApproach = time.Second
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
// request that started the task.
//
// It polls adaptively. The first task of a type on a node (for clones: of a
// source) is polled after 50 ms, then with waits growing by 1.5 up to
// 250 ms. Once such tasks have succeeded there, polls approach the shortest
// of their recent durations in steps of at most a second, come 50 ms before
// it, and stay 50 ms apart for half a second past it before backing off
// again: a task of the usual length is seen ending within about 50 ms with
// a few requests, a longer one costs some more requests, and one that ends
// much sooner is seen at most a second late, after which the estimate
// follows it. Waits never pass ctx. Transient errors while polling are
// tolerated up to PollPolicy.MaxErrors in a row.
func (c *Client) WaitTask(ctx context.Context, upid string) error {
	u, err := ParseUPID(upid)
	if err != nil {
		return err
	}
	begin := c.now()
	key := taskKeyOf(u)
	est, haveEst := c.tasks.estimate(key)
	// next is the wait after a poll sent at elapsed, the last wait being d.
	next := func(elapsed, d time.Duration) time.Duration {
		switch {
		case !haveEst || elapsed >= est+fineWindow:
			if d > c.poll.Max {
				return c.poll.Max
			}
			return c.poll.next(d)
		case elapsed+c.poll.Initial < est-c.poll.Initial:
			return min(est-c.poll.Initial-elapsed, maxApproach)
		default:
			return c.poll.Initial
		}
	}
	delay := c.poll.Initial
	if haveEst {
		delay = next(0, 0)
	}
	// lastRunning is when the last poll that found the task running was
	// sent: the task ended after it. A poll that failed makes the wait's
	// timing useless for learning.
	var lastRunning time.Duration
	failures, failed := 0, false
	for {
		if err := c.sleep(ctx, delay); err != nil {
			return fmt.Errorf("task %s %s on node %s did not finish in time (%s): %w", u.Type, u.ID, u.Node, upid, err)
		}
		sent := c.now().Sub(begin)
		delay = next(sent, delay)
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
			continue
		}
		if st.OK() {
			if !failed {
				c.tasks.observe(key, c.endedAfter(lastRunning, c.now().Sub(begin)))
			}
			return nil
		}
		te := &TaskError{UPID: upid, Node: u.Node, Type: u.Type, ID: u.ID, ExitStatus: st.ExitStatus}
		te.LogTail, _ = c.TaskLogTail(ctx, upid, 10)
		return te
	}
}

// endedAfter estimates how long a task took that was last seen running at
// lastRunning (0: never) and seen stopped at seen. It takes the middle of
// that bracket, but no more than one Initial past the last running answer,
// so that a wide bracket (the back-off's) does not make the next first
// poll come too late. When no poll found the task running, the first one
// came too late already: it takes three quarters of seen, so that the
// estimate falls quickly to where a poll sees the task still running.
func (c *Client) endedAfter(lastRunning, seen time.Duration) time.Duration {
	if lastRunning > 0 {
		return min((lastRunning+seen)/2, lastRunning+c.poll.Initial)
	}
	return seen * 3 / 4
}

func taskPath(u UPID) string {
	return "/nodes/" + seg(u.Node) + "/tasks/" + seg(u.Raw)
}
