package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Targets from the performance issue.
const (
	TargetAPIPerContainer = 1.1
	// The plan of the fleet (verify off) against the do-nothing plugin
	// provider in the same rotation, at N = 100 and N = 500.
	TargetPlanOverFloor100   = 2.5
	TargetPlanOverFloor500   = 2.0
	TargetPlanRatioN         = 100
	TargetApplyOverhead      = 1.05
	TargetPeakRSSMB          = 150.0
	TargetAPIPerContainerMin = 10
	// TargetVerifyOverOff bounds the verify-on plan (its pct exec as slow
	// as Options.VerifyExecLatency) over the verify-off plan at
	// TargetPlanRatioN.
	TargetVerifyOverOff = 2.0
	// TargetApplyAPIPerContainer bounds the API requests of a create per
	// container, from N = TargetAPIPerContainerMin on (the first tasks of
	// each type, polled closely, weigh on a fleet of one).
	TargetApplyAPIPerContainer = 20.0
	// TargetPollsPerTask bounds the task polls (status and log reads) per
	// task of a create at N = TargetPollsPerTaskN.
	TargetPollsPerTask  = 3.0
	TargetPollsPerTaskN = 100
)

// Report is everything one run measured.
type Report struct {
	Started     time.Time   `json:"started"`
	Seconds     float64     `json:"seconds"`
	Terraform   string      `json:"terraform"`
	GoVersion   string      `json:"go"`
	CPUs        int         `json:"cpus"`
	Commit      string      `json:"commit,omitempty"`
	Settings    Settings    `json:"settings"`
	Results     []NResult   `json:"results"`
	Checks      []Check     `json:"checks"`
	OK          bool        `json:"ok"`
	Unmeasured  []string    `json:"not_measured,omitempty"`
	Command     string      `json:"command"`
	Environment Environment `json:"environment"`
}

// Environment describes the machine the figures come from.
type Environment struct {
	LoadAvgStart string `json:"loadavg_start,omitempty"`
	LoadAvgEnd   string `json:"loadavg_end,omitempty"`
}

// Settings are the simulator and CLI settings of the run.
type Settings struct {
	Ns           []int    `json:"n"`
	Nodes        []string `json:"nodes"`
	TaskDelayS   float64  `json:"task_delay_s"`
	APILatencyMS float64  `json:"api_latency_ms"`
	// ExecLatencyMS is the wait of each pct exec in every measurement but
	// the verify-on plans of the plan rotation, which wait
	// VerifyExecLatencyMS.
	ExecLatencyMS       float64 `json:"exec_latency_ms"`
	VerifyExecLatencyMS float64 `json:"verify_plan_exec_latency_ms"`
	Parallelism         int     `json:"parallelism"`
	Reps                int     `json:"plan_repetitions"`
	FullInstallMax      int     `json:"full_install_max_n"`
}

// NResult holds the figures for one fleet size.
type NResult struct {
	N         int     `json:"n"`
	NodesUsed int     `json:"nodes_used"`
	Seconds   float64 `json:"seconds"`

	Apply           ApplyResult   `json:"apply"`
	RefreshVerify   RefreshResult `json:"refresh_verify_on"`
	RefreshNoVerify RefreshResult `json:"refresh_verify_off"`
	Reapply         ReapplyResult `json:"reapply"`
	FlagUpdate      FlagUpdate    `json:"verify_flag_update"`
	Plan            PlanTiming    `json:"plan_time"`

	PeakRSSBytes      int64   `json:"peak_rss_bytes"`
	PeakRSSMB         float64 `json:"peak_rss_mb"`
	PeakRSSApplyMB    float64 `json:"peak_rss_apply_mb"`
	ProviderProcesses int     `json:"provider_processes_seen"`
}

