package sshd

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"
)

func BenchmarkNodeCommand(b *testing.B) {
	e := newTestEnvTB(b)
	for b.Loop() {
		if r := runOn(b, e.client, "true", ""); r.exit != 0 {
			b.Fatal(r)
		}
	}
}

func BenchmarkPctExec(b *testing.B) {
	e := newTestEnvTB(b)
	e.addCT(102, ctConf(102, "nesting=1,keyctl=1"), true)
	runOn(b, e.client, "pct exec 102 -- true", "")
	for b.Loop() {
		if r := runOn(b, e.client, "pct exec 102 -- true", ""); r.exit != 0 {
			b.Fatal(r)
		}
	}
}

// BenchmarkPctExecFleet times a read-only pct exec on a node that holds 10
// or 500 filled containers: the cost of an SSH command must not grow with
// the containers it does not touch.
//
//	go test ./internal/pvesim/sshd -run '^$' -bench PctExecFleet -benchtime 20x
func BenchmarkPctExecFleet(b *testing.B) {
	for _, n := range []int{10, 500} {
		b.Run(fmt.Sprintf("cts=%d", n), func(b *testing.B) {
			e := newTestEnvTB(b)
			e.fillFleet(n)
			// Untimed: the first command after the fill reads what the
			// fill changed.
			runOn(b, e.client, "true", "")
			if e.srv.journal != nil {
				b.Logf("%d containers, %d directories watched", n, e.srv.journal.watches())
			}
			before := len(e.eventsSnapshot())
			for b.Loop() {
				if r := runOn(b, e.client, "pct exec 100 -- cat /etc/os-release", ""); r.exit != 0 {
					b.Fatal(r)
				}
			}
			b.StopTimer()
			for _, ev := range e.waitEvents(before + b.N)[before:] {
				if ev.Write {
					b.Fatalf("read-only pct exec reported as a write: %+v", ev)
				}
			}
		})
	}
}

// fillFleet adds n running containers 100..100+n-1, each with a volume
// filled as a first pct exec fills it (copied from the first).
func (e *testEnv) fillFleet(n int) {
	e.t.Helper()
	first := e.addCT(100, ctConf(100, "nesting=1,keyctl=1"), true)
	if r := runOn(e.t, e.client, "pct exec 100 -- true", ""); r.exit != 0 {
		e.t.Fatal(r)
	}
	for i := 1; i < n; i++ {
		vmid := 100 + i
		vol := e.addCT(vmid, ctConf(vmid, "nesting=1,keyctl=1"), true)
		if out, err := exec.Command("cp", "-a", "-T", first, vol).CombinedOutput(); err != nil {
			e.t.Fatalf("copy %s to %s: %v\n%s", first, filepath.Base(vol), err, out)
		}
	}
}
