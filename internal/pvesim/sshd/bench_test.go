package sshd

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
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

// BenchmarkDockerCheck times the provider's refresh check of one container:
// pct exec of the real check script in a container where the real install
// script ran (as in TestDockerScriptsInCT).
//
//	go test ./internal/pvesim/sshd -run '^$' -bench DockerCheck -benchtime 30x
//
// ns/op is wall time. The CPU time of the node's processes is not in it
// (bubblewrap's PID namespace keeps their usage from the test's
// RUSAGE_CHILDREN); "perf stat -e task-clock" of the test binary run with
// -benchtime 1x and Nx gives it per check as the difference over N-1.
func BenchmarkDockerCheck(b *testing.B) {
	install := dockerScript(b, "phoenix_hypervisor_feature_install_docker.sh")
	check := dockerScript(b, "check_docker_service.sh")
	e := newTestEnvTB(b)
	runOn(b, e.client, "cat > /etc/apparmor.d/lxc/lxc-docker-secure", testProfile)
	runOn(b, e.client, "apparmor_parser -r /etc/apparmor.d/lxc-containers", "")
	e.addCT(102, ctConf(102, "nesting=1,keyctl=1", "lxc.apparmor.profile: lxc-docker-secure", "lxc.apparmor.allow_nesting: 1"), true)
	r := runOn(b, e.client, "pct exec 102 -- env PHOENIX_RETRY_DELAY=0 bash -s -- --package-source docker-ce --network-target 1.1.1.1", install)
	if r.exit != 0 {
		b.Fatalf("install: %s", r)
	}
	for b.Loop() {
		r := runOn(b, e.client, "pct exec 102 -- bash -s", check)
		if r.exit != 0 || !strings.Contains(r.stdout, "check service_active=1 installed_version=5:") {
			b.Fatalf("check: %s", r)
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
