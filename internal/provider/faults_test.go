package provider

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/pvesim"
	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/pvesim/simssh"
	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/pvesim/sshd"
)

// The fault matrix drives the Terraform CLI against a simulator per case:
// it applies (or destroys) while a fault is active, records what the user
// sees and what the state holds, clears the fault, counts the applies needed
// to converge and checks that the next plan is empty. With
// PHOENIX_RECORD_RELIABILITY=1 the rows are written to
// testdata/reliability/faults.jsonl, from which TestReliabilityGuide renders
// templates/guides/reliability.md.tmpl.

// recordEnv is the variable that makes the fault matrix write its rows.
const recordEnv = "PHOENIX_RECORD_RELIABILITY"

// faultsJSONL is where the rows of the matrix are recorded.
var faultsJSONL = filepath.Join("testdata", "reliability", "faults.jsonl")

// faultRow is one recorded case of the matrix.
type faultRow struct {
	// Order sorts the rows as the matrix lists them.
	Order int    `json:"order"`
	Layer string `json:"layer"`
	Case  string `json:"case"`
	Phase string `json:"phase"`
	Fault string `json:"fault"`
	// Outcome is "succeeded" when the faulty run completed anyway, "failed"
	// when it ended with an error.
	Outcome string `json:"outcome"`
	// Error is the first lines of the error the user saw.
	Error string `json:"error,omitempty"`
	// InState says whether the container was in the state after the faulty
	// run; Tainted whether it was marked tainted.
	InState bool `json:"in_state"`
	Tainted bool `json:"tainted,omitempty"`
	// Orphans counts containers on the simulator missing from the state
	// after the faulty run.
	Orphans int `json:"orphans"`
	// ConvergeApplies counts the runs needed after the fault cleared.
	ConvergeApplies int  `json:"converge_applies"`
	PlanEmpty       bool `json:"plan_empty"`
	// Seconds is the wall time of the case.
	Seconds float64 `json:"seconds"`
}

// faultCase is one fault, run for each of its phases.
type faultCase struct {
	layer, name, fault string
	phases             []string
	// ssh gives the container a docker block and the environment SSH.
	ssh bool
	// taskDelay replaces the acceptance default of 20 ms.
	taskDelay time.Duration
	// timeouts is a timeouts block body used in every configuration.
	timeouts string
	// inject activates the fault before the faulty run; during, when set,
	// runs while it runs; clear removes the fault.
	inject, during, clear func(r *faultRun)
	// wantFail says the faulty run must fail, with an error matching errRE.
	wantFail bool
	errRE    string
}

// faultRun is one case in one phase.
type faultRun struct {
	t     *testing.T
	e     *accEnv
	dir   string
	phase string
	vmid  int
	// broken, when set, changes the environment the configuration is
	// written for (e.g. an unreachable SSH port) until the fault clears.
	broken func(e *accEnv)
	// digestRace is done by the goroutine of the digest race case.
	done chan struct{}
}

const faultVMID = 4700

// TestAccFaultMatrix runs every fault of the matrix for create, update and
// destroy where it applies, each case on its own simulator.
func TestAccFaultMatrix(t *testing.T) {
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance test: set TF_ACC=1 (make testacc-faults does) to run the fault matrix against pvesim")
	}
	if os.Getenv("PHOENIX_ACC_ENDPOINT") != "" {
		t.Skip("the fault matrix injects faults into the simulator; it does not run against a real cluster")
	}
	if os.Getenv("PHOENIX_ACC_FAULTS") == "" {
		t.Skip("the fault matrix takes minutes: set PHOENIX_ACC_FAULTS=1 (make testacc-faults does) to run it")
	}
	// Build the provider once, before the cases run in parallel.
	if out, err := runTerraform(t, t.TempDir(), "version"); err != nil {
		t.Fatalf("terraform version: %v\n%s", err, out)
	}
	var mu sync.Mutex
	var rows []faultRow
	t.Cleanup(func() {
		if os.Getenv(recordEnv) != "1" || t.Failed() {
			return
		}
		slices.SortFunc(rows, func(a, b faultRow) int { return a.Order - b.Order })
		var b strings.Builder
		enc := json.NewEncoder(&b)
		for _, r := range rows {
			if err := enc.Encode(r); err != nil {
				t.Error(err)
			}
		}
		if err := os.MkdirAll(filepath.Dir(faultsJSONL), 0o755); err != nil {
			t.Error(err)
		}
		if err := os.WriteFile(faultsJSONL, []byte(b.String()), 0o644); err != nil {
			t.Error(err)
		}
	})
	order := 0
	for _, c := range faultCases() {
		for _, phase := range c.phases {
			order++
			n := order
			t.Run(strings.ReplaceAll(c.layer+"/"+c.name+"/"+phase, " ", "_"), func(t *testing.T) {
				t.Parallel()
				row := runFaultCase(t, c, phase)
				row.Order = n
				mu.Lock()
				rows = append(rows, row)
				mu.Unlock()
			})
		}
	}
}