// ApplyResult is the create of the fleet.
type ApplyResult struct {
	// Mode is "template" (created from the OS template, full Docker
	// install) or "clone" (cloned from a container where Docker is
	// installed: the install script takes its idempotent path).
	Mode              string     `json:"mode"`
	Parallelism       int        `json:"parallelism"`
	TaskDelayS        float64    `json:"task_delay_s"`
	TasksPerContainer int        `json:"tasks_per_container"`
	WallSeconds       float64    `json:"wall_s"`
	Ideal             IdealApply `json:"ideal"`
	Overhead          float64    `json:"overhead"`
	// IdealDelayModel and OverheadDelayModel take every task as exactly
	// the task delay long (the simulator's own work in a task, such as a
	// clone's copy, then counts as overhead).
	IdealDelayModel    IdealApply `json:"ideal_task_delay_model"`
	OverheadDelayModel float64    `json:"overhead_task_delay_model"`
	// IdealBegunOrder and OverheadBegunOrder place the containers in the
	// order their first tasks began (Terraform starts its parallel
	// operations in no fixed order) instead of in vmid order; they differ
	// from Ideal and Overhead only where clones of one source take turns.
	IdealBegunOrder    IdealApply `json:"ideal_begun_order"`
	OverheadBegunOrder float64    `json:"overhead_begun_order"`
	// ExtraTasks counts the tasks of the fleet's containers beyond the
	// first successful create or clone and start of each (retries, failed
	// tasks, reboots): their time is not part of the ideal.
	ExtraTasks  int            `json:"extra_tasks"`
	APIRequests int            `json:"api_requests"`
	APIByRoute  map[string]int `json:"api_by_route"`
	SSHByKind   map[string]int `json:"ssh_by_kind"`
	// APIPerContainer is APIRequests divided by N.
	APIPerContainer float64 `json:"api_per_container"`
	// TaskPolls counts the status and log reads of tasks.
	TaskPolls      int     `json:"task_polls"`
	PollsPerTask   float64 `json:"polls_per_task"`
	TaskLagMedianS float64 `json:"task_end_detection_lag_median_s"`
	// OwnTimeMedianS is the median of OwnTime: per container, the time on
	// its own path that was neither a task nor an SSH command.
	OwnTimeMedianS float64        `json:"own_time_per_container_median_s"`
	SSHConnections map[string]int `json:"ssh_connections_by_node"`
}

// RefreshResult is one plan of the unchanged fleet.
type RefreshResult struct {
	Verify             bool           `json:"verify_on_refresh"`
	PlanSeconds        float64        `json:"plan_s"`
	APIRequests        int            `json:"api_requests"`
	APIPerContainer    float64        `json:"api_per_container"`
	APIByRoute         map[string]int `json:"api_by_route"`
	SSHCommands        int            `json:"ssh_commands"`
	SSHPerContainer    float64        `json:"ssh_per_container"`
	SSHByKind          map[string]int `json:"ssh_by_kind"`
	SSHWrites          int            `json:"ssh_writes"`
	SSHConnections     map[string]int `json:"ssh_connections_by_node"`
	SSHConnectionsMax  int            `json:"ssh_connections_max_per_node"`
	SSHConnectionsSum  int            `json:"ssh_connections_total"`
	NodesWithContainer int            `json:"nodes_with_containers"`
}

// FlagUpdate is the apply (without refresh) that turns
// verify_on_refresh off on the whole fleet: a change of a provider-side
// flag only.
type FlagUpdate struct {
	Seconds     float64        `json:"apply_s"`
	APIRequests int            `json:"api_requests"`
	Mutating    int            `json:"mutating_api_calls"`
	SSHCommands int            `json:"ssh_commands"`
	APIByRoute  map[string]int `json:"api_by_route"`
}

// ReapplyResult is "terraform apply" of the unchanged fleet.
type ReapplyResult struct {
	MutatingAPICalls int            `json:"mutating_api_calls"`
	MutatingList     []string       `json:"mutating_list,omitempty"`
	InstallRuns      int            `json:"install_runs"`
	SSHWrites        int            `json:"ssh_writes"`
	APIRequests      int            `json:"api_requests"`
	SSHByKind        map[string]int `json:"ssh_by_kind"`
	NoChanges        bool           `json:"no_changes"`
}

