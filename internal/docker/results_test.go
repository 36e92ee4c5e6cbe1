package docker

import (
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestTail(t *testing.T) {
	tests := []struct {
		name string
		out  string
		n    int
		want []string
	}{
		{"empty", "", 5, nil},
		{"zero n", "a\nb\n", 0, nil},
		{"negative n", "a\nb\n", -1, nil},
		{"fewer lines than n", "a\nb\n", 5, []string{"a", "b"}},
		{"last n", "1\n2\n3\n4\n", 2, []string{"3", "4"}},
		{"trailing blank lines dropped", "1\n2\n\n\n", 1, []string{"2"}},
		{"inner blank lines kept", "1\n\n2", 3, []string{"1", "", "2"}},
		{"CRLF", "a\r\nb\r\n", 2, []string{"a", "b"}},
		{"no final newline", "a\nb", 1, []string{"b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Tail(tt.out, tt.n); !slices.Equal(got, tt.want) {
				t.Errorf("Tail(%q, %d) = %q, want %q", tt.out, tt.n, got, tt.want)
			}
		})
	}
}

func TestFatalLine(t *testing.T) {
	if got := FatalLine("phoenix-docker: [x] y\nFATAL: first\nmore\nFATAL: second\nphoenix-docker: [z] FATAL: not me\n"); got != "FATAL: second" {
		t.Errorf("got %q", got)
	}
	if got := FatalLine("phoenix-docker: [apt] FATAL: prefixed lines do not count\n"); got != "" {
		t.Errorf("got %q, want none", got)
	}
}

// parseCase is an output of a script and what its parser makes of it: the
// value want, or an error containing wantErr when that is set.
type parseCase[T any] struct {
	name    string
	out     string
	want    T
	wantErr string
}

