package docker

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// OutputPrefix starts every progress and result line of the scripts.
const OutputPrefix = "phoenix-docker: "

// FatalPrefix starts the line a script prints when it fails.
const FatalPrefix = "FATAL: "

// Test case names printed by the test script, in the order it runs them.
const (
	CaseServiceIsRunning = "test_case_docker_service_is_running"
	CaseHelloWorld       = "test_case_docker_hello_world"
	CaseNetworkAccess    = "test_case_docker_network_access"
)

// Test case outcomes.
const (
	Passed  = "passed"
	Failed  = "failed"
	Skipped = "skipped"
)

// Cases lists the test cases in the order the test script runs them.
func Cases() []string {
	return []string{CaseServiceIsRunning, CaseHelloWorld, CaseNetworkAccess}
}

// lines splits script output into lines without their line endings.
func lines(out string) []string {
	out = strings.ReplaceAll(out, "\r\n", "\n")
	out = strings.TrimRight(out, "\n")
	if out == "" {
		return nil
	}
	return strings.Split(out, "\n")
}

// Tail returns the last n lines of out, trailing empty lines dropped; nil
// when n <= 0 or out is empty. Diagnostics carry it.
func Tail(out string, n int) []string {
	ls := lines(out)
	if n <= 0 || len(ls) == 0 {
		return nil
	}
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	return ls
}

// FatalLine returns the last line of out that starts with "FATAL: ", or "".
func FatalLine(out string) string {
	ls := lines(out)
	for i := len(ls) - 1; i >= 0; i-- {
		if strings.HasPrefix(ls[i], FatalPrefix) {
			return ls[i]
		}
	}
	return ""
}

// fields parses the key=value words that follow marker on the last line of
// out starting with OutputPrefix+marker+" ".
func fields(out, marker string) (map[string]string, bool, error) {
	head := OutputPrefix + marker + " "
	ls := lines(out)
	for i := len(ls) - 1; i >= 0; i-- {
		rest, ok := strings.CutPrefix(ls[i], head)
		if !ok {
			continue
		}
		m := map[string]string{}
		for w := range strings.FieldsSeq(rest) {
			k, v, ok := strings.Cut(w, "=")
			if !ok || k == "" {
				return nil, true, fmt.Errorf("malformed %s line %q: %q is not key=value", marker, ls[i], w)
			}
			m[k] = v
		}
		return m, true, nil
	}
	return nil, false, nil
}

// flagField reads a 0/1 field.
func flagField(m map[string]string, key, marker string) (bool, error) {
	switch v, ok := m[key]; {
	case !ok:
		return false, fmt.Errorf("%s line has no %s", marker, key)
	case v == "1":
		return true, nil
	case v == "0":
		return false, nil
	default:
		return false, fmt.Errorf("%s line: %s=%q, want 0 or 1", marker, key, v)
	}
}

// InstallResult is what a successful install run reports.
type InstallResult struct {
	// InstalledVersion is the dpkg version of docker-ce or docker.io.
	InstalledVersion string
	// Changed is false when the run found everything as asked and changed
	// nothing.
	Changed bool
}

// ParseInstallResult reads the install script's result line. When the
// output holds a FATAL line instead, the error is that line; a missing or
// malformed result line is an error too.
func ParseInstallResult(out string) (InstallResult, error) {
	m, found, err := fields(out, "result")
	if err != nil {
		return InstallResult{}, err
	}
	if fatal := FatalLine(out); fatal != "" {
		return InstallResult{}, errors.New(fatal)
	}
	if !found {
		return InstallResult{}, fmt.Errorf("%s printed no result line (it did not finish)", InstallScriptName)
	}
	changed, err := flagField(m, "changed", "result")
	if err != nil {
		return InstallResult{}, err
	}
	v := m["installed_version"]
	if v == "" {
		return InstallResult{}, errors.New("result line has no installed_version: the Docker package is not installed")
	}
	return InstallResult{InstalledVersion: v, Changed: changed}, nil
}

// CheckResult is what the health check reports.
type CheckResult struct {
	// ServiceActive is true when "systemctl is-active docker" succeeded.
	ServiceActive bool
	// InstalledVersion is the dpkg version of docker-ce (or docker.io), ""
	// when neither is installed.
	InstalledVersion string
}

