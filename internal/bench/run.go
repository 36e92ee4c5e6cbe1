package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Options configure a run.
type Options struct {
	// Repo is the repository root; found from the working directory when
	// empty.
	Repo string
	// Terraform is the CLI to drive.
	Terraform string
	// Ns are the fleet sizes.
	Ns []int
	// Nodes are the simulated nodes; containers are spread over them.
	Nodes []string
	// TaskDelay is how long every simulated task runs.
	TaskDelay time.Duration
	// APILatency is added to every simulated API call.
	APILatency time.Duration
	// ExecLatency is how long each pct exec waits on the simulated nodes
	// (pvesim --exec-latency) in every measurement but the verify-on plans
	// of the plan rotation.
	ExecLatency time.Duration
	// VerifyExecLatency is the exec latency of the verify-on plans of the
	// plan rotation: a real pct exec takes a few hundred milliseconds.
	VerifyExecLatency time.Duration
	// Parallelism is Terraform's -parallelism for applies.
	Parallelism int
	// Reps is how many plans of each kind the plan time ratios take the
	// median of; the five kinds rotate, each starting the round once in
	// five.
	Reps int
	// FullInstallMax is the largest N whose fleet is created from the OS
	// template with a full Docker install; larger fleets are cloned from a
	// container where Docker is installed, so that the run stays in its
	// time budget on a small machine.
	FullInstallMax int
	// WorkDir holds the temporary files; a fresh temporary directory when
	// empty.
	WorkDir string
	// Keep leaves WorkDir in place.
	Keep bool
	// ProfileDir, when set, receives pprof profiles of the provider
	// processes of the timed plans of the fleet (PHOENIX_PROFILE_DIR):
	// <ProfileDir>/n<N>/plan (with refresh) and .../plan-norefresh (without),
	// one cpu-<pid>.pprof and allocs-<pid>.pprof per process.
	ProfileDir string
	// Progress receives one line per step.
	Progress io.Writer
}

// Defaults are the settings of make bench.
func Defaults() Options {
	return Options{
		Ns:         []int{1, 10, 100},
		Nodes:      []string{"pve1", "pve2"},
		TaskDelay:  2 * time.Second,
		APILatency: 5 * time.Millisecond,
		// ExecLatency stays 0: the other figures keep their meaning.
		VerifyExecLatency: 200 * time.Millisecond,
		Parallelism:       10,
		Reps:              4,
		FullInstallMax:    10,
	}
}

// ParseNs reads a comma-separated list of fleet sizes.
func ParseNs(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("fleet size %q: want a positive integer", f)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no fleet size in %q", s)
	}
	return out, nil
}

type runner struct {
	o        Options
	tf       *Terraform
	simBin   string
	provider string
	work     string
}

