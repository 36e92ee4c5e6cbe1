package pve

import (
	"sync"
	"time"
)

// taskTimes remembers how long the last tasks of each type took on each
// node, so that WaitTask can ask for a task's status shortly before it is
// due to end instead of walking a back-off towards it: the end is seen
// sooner and with fewer requests. Proxmox VE has no call that waits for a
// task, so polling is the only way to learn that one ended.
//
// The estimate is the shortest of the last taskSamples durations, never an
// average: a task faster than the estimate is seen late, one slower only
// costs polls, so the estimate leans low.
type taskTimes struct {
	mu      sync.Mutex
	samples map[taskKey][]time.Duration
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

// taskSamples is how many recent durations are kept per node and type.
const taskSamples = 8

// estimate returns the expected duration of a task of kind k.
func (t *taskTimes) estimate(k taskKey) (time.Duration, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.samples[k]
	if len(s) == 0 {
		return 0, false
	}
	low := s[0]
	for _, d := range s[1:] {
		low = min(low, d)
	}
	return low, true
}

// observe records the duration of a task of kind k that succeeded.
func (t *taskTimes) observe(k taskKey, d time.Duration) {
	if d <= 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.samples == nil {
		t.samples = map[taskKey][]time.Duration{}
	}
	t.samples[k] = append(t.samples[k], d)
	s := t.samples[k]
	if len(s) > taskSamples {
		s = s[len(s)-taskSamples:]
	}
	t.samples[k] = s
}
