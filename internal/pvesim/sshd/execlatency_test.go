package sshd

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestExecLatencyPerPctExec: every pct exec waits Options.ExecLatency, each
// one of a command that runs several, read anew for every command; other
// node commands and pct exec's refusals do not wait.
func TestExecLatencyPerPctExec(t *testing.T) {
	var latency atomic.Int64
	e := newTestEnvWith(t, func(o *Options) {
		o.ExecLatency = func() time.Duration { return time.Duration(latency.Load()) }
	})
	e.addCT(102, ctConf(102, "nesting=1,keyctl=1"), true)
	e.addCT(103, ctConf(103, ""), false)
	e.mustRun("pct exec 102 -- true", "") // the fill, before any latency

	const l = 700 * time.Millisecond
	latency.Store(int64(l))
	timed := func(command string, exit int) time.Duration {
		t.Helper()
		began := time.Now()
		if r := e.run(command, ""); r.exit != exit {
			t.Fatalf("%q: %s", command, r)
		}
		return time.Since(began)
	}
	if d := timed("pct exec 102 -- true", 0); d < l {
		t.Errorf("one pct exec took %s, want at least the exec latency %s", d, l)
	}
	if d := timed("pct exec 102 -- true; pct exec 102 -- true; pct exec 102 -- true", 0); d < 3*l {
		t.Errorf("three pct exec in one command took %s, want at least %s", d, 3*l)
	}
	// The latency is the container's attach: the command in it sees no
	// trace of the setting.
	if r := e.mustRun("pct exec 102 -- env", ""); strings.Contains(r.stdout, execLatencyEnv) {
		t.Errorf("the container's environment holds %s:\n%s", execLatencyEnv, r.stdout)
	}

	// Not waited: node commands without pct exec, and a pct exec that
	// fails before attaching (stopped container). Three of them together
	// stay below one latency.
	if d := timed("pct status 102 && pct config 102 >/dev/null; pct exec 103 -- true", 255); d >= l {
		t.Errorf("commands without an attach took %s, want less than the exec latency %s", d, l)
	}

	latency.Store(0)
	if d := timed("pct exec 102 -- true; pct exec 102 -- true; pct exec 102 -- true", 0); d >= 3*l {
		t.Errorf("with the latency back to 0, three pct exec took %s", d)
	}
}
