package docker

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
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

// resultLine is one key=value line of a script: the prefix, the marker and
// exactly the keys of a known set, each once, separated by single spaces.
type resultLine struct {
	script, marker, line string
	values               map[string]string
}

// parseResultLine reads the words after OutputPrefix+marker+" " on line.
// Every key must be one of keys and appear once; values are checked by the
// callers. Errors name the script.
func parseResultLine(script, marker, line string, keys ...string) (resultLine, error) {
	rest, ok := strings.CutPrefix(line, OutputPrefix+marker+" ")
	if !ok {
		return resultLine{}, fmt.Errorf("%s printed a malformed %s line %q", script, marker, line)
	}
	r := resultLine{script: script, marker: marker, line: line, values: map[string]string{}}
	for w := range strings.SplitSeq(strings.TrimRight(rest, " \t"), " ") {
		k, v, ok := strings.Cut(w, "=")
		if !ok || k == "" {
			return resultLine{}, fmt.Errorf("%s printed a malformed %s line %q: %q is not key=value", script, marker, line, w)
		}
		if !slices.Contains(keys, k) {
			return resultLine{}, fmt.Errorf("%s printed a malformed %s line %q: unknown key %q (known: %s)", script, marker, line, k, strings.Join(keys, ", "))
		}
		if _, dup := r.values[k]; dup {
			return resultLine{}, fmt.Errorf("%s printed a malformed %s line %q: key %q twice", script, marker, line, k)
		}
		r.values[k] = v
	}
	return r, nil
}

// flag reads a 0/1 value.
func (r resultLine) flag(key string) (bool, error) {
	switch v, ok := r.values[key]; {
	case !ok:
		return false, fmt.Errorf("%s: %s line has no %s: %q", r.script, r.marker, key, r.line)
	case v == "1":
		return true, nil
	case v == "0":
		return false, nil
	default:
		return false, fmt.Errorf("%s: %s line: %s=%q, want 0 or 1", r.script, r.marker, key, v)
	}
}

// version reads a Debian package version; "" is allowed only when optional.
func (r resultLine) version(key string, optional bool) (string, error) {
	v, ok := r.values[key]
	switch {
	case !ok:
		return "", fmt.Errorf("%s: %s line has no %s: %q", r.script, r.marker, key, r.line)
	case v == "" && optional:
		return "", nil
	case v == "":
		return "", fmt.Errorf("%s: %s line has no %s: the Docker package is not installed", r.script, r.marker, key)
	case !versionRE.MatchString(v):
		return "", fmt.Errorf("%s: %s line: %s=%q is not a Debian package version", r.script, r.marker, key, v)
	}
	return v, nil
}

// scanOwnLines walks ls up to the first line for which stop is true and
// returns its index, or -1. Lines before the script's first own line (what
// the shell printed before the script ran) are tolerated; from then on
// every line must satisfy own.
func scanOwnLines(script string, ls []string, own, stop func(string) bool) (int, error) {
	started := false
	for i, l := range ls {
		if stop(l) {
			return i, nil
		}
		if own(l) {
			started = true
			continue
		}
		if started {
			return -1, fmt.Errorf("%s printed an unexpected line %q", script, l)
		}
	}
	return -1, nil
}

// progressLine reports whether l is "phoenix-docker: [step] message".
func progressLine(l string) bool {
	rest, ok := strings.CutPrefix(l, OutputPrefix+"[")
	if !ok {
		return false
	}
	step, _, ok := strings.Cut(rest, "] ")
	if !ok {
		step, ok = strings.CutSuffix(rest, "]")
	}
	return ok && step != "" && !strings.ContainsAny(step, " []")
}

// markerLine returns a test for the line "phoenix-docker: <marker> ...".
func markerLine(marker string) func(string) bool {
	return func(l string) bool {
		return l == OutputPrefix+marker || strings.HasPrefix(l, OutputPrefix+marker+" ")
	}
}

// InstallResult is what a successful install run reports.
type InstallResult struct {
	// InstalledVersion is the dpkg version of docker-ce or docker.io.
	InstalledVersion string
	// Changed is false when the run found everything as asked and changed
	// nothing.
	Changed bool
	// Packages lists what the run asked apt-get to install ("name" or
	// "name=version"); empty when it installed nothing.
	Packages []string
	// Items lists what the run changed (InstallItems names them).
	Items []string
}