var allPhases = []string{"create", "update", "destroy"}

func faultCases() []faultCase {
	ctPath := func(r *faultRun) string { return fmt.Sprintf(`^/api2/json/nodes/[^/]+/lxc/%d`, r.vmid) }
	// mutating is the call of the phase a fault aims at: the create POST,
	// the config PUT of an update, the DELETE of a destroy.
	mutating := func(r *faultRun) (path, method string) {
		switch r.phase {
		case "create":
			return `^/api2/json/nodes/[^/]+/lxc$`, "POST"
		case "update":
			return ctPath(r) + `/config$`, "PUT"
		}
		return ctPath(r) + `$`, "DELETE"
	}
	taskType := func(r *faultRun) string {
		return map[string]string{"create": "vzcreate", "update": "resize", "destroy": "vzdestroy"}[r.phase]
	}
	addFault := func(r *faultRun, f pvesim.Fault) {
		if err := r.e.sim.AddFault(f); err != nil {
			r.t.Fatal(err)
		}
	}
	clearAPI := func(r *faultRun) { r.e.sim.ClearFaults() }
	dropCase := func(name string, at sshd.DropPoint) faultCase {
		return faultCase{
			layer: "SSH", name: "connection dropped " + name + " the install script", ssh: true,
			fault:  fmt.Sprintf("the SSH connection running the Docker install script is dropped %s it runs, once", name),
			phases: []string{"create", "update"},
			inject: func(r *faultRun) {
				d, err := sshd.NewDrop(`--package-source`, at, 1)
				if err != nil {
					r.t.Fatal(err)
				}
				r.e.sshInfo.SetFaults(sshd.FaultSet{Drops: []*sshd.Drop{d}})
			},
			clear: func(r *faultRun) { r.e.sshInfo.SetFaults(sshd.FaultSet{}) },
		}
	}
	ctFault := func(name, fault string, kind sshd.CTFault, count int, wantFail bool, errRE string) faultCase {
		return faultCase{
			layer: "CT", name: name, ssh: true, fault: fault,
			phases: []string{"create", "update"},
			inject: func(r *faultRun) {
				if r.phase == "update" {
					r.setCTFault(kind, count)
					return
				}
				// The container does not exist yet: set the fault as soon
				// as its root file system does, before it starts.
				r.done = make(chan struct{})
				go func() {
					defer close(r.done)
					for range 18000 {
						if err := sshd.SetCTFault(r.e.sim.StateDir, r.e.node, r.vmid, kind, count); err == nil {
							return
						}
						time.Sleep(5 * time.Millisecond)
					}
				}()
			},
			clear: func(r *faultRun) {
				if r.done != nil {
					<-r.done
				}
				if err := sshd.ClearCTFault(r.e.sim.StateDir, r.e.node, r.vmid, kind); err != nil && !errors.Is(err, os.ErrNotExist) {
					r.t.Fatal(err)
				}
			},
			wantFail: wantFail, errRE: errRE,
		}
	}
	return []faultCase{
		{
			layer: "API", name: "HTTP 503 burst", phases: allPhases,
			fault: "the phase's mutating call (create POST, config PUT, DELETE) answers 503 twice",
			inject: func(r *faultRun) {
				p, m := mutating(r)
				addFault(r, pvesim.Fault{PathRegex: p, Method: m, Status: 503, Message: "Service Unavailable", Times: 2})
			},
			clear: clearAPI,
		},
		{
			layer: "API", name: "HTTP 500 on reads", phases: allPhases,
			fault: "every GET of the container answers 500 three times",
			inject: func(r *faultRun) {
				addFault(r, pvesim.Fault{PathRegex: ctPath(r), Method: "GET", Status: 500, Message: "Internal Server Error", Times: 3})
			},
			clear: clearAPI,
		},
		{
			layer: "API", name: "connection reset", phases: allPhases,
			fault: "the connection of the phase's mutating call is reset twice",
			inject: func(r *faultRun) {
				p, m := mutating(r)
				addFault(r, pvesim.Fault{ResetConnection: &pvesim.PathFault{PathRegex: p, Method: m, Times: 2}})
			},
			clear: clearAPI,
		},
		{
			layer: "API", name: "2 s latency spikes", phases: allPhases,
			fault: "three API calls take 2 s longer",
			inject: func(r *faultRun) {
				addFault(r, pvesim.Fault{PathRegex: `^/api2/json/nodes/`, LatencyMS: 2000, Times: 3})
			},
			clear: clearAPI,
		},
		{
			layer: "API", name: "CT is locked", phases: allPhases,
			fault: "the container's config is locked (backup) for 4 attempts",
			inject: func(r *faultRun) {
				addFault(r, pvesim.Fault{HoldLock: &pvesim.LockFault{VMID: r.vmid, Lock: "backup", Times: 4}})
			},
			clear: clearAPI,
		},
		{
			layer: "API", name: "config digest race", phases: []string{"update"},
			fault: "another client changes the config between the provider's GET and PUT",
			inject: func(r *faultRun) {
				// Hold the provider's PUT for a second, and change the config
				// meanwhile, right after the provider read it.
				addFault(r, pvesim.Fault{PathRegex: ctPath(r) + `/config$`, Method: "PUT", LatencyMS: 1000, Times: 1})
			},
			during: func(r *faultRun) { r.digestRace() },
			clear:  clearAPI,
		},
		{
			layer: "API", name: "simulator restart", phases: allPhases, taskDelay: 1500 * time.Millisecond,
			fault: "the simulator restarts (state kept, tasks lost) while the phase's task runs",
			during: func(r *faultRun) {
				p, m := mutating(r)
				if r.phase == "update" {
					p, m = ctPath(r)+`/resize$`, "PUT"
				}
				r.waitRequest(regexp.MustCompile(p), m)
				time.Sleep(200 * time.Millisecond)
				r.e.sim.Restart(r.t)
			},
		},
		{
			layer: "API", name: "task fails", phases: allPhases,
			fault:    "the phase's task (vzcreate, resize, vzdestroy) fails",
			wantFail: true, errRE: `injected: no space left on device`,
			inject: func(r *faultRun) {
				addFault(r, pvesim.Fault{TaskFail: &pvesim.TaskFault{Type: taskType(r), Times: 1, Message: "injected: no space left on device"}})
			},
			clear: clearAPI,
		},
		{
			layer: "API", name: "task never finishes", phases: allPhases,
			timeouts: `create = "4s"` + "\n    update = \"4s\"\n    delete = \"4s\"",
			fault:    "the phase's task hangs past the resource timeout (4 s)",
			wantFail: true, errRE: `did not finish in time`,
			inject: func(r *faultRun) {
				addFault(r, pvesim.Fault{TaskHang: &pvesim.TaskFault{Type: taskType(r)}})
			},
			clear: clearAPI,
		},
		dropCase("before", sshd.DropBefore),
		dropCase("during", sshd.DropDuring),
		dropCase("after", sshd.DropAfter),
		{
			layer: "SSH", name: "node unreachable", ssh: true, phases: []string{"create", "update"},
			fault:    "the node's SSH address points at a closed port",
			wantFail: true, errRE: `(?i)connection refused`,
			inject: func(r *faultRun) {
				port := closedPort(r.t)
				r.broken = func(e *accEnv) {
					nodes := map[string]simssh.Node{}
					for name, n := range e.sshNodes {
						n.Port = port
						nodes[name] = n
					}
					e.sshNodes = nodes
				}
			},
			clear: func(r *faultRun) { r.broken = nil },
		},
		{
			layer: "SSH", name: "host key changed", ssh: true, phases: []string{"create", "update"},
			fault:    "the node presents a host key other than the one in known_hosts",
			wantFail: true, errRE: `(?i)host key`,
			inject: func(r *faultRun) {
				bad := filepath.Join(r.t.TempDir(), "known_hosts")
				n := r.e.sshNodes[r.e.node]
				writeFile(r.t, bad, fmt.Sprintf("[%s]:%d ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOqA+jbMZiNElEauU0KILBWrTrJqGqQxvPePQ5FX6X0+\n", n.Host, n.Port))
				r.broken = func(e *accEnv) { e.sshKnownHosts = bad }
			},
			clear: func(r *faultRun) { r.broken = nil },
		},
		ctFault("apt-get fails transiently", "apt-get inside the container fails twice (dpkg lock), then works",
			sshd.FaultAptFail, 2, false, ""),
		ctFault("apt-get fails permanently", "apt-get inside the container always fails",
			sshd.FaultAptFail, 0, true, `(?s)phoenix_hypervisor_feature_install_docker\.sh.*FATAL`),
		ctFault("Docker does not start", "systemctl start docker fails inside the container",
			sshd.FaultDockerFail, 0, true, `(?i)docker`),
	}
}