func (r *runner) logf(format string, args ...any) {
	if r.o.Progress != nil {
		fmt.Fprintf(r.o.Progress, "[%s] "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
	}
}

// Run builds the provider and the simulator, measures every fleet size and
// evaluates the targets.
func Run(ctx context.Context, o Options) (*Report, error) {
	start := time.Now()
	if o.Repo == "" {
		wd, err := os.Getwd()
		if err != nil {
			return nil, err
		}
		if o.Repo, err = findRepo(wd); err != nil {
			return nil, err
		}
	}
	if o.Terraform == "" {
		p, err := exec.LookPath("terraform")
		if err != nil {
			return nil, fmt.Errorf("no Terraform CLI: set TERRAFORM or put terraform on PATH")
		}
		o.Terraform = p
	}
	if o.WorkDir == "" {
		d, err := os.MkdirTemp("", "phoenix-bench-")
		if err != nil {
			return nil, err
		}
		o.WorkDir = d
	}
	if !o.Keep {
		defer os.RemoveAll(o.WorkDir)
	}
	r := &runner{o: o, work: o.WorkDir}
	binDir := filepath.Join(o.WorkDir, "bin")
	r.provider = filepath.Join(binDir, "terraform-provider-phoenix")
	r.simBin = filepath.Join(binDir, "pvesim")
	r.logf("building the provider and pvesim from %s", o.Repo)
	if err := goBuild(ctx, o.Repo, ".", r.provider); err != nil {
		return nil, err
	}
	if err := goBuild(ctx, o.Repo, "./internal/pvesim/cmd/pvesim", r.simBin); err != nil {
		return nil, err
	}
	if err := goBuild(ctx, o.Repo, "./internal/bench/cmd/floorprovider", filepath.Join(binDir, "terraform-provider-floor")); err != nil {
		return nil, err
	}
	tf, err := NewTerraform(o.Terraform, o.WorkDir, binDir)
	if err != nil {
		return nil, err
	}
	r.tf = tf
	rep := &Report{
		Started:   start.UTC(),
		Terraform: tf.Version(ctx, o.WorkDir),
		GoVersion: runtime.Version(),
		CPUs:      runtime.NumCPU(),
		Commit:    gitCommit(o.Repo),
		Settings: Settings{
			Ns: o.Ns, Nodes: o.Nodes, TaskDelayS: o.TaskDelay.Seconds(), APILatencyMS: float64(o.APILatency) / float64(time.Millisecond),
			ExecLatencyMS: float64(o.ExecLatency) / float64(time.Millisecond), VerifyExecLatencyMS: float64(o.VerifyExecLatency) / float64(time.Millisecond),
			Parallelism: o.Parallelism, Reps: o.Reps, FullInstallMax: o.FullInstallMax,
		},
		Environment: Environment{LoadAvgStart: loadAvg()},
	}
	for _, n := range o.Ns {
		res, err := r.measure(ctx, n)
		if err != nil {
			return rep, fmt.Errorf("fleet of %d: %w (files kept in %s)", n, err, r.keep())
		}
		rep.Results = append(rep.Results, res)
	}
	rep.Checks = Evaluate(rep.Results)
	rep.OK = true
	for _, c := range rep.Checks {
		rep.OK = rep.OK && c.OK
	}
	rep.Environment.LoadAvgEnd = loadAvg()
	rep.Seconds = time.Since(start).Seconds()
	return rep, nil
}

// keep stops the work dir from being removed after a failure.
func (r *runner) keep() string {
	r.o.Keep = true
	return r.work
}

func gitCommit(repo string) string {
	cmd := exec.Command("git", "rev-parse", "--short", "HEAD")
	cmd.Dir = repo
	b, err := cmd.Output()
	if err != nil {
		return ""
	}
	s := strings.TrimSpace(string(b))
	st := exec.Command("git", "status", "--porcelain", "--untracked-files=no")
	st.Dir = repo
	if out, err := st.Output(); err == nil && len(strings.TrimSpace(string(out))) > 0 {
		s += "+changes"
	}
	return s
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

func writeFile(path, content string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(content), 0o600)
}

// measure runs every measurement for one fleet size on a fresh simulator.
func (r *runner) measure(ctx context.Context, n int) (NResult, error) {
	began := time.Now()
	res := NResult{N: n}
	dir := filepath.Join(r.work, fmt.Sprintf("n%d", n))
	sim, err := StartSim(ctx, SimOptions{
		Binary: r.simBin, StateDir: filepath.Join(dir, "state"), Nodes: r.o.Nodes,
		TaskDelay: r.o.TaskDelay, APILatency: r.o.APILatency, ExecLatency: r.o.ExecLatency, LogFile: filepath.Join(dir, "pvesim.log"),
	})
	if err != nil {
		return res, err
	}
	defer sim.Close()
	ports := sim.SSHPorts()
	portList := make([]int, 0, len(ports))
	for p := range ports {
		portList = append(portList, p)
	}
	byNode := func(m map[int]int) (map[string]int, int, int) {
		out := map[string]int{}
		most, sum := 0, 0
		for p, c := range m {
			out[ports[p]] += c
		}
		for _, c := range out {
			most, sum = max(most, c), sum+c
		}
		return out, most, sum
	}
	mem := NewMemWatcher("/proc", r.provider)
	mem.Start(50 * time.Millisecond)
	defer mem.Stop()
	var peakAll int64
	procs := 0
	takePeak := func() int64 {
		p, c := mem.Peak()
		peakAll = max(peakAll, p)
		procs += c
		return p
	}

	fleet := Fleet{N: n, Nodes: r.o.Nodes, VMIDBase: 1000, Verify: true, Started: true, Name: "ct"}
	res.NodesUsed = fleet.NodesUsed()
	mode := "template"
	if n > r.o.FullInstallMax {
		mode = "clone"
		// One source per parallelism slot (rounded up to a multiple of the
		// nodes), so that clones of one source, which Proxmox VE runs one
		// at a time, seldom wait for each other.
		k := len(r.o.Nodes)
		src := Fleet{N: (max(r.o.Parallelism, k) + k - 1) / k * k, Nodes: r.o.Nodes, VMIDBase: 900, Verify: false, Started: false, Name: "src"}
		srcDir := filepath.Join(dir, "sources")
		if err := writeFile(filepath.Join(srcDir, "main.tf"), FleetHCL(sim.Start, src)); err != nil {
			return res, err
		}
		r.logf("N=%d: creating %d clone sources with Docker installed", n, src.N)
		if _, err := r.tf.Must(ctx, srcDir, "apply", "-auto-approve", "-input=false", "-no-color", fmt.Sprintf("-parallelism=%d", r.o.Parallelism)); err != nil {
			return res, err
		}
		fleet.Sources = src.VMIDs()
	}
	fleetDir := filepath.Join(dir, "fleet")
	if err := writeFile(filepath.Join(fleetDir, "main.tf"), FleetHCL(sim.Start, fleet)); err != nil {
		return res, err
	}

	// Apply: create the fleet from a saved plan, timed alone.
	if _, err := r.tf.Must(ctx, fleetDir, "plan", "-input=false", "-no-color", "-out=create.tfplan"); err != nil {
		return res, err
	}
	if err := sim.ResetLog(ctx); err != nil {
		return res, err
	}
	takePeak()
	ct := NewConnTracker("/proc", portList)
	if err := ct.Start(20 * time.Millisecond); err != nil {
		return res, err
	}
	r.logf("N=%d: applying the create (%s, -parallelism=%d, task delay %s)", n, mode, r.o.Parallelism, r.o.TaskDelay)
	applyBegan := time.Now()
	ar, err := r.tf.Must(ctx, fleetDir, "apply", "-input=false", "-no-color", fmt.Sprintf("-parallelism=%d", r.o.Parallelism), "create.tfplan")
	conns := ct.Stop()
	if err != nil {
		return res, err
	}
	res.PeakRSSApplyMB = mb(takePeak())
	log, err := sim.Log(ctx)
	if err != nil {
		return res, err
	}
	timings, err := sim.Tasks(ctx)
	if err != nil {
		return res, err
	}
	res.Apply = applyResult(log, timings, applyBegan, fleet, r.o, mode, ar.Duration)
	res.Apply.SSHConnections, _, _ = byNode(conns)
	r.logf("N=%d: apply %.1f s, ideal %.1f s, overhead %.2f", n, res.Apply.WallSeconds, res.Apply.Ideal.Seconds, res.Apply.Overhead)

	// Refresh with verify_on_refresh = true.
	refresh := func(verify bool) (RefreshResult, float64, error) {
		if err := sim.ResetLog(ctx); err != nil {
			return RefreshResult{}, 0, err
		}
		ct := NewConnTracker("/proc", portList)
		if err := ct.Start(20 * time.Millisecond); err != nil {
			return RefreshResult{}, 0, err
		}
		pr, err := r.tf.Run(ctx, fleetDir, "plan", "-input=false", "-no-color", "-detailed-exitcode")
		conns := ct.Stop()
		if err != nil {
			return RefreshResult{}, 0, err
		}
		if pr.ExitCode != 0 {
			return RefreshResult{}, 0, fmt.Errorf("plan of the unchanged fleet (verify_on_refresh=%v) exited %d, want 0 (no changes):\n%s", verify, pr.ExitCode, pr.Tail(40))
		}
		log, err := sim.Log(ctx)
		if err != nil {
			return RefreshResult{}, 0, err
		}
		s := Summarize(log)
		out := RefreshResult{
			Verify: verify, PlanSeconds: pr.Duration.Seconds(),
			APIRequests: s.APIRequests, APIPerContainer: float64(s.APIRequests) / float64(n), APIByRoute: s.APIByRoute,
			SSHCommands: s.SSHCommands, SSHPerContainer: float64(s.SSHCommands) / float64(n), SSHByKind: s.SSHByKind, SSHWrites: s.SSHWrites,
			NodesWithContainer: fleet.NodesUsed(),
		}
		out.SSHConnections, out.SSHConnectionsMax, out.SSHConnectionsSum = byNode(conns)
		return out, pr.Duration.Seconds(), nil
	}
	r.logf("N=%d: plan of the unchanged fleet, verify_on_refresh = true", n)
	rv, verifyPlan, err := refresh(true)
	if err != nil {
		return res, err
	}
	res.RefreshVerify = rv

	// A second workspace on the same containers and state keeps
	// verify_on_refresh = true for the verify-on plans of the rotation.
	verifyDir := filepath.Join(dir, "fleet-verify")
	if err := copyWorkspace(fleetDir, verifyDir); err != nil {
		return res, err
	}

	// Turn verify_on_refresh off and measure again.
	fleet.Verify = false
	if err := writeFile(filepath.Join(fleetDir, "main.tf"), FleetHCL(sim.Start, fleet)); err != nil {
		return res, err
	}
	// Without refresh: the refresh with verify_on_refresh = true was just
	// measured, and only the change of the flag is of interest here.
	r.logf("N=%d: setting verify_on_refresh = false (apply -refresh=false)", n)
	if err := sim.ResetLog(ctx); err != nil {
		return res, err
	}
	ur, err := r.tf.Must(ctx, fleetDir, "apply", "-auto-approve", "-refresh=false", "-input=false", "-no-color", fmt.Sprintf("-parallelism=%d", r.o.Parallelism))
	if err != nil {
		return res, err
	}
	if log, err = sim.Log(ctx); err != nil {
		return res, err
	}
	us := Summarize(log)
	res.FlagUpdate = FlagUpdate{Seconds: ur.Duration.Seconds(), APIRequests: us.APIRequests, Mutating: us.Mutating, SSHCommands: us.SSHCommands, APIByRoute: us.APIByRoute}
	r.logf("N=%d: plan of the unchanged fleet, verify_on_refresh = false", n)
	rn, _, err := refresh(false)
	if err != nil {
		return res, err
	}
	res.RefreshNoVerify = rn

	// Re-apply of the unchanged fleet.
	r.logf("N=%d: re-apply of the unchanged fleet", n)
	if err := sim.ResetLog(ctx); err != nil {
		return res, err
	}
	rr, err := r.tf.Must(ctx, fleetDir, "apply", "-auto-approve", "-input=false", "-no-color", fmt.Sprintf("-parallelism=%d", r.o.Parallelism))
	if err != nil {
		return res, err
	}
	if log, err = sim.Log(ctx); err != nil {
		return res, err
	}
	s := Summarize(log)
	res.Reapply = ReapplyResult{
		MutatingAPICalls: s.Mutating, MutatingList: s.MutatingList, InstallRuns: s.Installs, SSHWrites: s.SSHWrites,
		APIRequests: s.APIRequests, SSHByKind: s.SSHByKind, NoChanges: strings.Contains(rr.Output, "No changes."),
	}

	// Plan time against terraform_data, interleaved; fewer repetitions
	// for the large fleets to stay within the time budget.
	reps := r.o.Reps
	baseDir := filepath.Join(dir, "baseline")
	if err := writeFile(filepath.Join(baseDir, "main.tf"), BaselineHCL(n)); err != nil {
		return res, err
	}
	if _, err := r.tf.Must(ctx, baseDir, "apply", "-auto-approve", "-input=false", "-no-color"); err != nil {
		return res, err
	}
	floorDir := filepath.Join(dir, "floor")
	if err := writeFile(filepath.Join(floorDir, "main.tf"), FloorHCL(n)); err != nil {
		return res, err
	}
	if _, err := r.tf.Must(ctx, floorDir, "apply", "-auto-approve", "-input=false", "-no-color"); err != nil {
		return res, err
	}
	r.logf("N=%d: %d interleaved plans of the fleet (with and without refresh, verify_on_refresh on with exec latency %s), of %d terraform_data and of %d floor_data", n, reps, r.o.VerifyExecLatency, n, n)
	pt := PlanTiming{Verify: false, Reps: reps, VerifyExecLatencyMS: float64(r.o.VerifyExecLatency) / float64(time.Millisecond)}
	planArgs := []string{"plan", "-input=false", "-no-color", "-detailed-exitcode"}
	for i := range reps {
		// The fleet, the baseline, and (to tell where the fleet's time goes)
		// the fleet without refresh, the do-nothing plugin and the fleet
		// with verify_on_refresh (its pct exec as slow as a real node's),
		// in an order that rotates.
		kinds := []int{0, 1, 2, 3, 4}
		for k := 0; k < i%len(kinds); k++ {
			kinds = append(kinds[1:], kinds[0])
		}
		for _, kind := range kinds {
			d, args := fleetDir, planArgs
			switch kind {
			case 1:
				d = baseDir
			case 2:
				args = append(append([]string(nil), planArgs...), "-refresh=false")
			case 3:
				d = floorDir
			case 4:
				d = verifyDir
			}
			// The first plan without refresh is logged: it should not need
			// the API at all; so is the first verify-on plan.
			logIt := (kind == 2 || kind == 4) && i == 0
			if logIt {
				if err := sim.ResetLog(ctx); err != nil {
					return res, err
				}
			}
			var env []string
			if r.o.ProfileDir != "" && (kind == 0 || kind == 2) {
				sub := filepath.Join(r.o.ProfileDir, fmt.Sprintf("n%d", n), map[int]string{0: "plan", 2: "plan-norefresh"}[kind])
				if err := os.MkdirAll(sub, 0o700); err != nil {
					return res, err
				}
				env = []string{"PHOENIX_PROFILE_DIR=" + sub}
			}
			if kind == 4 {
				if err := sim.SetExecLatency(ctx, r.o.VerifyExecLatency); err != nil {
					return res, err
				}
			}
			pr, err := r.tf.RunEnv(ctx, d, env, args...)
			if kind == 4 {
				if lerr := sim.SetExecLatency(ctx, r.o.ExecLatency); err == nil && lerr != nil {
					err = lerr
				}
			}
			if err != nil {
				return res, err
			}
			if logIt {
				l, err := sim.Log(ctx)
				if err != nil {
					return res, err
				}
				ls := Summarize(l)
				if kind == 2 {
					pt.NoRefreshAPI, pt.NoRefreshSSH = &ls.APIRequests, &ls.SSHCommands
				} else {
					pt.VerifySSH, pt.VerifySSHWrites = &ls.SSHCommands, &ls.SSHWrites
				}
			}
			if pr.ExitCode != 0 {
				return res, fmt.Errorf("terraform %s in %s exited %d, want 0:\n%s", strings.Join(args, " "), d, pr.ExitCode, pr.Tail(30))
			}
			switch kind {
			case 0:
				pt.Containers = append(pt.Containers, pr.Duration.Seconds())
			case 1:
				pt.Baseline = append(pt.Baseline, pr.Duration.Seconds())
			case 2:
				pt.NoRefresh = append(pt.NoRefresh, pr.Duration.Seconds())
			case 3:
				pt.Floor = append(pt.Floor, pr.Duration.Seconds())
			case 4:
				pt.VerifyOn = append(pt.VerifyOn, pr.Duration.Seconds())
			}
		}
	}
	pt.ContainerMedian, pt.BaselineMedian, pt.NoRefreshMedian = Median(pt.Containers), Median(pt.Baseline), Median(pt.NoRefresh)
	if pt.BaselineMedian > 0 {
		pt.Ratio = pt.ContainerMedian / pt.BaselineMedian
		pt.VerifyRatio = verifyPlan / pt.BaselineMedian
	}
	pt.FloorMedian = Median(pt.Floor)
	pt.VerifyOnMedian = Median(pt.VerifyOn)
	if pt.ContainerMedian > 0 {
		pt.VerifyOverOff = pt.VerifyOnMedian / pt.ContainerMedian
	}
	if pt.BaselineMedian > 0 && pt.FloorMedian > 0 {
		pt.FloorRatio = pt.FloorMedian / pt.BaselineMedian
		pt.OverFloor = pt.ContainerMedian / pt.FloorMedian
	}
	res.Plan = pt
	takePeak()
	mem.Stop()
	res.PeakRSSBytes, res.PeakRSSMB, res.ProviderProcesses = peakAll, mb(peakAll), procs
	res.Seconds = time.Since(began).Seconds()
	r.logf("N=%d: done in %.0f s", n, res.Seconds)
	return res, nil
}

// copyWorkspace copies a Terraform working directory's configuration and
// state (the provider comes from the CLI configuration's dev_overrides).
func copyWorkspace(from, to string) error {
	for _, name := range []string{"main.tf", "terraform.tfstate"} {
		b, err := os.ReadFile(filepath.Join(from, name))
		if err != nil {
			return err
		}
		if err := writeFile(filepath.Join(to, name), string(b)); err != nil {
			return err
		}
	}
	return nil
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }

// applyResult derives the apply figures from its request log.
func applyResult(log []LogEntry, timings []TaskTiming, since time.Time, fleet Fleet, o Options, mode string, wall time.Duration) ApplyResult {
	chainTasks := TasksOf(timings, fleet.VMIDs(), since)
	const tasks = 2 // create or clone, then start
	s := Summarize(log)
	a := ApplyResult{
		Mode: mode, Parallelism: o.Parallelism, TaskDelayS: o.TaskDelay.Seconds(), TasksPerContainer: tasks,
		WallSeconds: wall.Seconds(), APIRequests: s.APIRequests, APIByRoute: s.APIByRoute, SSHByKind: s.SSHByKind,
	}
	var lockOf map[int]string
	if fleet.Sources != nil {
		lockOf = map[int]string{}
		for i, id := range fleet.VMIDs() {
			lockOf[id] = strconv.Itoa(fleet.SourceOf(i))
		}
	}
	a.Ideal = IdealLocked(log, fleet.VMIDs(), lockOf, &chainTasks, o.TaskDelay, tasks, o.Parallelism)
	if a.Ideal.Seconds > 0 {
		a.Overhead = a.WallSeconds / a.Ideal.Seconds
	}
	// The same with every task exactly as long as the task delay, the
	// simulator's own work in a task (a clone's copy) counted against the
	// provider.
	a.IdealDelayModel = IdealLocked(log, fleet.VMIDs(), lockOf, nil, o.TaskDelay, tasks, o.Parallelism)
	if a.IdealDelayModel.Seconds > 0 {
		a.OverheadDelayModel = a.WallSeconds / a.IdealDelayModel.Seconds
	}
	a.IdealBegunOrder = IdealLocked(log, chainTasks.InOrderBegun(fleet.VMIDs()), lockOf, &chainTasks, o.TaskDelay, tasks, o.Parallelism)
	if a.IdealBegunOrder.Seconds > 0 {
		a.OverheadBegunOrder = a.WallSeconds / a.IdealBegunOrder.Seconds
	}
	a.ExtraTasks = chainTasks.Extra
	if n := len(fleet.VMIDs()); n > 0 {
		a.APIPerContainer = float64(a.APIRequests) / float64(n)
	}
	var lags []float64
	a.TaskPolls, a.PollsPerTask, lags = TaskPolling(log, timings)
	a.TaskLagMedianS = Median(lags)
	a.OwnTimeMedianS = Median(OwnTime(log, timings, fleet.VMIDs(), since))
	return a
}