// InstallItems lists the items the install script reports as changed.
func InstallItems() []string {
	return []string{"dpkg-repair", "apt-key", "apt-source", "packages", "daemon.json", "marker", "fingerprint", "service-restart", "service-start"}
}

// packageSpecRE matches "name" or "name=version" of a Debian package.
var packageSpecRE = regexp.MustCompile(`^[a-z0-9][a-z0-9.+-]+(=[A-Za-z0-9][A-Za-z0-9.+:~_-]*)?$`)

// list reads a comma-separated value whose elements must satisfy ok.
func (r resultLine) list(key string, ok func(string) bool) ([]string, error) {
	v, present := r.values[key]
	if !present {
		return nil, fmt.Errorf("%s: %s line has no %s: %q", r.script, r.marker, key, r.line)
	}
	if v == "" {
		return nil, nil
	}
	out := strings.Split(v, ",")
	for _, e := range out {
		if !ok(e) {
			return nil, fmt.Errorf("%s: %s line: %s holds %q, which is not expected there", r.script, r.marker, key, e)
		}
	}
	return out, nil
}

// ParseInstallResult reads the install script's result line. When the
// output holds a FATAL line, the error is that line. Otherwise, after
// whatever the shell printed before the script's first line, the output must
// be the script's progress lines ("phoenix-docker: [step] ...") ending with
// exactly one result line, "phoenix-docker: result installed_version=<v>
// changed=<0|1> packages=<list> items=<list>", with these keys only and
// valid values (the lists comma-separated, packages as "name" or
// "name=version", items from InstallItems). Anything else (a
// missing result line, an unknown or repeated key, a bad value, a line of
// another kind, output after the result) is an error naming the script.
func ParseInstallResult(out string) (InstallResult, error) {
	if fatal := FatalLine(out); fatal != "" {
		return InstallResult{}, errors.New(fatal)
	}
	ls := lines(out)
	i, err := scanOwnLines(InstallScriptName, ls, progressLine, markerLine("result"))
	if err != nil {
		return InstallResult{}, err
	}
	if i < 0 {
		return InstallResult{}, fmt.Errorf("%s printed no result line (it did not finish)", InstallScriptName)
	}
	if after := ls[i+1:]; len(after) > 0 {
		return InstallResult{}, fmt.Errorf("%s printed %d line(s) after its result line, the first %q", InstallScriptName, len(after), after[0])
	}
	r, err := parseResultLine(InstallScriptName, "result", ls[i], "installed_version", "changed", "packages", "items")
	if err != nil {
		return InstallResult{}, err
	}
	pkgs, err := r.list("packages", packageSpecRE.MatchString)
	if err != nil {
		return InstallResult{}, err
	}
	items, err := r.list("items", func(s string) bool { return slices.Contains(InstallItems(), s) })
	if err != nil {
		return InstallResult{}, err
	}
	changed, err := r.flag("changed")
	if err != nil {
		return InstallResult{}, err
	}
	v, err := r.version("installed_version", false)
	if err != nil {
		return InstallResult{}, err
	}
	return InstallResult{InstalledVersion: v, Changed: changed, Packages: pkgs, Items: items}, nil
}

// CheckResult is what the health check reports.
type CheckResult struct {
	// ServiceActive is true when "systemctl is-active docker" succeeded.
	ServiceActive bool
	// InstalledVersion is the dpkg version of docker-ce (or docker.io), ""
	// when neither is installed.
	InstalledVersion string
	// Package is the installed engine package, docker-ce or docker.io ("").
	Package string
	// ContainerdVersion and ComposeVersion are the dpkg versions of
	// containerd and of the Compose plugin ("" when not installed).
	ContainerdVersion, ComposeVersion string
	// StorageDriver is the running daemon's driver ("" when not active).
	StorageDriver string
	// DaemonJSONSHA256, AptKeySHA256 and AptSourceSHA256 are the hex SHA-256
	// of /etc/docker/daemon.json, Docker's apt key and its source list ("" for
	// a missing file).
	DaemonJSONSHA256, AptKeySHA256, AptSourceSHA256 string
	// Fingerprint is the plan fingerprint recorded by the last successful
	// install, "" when none is recorded, FingerprintInvalid for a file that
	// holds something else.
	Fingerprint string
}

