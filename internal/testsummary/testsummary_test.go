package testsummary

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// summarize feeds the lines to a Summary and returns what it printed, its
// error stream and whether it reported a failure.
func summarize(t *testing.T, lines ...string) (string, string, bool) {
	t.Helper()
	var out, errOut bytes.Buffer
	s := New(&out, &errOut, mod)
	if err := s.Read(strings.NewReader(strings.Join(lines, "\n") + "\n")); err != nil {
		t.Fatal(err)
	}
	failed := s.Finish()
	return out.String(), errOut.String(), failed
}

// ev encodes one go test -json event.
func ev(action, pkg, test, output string) string {
	b, err := json.Marshal(event{Action: action, Package: pkg, Test: test, Output: output})
	if err != nil {
		panic(err)
	}
	return string(b)
}

// run is the events of one test: run, its output lines, its result.
func run(pkg, test, result string, output ...string) []string {
	lines := []string{ev("run", pkg, test, ""), ev("output", pkg, test, "=== RUN   "+test+"\n")}
	for _, o := range output {
		lines = append(lines, ev("output", pkg, test, o+"\n"))
	}
	word := map[string]string{"pass": "PASS", "fail": "FAIL", "skip": "SKIP"}[result]
	return append(lines,
		ev("output", pkg, test, "--- "+word+": "+test+" (0.00s)\n"),
		ev(result, pkg, test, ""))
}

func join(parts ...[]string) []string {
	var all []string
	for _, p := range parts {
		all = append(all, p...)
	}
	return all
}

const mod = "example.com/m"

func TestPassingPackagePrintsOnlyItsOkLine(t *testing.T) {
	p := mod + "/a"
	out, _, failed := summarize(t, join(
		[]string{ev("start", p, "", ""), ev("output", p, "", "from TestMain\n")},
		run(p, "TestA", "pass", "    a_test.go:3: a log line"),
		run(p, "TestB", "skip", "    a_test.go:7: some log", "    a_test.go:8: tool x not installed: the y check did not run"),
		[]string{
			ev("output", p, "", "PASS\n"),
			ev("output", p, "", "ok  \t"+p+"\t0.012s\n"),
			ev("pass", p, "", ""),
			ev("start", mod+"/b", "", ""),
			ev("output", mod+"/b", "", "?   \t"+mod+"/b\t[no test files]\n"),
			ev("skip", mod+"/b", "", ""),
		},
	)...)
	want := "ok  \t" + p + "\t0.012s\n" +
		"?   \t" + mod + "/b\t[no test files]\n" +
		"\nTest summary: tests and subtests of 2 packages (1 ran no tests)\n" +
		"Skipped, with the reason each gave:\n" +
		"  a TestB: tool x not installed: the y check did not run\n" +
		"1 passed, 0 failed, 1 skipped\n"
	if out != want || failed {
		t.Errorf("failed = %v, output:\n%s\nwant:\n%s", failed, out, want)
	}
}

