package bench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func sample() NResult {
	return NResult{
		N: 100, NodesUsed: 2,
		RefreshVerify:   RefreshResult{Verify: true, APIPerContainer: 1.01, SSHPerContainer: 1, SSHConnectionsMax: 1},
		RefreshNoVerify: RefreshResult{APIPerContainer: 2.0, SSHConnectionsMax: 0},
		Plan:            PlanTiming{Ratio: 1.4},
		Apply:           ApplyResult{Mode: "clone", Overhead: 1.2},
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
	want := []string{"refresh API requests per container (verify_on_refresh=false)", "apply overhead (wall / ideal)"}
	if len(missed) != len(want) {
		t.Fatalf("missed = %v, want %v", missed, want)
	}
	for _, w := range want {
		if !missed[w] {
			t.Errorf("%q should be missed; missed: %v", w, missed)
		}
	}
	small := sample()
	small.N = 1
	small.RefreshVerify.APIPerContainer = 2
	for _, c := range Evaluate([]NResult{small}) {
		if strings.HasPrefix(c.Name, "refresh API requests") {
			t.Errorf("the API target is not checked at N = 1 (one fleet-wide call cannot be shared): %v", c)
		}
		if strings.HasPrefix(c.Name, "plan time over") {
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
	for _, want := range []string{"intro\n\n" + GuideBegin + "\n", "| apply overhead (wall / ideal) | 1.200 | ≤ 1.10 |", "MISSED N=100  apply overhead", "```shell\nmake bench\n```", GuideEnd + "\n\nafter\n"} {
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