// FingerprintInvalid is what the check reports for a fingerprint file that
// does not hold a fingerprint.
const FingerprintInvalid = "invalid"

// checkKeys are the keys of the check line, in the order printed.
var checkKeys = []string{
	"service_active", "installed_version", "package", "containerd_version", "compose_version", "storage_driver",
	"daemon_json_sha256", "apt_key_sha256", "apt_source_sha256", "fingerprint",
}

var (
	sha256RE = regexp.MustCompile(`^[0-9a-f]{64}$`)
	driverRE = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
)

// matching reads a value that is "" or satisfies ok; every key must be there.
func (r resultLine) matching(key, what string, ok func(string) bool) (string, error) {
	v, present := r.values[key]
	switch {
	case !present:
		return "", fmt.Errorf("%s: %s line has no %s: %q", r.script, r.marker, key, r.line)
	case v != "" && !ok(v):
		return "", fmt.Errorf("%s: %s line: %s=%q is not %s", r.script, r.marker, key, v, what)
	}
	return v, nil
}

// ParseCheckResult reads the health check's status line. An inactive
// service is a result, not an error. The error is for output without exactly
// one well-formed status line ("phoenix-docker: check service_active=<1|0>
// installed_version=<v> ...", every key of the contract once and no other,
// each value empty or valid: versions, a package name, a driver name, hex
// digests, a fingerprint or "invalid"), for lines of another
// kind before it (after the shell's start-up messages), and for anything
// after it but the FATAL line of an inactive service. Errors name the script,
// except a FATAL line printed instead of a status line, which is the error.
func ParseCheckResult(out string) (CheckResult, error) {
	ls := lines(out)
	i, err := scanOwnLines(CheckScriptName, ls, progressLine, markerLine("check"))
	if err != nil {
		return CheckResult{}, err
	}
	if i < 0 {
		if fatal := FatalLine(out); fatal != "" {
			return CheckResult{}, errors.New(fatal)
		}
		return CheckResult{}, fmt.Errorf("%s printed no check line", CheckScriptName)
	}
	r, err := parseResultLine(CheckScriptName, "check", ls[i], checkKeys...)
	if err != nil {
		return CheckResult{}, err
	}
	active, err := r.flag("service_active")
	if err != nil {
		return CheckResult{}, err
	}
	res := CheckResult{ServiceActive: active}
	if res.InstalledVersion, err = r.version("installed_version", true); err != nil {
		return CheckResult{}, err
	}
	isVersion := versionRE.MatchString
	isSHA := sha256RE.MatchString
	for _, f := range []struct {
		key, what string
		ok        func(string) bool
		dst       *string
	}{
		{"package", "docker-ce or docker.io", func(s string) bool { return s == "docker-ce" || s == "docker.io" }, &res.Package},
		{"containerd_version", "a Debian package version", isVersion, &res.ContainerdVersion},
		{"compose_version", "a Debian package version", isVersion, &res.ComposeVersion},
		{"storage_driver", "a storage driver name", driverRE.MatchString, &res.StorageDriver},
		{"daemon_json_sha256", "a SHA-256 in hex", isSHA, &res.DaemonJSONSHA256},
		{"apt_key_sha256", "a SHA-256 in hex", isSHA, &res.AptKeySHA256},
		{"apt_source_sha256", "a SHA-256 in hex", isSHA, &res.AptSourceSHA256},
		{"fingerprint", "a fingerprint (64 hex digits) or " + FingerprintInvalid, func(s string) bool { return isSHA(s) || s == FingerprintInvalid }, &res.Fingerprint},
	} {
		if *f.dst, err = r.matching(f.key, f.what, f.ok); err != nil {
			return CheckResult{}, err
		}
	}
	if (res.Package == "") != (res.InstalledVersion == "") {
		return CheckResult{}, fmt.Errorf("%s: check line names package %q with installed_version %q", CheckScriptName, res.Package, res.InstalledVersion)
	}
	for _, l := range ls[i+1:] {
		if active || !strings.HasPrefix(l, FatalPrefix) {
			return CheckResult{}, fmt.Errorf("%s printed an unexpected line %q after its check line", CheckScriptName, l)
		}
	}
	return res, nil
}

