package bench

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func sample() NResult {
	return NResult{
		N: 100, NodesUsed: 2,
		RefreshVerify:   RefreshResult{Verify: true, APIPerContainer: 1.01, SSHCommands: 2, SSHPerContainer: 0.02, SSHConnectionsMax: 1, NodesWithContainer: 2},
		RefreshNoVerify: RefreshResult{APIPerContainer: 2.0, SSHConnectionsMax: 0},
		Plan:            PlanTiming{Ratio: 1.4},
		Apply:           ApplyResult{Mode: "clone", Overhead: 1.2, APIPerContainer: 21, PollsPerTask: 2.9},
		Reapply:         ReapplyResult{MutatingAPICalls: 0, InstallRuns: 0},
		PeakRSSMB:       40,
	}
}

func TestEvaluate(t *testing.T) {
	checks := Evaluate([]NResult{sample()})
	missed := map[string]bool{}
	for _, c := range checks {
		if !c.OK {
			missed[c.Name] = true
		}
	}
	want := []string{"refresh API requests per container (verify_on_refresh=false)", "apply overhead (wall / ideal)", "apply API requests per container"}
	if len(missed) != len(want) {
		t.Fatalf("missed = %v, want %v", missed, want)
	}
	for _, w := range want {
		if !missed[w] {
			t.Errorf("%q should be missed; missed: %v", w, missed)
		}
	}
	perPlan := sample()
	perPlan.RefreshVerify.SSHCommands = 3
	for _, c := range Evaluate([]NResult{perPlan}) {
		if strings.HasPrefix(c.Name, "refresh SSH commands per plan (verify_on_refresh=true)") && (c.OK || c.Limit != 2) {
			t.Errorf("3 SSH commands for 2 nodes must miss the target of 2: %v", c)
		}
	}
	many := sample()
	many.Apply.PollsPerTask = 3.1
	if c := Evaluate([]NResult{many}); !slices.ContainsFunc(c, func(c Check) bool { return c.Name == "apply task polls per task" && !c.OK }) {
		t.Errorf("3.1 polls per task at N = 100 not missed: %v", c)
	}
	small := sample()
	small.N = 1
	small.RefreshVerify.APIPerContainer = 2
	small.Apply.APIPerContainer, small.Apply.PollsPerTask, small.Apply.Overhead = 50, 20, 1.2
	for _, c := range Evaluate([]NResult{small}) {
		if strings.HasPrefix(c.Name, "refresh API requests") {
			t.Errorf("the API target is not checked at N = 1 (one fleet-wide call cannot be shared): %v", c)
		}
		if strings.HasPrefix(c.Name, "plan time ratio") || strings.HasPrefix(c.Name, "apply task polls") {
			t.Errorf("the plan time ratio and the polls per task are checked at N = 100 only: %v", c)
		}
		if strings.HasPrefix(c.Name, "apply API requests") || strings.HasPrefix(c.Name, "apply overhead") {
			t.Errorf("the apply's requests per container and overhead are not checked at N = 1: %v", c)
		}
		if strings.HasPrefix(c.Name, "plan time over") || strings.HasPrefix(c.Name, "plan time, verify") {
			t.Errorf("the plan time is checked at N = 100 and 500 only: %v", c)
		}
	}
}

func TestGuideFigures(t *testing.T) {
	rep := &Report{Terraform: "Terraform v1.11.4", CPUs: 2, Settings: Settings{Nodes: []string{"pve1", "pve2"}, TaskDelayS: 2, APILatencyMS: 5, Parallelism: 10, Reps: 5, FullInstallMax: 10}, Results: []NResult{sample()}}
	rep.Checks = Evaluate(rep.Results)
	path := filepath.Join(t.TempDir(), "performance.md.tmpl")
	before := "# Performance\n\nintro\n\n" + GuideBegin + "\nold figures\n" + GuideEnd + "\n\nafter\n"
	if err := os.WriteFile(path, []byte(before), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := UpdateGuide(path, rep, "make bench"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got := string(b)
	for _, want := range []string{"intro\n\n" + GuideBegin + "\n", "| apply overhead (wall / ideal) | 1.200 | ≤ 1.05 (N ≥ 10) |", "MISSED N=100  apply overhead", "```shell\nmake bench\n```", GuideEnd + "\n\nafter\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("guide lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "old figures") || strings.Contains(got, "{{") {
		t.Errorf("old figures kept or template actions written:\n%s", got)
	}
	if _, err := ReplaceGuideFigures("no markers", "x"); err == nil {
		t.Error("a template without markers must be refused")
	}
}

func TestParseNs(t *testing.T) {
	ns, err := ParseNs(" 1, 10,100,500 ")
	if err != nil || len(ns) != 4 || ns[3] != 500 {
		t.Errorf("ParseNs = %v, %v", ns, err)
	}
	for _, bad := range []string{"", "0", "ten", "1,,-2"} {
		if _, err := ParseNs(bad); err == nil {
			t.Errorf("ParseNs(%q) should fail", bad)
		}
	}
}

func TestPlanRatioCheckNamesThePluginFloor(t *testing.T) {
	r := sample()
	r.Plan = PlanTiming{Ratio: 12, FloorRatio: 3.5, OverFloor: 3.43}
	big := r
	big.N, big.Plan.OverFloor = 500, 2.2
	checked := 0
	for _, c := range Evaluate([]NResult{r, big}) {
		if !strings.HasPrefix(c.Name, "plan time over the do-nothing plugin") {
			continue
		}
		checked++
		if c.OK {
			t.Errorf("N=%d: %s should miss (targets 2.5 at N = 100, 2 at N = 500)", c.N, c.String())
		}
		if c.N == 100 && !strings.Contains(c.String(), "the containers take 12 times terraform_data, the do-nothing plugin 3.50") {
			t.Errorf("check %q", c.String())
		}
	}
	if checked != 2 {
		t.Errorf("%d plan time checks, want one at N = 100 and one at N = 500", checked)
	}
}

func TestVerifyOverOffCheck(t *testing.T) {
	find := func(r NResult) (Check, bool) {
		for _, c := range Evaluate([]NResult{r}) {
			if c.Name == "plan time, verify on / verify off" {
				return c, true
			}
		}
		return Check{}, false
	}
	ssh := 2
	r := sample()
	r.Plan.VerifyOn, r.Plan.VerifyOnMedian, r.Plan.VerifyExecLatencyMS, r.Plan.VerifyOverOff, r.Plan.VerifySSH = []float64{7.1, 7.3}, 7.2, 200, 2.4, &ssh
	c, ok := find(r)
	if !ok || c.OK || c.Limit != TargetVerifyOverOff || !strings.Contains(c.String(), "every pct exec waits 200 ms") {
		t.Errorf("N = 100, ratio 2.4: %v (found %v)", c, ok)
	}
	r.Plan.VerifyOverOff = 1.9
	if c, _ := find(r); !c.OK {
		t.Errorf("N = 100, ratio 1.9: %v", c)
	}
	md := (&Report{Results: []NResult{r}}).Markdown()
	if !strings.Contains(md, "| plan: containers verify on, exec latency, median (SSH commands) | 7.20 s at 200 ms (2) |") ||
		!strings.Contains(md, "| plan time, verify on / verify off | 1.90 | ≤ 2 (N = 100) |") {
		t.Errorf("rows:\n%s", md)
	}
	r.N = 10
	if c, ok := find(r); ok {
		t.Errorf("checked at N = 10: %v", c)
	}
}
