package docker

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The parsers take nothing on trust: every malformed result is an error that
// names the script.

// rejectCase is an output a parser must refuse, with a part of its error.
type rejectCase struct{ name, out, wantErr string }

// rejects runs parse on each case's output and wants an error that contains
// the case's wantErr and names script.
func rejects[R any](t *testing.T, parse func(string) (R, error), script string, tests []rejectCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parse(tt.out)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got %+v, %v; want an error containing %q", got, err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), script) {
				t.Errorf("error %q does not name %s", err, script)
			}
		})
	}
}

func TestParseInstallResultStrict(t *testing.T) {
	const ok = "phoenix-docker: result installed_version=5:27.3.1-1~debian.12~bookworm changed=1 packages= items=marker"
	tests := []rejectCase{
		{"unknown key", "phoenix-docker: result installed_version=1 changed=0 extra=x\n", `unknown key "extra"`},
		{"repeated key", "phoenix-docker: result installed_version=1 changed=0 changed=1\n", `key "changed" twice`},
		{"bad version", "phoenix-docker: result installed_version=1;rm changed=0 packages= items=\n", `installed_version="1;rm" is not a Debian package version`},
		{"version with a space", "phoenix-docker: result installed_version=1 2 changed=0\n", `"2" is not key=value`},
		{"empty word", "phoenix-docker: result installed_version=1  changed=0\n", `"" is not key=value`},
		{"bad flag", "phoenix-docker: result installed_version=1 changed=true packages= items=\n", `changed="true", want 0 or 1`},
		{"no keys", "phoenix-docker: result\n", "malformed result line"},
		{"garbage after the result", ok + "\nrm -rf /\n", `printed 1 line(s) after its result line, the first "rm -rf /"`},
		{"progress after the result", ok + "\nphoenix-docker: [verify] late\n", "after its result line"},
		{"second result", ok + "\n" + ok + "\n", "after its result line"},
		{"unprefixed line among progress lines", "phoenix-docker: [check] x\nstray\n" + ok + "\n", `printed an unexpected line "stray"`},
		{"prefixed line that is no progress line", "phoenix-docker: [check] x\nphoenix-docker: hello\n" + ok + "\n", `unexpected line "phoenix-docker: hello"`},
		{"missing result", "phoenix-docker: [check] x\nphoenix-docker: [packages] installing\n", "printed no result line"},
	}
	rejects(t, ParseInstallResult, InstallScriptName, tests)
}

