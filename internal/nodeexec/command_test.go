package nodeexec

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestBuilders(t *testing.T) {
	script := []byte("echo hi\n")
	cases := []struct {
		name      string
		cmd       Command
		op        string
		argv      []string
		stdin     []byte
		retry     bool
		wantShell string
	}{
		{
			name: "pct exec", cmd: PctExec(102, "systemctl", "is-active", "docker"),
			op: "pct-exec", argv: []string{"pct", "exec", "102", "--", "systemctl", "is-active", "docker"},
			wantShell: "pct exec 102 -- systemctl is-active docker",
		},
		{
			name: "pct exec script", cmd: PctExecScript(102, script, "overlay2", `{"a": 1}`),
			op: "pct-exec-script", argv: []string{"pct", "exec", "102", "--", "bash", "-s", "--", "overlay2", `{"a": 1}`},
			stdin: script, wantShell: `pct exec 102 -- bash -s -- overlay2 '{"a": 1}'`,
		},
		{
			name: "flock", cmd: Flock("/run/lock/lxc/pve-config-102.lock", Cat("/etc/pve/lxc/102.conf")),
			op: "cat", argv: []string{"flock", "-w", "10", "--", "/run/lock/lxc/pve-config-102.lock", "cat", "--", "/etc/pve/lxc/102.conf"},
			retry: true, wantShell: "flock -w 10 -- /run/lock/lxc/pve-config-102.lock cat -- /etc/pve/lxc/102.conf",
		},
		{
			name: "flock keeps stdin and name", cmd: Flock("/l", PctExecScript(7, script)),
			op: "pct-exec-script", argv: []string{"flock", "-w", "10", "--", "/l", "pct", "exec", "7", "--", "bash", "-s", "--"},
			stdin: script, wantShell: "flock -w 10 -- /l pct exec 7 -- bash -s --",
		},
		{
			name: "cat", cmd: Cat("/etc/pve/lxc/1 0.conf"),
			op: "cat", argv: []string{"cat", "--", "/etc/pve/lxc/1 0.conf"}, retry: true,
			wantShell: "cat -- '/etc/pve/lxc/1 0.conf'",
		},
		{
			name: "named", cmd: PctExec(1, "true").Named("check-docker"),
			op: "check-docker", argv: []string{"pct", "exec", "1", "--", "true"},
			wantShell: "pct exec 1 -- true",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.cmd
			if c.Op != tc.op || !slices.Equal(c.Argv, tc.argv) || string(c.Stdin) != string(tc.stdin) || c.Retry != tc.retry || !c.Sudo {
				t.Fatalf("got %+v", c)
			}
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
			if got := c.String(); got != tc.wantShell {
				t.Fatalf("String() = %q, want %q", got, tc.wantShell)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		cmd  Command
		want string
	}{
		{Command{Argv: []string{"true"}}, "no operation name"},
		{Command{Op: "x"}, "has no program"},
		{Command{Op: "x", Argv: []string{""}}, "has no program"},
		{PctExec(1, "echo", "a\x00"), "NUL"},
	}
	for _, tc := range cases {
		err := tc.cmd.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(%+v) = %v, want %q", tc.cmd, err, tc.want)
		}
	}
	if err := PctExec(1, "a\x00").Validate(); !errors.Is(err, ErrNUL) {
		t.Errorf("want ErrNUL, got %v", err)
	}
	if s := PctExec(1, "a\x00").String(); !strings.Contains(s, "invalid command") {
		t.Errorf("String of an invalid command: %q", s)
	}
}