// PlanTiming compares the plan of the fleet with the plan of as many
// terraform_data resources, repetitions interleaved.
type PlanTiming struct {
	Verify     bool      `json:"verify_on_refresh"`
	Reps       int       `json:"repetitions"`
	Containers []float64 `json:"containers_s"`
	Baseline   []float64 `json:"terraform_data_s"`
	// NoRefresh are plans of the fleet with -refresh=false: no Read, so
	// the difference to Containers is the refresh.
	NoRefresh       []float64 `json:"containers_no_refresh_s"`
	ContainerMedian float64   `json:"containers_median_s"`
	NoRefreshMedian float64   `json:"containers_no_refresh_median_s"`
	// NoRefreshAPI and NoRefreshSSH count the requests of one plan with
	// -refresh=false.
	// They are nil in results of versions that did not count them.
	NoRefreshAPI   *int    `json:"containers_no_refresh_api_requests,omitempty"`
	NoRefreshSSH   *int    `json:"containers_no_refresh_ssh_commands,omitempty"`
	BaselineMedian float64 `json:"terraform_data_median_s"`
	Ratio          float64 `json:"ratio"`
	// VerifyRatio is the plan with verify_on_refresh = true (one run)
	// divided by BaselineMedian.
	VerifyRatio float64 `json:"ratio_verify_on"`
	// Floor are plans of N floor_data, a do-nothing plugin provider's
	// resource: what the plugin protocol costs by itself.
	Floor       []float64 `json:"floor_plugin_s,omitempty"`
	FloorMedian float64   `json:"floor_plugin_median_s,omitempty"`
	// FloorRatio is FloorMedian / BaselineMedian: the lowest plan time
	// ratio any plugin provider can reach.
	FloorRatio float64 `json:"floor_plugin_ratio,omitempty"`
	// OverFloor is ContainerMedian / FloorMedian.
	OverFloor float64 `json:"containers_over_floor,omitempty"`
	// VerifyOn are plans of the fleet with verify_on_refresh = true (a
	// second workspace on the same state), every pct exec on the nodes
	// waiting VerifyExecLatencyMS, as on a real node.
	VerifyOn            []float64 `json:"containers_verify_on_s,omitempty"`
	VerifyOnMedian      float64   `json:"containers_verify_on_median_s,omitempty"`
	VerifyExecLatencyMS float64   `json:"verify_on_exec_latency_ms,omitempty"`
	// VerifyOverOff is VerifyOnMedian / ContainerMedian.
	VerifyOverOff float64 `json:"verify_on_over_off,omitempty"`
	// VerifySSH and VerifySSHWrites count the SSH commands of the first
	// verify-on plan, and those that changed a node.
	VerifySSH       *int `json:"containers_verify_on_ssh_commands,omitempty"`
	VerifySSHWrites *int `json:"containers_verify_on_ssh_writes,omitempty"`
}

// Check is one target against one figure.
type Check struct {
	Name  string  `json:"name"`
	N     int     `json:"n"`
	Value float64 `json:"value"`
	Op    string  `json:"op"`
	Limit float64 `json:"limit"`
	OK    bool    `json:"ok"`
	// Note puts the figure in context, when there is something to say.
	Note string `json:"note,omitempty"`
}

func (c Check) String() string {
	status := "ok"
	if !c.OK {
		status = "MISSED"
	}
	out := fmt.Sprintf("%-6s N=%-4d %s: %s (target %s %s)", status, c.N, c.Name, fmtNum(c.Value), c.Op, fmtNum(c.Limit))
	if c.Note != "" {
		out += "; " + c.Note
	}
	return out
}

func check(name string, n int, value float64, op string, limit float64) Check {
	ok := false
	switch op {
	case "≤":
		ok = value <= limit+1e-9
	case "=":
		ok = value == limit
	}
	return Check{Name: name, N: n, Value: value, Op: op, Limit: limit, OK: ok}
}