// ParseCheckResult reads the health check's status line. An inactive
// service is a result, not an error: the error is for output without a
// well-formed status line.
func ParseCheckResult(out string) (CheckResult, error) {
	m, found, err := fields(out, "check")
	if err != nil {
		return CheckResult{}, err
	}
	if !found {
		if fatal := FatalLine(out); fatal != "" {
			return CheckResult{}, errors.New(fatal)
		}
		return CheckResult{}, fmt.Errorf("%s printed no check line", CheckScriptName)
	}
	active, err := flagField(m, "service_active", "check")
	if err != nil {
		return CheckResult{}, err
	}
	return CheckResult{ServiceActive: active, InstalledVersion: m["installed_version"]}, nil
}

// TestReport is the parsed output of the test script.
type TestReport struct {
	// Cases maps each reported case to Passed, Failed or Skipped.
	Cases map[string]string
	// Order lists the cases as they were reported.
	Order []string
	// Output maps a failed case to the tail of its output.
	Output map[string][]string
	// Passed, Failed and Skipped are the counts of the summary line, which
	// agree with Cases.
	Passed, Failed, Skipped int
}

// FailedCases lists the failed cases in report order.
func (r TestReport) FailedCases() []string {
	var out []string
	for _, c := range r.Order {
		if r.Cases[c] == Failed {
			out = append(out, c)
		}
	}
	return out
}

var (
	caseLineRE    = regexp.MustCompile(`^(test_case_[A-Za-z0-9_]+): (passed|failed|skipped)$`)
	summaryLineRE = regexp.MustCompile(`^(\d+) passed, (\d+) failed(?:, (\d+) skipped)?$`)
)

// caseOutputPrefix indents the output tail of a failed case.
const caseOutputPrefix = "  | "

// ParseTestResults reads the test script's output: the case lines, the
// output tails of failed cases and the summary, which must be the last line
// and agree with the case lines. Failed cases are not an error; output
// that does not follow the format is.
func ParseTestResults(out string) (TestReport, error) {
	r := TestReport{Cases: map[string]string{}, Output: map[string][]string{}}
	ls := lines(out)
	if len(ls) == 0 {
		return r, fmt.Errorf("%s printed nothing", TestScriptName)
	}
	last := ""
	for _, l := range ls[:len(ls)-1] {
		if tail, ok := strings.CutPrefix(l, caseOutputPrefix); ok && last != "" {
			r.Output[last] = append(r.Output[last], tail)
			continue
		}
		m := caseLineRE.FindStringSubmatch(l)
		if m == nil {
			if strings.HasPrefix(l, FatalPrefix) {
				return r, errors.New(l)
			}
			continue
		}
		name, status := m[1], m[2]
		if _, dup := r.Cases[name]; dup {
			return r, fmt.Errorf("%s reported %s twice", TestScriptName, name)
		}
		r.Cases[name] = status
		r.Order = append(r.Order, name)
		last = ""
		if status == Failed {
			last = name
		}
	}
	s := summaryLineRE.FindStringSubmatch(ls[len(ls)-1])
	if s == nil {
		if fatal := FatalLine(out); fatal != "" {
			return r, errors.New(fatal)
		}
		return r, fmt.Errorf("%s did not end with the summary line %q: last line %q", TestScriptName, "N passed, N failed", ls[len(ls)-1])
	}
	var err error
	if r.Passed, err = count(s[1]); err != nil {
		return r, err
	}
	if r.Failed, err = count(s[2]); err != nil {
		return r, err
	}
	if r.Skipped, err = count(s[3]); err != nil {
		return r, err
	}
	counts := map[string]int{}
	for _, st := range r.Cases {
		counts[st]++
	}
	if counts[Passed] != r.Passed || counts[Failed] != r.Failed || counts[Skipped] != r.Skipped {
		return r, fmt.Errorf("%s summary %q disagrees with its case lines (%d passed, %d failed, %d skipped)",
			TestScriptName, ls[len(ls)-1], counts[Passed], counts[Failed], counts[Skipped])
	}
	return r, nil
}

// count parses a summary count; "" is 0.
func count(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%s summary count %q: %w", TestScriptName, s, err)
	}
	return n, nil
}