// closedPort returns a local TCP port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port //nolint:forcetypeassert // a TCP listener has a TCP address
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return port
}

func (r *faultRun) setCTFault(kind sshd.CTFault, count int) {
	if err := sshd.SetCTFault(r.e.sim.StateDir, r.e.node, r.vmid, kind, count); err != nil {
		r.t.Fatal(err)
	}
}

// waitRequest waits until the simulator logged a call matching path and
// method.
func (r *faultRun) waitRequest(path *regexp.Regexp, method string) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for _, q := range r.e.sim.Requests() {
			if q.Method == method && path.MatchString(q.Path) {
				return
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	r.t.Errorf("no %s %s within 30 s", method, path)
}

// digestRace changes the container's memory out of band as soon as the
// provider has read the config for its update (the apply runs with
// -refresh=false, so that read is the first).
func (r *faultRun) digestRace() {
	r.waitRequest(regexp.MustCompile(fmt.Sprintf(`/lxc/%d/config$`, r.vmid)), "GET")
	c := r.e.conf(r.vmid)
	c.Main().Set("memory", "768")
	if err := os.WriteFile(r.e.confPath(r.vmid), c.Bytes(), 0o640); err != nil {
		r.t.Error(err)
	}
}

// config is the configuration of the case: base, or updated (more memory,
// a larger rootfs, another daemon.json).
func (r *faultRun) config(c faultCase, updated bool) string {
	env := *r.e
	if r.broken != nil {
		r.broken(&env)
	}
	ct := ctConfig{VMID: r.vmid, Unprivileged: true, Memory: 512, Size: "8G"}
	if updated {
		ct.Memory, ct.Size = 1024, "10G"
	}
	if c.ssh {
		logDriver := "journald"
		if updated {
			logDriver = "local"
		}
		source := ""
		if updated && c.layer == "CT" {
			// Another package source makes the update run apt-get.
			source = "    package_source = \"distro\"\n"
		}
		ct.Extra += fmt.Sprintf("  docker {\n    daemon_json = jsonencode({ \"log-driver\" = %q })\n%s  }\n", logDriver, source)
	}
	if c.timeouts != "" {
		ct.Extra += "  timeouts {\n    " + c.timeouts + "\n  }\n"
	}
	return requirePhoenix + env.containerConfig(ct)
}

func (r *faultRun) write(c faultCase, updated bool) {
	writeFile(r.t, filepath.Join(r.dir, "main.tf"), r.config(c, updated))
}

// tf runs the CLI in the case's directory and returns its output and exit
// code.
func (r *faultRun) tf(args ...string) (string, int) {
	if args[0] != "show" && args[0] != "version" {
		args = append(args, "-input=false")
	}
	out, err := runTerraform(r.t, r.dir, append(args, "-no-color")...)
	var ee *exec.ExitError
	switch {
	case err == nil:
		return out, 0
	case errors.As(err, &ee):
		return out, ee.ExitCode()
	}
	r.t.Fatalf("terraform %v: %v", args, err)
	return "", 0
}

// run is the phase's command: apply, or destroy.
func (r *faultRun) run(extra ...string) (string, int) {
	if r.phase == "destroy" {
		return r.tf(append([]string{"destroy", "-auto-approve"}, extra...)...)
	}
	return r.tf(append([]string{"apply", "-auto-approve"}, extra...)...)
}

// stateVMIDs reads the state through terraform show -json: the vmids of the
// containers in it and whether one is tainted.
func (r *faultRun) stateVMIDs() (vmids []int, tainted bool) {
	out, code := r.tf("show", "-json")
	if code != 0 {
		r.t.Fatalf("terraform show: %s", out)
	}
	var doc struct {
		Values struct {
			RootModule struct {
				Resources []struct {
					Type    string `json:"type"`
					Tainted bool   `json:"tainted"`
					Values  struct {
						VMID int `json:"vmid"`
					} `json:"values"`
				} `json:"resources"`
			} `json:"root_module"`
		} `json:"values"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		r.t.Fatalf("terraform show -json: %v\n%s", err, out)
	}
	for _, res := range doc.Values.RootModule.Resources {
		if res.Type == "phoenix_lxc_container" {
			vmids = append(vmids, res.Values.VMID)
			tainted = tainted || res.Tainted
		}
	}
	return vmids, tainted
}

// orphans counts the simulator's containers that the state does not hold.
func (r *faultRun) orphans(state []int) int {
	n := 0
	for _, ct := range r.e.containers() {
		if !slices.Contains(state, int(ct.VMID)) {
			n++
		}
	}
	return n
}

var (
	reUPID     = regexp.MustCompile(`UPID:[^\s)]+`)
	reLoopback = regexp.MustCompile(`(127\.0\.0\.1\]?):\d+`)
	reSHA256   = regexp.MustCompile(`SHA256:[A-Za-z0-9+/]+`)
	// reSourceLine is a line of the configuration the CLI quotes.
	reSourceLine = regexp.MustCompile(`^\d+:`)
	reSpace      = regexp.MustCompile(`\s+`)
)

// firstError returns the summary and the first detail line of the first
// error diagnostic in the CLI's output, with run-specific values (UPIDs,
// ports, fingerprints) replaced.
func firstError(out string) string {
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		l = strings.TrimSpace(strings.TrimLeft(l, "│ "))
		summary, ok := strings.CutPrefix(l, "Error: ")
		if !ok {
			continue
		}
		// The detail is the first paragraph after the source reference,
		// which the CLI wraps: join its lines.
		var detail []string
		for _, d := range lines[i+1:] {
			d = strings.TrimSpace(strings.TrimLeft(d, "│ "))
			if strings.HasPrefix(d, "╵") {
				break
			}
			if d == "" && len(detail) > 0 {
				break
			}
			if len(detail) == 0 && (d == "" || strings.HasPrefix(d, "with ") || strings.HasPrefix(d, "on ") || reSourceLine.MatchString(d)) {
				continue
			}
			detail = append(detail, d)
		}
		msg := summary
		if len(detail) > 0 {
			msg += ": " + strings.Join(detail, " ")
		}
		msg = reUPID.ReplaceAllString(msg, "UPID:…")
		msg = reLoopback.ReplaceAllString(msg, "${1}:PORT")
		msg = reSHA256.ReplaceAllString(msg, "SHA256:…")
		if len(msg) > 240 {
			msg = msg[:240] + "…"
		}
		return msg
	}
	return ""
}

// tail is the part of the CLI's output worth logging: from the first error
// on, or the last lines.
func tail(out string) string {
	if i := strings.Index(out, "Error: "); i >= 0 {
		return out[i:]
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return strings.Join(lines[max(0, len(lines)-3):], "\n")
}

// runFaultCase runs one case in one phase and checks its invariants: no
// orphan, at most one run to converge, an empty plan after.
func runFaultCase(t *testing.T, c faultCase, phase string) faultRow {
	start := time.Now()
	opts := []func(*pvesim.Options){}
	if c.ssh {
		opts = append(opts, withSSH)
	}
	if c.taskDelay != 0 {
		opts = append(opts, func(o *pvesim.Options) { o.TaskDelay = c.taskDelay })
	}
	e := newAccEnv(t, opts...)
	r := &faultRun{t: t, e: e, dir: t.TempDir(), phase: phase, vmid: faultVMID}
	row := faultRow{Layer: c.layer, Case: c.name, Phase: phase, Fault: c.fault}

	r.write(c, false)
	if phase != "create" {
		if out, code := r.tf("apply", "-auto-approve"); code != 0 {
			t.Fatalf("apply before the fault: %s", out)
		}
	}
	if c.inject != nil {
		c.inject(r)
	}
	r.write(c, phase == "update")
	e.resetLog()
	var args []string
	if c.during != nil && phase == "update" {
		// The provider's update then reads the config once, right before
		// it writes it.
		args = append(args, "-refresh=false")
	}
	var out string
	var code int
	if c.during != nil {
		done := make(chan struct{})
		go func() {
			defer close(done)
			out, code = r.run(args...)
		}()
		c.during(r)
		<-done
	} else {
		out, code = r.run(args...)
	}
	row.Outcome = "succeeded"
	if code != 0 {
		row.Outcome = "failed"
		row.Error = firstError(out)
		if row.Error == "" {
			t.Errorf("the failed run printed no error diagnostic:\n%s", out)
		}
	}
	t.Logf("faulty %s: exit %d\n%s", phase, code, tail(out))
	if c.wantFail && code == 0 {
		t.Errorf("the %s succeeded despite the fault", phase)
	}
	if c.errRE != "" && code != 0 && !regexp.MustCompile(c.errRE).MatchString(reSpace.ReplaceAllString(out, " ")) {
		t.Errorf("the error does not match %s:\n%s", c.errRE, out)
	}
	state, tainted := r.stateVMIDs()
	row.InState, row.Tainted = len(state) > 0, tainted
	row.Orphans = r.orphans(state)
	if row.Orphans != 0 {
		t.Errorf("%d container(s) on the simulator are not in the state after the faulty %s", row.Orphans, phase)
	}

	if c.clear != nil {
		c.clear(r)
	}
	r.write(c, phase == "update")
	if code != 0 {
		for row.ConvergeApplies < 3 {
			row.ConvergeApplies++
			out, code := r.run()
			if code == 0 {
				break
			}
			t.Logf("run %d after the fault cleared: %s", row.ConvergeApplies, tail(out))
		}
	}
	if row.ConvergeApplies > 1 {
		t.Errorf("%d runs needed to converge after the fault cleared, want at most 1", row.ConvergeApplies)
	}
	planArgs := []string{"plan", "-detailed-exitcode"}
	if phase == "destroy" {
		planArgs = append(planArgs, "-destroy")
	}
	out, code = r.tf(planArgs...)
	row.PlanEmpty = code == 0
	if !row.PlanEmpty {
		t.Errorf("the plan after convergence is not empty (exit %d):\n%s", code, out)
	}
	if phase != "destroy" {
		if out, code := r.tf("destroy", "-auto-approve"); code != 0 {
			t.Errorf("destroy after the case: %s", out)
		}
	}
	if n := len(e.containers()); n != 0 {
		t.Errorf("%d container(s) left on the simulator after destroy", n)
	}
	row.Seconds = time.Since(start).Seconds()
	return row
}