// Evaluate compares the results with the targets.
func Evaluate(results []NResult) []Check {
	var out []Check
	for _, r := range results {
		for _, rf := range []RefreshResult{r.RefreshVerify, r.RefreshNoVerify} {
			suffix := fmt.Sprintf(" (verify_on_refresh=%v)", rf.Verify)
			if r.N >= TargetAPIPerContainerMin {
				out = append(out, check("refresh API requests per container"+suffix, r.N, rf.APIPerContainer, "≤", TargetAPIPerContainer))
			}
			out = append(out,
				// One SSH command per node per plan at most: the Docker checks
				// of a node's containers share one (the target is the count
				// of nodes holding containers).
				check("refresh SSH commands per plan"+suffix, r.N, float64(rf.SSHCommands), "≤", float64(rf.NodesWithContainer)),
				check("refresh SSH connections per node"+suffix, r.N, float64(rf.SSHConnectionsMax), "≤", 1),
				check("refresh SSH writes"+suffix, r.N, float64(rf.SSHWrites), "=", 0))
		}
		if target, ok := planOverFloorTarget(r.N); ok {
			c := check("plan time over the do-nothing plugin (containers / floor_data)", r.N, r.Plan.OverFloor, "≤", target)
			c.Note = fmt.Sprintf("the containers take %s times terraform_data, the do-nothing plugin %s", fmtNum(r.Plan.Ratio), fmtNum(r.Plan.FloorRatio))
			out = append(out, c)
		}
		if r.N == TargetPlanRatioN {
			v := check("plan time, verify on / verify off", r.N, r.Plan.VerifyOverOff, "≤", TargetVerifyOverOff)
			v.Note = fmt.Sprintf("every pct exec waits %g ms in the verify-on plans", r.Plan.VerifyExecLatencyMS)
			out = append(out, v)
		}
		if r.N >= TargetAPIPerContainerMin {
			out = append(out, check("apply API requests per container", r.N, r.Apply.APIPerContainer, "≤", TargetApplyAPIPerContainer))
		}
		if r.N == TargetPollsPerTaskN {
			out = append(out, check("apply task polls per task", r.N, r.Apply.PollsPerTask, "≤", TargetPollsPerTask))
		}
		if r.N >= TargetAPIPerContainerMin {
			// A fleet of one is mostly Terraform's and the provider's start
			// and first tasks of their type.
			out = append(out, check("apply overhead (wall / ideal)", r.N, r.Apply.Overhead, "≤", TargetApplyOverhead))
		}
		out = append(out,
			check("re-apply mutating API calls", r.N, float64(r.Reapply.MutatingAPICalls), "=", 0),
			check("re-apply install runs", r.N, float64(r.Reapply.InstallRuns), "=", 0),
			check("re-apply SSH writes", r.N, float64(r.Reapply.SSHWrites), "=", 0),
			check("provider peak RSS (MB)", r.N, r.PeakRSSMB, "≤", TargetPeakRSSMB))
	}
	return out
}

// row is one line of the table: a label, a target and a value per N.
type row struct {
	label, target string
	value         func(NResult) string
}

