package sshd

import (
	"fmt"
	"regexp"
	"sync"
	"sync/atomic"
)

// DropPoint says when a connection is dropped relative to the command that
// matched a Drop rule.
type DropPoint int

const (
	// DropBefore closes the connection when the exec request arrives: the
	// command never runs.
	DropBefore DropPoint = iota
	// DropDuring starts the command, then closes the connection at once; the
	// command goes on without the client (its stdin ends, its output is
	// discarded), as after a network failure.
	DropDuring
	// DropAfter runs the command to its end, then closes the connection
	// without sending the exit status.
	DropAfter
)

// String returns "before", "during" or "after".
func (p DropPoint) String() string {
	switch p {
	case DropBefore:
		return "before"
	case DropDuring:
		return "during"
	case DropAfter:
		return "after"
	}
	return fmt.Sprintf("DropPoint(%d)", int(p))
}

// Drop is one connection-drop rule: the connection carrying a command whose
// text matches Match is closed at At, Times times (0 means every time).
type Drop struct {
	Match *regexp.Regexp
	At    DropPoint
	// remaining counts the drops left; -1 means unlimited.
	remaining atomic.Int64
	fired     atomic.Int64
}

// NewDrop compiles pattern into a rule that fires times times (0: always).
func NewDrop(pattern string, at DropPoint, times int) (*Drop, error) {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("drop rule: %w", err)
	}
	if at < DropBefore || at > DropAfter {
		return nil, fmt.Errorf("drop rule: unknown drop point %d", int(at))
	}
	if times < 0 {
		return nil, fmt.Errorf("drop rule: negative count %d", times)
	}
	d := &Drop{Match: re, At: at}
	if times == 0 {
		d.remaining.Store(-1)
	} else {
		d.remaining.Store(int64(times))
	}
	return d, nil
}

// Fired reports how many times the rule dropped a connection.
func (d *Drop) Fired() int { return int(d.fired.Load()) }

// take consumes one use of the rule when command matches and uses remain.
func (d *Drop) take(command string) bool {
	if d == nil || d.Match == nil || !d.Match.MatchString(command) {
		return false
	}
	for {
		n := d.remaining.Load()
		if n == 0 {
			return false
		}
		if n < 0 || d.remaining.CompareAndSwap(n, n-1) {
			d.fired.Add(1)
			return true
		}
	}
}

// FaultSet is the set of SSH faults in force; Options.Faults returns the
// current one for every command. Rules keep their own counters, so returning
// the same *Drop values each time makes "N times" work across commands.
type FaultSet struct {
	Drops []*Drop
}

// match returns the first rule at point at that fires for command.
func (f FaultSet) match(command string, at DropPoint) *Drop {
	for _, d := range f.Drops {
		if d != nil && d.At == at && d.take(command) {
			return d
		}
	}
	return nil
}

// Injector holds fault rules that tests and flags change while the server
// runs. Use its FaultSet method as Options.Faults.
type Injector struct {
	mu    sync.Mutex
	drops []*Drop
}

// Drop adds a connection-drop rule (see NewDrop) and returns it.
func (i *Injector) Drop(pattern string, at DropPoint, times int) (*Drop, error) {
	d, err := NewDrop(pattern, at, times)
	if err != nil {
		return nil, err
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	i.drops = append(i.drops, d)
	return d, nil
}

// Clear removes every rule.
func (i *Injector) Clear() {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.drops = nil
}

// FaultSet returns the rules in force.
func (i *Injector) FaultSet() FaultSet {
	i.mu.Lock()
	defer i.mu.Unlock()
	return FaultSet{Drops: append([]*Drop(nil), i.drops...)}
}