func checkParses[T any](t *testing.T, parse func(string) (T, error), tests []parseCase[T]) {
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parse(tt.out)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %+v, %v; want error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseInstallResult(t *testing.T) {
	checkParses(t, ParseInstallResult, []parseCase[InstallResult]{
		{name: "changed", out: "phoenix-docker: [check] change needed: x\nphoenix-docker: result installed_version=5:27.3.1-1~debian.12~bookworm changed=1 packages=docker-ce,containerd.io items=apt-key,packages,service-start\n",
			want: InstallResult{InstalledVersion: "5:27.3.1-1~debian.12~bookworm", Changed: true,
				Packages: []string{"docker-ce", "containerd.io"}, Items: []string{"apt-key", "packages", "service-start"}}},
		{name: "unchanged", out: "phoenix-docker: [check] nothing to do\nphoenix-docker: result installed_version=26.1.3 changed=0 packages= items=",
			want: InstallResult{InstalledVersion: "26.1.3"}},
		{name: "keys in any order, CRLF", out: "phoenix-docker: result items= changed=0 packages= installed_version=1\r\n",
			want: InstallResult{InstalledVersion: "1"}},
		{name: "fatal", out: "phoenix-docker: [packages] E: boom\nFATAL: apt-get update failed after 3 attempts\n",
			wantErr: "FATAL: apt-get update failed after 3 attempts"},
		{name: "no result", out: "phoenix-docker: [packages] installing\n", wantErr: "printed no result line"},
		{name: "empty", out: "", wantErr: "printed no result line"},
		{name: "no changed", out: "phoenix-docker: result installed_version=1 packages= items=\n", wantErr: "result line has no changed"},
		{name: "no items", out: "phoenix-docker: result installed_version=1 changed=0 packages=\n", wantErr: "result line has no items"},
		{name: "no packages", out: "phoenix-docker: result installed_version=1 changed=0 items=\n", wantErr: "result line has no packages"},
		{name: "unknown item", out: "phoenix-docker: result installed_version=1 changed=1 packages= items=daemon.json,kernel\n", wantErr: `items holds "kernel"`},
		{name: "bad package", out: "phoenix-docker: result installed_version=1 changed=1 packages=docker-ce=1;reboot items=packages\n", wantErr: `packages holds "docker-ce=1;reboot"`},
		{name: "empty list element", out: "phoenix-docker: result installed_version=1 changed=1 packages= items=daemon.json,\n", wantErr: `items holds ""`},
		{name: "bad changed", out: "phoenix-docker: result installed_version=1 changed=yes packages= items=\n", wantErr: `changed="yes", want 0 or 1`},
		{name: "no version", out: "phoenix-docker: result installed_version= changed=1 packages= items=\n", wantErr: "no installed_version"},
		{name: "malformed", out: "phoenix-docker: result installed_version=1 changed\n", wantErr: `"changed" is not key=value`},
		{name: "bracketed step is not the result", out: "phoenix-docker: [result] installed_version=1 changed=1\n", wantErr: "no result line"},
	})
}

// checkLine is a check line with every key; fields override the defaults.
func checkLine(fields ...string) string {
	values := map[string]string{"service_active": "1", "installed_version": "5:27.3.1-1", "package": "docker-ce"}
	for i := 0; i+1 < len(fields); i += 2 {
		values[fields[i]] = fields[i+1]
	}
	var b strings.Builder
	b.WriteString("phoenix-docker: check")
	for _, k := range checkKeys {
		b.WriteString(" " + k + "=" + values[k])
	}
	return b.String() + "\n"
}

func TestParseCheckResult(t *testing.T) {
	sha := strings.Repeat("ab", 32)
	fp := strings.Repeat("0f", 32)
	checkParses(t, ParseCheckResult, []parseCase[CheckResult]{
		{name: "active", out: "phoenix-docker: [check] docker service is active (version 1)\n" + checkLine(),
			want: CheckResult{ServiceActive: true, InstalledVersion: "5:27.3.1-1", Package: "docker-ce"}},
		{name: "everything reported", out: checkLine("containerd_version", "1.7.28-1~debian.12~bookworm", "compose_version", "2.40.3-1",
			"storage_driver", "overlay2", "daemon_json_sha256", sha, "apt_key_sha256", sha, "apt_source_sha256", sha, "fingerprint", fp),
			want: CheckResult{ServiceActive: true, InstalledVersion: "5:27.3.1-1", Package: "docker-ce", ContainerdVersion: "1.7.28-1~debian.12~bookworm",
				ComposeVersion: "2.40.3-1", StorageDriver: "overlay2", DaemonJSONSHA256: sha, AptKeySHA256: sha, AptSourceSHA256: sha, Fingerprint: fp}},
		{name: "invalid fingerprint file", out: checkLine("fingerprint", "invalid"),
			want: CheckResult{ServiceActive: true, InstalledVersion: "5:27.3.1-1", Package: "docker-ce", Fingerprint: FingerprintInvalid}},
		{name: "inactive is not an error", out: checkLine("service_active", "0", "installed_version", "1", "package", "docker.io") + "FATAL: docker service is not active (state: inactive)\n",
			want: CheckResult{InstalledVersion: "1", Package: "docker.io"}},
		{name: "removed", out: checkLine("service_active", "0", "installed_version", "", "package", "") + "FATAL: docker service is not active (state: inactive)\n",
			want: CheckResult{}},
		{name: "usage error", out: "FATAL: check_docker_service.sh takes no arguments, got: x\n", wantErr: "takes no arguments"},
		{name: "nothing", out: "bash: line 1: systemctl: command not found\n", wantErr: "printed no check line"},
		{name: "bad flag", out: checkLine("service_active", "maybe"), wantErr: `service_active="maybe"`},
		{name: "missing flag", out: "phoenix-docker: check installed_version=1\n", wantErr: "no service_active"},
		{name: "missing key", out: strings.Replace(checkLine(), " fingerprint=", "", 1), wantErr: "no fingerprint"},
		{name: "unknown key", out: strings.TrimSuffix(checkLine(), "\n") + " docker_root=/var/lib/docker\n", wantErr: `unknown key "docker_root"`},
		{name: "short digest", out: checkLine("daemon_json_sha256", "abc"), wantErr: `daemon_json_sha256="abc" is not a SHA-256 in hex`},
		{name: "upper-case digest", out: checkLine("apt_key_sha256", strings.ToUpper(sha)), wantErr: "apt_key_sha256"},
		{name: "bad fingerprint", out: checkLine("fingerprint", "edited"), wantErr: `fingerprint="edited"`},
		{name: "bad package", out: checkLine("package", "podman"), wantErr: `package="podman" is not docker-ce or docker.io`},
		{name: "package without version", out: checkLine("installed_version", ""), wantErr: `names package "docker-ce" with installed_version ""`},
		{name: "bad driver", out: checkLine("storage_driver", "over lay"), wantErr: "malformed check line"},
		{name: "bad containerd version", out: checkLine("containerd_version", "-1"), wantErr: `containerd_version="-1"`},
	})
}

func TestParseTestResults(t *testing.T) {
	tests := []struct {
		name                    string
		out                     string
		cases                   map[string]string
		order                   []string
		output                  map[string][]string
		passed, failed, skipped int
	}{
		{
			name: "all passed",
			out: "test_case_docker_service_is_running: passed duration_ms=5 ran_at=2026-01-02T03:04:05Z\ntest_case_docker_hello_world: passed duration_ms=5 ran_at=2026-01-02T03:04:05Z\n" +
				"test_case_docker_network_access: passed duration_ms=5 ran_at=2026-01-02T03:04:05Z\n3 passed, 0 failed\n",
			cases:  map[string]string{CaseServiceIsRunning: Passed, CaseHelloWorld: Passed, CaseNetworkAccess: Passed},
			order:  Cases(),
			output: map[string][]string{},
			passed: 3,
		},
		{
			name: "one failed with output, one skipped",
			out: "test_case_docker_service_is_running: passed duration_ms=5 ran_at=2026-01-02T03:04:05Z\ntest_case_docker_hello_world: skipped duration_ms=0 ran_at=2026-01-02T03:04:05Z\n" +
				"test_case_docker_network_access: failed duration_ms=5 ran_at=2026-01-02T03:04:05Z\n  | PING 1.1.1.1\n  | ping: sendto: Network unreachable\n" +
				"1 passed, 1 failed, 1 skipped\n",
			cases:  map[string]string{CaseServiceIsRunning: Passed, CaseHelloWorld: Skipped, CaseNetworkAccess: Failed},
			order:  Cases(),
			output: map[string][]string{CaseNetworkAccess: {"PING 1.1.1.1", "ping: sendto: Network unreachable"}},
			passed: 1, failed: 1, skipped: 1,
		},
		{
			name:   "zero skipped written out, unknown lines ignored",
			out:    "noise\ntest_case_docker_network_access: failed duration_ms=5 ran_at=2026-01-02T03:04:05Z\n  | why\n0 passed, 1 failed, 0 skipped",
			cases:  map[string]string{"test_case_docker_network_access": Failed},
			order:  []string{"test_case_docker_network_access"},
			output: map[string][]string{"test_case_docker_network_access": {"why"}},
			failed: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseTestResults(tt.out)
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(r.Cases, tt.cases) {
				t.Errorf("Cases = %v, want %v", r.Cases, tt.cases)
			}
			if !slices.Equal(r.Order, tt.order) {
				t.Errorf("Order = %v, want %v", r.Order, tt.order)
			}
			if !maps.EqualFunc(r.Output, tt.output, slices.Equal) {
				t.Errorf("Output = %q, want %q", r.Output, tt.output)
			}
			if r.Passed != tt.passed || r.Failed != tt.failed || r.Skipped != tt.skipped {
				t.Errorf("counts = %d/%d/%d, want %d/%d/%d", r.Passed, r.Failed, r.Skipped, tt.passed, tt.failed, tt.skipped)
			}
			var wantFailed []string
			for _, c := range tt.order {
				if tt.cases[c] == Failed {
					wantFailed = append(wantFailed, c)
				}
			}
			if !slices.Equal(r.FailedCases(), wantFailed) {
				t.Errorf("FailedCases() = %v, want %v", r.FailedCases(), wantFailed)
			}
		})
	}
}