func fmtNum(v float64) string {
	switch {
	case v == float64(int64(v)) && v < 1e9:
		return strconv.FormatInt(int64(v), 10)
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

func secs(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) + " s" }

func rows() []row {
	f2 := func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }
	return []row{
		{"refresh: API requests / container (verify on)", "≤ 1.1 (N ≥ 10)", func(r NResult) string { return f2(r.RefreshVerify.APIPerContainer) }},
		{"refresh: API requests / container (verify off)", "≤ 1.1 (N ≥ 10)", func(r NResult) string { return f2(r.RefreshNoVerify.APIPerContainer) }},
		{"refresh: SSH commands / plan (verify on)", "≤ nodes", func(r NResult) string {
			return fmt.Sprintf("%d (%d nodes)", r.RefreshVerify.SSHCommands, r.RefreshVerify.NodesWithContainer)
		}},
		{"refresh: SSH commands / container (verify on)", "", func(r NResult) string { return f2(r.RefreshVerify.SSHPerContainer) }},
		{"refresh: SSH commands / plan (verify off)", "≤ nodes", func(r NResult) string { return strconv.Itoa(r.RefreshNoVerify.SSHCommands) }},
		{"refresh: SSH connections, max per node (verify on)", "≤ 1", func(r NResult) string {
			return fmt.Sprintf("%d (%d nodes)", r.RefreshVerify.SSHConnectionsMax, r.RefreshVerify.NodesWithContainer)
		}},
		{"plan: containers, median (verify off)", "", func(r NResult) string { return secs(r.Plan.ContainerMedian) }},
		{"plan: containers -refresh=false, median (API requests)", "", func(r NResult) string {
			if r.Plan.NoRefreshAPI == nil {
				return secs(r.Plan.NoRefreshMedian) + " (not counted)"
			}
			return fmt.Sprintf("%s (%d)", secs(r.Plan.NoRefreshMedian), *r.Plan.NoRefreshAPI)
		}},
		{"plan: terraform_data, median", "", func(r NResult) string { return secs(r.Plan.BaselineMedian) }},
		{"plan time ratio (verify off)", "", func(r NResult) string { return f2(r.Plan.Ratio) }},
		{"plan time ratio (verify on, 1 run)", "", func(r NResult) string { return f2(r.Plan.VerifyRatio) }},
		{"plan: containers verify on, exec latency, median (SSH commands)", "", func(r NResult) string {
			if len(r.Plan.VerifyOn) == 0 {
				return "not measured"
			}
			out := fmt.Sprintf("%s at %g ms", secs(r.Plan.VerifyOnMedian), r.Plan.VerifyExecLatencyMS)
			if r.Plan.VerifySSH != nil {
				out += fmt.Sprintf(" (%d)", *r.Plan.VerifySSH)
			}
			return out
		}},
		{"plan time, verify on / verify off", "≤ 2 (N = 100)", func(r NResult) string {
			if len(r.Plan.VerifyOn) == 0 {
				return "n/a"
			}
			return f2(r.Plan.VerifyOverOff)
		}},
		{"plan: do-nothing plugin provider, median", "", func(r NResult) string { return secs(r.Plan.FloorMedian) }},
		{"plan time ratio of that plugin (floor of a framework provider)", "", func(r NResult) string { return f2(r.Plan.FloorRatio) }},
		{"plan: containers / do-nothing plugin", "≤ 2.5 (N = 100), ≤ 2 (N = 500)", func(r NResult) string { return f2(r.Plan.OverFloor) }},
		{"apply: mode", "", func(r NResult) string { return r.Apply.Mode }},
		{"apply: wall time", "", func(r NResult) string { return secs(r.Apply.WallSeconds) }},
		{"apply: ideal time", "", func(r NResult) string { return secs(r.Apply.Ideal.Seconds) }},
		{"apply: task time / container (median)", "", func(r NResult) string { return secs(r.Apply.Ideal.TaskMedian) }},
		{"apply: script time / container (median)", "", func(r NResult) string { return secs(r.Apply.Ideal.ScriptMedian) }},
		{"apply: task end seen after (median)", "", func(r NResult) string { return secs(r.Apply.TaskLagMedianS) }},
		{"apply: time per container outside tasks and commands (median)", "", func(r NResult) string { return secs(r.Apply.OwnTimeMedianS) }},
		{"apply: API requests / container", "≤ 20 (N ≥ 10)", func(r NResult) string { return f2(r.Apply.APIPerContainer) }},
		{"apply: task polls / task (status and log reads)", "≤ 3 (N = 100)", func(r NResult) string { return f2(r.Apply.PollsPerTask) }},
		{"apply overhead (wall / ideal)", "≤ 1.05 (N ≥ 10)", func(r NResult) string { return strconv.FormatFloat(r.Apply.Overhead, 'f', 3, 64) }},
		{"apply overhead, containers in the order they began", "", func(r NResult) string {
			if r.Apply.OverheadBegunOrder == 0 {
				return "n/a"
			}
			return strconv.FormatFloat(r.Apply.OverheadBegunOrder, 'f', 3, 64)
		}},
		{"apply overhead, tasks as long as the task delay", "", func(r NResult) string {
			if r.Apply.OverheadDelayModel == 0 {
				return "n/a"
			}
			return strconv.FormatFloat(r.Apply.OverheadDelayModel, 'f', 3, 64)
		}},
		{"apply: tasks beyond create/clone and start", "", func(r NResult) string { return strconv.Itoa(r.Apply.ExtraTasks) }},
		{"re-apply: mutating API calls", "= 0", func(r NResult) string { return strconv.Itoa(r.Reapply.MutatingAPICalls) }},
		{"re-apply: install runs / SSH writes", "= 0", func(r NResult) string {
			return fmt.Sprintf("%d / %d", r.Reapply.InstallRuns, r.Reapply.SSHWrites)
		}},
		{"provider peak RSS", "≤ 150 MB", func(r NResult) string { return strconv.FormatFloat(r.PeakRSSMB, 'f', 1, 64) + " MB" }},
	}
}