func TestParseInstallResultAccepts(t *testing.T) {
	tests := []struct {
		name string
		out  string
		want InstallResult
	}{
		{"shell warning before the script's first line",
			"bash: warning: setlocale: LC_ALL: cannot change locale (en_US.UTF-8)\nphoenix-docker: [check] nothing to do\nphoenix-docker: result installed_version=26.1.3 changed=0 packages= items=\n",
			InstallResult{InstalledVersion: "26.1.3"}},
		{"trailing blank line and space", "phoenix-docker: result installed_version=1.2 changed=1 packages= items=daemon.json,service-restart \n\n",
			InstallResult{InstalledVersion: "1.2", Changed: true, Items: []string{"daemon.json", "service-restart"}}},
		{"step with a hyphen", "phoenix-docker: [pre-reqs] x\nphoenix-docker: [dpkg]\nphoenix-docker: result installed_version=1 changed=1 packages=docker-ce=5:28.5.2-1~debian.12~bookworm,containerd.io items=packages",
			InstallResult{InstalledVersion: "1", Changed: true, Packages: []string{"docker-ce=5:28.5.2-1~debian.12~bookworm", "containerd.io"}, Items: []string{"packages"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseInstallResult(tt.out)
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestParseInstallResultFatalWins(t *testing.T) {
	_, err := ParseInstallResult("phoenix-docker: [repository] x\nFATAL: Docker's apt key from https://download.docker.com/linux/debian/gpg is not Docker's release key\n")
	if err == nil || !strings.HasPrefix(err.Error(), "FATAL: Docker's apt key") {
		t.Fatalf("err = %v", err)
	}
}

func TestParseCheckResultStrict(t *testing.T) {
	tests := []rejectCase{
		{"unknown key", "phoenix-docker: check service_active=1 installed_version=1 healthy=1\n", `unknown key "healthy"`},
		{"repeated key overriding", "phoenix-docker: check service_active=0 installed_version=1 service_active=1\n", `key "service_active" twice`},
		{"bad version", "phoenix-docker: check service_active=1 installed_version=$(x)\n", "is not a Debian package version"},
		{"missing version key", "phoenix-docker: check service_active=1\n", "check line has no installed_version"},
		{"garbage after an active check", checkLine() + "garbage\n", `unexpected line "garbage" after its check line`},
		{"FATAL after an active check", checkLine() + "FATAL: x\n", "after its check line"},
		{"garbage after an inactive check", checkLine("service_active", "0") + "FATAL: docker service is not active\nmore\n", `unexpected line "more"`},
		{"second check line", checkLine("service_active", "0") + checkLine(), "after its check line"},
		{"unexpected line before", "phoenix-docker: [check] docker service is active\nactive\nphoenix-docker: check service_active=1 installed_version=1\n", `unexpected line "active"`},
		{"no keys", "phoenix-docker: check\n", "malformed check line"},
	}
	rejects(t, ParseCheckResult, CheckScriptName, tests)
}

func TestParseCheckResultAcceptsShellPreamble(t *testing.T) {
	got, err := ParseCheckResult("bash: warning: setlocale: LC_ALL: cannot change locale (en_US.UTF-8)\nphoenix-docker: [check] docker service is active (version 1)\n" +
		checkLine("installed_version", "1"))
	if err != nil || got != (CheckResult{ServiceActive: true, InstalledVersion: "1", Package: "docker-ce"}) {
		t.Fatalf("got %+v, %v", got, err)
	}
}

func TestParseTestResultsStrict(t *testing.T) {
	tests := []rejectCase{
		{"output line after a passed case", "test_case_docker_service_is_running: passed duration_ms=5 ran_at=2026-01-02T03:04:05Z\n  | stray\n1 passed, 0 failed\n", `output line "  | stray" that follows no failed case`},
		{"output line after a skipped case", "test_case_docker_service_is_running: skipped duration_ms=0 ran_at=2026-01-02T03:04:05Z\n  | stray\n0 passed, 0 failed, 1 skipped\n", "follows no failed case"},
		{"unindented output", "test_case_docker_service_is_running: failed duration_ms=5 ran_at=2026-01-02T03:04:05Z\nping: sendto: Network unreachable\n0 passed, 1 failed\n", `unexpected line "ping: sendto: Network unreachable"`},
		{"bad status", "test_case_docker_service_is_running: passed duration_ms=5 ran_at=2026-01-02T03:04:05Z\ntest_case_docker_hello_world: flaky\n1 passed, 0 failed\n", `unexpected line "test_case_docker_hello_world: flaky"`},
		{"summary twice", "test_case_docker_service_is_running: passed duration_ms=5 ran_at=2026-01-02T03:04:05Z\n1 passed, 0 failed\n1 passed, 0 failed\n", `unexpected line "1 passed, 0 failed"`},
		{"garbage after the summary", "test_case_docker_service_is_running: passed duration_ms=5 ran_at=2026-01-02T03:04:05Z\n1 passed, 0 failed\ntrailing\n", "did not end with the summary line"},
		{"summary with extra words", "test_case_docker_service_is_running: passed duration_ms=5 ran_at=2026-01-02T03:04:05Z\n1 passed, 0 failed, 0 skipped, 3 ignored\n", "did not end with the summary line"},
	}
	rejects(t, ParseTestResults, TestScriptName, tests)
}

// The scripts' real output passes the strict parsers, failures included.
func TestStrictParsersAcceptTheScriptsOutput(t *testing.T) {
	c := newFakeContainer(t)
	o := DefaultOptions()
	o.DaemonJSON = `{"log-driver":"journald","labels":["secret-4d2c"]}`
	install := mustPlan(t, o).Install()
	for run := range 2 {
		out, err := c.run(install)
		if err != nil {
			t.Fatalf("install %d: %v\n%s", run, err, out)
		}
		if _, err := ParseInstallResult(out); err != nil {
			t.Fatalf("install %d: %v\n%s", run, err, out)
		}
		if strings.Contains(out, "secret-4d2c") {
			t.Errorf("install %d printed the daemon.json content:\n%s", run, out)
		}
	}
	out, _ := c.run(Check())
	if _, err := ParseCheckResult(out); err != nil {
		t.Fatalf("check: %v\n%s", err, out)
	}
	test := mustPlan(t, o).Test()
	c.touch("hello.fail")
	out, _ = c.run(test)
	rep, err := ParseTestResults(out)
	if err != nil {
		t.Fatalf("tests: %v\n%s", err, out)
	}
	if got := rep.FailedCases(); len(got) != 1 || got[0] != CaseHelloWorld {
		t.Errorf("failed cases = %v\n%s", got, out)
	}
	c.touch("docker.fail_start")
	if err := os.Remove(filepath.Join(c.state, "docker.active")); err != nil {
		t.Fatal(err)
	}
	out, _ = c.run(Check())
	if chk, err := ParseCheckResult(out); err != nil || chk.ServiceActive {
		t.Fatalf("check of a stopped docker = %+v, %v\n%s", chk, err, out)
	}
}
