package sshd

import (
	"cmp"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
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
	check := dockerScript(b, "check_docker_service.sh")
	e := newTestEnvTB(b)
	e.installedDockerCT(b, 102)
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

// BenchmarkDockerCheckBatch times the provider's node-wide check as a plan
// runs it: check_docker_batch.sh on the node, 16 checks at a time
// (CHECK_PARALLEL changes it), over 32 containers cloned from one where the
// real install script ran. An op is one batch. "recorded": the containers
// run in the boot in which Docker was started, so the stand-ins read the
// recorded unit states; "booted": each container started again since (as
// after a clone and start, the case of the bench's verify-on plans), so
// they apply systemd's start rules, reading daemon.json. Run in a cgroup v1
// cpuacct group of its own, it reports the CPU time of the node's
// processes per check (cpu-ms/check), which ns/op leaves out:
//
//	mkdir -p /sys/fs/cgroup/cpuacct/bench && echo $$ > /sys/fs/cgroup/cpuacct/bench/tasks
//	go test ./internal/pvesim/sshd -run '^$' -bench DockerCheckBatch/booted -benchtime 5x
func BenchmarkDockerCheckBatch(b *testing.B) {
	for _, booted := range []bool{false, true} {
		name := "recorded"
		if booted {
			name = "booted"
		}
		b.Run(name, func(b *testing.B) { benchCheckBatch(b, booted) })
	}
}

func benchCheckBatch(b *testing.B, booted bool) {
	const n = 32
	check := dockerScript(b, "check_docker_service.sh")
	batch := dockerScript(b, "check_docker_batch.sh")
	e := newTestEnvTB(b)
	first := e.installedDockerCT(b, 100)
	vmids := []string{"100"}
	for i := 1; i < n; i++ {
		vol := e.addCT(100+i, dockerCTConf(100+i), true)
		if out, err := exec.Command("cp", "-a", "-T", first, vol).CombinedOutput(); err != nil {
			b.Fatalf("copy: %v\n%s", err, out)
		}
		vmids = append(vmids, fmt.Sprint(100+i))
	}
	if booted {
		for i := range n {
			run := filepath.Join(e.state, "runtime", "pve1", fmt.Sprintf("%d.running", 100+i))
			if err := os.WriteFile(run, []byte(fmt.Sprintf(`{"pid":%d,"started":1700000100}`+"\n", 5000+i)), 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	nonce := strings.Repeat("ab", 16)
	cmd := "bash -c '" + strings.ReplaceAll(batch, "'", `'\''`) + "' check_docker_batch.sh " + nonce + " " + cmp.Or(os.Getenv("CHECK_PARALLEL"), "16") + " 60 " + strings.Join(vmids, " ")
	usage := cgroupCPU(b)
	start := usage()
	for b.Loop() {
		r := runOn(b, e.client, cmd, check)
		if r.exit != 0 || strings.Count(r.stdout, "check service_active=1 installed_version=5:") != n {
			b.Fatalf("batch: %s", r)
		}
	}
	if start >= 0 {
		b.ReportMetric(float64(usage()-start)/1e6/float64(b.N*n), "cpu-ms/check")
	}
}

// cgroupCPU returns a reader of the CPU time (ns) of the cgroup v1 cpuacct
// group this process runs in, or of -1 when it runs in the root group
// (which counts the whole machine) or there is none (cgroup v2 is not
// read): the node's processes run in bubblewrap's PID namespaces, out of
// reach of getrusage, but not out of their cgroup. The figure includes this
// process (the simulated node's SSH server and the client), and anything
// else in the group: run the benchmark in a group of its own, e.g.
//
//	mkdir /sys/fs/cgroup/cpuacct/bench && echo $$ > /sys/fs/cgroup/cpuacct/bench/tasks
func cgroupCPU(b *testing.B) func() int64 {
	none := func() int64 { return -1 }
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return none
	}
	for _, line := range strings.Split(string(data), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 || !slices.Contains(strings.Split(parts[1], ","), "cpuacct") || parts[2] == "/" {
			continue
		}
		file := filepath.Join("/sys/fs/cgroup/cpuacct", parts[2], "cpuacct.usage")
		return func() int64 {
			raw, err := os.ReadFile(file)
			if err != nil {
				b.Fatal(err)
			}
			v, err := strconv.ParseInt(strings.TrimSpace(string(raw)), 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return v
		}
	}
	b.Log("not in a cpuacct group of its own: no cpu-ms/check")
	return none
}

// dockerCTConf is the configuration of a container that runs Docker under
// the node's lxc-docker-secure profile.
func dockerCTConf(vmid int) string {
	return ctConf(vmid, "nesting=1,keyctl=1", "lxc.apparmor.profile: lxc-docker-secure", "lxc.apparmor.allow_nesting: 1")
}

// installedDockerCT loads the Docker profile on the node, adds running
// container vmid under it and runs the real install script there; it
// returns the container's volume.
func (e *testEnv) installedDockerCT(b *testing.B, vmid int) string {
	b.Helper()
	install := dockerScript(b, "phoenix_hypervisor_feature_install_docker.sh")
	runOn(b, e.client, "cat > /etc/apparmor.d/lxc/lxc-docker-secure", testProfile)
	runOn(b, e.client, "apparmor_parser -r /etc/apparmor.d/lxc-containers", "")
	vol := e.addCT(vmid, dockerCTConf(vmid), true)
	r := runOn(b, e.client, fmt.Sprintf("pct exec %d -- env PHOENIX_RETRY_DELAY=0 bash -s -- --package-source docker-ce --network-target 1.1.1.1", vmid), install)
	if r.exit != 0 {
		b.Fatalf("install: %s", r)
	}
	return vol
}
