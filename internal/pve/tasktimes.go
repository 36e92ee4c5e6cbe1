package pve

import (
	"sync"
	"time"
)

// taskTimes remembers how long tasks of each kind took, so that WaitTask
// can ask for a task's status just after it is due to end instead of
// walking a back-off towards it: the end is seen sooner and with fewer
// requests. Proxmox VE has no call that waits for a task, so polling is the
// only way to learn that one ended.
//
// Each kind keeps one estimate. A wait that saw its task running and then
// stopped within a short interval sets it (the middle of that interval,
// leaning low). A wait whose first poll after the expected end already
// found the task over only knows that the task was no longer than the
// estimate, so it lowers the estimate by a step that doubles while this
// repeats: the estimate keeps probing downwards until a poll finds a task
// still running and pins it again. A kind without an estimate borrows the
// last estimate learned for its task type (another node, another clone
// source). When the type has none either, one wait at a time leads (polls
// closely); the others wait for what it learns, see changes.
type taskTimes struct {
	mu      sync.Mutex
	kinds   map[taskKey]*taskKind
	byType  map[string]time.Duration
	leaders map[string]bool
	changed chan struct{}
}

// taskKind is what is known about one kind of task.
type taskKind struct {
	est  time.Duration
	step time.Duration // the next downward probe
}

// taskKey names a kind of task: its node and type, and for a clone its
// source, whose volumes decide how long the copy takes.
type taskKey struct{ node, typ, source string }

func taskKeyOf(u UPID) taskKey {
	k := taskKey{node: u.Node, typ: u.Type}
	if u.Type == "vzclone" {
		k.source = u.ID
	}
	return k
}

const (
	// probeStep is the first step by which an estimate is lowered when a
	// task was over at the first poll after its expected end.
	probeStep = 10 * time.Millisecond
	// maxProbeStep bounds the doubling of that step.
	maxProbeStep = 500 * time.Millisecond
)

// estimate returns the expected duration of a task of kind k: its own
// estimate, else the last one learned for its type.
func (t *taskTimes) estimate(k taskKey) (time.Duration, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.estimateLocked(k)
}

func (t *taskTimes) estimateLocked(k taskKey) (time.Duration, bool) {
	if kd := t.kinds[k]; kd != nil {
		return kd.est, true
	}
	d, ok := t.byType[k.typ]
	return d, ok
}

// observe records that a task of kind k took about d.
func (t *taskTimes) observe(k taskKey, d time.Duration) {
	if d <= 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.setLocked(k, &taskKind{est: d, step: probeStep})
	if t.byType == nil {
		t.byType = map[string]time.Duration{}
	}
	t.byType[k.typ] = d
	t.broadcastLocked()
}

// overAtTarget records that a task of kind k, polled first after the
// estimate used, was already over; floor is when a poll last found it
// running. The estimate goes down by the probe step (not below floor),
// unless another wait changed it meanwhile.
func (t *taskTimes) overAtTarget(k taskKey, used, floor time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	cur, ok := t.estimateLocked(k)
	if !ok || cur != used {
		return
	}
	step := probeStep
	if kd := t.kinds[k]; kd != nil {
		step = kd.step
	}
	est := max(used-step, floor, time.Millisecond)
	t.setLocked(k, &taskKind{est: est, step: min(2*step, maxProbeStep)})
}

func (t *taskTimes) setLocked(k taskKey, kd *taskKind) {
	if t.kinds == nil {
		t.kinds = map[taskKey]*taskKind{}
	}
	t.kinds[k] = kd
}

// lead makes the caller the wait that polls closely for tasks of type typ
// while nothing is known about them; it reports false when another wait
// leads already.
func (t *taskTimes) lead(typ string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.leaders[typ] {
		return false
	}
	if t.leaders == nil {
		t.leaders = map[string]bool{}
	}
	t.leaders[typ] = true
	return true
}

// unlead ends the caller's lead of typ and wakes the waits that were
// waiting for it, so that one of them leads if nothing was learned.
func (t *taskTimes) unlead(typ string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.leaders, typ)
	t.broadcastLocked()
}

// changes returns a channel that is closed at the next observe or unlead.
func (t *taskTimes) changes() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.changed == nil {
		t.changed = make(chan struct{})
	}
	return t.changed
}

func (t *taskTimes) broadcastLocked() {
	if t.changed != nil {
		close(t.changed)
		t.changed = nil
	}
}