// CaseRun is when a test case ran and how long it took.
type CaseRun struct {
	// DurationMS is the case's wall time in milliseconds (0 when skipped).
	DurationMS int64
	// RanAt is when the case started (or was skipped), in UTC, to the
	// second.
	RanAt time.Time
}

// TestReport is the parsed output of the test script.
type TestReport struct {
	// Cases maps each reported case to Passed, Failed or Skipped.
	Cases map[string]string
	// Runs maps each reported case to its start time and duration.
	Runs map[string]CaseRun
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
	caseLineRE    = regexp.MustCompile(`^(test_case_[A-Za-z0-9_]+): (passed|failed|skipped) duration_ms=([0-9]{1,12}) ran_at=([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z)$`)
	summaryLineRE = regexp.MustCompile(`^(\d+) passed, (\d+) failed(?:, (\d+) skipped)?$`)
)

// caseOutputPrefix indents the output tail of a failed case.
const caseOutputPrefix = "  | "

// ParseTestResults reads the test script's output: the case lines
// ("test_case_<name>: <status> duration_ms=<n> ran_at=<YYYY-MM-DDTHH:MM:SSZ>"),
// the output tails of failed cases and the summary, which must be the last
// line and agree with the case lines. Failed cases are not an error. Output that
// does not follow the format is, with the script named: after the shell's
// start-up messages, every line must be a case line, an output line
// ("  | ...") of a failed case, or the final summary. A FATAL line is
// returned as the error.
func ParseTestResults(out string) (TestReport, error) {
	r := TestReport{Cases: map[string]string{}, Runs: map[string]CaseRun{}, Output: map[string][]string{}}
	ls := lines(out)
	if len(ls) == 0 {
		return r, fmt.Errorf("%s printed nothing", TestScriptName)
	}
	if fatal := FatalLine(out); fatal != "" {
		return r, errors.New(fatal)
	}
	s := summaryLineRE.FindStringSubmatch(ls[len(ls)-1])
	if s == nil {
		return r, fmt.Errorf("%s did not end with the summary line %q: last line %q", TestScriptName, "N passed, N failed", ls[len(ls)-1])
	}
	last, started := "", false
	for _, l := range ls[:len(ls)-1] {
		if tail, ok := strings.CutPrefix(l, caseOutputPrefix); ok && started {
			if last == "" {
				return r, fmt.Errorf("%s printed an output line %q that follows no failed case", TestScriptName, l)
			}
			r.Output[last] = append(r.Output[last], tail)
			continue
		}
		m := caseLineRE.FindStringSubmatch(l)
		if m == nil {
			if started {
				return r, fmt.Errorf("%s printed an unexpected line %q", TestScriptName, l)
			}
			continue
		}
		started = true
		name, status := m[1], m[2]
		if !slices.Contains(Cases(), name) {
			return r, fmt.Errorf("%s reported %s, which is none of its cases (%s)", TestScriptName, name, strings.Join(Cases(), ", "))
		}
		if _, dup := r.Cases[name]; dup {
			return r, fmt.Errorf("%s reported %s twice", TestScriptName, name)
		}
		run, err := caseRun(m[3], m[4])
		if err != nil {
			return r, fmt.Errorf("%s reported %s with %w", TestScriptName, name, err)
		}
		if status == Skipped && run.DurationMS != 0 {
			return r, fmt.Errorf("%s reported the skipped %s with a duration of %d ms", TestScriptName, name, run.DurationMS)
		}
		r.Cases[name] = status
		r.Runs[name] = run
		r.Order = append(r.Order, name)
		last = ""
		if status == Failed {
			last = name
		}
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

// caseRun reads the duration and the time of a case line.
func caseRun(ms, at string) (CaseRun, error) {
	d, err := strconv.ParseInt(ms, 10, 64)
	if err != nil {
		return CaseRun{}, fmt.Errorf("duration_ms=%s: %w", ms, err)
	}
	t, err := time.Parse(time.RFC3339, at)
	if err != nil {
		return CaseRun{}, fmt.Errorf("ran_at=%s, which is not a time: %w", at, err)
	}
	return CaseRun{DurationMS: d, RanAt: t.UTC()}, nil
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
