package bench

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// Markers around the generated part of the performance guide template.
const (
	GuideBegin = "<!-- bench:figures:begin (written by make bench BENCH_GUIDE=...; do not edit by hand) -->"
	GuideEnd   = "<!-- bench:figures:end -->"
)

// GuideFigures renders the generated part of the guide: the settings, the
// table and the targets missed.
func GuideFigures(rep *Report, command string) string {
	var b strings.Builder
	st := rep.Settings
	fmt.Fprintf(&b, "Measured on %s with %s, %d CPUs (load average %s at the start), commit `%s`:\n",
		rep.Started.Format("2006-01-02"), rep.Terraform, rep.CPUs, rep.Environment.LoadAvgStart, rep.Commit)
	fmt.Fprintf(&b, "%d simulated nodes, task delay %gs, API latency %g ms, `pct exec` latency %g ms (%g ms in the verify-on plans of the rotation), `-parallelism=%d`, %d interleaved plan repetitions; ",
		len(st.Nodes), st.TaskDelayS, st.APILatencyMS, st.ExecLatencyMS, st.VerifyExecLatencyMS, st.Parallelism, st.Reps)
	fmt.Fprintf(&b, "fleets larger than %d are cloned from containers with Docker installed, one per parallelism slot. Command:\n\n", st.FullInstallMax)
	fmt.Fprintf(&b, "```shell\n%s\n```\n\n", command)
	b.WriteString(rep.Markdown())
	var missed []string
	for _, c := range rep.Checks {
		if !c.OK {
			missed = append(missed, "- "+c.String())
		}
	}
	if len(missed) == 0 {
		b.WriteString("\nEvery target was met.\n")
	} else {
		fmt.Fprintf(&b, "\nTargets missed in this run (%d of %d checks):\n\n%s\n", len(missed), len(rep.Checks), strings.Join(missed, "\n"))
	}
	return b.String()
}

// ReplaceGuideFigures returns content with the part between GuideBegin and
// GuideEnd replaced by figures.
func ReplaceGuideFigures(content, figures string) (string, error) {
	i := strings.Index(content, GuideBegin)
	j := strings.Index(content, GuideEnd)
	if i < 0 || j < i {
		return "", errors.New("the guide template has no figures markers")
	}
	return content[:i+len(GuideBegin)] + "\n" + strings.TrimSpace(figures) + "\n" + content[j:], nil
}

// UpdateGuide rewrites the generated part of the guide template at path.
func UpdateGuide(path string, rep *Report, command string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	out, err := ReplaceGuideFigures(string(b), GuideFigures(rep, command))
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return os.WriteFile(path, []byte(out), 0o644) //nolint:gosec // documentation.
}