func TestParseTestResultsErrors(t *testing.T) {
	tests := []struct{ name, out, wantErr string }{
		{"empty", "", "printed nothing"},
		{"no summary", "test_case_docker_service_is_running: passed duration_ms=5 ran_at=2026-01-02T03:04:05Z\n", "did not end with the summary line"},
		{"summary not last", "1 passed, 0 failed\ntest_case_docker_service_is_running: passed duration_ms=5 ran_at=2026-01-02T03:04:05Z\n", "did not end with the summary line"},
		{"counts disagree", "test_case_docker_service_is_running: passed duration_ms=5 ran_at=2026-01-02T03:04:05Z\ntest_case_docker_hello_world: failed duration_ms=5 ran_at=2026-01-02T03:04:05Z\n2 passed, 0 failed\n", "disagrees with its case lines (1 passed, 1 failed, 0 skipped)"},
		{"skipped not counted", "test_case_docker_service_is_running: skipped duration_ms=0 ran_at=2026-01-02T03:04:05Z\n0 passed, 0 failed\n", "disagrees"},
		{"duplicate case", "test_case_docker_service_is_running: passed duration_ms=5 ran_at=2026-01-02T03:04:05Z\ntest_case_docker_service_is_running: passed duration_ms=5 ran_at=2026-01-02T03:04:05Z\n2 passed, 0 failed\n", "reported test_case_docker_service_is_running twice"},
		{"usage error", "FATAL: invalid arguments: --hello-world must be 1 or 0, not 'x'\n", "FATAL: invalid arguments"},
		{"fatal before the end", "test_case_docker_service_is_running: passed duration_ms=5 ran_at=2026-01-02T03:04:05Z\nFATAL: oops\ntrailing\n", "FATAL: oops"},
		{"unknown case", "test_case_docker_evil: passed duration_ms=5 ran_at=2026-01-02T03:04:05Z\n1 passed, 0 failed\n", "reported test_case_docker_evil, which is none of its cases"},
		{"huge count", "99999999999999999999 passed, 0 failed\n", "summary count"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseTestResults(tt.out)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}
