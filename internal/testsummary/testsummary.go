// Package testsummary turns the event stream of go test -json back into the
// output of a plain go test run, and ends it with a summary: how many tests
// passed, failed and were skipped, and one line per skip with the reason
// the test gave, so a green run never hides one that tested nothing.
//
// What it prints per package is what go test without -v prints: the ok
// line of a passing package, the ? line of a package without test files,
// and for a failing package its output outside tests and the output of its
// failed (or unfinished) tests, each under its --- FAIL line. Build errors
// go to the error stream as they arrive. The last line is always
//
//	N passed, N failed, N skipped
//
// where the counts cover tests and subtests, and failed also counts each
// package that failed outside any test (a build error, TestMain, a crash).
package testsummary

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// event is one line of go test -json (see go doc test2json).
type event struct {
	Action      string
	Package     string
	Test        string
	Output      string
	ImportPath  string
	FailedBuild string
}

type test struct {
	name     string
	parent   *test
	children []*test
	result   string   // the "--- PASS/FAIL/SKIP: name (…)" line
	lines    []string // output without framing and result lines
	action   string   // pass, fail, skip, or "" when it never finished
}

// item is a line of package output outside tests, or a top-level test, in
// the order they appeared.
type item struct {
	line string
	test *test
}

type pkg struct {
	path        string
	items       []item
	tests       map[string]*test
	order       []*test // every test in run order
	failedBuild bool
}

// Skip is a skipped test and the reason it gave.
type Skip struct {
	Package, Test, Reason string
}

// Summary reads go test -json output line by line and writes the plain
// output to Out (build errors to Err). Call Line for each line, then Finish.
type Summary struct {
	Out, Err io.Writer
	// Module is trimmed from package paths in the summary.
	Module string
	// Verbose prints all output as it arrives, as go test -v does.
	Verbose bool

	pkgs       map[string]*pkg
	pkgOrder   []string
	passed     int
	failed     int
	skipped    int
	skips      []Skip
	failures   []string // "pkg test" or "pkg [build failed]"
	pkgFailed  bool
	packages   int
	noTests    int
	exitStatus int
}

// New returns a Summary writing to out and errOut.
func New(out, errOut io.Writer, module string) *Summary {
	return &Summary{Out: out, Err: errOut, Module: module, pkgs: map[string]*pkg{}}
}