func TestSkipReasons(t *testing.T) {
	p := mod + "/internal/x"
	var events []string
	events = append(events, run(p, "TestMulti", "skip", "    x_test.go:5: first line", "        second line")...)
	events = append(events, run(p, "TestNoReason", "skip")...)
	for _, name := range []string{"TestAcc1", "TestAcc2", "TestAcc3", "TestAcc4", "TestAcc5"} {
		events = append(events, run(p, name, "skip", "    acc_test.go:60: set TF_ACC=1")...)
	}
	events = append(events,
		ev("run", p, "TestParent", ""),
		ev("output", p, "TestParent", "=== RUN   TestParent\n"),
	)
	events = append(events, run(p, "TestParent/sub", "skip", "    x_test.go:20: only on a real cluster")...)
	events = append(events,
		ev("output", p, "TestParent", "--- PASS: TestParent (0.00s)\n"),
		ev("pass", p, "TestParent", ""),
		ev("output", p, "", "ok  \t"+p+"\t0.1s\n"),
		ev("pass", p, "", ""),
	)
	out, _, failed := summarize(t, events...)
	for _, want := range []string{
		"  internal/x TestMulti: first line [...]\n",
		"  internal/x TestNoReason: (no reason given)\n",
		"  internal/x TestAcc1, TestAcc2, TestAcc3 and 2 more: set TF_ACC=1\n",
		"  internal/x TestParent/sub: only on a real cluster\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
	if !strings.HasSuffix(out, "\n1 passed, 0 failed, 8 skipped\n") || failed {
		t.Errorf("failed = %v, output:\n%s", failed, out)
	}
}

func TestFailedTestsPrintLikePlainGoTest(t *testing.T) {
	p := mod + "/a"
	events := join(
		run(p, "TestOK", "pass", "    a_test.go:3: hidden"),
		run(p, "TestFail", "fail", "    a_test.go:9: log before", "    a_test.go:9: boom"),
		[]string{ev("run", p, "TestParent", ""), ev("output", p, "TestParent", "=== RUN   TestParent\n")},
		run(p, "TestParent/ok", "pass", "    a_test.go:11: hidden too"),
		run(p, "TestParent/bad", "fail", "    a_test.go:12: sub bad", "        continued"),
		[]string{
			ev("output", p, "TestParent", "--- FAIL: TestParent (0.00s)\n"),
			ev("fail", p, "TestParent", ""),
			ev("output", p, "", "FAIL\n"),
			ev("output", p, "", "FAIL\t"+p+"\t0.015s\n"),
			ev("fail", p, "", ""),
		},
	)
	out, _, failed := summarize(t, events...)
	want := "--- FAIL: TestFail (0.00s)\n" +
		"    a_test.go:9: log before\n" +
		"    a_test.go:9: boom\n" +
		"--- FAIL: TestParent (0.00s)\n" +
		"    --- FAIL: TestParent/bad (0.00s)\n" +
		"        a_test.go:12: sub bad\n" +
		"            continued\n" +
		"FAIL\n" +
		"FAIL\t" + p + "\t0.015s\n" +
		"FAIL\n" +
		"\nTest summary: tests and subtests of 1 package (0 ran no tests)\n" +
		"Failed:\n" +
		"  a TestFail\n" +
		"  a TestParent/bad\n" +
		"2 passed, 3 failed, 0 skipped\n"
	if out != want || !failed {
		t.Errorf("failed = %v, output:\n%s\nwant:\n%s", failed, out, want)
	}
}

func TestFailuresOutsideTests(t *testing.T) {
	b := mod + "/b"
	c := mod + "/c"
	h := mod + "/h"
	events := []string{
		`{"ImportPath":"` + b + ` [` + b + `.test]","Action":"build-output","Output":"# ` + b + "\\n" + `"}`,
		`{"ImportPath":"` + b + ` [` + b + `.test]","Action":"build-output","Output":"b/b.go:3:23: cannot use \"s\"\n"}`,
		`{"ImportPath":"` + b + ` [` + b + `.test]","Action":"build-fail"}`,
		ev("start", b, "", ""),
		ev("output", b, "", "FAIL\t"+b+" [build failed]\n"),
		`{"Action":"fail","Package":"` + b + `","FailedBuild":"` + b + ` [` + b + `.test]"}`,
		"go: a line that is not an event",
		ev("start", c, "", ""),
		ev("output", c, "", "TestMain gave up\n"),
		ev("output", c, "", "FAIL\t"+c+"\t0.01s\n"),
		ev("fail", c, "", ""),
		// a package whose output stops mid-test: go test was interrupted
		ev("start", h, "", ""),
		ev("run", h, "TestHang", ""),
		ev("output", h, "TestHang", "=== RUN   TestHang\n"),
		ev("output", h, "TestHang", "    h_test.go:4: waiting\n"),
	}
	out, errOut, failed := summarize(t, events...)
	if errOut != "# "+b+"\nb/b.go:3:23: cannot use \"s\"\n" {
		t.Errorf("build output: %q", errOut)
	}
	for _, want := range []string{
		"FAIL\t" + b + " [build failed]\n",
		"go: a line that is not an event\n",
		"TestMain gave up\nFAIL\t" + c + "\t0.01s\n",
		"    h_test.go:4: waiting\nFAIL\n",
		"Failed:\n  b [build failed]\n  c (outside any test)\n  h TestHang (did not finish)\n0 passed, 3 failed, 0 skipped\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
	if !failed {
		t.Error("not reported as failed")
	}
}

func TestExitStatusWithoutFailedPackage(t *testing.T) {
	var out bytes.Buffer
	s := New(&out, &out, mod)
	s.Line("go: unknown flag -bogus\n")
	s.ExitStatus(2)
	if !s.Finish() {
		t.Error("not reported as failed")
	}
	if !strings.HasSuffix(out.String(), "Failed:\n  go test exited with status 2\n0 passed, 1 failed, 0 skipped\n") {
		t.Errorf("output:\n%s", out.String())
	}
}

// TestMatchesPlainGoTest runs go test on a throwaway module, plain and with
// -json through a Summary, and compares what they print.
func TestMatchesPlainGoTest(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go is not on PATH: the comparison with plain go test needs it")
	}
	dir := t.TempDir()
	files := map[string]string{
		"go.mod": "module example.com/m\n\ngo 1.21\n",
		"a/a_test.go": `package a

import "testing"

func TestPass(t *testing.T) { t.Log("hidden") }
func TestSkip(t *testing.T) { t.Skip("tool x not installed: the y check did not run") }
func TestFail(t *testing.T) { t.Log("log before"); t.Error("boom") }
func TestParent(t *testing.T) {
	t.Run("ok", func(t *testing.T) { t.Log("hidden") })
	t.Run("bad", func(t *testing.T) { t.Fatal("sub bad\nsecond line") })
	t.Run("skipped", func(t *testing.T) { t.Skip("sub skip reason") })
}
`,
		"b/b_test.go": "package b\n\nimport \"testing\"\n\nfunc TestB(t *testing.T) { t.Log(\"b\") }\n",
		"c/c.go":      "package c\n\nfunc X() int { return \"s\" }\n",
		"c/c_test.go": "package c\n\nimport \"testing\"\n\nfunc TestC(t *testing.T) {}\n",
		"d/d.go":      "package d\n",
		"e/e_test.go": "package e\n\nimport \"testing\"\n\nfunc TestE(t *testing.T) {}\n",
	}
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	goTest := func(args ...string) string {
		cmd := exec.Command(goBin, append([]string{"test", "-count=1", "-p=1"}, args...)...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=", "GOWORK=off", "GOTOOLCHAIN=local", "GOPROXY=off")
		var stdout bytes.Buffer
		cmd.Stdout = &stdout
		err := cmd.Run()
		if _, ok := err.(*exec.ExitError); !ok || cmd.ProcessState.ExitCode() != 1 {
			t.Fatalf("go test %v: %v, want exit status 1\n%s", args, err, stdout.String())
		}
		return stdout.String()
	}
	plain := goTest("./...")

	var out, errOut bytes.Buffer
	s := New(&out, &errOut, "example.com/m")
	if err := s.Read(strings.NewReader(goTest("-json", "./..."))); err != nil {
		t.Fatal(err)
	}
	if !s.Finish() {
		t.Error("not reported as failed")
	}
	got, summary, ok := strings.Cut(out.String(), "\nTest summary: ")
	if !ok {
		t.Fatalf("no summary in:\n%s", out.String())
	}
	times := regexp.MustCompile(`\d+\.\d+s`)
	if g, w := times.ReplaceAllString(got, "T"), times.ReplaceAllString(plain, "T"); g != w {
		t.Errorf("go test -json through the summary printed:\n%s\nplain go test:\n%s", g, w)
	}
	if !strings.Contains(errOut.String(), "cannot use") {
		t.Errorf("no build error on the error stream: %q", errOut.String())
	}
	want := "tests and subtests of 5 packages (2 ran no tests)\n" +
		"Skipped, with the reason each gave:\n" +
		"  a TestSkip: tool x not installed: the y check did not run\n" +
		"  a TestParent/skipped: sub skip reason\n" +
		"Failed:\n" +
		"  a TestFail\n" +
		"  a TestParent/bad\n" +
		"  c [build failed]\n" +
		"4 passed, 4 failed, 2 skipped\n"
	if summary != want {
		t.Errorf("summary:\n%s\nwant:\n%s", summary, want)
	}
}

func TestVerbosePrintsEverything(t *testing.T) {
	p := mod + "/a"
	var out bytes.Buffer
	s := New(&out, &out, mod)
	s.Verbose = true
	for _, l := range join(
		run(p, "TestA", "pass", "    a_test.go:3: a log line"),
		run(p, "TestB", "skip", "    a_test.go:8: not here"),
		[]string{ev("output", p, "", "PASS\n"), ev("output", p, "", "ok  \t"+p+"\t0.1s\n"), ev("pass", p, "", "")},
	) {
		s.Line(l + "\n")
	}
	if s.Finish() {
		t.Error("reported as failed")
	}
	want := "=== RUN   TestA\n    a_test.go:3: a log line\n--- PASS: TestA (0.00s)\n" +
		"=== RUN   TestB\n    a_test.go:8: not here\n--- SKIP: TestB (0.00s)\n" +
		"PASS\nok  \t" + p + "\t0.1s\n" +
		"\nTest summary: tests and subtests of 1 package (0 ran no tests)\n" +
		"Skipped, with the reason each gave:\n  a TestB: not here\n" +
		"1 passed, 0 failed, 1 skipped\n"
	if out.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", out.String(), want)
	}
}