// WriteTable prints the figures, one column per N, and the checks.
func (rep *Report) WriteTable(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "figure")
	for _, r := range rep.Results {
		fmt.Fprintf(tw, "\tN=%d", r.N)
	}
	fmt.Fprint(tw, "\ttarget\n")
	for _, rw := range rows() {
		fmt.Fprint(tw, rw.label)
		for _, r := range rep.Results {
			fmt.Fprintf(tw, "\t%s", rw.value(r))
		}
		fmt.Fprintf(tw, "\t%s\n", rw.target)
	}
	_ = tw.Flush()
	missed := 0
	for _, c := range rep.Checks {
		if !c.OK {
			missed++
		}
	}
	fmt.Fprintf(w, "\n%d checks, %d missed\n", len(rep.Checks), missed)
	for _, c := range rep.Checks {
		if !c.OK {
			fmt.Fprintln(w, "  "+c.String())
		}
	}
	for _, u := range rep.Unmeasured {
		fmt.Fprintln(w, "  not measured: "+u)
	}
}

// Markdown renders the table as a Markdown table.
func (rep *Report) Markdown() string {
	var b strings.Builder
	b.WriteString("| figure |")
	for _, r := range rep.Results {
		fmt.Fprintf(&b, " N = %d |", r.N)
	}
	b.WriteString(" target |\n|---|")
	for range rep.Results {
		b.WriteString("---:|")
	}
	b.WriteString("---|\n")
	for _, rw := range rows() {
		fmt.Fprintf(&b, "| %s |", rw.label)
		for _, r := range rep.Results {
			fmt.Fprintf(&b, " %s |", rw.value(r))
		}
		fmt.Fprintf(&b, " %s |\n", rw.target)
	}
	return b.String()
}

// ReadReport reads a report written by WriteJSON.
func ReadReport(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rep Report
	if err := json.Unmarshal(b, &rep); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &rep, nil
}

// WriteJSON writes the report to path.
func (rep *Report) WriteJSON(path string) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644) //nolint:gosec // results, not secrets.
}

// Routes formats the most frequent routes of m with their count per
// container.
func Routes(m map[string]int, n, limit int) string {
	keys := TopRoutes(m)
	if len(keys) > limit {
		keys = keys[:limit]
	}
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s ×%d (%.2f/ct)", k, m[k], float64(m[k])/float64(max(n, 1))))
	}
	return strings.Join(parts, "; ")
}

// WriteBreakdown prints where the requests and the time go for each N.
func (rep *Report) WriteBreakdown(w io.Writer) {
	for _, r := range rep.Results {
		fmt.Fprintf(w, "N=%d\n", r.N)
		fmt.Fprintf(w, "  plan (verify on):  API %s\n", Routes(r.RefreshVerify.APIByRoute, r.N, 6))
		fmt.Fprintf(w, "                     SSH %s\n", Routes(r.RefreshVerify.SSHByKind, r.N, 6))
		fmt.Fprintf(w, "  plan (verify off): API %s\n", Routes(r.RefreshNoVerify.APIByRoute, r.N, 6))
		fmt.Fprintf(w, "  apply: %d API requests (%.2f per container), %.2f task polls per task; API %s\n", r.Apply.APIRequests, r.Apply.APIPerContainer, r.Apply.PollsPerTask, Routes(r.Apply.APIByRoute, r.N, 8))
		fmt.Fprintf(w, "         SSH %s; connections by node %v\n", Routes(r.Apply.SSHByKind, r.N, 8), r.Apply.SSHConnections)
		fmt.Fprintf(w, "  verify_on_refresh true -> false (apply -refresh=false): %.1f s, %d API requests (%d mutating), %d SSH commands; API %s\n",
			r.FlagUpdate.Seconds, r.FlagUpdate.APIRequests, r.FlagUpdate.Mutating, r.FlagUpdate.SSHCommands, Routes(r.FlagUpdate.APIByRoute, r.N, 6))
		if len(r.Reapply.MutatingList) > 0 {
			fmt.Fprintf(w, "  re-apply mutating calls: %s\n", strings.Join(r.Reapply.MutatingList, ", "))
		}
	}
}

// planOverFloorTarget is the target of the plan time over the do-nothing
// plugin at fleet size n, if there is one.
func planOverFloorTarget(n int) (float64, bool) {
	switch n {
	case 100:
		return TargetPlanOverFloor100, true
	case 500:
		return TargetPlanOverFloor500, true
	}
	return 0, false
}