// Read feeds every line of r to s.
func (s *Summary) Read(r io.Reader) error {
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadString('\n')
		if line != "" {
			s.Line(line)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// Line handles one line of go test -json output. A line that is not a
// test2json event is copied to Out as it is.
func (s *Summary) Line(line string) {
	var e event
	if !strings.HasPrefix(line, "{") || json.Unmarshal([]byte(line), &e) != nil || (e.Action == "" && e.Package == "") {
		fmt.Fprint(s.Out, withNewline(line))
		return
	}
	switch e.Action {
	case "build-output":
		fmt.Fprint(s.Err, e.Output)
		return
	case "build-fail":
		return
	}
	if e.Package == "" {
		if e.Output != "" {
			fmt.Fprint(s.Out, e.Output)
		}
		return
	}
	if s.Verbose && e.Action == "output" {
		fmt.Fprint(s.Out, e.Output)
	}
	p := s.pkg(e.Package)
	if e.Test == "" {
		switch e.Action {
		case "output":
			p.items = append(p.items, item{line: e.Output})
		case "pass", "fail", "skip":
			p.failedBuild = e.FailedBuild != ""
			s.finishPackage(p, e.Action)
		}
		return
	}
	t := p.test(e.Test)
	switch e.Action {
	case "output":
		out := e.Output
		trimmed := strings.TrimLeft(out, " ")
		switch {
		case strings.HasPrefix(out, "=== "):
			// framing of -v output (RUN, PAUSE, CONT, NAME)
		case isResult(trimmed, t.name):
			t.result = strings.TrimRight(trimmed, "\n")
		default:
			t.lines = append(t.lines, out)
		}
	case "pass", "fail", "skip":
		t.action = e.Action
	}
}

func isResult(line, name string) bool {
	for _, r := range []string{"--- PASS: ", "--- FAIL: ", "--- SKIP: "} {
		if strings.HasPrefix(line, r+name+" (") {
			return true
		}
	}
	return false
}

func withNewline(s string) string {
	if strings.HasSuffix(s, "\n") {
		return s
	}
	return s + "\n"
}

func (s *Summary) pkg(path string) *pkg {
	p, ok := s.pkgs[path]
	if !ok {
		p = &pkg{path: path, tests: map[string]*test{}}
		s.pkgs[path] = p
		s.pkgOrder = append(s.pkgOrder, path)
	}
	return p
}

// test returns the test of that name, creating it under its parent: the
// longest known test whose name and a slash start it.
func (p *pkg) test(name string) *test {
	if t, ok := p.tests[name]; ok {
		return t
	}
	t := &test{name: name}
	for i := strings.LastIndex(name, "/"); i > 0; i = strings.LastIndex(name[:i], "/") {
		if parent, ok := p.tests[name[:i]]; ok {
			t.parent = parent
			break
		}
	}
	p.tests[name] = t
	p.order = append(p.order, t)
	if t.parent != nil {
		t.parent.children = append(t.parent.children, t)
	} else {
		p.items = append(p.items, item{test: t})
	}
	return t
}

// finishPackage prints what plain go test prints for the package and
// counts its tests.
func (s *Summary) finishPackage(p *pkg, action string) {
	delete(s.pkgs, p.path)
	s.packages++
	if len(p.order) == 0 {
		s.noTests++
	}
	failedTests := 0
	for _, t := range p.order {
		switch t.action {
		case "pass":
			s.passed++
		case "skip":
			s.skipped++
			s.skips = append(s.skips, Skip{Package: s.short(p.path), Test: t.name, Reason: skipReason(t.lines)})
		default: // failed, or never finished (a timeout, a crash)
			s.failed++
			failedTests++
			if !hasFailedChild(t) {
				name := t.name
				if t.action == "" {
					name += " (did not finish)"
				}
				s.failures = append(s.failures, s.short(p.path)+" "+name)
			}
		}
	}
	passed := action != "fail" && failedTests == 0
	if !passed {
		s.pkgFailed = true
		if failedTests == 0 {
			s.failed++
			what := " (outside any test)"
			if p.failedBuild {
				what = " [build failed]"
			}
			s.failures = append(s.failures, s.short(p.path)+what)
		}
	}
	switch {
	case s.Verbose:
		// already printed as it came
	case passed:
		// go test prints only the last line, ok or ?, of a passing package.
		for i := len(p.items) - 1; i >= 0; i-- {
			if p.items[i].test == nil {
				fmt.Fprint(s.Out, p.items[i].line)
				break
			}
		}
	default:
		for _, it := range p.items {
			if it.test != nil {
				s.printFailed(it.test, 0)
			} else {
				fmt.Fprint(s.Out, it.line)
			}
		}
	}
}

func hasFailedChild(t *test) bool {
	for _, c := range t.children {
		if c.action != "pass" && c.action != "skip" {
			return true
		}
	}
	return false
}

// printFailed prints a failed or unfinished test as go test without -v
// does: its --- FAIL line, indented by depth, then its output, then its
// failed subtests.
func (s *Summary) printFailed(t *test, depth int) {
	if t.action == "pass" || t.action == "skip" {
		return
	}
	indent := strings.Repeat("    ", depth)
	if t.result != "" {
		fmt.Fprintf(s.Out, "%s%s\n", indent, t.result)
	}
	for _, l := range t.lines {
		// -v output indents the log of a subtest like that of a test.
		if strings.HasPrefix(l, "    ") {
			l = indent + l
		}
		fmt.Fprint(s.Out, l)
	}
	for _, c := range t.children {
		s.printFailed(c, depth+1)
	}
}

var logLine = regexp.MustCompile(`^\s+[^\s:]+\.go:\d+: (.*)$`)

// skipReason returns the message of the test's last log entry, which for
// a skipped test is what it passed to t.Skip, marked when it went on over
// more lines.
func skipReason(lines []string) string {
	for i := len(lines) - 1; i >= 0; i-- {
		m := logLine.FindStringSubmatch(strings.TrimRight(lines[i], "\n"))
		if m == nil {
			continue
		}
		reason := strings.TrimSpace(m[1])
		for _, more := range lines[i+1:] {
			if strings.TrimSpace(more) != "" {
				return reason + " [...]"
			}
		}
		return reason
	}
	return "(no reason given)"
}

func (s *Summary) short(path string) string {
	if s.Module == "" {
		return path
	}
	if path == s.Module {
		return "."
	}
	return strings.TrimPrefix(path, s.Module+"/")
}

// ExitStatus records the exit status of the go test command, when known:
// a failure without a failed package still counts in the summary.
func (s *Summary) ExitStatus(code int) { s.exitStatus = code }

// Finish prints the packages that never finished as failed, go test's
// closing FAIL line when something failed, then the summary. It reports
// whether the run failed.
func (s *Summary) Finish() bool {
	for _, path := range s.pkgOrder {
		if p, ok := s.pkgs[path]; ok {
			s.finishPackage(p, "fail")
		}
	}
	if s.exitStatus != 0 && !s.pkgFailed && s.failed == 0 {
		s.failed++
		s.failures = append(s.failures, fmt.Sprintf("go test exited with status %d", s.exitStatus))
	}
	if s.pkgFailed {
		fmt.Fprintln(s.Out, "FAIL")
	}
	packages := "packages"
	if s.packages == 1 {
		packages = "package"
	}
	fmt.Fprintf(s.Out, "\nTest summary: tests and subtests of %d %s (%d ran no tests)\n", s.packages, packages, s.noTests)
	s.printSkips()
	if len(s.failures) > 0 {
		fmt.Fprintln(s.Out, "Failed:")
		for _, f := range s.failures {
			fmt.Fprintf(s.Out, "  %s\n", f)
		}
	}
	fmt.Fprintf(s.Out, "%d passed, %d failed, %d skipped\n", s.passed, s.failed, s.skipped)
	return s.failed > 0 || s.pkgFailed
}

// printSkips prints one line per skip; skips of a package with the same
// reason share a line that names up to three of them.
func (s *Summary) printSkips() {
	if len(s.skips) == 0 {
		return
	}
	fmt.Fprintln(s.Out, "Skipped, with the reason each gave:")
	type group struct {
		pkg, reason string
		tests       []string
	}
	var groups []*group
	index := map[[2]string]*group{}
	for _, sk := range s.skips {
		k := [2]string{sk.Package, sk.Reason}
		g, ok := index[k]
		if !ok {
			g = &group{pkg: sk.Package, reason: sk.Reason}
			index[k] = g
			groups = append(groups, g)
		}
		g.tests = append(g.tests, sk.Test)
	}
	for _, g := range groups {
		names := strings.Join(g.tests, ", ")
		if len(g.tests) > 3 {
			names = fmt.Sprintf("%s and %d more", strings.Join(g.tests[:3], ", "), len(g.tests)-3)
		}
		fmt.Fprintf(s.Out, "  %s %s: %s\n", g.pkg, names, g.reason)
	}
}
